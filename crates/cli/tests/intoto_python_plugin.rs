//! Stock `in-toto-verify` (in-toto 3.1.0) verifies Hallmark's keyless classic links through the
//! `hallmark-oidc` securesystemslib plugin (python/hallmark-securesystemslib), loaded by its
//! `.pth` file with no wrapper.
//!
//! `hallmark intoto run --classic` records and signs a real in-toto link keylessly against a
//! running Hallmark: its signature carries a Sigstore bundle whose DSSE envelope, of Hallmark's
//! payload type, holds the canonical `signed` bytes (the driver checks they are in-toto's own),
//! beside the hex signature. The driver re-keys it per scenario (the key id is not signed) into
//! layouts (signed by a classic owner key, one keyless step named by OIDC identity and
//! trust-root hash, one classic-key step) whose `hallmark-oidc` key values and key ids come from
//! `hallmark_sigstore::intoto` (the driver checks the plugin computes the same ids).
//! Then the venv's own `in-toto-verify` console script must pass, also three hours later
//! (under libfaketime) when the ten-minute certificate has long expired: the chain is checked
//! at the log's integrated time. And it must fail, with the plugin's precise reason on stderr,
//! for a wrong identity, a wrong issuer, an identity regex that only matches part of the SAN,
//! a missing certificate extension, tampered materials, a wrong trust-root hash, a tampered
//! inclusion proof, a signature without bundle, a signature that is not the bundle's, a
//! message-signature bundle over the same canonical bytes by the same identity (a blob
//! signature made by sigstore-python, lifted into the link: refused for domain separation),
//! and no trusted roots configured; without the plugin (`python -S`) it refuses the layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use hallmark_sigstore::intoto::layout::{AnchoredRegex, LayoutKey, OidcFunctionary};
use hallmark_sigstore::intoto::{
    SIGNED_PAYLOAD_TYPE, SignedLink, TextMatch, TrustRootRef, link_file_name,
};
use hallmark_sigstore::oid::CiExtension;
use serde_json::{Value, json};

const EMAIL: &str = "signer@example.com";

/// The driver script (in-toto models, securesystemslib, sigstore-python).
fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/intoto_plugin_links.py")
}

/// The `hallmark-oidc` key value and key id Hallmark computes for a functionary.
fn key(f: OidcFunctionary) -> (Value, String) {
    let (keyid, key) = LayoutKey::oidc(f).unwrap();
    let dict = serde_json::to_value(&key).unwrap();
    (dict["keyval"].clone(), keyid)
}

fn exact(s: &str) -> TextMatch {
    TextMatch::Exact(s.to_owned())
}

fn regex(s: &str) -> TextMatch {
    TextMatch::Regex(AnchoredRegex::new(s).unwrap())
}

/// `faketime` (libfaketime), which `scripts/lib.sh` installs; fails loudly when absent.
fn faketime() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("faketime"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("faketime is not installed: run ./scripts/test.sh (it installs faketime)")
        })
}

/// The venv's site-packages (for running a stock console script without `.pth` processing).
fn site_packages() -> String {
    py(
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        &[],
    )
    .trim()
    .to_owned()
}

/// Stock `in-toto-verify` on scenario `dir`, with `HALLMARK_TRUSTED_ROOT=roots` (unset when
/// `None`); `wrap` prefixes the command (faketime, `python -S`).
fn in_toto_verify(dir: &Path, roots: Option<&Path>, wrap: &[&str]) -> Output {
    let tool = venv_bin("in-toto-verify");
    assert!(
        tool.is_file(),
        "{} is missing: run ./scripts/test.sh (it installs in-toto 3.1.0 and the plugin)",
        tool.display()
    );
    let mut c = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&tool);
            c
        }
        None => Command::new(&tool),
    };
    c.args([
        "--layout",
        "root.layout",
        "--verification-keys",
        "owner.pub",
    ])
    .args(["--link-dir", "links"])
    .current_dir(dir)
    .env_remove("HALLMARK_TRUSTED_ROOT");
    if let Some(r) = roots {
        c.env("HALLMARK_TRUSTED_ROOT", r);
    }
    c.output().unwrap()
}

fn assert_fails(what: &str, out: &Output, reason: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{what}: in-toto-verify passed\n{stderr}"
    );
    assert!(
        stderr.contains(reason),
        "{what}: stderr does not say {reason:?}:\n{stderr}"
    );
}

