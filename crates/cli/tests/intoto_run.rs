//! `hallmark intoto run`, `record start|stop` and `sign-layout`: recording parity with stock
//! in-toto-run 3.1.0 on the same trees, classic-key links verified by stock in-toto-verify
//! against a layout written and signed by in-toto-python, keyless links against a running
//! Hallmark verified by `hallmark verify`, and the failure messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use common::*;
use hallmark_sigstore::intoto::{
    AnchoredRegex, Expires, Layout, LayoutKey, OidcFunctionary, Step, TextMatch, TrustRootRef,
    cjson,
};
use serde_json::Value;

const EMAIL: &str = "builder@example.com";

/// Writes PEM PKCS#8 private keys (and their public PEMs) with pyca/cryptography.
fn python_keys(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let script = r#"
import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
d = sys.argv[1]
for name, key in [("owner", ed25519.Ed25519PrivateKey.generate()),
                  ("ed", ed25519.Ed25519PrivateKey.generate()),
                  ("ec", ec.generate_private_key(ec.SECP256R1()))]:
    open(f"{d}/{name}.pem", "wb").write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
    open(f"{d}/{name}.pub", "wb").write(key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
"#;
    py(script, &[dir.to_str().unwrap()]);
    (
        dir.join("owner.pem"),
        dir.join("ed.pem"),
        dir.join("ec.pem"),
    )
}

fn hallmark() -> Command {
    let mut c = Command::new(bin());
    c.env_remove("HALLMARK_TRUST_CONFIG");
    c
}

fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{suffix} files in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A tree with what in-toto's recording treats specially.
fn tree(root: &Path) {
    let w = |p: &str, data: &[u8]| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    w("src/main.c", b"int main() { return 0; }\n");
    w("src/lib/util.c", b"// util\r\nint x;\r\n");
    w("src/lib/mac.txt", b"one\rtwo\r");
    w("src/cache.pyc", b"bytecode");
    w("src/old.c~", b"backup");
    w("build/out.o", b"object");
    w("build/tmp/x.tmp", b"temp");
    w("docs/readme.md", b"# readme\n");
    w("docs/notes.tmp", b"notes");
    w("step.abcdef12.link", b"{}");
    w(".git/config", b"[core]");
    w("weird name [1].txt", b"brackets");
    std::os::unix::fs::symlink("src/main.c", root.join("main-link.c")).unwrap();
    std::os::unix::fs::symlink("docs", root.join("docs-link")).unwrap();
    std::os::unix::fs::symlink("missing-target", root.join("dangling")).unwrap();
}

#[test]
fn recording_matches_stock_in_toto_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, ed, _) = python_keys(tmp.path());
    let root = tmp.path().join("tree");
    tree(&root);
    let cases: Vec<Vec<&str>> = vec![
        vec!["--materials", ".", "--products", "src", "docs-link"],
        vec![
            "--materials",
            ".",
            "--exclude",
            "*.tmp",
            "build/",
            "/docs",
            "[w]eird*",
        ],
        vec![
            "--materials",
            "src",
            "--lstrip-paths",
            "src/",
            "--products",
            "src/lib",
            "docs",
        ],
        vec![
            "--materials",
            ".",
            "--base-path",
            "src",
            "--products",
            "lib",
            "missing",
        ],
        vec![
            "--materials",
            "src/lib",
            "main-link.c",
            "dangling",
            "./src/../docs/",
        ],
    ];
    for (i, case) in cases.iter().enumerate() {
        for normalize in [false, true] {
            let ours = tmp.path().join(format!("ours{i}{normalize}"));
            let theirs = tmp.path().join(format!("theirs{i}{normalize}"));
            std::fs::create_dir_all(&ours).unwrap();
            std::fs::create_dir_all(&theirs).unwrap();
            let mut extra: Vec<&str> = case.clone();
            // in-toto-run 3.1.0 has no --normalize-line-endings flag: the Python side runs
            // runlib with it.
            let mut stock = if normalize {
                let mut c = Command::new(python());
                c.arg("-c").arg(
                    "import sys, in_toto.runlib as r, in_toto.in_toto_run as m\n\
                     orig = r.record_artifacts_as_dict\n\
                     r.record_artifacts_as_dict = lambda *a, **k: orig(*a, **{**k, 'normalize_line_endings': True})\n\
                     sys.argv[0] = 'in-toto-run'; m.main()",
                );
                c
            } else {
                Command::new(venv_bin("in-toto-run"))
            };
            stock
                .current_dir(&root)
                .args(["--step-name", "s", "--no-command", "--signing-key"])
                .arg(&ed)
                .arg("-d")
                .arg(&theirs)
                .args(&extra);
            run(&mut stock);
            if normalize {
                extra.push("--normalize-line-endings");
            }
            run(hallmark()
                .current_dir(&root)
                .args(["intoto", "run", "--step-name", "s", "--no-command", "--key"])
                .arg(&ed)
                .arg("-d")
                .arg(&ours)
                .args(&extra));
            let a = json(&only_file(&ours, ".link"));
            let b = json(&only_file(&theirs, ".link"));
            assert_eq!(
                a["signed"], b["signed"],
                "case {case:?} (normalize {normalize}): hallmark vs in-toto-run"
            );
            // Ed25519 is deterministic: the same bytes signed by the same key.
            assert_eq!(a["signatures"], b["signatures"], "case {case:?}");
            assert!(!a["signed"]["materials"].as_object().unwrap().is_empty());
        }
    }
}

