//! Behaviour of the PKCS#11 backend against a real SoftHSM token: custody (the private key cannot
//! leave), interop (openssl verifies), errors, concurrency, handle re-lookup after a reset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use hallmark_keys::cryptoki::error::RvError;
use hallmark_keys::cryptoki::mechanism::Mechanism;
use hallmark_keys::cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, ObjectClass, ObjectHandle,
};
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_keys::{Hsm, KeyError, PinSource, Pkcs11Config, TokenInit, init_token};
use signature::{Keypair, Signer, Verifier};
use spki::EncodePublicKey;

// Every test holds `hallmark_keys::testing::serial()`: see its documentation for why.

fn private_key_handle(hsm: &Hsm, label: &str) -> ObjectHandle {
    let found = hsm
        .with_raw_session(|s| {
            s.find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
        })
        .unwrap()
        .unwrap();
    assert_eq!(found.len(), 1);
    found[0]
}

#[test]
fn private_key_cannot_leave_the_token() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("custody");
    let _key = hsm.generate_p256(&label).unwrap();
    let handle = private_key_handle(&hsm, &label);

    let attrs = hsm
        .with_raw_session(|s| {
            s.get_attributes(
                handle,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::Private,
                    AttributeType::Token,
                    AttributeType::Sign,
                    AttributeType::Id,
                ],
            )
        })
        .unwrap()
        .unwrap();
    for attr in &attrs {
        match attr {
            Attribute::Sensitive(v) => assert!(v, "CKA_SENSITIVE"),
            Attribute::Extractable(v) => assert!(!v, "CKA_EXTRACTABLE"),
            Attribute::AlwaysSensitive(v) => assert!(v, "CKA_ALWAYS_SENSITIVE"),
            Attribute::NeverExtractable(v) => assert!(v, "CKA_NEVER_EXTRACTABLE"),
            Attribute::Private(v) => assert!(v, "CKA_PRIVATE"),
            Attribute::Token(v) => assert!(v, "CKA_TOKEN"),
            Attribute::Sign(v) => assert!(v, "CKA_SIGN"),
            Attribute::Id(id) => assert_eq!(id.len(), 20, "CKA_ID"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(attrs.len(), 8, "all attributes present: {attrs:?}");

    // CKA_VALUE (the private scalar) is refused as sensitive.
    let info = hsm
        .with_raw_session(|s| s.get_attribute_info(handle, &[AttributeType::Value]))
        .unwrap()
        .unwrap();
    assert!(matches!(info[0], AttributeInfo::Sensitive), "{info:?}");
    let value = hsm
        .with_raw_session(|s| s.get_attributes(handle, &[AttributeType::Value]))
        .unwrap()
        .unwrap();
    assert!(
        value.is_empty(),
        "CKA_VALUE must not be returned: {value:?}"
    );

    // Wrapping it out under a key we control fails too.
    let wrapped = hsm
        .with_raw_session(|s| {
            let aes = s
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Token(false),
                        Attribute::ValueLen(32.into()),
                        Attribute::Wrap(true),
                        Attribute::Encrypt(true),
                    ],
                )
                .unwrap();
            let result = s.wrap_key(&Mechanism::AesKeyWrapPad, aes, handle);
            s.destroy_object(aes).unwrap();
            result
        })
        .unwrap();
    let err = wrapped.expect_err("wrapping a non-extractable key must fail");
    assert!(
        matches!(
            err,
            hallmark_keys::cryptoki::error::Error::Pkcs11(RvError::KeyUnextractable, _)
        ),
        "expected CKR_KEY_UNEXTRACTABLE, got {err}"
    );
}

