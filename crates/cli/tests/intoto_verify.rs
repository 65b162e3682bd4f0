//! `hallmark intoto verify` with real parts: (a) links written by stock `in-toto-run` (in-toto
//! 3.1.0) against a layout made and signed by in-toto-python, and (b) keyless links written by
//! `hallmark attest` (DSSE) and `hallmark intoto run --classic` against a running stack,
//! verified against a layout with keyless functionaries signed by `hallmark intoto
//! sign-layout`, also hours after the certificates expired; a blob signature (`hallmark sign`)
//! over a file holding canonical link or layout JSON, lifted into a link or layout signature,
//! is refused (domain separation).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use common::login::stack_and_trust;
use common::*;
use hallmark_sigstore::intoto::{Link, TrustRootRef, cjson};
use serde_json::{Value, json};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command failed and its stderr holds each of `needles`.
fn assert_fails_with(what: &str, out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "{what}: verification passed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for n in needles {
        assert!(err.contains(n), "{what}: expected {n:?} in:\n{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// (a) stock in-toto-python

/// Makes and signs a layout with in-toto-python: build (ECDSA functionary) copies src.txt to
/// app.txt; package (Ed25519 functionary) tars it; an inspection untars it.
const MKLAYOUT: &str = r#"
import sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.signer import CryptoSigner, SSlibKey
from in_toto.models.layout import Layout, Step, Inspection
from in_toto.models.metadata import Metablock
owner_priv, alice_pub, bob_pub, expires, out = sys.argv[1:6]
def pub(p):
    return SSlibKey.from_crypto(load_pem_public_key(open(p, "rb").read()))
alice, bob = pub(alice_pub), pub(bob_pub)
layout = Layout()
if expires == "1d":
    layout.set_relative_expiration(days=1)
else:
    layout.expires = expires
layout.add_functionary_key(alice.to_dict() | {"keyid": alice.keyid})
layout.add_functionary_key(bob.to_dict() | {"keyid": bob.keyid})
build = Step(name="build")
build.pubkeys = [alice.keyid]
build.expected_command = ["cp", "src.txt", "app.txt"]
build.expected_materials = [["ALLOW", "src.txt"], ["DISALLOW", "*"]]
build.expected_products = [["CREATE", "app.txt"], ["ALLOW", "src.txt"], ["DISALLOW", "*"]]
package = Step(name="package")
package.pubkeys = [bob.keyid]
package.expected_command = ["tar", "cf", "app.tar", "app.txt"]
package.expected_materials = [["MATCH", "app.txt", "WITH", "PRODUCTS", "FROM", "build"], ["ALLOW", "src.txt"], ["DISALLOW", "*"]]
package.expected_products = [["CREATE", "app.tar"], ["MATCH", "app.txt", "WITH", "PRODUCTS", "FROM", "build"], ["ALLOW", "src.txt"], ["DISALLOW", "*"]]
layout.steps = [build, package]
untar = Inspection(name="untar", run=["tar", "xf", "app.tar"])
untar.expected_materials = [["MATCH", "app.tar", "WITH", "PRODUCTS", "FROM", "package"], ["ALLOW", "*"]]
untar.expected_products = [["MATCH", "app.txt", "WITH", "PRODUCTS", "FROM", "build"], ["ALLOW", "*"]]
layout.inspect = [untar]
mb = Metablock(signed=layout)
mb.create_signature(CryptoSigner(load_pem_private_key(open(owner_priv, "rb").read(), None)))
mb.dump(out)
"#;

fn openssl_keypair(dir: &Path, name: &str, alg: &[&str]) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.pem"));
    let pubkey = dir.join(format!("{name}.pub"));
    run(Command::new("openssl")
        .arg("genpkey")
        .args(alg)
        .arg("-out")
        .arg(&key));
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&pubkey));
    (key, pubkey)
}

fn in_toto_run(work: &Path, step: &str, key: &Path, m: &[&str], p: &[&str], cmd: &[&str]) {
    // A directory named `dsse` gets in-toto-python's DSSE links (`--use-dsse`).
    let dsse = work.file_name().is_some_and(|n| n == "dsse");
    run(Command::new(venv_bin("in-toto-run"))
        .current_dir(work)
        .args(dsse.then_some("--use-dsse"))
        .args(["-n", step, "--signing-key"])
        .arg(key)
        .arg("-m")
        .args(m)
        .arg("-p")
        .args(p)
        .arg("--")
        .args(cmd));
}

