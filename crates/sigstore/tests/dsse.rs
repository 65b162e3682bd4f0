//! Rekor v1 `dsse` entries: parsing, signature checks and canonical bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::{EntryError, EntryKind, HashAlgorithm, ProposedEntry, dsse_pae};

const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const PAYLOAD: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}"#;

fn envelope(sigs: &[&str]) -> String {
    let sigs: Vec<String> = sigs
        .iter()
        .map(|s| format!(r#"{{"keyid":"","sig":"{s}"}}"#))
        .collect();
    format!(
        r#"{{"payload":"{}","payloadType":"{PAYLOAD_TYPE}","signatures":[{}]}}"#,
        b64(PAYLOAD),
        sigs.join(",")
    )
}

fn proposed(envelope: &str, verifiers: &[String], extra: &str) -> String {
    let env = serde_json::to_string(envelope).unwrap();
    let verifiers: Vec<String> = verifiers.iter().map(|v| format!("\"{v}\"")).collect();
    format!(
        r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"proposedContent":{{"envelope":{env},"verifiers":[{}]}}{extra}}}}}"#,
        verifiers.join(",")
    )
}

#[test]
fn pae_matches_the_dsse_spec_example() {
    assert_eq!(
        dsse_pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
}

#[test]
fn sigstore_python_shape_with_nulls_verifies() {
    let key = P256::load("leaf.pk8");
    let sig = b64(&key.sign(&dsse_pae(PAYLOAD_TYPE, PAYLOAD)));
    let env = envelope(&[&sig]);
    let cert = b64(&fixture("leaf_email.pem"));
    let body = proposed(
        &env,
        std::slice::from_ref(&cert),
        r#","signatures":null,"envelopeHash":null,"payloadHash":null"#,
    );
    let v = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.kind, EntryKind::Dsse);
    let env_hash = hex::encode(sha256(env.as_bytes()));
    let payload_hash = hex::encode(sha256(PAYLOAD));
    let golden = format!(
        r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{env_hash}"}},"payloadHash":{{"algorithm":"sha256","value":"{payload_hash}"}},"signatures":[{{"signature":"{sig}","verifier":"{cert}"}}]}}}}"#
    );
    assert_eq!(String::from_utf8(v.canonical_body).unwrap(), golden);
    assert_eq!(
        v.artifact_digest,
        Some((HashAlgorithm::Sha256, payload_hash.clone()))
    );
    assert_eq!(v.san.as_deref(), Some("alice@example.com"));
    assert!(v.index_keys.contains(&format!("sha256:{payload_hash}")));
    assert!(v.index_keys.contains(&"email:alice@example.com".to_owned()));
    assert_eq!(v.public_key_der, spki_der("leaf.pub"));
}

