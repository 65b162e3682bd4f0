//! Rekor v1 `intoto` entries: parsing, signature checks and canonical bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::{EntryError, EntryKind, HashAlgorithm, ProposedEntry, dsse_pae};

const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const PAYLOAD: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}"#;

/// An intoto v0.0.2 body the way sigstore-js builds it: payload and sig base64 twice.
fn body(payload: &str, sig: &str, pk: &str, keyid: Option<&str>, env_hash: &str) -> String {
    let keyid = keyid
        .map(|k| format!(r#""keyid":"{k}","#))
        .unwrap_or_default();
    format!(
        r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payload":"{payload}","payloadType":"{PAYLOAD_TYPE}","signatures":[{{{keyid}"sig":"{sig}","publicKey":"{pk}"}}]}},"hash":{{"algorithm":"sha256","value":"{env_hash}"}}}}}}}}"#
    )
}

#[test]
fn double_encoded_entry_verifies_and_canonicalises() {
    let key = P256::load("leaf.pk8");
    let sig_raw = key.sign(&dsse_pae(PAYLOAD_TYPE, PAYLOAD));
    let payload = b64(b64(PAYLOAD).as_bytes());
    let sig = b64(b64(&sig_raw).as_bytes());
    let pk = b64(&fixture("leaf_email.pem"));
    let env_hash = hex::encode(sha256(b"the client's envelope"));
    let v = ProposedEntry::parse(body(&payload, &sig, &pk, None, &env_hash).as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.kind, EntryKind::Intoto);
    let payload_hash = hex::encode(sha256(PAYLOAD));
    let golden = format!(
        r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payloadType":"{PAYLOAD_TYPE}","signatures":[{{"publicKey":"{pk}","sig":"{sig}"}}]}},"hash":{{"algorithm":"sha256","value":"{env_hash}"}},"payloadHash":{{"algorithm":"sha256","value":"{payload_hash}"}}}}}}}}"#
    );
    assert_eq!(String::from_utf8(v.canonical_body).unwrap(), golden);
    assert_eq!(
        v.artifact_digest,
        Some((HashAlgorithm::Sha256, payload_hash))
    );
    assert_eq!(v.san.as_deref(), Some("alice@example.com"));
}

#[test]
fn single_encoding_and_keyid_are_accepted() {
    let key = P256::load("leaf.pk8");
    let sig = b64(&key.sign(&dsse_pae(PAYLOAD_TYPE, PAYLOAD)));
    let pk = b64(&fixture("leaf.pub"));
    let env_hash = "ab".repeat(32);
    let v = ProposedEntry::parse(body(&b64(PAYLOAD), &sig, &pk, Some("k1"), &env_hash).as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    let body = String::from_utf8(v.canonical_body).unwrap();
    assert!(body.contains(r#"{"keyid":"k1","publicKey":"#), "{body}");
}

#[test]
fn wrong_key_and_malformed_fields_fail() {
    let other = P256::load("other.pk8");
    let sig = b64(b64(&other.sign(&dsse_pae(PAYLOAD_TYPE, PAYLOAD))).as_bytes());
    let payload = b64(b64(PAYLOAD).as_bytes());
    let pk = b64(&fixture("leaf.pub"));
    let h = "00".repeat(32);
    let err = ProposedEntry::parse(body(&payload, &sig, &pk, None, &h).as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");

    let cases = [
        (body("!!", &sig, &pk, None, &h), "envelope.payload"),
        (body(&payload, "!!", &pk, None, &h), "signatures[].sig"),
        (body(&payload, &sig, "!!", None, &h), "signatures[].publicKey"),
        (body(&payload, &sig, &pk, None, "xyz"), "spec.content.hash.value"),
        (body(&payload, &sig, &pk, None, &h).replace("\"sha256\"", "\"md5\""), "spec.content.hash.algorithm"),
        (body(&payload, &sig, &pk, None, &h).replace("0.0.2", "0.0.1"), "apiVersion"),
        (body(&payload, &sig, &pk, None, &h).replace(r#","hash":{"algorithm":"sha256","value":"0000000000000000000000000000000000000000000000000000000000000000"}"#, ""), "spec.content.hash"),
    ];
    for (b, field) in cases {
        let err = match ProposedEntry::parse(b.as_bytes()) {
            Err(e) => e,
            Ok(p) => p.verify().expect_err(&b),
        };
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[test]
fn every_signature_is_checked_against_its_own_key_and_reported() {
    let pae = dsse_pae(PAYLOAD_TYPE, PAYLOAD);
    let leaf = P256::load("leaf.pk8");
    let other = P256::load("other.pk8");
    let cert = b64(&fixture("leaf_email.pem"));
    let other_pk = b64(&fixture("other.pub"));
    let two = |sig2: &str, pk2: &str| {
        format!(
            r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payload":"{}","payloadType":"{PAYLOAD_TYPE}","signatures":[{{"sig":"{}","publicKey":"{cert}"}},{{"sig":"{sig2}","publicKey":"{pk2}"}}]}},"hash":{{"algorithm":"sha256","value":"{}"}}}}}}}}"#,
            b64(PAYLOAD),
            b64(&leaf.sign(&pae)),
            "ab".repeat(32)
        )
    };
    let v = ProposedEntry::parse(two(&b64(&other.sign(&pae)), &other_pk).as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.signers.len(), 2);
    assert!(v.signers[0].certificate_der.is_some());
    assert_eq!(v.signers[1].certificate_der, None);
    assert_eq!(v.signers[1].public_key_der, spki_der("other.pub"));

    // The second signature made by the first key does not verify under its own publicKey.
    let err = ProposedEntry::parse(two(&b64(&leaf.sign(&pae)), &other_pk).as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(err.to_string().contains("signatures[1]"), "{err}");
}