#[test]
fn key_links_verify_with_stock_in_toto_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (owner, ed, ec) = python_keys(tmp.path());
    let d = tmp.path();
    // The layout, written and signed by in-toto-python.
    let layout_script = r#"
import sys
from cryptography.hazmat.primitives import serialization as s
from securesystemslib.signer import CryptoSigner
from in_toto.models.layout import Layout, Step
from in_toto.models.metadata import Metablock
d = sys.argv[1]
def signer(n):
    return CryptoSigner(s.load_pem_private_key(open(f"{d}/{n}.pem", "rb").read(), None))
owner, ed, ec = signer("owner"), signer("ed"), signer("ec")
layout = Layout()
layout.set_relative_expiration(days=1)
for k in (ed, ec):
    key = k.public_key.to_dict(); key["keyid"] = k.public_key.keyid
    layout.add_functionary_key(key)
build = Step(name="build", pubkeys=[ed.public_key.keyid],
             expected_command=["sh", "-c", "echo built > app.bin"],
             expected_products=[["CREATE", "app.bin"], ["DISALLOW", "*"]])
package = Step(name="package", pubkeys=[ec.public_key.keyid],
               expected_materials=[["MATCH", "app.bin", "WITH", "PRODUCTS", "FROM", "build"], ["DISALLOW", "*"]],
               expected_products=[["CREATE", "app.tar"], ["MATCH", "app.bin", "WITH", "PRODUCTS", "FROM", "build"], ["DISALLOW", "*"]])