#[test]
fn stock_in_toto_verify_checks_keyless_links_with_the_plugin() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let tc = dir.join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let tc_bytes = std::fs::read(&tc).unwrap();
    let trust_root = TrustRootRef::of_document(&tc_bytes).unwrap();
    // The same root, bare and re-indented: the same reference.
    let doc: Value = serde_json::from_slice(&tc_bytes).unwrap();
    let bare = dir.join("trusted_root.json");
    std::fs::write(&bare, serde_json::to_string(&doc["trustedRoot"]).unwrap()).unwrap();
    assert_eq!(
        TrustRootRef::of_document(&std::fs::read(&bare).unwrap()).unwrap(),
        trust_root
    );

    let issuer = stack.issuer();
    let functionary = |issuer: TextMatch, identity: TextMatch| OidcFunctionary {
        issuer,
        identity,
        extensions: BTreeMap::new(),
        trust_root,
    };
    let mut with_extension = functionary(exact(&issuer), exact(EMAIL));
    with_extension.extensions.insert(
        CiExtension::SourceRepositoryUri,
        exact("https://github.com/acme/app"),
    );
    let mut other_root = functionary(exact(&issuer), exact(EMAIL));
    other_root.trust_root = TrustRootRef([0x42; 32]);
    let scenarios: Vec<(&str, OidcFunctionary, &str)> = vec![
        ("good", functionary(exact(&issuer), exact(EMAIL)), "good"),
        (
            "regex",
            functionary(exact(&issuer), regex(r"signer@example\.(com|org)")),
            "good",
        ),
        (
            "regex_partial",
            functionary(exact(&issuer), regex("signer@example")),
            "good",
        ),
        (
            "wrong_identity",
            functionary(exact(&issuer), exact("mallory@example.com")),
            "good",
        ),
        (
            "wrong_issuer",
            functionary(exact("https://accounts.google.com"), exact(EMAIL)),
            "good",
        ),
        ("missing_extension", with_extension, "good"),
        (
            "tampered_materials",
            functionary(exact(&issuer), exact(EMAIL)),
            "tampered_materials",
        ),
        ("wrong_trust_root", other_root, "good"),
        (
            "tampered_proof",
            functionary(exact(&issuer), exact(EMAIL)),
            "tampered_proof",
        ),
        (
            "no_bundle",
            functionary(exact(&issuer), exact(EMAIL)),
            "no_bundle",
        ),
        (
            "other_sig",
            functionary(exact(&issuer), exact(EMAIL)),
            "other_sig",
        ),
        (
            "message_signature",
            functionary(exact(&issuer), exact(EMAIL)),
            "message_signature",
        ),
    ];
    let mut plan_scenarios = serde_json::Map::new();
    for (name, f, link) in scenarios {
        let (keyval, keyid) = key(f);
        plan_scenarios.insert(
            name.to_owned(),
            json!({"keyval": keyval, "keyid": keyid, "link": link}),
        );
    }
    // The keyless classic link, written by Hallmark itself.
    let work = dir.join("work");
    let written = dir.join("hallmark-links");
    std::fs::create_dir_all(work.join("src")).unwrap();
    std::fs::create_dir_all(&written).unwrap();
    std::fs::write(work.join("src/main.c"), b"int main(void) { return 0; }\n").unwrap();
    let token = dir.join("run.jwt");
    std::fs::write(&token, email_token(&stack, EMAIL)).unwrap();
    run(client(&stack, &tc)
        .current_dir(&work)
        .args([
            "intoto",
            "run",
            "-n",
            "build",
            "-m",
            "src/main.c",
            "-p",
            "app",
        ])
        .args(["--classic", "--no-login", "-d"])
        .arg(&written)
        .arg("--identity-token-file")
        .arg(&token)
        .args(["--", "sh", "-c", "echo built > app"]));
    let exact_keyid = plan_scenarios["good"]["keyid"].as_str().unwrap().to_owned();
    let hallmark_link = written.join(link_file_name("build", &exact_keyid));
    let out = dir.join("scenarios");
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        serde_json::to_vec(&json!({
            "trust_config": tc,
            "token": email_token(&stack, EMAIL),
            "out": out,
            "link": hallmark_link,
            "payload_type": SIGNED_PAYLOAD_TYPE,
            "scenarios": plan_scenarios,
        }))
        .unwrap(),
    )
    .unwrap();
    let printed = run(Command::new(python())
        .arg(driver())
        .arg(&plan)
        .current_dir(&dir));
    assert!(printed.contains("LINKS OK"), "{printed}");
    let not_after = printed.lines().next().unwrap().to_owned();
    let sc = |name: &str| out.join(name);

    // The link is the shared keyless classic format Hallmark reads: its bundle is a DSSE
    // envelope of Hallmark's payload type whose payload is the canonical `signed` bytes (Rust's
    // encoder), and `sig` is the envelope's signature.
    let good_keyid = plan_scenarios["good"]["keyid"].as_str().unwrap();
    let link_bytes = std::fs::read(
        sc("good")
            .join("links")
            .join(link_file_name("build", good_keyid)),
    )
    .unwrap();
    let link = SignedLink::parse(&link_bytes).unwrap();
    let sig = link.signature_by(good_keyid).unwrap();
    let bundle = sig
        .bundle
        .as_ref()
        .expect("the keyless signature carries its bundle");
    assert!(bundle.get("messageSignature").is_none(), "{bundle}");
    let envelope = &bundle["dsseEnvelope"];
    let b64 = |v: &Value| BASE64.decode(v.as_str().unwrap()).unwrap();
    assert_eq!(envelope["payloadType"], SIGNED_PAYLOAD_TYPE);
    assert_eq!(b64(&envelope["payload"]), link.signed_bytes().unwrap());
    assert_eq!(hex::encode(b64(&envelope["signatures"][0]["sig"])), sig.sig);

    // Passes: exact identity (ClientTrustConfig), anchored regex (bare trusted_root.json).
    assert_ok(
        "exact identity",
        &in_toto_verify(&sc("good"), Some(&tc), &[]),
    );
    assert_ok(
        "regex identity",
        &in_toto_verify(&sc("regex"), Some(&bare), &[]),
    );

    // Three hours later the certificate has expired; verification still passes, since the
    // chain is checked at the log's integrated time. First prove the clock really moved.
    let ft = faketime();
    let ft = ft.to_str().unwrap();
    let later = "+3 hours";
    let expired = run(Command::new(ft).arg(later).arg(python()).args([
        "-c",
        "import sys, datetime; n = datetime.datetime.fromisoformat(sys.argv[1]); \
         print('expired' if datetime.datetime.now(datetime.timezone.utc) > n else 'valid')",
        &not_after,
    ]));
    assert_eq!(expired.trim(), "expired", "notAfter {not_after}");
    assert_ok(
        "exact identity, three hours later",
        &in_toto_verify(&sc("good"), Some(&tc), &[ft, later]),
    );

    // Failures, each with the plugin's reason and in-toto's threshold error.
    let threshold = "Step 'build' requires at least '1' links";
    let cases: [(&str, Option<&Path>, &str); 12] = [
        (
            "regex_partial",
            Some(&tc),
            "identity mismatch: the key expects /signer@example/, the certificate has 'signer@example.com'",
        ),
        (
            "wrong_identity",
            Some(&tc),
            "identity mismatch: the key expects 'mallory@example.com', the certificate has 'signer@example.com'",
        ),
        (
            "wrong_issuer",
            Some(&tc),
            "issuer mismatch: the key expects 'https://accounts.google.com', the certificate has",
        ),
        (
            "missing_extension",
            Some(&tc),
            "certificate extension sourceRepositoryURI (1.3.6.1.4.1.57264.1.12) mismatch: the key expects 'https://github.com/acme/app', the certificate has none",
        ),
        (
            "tampered_materials",
            Some(&tc),
            "DSSE payload mismatch: the bundle's payload is not the canonical signed bytes",
        ),
        (
            "wrong_trust_root",
            Some(&tc),
            "no trusted root in HALLMARK_TRUSTED_ROOT is sha256:4242",
        ),
        ("tampered_proof", Some(&tc), "invalid log entry"),
        (
            "no_bundle",
            Some(&tc),
            "the signature has no Sigstore bundle",
        ),
        ("other_sig", Some(&tc), "is not the bundle's signature"),
        (
            "message_signature",
            Some(&tc),
            "the bundle holds a message signature, which any blob signer makes over any file: a keyless signature on a classic link or layout must be a DSSE envelope of type application/vnd.hallmark.intoto-signed+json over its canonical signed bytes (domain separation)",
        ),
        ("good", None, "HALLMARK_TRUSTED_ROOT is not set"),
        // A trust file that is not a trusted root.
        (
            "good",
            Some(&dir.join("other-trust-config.json")),
            "cannot use",
        ),
    ];
    std::fs::write(dir.join("other-trust-config.json"), b"not json").unwrap();
    for (name, roots, reason) in cases {
        let out = in_toto_verify(&sc(name), roots, &[]);
        assert_fails(name, &out, reason);
        assert_fails(name, &out, threshold);
    }

    // Without the plugin (no .pth processing: `python -S`, site-packages on PYTHONPATH) the
    // stock tool refuses the layout instead of ignoring the keyless functionary.
    let py = python();
    let mut c = Command::new(&py);
    c.arg("-S")
        .arg(venv_bin("in-toto-verify"))
        .args([
            "--layout",
            "root.layout",
            "--verification-keys",
            "owner.pub",
        ])
        .args(["--link-dir", "links"])
        .current_dir(sc("good"))
        .env("PYTHONPATH", site_packages())
        .env("HALLMARK_TRUSTED_ROOT", &tc);
    let out = c.output().unwrap();
    assert_fails(
        "plugin not loaded",
        &out,
        "Unsupported public key hallmark-oidc/hallmark-oidc-v1",
    );
}

