//! Leaf issuance throughput: `prepare` + SCT + `finish` (two ECDSA P-256 signatures per
//! certificate: the CT log's SCT and the CA's certificate signature), with
//! (a) in-memory keys and (b) SoftHSM keys through PKCS#11, on 1 and 2 threads. Also the pieces:
//! `prepare` alone, and proof-of-possession verification (aws-lc-rs).
//!
//! `cargo bench -p hallmark-ca --bench issue`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hallmark_ca::{CaSubject, Issuance, IssuingKey, ct};
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_oidc::{CiExtensions, Identity, SubjectAltName};
use signature::Signer;

const RUN: Duration = Duration::from_secs(3);
const WARMUP: Duration = Duration::from_millis(300);

/// Run `op` on `threads` threads for `RUN`; operations per second, all threads together.
fn rate(threads: usize, op: impl Fn() + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let count = AtomicU64::new(0);
    let warm = Instant::now();
    while warm.elapsed() < WARMUP {
        op();
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op();
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
    });
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn identity() -> Identity {
    Identity {
        issuer: "https://token.actions.githubusercontent.com".into(),
        san: SubjectAltName::Uri(
            "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
        ),
        challenge: "repo:octo/app:ref:refs/tags/v1.2.3".into(),
        subject: "repo:octo/app:ref:refs/tags/v1.2.3".into(),
        extensions: CiExtensions {
            build_signer_uri: Some(
                "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
            ),
            runner_environment: Some("github-hosted".into()),
            source_repository_uri: Some("https://github.com/octo/app".into()),
            source_repository_digest: Some("0123456789abcdef0123456789abcdef01234567".into()),
            source_repository_ref: Some("refs/tags/v1.2.3".into()),
            build_trigger: Some("push".into()),
            ..CiExtensions::default()
        },
        github_v1: None,
    }
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Report issuance rates for one key backend.
fn issue_bench<R, I, T>(name: &str, root_key: &R, issuing_key: &I, ct_key: &T)
where
    R: IssuingKey,
    I: IssuingKey + Sync,
    T: IssuingKey + Signer<p256::ecdsa::DerSignature> + Sync,
{
    let subject = |cn: &str| CaSubject {
        organization: "Hallmark bench".into(),
        common_name: cn.into(),
    };
    let now = SystemTime::now();
    let year = Duration::from_secs(365 * 86_400);
    let root = hallmark_ca::root_certificate(root_key, &subject("root"), now, year).unwrap();
    let inter = hallmark_ca::intermediate_certificate(
        root_key,
        &root,
        &issuing_key.public_key_der().unwrap(),
        &subject("intermediate"),
        now,
        year,
    )
    .unwrap();
    let issuance = Issuance::new(&inter, issuing_key).unwrap();
    let ct_spki = ct_key.public_key_der().unwrap();
    let log_id = ct::log_id(&ct_spki);
    let client = hallmark_keys::generate_memory_p256()
        .unwrap()
        .public_key_der()
        .unwrap();
    let identity = identity();

    let issue_one = || {
        let prepared = issuance
            .prepare(&client, &identity, SystemTime::now())
            .unwrap();
        let sct = ct::sign_sct(
            ct_key,
            log_id,
            now_ms(),
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        black_box(prepared.finish(&sct, issuing_key).unwrap());
    };
    // One issued certificate must verify before we time anything.
    {
        let prepared = issuance.prepare(&client, &identity, now).unwrap();
        let sct = ct::sign_sct(
            ct_key,
            log_id,
            now_ms(),
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        let leaf = prepared.finish(&sct, issuing_key).unwrap();
        let der = hallmark_ca::certificate_der(&leaf).unwrap();
        ct::verify_embedded_scts(&der, &issuing_key.public_key_der().unwrap(), &ct_spki).unwrap();
        hallmark_ca::verify_issued_by("leaf", &leaf, "intermediate", &inter).unwrap();
    }
    for threads in [1, 2] {
        let r = rate(threads, issue_one);
        println!("{name:<34} prepare+SCT+finish, {threads} thread(s): {r:>8.0} certificates/s");
    }
}

fn main() {
    // The pieces that do not sign.
    let key = hallmark_keys::generate_memory_p256().unwrap();
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
    let client = hallmark_keys::generate_memory_p256().unwrap();
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
        &hallmark_keys::generate_memory_p256().unwrap(),
        &hallmark_keys::generate_memory_p256().unwrap(),
        &hallmark_keys::generate_memory_p256().unwrap(),
    );
    issue_bench(
        "(a) in-memory P-384 CA, P-256 CT",
        &hallmark_keys::generate_memory_p384().unwrap(),
        &hallmark_keys::generate_memory_p384().unwrap(),
        &hallmark_keys::generate_memory_p256().unwrap(),
    );

    // (b) SoftHSM keys: the SCT and the certificate are both signed through PKCS#11.
    let hsm = TestToken::shared().open();
    issue_bench(
        "(b) SoftHSM P-256 CA + CT key",
        &hsm.generate_p256(&unique_label("bench-root")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-ct")).unwrap(),
    );
    issue_bench(
        "(b) SoftHSM P-384 CA, P-256 CT",
        &hsm.generate_p384(&unique_label("bench-root")).unwrap(),
        &hsm.generate_p384(&unique_label("bench-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-ct")).unwrap(),
    );
}
