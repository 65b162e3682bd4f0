//! Leaf issuance throughput: `prepare` + SCT + `finish` (two ECDSA P-256 signatures per
//! certificate: the CT log's SCT and the CA's certificate signature) with in-memory keys, on 1
//! and 2 threads (the same measurement with SoftHSM keys through PKCS#11 is
//! `hallmark-server`'s `ca_issue_softhsm` bench). Also the pieces: `prepare` alone, and
//! proof-of-possession verification (aws-lc-rs).
//!
//! `cargo bench -p hallmark-ca --bench issue`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use common::{identity, issue_bench, rate};
use ecdsa::elliptic_curve::Generate as _;
use hallmark_ca::{CaSubject, Issuance, IssuingKey};
use signature::Signer;

fn main() {
    // The pieces that do not sign.
    let key = p256::ecdsa::SigningKey::try_generate().unwrap();
    let root = hallmark_ca::root_certificate(
        &key,
        &CaSubject {
            organization: "o".into(),
            common_name: "c".into(),
        },
        SystemTime::now(),
        Duration::from_secs(3600),
    )
    .unwrap();
    let issuance = Issuance::new(&root, &key).unwrap();
    let client = p256::ecdsa::SigningKey::try_generate().unwrap();
    let client_spki = client.public_key_der().unwrap();
    let identity = identity();
    let r = rate(1, || {
        black_box(
            issuance
                .prepare(&client_spki, &identity, SystemTime::now())
                .unwrap(),
        );
    });
    println!(
        "{:<34} prepare only, 1 thread(s):        {r:>8.0} /s",
        "pure"
    );
    let sig: p256::ecdsa::DerSignature = client.sign(identity.challenge.as_bytes());
    let r = rate(1, || {
        black_box(
            hallmark_ca::verify_proof_of_possession(
                &client_spki,
                &identity.challenge,
                sig.as_bytes(),
            )
            .unwrap(),
        );
    });
    println!(
        "{:<34} proof of possession, 1 thread(s): {r:>8.0} /s",
        "aws-lc-rs P-256 verify"
    );

    // (a) In-memory keys.
    issue_bench(
        "(a) in-memory P-256 CA + CT key",
        &p256::ecdsa::SigningKey::try_generate().unwrap(),
        &p256::ecdsa::SigningKey::try_generate().unwrap(),
        &p256::ecdsa::SigningKey::try_generate().unwrap(),
    );
    issue_bench(
        "(a) in-memory P-384 CA, P-256 CT",
        &p384::ecdsa::SigningKey::try_generate().unwrap(),
        &p384::ecdsa::SigningKey::try_generate().unwrap(),
        &p256::ecdsa::SigningKey::try_generate().unwrap(),
    );

    // (b) SoftHSM keys: `cargo bench -p hallmark-server --bench ca_issue_softhsm` (this crate has
    // no key backend).
}