#[test]
fn two_signatures_are_sorted_and_paired_with_their_verifiers() {
    let pae = dsse_pae(PAYLOAD_TYPE, PAYLOAD);
    let s1 = b64(&P256::load("leaf.pk8").sign(&pae));
    let s2 = b64(&P256::load("other.pk8").sign(&pae));
    let leaf = b64(&fixture("leaf.pub"));
    let other = b64(&fixture("other.pub"));
    // Verifiers listed in the opposite order of the signatures.
    let body = proposed(&envelope(&[&s1, &s2]), &[other.clone(), leaf.clone()], "");
    let v = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&v.canonical_body).unwrap();
    let sigs = doc["spec"]["signatures"].as_array().unwrap();
    let mut expected = vec![(s1, leaf), (s2, other)];
    expected.sort();
    let got: Vec<(String, String)> = sigs
        .iter()
        .map(|s| {
            (
                s["signature"].as_str().unwrap().to_owned(),
                s["verifier"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Both keys are indexed.
    assert_eq!(
        v.index_keys
            .iter()
            .filter(|k| k.starts_with("key:"))
            .count(),
        2
    );
}

#[test]
fn unverified_signature_is_rejected() {
    let pae = dsse_pae(PAYLOAD_TYPE, PAYLOAD);
    let s1 = b64(&P256::load("leaf.pk8").sign(&pae));
    let s2 = b64(&P256::load("other.pk8").sign(&pae));
    // `other` signed but only `leaf` is a verifier.
    let body = proposed(&envelope(&[&s1, &s2]), &[b64(&fixture("leaf.pub"))], "");
    let err = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("signatures[1]"), "{err}");

    // A signature over a different payload type.
    let wrong = b64(&P256::load("leaf.pk8").sign(&dsse_pae("text/plain", PAYLOAD)));
    let body = proposed(&envelope(&[&wrong]), &[b64(&fixture("leaf.pub"))], "");
    assert!(
        ProposedEntry::parse(body.as_bytes())
            .unwrap()
            .verify()
            .is_err()
    );
}

#[test]
fn malformed_dsse_bodies() {
    let key = P256::load("leaf.pk8");
    let sig = b64(&key.sign(&dsse_pae(PAYLOAD_TYPE, PAYLOAD)));
    let pk = b64(&fixture("leaf.pub"));
    let env = envelope(&[&sig]);
    let cases: Vec<(String, &str)> = vec![
        (proposed(&env, &[], ""), "spec.proposedContent.verifiers"),
        (
            proposed(&env, &["%%%".to_owned()], ""),
            "spec.proposedContent.verifiers[]",
        ),
        (
            proposed(&env, &vec![pk.clone(); 17], ""),
            "spec.proposedContent.verifiers",
        ),
        (
            proposed("{not json", std::slice::from_ref(&pk), ""),
            "spec.proposedContent.envelope",
        ),
        (
            proposed("[]", std::slice::from_ref(&pk), ""),
            "spec.proposedContent.envelope",
        ),
        (
            proposed(&envelope(&[]), std::slice::from_ref(&pk), ""),
            "envelope.signatures",
        ),
        (
            proposed(&envelope(&["!!"]), std::slice::from_ref(&pk), ""),
            "envelope.signatures[].sig",
        ),
        (
            proposed(
                &env.replace(&b64(PAYLOAD), "$$"),
                std::slice::from_ref(&pk),
                "",
            ),
            "envelope.payload",
        ),
        (
            proposed(
                &env.replace("payloadType", "type"),
                std::slice::from_ref(&pk),
                "",
            ),
            "envelope.payloadType",
        ),
        (
            proposed(
                &env,
                std::slice::from_ref(&pk),
                r#","envelopeHash":{"algorithm":"sha256","value":"00"}"#,
            ),
            "spec.envelopeHash",
        ),
        (
            proposed(&env, std::slice::from_ref(&pk), r#","signatures":[]"#),
            "spec.signatures",
        ),
        (
            r#"{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":null}}"#.to_owned(),
            "spec.proposedContent",
        ),
        (
            proposed(&env, std::slice::from_ref(&pk), "").replace("\"0.0.1\"", "\"0.0.2\""),
            "apiVersion",
        ),
    ];
    for (body, field) in cases {
        let err = match ProposedEntry::parse(body.as_bytes()) {
            Err(e) => e,
            Ok(p) => p.verify().expect_err(&format!("accepted: {body:.300}")),
        };
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[test]
fn every_verifier_is_reported_and_must_sign() {
    let pae = dsse_pae(PAYLOAD_TYPE, PAYLOAD);
    let s1 = b64(&P256::load("leaf.pk8").sign(&pae));
    let s2 = b64(&P256::load("other.pk8").sign(&pae));
    let cert = b64(&fixture("leaf_email.pem"));
    let other = b64(&fixture("other.pub"));
    // A certificate and a bare key, each signing: both are signers, in the order listed.
    let body = proposed(&envelope(&[&s1, &s2]), &[cert.clone(), other.clone()], "");
    let v = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.signers.len(), 2);
    assert!(v.signers[0].certificate_der.is_some());
    assert_eq!(v.signers[0].public_key_der, spki_der("leaf.pub"));
    assert_eq!(v.signers[1].certificate_der, None);
    assert_eq!(v.signers[1].public_key_der, spki_der("other.pub"));

    // A verifier that signed nothing is refused (Rekor: threshold = number of verifiers).
    let body = proposed(&envelope(&[&s1]), &[cert, other], "");
    let err = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("verifiers[1]"), "{err}");
}

#[test]
fn index_keys_are_capped() {
    let pae = dsse_pae(PAYLOAD_TYPE, PAYLOAD);
    let keys: Vec<(P256, String)> = (0..hallmark_sigstore::MAX_SIGNATURES)
        .map(|_| fresh_p256())
        .collect();
    let entry = |n: usize| {
        let sigs: Vec<String> = keys[..n].iter().map(|(k, _)| b64(&k.sign(&pae))).collect();
        let sig_refs: Vec<&str> = sigs.iter().map(String::as_str).collect();
        let verifiers: Vec<String> = keys[..n].iter().map(|(_, v)| v.clone()).collect();
        ProposedEntry::parse(proposed(&envelope(&sig_refs), &verifiers, "").as_bytes())
            .unwrap()
            .verify()
    };
    // The payload digest plus one key per verifier.
    let max = hallmark_sigstore::MAX_INDEX_KEYS;
    let v = entry(max - 1).unwrap();
    assert_eq!(v.index_keys.len(), max);
    let err = entry(max).unwrap_err();
    assert!(
        matches!(err, EntryError::TooManyIndexKeys { count, limit } if count == max + 1 && limit == max),
        "{err}"
    );
}
