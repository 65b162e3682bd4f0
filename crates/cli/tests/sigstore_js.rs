//! Interop with the JavaScript reference client, in both directions. The unmodified sigstore-js
//! (`sigstore` 4.1.1, and `@sigstore/verify` 3.1.1 + `@sigstore/bundle` 4.0.0 +
//! `@sigstore/protobuf-specs` 0.5.2, the packages `sigstore.verify` is built from, pinned in
//! `tests/js/package-lock.json`):
//!
//! - signs a file (`sigstore.sign`, a v0.2 bundle: sigstore-js writes message signatures no other
//!   way) and an in-toto statement (`sigstore.attest`, DSSE, a v0.3 bundle) against a running
//!   Hallmark's CA and log with a token from its development issuer; `hallmark verify` accepts
//!   both bundles under an identity policy, and sigstore-python 4.5.1 accepts them too;
//! - verifies the bundles `hallmark sign` and `hallmark attest` make against the trusted_root.json
//!   `hallmark trust-root --trusted-root` writes, with an exact identity policy (SAN and issuer),
//!   and rejects a modified artifact, a modified statement, a wrong identity and a wrong issuer,
//!   each with sigstore-js's own error class and code;
//! - and its bundle for the first entry of a log, whose proto3 JSON omits `logIndex` (zero), must
//!   verify with `hallmark verify` too.
//!
//! sigstore-js needs Node.js ^20.17 or >= 22.9; `scripts/test.sh` installs Node.js and the
//! packages (`ensure_node_clients`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "js-signer@example.com";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const BUNDLE_V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// `tests/js/sign.mjs`: sigstore-js signs (`sign`) or attests (`attest`) `input` against the
/// stack, the token in the environment (never argv). Returns the bundle as JSON, after checking
/// it has `media_type`.
fn js_sign(
    stack: &Stack,
    token: &str,
    mode: &str,
    input: &Path,
    out: &Path,
    media_type: &str,
) -> Value {
    let stdout = assert_ok(
        &format!("sigstore-js {mode}"),
        &node("sign.mjs")
            .env("HALLMARK_URL", &stack.url)
            .env("SIGSTORE_ID_TOKEN", token)
            .arg(mode)
            .arg(input)
            .arg(out)
            .output()
            .unwrap(),
    );
    assert_eq!(stdout.trim(), media_type, "sigstore-js {mode}");
    let bundle: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    assert_eq!(bundle["mediaType"], media_type);
    bundle
}

/// sigstore-js accepted the bundle, for `EMAIL` at the stack's issuer.
fn assert_js_accepts(
    what: &str,
    stack: &Stack,
    root: &Path,
    bundle: &Path,
    artifact: Option<&Path>,
) {
    match js_verify(root, bundle, artifact, EMAIL, &stack.issuer()) {
        Ok(v) => {
            assert_eq!(v["subjectAlternativeName"], EMAIL, "{what}: {v}");
            assert_eq!(v["issuer"], stack.issuer().as_str(), "{what}: {v}");
        }
        Err(e) => panic!("sigstore-js rejected {what}: {e}"),
    }
}

/// sigstore-js rejected the bundle with this error class and code, and a message containing
/// `message`.
fn assert_js_rejects(
    what: &str,
    verdict: Result<Value, Value>,
    class: &str,
    code: &str,
    message: &str,
) {
    let e = match verdict {
        Ok(v) => panic!("sigstore-js accepted {what}: {v}"),
        Err(e) => e,
    };
    assert_eq!(e["error"], class, "{what}: {e}");
    assert_eq!(e["code"], code, "{what}: {e}");
    assert!(
        e["message"].as_str().unwrap().contains(message),
        "{what}: expected a message containing {message:?}, got {e}"
    );
}

/// `sigstore verify identity --offline` (sigstore-python 4.5.1) accepts the bundle for `EMAIL`.
fn python_accepts(what: &str, stack: &Stack, tc: &Path, bundle: &Path, artifact: &Path) {
    let out = python_verify(stack, tc, artifact, bundle, EMAIL);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sigstore-python on {what}: {said}");
    assert!(said.contains("OK: "), "sigstore-python on {what}: {said}");
}

/// The certificate SAN as `openssl x509` prints it, e.g. `email:a@example.com`.
fn openssl_san(cert_b64: &str, dir: &Path) -> String {
    let der = dir.join("leaf.der");
    std::fs::write(
        &der,
        base64::engine::general_purpose::STANDARD
            .decode(cert_b64)
            .unwrap(),
    )
    .unwrap();
    let text = run(Command::new("openssl")
        .args([
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
        ])
        .arg(&der));
    text.lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no SAN in {text}"))
        .trim()
        .to_owned()
}