layout.steps = [build, package]
m = Metablock(signed=layout)
m.create_signature(owner)
m.dump(f"{d}/root.layout")
"#;
    py(layout_script, &[d.to_str().unwrap()]);
    let work = d.join("work");
    std::fs::create_dir_all(&work).unwrap();
    run(hallmark()
        .current_dir(&work)
        .args(["intoto", "run", "-n", "build", "-p", "app.bin", "--key"])
        .arg(&ed)
        .args(["-d", ".."])
        .args(["--", "sh", "-c", "echo built > app.bin"]));
    run(hallmark()
        .current_dir(&work)
        .args([
            "intoto", "record", "start", "-n", "package", "-m", "app.bin", "--key",
        ])
        .arg(&ec)
        .args(["-d", ".."]));
    assert!(only_file(d, ".link-unfinished").exists());
    run(Command::new("tar")
        .current_dir(&work)
        .args(["cf", "app.tar", "app.bin"]));
    run(hallmark()
        .current_dir(&work)
        .args([
            "intoto", "record", "stop", "-n", "package", "-p", "app.tar", "app.bin", "--key",
        ])
        .arg(&ec)
        .args(["-d", ".."]));
    assert!(
        std::fs::read_dir(d).unwrap().all(|e| !e
            .unwrap()
            .path()
            .to_str()
            .unwrap()
            .ends_with("unfinished")),
        "record stop leaves no unfinished link"
    );
    let verify = || {
        Command::new(venv_bin("in-toto-verify"))
            .current_dir(d)
            .args([
                "--layout",
                "root.layout",
                "--verification-keys",
                "owner.pub",
            ])
            .args(["--link-dir", "."])
            .output()
            .unwrap()
    };
    assert_ok("stock in-toto-verify on hallmark's key links", &verify());
    // A product changed after the build step: the stock verifier refuses.
    let build_link = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("build.") && n.ends_with(".link")
        })
        .unwrap();
    let mut tampered = json(&build_link);
    tampered["signed"]["products"]["app.bin"]["sha256"] = Value::String("00".repeat(32));
    std::fs::write(&build_link, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let out = verify();
    assert!(
        !out.status.success(),
        "in-toto-verify accepted a tampered link"
    );
    // owner-signed layout via hallmark sign-layout --key verifies too.
    let bare = json(&d.join("root.layout"))["signed"].clone();
    std::fs::write(d.join("bare.json"), serde_json::to_vec(&bare).unwrap()).unwrap();
    run(hallmark()
        .current_dir(d)
        .args([
            "intoto",
            "sign-layout",
            "bare.json",
            "--out",
            "hallmark.layout",
            "--key",
        ])
        .arg(&owner));
    let ours = json(&d.join("hallmark.layout"));
    let theirs = json(&d.join("root.layout"));
    assert_eq!(ours["signed"], theirs["signed"]);
    // Ed25519: the same signature as in-toto-python's.
    assert_eq!(ours["signatures"], theirs["signatures"]);
}

