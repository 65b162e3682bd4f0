//! Ed25519 keys on a real SoftHSM token (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, `CKM_EDDSA`): custody,
//! pure EdDSA signatures that other implementations verify (ed25519-dalek, aws-lc, openssl),
//! loading by label, type mismatches, and the same checks and recovery as ECDSA keys. The signer
//! suite runs against the HSM key and the in-memory key alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use hallmark_keys::cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_keys::{Ed25519, KeyError, Pkcs11Key, generate_memory_ed25519};
use signature::{Keypair, Signer, Verifier};

// Every test holds `hallmark_keys::testing::serial()`: see its documentation for why.

const MESSAGES: [&[u8]; 4] = [b"", b"hello hallmark", &[0xa5; 1000], &[0u8; 100_000]];

/// The suite, for any Ed25519 RustCrypto signer.
fn suite<K>(key: &K)
where
    K: Signer<ed25519_dalek::Signature> + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>,
{
    let vk = key.verifying_key();
    let stranger = generate_memory_ed25519().unwrap().verifying_key();
    for msg in MESSAGES {
        let sig = key.try_sign(msg).unwrap();
        assert_eq!(sig.to_bytes().len(), 64);
        vk.verify_strict(msg, &sig).expect("signature verifies");
        // Pure Ed25519 is deterministic: the same message gives the same signature.
        assert_eq!(key.try_sign(msg).unwrap(), sig);
        // An independent implementation agrees.
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, vk.as_bytes())
            .verify(msg, &sig.to_bytes())
            .expect("aws-lc verifies");
        let mut other = msg.to_vec();
        other.push(1);
        assert!(vk.verify(&other, &sig).is_err(), "a changed message");
        assert!(stranger.verify(msg, &sig).is_err(), "another key");
    }
}

#[test]
fn the_signer_suite_passes_for_the_hsm_and_the_memory_key() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key: Pkcs11Key<Ed25519> = hsm.generate_ed25519(&unique_label("ed-suite")).unwrap();
    suite(&key);
    suite(&generate_memory_ed25519().unwrap());
    // The in-memory key and the HSM key agree on what a key signs: same seed, same signature,
    // is not testable (the HSM key's seed never leaves), but the SPKI has the RFC 8410 form.
    let spki = key.public_key_der();
    assert_eq!(spki.len(), 44);
    assert_eq!(&spki[12..], key.verifying_key().as_bytes());
    assert!(key.signature_count() >= 8);
}

#[test]
fn the_private_key_stays_on_the_token_and_only_signs() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("ed-custody");
    let key = hsm.generate_ed25519(&label).unwrap();
    let attrs = hsm
        .with_raw_session(|s| {
            let found = s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .unwrap();
            assert_eq!(found.len(), 1);
            s.get_attributes(
                found[0],
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Private,
                    AttributeType::Token,
                    AttributeType::Sign,
                    AttributeType::Derive,
                    AttributeType::Id,
                    AttributeType::Value,
                ],
            )
            .unwrap()
        })
        .unwrap();
    let mut seen = 0;
    for attr in &attrs {
        seen += 1;
        match attr {
            Attribute::KeyType(t) => assert_eq!(*t, KeyType::EC_EDWARDS),
            // SoftHSM 2.6.1 refuses the OID (tried first) and takes the curve by name: the
            // DER PrintableString "edwards25519".
            Attribute::EcParams(p) => assert_eq!(p[..], *b"\x13\x0cedwards25519"),
            Attribute::Sensitive(v) => assert!(v, "CKA_SENSITIVE"),
            Attribute::Extractable(v) => assert!(!v, "CKA_EXTRACTABLE"),
            Attribute::NeverExtractable(v) => assert!(v, "CKA_NEVER_EXTRACTABLE"),
            Attribute::Private(v) => assert!(v, "CKA_PRIVATE"),
            Attribute::Token(v) => assert!(v, "CKA_TOKEN"),
            Attribute::Sign(v) => assert!(v, "CKA_SIGN"),
            Attribute::Derive(v) => assert!(!v, "CKA_DERIVE"),
            Attribute::Id(id) => {
                use sha2::Digest as _;
                let want = sha2::Sha256::digest(key.verifying_key().as_bytes());
                assert_eq!(id[..], want[..20], "CKA_ID");
            }
            other => panic!("unexpected attribute {other:?} (CKA_VALUE must not be returned)"),
        }
    }
    assert_eq!(seen, 10, "every attribute but CKA_VALUE: {attrs:?}");
}

#[test]
fn keys_are_loaded_by_label_and_their_type_is_checked() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("ed-load");
    let made = hsm.generate_ed25519(&label).unwrap();
    let loaded = hsm.load_ed25519(&label).unwrap();
    assert_eq!(loaded.verifying_key(), made.verifying_key());
    let sig = loaded.try_sign(b"loaded").unwrap();
    made.verifying_key().verify_strict(b"loaded", &sig).unwrap();

    assert!(matches!(
        hsm.generate_ed25519(&label),
        Err(KeyError::KeyExists { .. })
    ));
    match hsm.load_p256(&label) {
        Err(KeyError::CurveMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, "P-256");
            assert!(found.contains("CKK_EC_EDWARDS"), "{found}");
        }
        other => panic!("expected CurveMismatch, got {other:?}"),
    }
    let p256 = unique_label("ed-load-p256");
    hsm.generate_p256(&p256).unwrap();
    match hsm.load_ed25519(&p256) {
        Err(KeyError::CurveMismatch { expected, .. }) => assert_eq!(expected, "Ed25519"),
        other => panic!("expected CurveMismatch, got {other:?}"),
    }
    assert!(matches!(
        hsm.load_ed25519(&unique_label("ed-missing")),
        Err(KeyError::KeyNotFound { .. })
    ));
}

#[test]
fn handles_are_found_again_after_a_pool_reset() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_ed25519(&unique_label("ed-reset")).unwrap();
    key.try_sign(b"before").unwrap();
    let before = hsm.generation();
    hsm.reset();
    assert!(hsm.generation() > before);
    let sig = key.try_sign_ed25519(b"after").unwrap();
    key.verifying_key().verify_strict(b"after", &sig).unwrap();
}

#[test]
fn openssl_verifies_hsm_signatures() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_ed25519(&unique_label("ed-openssl")).unwrap();
    let msg = b"origin\n1\nroot\n";
    let sig = key.try_sign(msg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = der::pem::encode_string(
        "PUBLIC KEY",
        der::pem::LineEnding::LF,
        &key.public_key_der(),
    )
    .unwrap();
    std::fs::write(dir.path().join("pub.pem"), pem).unwrap();
    std::fs::write(dir.path().join("sig"), sig.to_bytes()).unwrap();
    let run = |data: &[u8]| {
        std::fs::write(dir.path().join("msg"), data).unwrap();
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
            .arg(dir.path().join("pub.pem"))
            .arg("-sigfile")
            .arg(dir.path().join("sig"))
            .arg("-in")
            .arg(dir.path().join("msg"))
            .output()
            .expect("openssl is installed")
    };
    let ok = run(msg);
    assert!(
        ok.status.success(),
        "openssl: {} {}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !run(b"origin\n2\nroot\n").status.success(),
        "a changed message"
    );
}