/// Hallmark's own writer, end to end with stock tools: `hallmark intoto sign-layout --key` signs
/// a layout whose step names its functionary by a regular-expression identity; `hallmark intoto
/// run --classic --layout` records the step and writes the keyless classic link under the
/// layout's key id; stock `in-toto-verify` with the plugin accepts it, and refuses it once its
/// products are changed.
#[test]
fn stock_in_toto_verify_checks_links_written_by_hallmark_intoto_run() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().join("chain");
    let links = dir.join("links");
    std::fs::create_dir_all(&links).unwrap();
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let trust_root = TrustRootRef::of_document(&std::fs::read(&tc).unwrap()).unwrap();
    py(
        r#"
import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ed25519
k = ed25519.Ed25519PrivateKey.generate()
open(sys.argv[1] + "/owner.pem", "wb").write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
open(sys.argv[1] + "/owner.pub", "wb").write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
"#,
        &[dir.to_str().unwrap()],
    );
    let (keyval, keyid) = key(OidcFunctionary {
        issuer: exact(&stack.issuer()),
        identity: regex(r"[a-z]+@example\.com"),
        extensions: BTreeMap::new(),
        trust_root,
    });
    let expires = hallmark_sigstore::intoto::Expires::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 3600,
    )
    .unwrap();
    let layout = json!({
        "_type": "layout", "expires": expires, "readme": "",
        "keys": {keyid.clone(): {"keyid": keyid, "keytype": "hallmark-oidc",
                                 "scheme": "hallmark-oidc-v1", "keyval": keyval}},
        "steps": [{"_type": "step", "name": "build", "pubkeys": [keyid], "threshold": 1,
                   "expected_command": [],
                   "expected_materials": [["DISALLOW", "*"]],
                   "expected_products": [["CREATE", "app.bin"], ["DISALLOW", "*"]]}],
        "inspect": [],
    });
    std::fs::write(
        dir.join("layout.json"),
        serde_json::to_vec(&layout).unwrap(),
    )
    .unwrap();
    run(client(&stack, &tc).current_dir(&dir).args([
        "intoto",
        "sign-layout",
        "layout.json",
        "--out",
        "root.layout",
        "--key",
        "owner.pem",
    ]));
    let token = dir.join("token");
    std::fs::write(&token, email_token(&stack, EMAIL)).unwrap();
    run(client(&stack, &tc)
        .current_dir(&dir)
        .args(["intoto", "run", "-n", "build", "-p", "app.bin", "--classic"])
        .args(["--layout", "root.layout", "-d", "links", "--no-login"])
        .arg("--identity-token-file")
        .arg(&token)
        .args(["--", "sh", "-c", "echo built > app.bin"]));
    let link = links.join(link_file_name("build", &keyid));
    assert!(link.is_file(), "{} was not written", link.display());

    let ok = in_toto_verify(&dir, Some(&tc), &[]);
    assert!(
        ok.status.success(),
        "stock in-toto-verify refused hallmark's keyless link:\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let mut doc: Value = serde_json::from_slice(&std::fs::read(&link).unwrap()).unwrap();
    doc["signed"]["products"]["app.bin"]["sha256"] = json!("00".repeat(32));
    std::fs::write(&link, serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_fails(
        "changed products",
        &in_toto_verify(&dir, Some(&tc), &[]),
        "DSSE payload mismatch",
    );
}