#[test]
fn run_exit_codes_and_failure_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, ed, _) = python_keys(tmp.path());
    let d = tmp.path();
    let intoto = |args: &[&str]| {
        hallmark()
            .current_dir(d)
            .args(["intoto", "run", "-n", "s", "--key"])
            .arg(&ed)
            .args(args)
            .output()
            .unwrap()
    };
    // The command fails: the link is written, and run exits with its code (as in-toto-run).
    let out = intoto(&[
        "-p",
        "ed.pub",
        "-s",
        "--",
        "sh",
        "-c",
        "echo oops >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let link = json(&only_file(d, ".link"));
    assert_eq!(link["signed"]["byproducts"]["return-value"], 3);
    assert_eq!(link["signed"]["byproducts"]["stderr"], "oops\n");
    // The link exists now.
    let out = intoto(&["--no-command"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("exists: pass --overwrite"),
        "{}",
        stderr(&out)
    );
    let fails = |args: &[&str], expect: &str| {
        let mut all = vec!["--overwrite"];
        all.extend_from_slice(args);
        let out = intoto(&all);
        let e = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(e.contains(expect), "{args:?}: expected {expect:?} in: {e}");
        assert!(!e.contains("panicked"), "{args:?} panicked: {e}");
    };
    fails(
        &["--", "/no/such/tool"],
        "command \"/no/such/tool\" not found",
    );
    fails(
        &["--exclude", "a\\", "--no-command"],
        "exclude pattern \"a\\\\\"",
    );
    fails(
        &["--lstrip-paths", "a/", "a/b/", "--no-command"],
        "left substring error",
    );
    fails(&[], "no command given");
    fails(
        &["--base-path", "nowhere", "-m", ".", "--no-command"],
        "base path nowhere",
    );
    // A missing path is skipped with a warning, as in-toto-run does.
    let out = intoto(&["--overwrite", "-m", "no-such-file", "--no-command"]);
    assert_ok("a missing material", &out);
    assert!(
        stderr(&out).contains("no-such-file does not exist: not recorded"),
        "{}",
        stderr(&out)
    );
    // record stop without start.
    let out = hallmark()
        .current_dir(d)
        .args(["intoto", "record", "stop", "-n", "never", "--key"])
        .arg(&ed)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("record start --step-name never"),
        "{}",
        stderr(&out)
    );
}

/// `hallmark intoto` as a client of `stack`, run in `work`.
fn keyless(stack: &Stack, tc: &Path, work: &Path) -> Command {
    let mut c = client(stack, tc);
    c.current_dir(work).arg("intoto");
    c
}

fn signer_flags(stack: &Stack, tok: &Path) -> Vec<String> {
    vec![
        "--no-login".into(),
        "--kubernetes-token-file".into(),
        stack.dir().join("no-such-k8s-token").display().to_string(),
        "--identity-token-file".into(),
        tok.display().to_string(),
    ]
}

#[test]
fn keyless_links_verify_and_name_the_products() {
    let stack = Stack::start(&bin()).unwrap();
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let tok = stack.dir().join("tok.jwt");
    std::fs::write(&tok, email_token(&stack, EMAIL)).unwrap();
    let work = stack.dir().join("work");
    let links = stack.dir().join("links");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&links).unwrap();
    std::fs::write(work.join("src.c"), b"int main;\n").unwrap();
    let flags = signer_flags(&stack, &tok);
    run(keyless(&stack, &tc, &work)
        .args([
            "run",
            "-n",
            "build",
            "-m",
            "src.c",
            "-p",
            "app.bin",
            "--classic",
            "-d",
        ])
        .arg(&links)
        .args(&flags)
        .args(["--", "sh", "-c", "echo built > app.bin"]));
    let bundle = only_file(&links, ".link.sigstore.json");
    // The bundle verifies for the signer's identity with the product as its subject.
    assert_ok(
        "hallmark verify on the keyless link",
        &hallmark_verify(&stack, &tc, &work.join("app.bin"), &bundle, EMAIL),
    );
    let b = json(&bundle);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let st: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        st["predicateType"],
        "https://in-toto.io/attestation/link/v0.3"
    );
    assert_eq!(st["subject"][0]["name"], "app.bin");
    assert_eq!(st["subject"][0]["digest"]["sha256"], sha256_hex(b"built\n"));
    assert_eq!(st["predicate"]["materials"][0]["name"], "src.c");
    // The key id: the exact-identity hallmark-oidc key's.
    let trust_ref = TrustRootRef::of_document(&std::fs::read(&tc).unwrap()).unwrap();
    let exact = OidcFunctionary {
        issuer: TextMatch::Exact(stack.issuer()),
        identity: TextMatch::Exact(EMAIL.into()),
        extensions: Default::default(),
        trust_root: trust_ref,
    };
    let keyid = exact.compute_keyid().unwrap();
    assert_eq!(
        bundle.file_name().unwrap().to_str().unwrap(),
        format!("build.{}.link.sigstore.json", &keyid[..8])
    );
    // The classic link: its bundle is a DSSE envelope of Hallmark's payload type over the
    // canonical signed bytes (never a message signature: domain separation), it verifies, and
    // `sig` is the envelope's signature.
    let classic = json(&links.join(format!("build.{}.link", &keyid[..8])));
    assert_eq!(classic["signatures"][0]["keyid"], keyid.as_str());
    assert_classic_bundle(&stack, &tc, &classic, &links.join("classic-bundle.json"));

    // record start/stop, keyless.
    run(keyless(&stack, &tc, &work)
        .args(["record", "start", "-n", "package", "-m", "app.bin", "-d"])
        .arg(&links));
    std::fs::write(work.join("app.tar"), b"tarball").unwrap();
    run(keyless(&stack, &tc, &work)
        .args(["record", "stop", "-n", "package", "-p", "app.tar", "-d"])
        .arg(&links)
        .args(&flags));
    let pkg = links.join(format!("package.{}.link.sigstore.json", &keyid[..8]));
    assert_ok(
        "hallmark verify on record stop's link",
        &hallmark_verify(&stack, &tc, &work.join("app.tar"), &pkg, EMAIL),
    );
    assert!(!links.join(".package.link-unfinished").exists());

    // --layout: the key id is the layout's matching key; a signer it does not name is refused.
    let mut layout = Layout::new(Expires::from_unix(4_102_444_800).unwrap());
    let (regex_id, regex_key) = LayoutKey::oidc(OidcFunctionary {
        issuer: TextMatch::Exact(stack.issuer()),
        identity: TextMatch::Regex(AnchoredRegex::new(".*@example\\.com").unwrap()),
        extensions: Default::default(),
        trust_root: trust_ref,
    })
    .unwrap();
    let (other_id, other_key) = LayoutKey::oidc(OidcFunctionary {
        identity: TextMatch::Exact("someone-else@example.com".into()),
        ..exact.clone()
    })
    .unwrap();
    layout.keys.insert(regex_id.clone(), regex_key);
    layout.keys.insert(other_id.clone(), other_key);
    let mut test = Step::new("test");
    test.pubkeys = vec![regex_id.clone()];
    let mut deploy = Step::new("deploy");
    deploy.pubkeys = vec![other_id];
    layout.steps = vec![test, deploy];
    let lp = stack.dir().join("layout.json");
    std::fs::write(&lp, serde_json::to_vec(&layout).unwrap()).unwrap();
    run(keyless(&stack, &tc, &work)
        .args(["run", "-n", "test", "-p", "app.bin", "--layout"])
        .arg(&lp)
        .arg("-d")
        .arg(&links)
        .args(&flags)
        .args(["--", "true"]));
    assert!(
        links
            .join(format!("test.{}.link.sigstore.json", &regex_id[..8]))
            .exists()
    );
    let tree_size = || {
        let (status, body) = stack.get("/api/v1/log").unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["treeSize"]
            .as_u64()
            .unwrap()
    };
    let before = tree_size();
    let out = keyless(&stack, &tc, &work)
        .args(["run", "-n", "deploy", "-p", "app.bin", "--layout"])
        .arg(&lp)
        .arg("-d")
        .arg(&links)
        .args(&flags)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("none of the layout's functionaries for step \"deploy\""),
        "{}",
        stderr(&out)
    );
    // Refused before anything was signed: the log did not grow.
    assert_eq!(tree_size(), before, "a refused signer left a log entry");

    // sign-layout, keyless: the signature's bundle verifies over the canonical layout.
    run(keyless(&stack, &tc, &work)
        .arg("sign-layout")
        .arg(&lp)
        .arg("--out")
        .arg(stack.dir().join("signed.layout"))
        .args(&flags));
    let signed = json(&stack.dir().join("signed.layout"));
    assert_eq!(signed["signatures"][0]["keyid"], keyid.as_str());
    assert_classic_bundle(
        &stack,
        &tc,
        &signed,
        &stack.dir().join("layout-bundle.json"),
    );
}