fn intoto_verify(work: &Path, layout: &str, key: &Path, extra: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(work)
        .env_remove("HALLMARK_TRUST_CONFIG")
        .env("XDG_CONFIG_HOME", work.join("no-config"))
        .args(["intoto", "verify", "--layout", layout, "--layout-key"])
        .arg(key)
        .args(["--links", "."])
        .args(extra)
        .output()
        .unwrap()
}

/// A fresh work directory holding src.txt, links by stock in-toto-run and a layout signed by
/// in-toto-python.
fn stock_chain(root: &Path, name: &str, expires: &str, between: impl FnOnce(&Path)) -> PathBuf {
    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    if !keys.join("owner.pem").exists() {
        openssl_keypair(&keys, "owner", &["-algorithm", "ed25519"]);
        openssl_keypair(
            &keys,
            "alice",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        openssl_keypair(&keys, "bob", &["-algorithm", "ed25519"]);
    }
    let work = root.join(name);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("src.txt"), "hello\n").unwrap();
    run(Command::new(python())
        .arg("-c")
        .arg(MKLAYOUT)
        .arg(keys.join("owner.pem"))
        .arg(keys.join("alice.pub"))
        .arg(keys.join("bob.pub"))
        .arg(expires)
        .arg(work.join("root.layout")));
    in_toto_run(
        &work,
        "build",
        &keys.join("alice.pem"),
        &["src.txt"],
        &["src.txt", "app.txt"],
        &["cp", "src.txt", "app.txt"],
    );
    between(&work);
    in_toto_run(
        &work,
        "package",
        &keys.join("bob.pem"),
        &["src.txt", "app.txt"],
        &["src.txt", "app.txt", "app.tar"],
        &["tar", "cf", "app.tar", "app.txt"],
    );
    work
}

fn link_file(work: &Path, step: &str) -> PathBuf {
    std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(&format!("{step}.")) && n.ends_with(".link")
        })
        .unwrap_or_else(|| panic!("no {step} link in {}", work.display()))
}

#[test]
fn links_from_stock_in_toto_run_verify_and_their_faults_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let owner = root.join("keys/owner.pub");

    // The good chain: stock in-toto-verify and hallmark agree.
    let work = stock_chain(root, "good", "1d", |_| {});
    let out = intoto_verify(&work, "root.layout", &owner, &["--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ok("hallmark intoto verify (stock links)", &out);
    assert_eq!(report["verified"], true);
    assert_eq!(report["steps"][0]["name"], "build");
    assert!(report["steps"][1]["accepted"][0]["signer"]["keyid"].is_string());
    assert_eq!(report["inspections"], json!(["untar"]));
    run(Command::new(venv_bin("in-toto-verify"))
        .current_dir(&work)
        .args(["--layout", "root.layout", "--verification-keys"])
        .arg(&owner));

    // The same chain as in-toto-python's DSSE links (`in-toto-run --use-dsse`).
    let dsse = stock_chain(root, "dsse", "1d", |_| {});
    let first = std::fs::read_to_string(link_file(&dsse, "build")).unwrap();
    assert!(first.contains("\"payloadType\""), "{first}");
    assert_ok(
        "hallmark intoto verify (stock DSSE links)",
        &intoto_verify(&dsse, "root.layout", &owner, &[]),
    );

    // A tampered link: its signature fails, so the step has no accepted link.
    let build = link_file(&work, "build");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&build).unwrap()).unwrap();
    doc["signed"]["products"]["app.txt"]["sha256"] = json!("00".repeat(32));
    let keyid = doc["signatures"][0]["keyid"].as_str().unwrap().to_owned();
    let tampered = root.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    for f in std::fs::read_dir(&work).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, tampered.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        tampered.join(build.file_name().unwrap()),
        serde_json::to_vec(&doc).unwrap(),
    )
    .unwrap();
    assert_fails_with(
        "tampered link",
        &intoto_verify(&tampered, "root.layout", &owner, &[]),
        &[
            "step 'build' needs links signed by 1 distinct functionaries (threshold); 1 link(s) name it, 0 distinct signer(s) accepted",
            &format!("signed by key {keyid}: signature by key {keyid}"),
        ],
    );

    // The wrong layout key.
    assert_fails_with(
        "wrong layout key",
        &intoto_verify(&work, "root.layout", &root.join("keys/alice.pub"), &[]),
        &["layout signature by key", "no signature by key"],
    );

    // An expired layout.
    let expired = stock_chain(root, "expired", "2020-01-01T00:00:00Z", |_| {});
    assert_fails_with(
        "expired layout",
        &intoto_verify(&expired, "root.layout", &owner, &[]),
        &["the layout expired at 2020-01-01T00:00:00Z"],
    );

    // app.txt changes between build and package: package's MATCH does not consume it.
    let changed = stock_chain(root, "changed", "1d", |w| {
        std::fs::write(w.join("app.txt"), "evil\n").unwrap();
    });
    let out = intoto_verify(&changed, "root.layout", &owner, &["--json"]);
    assert_fails_with(
        "changed artifact",
        &out,
        &[
            "package: expected_materials rule #3 'DISALLOW *': disallowed artifacts: app.txt",
            "app.txt: rule #1 'MATCH app.txt WITH PRODUCTS FROM build' did not match it: its digest",
            "(link signed by key ",
        ],
    );
    let failure: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failure["kind"], "rule");
    assert_eq!(failure["rule"]["index"], 3);
    assert_eq!(failure["artifacts"], json!(["app.txt"]));
}