fn openssl_verifies(pub_pem: &str, digest: &str, msg: &[u8], sig_der: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let (pem, sig, m) = (
        dir.path().join("pub.pem"),
        dir.path().join("sig.der"),
        dir.path().join("msg"),
    );
    std::fs::write(&pem, pub_pem).unwrap();
    std::fs::write(&sig, sig_der).unwrap();
    std::fs::write(&m, msg).unwrap();
    let run = |file: &std::path::Path| {
        Command::new("openssl")
            .args(["dgst", digest, "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(&sig)
            .arg(file)
            .output()
            .expect("openssl is installed")
    };
    let ok = run(&m);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success() && stdout.contains("Verified OK"),
        "openssl: {stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let other = dir.path().join("other");
    std::fs::write(&other, b"something else").unwrap();
    let bad = run(&other);
    assert!(
        !bad.status.success(),
        "openssl must reject a changed message"
    );
    assert!(String::from_utf8_lossy(&bad.stdout).contains("Verification failure"));
}

#[test]
fn openssl_verifies_hsm_signatures() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let msg = b"an in-toto statement, say";
    let key = hsm.generate_p256(&unique_label("openssl")).unwrap();
    let sig: p256::ecdsa::DerSignature = key.try_sign(msg).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .unwrap();
    openssl_verifies(&pem, "-sha256", msg, sig.as_bytes());

    let key = hsm.generate_p384(&unique_label("openssl384")).unwrap();
    let sig: p384::ecdsa::DerSignature = key.try_sign(msg).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .unwrap();
    openssl_verifies(&pem, "-sha384", msg, sig.as_bytes());
}

#[test]
fn lookup_errors_are_specific() {
    let _serial = hallmark_keys::testing::serial();
    let token = TestToken::shared();
    let hsm = token.open();

    let missing = unique_label("missing");
    match hsm.load_p256(&missing) {
        Err(KeyError::KeyNotFound { label, object }) => {
            assert_eq!(label, missing);
            assert_eq!(object, "private key");
        }
        other => panic!("expected KeyNotFound, got {other:?}"),
    }

    let label = unique_label("exists");
    hsm.generate_p256(&label).unwrap();
    assert!(matches!(
        hsm.generate_p256(&label),
        Err(KeyError::KeyExists { label: l }) if l == label
    ));
    assert!(matches!(
        hsm.generate_p384(&label),
        Err(KeyError::KeyExists { .. })
    ));

    let p384_label = unique_label("p384");
    hsm.generate_p384(&p384_label).unwrap();
    let err = hsm.load_p256(&p384_label).unwrap_err();
    match &err {
        KeyError::CurveMismatch {
            expected, found, ..
        } => {
            assert_eq!(*expected, "P-256");
            assert_eq!(found, "P-384");
        }
        other => panic!("expected CurveMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("is P-384, not P-256"), "{err}");
    assert!(!err.is_unavailable());

    let err = Hsm::open(Pkcs11Config {
        token_label: "no-such-token".into(),
        ..token.config()
    })
    .unwrap_err();
    match &err {
        KeyError::TokenNotFound { label, available } => {
            assert_eq!(label, "no-such-token");
            assert!(
                available.contains(&token.label().to_owned()),
                "{available:?}"
            );
        }
        other => panic!("expected TokenNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains(token.label()));
}

#[test]
fn init_token_is_idempotent() {
    let _serial = hallmark_keys::testing::serial();
    let token = TestToken::shared();
    let again = init_token(
        token.module(),
        token.label(),
        &PinSource::File(token.so_pin_file().to_owned()),
        &PinSource::File(token.pin_file().to_owned()),
    )
    .unwrap();
    assert_eq!(again, TokenInit::AlreadyPresent);
}

#[test]
fn health_reports_ok() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    hsm.health().unwrap();
}

#[test]
fn many_threads_sign_through_one_key() {
    let _serial = hallmark_keys::testing::serial();
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("threads")).unwrap();
    let vk = key.verifying_key();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let key = key.clone();
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let msg = format!("thread {t} message {i}");
                    let sig: p256::ecdsa::DerSignature = key.try_sign(msg.as_bytes()).unwrap();
                    vk.verify(msg.as_bytes(), &sig).unwrap();
                }
            });
        }
    });
}