/// `doc`'s (a classic link or layout) first signature carries a bundle whose DSSE envelope
/// has Hallmark's payload type and the canonical `signed` bytes as its payload, whose
/// signature is `sig`, and which `hallmark verify` accepts for the test's signer.
fn assert_classic_bundle(stack: &Stack, tc: &Path, doc: &Value, bundle_out: &Path) {
    let bundle = &doc["signatures"][0]["bundle"];
    assert!(
        bundle.get("messageSignature").is_none(),
        "a message signature: {bundle}"
    );
    let env = &bundle["dsseEnvelope"];
    assert_eq!(
        env["payloadType"],
        hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE
    );
    assert_eq!(
        env["payloadType"],
        "application/vnd.hallmark.intoto-signed+json"
    );
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    assert_eq!(
        b64(&env["payload"]),
        cjson::encode(&doc["signed"]).unwrap(),
        "the payload is the canonical signed bytes"
    );
    let sig = hex::decode(doc["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    assert_eq!(
        sig,
        b64(&env["signatures"][0]["sig"]),
        "sig is the envelope's signature in hex"
    );
    // Logged in the Rekor v2 log: the envelope as a hashedrekord over its PAE.
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
        serde_json::json!({"kind": "hashedrekord", "version": "0.0.2"})
    );
    std::fs::write(bundle_out, serde_json::to_vec(bundle).unwrap()).unwrap();
    let mut c = client(stack, tc);
    c.args(["verify", "--no-artifact", "--bundle"])
        .arg(bundle_out)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            &stack.issuer(),
        ]);
    assert_ok(
        "hallmark verify on the classic signature's bundle",
        &c.output().unwrap(),
    );
}