// ---------------------------------------------------------------------------------------------
// (b) keyless, against a running stack

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const MALLORY: &str = "mallory@example.com";

struct Keyless {
    stack: Stack,
    tc: PathBuf,
    dir: PathBuf,
    root_ref: String,
}

impl Keyless {
    /// `hallmark SUB...` signing as `email`.
    fn signer(&self, sub: &[&str], email: &str) -> Command {
        let tok = self.dir.join(format!("{email}.jwt"));
        if !tok.exists() {
            std::fs::write(&tok, email_token(&self.stack, email)).unwrap();
        }
        let mut c = client(&self.stack, &self.tc);
        c.args(sub)
            .args(["--no-login", "--kubernetes-token-file"])
            .arg(self.dir.join("no-such-k8s-token"))
            .arg("--identity-token-file")
            .arg(tok);
        c
    }

    /// A keyless functionary key `(keyid, dict)` for `email`.
    fn functionary(&self, email: &str, issuer: &str) -> (String, Value) {
        let keyval = json!({"issuer": issuer, "identity": email, "trust_root": self.root_ref});
        let dict =
            json!({"keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1", "keyval": keyval});
        let keyid = common::sha256_hex(&cjson::encode(&dict).unwrap());
        let mut with_id = dict;
        with_id["keyid"] = json!(keyid);
        (keyid, with_id)
    }

    /// THE ATTACK: a blob signature `{keyid, sig, bundle}` by `email` over a file holding
    /// `signed`'s canonical bytes, made with `hallmark sign` (a message signature, as `cosign
    /// sign-blob` would make), lifted into a classic signature.
    fn lifted_blob_signature(&self, signed: &Value, keyid: &str, email: &str, name: &str) -> Value {
        let bytes = self.dir.join(format!("{name}.canonical"));
        std::fs::write(&bytes, cjson::encode(signed).unwrap()).unwrap();
        let bundle_path = self.dir.join(format!("{name}.canonical.sigstore.json"));
        run(self
            .signer(&["sign"], email)
            .arg("--overwrite")
            .arg("--bundle")
            .arg(&bundle_path)
            .arg(&bytes));
        let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(bundle["messageSignature"]["signature"].as_str().unwrap())
            .unwrap();
        json!({"keyid": keyid, "sig": hex::encode(sig), "bundle": bundle})
    }

