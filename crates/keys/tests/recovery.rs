//! Recovery: the HSM goes away under a live `Hsm` and comes back; the failing call says
//! `Unavailable`, a later call succeeds on the same handle, no reopening.
//!
//! Its own test binary (the scenarios finalise the module, which affects every handle in the
//! process), and the scenarios run one at a time under a lock.
//!
//! What SoftHSM 2.6 does, found here:
//! - token files moved away: the next `C_SignInit` fails with `CKR_OBJECT_HANDLE_INVALID`, then
//!   `C_GetTokenInfo` returns `CKR_GENERAL_ERROR` — and keeps doing so after the files are back,
//!   until the module is finalised and initialised again (which the reconnect does, at most once
//!   per `REINIT_BACKOFF`). Being root, chmod would not have blocked us; moving the files does.
//! - module finalised by someone else in the process: `CKR_CRYPTOKI_NOT_INITIALIZED`.
//! - logged out by someone else: `CKR_USER_NOT_LOGGED_IN` / invalid key handle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hallmark_keys::cryptoki::context::Pkcs11;
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_keys::{KeyError, REINIT_BACKOFF};
use signature::{Keypair, Verifier};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The directory SoftHSM keeps the test token's objects in.
fn token_files() -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(TestToken::shared().token_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one token directory: {dirs:?}");
    dirs[0].clone()
}

/// Moves the token's files away; puts them back on drop (even if the test fails).
struct TokenRemoved {
    from: PathBuf,
    to: PathBuf,
}

impl TokenRemoved {
    fn new() -> Self {
        let from = token_files();
        let to = TestToken::shared()
            .token_dir()
            .with_file_name("token-moved-away");
        std::fs::rename(&from, &to).unwrap();
        TokenRemoved { from, to }
    }
}

impl Drop for TokenRemoved {
    fn drop(&mut self) {
        std::fs::rename(&self.to, &self.from).unwrap();
    }
}

fn assert_unavailable(result: Result<p256::ecdsa::Signature, KeyError>) -> KeyError {
    let err = result.expect_err("the HSM is away, signing must fail");
    assert!(err.is_unavailable(), "expected Unavailable, got {err:?}");
    err
}

#[test]
fn token_files_removed_and_restored() {
    let _serial = serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("removed")).unwrap();
    let vk = key.verifying_key();
    let sig = key.try_sign_checked(b"before").unwrap();
    vk.verify(b"before", &sig).unwrap();

    {
        let _away = TokenRemoved::new();
        let err = assert_unavailable(key.try_sign_checked(b"during"));
        assert!(err.to_string().contains("unavailable"), "{err}");
        // Calls during the outage keep failing cleanly (and fast: no module restart in a loop).
        for _ in 0..3 {
            assert_unavailable(key.try_sign_checked(b"during"));
            assert!(hsm.health().unwrap_err().is_unavailable());
        }
    }
    // Files are back. The module is re-initialised at most once per REINIT_BACKOFF.
    std::thread::sleep(REINIT_BACKOFF);
    let sig = key.try_sign_checked(b"after").unwrap();
    vk.verify(b"after", &sig).unwrap();
    hsm.health().unwrap();
}

#[test]
fn token_removed_once_recovers_on_the_next_call() {
    let _serial = serial();
    std::thread::sleep(REINIT_BACKOFF); // let an earlier scenario's backoff expire
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("blip")).unwrap();
    key.try_sign_checked(b"before").unwrap();
    {
        let _away = TokenRemoved::new();
        assert_unavailable(key.try_sign_checked(b"during"));
    }
    // One failed call during the outage, then the very next call after the restore works.
    let sig = key.try_sign_checked(b"after").unwrap();
    key.verifying_key().verify(b"after", &sig).unwrap();
}

