//! Signing throughput through SoftHSM: the raw PKCS#11 rate, the same through `Pkcs11Key`
//! (session pool, host hashing, DER encoding), and `Pkcs11Key` from 2 threads.
//!
//! `cargo bench -p hallmark-keys --bench hsm_sign`. Target: (b) within 10% of (a).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use hallmark_keys::cryptoki::mechanism::Mechanism;
use hallmark_keys::cryptoki::object::{Attribute, ObjectClass};
use hallmark_keys::testing::{TestToken, unique_label};
use sha2::{Digest, Sha256};
use signature::Signer;

const RUN: Duration = Duration::from_secs(3);
const WARMUP: Duration = Duration::from_millis(300);
const MESSAGE: &[u8] = &[0x5a; 256];

/// Call `op` until `RUN` has passed; signatures per second.
fn rate(mut op: impl FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < WARMUP {
        op();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let token = TestToken::shared();
    let hsm = token.open();
    let label = unique_label("bench");
    let key = hsm.generate_p256(&label).unwrap();

    // (a) SoftHSM's own rate: C_SignInit + C_Sign (CKM_ECDSA) over a precomputed digest, one
    //     session, no pool, no hashing, no encoding.
    let digest = Sha256::digest(MESSAGE);
    let raw = hsm
        .with_raw_session(|s| {
            let handle = s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .unwrap()[0];
            rate(|| {
                black_box(s.sign(&Mechanism::Ecdsa, handle, &digest).unwrap());
            })
        })
        .unwrap();

    // (b) Through the key handle: pool checkout, host SHA-256, C_Sign, DER encoding.
    let one = rate(|| {
        let sig: p256::ecdsa::DerSignature = key.try_sign(MESSAGE).unwrap();
        black_box(sig);
    });

    // (c) The same from 2 threads sharing the key (each gets its own pooled session).
    let two: f64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let key = key.clone();
                scope.spawn(move || {
                    rate(|| {
                        let sig: p256::ecdsa::DerSignature = key.try_sign(MESSAGE).unwrap();
                        black_box(sig);
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });

    // For reference: the in-memory key (p256 crate, software) on one thread.
    let memory_key = hallmark_keys::generate_memory_p256().unwrap();
    let memory = rate(|| {
        let sig: p256::ecdsa::DerSignature = memory_key.try_sign(MESSAGE).unwrap();
        black_box(sig);
    });

    println!(
        "P-256 ECDSA signatures per second ({}s each):",
        RUN.as_secs()
    );
    println!("  (a) raw C_Sign, CKM_ECDSA, 1 session      {raw:>10.0}");
    println!("  (b) Pkcs11Key Signer<DerSignature>, 1 thr {one:>10.0}");
    println!("  (c) Pkcs11Key Signer<DerSignature>, 2 thr {two:>10.0}");
    println!("      in-memory p256 SigningKey, 1 thread  {memory:>10.0}");
    println!(
        "  b/a = {:.3} (target >= 0.90)   c/b = {:.2}",
        one / raw,
        two / one
    );
}
