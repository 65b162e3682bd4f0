//! PIN handling against SoftHSM. Its own test binary: a wrong PIN is only detected while the
//! process is not logged in to the token yet (SoftHSM answers CKR_USER_ALREADY_LOGGED_IN without
//! checking the PIN once any session is logged in), so the login-sensitive steps run in order in
//! one test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hallmark_keys::testing::{PIN_ENV_VAR, TestToken, unique_label};
use hallmark_keys::{Hsm, KeyError, PinSource, Pkcs11Config};
use signature::{Keypair, Signer, Verifier};

fn config_with(pin: PinSource) -> Pkcs11Config {
    Pkcs11Config {
        pin,
        ..TestToken::shared().config()
    }
}

#[test]
fn login_sequence() {
    let token = TestToken::shared();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-pin");
    std::fs::write(&wrong, "not-the-pin\n").unwrap();

    // 1. Wrong PIN, nobody logged in yet: WrongPin naming the token.
    let err = Hsm::open(config_with(PinSource::File(wrong.clone()))).unwrap_err();
    match &err {
        KeyError::WrongPin { token: t, code } => {
            assert_eq!(t, token.label());
            assert_eq!(code, "CKR_PIN_INCORRECT");
        }
        other => panic!("expected WrongPin, got {other:?}"),
    }
    assert!(err.to_string().contains(token.label()));
    assert!(
        !err.to_string().contains("not-the-pin"),
        "the PIN must not leak"
    );

    // 2. PIN from an environment variable: a real login (nobody is logged in yet). Dropping the
    //    handle closes its sessions, which logs the process out again.
    let env_hsm = Hsm::open(config_with(PinSource::Env(PIN_ENV_VAR.into()))).unwrap();
    let key = env_hsm.generate_p256(&unique_label("env-pin")).unwrap();
    let sig: p256::ecdsa::Signature = key.try_sign(b"m").unwrap();
    key.verifying_key().verify(b"m", &sig).unwrap();
    drop(key);
    drop(env_hsm);
    let err = Hsm::open(config_with(PinSource::File(wrong.clone()))).unwrap_err();
    assert!(
        matches!(err, KeyError::WrongPin { .. }),
        "logged out again: {err:?}"
    );

    // 3. PIN from a file (with a trailing newline), also a real login.
    let rotating = dir.path().join("rotating-pin");
    std::fs::copy(token.pin_file(), &rotating).unwrap();
    let hsm = Hsm::open(config_with(PinSource::File(rotating.clone()))).unwrap();
    let key = hsm.generate_p256(&unique_label("pin")).unwrap();
    let sig: p256::ecdsa::Signature = key.try_sign(b"m").unwrap();
    key.verifying_key().verify(b"m", &sig).unwrap();

    // 4. After a reset (all sessions closed: SoftHSM logs the process out) a reconnect reads the
    //    PIN source again. A wrong PIN there is reported, then not presented to the token again;
    //    once the file is fixed the next call logs in.
    hsm.reset();
    std::fs::write(&rotating, "still-not-the-pin").unwrap();
    let err = key.try_sign_checked(b"m").unwrap_err();
    assert!(
        matches!(&err, KeyError::WrongPin { code, .. } if code == "CKR_PIN_INCORRECT"),
        "{err:?}"
    );
    let err = key.try_sign_checked(b"m").unwrap_err();
    assert!(
        matches!(&err, KeyError::WrongPin { code, .. } if code.contains("not tried again")),
        "{err:?}"
    );
    std::fs::copy(token.pin_file(), &rotating).unwrap();
    let sig = key.try_sign_checked(b"m").unwrap();
    key.verifying_key().verify(b"m", &sig).unwrap();

    // 5. While the process is logged in, another handle's C_Login gets
    //    CKR_USER_ALREADY_LOGGED_IN, which counts as success — without the PIN being checked.
    let second = Hsm::open(config_with(PinSource::File(wrong))).unwrap();
    second.health().unwrap();
}

#[test]
fn unreadable_pin_sources_name_the_source() {
    let missing_var = "HALLMARK_TEST_NO_SUCH_PIN_VARIABLE";
    let err = Hsm::open(config_with(PinSource::Env(missing_var.into()))).unwrap_err();
    assert!(
        matches!(&err, KeyError::PinEnv { var, problem: "not set" } if var == missing_var),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("export {missing_var}")));

    let missing_file = PathBuf::from("/nonexistent/hallmark/pin");
    let err = Hsm::open(config_with(PinSource::File(missing_file.clone()))).unwrap_err();
    assert!(
        matches!(&err, KeyError::PinFile { path, .. } if *path == missing_file),
        "{err:?}"
    );
    assert!(err.to_string().contains("/nonexistent/hallmark/pin"));

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let err = Hsm::open(config_with(PinSource::File(empty))).unwrap_err();
    assert!(matches!(err, KeyError::PinEmpty { .. }), "{err:?}");
}

#[test]
fn missing_module_says_how_to_install_softhsm() {
    let err = Hsm::open(Pkcs11Config {
        module: PathBuf::from("/nonexistent/libsofthsm2.so"),
        ..TestToken::shared().config()
    })
    .unwrap_err();
    assert!(matches!(err, KeyError::ModuleLoad { .. }), "{err:?}");
    assert!(
        err.to_string().contains("apt-get install softhsm2"),
        "{err}"
    );
}