/// The bundle's one tlog entry: its declared kind/version and its logged body.
fn tlog_entry(bundle: &Value) -> (String, String, Value) {
    let entries = bundle["verificationMaterial"]["tlogEntries"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 1, "{bundle}");
    let e = &entries[0];
    assert!(
        e["inclusionPromise"]["signedEntryTimestamp"].is_string(),
        "no SET: {e}"
    );
    assert!(
        e["inclusionProof"]["checkpoint"]["envelope"].is_string(),
        "no inclusion proof: {e}"
    );
    let body: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(e["canonicalizedBody"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    (
        e["kindVersion"]["kind"].as_str().unwrap().to_owned(),
        e["kindVersion"]["version"].as_str().unwrap().to_owned(),
        body,
    )
}

/// The stack, its ClientTrustConfig (for `hallmark` and sigstore-python) and its
/// trusted_root.json (for sigstore-js), both written by `hallmark trust-root`.
fn stack_and_roots() -> (Stack, PathBuf, PathBuf) {
    let stack = Stack::start(&bin()).unwrap();
    let (tc, root) = write_trust_roots(&stack);
    (stack, tc, root)
}

#[test]
fn sigstore_js_signs_and_attests_against_hallmark() {
    let (stack, tc, root) = stack_and_roots();
    let dir = stack.dir().to_path_buf();
    let token = email_token(&stack, EMAIL);
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"signed by sigstore-js\n").unwrap();

    // Log index 0 goes first, to a throwaway signature: sigstore-js serialises bundles as proto3
    // JSON, which drops zero values, so the bundle for entry 0 has no `logIndex`; sigstore-python
    // 4.5.1 cannot parse that (pydantic requires the field), and `hallmark verify` must accept it
    // (hallmark_verify_accepts_a_sigstore_js_bundle_for_log_index_0).
    let genesis = dir.join("genesis.txt");
    std::fs::write(&genesis, b"log index 0\n").unwrap();
    let first = js_sign(
        &stack,
        &token,
        "sign",
        &genesis,
        &dir.join("genesis.sigstore.json"),
        BUNDLE_V02,
    );
    assert!(
        first["verificationMaterial"]["tlogEntries"][0]
            .get("logIndex")
            .is_none()
    );

    // sigstore.sign: a message-signature bundle, the token's email as the SAN, logged as
    // hashedrekord 0.0.1 over the artifact's digest. sigstore-js writes message signatures as
    // bundle v0.2 whatever its options (`legacyCompatibility` only changes `attest`): the leaf
    // alone in `x509CertificateChain`.
    let bundle_path = dir.join("js-sign.sigstore.json");
    let bundle = js_sign(&stack, &token, "sign", &artifact, &bundle_path, BUNDLE_V02);
    let chain = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no certificate chain in {bundle}"));
    assert_eq!(chain.len(), 1, "{bundle}");
    let cert = chain[0]["rawBytes"].as_str().unwrap();
    assert_eq!(openssl_san(cert, &dir), format!("email:{EMAIL}"));
    let (kind, version, body) = tlog_entry(&bundle);
    assert_eq!((kind.as_str(), version.as_str()), ("hashedrekord", "0.0.1"));
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(
        body["spec"]["data"]["hash"]["value"],
        sha256_hex(b"signed by sigstore-js\n")
    );

    let out = hallmark_verify(&stack, &tc, &artifact, &bundle_path, EMAIL);
    let stdout = assert_ok("hallmark verify on sigstore-js's signature", &out);
    assert!(
        stdout.starts_with(&format!(
            "OK: {} signed by {EMAIL} (issuer {})",
            artifact.display(),
            stack.issuer()
        )),
        "{stdout}"
    );
    let out = hallmark_verify(&stack, &tc, &artifact, &bundle_path, "mallory@example.com");
    assert!(!out.status.success(), "a wrong identity verified");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verification failed: identity:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // sigstore-python accepts sigstore-js's bundle offline.
    python_accepts(
        "sigstore-js's signature",
        &stack,
        &tc,
        &bundle_path,
        &artifact,
    );

    // sigstore.attest: an in-toto statement about the artifact, DSSE, logged as dsse 0.0.1.
    let statement = dir.join("statement.json");
    std::fs::write(
        &statement,
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "artifact.txt", "digest": {"sha256": sha256_hex(b"signed by sigstore-js\n")}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {
                "buildDefinition": {"buildType": "https://hallmark.local/build/v1", "externalParameters": {}},
                "runDetails": {"builder": {"id": "https://hallmark.local/builder"}}
            }
        })
        .to_string(),
    )
    .unwrap();
    let att_path = dir.join("js-attest.sigstore.json");
    let att = js_sign(&stack, &token, "attest", &statement, &att_path, BUNDLE_V03);
    assert_eq!(att["dsseEnvelope"]["payloadType"], IN_TOTO);
    let cert = att["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .unwrap();
    assert_eq!(openssl_san(cert, &dir), format!("email:{EMAIL}"));
    let (kind, version, body) = tlog_entry(&att);
    assert_eq!((kind.as_str(), version.as_str()), ("dsse", "0.0.1"));
    assert_eq!(body["kind"], "dsse");
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        sha256_hex(&std::fs::read(&statement).unwrap())
    );

    let out = hallmark_verify(&stack, &tc, &artifact, &att_path, EMAIL);
    let stdout = assert_ok("hallmark verify on sigstore-js's attestation", &out);
    assert!(stdout.starts_with("OK: "), "{stdout}");
    assert!(stdout.contains(&format!("signed by {EMAIL}")), "{stdout}");
    assert!(
        stdout.contains(&format!("DSSE payload type {IN_TOTO}")),
        "{stdout}"
    );
    // The statement binds the artifact: another file is not its subject.
    let other = dir.join("other.txt");
    std::fs::write(&other, b"not the subject\n").unwrap();
    let out = hallmark_verify(&stack, &tc, &other, &att_path, EMAIL);
    assert!(
        !out.status.success(),
        "an attestation verified for another file"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verification failed: artifact digest:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    python_accepts(
        "sigstore-js's attestation",
        &stack,
        &tc,
        &att_path,
        &artifact,
    );

    // And sigstore-js itself accepts both against Hallmark's trusted_root.json.
    assert_js_accepts(
        "its own signature",
        &stack,
        &root,
        &bundle_path,
        Some(&artifact),
    );
    assert_js_accepts("its own attestation", &stack, &root, &att_path, None);
}

