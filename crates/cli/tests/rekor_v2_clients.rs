//! Rekor v2 and the timestamp authority with the real clients: unmodified sigstore-python 4.5.1
//! signs and attests against Hallmark with the v2 log picked from the signing config and with
//! `--rekor-version 2` (and still with `--rekor-version 1`); `hallmark sign` and `hallmark attest`
//! do the same. Every bundle is verified offline by sigstore-python, `hallmark verify` and
//! sigstore-js (which cannot verify v2 attestations yet: see `assert_all_verify`), and its shape
//! is checked: a v2 entry (hashedrekord 0.0.2, no signed entry
//! timestamp, the log's full key ID), an RFC 3161 timestamp, and for attestations a digest that
//! is SHA-256 of the envelope's PAE.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "v2-signer@example.com";

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The v2 log's key ID, from the trusted root (the tlog with a `checkpointKeyId`).
fn v2_key_id(root: &Path) -> String {
    read(root)["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t.get("checkpointKeyId").is_some())
        .expect("a v2 log in the trusted root")["checkpointKeyId"]["keyId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The bundle holds a Rekor v2 entry of this log and one RFC 3161 timestamp; returns the entry's
/// canonical body.
fn assert_v2(what: &str, bundle: &Path, key_id: &str) -> Value {
    let b = read(bundle);
    let vm = &b["verificationMaterial"];
    let entry = &vm["tlogEntries"][0];
    assert_eq!(
        entry["kindVersion"],
        json!({"kind": "hashedrekord", "version": "0.0.2"}),
        "{what}: {entry}"
    );
    assert!(
        entry.get("inclusionPromise").is_none(),
        "{what}: a v2 entry has no SET"
    );
    assert_eq!(entry["logId"]["keyId"], key_id, "{what}");
    assert!(
        entry["inclusionProof"]["checkpoint"]["envelope"].is_string(),
        "{what}"
    );
    let stamps = vm["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no RFC 3161 timestamp in {vm}"));
    assert_eq!(stamps.len(), 1, "{what}");
    let body = STANDARD
        .decode(entry["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The bundle holds a Rekor v1 entry (with its SET).
fn assert_v1(what: &str, bundle: &Path) {
    let entry = &read(bundle)["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["version"], "0.0.1", "{what}: {entry}");
    assert!(
        entry["inclusionPromise"]["signedEntryTimestamp"].is_string(),
        "{what}"
    );
}

/// Every verifier accepts the bundle for `EMAIL`; a changed artifact is refused.
fn assert_all_verify(
    what: &str,
    stack: &Stack,
    tc: &Path,
    root: &Path,
    bundle: &Path,
    artifact: &Path,
    dsse: bool,
) {
    let py = python_verify(stack, tc, artifact, bundle, EMAIL);
    assert_ok(&format!("sigstore-python verifying {what}"), &py);
    let hm = hallmark_verify(stack, tc, artifact, bundle, EMAIL);
    assert_ok(&format!("hallmark verify of {what}"), &hm);
    let js = js_verify(
        root,
        bundle,
        (!dsse).then_some(artifact),
        EMAIL,
        &stack.issuer(),
    );
    if dsse {
        // @sigstore/verify 3.1.1 compares a v0.0.2 hashedrekord's digest with the DSSE payload's
        // digest, not the PAE's, so it cannot verify an envelope logged the way rekor-tiles
        // v2.3.0, sigstore-python >= 4.3 and cosign >= 3.1 log it (sigstore-js itself still sends
        // the dsseRequestV002 that rekor-tiles and this log refuse). Pinned here so that a
        // sigstore-js that learns it shows up.
        let e = js.expect_err("sigstore-js now verifies DSSE logged as hashedrekord v0.0.2");
        assert_eq!(e["code"], "TLOG_BODY_ERROR", "{what}: {e}");
        assert_eq!(e["message"], "digest mismatch", "{what}: {e}");
    } else {
        assert!(js.is_ok(), "sigstore-js rejected {what}: {js:?}");
    }
    if !dsse {
        let other = stack.dir().join("other.txt");
        std::fs::write(&other, b"not what was signed\n").unwrap();
        let py = python_verify(stack, tc, &other, bundle, EMAIL);
        assert!(!py.status.success(), "{what} verified for another file");
        let hm = hallmark_verify(stack, tc, &other, bundle, EMAIL);
        assert!(!hm.status.success(), "{what} verified for another file");
    }
}

#[test]
fn sigstore_python_and_hallmark_sign_through_rekor_v2_with_a_timestamp() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (tc, root) = write_trust_roots(&stack);
    let key_id = v2_key_id(&root);
    let token = email_token(&stack, EMAIL);
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"signed through rekor v2\n").unwrap();

    // sigstore-python: v2 picked from the signing config, v2 forced, v1 forced.
    for (name, version) in [("default", None), ("v2", Some("2")), ("v1", Some("1"))] {
        let bundle = dir.join(format!("py-{name}.sigstore.json"));
        let mut c = python_sigstore(&stack, &tc);
        c.args(["sign", "--identity-token", &token]);
        if let Some(v) = version {
            c.args(["--rekor-version", v]);
        }
        run(c.arg("--bundle").arg(&bundle).arg(&artifact));
        let what = format!("sigstore-python sign ({name})");
        if version == Some("1") {
            assert_v1(&what, &bundle);
        } else {
            let body = assert_v2(&what, &bundle, &key_id);
            assert_eq!(
                body["spec"]["hashedRekordV002"]["data"]["digest"],
                STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(
                    std::fs::read(&artifact).unwrap()
                ))
            );
        }
        assert_all_verify(&what, &stack, &tc, &root, &bundle, &artifact, false);
    }

    // sigstore-python attest: the envelope goes in as a hashedrekord over SHA-256 of its PAE.
    let predicate = dir.join("provenance.json");
    std::fs::write(
        &predicate,
        json!({
            "buildDefinition": {"buildType": "https://hallmark.local/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://hallmark.local/builder"}}
        })
        .to_string(),
    )
    .unwrap();
    let attestation = dir.join("py-attest.sigstore.json");
    python_attest_slsa(&stack, &tc, &token, &predicate, &attestation, &artifact);
    let body = assert_v2("sigstore-python attest", &attestation, &key_id);
    let envelope = &read(&attestation)["dsseEnvelope"];
    let payload = STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let pae = [
        format!(
            "DSSEv1 {} {} {} ",
            envelope["payloadType"].as_str().unwrap().len(),
            envelope["payloadType"].as_str().unwrap(),
            payload.len()
        )
        .into_bytes(),
        payload,
    ]
    .concat();
    assert_eq!(
        body["spec"]["hashedRekordV002"]["data"]["digest"],
        STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(&pae))
    );
    assert_all_verify(
        "sigstore-python attest",
        &stack,
        &tc,
        &root,
        &attestation,
        &artifact,
        true,
    );

    // hallmark sign: v2 by default, v1 on request; hallmark attest through v2.
    let token_file = dir.join("token.jwt");
    std::fs::write(&token_file, &token).unwrap();
    for (name, version) in [("default", None), ("v1", Some("1"))] {
        let bundle = dir.join(format!("hm-{name}.sigstore.json"));
        let mut c = client(&stack, &tc);
        c.arg("sign").arg("--identity-token-file").arg(&token_file);
        if let Some(v) = version {
            c.args(["--rekor-version", v]);
        }
        run(c.arg("--bundle").arg(&bundle).arg(&artifact));
        let what = format!("hallmark sign ({name})");
        if version.is_some() {
            assert_v1(&what, &bundle);
        } else {
            assert_v2(&what, &bundle, &key_id);
        }
        assert_all_verify(&what, &stack, &tc, &root, &bundle, &artifact, false);
    }
    let hm_attest = dir.join("hm-attest.sigstore.json");
    run(client(&stack, &tc)
        .arg("attest")
        .arg("--identity-token-file")
        .arg(&token_file)
        .args(["--type", "https://slsa.dev/provenance/v1", "--predicate"])
        .arg(&predicate)
        .arg("--bundle")
        .arg(&hm_attest)
        .arg(&artifact));
    assert_v2("hallmark attest", &hm_attest, &key_id);
    assert_all_verify(
        "hallmark attest",
        &stack,
        &tc,
        &root,
        &hm_attest,
        &artifact,
        true,
    );
}

/// With `log_v2.key_type: ed25519` the v2 log's checkpoint key is an Ed25519 key in the HSM, as
/// Sigstore's public v2 logs have: the trusted root lists it as PKIX_ED25519 named by the C2SP key
/// hash of its origin and key (`logId`, `checkpointKeyId`), entries carry that hash, checkpoints a
/// 64-byte Ed25519 signature under its first four bytes. sigstore-python 4.5.1 signs through it
/// and every verifier accepts the bundles offline.
#[test]
fn sigstore_python_signs_through_an_ed25519_rekor_v2_log() {
    let stack = Stack::start_with(&bin(), "log_v2:\n  key_type: ed25519\n").unwrap();
    let dir = stack.dir().to_path_buf();
    let (tc, root) = write_trust_roots(&stack);

    // The trusted root: the v2 log's Ed25519 key and its C2SP key hash.
    let tlogs = read(&root)["tlogs"].as_array().unwrap().clone();
    let v2 = tlogs
        .iter()
        .find(|t| t.get("checkpointKeyId").is_some())
        .expect("a v2 log in the trusted root");
    assert_eq!(v2["publicKey"]["keyDetails"], "PKIX_ED25519", "{v2}");
    let spki = STANDARD
        .decode(v2["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    assert_eq!(spki.len(), 44, "an RFC 8410 Ed25519 SPKI");
    let origin = url::Url::parse(&stack.url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    let mut c2sp = format!("{origin}\n").into_bytes();
    c2sp.push(0x01);
    c2sp.extend_from_slice(&spki[12..]);
    let key_hash = <sha2::Sha256 as sha2::Digest>::digest(&c2sp);
    let key_id = STANDARD.encode(key_hash);
    assert_eq!(v2["logId"]["keyId"], key_id, "{v2}");
    assert_eq!(v2["checkpointKeyId"]["keyId"], key_id, "{v2}");
    // The v1 log stays on its P-256 key.
    assert!(
        tlogs
            .iter()
            .any(|t| t["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"),
        "{tlogs:?}"
    );

    let token = email_token(&stack, EMAIL);
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"signed through an Ed25519 rekor v2 log\n").unwrap();
    for (name, version) in [("default", None), ("v2", Some("2"))] {
        let bundle = dir.join(format!("py-ed25519-{name}.sigstore.json"));
        let mut c = python_sigstore(&stack, &tc);
        c.args(["sign", "--identity-token", &token]);
        if let Some(v) = version {
            c.args(["--rekor-version", v]);
        }
        run(c.arg("--bundle").arg(&bundle).arg(&artifact));
        let what = format!("sigstore-python sign through the Ed25519 log ({name})");
        assert_v2(&what, &bundle, &key_id);
        // The checkpoint's signature line: the origin, the key hash's first four bytes, and a
        // 64-byte Ed25519 signature.
        let b = read(&bundle);
        let note =
            b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
                .as_str()
                .unwrap()
                .to_owned();
        let line = note
            .lines()
            .find(|l| l.starts_with('\u{2014}'))
            .unwrap_or_else(|| panic!("{what}: no signature line in {note:?}"));
        let (name_part, sig) = line
            .trim_start_matches("\u{2014} ")
            .split_once(' ')
            .unwrap();
        assert_eq!(name_part, origin, "{what}");
        let sig = STANDARD.decode(sig).unwrap();
        assert_eq!(sig.len(), 4 + 64, "{what}");
        assert_eq!(sig[..4], key_hash[..4], "{what}");
        assert_all_verify(&what, &stack, &tc, &root, &bundle, &artifact, false);
    }
}