    /// A DSSE link bundle by `email` made with `hallmark attest --statement`.
    fn dsse_link(&self, link: &Link, email: &str, out: &Path) {
        let st = self.dir.join(format!(
            "{}.statement.json",
            out.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&st, link.to_statement().to_json().unwrap()).unwrap();
        run(self
            .signer(&["attest"], email)
            .arg("--overwrite")
            .arg("--statement")
            .arg(&st)
            .arg("--bundle")
            .arg(out));
    }

    /// A keyless classic `.link` file by `email` for `files`, written by `hallmark intoto run
    /// --classic` over real files with those contents, then re-keyed to `keyid` (the key id is
    /// not covered by the signature).
    fn classic_link(&self, files: &Files, keyid: &str, email: &str, out: &Path) {
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        let work = self.dir.join(format!("{name}.work"));
        let meta = self.dir.join(format!("{name}.meta"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&meta).unwrap();
        let mut c = self.signer(&["intoto", "run"], email);
        c.current_dir(&work)
            .args(["-n", files.step, "--classic", "-d"])
            .arg(&meta);
        for (path, content) in files.materials.iter().chain(&files.products) {
            std::fs::write(work.join(path), content).unwrap();
        }
        for (path, _) in &files.materials {
            c.args(["-m", path]);
        }
        for (path, _) in &files.products {
            c.args(["-p", path]);
        }
        run(c.args(["--", "true"]));
        let written: Vec<_> = std::fs::read_dir(&meta)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "link"))
            .collect();
        let [link] = written.as_slice() else {
            panic!("intoto run --classic wrote {written:?}");
        };
        let mut doc: Value = serde_json::from_slice(&std::fs::read(link).unwrap()).unwrap();
        assert_eq!(
            doc["signatures"][0]["bundle"]["dsseEnvelope"]["payloadType"],
            hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE
        );
        doc["signatures"][0]["keyid"] = json!(keyid);
        std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }

    /// The attack on a link: `files`' link signed by `email` with a lifted blob signature.
    fn lifted_link(&self, files: &Files, keyid: &str, email: &str, out: &Path) {
        let signed = serde_json::to_value(files.link()).unwrap();
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        let sig = self.lifted_blob_signature(&signed, keyid, email, &name);
        let doc = json!({"signed": signed, "signatures": [sig]});
        std::fs::write(out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }

    fn verify(&self, layout: &Path, links: &[&Path], extra: &[&str]) -> Output {
        let mut c = client(&self.stack, &self.tc);
        c.args(["intoto", "verify", "--layout"])
            .arg(layout)
            .args(["--layout-identity", ALICE, "--layout-issuer"])
            .arg(self.stack.issuer())
            .arg("--links")
            .args(links)
            .args(extra);
        c.output().unwrap()
    }
}

fn digest(s: &str) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([("sha256".to_owned(), common::sha256_hex(s.as_bytes()))])
}

/// A 2-step layout (build by `build_keys`, package by bob) as JSON `signed`.
fn layout_signed(build_keys: &[(String, Value)], threshold: u32, bob: &(String, Value)) -> Value {
    let mut keys = serde_json::Map::new();
    for (id, d) in build_keys.iter().chain([bob]) {
        keys.insert(id.clone(), d.clone());
    }
    json!({
        "_type": "layout",
        "expires": hallmark_sigstore::rfc3339(common_now() + 86_400).unwrap(),
        "readme": "",
        "keys": keys,
        "steps": [
            {"_type": "step", "name": "build", "threshold": threshold,
             "pubkeys": build_keys.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
             "expected_command": ["make"],
             "expected_materials": [["ALLOW", "src.c"], ["DISALLOW", "*"]],
             "expected_products": [["CREATE", "app"], ["DISALLOW", "*"]]},
            {"_type": "step", "name": "package", "threshold": 1, "pubkeys": [bob.0],
             "expected_command": [],
             "expected_materials": [["MATCH", "app", "WITH", "PRODUCTS", "FROM", "build"], ["DISALLOW", "*"]],
             "expected_products": [["CREATE", "app.tar"], ["DISALLOW", "*"]]}
        ],
        "inspect": []
    })
}