#[test]
fn sigstore_js_verifies_hallmark_bundles_against_its_trusted_root() {
    let (stack, tc, root) = stack_and_roots();
    let dir = stack.dir().to_path_buf();
    let tok = dir.join("token.jwt");
    std::fs::write(&tok, email_token(&stack, EMAIL)).unwrap();
    let artifact = dir.join("release.tar.gz");
    std::fs::write(&artifact, b"release 2.0\n").unwrap();
    let signer = |sub: &str| {
        let mut c = client(&stack, &tc);
        c.arg(sub)
            .args(["--no-login", "--kubernetes-token-file"])
            .arg(dir.join("no-such-k8s-token"))
            .arg("--identity-token-file")
            .arg(&tok);
        c
    };

    // hallmark sign -> sigstore-js verifies with the exact identity and issuer.
    run(signer("sign").arg(&artifact));
    let bundle = dir.join("release.tar.gz.sigstore.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(doc["mediaType"], BUNDLE_V03);
    assert_js_accepts(
        "hallmark's signature",
        &stack,
        &root,
        &bundle,
        Some(&artifact),
    );

    // A modified artifact: the signature does not cover it.
    let modified = dir.join("modified.tar.gz");
    std::fs::write(&modified, b"release 2.0 with a backdoor\n").unwrap();
    assert_js_rejects(
        "a modified artifact",
        js_verify(&root, &bundle, Some(&modified), EMAIL, &stack.issuer()),
        "VerificationError",
        "SIGNATURE_ERROR",
        "signature verification failed",
    );
    // The wrong identity, then the wrong issuer.
    assert_js_rejects(
        "the wrong identity",
        js_verify(
            &root,
            &bundle,
            Some(&artifact),
            "mallory@example.com",
            &stack.issuer(),
        ),
        "PolicyError",
        "UNTRUSTED_SIGNER_ERROR",
        &format!("certificate identity error - expected ^mallory@example\\.com$, got {EMAIL}"),
    );
    assert_js_rejects(
        "the wrong issuer",
        js_verify(
            &root,
            &bundle,
            Some(&artifact),
            EMAIL,
            "https://accounts.google.com",
        ),
        "PolicyError",
        "UNTRUSTED_SIGNER_ERROR",
        &format!(
            "invalid certificate extension - expected issuer=https://accounts.google.com, got issuer={}",
            stack.issuer()
        ),
    );
    // A prefix of the identity is not the identity (the policy is anchored).
    assert_js_rejects(
        "an identity that only contains the SAN's prefix",
        js_verify(
            &root,
            &bundle,
            Some(&artifact),
            "js-signer@example.co",
            &stack.issuer(),
        ),
        "PolicyError",
        "UNTRUSTED_SIGNER_ERROR",
        "certificate identity error",
    );

    // hallmark attest -> sigstore-js verifies the DSSE bundle.
    let predicate = dir.join("provenance.json");
    std::fs::write(
        &predicate,
        json!({"buildDefinition": {"buildType": "https://hallmark.local/ci/v1", "externalParameters": {}},
               "runDetails": {"builder": {"id": "https://hallmark.local/runner"}}})
        .to_string(),
    )
    .unwrap();
    let att = dir.join("release.intoto.sigstore.json");
    // On the Rekor v1 log: sigstore-js cannot yet verify an envelope logged in Rekor v2 (as a
    // hashedrekord over its PAE); `rekor_v2_clients.rs` pins that.
    run(signer("attest")
        .args(["--rekor-version", "1"])
        .arg("--predicate")
        .arg(&predicate)
        .args(["--type", "https://slsa.dev/provenance/v1", "--bundle"])
        .arg(&att)
        .arg(&artifact));
    let doc: Value = serde_json::from_slice(&std::fs::read(&att).unwrap()).unwrap();
    assert_eq!(doc["mediaType"], BUNDLE_V03);
    assert_eq!(doc["dsseEnvelope"]["payloadType"], IN_TOTO);
    assert_js_accepts("hallmark's attestation", &stack, &root, &att, None);
    assert_js_rejects(
        "an attestation for the wrong identity",
        js_verify(&root, &att, None, "mallory@example.com", &stack.issuer()),
        "PolicyError",
        "UNTRUSTED_SIGNER_ERROR",
        &format!("got {EMAIL}"),
    );
    // The statement rewritten to name the modified artifact: the log entry no longer matches the
    // envelope (sigstore-js does not compare subjects to files; the tampering is what it sees).
    let mut forged = doc.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut statement: Value = serde_json::from_slice(
        &b64.decode(doc["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        sha256_hex(b"release 2.0\n")
    );
    statement["subject"][0]["digest"]["sha256"] =
        Value::String(sha256_hex(b"release 2.0 with a backdoor\n"));
    forged["dsseEnvelope"]["payload"] = Value::String(b64.encode(statement.to_string()));
    let forged_path = dir.join("forged.sigstore.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    assert_js_rejects(
        "a statement rewritten for a modified artifact",
        js_verify(&root, &forged_path, None, EMAIL, &stack.issuer()),
        "VerificationError",
        "TLOG_BODY_ERROR",
        "DSSE payload hash mismatch",
    );
}

/// The first entry of a fresh log: sigstore-js's bundle has no `logIndex` (proto3 JSON omits the
/// zero value; `inclusionProof.logIndex` and the empty `inclusionProof.hashes` go too), and it
/// means 0. sigstore-js reads its own bundle back; `hallmark verify` must accept it as well.
#[test]
fn hallmark_verify_accepts_a_sigstore_js_bundle_for_log_index_0() {
    let (stack, tc, root) = stack_and_roots();
    let dir = stack.dir().to_path_buf();
    let artifact = dir.join("first.txt");
    std::fs::write(&artifact, b"the first entry\n").unwrap();
    let bundle_path = dir.join("first.sigstore.json");
    let bundle = js_sign(
        &stack,
        &email_token(&stack, EMAIL),
        "sign",
        &artifact,
        &bundle_path,
        BUNDLE_V02,
    );
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert!(entry.get("logIndex").is_none(), "{entry}");
    assert!(entry["inclusionProof"].get("logIndex").is_none(), "{entry}");
    assert_eq!(entry["inclusionProof"]["treeSize"], "1", "{entry}");
    assert_js_accepts(
        "its bundle for entry 0",
        &stack,
        &root,
        &bundle_path,
        Some(&artifact),
    );

    // With the zero values written out, the same bundle verifies: they are all that differs.
    let mut explicit = bundle.clone();
    explicit["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("0");
    explicit["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["logIndex"] = json!("0");
    explicit["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"] = json!([]);
    let explicit_path = dir.join("first-explicit.sigstore.json");
    std::fs::write(&explicit_path, explicit.to_string()).unwrap();
    assert_ok(
        "hallmark verify on the bundle with logIndex 0 written out",
        &hallmark_verify(&stack, &tc, &artifact, &explicit_path, EMAIL),
    );

    let out = hallmark_verify(&stack, &tc, &artifact, &bundle_path, EMAIL);
    let stdout = assert_ok("hallmark verify on the bundle for log index 0", &out);
    assert!(stdout.contains(" index 0"), "{stdout}");
}
