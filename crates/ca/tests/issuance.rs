//! The issuance suite (`common::suite`) with in-memory keys, P-256 and P-384 CAs (the same suite
//! runs with SoftHSM keys in `hallmark-server`'s `ca_softhsm` test), and the CA's error cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime};

use common::suite::{ECDSA_SHA256, ECDSA_SHA384, der, subject, suite, unix};
use common::{generate_memory_p256, generate_memory_p384};
use hallmark_ca::{CaError, Issuance, IssuingKey};
use hallmark_sigstore::ct::{self, CtError};
use hallmark_sigstore::identity::SubjectAltName;

#[test]
fn memory_p256_ca() {
    suite(
        "memory P-256",
        &generate_memory_p256().unwrap(),
        &generate_memory_p256().unwrap(),
        &generate_memory_p256().unwrap(),
        &generate_memory_p256().unwrap(),
        ECDSA_SHA256,
    );
}

#[test]
fn memory_p384_ca() {
    suite(
        "memory P-384",
        &generate_memory_p384().unwrap(),
        &generate_memory_p384().unwrap(),
        &generate_memory_p256().unwrap(),
        &generate_memory_p384().unwrap(),
        ECDSA_SHA384,
    );
}

#[test]
fn memory_p384_root_p256_intermediate() {
    suite(
        "memory mixed",
        &generate_memory_p384().unwrap(),
        &generate_memory_p256().unwrap(),
        &generate_memory_p256().unwrap(),
        &generate_memory_p256().unwrap(),
        ECDSA_SHA256,
    );
}

#[test]
fn unencodable_identities_are_request_errors() {
    let key = generate_memory_p256().unwrap();
    let now = SystemTime::now();
    let root =
        hallmark_ca::root_certificate(&key, &subject("r"), now, Duration::from_secs(3600)).unwrap();
    let issuance = Issuance::new(&root, &key).unwrap();
    let client = generate_memory_p256().unwrap().public_key_der().unwrap();
    let mut id = common::email_identity();
    id.san = SubjectAltName::Email("jürgen@example.com".into());
    let err = issuance.prepare(&client, &id, now).unwrap_err();
    assert!(matches!(err, CaError::UnencodableIdentity { .. }), "{err}");
    assert!(err.is_request_error());
    id.san = SubjectAltName::Uri(String::new());
    assert!(
        issuance
            .prepare(&client, &id, now)
            .unwrap_err()
            .is_request_error()
    );
    let mut id = common::email_identity();
    id.issuer = String::new();
    assert!(
        issuance
            .prepare(&client, &id, now)
            .unwrap_err()
            .is_request_error()
    );
    // Unicode is fine in a username (UTF8String otherName).
    let mut id = common::username_identity();
    id.san = SubjectAltName::OtherName("jürgen!example.org".into());
    issuance.prepare(&client, &id, now).unwrap();
    // A leaf key that is not a key is a 400 as well.
    assert!(
        issuance
            .prepare(b"garbage", &id, now)
            .unwrap_err()
            .is_request_error()
    );
}

#[test]
fn ca_keys_must_be_ecdsa() {
    // An Ed25519 intermediate key (from openssl) is refused for a CA.
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("ed.pem");
    common::openssl_ok(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        k.to_str().unwrap(),
    ]);
    let pubder = dir.path().join("ed.der");
    common::openssl_ok(&[
        "pkey",
        "-in",
        k.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        pubder.to_str().unwrap(),
    ]);
    let ed = std::fs::read(pubder).unwrap();
    let key = generate_memory_p256().unwrap();
    let now = SystemTime::now();
    let root =
        hallmark_ca::root_certificate(&key, &subject("r"), now, Duration::from_secs(3600)).unwrap();
    let err = hallmark_ca::intermediate_certificate(
        &key,
        &root,
        &ed,
        &subject("i"),
        now,
        Duration::from_secs(60),
    )
    .unwrap_err();
    assert!(matches!(err, CaError::UnsupportedCaKey { .. }), "{err}");
}

#[test]
fn certificates_round_trip_through_pem() {
    let key = generate_memory_p384().unwrap();
    let now = SystemTime::now();
    let root =
        hallmark_ca::root_certificate(&key, &subject("r"), now, Duration::from_secs(3600)).unwrap();
    let pem = hallmark_ca::certificate_pem(&root).unwrap();
    assert_eq!(
        hallmark_ca::parse_certificate("root", pem.as_bytes()).unwrap(),
        root
    );
    assert_eq!(
        hallmark_ca::parse_certificate("root", &der(&root)).unwrap(),
        root
    );
    assert_eq!(
        hallmark_ca::certificate_key_algorithm(&root),
        Some(hallmark_ca::KeyAlgorithm::EcdsaP384)
    );
    let wrong = pem.replace("CERTIFICATE", "PUBLIC KEY");
    assert!(matches!(
        hallmark_ca::parse_certificate("root", wrong.as_bytes()),
        Err(CaError::WrongPemLabel { .. })
    ));
    // Validity: notBefore rounded down to the second, exact duration.
    let tbs = root.tbs_certificate();
    assert_eq!(unix(tbs.validity().not_before.to_system_time()), unix(now));
    assert_eq!(
        unix(tbs.validity().not_after.to_system_time()) - unix(now),
        3600
    );
}

#[test]
fn sct_for_a_certificate_without_scts() {
    let key = generate_memory_p256().unwrap();
    let root = hallmark_ca::root_certificate(
        &key,
        &subject("r"),
        SystemTime::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(matches!(
        ct::embedded_scts(&der(&root)),
        Err(CtError::NoEmbeddedScts)
    ));
    assert!(matches!(
        ct::reconstruct_precert_tbs(&der(&root)),
        Err(CtError::NoEmbeddedScts)
    ));
}
