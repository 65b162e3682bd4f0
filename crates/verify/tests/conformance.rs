//! The `bundle-verify` cases of sigstore-conformance (shared/reference/testdata): a case whose
//! name ends in `_fail` must be rejected by the check listed for it in `FAILING_CHECK`, every other
//! must verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hallmark_verify::{
    Artifact, Bundle, IdentityPolicy, Policy, PublicKey, TrustedRoot, VerifyError, verify,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The cases are verified at the current time, as the clients that run this suite do: after
/// every certificate in them has expired. Never earlier than 2026-06-01, after the newest
/// signing time in the suite (2026-05-13), so that a machine with a clock behind does not see
/// valid entries "in the future".
fn now() -> i64 {
    const NEWEST_CASE_PLUS_MARGIN: i64 = 1_780_272_000;
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since_epoch.as_secs())
        .unwrap()
        .max(NEWEST_CASE_PLUS_MARGIN)
}

/// Cases this verifier gets wrong on purpose, with the reason. Empty: all 70 pass.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// The check that must reject each `_fail` case: a case rejected for another reason (a parse
/// error where a signature check was meant, say) is a wrong outcome, not a pass.
const FAILING_CHECK: &[(&str, &str)] = &[
    ("bundle-empty-certificate-chain_fail", "malformed bundle"),
    ("bundle-from-wrong-instance_fail", "transparency log"),
    ("bundle-invalid-base64-signature_fail", "malformed bundle"),
    ("bundle-malformed-json_fail", "malformed bundle"),
    ("bundle-negative-log-index_fail", "malformed bundle"),
    ("bundle-unknown-version_fail", "malformed bundle"),
    ("bundle-with-root-cert_fail", "certificate chain"),
    ("checkpoint-bad-keyhint_fail", "checkpoint"),
    ("checkpoint-wrong-roothash_fail", "checkpoint"),
    ("dsse-invalid-sig_fail", "DSSE signature"),
    ("dsse-mismatch-envelope_fail", "log entry"),
    ("dsse-mismatch-sig_fail", "log entry"),
    ("inclusion-proof-corrupted-hash_fail", "inclusion proof"),
    ("incorrect-public-key_fail", "log entry"),
    ("integrated-time-in-future_fail", "certificate validity"),
    ("intoto-expired-certificate_fail", "certificate validity"),
    ("intoto-log-entry-mismatch_fail", "log entry"),
    ("intoto-missing-inclusion-proof_fail", "malformed bundle"),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "certificate validity",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "certificate validity",
    ),
    ("invalid-checkpoint-signature_fail", "checkpoint"),
    ("invalid-ct-key_fail", "signed certificate timestamp"),
    ("invalid-inclusion-proof_fail", "malformed bundle"),
    ("managed-key-no-key_fail", "verification key"),
    ("managed-key-wrong-key_fail", "malformed public key"),
    ("message-digest-mismatch_fail", "artifact digest"),
    ("rekor2-checkpoint-missing-log-signature_fail", "checkpoint"),
    ("rekor2-checkpoint-missing-origin_fail", "checkpoint"),
    ("rekor2-checkpoint-missing-root-hash_fail", "checkpoint"),
    ("rekor2-checkpoint-missing-size_fail", "checkpoint"),
    ("rekor2-checkpoint-no-matching-signature_fail", "checkpoint"),
    ("rekor2-dsse-invalid-sig_fail", "DSSE signature"),
    ("rekor2-dsse-mismatch-envelope_fail", "log entry"),
    ("rekor2-dsse-mismatch-sig_fail", "log entry"),
    ("rekor2-no-inclusion-proof_fail", "malformed bundle"),
    ("rekor2-no-timestamp_fail", "signing time"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "signed timestamp",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "signed timestamp",
    ),
    ("rekor2-timestamp-payload-mismatch_fail", "signed timestamp"),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "signed timestamp",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "signed timestamp",
    ),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "certificate validity",
    ),
    ("set-invalid-signature_fail", "signed entry timestamp"),
    ("signature-mismatch_fail", "artifact signature"),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "malformed trusted root",
    ),
    ("wrong-hashedrekord-artifact_fail", "log entry"),
    ("wrong-hashedrekord-cert-and-sig_fail", "log entry"),
    ("wrong-hashedrekord-entry_fail", "log entry"),
    ("wrong-material_fail", "artifact digest"),
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/testdata/sigstore-conformance/bundle-verify")
}

fn read_text(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn run_case(dir: &Path, defaults: &Path) -> Result<(), String> {
    let bundle_json = std::fs::read(dir.join("bundle.sigstore.json")).map_err(|e| e.to_string())?;
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        defaults.join("default_trusted_root.json")
    };
    let root_json = std::fs::read(root_path).map_err(|e| e.to_string())?;
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        defaults.join("a.txt")
    };
    let artifact = std::fs::read(artifact_path).map_err(|e| e.to_string())?;

    let show = |e: VerifyError| e.to_string();
    let root = TrustedRoot::from_json(&root_json).map_err(show)?;
    let bundle = Bundle::from_json(&bundle_json).map_err(show)?;
    let policy = if let Some(pem) = read_text(&dir.join("key.pub")) {
        Policy::Key(PublicKey::from_pem(&pem).map_err(show)?)
    } else {
        Policy::Identity(IdentityPolicy::exact(
            read_text(&dir.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.to_owned()),
            read_text(&dir.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
        ))
    };
    verify(
        &bundle,
        Some(&Artifact::Bytes(&artifact)),
        &root,
        &policy,
        now(),
    )
    .map(|_| ())
    .map_err(show)
}

#[test]
fn sigstore_conformance_bundle_verify() {
    let dir = cases_dir();
    assert!(
        dir.is_dir(),
        "conformance cases not found at {}: the shared test data must be present",
        dir.display()
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bundle.sigstore.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 70, "expected the 70 bundle-verify cases");

    let mut wrong = Vec::new();
    for name in &names {
        let expect_ok = !name.ends_with("_fail");
        let result = run_case(&dir.join(name), &dir);
        let correct = match (&result, expect_ok) {
            (Ok(()), ok) => ok,
            (Err(_), true) => false,
            (Err(e), false) => {
                let check = FAILING_CHECK
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, check)| *check);
                assert!(check.is_some(), "{name}: no expected failing check listed");
                check.is_some_and(|check| e.starts_with(&format!("{check}:")))
            }
        };
        match &result {
            Ok(()) => println!("{} {name}: verified", mark(correct)),
            Err(e) => println!("{} {name}: rejected: {e}", mark(correct)),
        }
        if !correct {
            wrong.push(name.clone());
        }
    }
    let passed = names.len() - wrong.len();
    println!("conformance: {passed}/{} cases correct", names.len());
    let known: Vec<&str> = KNOWN_DIFFERENCES.iter().map(|(n, _)| *n).collect();
    assert_eq!(wrong, known, "cases with an unexpected outcome");
}

fn mark(correct: bool) -> &'static str {
    if correct { "ok  " } else { "FAIL" }
}