#[test]
fn module_finalised_by_someone_else() {
    let _serial = serial();
    let token = TestToken::shared();
    let hsm = token.open();
    let key = hsm.generate_p384(&unique_label("finalised")).unwrap();
    key.try_sign_checked(b"before").unwrap();

    // A second handle on the same module in this process shares SoftHSM's state: finalising it
    // pulls the module out from under `hsm`.
    let other = Pkcs11::new(token.module()).unwrap();
    other.finalize().unwrap();

    let err = key.try_sign_checked(b"during").unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        err.to_string().contains("CKR_CRYPTOKI_NOT_INITIALIZED"),
        "{err}"
    );
    let sig = key.try_sign_checked(b"after").unwrap();
    key.verifying_key().verify(b"after", &sig).unwrap();
}

#[test]
fn logged_out_by_someone_else() {
    let _serial = serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("logout")).unwrap();
    key.try_sign_checked(b"before").unwrap();
    hsm.with_raw_session(|s| s.logout()).unwrap().unwrap();
    let err = key.try_sign_checked(b"during").unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let sig = key.try_sign_checked(b"after").unwrap();
    key.verifying_key().verify(b"after", &sig).unwrap();
}

#[test]
fn concurrent_signers_ride_out_an_outage() {
    let _serial = serial();
    std::thread::sleep(REINIT_BACKOFF);
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("ride")).unwrap();
    let vk = key.verifying_key();
    let stop = AtomicBool::new(false);
    let (ok, unavailable) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let key = key.clone();
            let (stop, ok, unavailable) = (&stop, &ok, &unavailable);
            scope.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let msg = format!("{t}/{i}");
                    match key.try_sign_checked(msg.as_bytes()) {
                        Ok(sig) => {
                            vk.verify(msg.as_bytes(), &sig).unwrap();
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.is_unavailable() => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("only Unavailable is acceptable during an outage: {e:?}"),
                    }
                    i += 1;
                }
            });
        }
        std::thread::sleep(Duration::from_millis(200));
        {
            let _away = TokenRemoved::new();
            std::thread::sleep(Duration::from_millis(300));
        }
        // Restored: wait until signing works again, then a little more, then stop.
        let back = Instant::now();
        let before = ok.load(Ordering::Relaxed);
        while ok.load(Ordering::Relaxed) < before + 100 {
            assert!(
                back.elapsed() < REINIT_BACKOFF * 5,
                "signing did not come back after the token was restored"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(
        unavailable.load(Ordering::Relaxed) > 0,
        "the outage was noticed"
    );
    assert!(ok.load(Ordering::Relaxed) > 100);
}

/// Two handles on one token (the server has one per key URI). Only `a` notices the outage, and
/// its reconnect finalises and initialises the module again; `b`'s pooled sessions and cached
/// object handles are from the old initialisation, where the same numbers now name other
/// sessions and other objects. `b` must reconnect and find its key again, never sign with a
/// key that is not its own.
#[test]
fn a_reinitialisation_by_another_handle_never_signs_with_another_key() {
    let _serial = serial();
    std::thread::sleep(REINIT_BACKOFF);
    let token = TestToken::shared();
    let a = token.open();
    let b = token.open();
    let ka = a.generate_p256(&unique_label("alias-a")).unwrap();
    let kb = b.generate_p256(&unique_label("alias-b")).unwrap();
    ka.try_sign_checked(b"before").unwrap();
    kb.try_sign_checked(b"before").unwrap();
    {
        let _away = TokenRemoved::new();
        assert_unavailable(ka.try_sign_checked(b"during"));
    }
    std::thread::sleep(REINIT_BACKOFF);
    let sig = ka.try_sign_checked(b"after").unwrap();
    ka.verifying_key().verify(b"after", &sig).unwrap();
    // `a` opens several sessions in the new initialisation: their numbers are the ones `b`'s
    // pool still holds.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..20 {
                    ka.try_sign_checked(b"busy").unwrap();
                }
            });
        }
    });
    for i in 0..5 {
        let msg = format!("b after the re-initialisation, {i}");
        let sig = kb
            .try_sign_checked(msg.as_bytes())
            .expect("b reconnects by itself");
        kb.verifying_key()
            .verify(msg.as_bytes(), &sig)
            .expect("b signed with a key that is not its own");
    }
}
