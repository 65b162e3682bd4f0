//! The issuance benchmark's measuring code, for any key backend: `hallmark-ca`'s `issue` bench
//! runs it with in-memory keys, `hallmark-server`'s `ca_issue_softhsm` bench with SoftHSM keys.

#![allow(dead_code, unreachable_pub)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ecdsa::elliptic_curve::Generate as _;
use hallmark_ca::{CaSubject, Issuance, IssuingKey};
use hallmark_sigstore::identity::{CiExtensions, Identity, SubjectAltName};
use signature::Signer;

pub const RUN: Duration = Duration::from_secs(3);
pub const WARMUP: Duration = Duration::from_millis(300);

/// Run `op` on `threads` threads for `RUN`; operations per second, all threads together.
pub fn rate(threads: usize, op: impl Fn() + Sync) -> f64 {
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

pub fn identity() -> Identity {
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

pub fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Report issuance rates for one key backend.
pub fn issue_bench<R, I, T>(name: &str, root_key: &R, issuing_key: &I, ct_key: &T)
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
    let log_id = hallmark_sigstore::ct::log_id(&ct_spki);
    let client = p256::ecdsa::SigningKey::try_generate()
        .unwrap()
        .public_key_der()
        .unwrap();
    let identity = identity();

    let issue = |at: SystemTime| {
        let prepared = issuance.prepare(&client, &identity, at).unwrap();
        let sct = hallmark_ca::ct::sign_sct(
            ct_key,
            log_id,
            now_ms(),
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        prepared.finish(&sct, issuing_key).unwrap()
    };
    let issue_one = || {
        black_box(issue(SystemTime::now()));
    };
    // One issued certificate must verify before we time anything.
    {
        let leaf = issue(now);
        let der = hallmark_ca::certificate_der(&leaf).unwrap();
        hallmark_sigstore::ct::verify_embedded_scts(
            &der,
            &issuing_key.public_key_der().unwrap(),
            &ct_spki,
        )
        .unwrap();
        hallmark_ca::verify_issued_by("leaf", &leaf, "intermediate", &inter).unwrap();
    }
    for threads in [1, 2] {
        let r = rate(threads, issue_one);
        println!("{name:<34} prepare+SCT+finish, {threads} thread(s): {r:>8.0} certificates/s");
    }
}