#[test]
fn object_handles_are_found_again_after_a_pool_reset() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("reset");
    let key = hsm.generate_p256(&label).unwrap();
    let vk = key.verifying_key();
    let sig: p256::ecdsa::Signature = key.try_sign(b"before").unwrap();
    vk.verify(b"before", &sig).unwrap();

    let before = hsm.generation();
    hsm.reset();
    assert_eq!(hsm.generation(), before + 1);
    let sig: p256::ecdsa::Signature = key.try_sign(b"after").unwrap();
    vk.verify(b"after", &sig).unwrap();

    // A clone made before the reset shares the refreshed handle; one more reset, still fine.
    let clone = key.clone();
    hsm.reset();
    let sig: p256::ecdsa::DerSignature = clone.try_sign(b"again").unwrap();
    vk.verify(b"again", &sig).unwrap();
}

#[test]
fn a_replaced_key_is_detected_after_a_reset() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("replaced");
    let key = hsm.generate_p256(&label).unwrap();
    // Delete both halves and make a new key under the same label behind the handle's back.
    hsm.with_raw_session(|s| {
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            for h in s
                .find_objects(&[
                    Attribute::Class(class),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .unwrap()
            {
                s.destroy_object(h).unwrap();
            }
        }
    })
    .unwrap();
    hsm.generate_p256(&label).unwrap();
    hsm.reset();
    let err = key.try_sign_checked(b"x").unwrap_err();
    assert!(matches!(err, KeyError::KeyReplaced { .. }), "{err:?}");
}

#[test]
fn errors_reach_signature_callers_as_key_errors() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("gone");
    let key = hsm.generate_p256(&label).unwrap();
    hsm.with_raw_session(|s| {
        for h in s
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .unwrap()
        {
            s.destroy_object(h).unwrap();
        }
    })
    .unwrap();
    // The cached handle is now invalid: the first call says Unavailable (and drops the pool)...
    let err = Signer::<p256::ecdsa::Signature>::try_sign(&key, b"x").unwrap_err();
    let inner = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<KeyError>())
        .expect("signature::Error wraps a KeyError");
    assert!(inner.is_unavailable(), "{inner:?}");
    // ...and after reconnecting the key is simply not there.
    let err = key.try_sign_checked(b"x").unwrap_err();
    assert!(matches!(err, KeyError::KeyNotFound { .. }), "{err:?}");
}

/// At most `max_sessions` sessions are on loan at once: with a cap of one, a signature waits
/// while another caller holds the only session; many signing threads never hold more than the
/// cap. (Every waiting thread used to open a session of its own.)
#[test]
fn sessions_on_loan_are_capped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    assert_eq!(hsm.max_sessions(), hallmark_keys::DEFAULT_MAX_SESSIONS);
    let key = hsm.generate_p256(&unique_label("cap")).unwrap();

    hsm.set_max_sessions(1);
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let h = hsm.clone();
    let holder = std::thread::spawn(move || {
        h.with_raw_session(|_| {
            held_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        })
        .unwrap();
    });
    held_rx.recv().unwrap();
    assert_eq!(hsm.sessions_in_use(), 1);
    let t = Instant::now();
    let sig: p256::ecdsa::Signature = key.try_sign(b"waits for the session").unwrap();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "signed after {waited:?} while the only session was on loan"
    );
    key.verifying_key()
        .verify(b"waits for the session", &sig)
        .unwrap();
    holder.join().unwrap();

    hsm.set_max_sessions(3);
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (hsm, peak, stop) = (hsm.clone(), peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                peak.fetch_max(hsm.sessions_in_use(), Ordering::SeqCst);
                std::thread::yield_now();
            }
        })
    };
    let signers: Vec<_> = (0..8)
        .map(|i| {
            let key = key.clone();
            std::thread::spawn(move || {
                for j in 0..100 {
                    let msg = format!("{i}-{j}");
                    let _: p256::ecdsa::Signature = key.try_sign(msg.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for s in signers {
        s.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "{peak} sessions on loan at once");
    assert_eq!(hsm.sessions_in_use(), 0);
}
