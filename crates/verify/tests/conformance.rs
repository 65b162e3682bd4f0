//! The `bundle-verify` cases of sigstore-conformance (shared/reference/testdata): a case whose
//! name ends in `_fail` must be rejected, every other must verify.
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
        let correct = result.is_ok() == expect_ok;
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