fn common_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs a layout keylessly as alice with `hallmark intoto sign-layout` and writes it.
fn write_layout(k: &Keyless, signed: &Value, name: &str) -> PathBuf {
    let unsigned = k.dir.join(format!("{name}.unsigned.json"));
    std::fs::write(&unsigned, serde_json::to_vec_pretty(signed).unwrap()).unwrap();
    let path = k.dir.join(name);
    run(k
        .signer(&["intoto", "sign-layout"], ALICE)
        .arg(&unsigned)
        .arg("--out")
        .arg(&path));
    path
}

/// A step's artifacts as file contents (their digests are `digest(content)`).
struct Files {
    step: &'static str,
    materials: Vec<(&'static str, String)>,
    products: Vec<(&'static str, String)>,
}

impl Files {
    /// The link recording these artifacts (`make` for build).
    fn link(&self) -> Link {
        let mut l = Link::new(self.step);
        if self.step == "build" {
            l.command = vec!["make".into()];
        }
        for (p, c) in &self.materials {
            l.materials.insert((*p).into(), digest(c));
        }
        for (p, c) in &self.products {
            l.products.insert((*p).into(), digest(c));
        }
        l
    }
}

fn build_files(app: &str) -> Files {
    Files {
        step: "build",
        materials: vec![("src.c", "int main;".into())],
        products: vec![("app", app.into())],
    }
}

fn package_files(app: &str) -> Files {
    Files {
        step: "package",
        materials: vec![("app", app.into())],
        products: vec![("app.tar", "tar".into())],
    }
}

fn build_link(app: &str) -> Link {
    build_files(app).link()
}

#[test]
fn keyless_links_verify_by_identity_hours_later_and_their_faults_are_named() {
    let (stack, tc) = stack_and_trust();
    let dir = stack.dir().join("intoto");
    std::fs::create_dir_all(&dir).unwrap();
    let root_ref = TrustRootRef::of_document(&std::fs::read(&tc).unwrap())
        .unwrap()
        .to_string();
    let k = Keyless {
        stack,
        tc,
        dir: dir.clone(),
        root_ref,
    };
    let issuer = k.stack.issuer();
    let alice = k.functionary(ALICE, &issuer);
    let bob = k.functionary(BOB, &issuer);
    let layout = write_layout(
        &k,
        &layout_signed(std::slice::from_ref(&alice), 1, &bob),
        "root.layout",
    );

    // build: a DSSE link statement (hallmark attest); package: a classic keyless link (hallmark
    // intoto run --classic).
    let links = dir.join("links");
    std::fs::create_dir_all(&links).unwrap();
    let build_bundle = links.join(format!("build.{}.link.sigstore.json", &alice.0[..8]));
    k.dsse_link(&build_link("app v1"), ALICE, &build_bundle);
    let package = links.join(format!("package.{}.link", &bob.0[..8]));
    k.classic_link(&package_files("app v1"), &bob.0, BOB, &package);

    let out = k.verify(&layout, &[&links], &["--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ok("keyless chain", &out);
    assert_eq!(
        report["steps"][0]["accepted"][0]["signer"],
        json!({"issuer": issuer, "san": ALICE})
    );
    assert_eq!(report["steps"][1]["accepted"][0]["signer"]["san"], BOB);
    assert!(report["steps"][1]["accepted"][0]["log_entries"][0]["log_index"].is_u64());
    assert_eq!(report["layout"]["signers"][0]["san"], ALICE);

    // Five hours later every 10-minute certificate has expired: still verifies (the chain is
    // checked at the log's integrated time).
    let later = (common_now() + 5 * 3600).to_string();
    assert_ok(
        "keyless chain 5 h later",
        &k.verify(&layout, &[&links], &["--at-time", &later]),
    );

    // A VSA, signed keylessly by alice.
    let vsa = dir.join("vsa.sigstore.json");
    let tok = dir.join(format!("{ALICE}.jwt"));
    let out = k.verify(
        &layout,
        &[&links],
        &[
            "--vsa",
            vsa.to_str().unwrap(),
            "--no-login",
            "--identity-token-file",
            tok.to_str().unwrap(),
            "--kubernetes-token-file",
            dir.join("none").to_str().unwrap(),
        ],
    );
    assert_ok("verify --vsa", &out);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&vsa).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let st: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        st["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    assert_eq!(st["predicate"]["verificationResult"], "PASSED");
    assert_eq!(
        st["predicate"]["policy"]["digest"]["sha256"],
        common::sha256_hex(&std::fs::read(&layout).unwrap())
    );
    assert_eq!(
        st["predicate"]["inputAttestations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(st["subject"][0]["name"], "app.tar");
    assert_ok(
        "the VSA verifies with hallmark verify",
        &client(&k.stack, &k.tc)
            .args(["verify", "--no-artifact", "--bundle"])
            .arg(&vsa)
            .args(["--cert-identity", ALICE, "--cert-oidc-issuer", &issuer])
            .output()
            .unwrap(),
    );

    // Wrong identity: mallory signs build.
    let mallory_build = dir.join("build.mallory.link.sigstore.json");
    k.dsse_link(&build_link("app v1"), MALLORY, &mallory_build);
    assert_fails_with(
        "wrong identity",
        &k.verify(&layout, &[&mallory_build, &package], &[]),
        &[
            "step 'build' needs links signed by 1 distinct functionaries (threshold); 1 link(s) name it, 0 distinct signer(s) accepted",
            &format!("signed by {MALLORY} (issuer {issuer})"),
            &format!("identity \"{MALLORY}\" does not match \"{ALICE}\""),
        ],
    );

    // Wrong issuer: the layout wants alice from another issuer.
    let other_issuer = k.functionary(ALICE, "https://accounts.example.com");
    let wrong_issuer = write_layout(
        &k,
        &layout_signed(&[other_issuer], 1, &bob),
        "wrong-issuer.layout",
    );
    assert_fails_with(
        "wrong issuer",
        &k.verify(&wrong_issuer, &[&links], &[]),
        &[
            "step 'build'",
            &format!("issuer \"{issuer}\" does not match \"https://accounts.example.com\""),
        ],
    );

    // Below threshold: two build links by alice count once, though two keys name her.
    let alice_re = {
        let keyval =
            json!({"issuer": issuer, "identity": {"regex": "alice@.*"}, "trust_root": k.root_ref});
        let dict =
            json!({"keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1", "keyval": keyval});
        let id = common::sha256_hex(&cjson::encode(&dict).unwrap());
        let mut d = dict;
        d["keyid"] = json!(id);
        (id, d)
    };
    let two = write_layout(
        &k,
        &layout_signed(&[alice.clone(), alice_re.clone()], 2, &bob),
        "threshold.layout",
    );
    let second = dir.join("build.second.link");
    k.classic_link(&build_files("app v1"), &alice_re.0, ALICE, &second);
    assert_fails_with(
        "two links by one identity",
        &k.verify(&two, &[&build_bundle, &second, &package], &[]),
        &[
            "step 'build' needs links signed by 2 distinct functionaries (threshold); 2 link(s) name it, 1 distinct signer(s) accepted",
            "2 accepted signatures came from 1 distinct signer(s), and links by one signer count once",
            &format!("({ALICE} (issuer {issuer}))"),
        ],
    );

    // An artifact changed between steps.
    let changed = dir.join("package.changed.link");
    k.classic_link(&package_files("app v2"), &bob.0, BOB, &changed);
    assert_fails_with(
        "changed artifact",
        &k.verify(&layout, &[&build_bundle, &changed], &[]),
        &[
            "package: expected_materials rule #2 'DISALLOW *': disallowed artifacts: app",
            "rule #1 'MATCH app WITH PRODUCTS FROM build' did not match it: its digest",
            &format!("(link signed by {BOB} (issuer {issuer}))"),
        ],
    );

    // A missing step.
    assert_fails_with(
        "missing step",
        &k.verify(&layout, &[&build_bundle], &[]),
        &["step 'package' (threshold 1): no link names this step (is a step missing?)"],
    );

    // A tampered inclusion proof.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&build_bundle).unwrap()).unwrap();
    let hashes = &mut doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"];
    let mut root = base64::engine::general_purpose::STANDARD
        .decode(hashes.as_str().unwrap())
        .unwrap();
    root[0] ^= 1;
    *hashes = json!(base64::engine::general_purpose::STANDARD.encode(root));
    let proof = dir.join("build.proof.link.sigstore.json");
    std::fs::write(&proof, serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_fails_with(
        "tampered inclusion proof",
        &k.verify(&layout, &[&proof, &package], &[]),
        &[
            "step 'build'",
            "build.proof.link.sigstore.json",
            "inclusion proof",
        ],
    );

    // A bundle without its log entry.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&package).unwrap()).unwrap();
    doc["signatures"][0]["bundle"]["verificationMaterial"]["tlogEntries"] = json!([]);
    let unlogged = dir.join("package.unlogged.link");
    std::fs::write(&unlogged, serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_fails_with(
        "no log entry",
        &k.verify(&layout, &[&build_bundle, &unlogged], &[]),
        &[
            "step 'package'",
            "package.unlogged.link signed by key",
            "no transparency log entry",
        ],
    );

    // THE ATTACK, domain separation: bob once signed a file (`hallmark sign`, a blob
    // signature) whose bytes were the canonical package link; lifted into the link's
    // signature it is refused, with the reason. The same for alice and the layout.
    let refused = "the bundle holds a message signature, which any blob signer (hallmark sign, cosign sign-blob) makes over any file: a keyless signature on a classic link or layout must be a DSSE envelope of type application/vnd.hallmark.intoto-signed+json over its canonical signed bytes (domain separation)";
    let lifted = dir.join("package.lifted.link");
    k.lifted_link(&package_files("app v1"), &bob.0, BOB, &lifted);
    assert_fails_with(
        "a lifted blob signature on a link",
        &k.verify(&layout, &[&build_bundle, &lifted], &[]),
        &[
            "step 'package'",
            "package.lifted.link",
            "0 distinct signer(s) accepted",
            refused,
        ],
    );
    let layout_signed_value = layout_signed(std::slice::from_ref(&alice), 1, &bob);
    let sig = k.lifted_blob_signature(&layout_signed_value, &alice.0, ALICE, "lifted.layout");
    let lifted_layout = dir.join("lifted.layout");
    std::fs::write(
        &lifted_layout,
        serde_json::to_vec_pretty(&json!({"signed": layout_signed_value, "signatures": [sig]}))
            .unwrap(),
    )
    .unwrap();
    assert_fails_with(
        "a lifted blob signature on the layout",
        &k.verify(&lifted_layout, &[&links], &[]),
        &[refused],
    );

    // The wrong trust root: the functionaries name a root whose CA was not valid then.
    let mut other: Value = serde_json::from_slice(&std::fs::read(&k.tc).unwrap()).unwrap();
    other["trustedRoot"]["certificateAuthorities"][0]["validFor"] =
        json!({"start": "2000-01-01T00:00:00Z", "end": "2001-01-01T00:00:00Z"});
    let other_path = dir.join("other-root.json");
    std::fs::write(&other_path, serde_json::to_vec(&other).unwrap()).unwrap();
    let other_ref = TrustRootRef::of_document(&serde_json::to_vec(&other).unwrap())
        .unwrap()
        .to_string();
    let k2 = Keyless {
        root_ref: other_ref.clone(),
        stack: k.stack,
        tc: k.tc.clone(),
        dir: dir.clone(),
    };
    let alice2 = k2.functionary(ALICE, &issuer);
    let bob2 = k2.functionary(BOB, &issuer);
    let other_layout = write_layout(
        &k2,
        &layout_signed(&[alice2], 1, &bob2),
        "other-root.layout",
    );
    let out = k2.verify(
        &other_layout,
        &[&links],
        &[
            "--trust-root",
            k2.tc.to_str().unwrap(),
            "--trust-root",
            other_path.to_str().unwrap(),
        ],
    );
    assert_fails_with(
        "wrong trust root",
        &out,
        &[
            "step 'build'",
            &format!("bundle against trust root {other_ref}: certificate chain"),
        ],
    );
    // Without that root given at all.
    assert_fails_with(
        "trust root not given",
        &k2.verify(&other_layout, &[&links], &[]),
        &[&format!("the trust root {other_ref} of functionaries")],
    );
}
