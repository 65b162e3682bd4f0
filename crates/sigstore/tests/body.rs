//! Round trips through the entry documents of `hallmark_sigstore::body`: a proposed entry built
//! with [`Body::hashedrekord`] or [`Body::dsse`] and serialized must parse with
//! [`ProposedEntry::parse`] and verify with the fields it was built from, and the canonical body
//! that verification writes must parse back with [`CanonicalBody::parse`] to the same fields.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::body::{
    AlgValue, Body, CanonicalBody, DsseProposedSpec, DsseSignature, HashedRekordSpec,
};
use hallmark_sigstore::bundle::Envelope;
use hallmark_sigstore::{EntryError, EntryKind, HashAlgorithm, ProposedEntry, dsse_pae};
use proptest::prelude::*;

const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

fn leaf_pem() -> Vec<u8> {
    fixture("leaf_email.pem")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn hashedrekord_built_parses_and_verifies_to_the_same_fields(artifact in any::<Vec<u8>>()) {
        let key = P256::load("leaf.pk8");
        let digest = sha256(&artifact);
        let signature = key.sign_digest(&digest);
        let built: Body<'_, HashedRekordSpec<'_>> =
            Body::hashedrekord(&signature, &leaf_pem(), HashAlgorithm::Sha256, &digest);
        let json = built.to_json().unwrap();

        let v = ProposedEntry::parse(&json).unwrap().verify().unwrap();
        prop_assert_eq!(v.kind, EntryKind::HashedRekord);
        prop_assert_eq!(
            v.artifact_digest.clone(),
            Some((HashAlgorithm::Sha256, hex::encode(&digest)))
        );
        prop_assert_eq!(v.signers.len(), 1);
        prop_assert!(v.certificate_der.is_some());

        // hashedrekord's canonical body holds the proposed entry's fields, in RFC 8785 order.
        match CanonicalBody::parse(&v.canonical_body).unwrap() {
            CanonicalBody::HashedRekord(spec) => {
                prop_assert_eq!(&spec, &built.spec);
                prop_assert_eq!(
                    spec.data.hash.digest("spec.data.hash").unwrap(),
                    (HashAlgorithm::Sha256, digest.clone())
                );
                prop_assert_eq!(spec.signature.content.as_ref(), b64(&signature));
                prop_assert_eq!(spec.signature.public_key.content.as_ref(), b64(&leaf_pem()));
            }
            other => panic!("{other:?}"),
        }
        prop_assert_eq!(
            v.canonical_body,
            hashedrekord_canonical(
                &b64(&signature),
                &b64(&leaf_pem()),
                "sha256",
                &hex::encode(&digest)
            )
            .into_bytes()
        );
    }

    #[test]
    fn dsse_built_parses_and_verifies_to_the_same_fields(payload in any::<Vec<u8>>()) {
        let key = P256::load("leaf.pk8");
        let signature = key.sign(&dsse_pae(PAYLOAD_TYPE, &payload));
        let envelope = Envelope::new(PAYLOAD_TYPE, &payload, &signature);
        let pem = leaf_pem();
        let built: Body<'_, DsseProposedSpec<'_>> =
            Body::dsse(&envelope, &[pem.as_slice()]).unwrap();
        let json = built.to_json().unwrap();

        let v = ProposedEntry::parse(&json).unwrap().verify().unwrap();
        prop_assert_eq!(v.kind, EntryKind::Dsse);
        let payload_hash = hex::encode(sha256(&payload));
        prop_assert_eq!(
            v.artifact_digest.clone(),
            Some((HashAlgorithm::Sha256, payload_hash.clone()))
        );
        prop_assert_eq!(v.signers.len(), 1);

        let envelope_json = built.spec.proposed_content.envelope.as_bytes();
        prop_assert_eq!(
            serde_json::from_slice::<Envelope>(envelope_json).unwrap(),
            envelope
        );
        match CanonicalBody::parse(&v.canonical_body).unwrap() {
            CanonicalBody::Dsse(spec) => {
                prop_assert_eq!(
                    spec.envelope_hash,
                    Some(AlgValue::new("sha256", hex::encode(sha256(envelope_json))))
                );
                prop_assert_eq!(spec.payload_hash, AlgValue::new("sha256", payload_hash));
                prop_assert_eq!(
                    spec.signatures,
                    vec![DsseSignature {
                        signature: b64(&signature).into(),
                        verifier: b64(&pem).into(),
                    }]
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn canonical_body_parse_refuses_other_types_and_versions() {
    let body = br#"{"apiVersion":"0.0.1","kind":"rekord","spec":{}}"#;
    assert!(matches!(
        CanonicalBody::parse(body),
        Err(EntryError::UnsupportedKind { .. })
    ));
    let body = br#"{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{}}"#;
    assert!(matches!(
        CanonicalBody::parse(body),
        Err(EntryError::UnsupportedVersion { .. })
    ));
    let body = br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{"signatures":[]}}"#;
    assert!(matches!(
        CanonicalBody::parse(body),
        Err(EntryError::Malformed { .. })
    ));
}

#[test]
fn canonical_body_parse_refuses_duplicate_fields() {
    let body = br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{"payloadHash":{"algorithm":"sha256","value":"00"},"signatures":[],"signatures":[]}}"#;
    assert!(matches!(
        CanonicalBody::parse(body),
        Err(EntryError::Malformed { .. })
    ));
}
