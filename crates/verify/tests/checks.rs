//! Each verification check, failing on purpose: every error must name the check that failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ARTIFACT, Deployment, ISSUER, NOW, Options, REPO, SAN, T0, b64};
use hallmark_sigstore::trust::TimeRange;
use hallmark_verify::{
    Artifact, Bundle, Check, CiExtension, IdentityPolicy, Matcher, Policy, PublicKey, Signed,
    Signer, TimeSource, TrustedRoot, Verified, VerifyError, verify,
};
use serde_json::Value;

fn identity() -> Policy {
    Policy::Identity(IdentityPolicy::exact(SAN, ISSUER))
}

fn run(
    bundle: &Value,
    root: &Value,
    artifact: Option<&Artifact<'_>>,
    policy: &Policy,
) -> Result<Verified, VerifyError> {
    let bundle = Bundle::from_json(bundle.to_string().as_bytes())?;
    let root = TrustedRoot::from_json(root.to_string().as_bytes())?;
    verify(&bundle, artifact, &root, policy, NOW)
}

/// Verifies against the test artifact under the test identity.
fn run_default(bundle: &Value, root: &Value) -> Result<Verified, VerifyError> {
    run(bundle, root, Some(&Artifact::Bytes(ARTIFACT)), &identity())
}

#[track_caller]
fn expect_check(result: Result<Verified, VerifyError>, check: Check) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.check(), Some(check), "wrong check failed: {e}");
            let text = e.to_string();
            assert!(text.starts_with(check.name()), "{text}");
            text
        }
        Ok(v) => panic!("verified, expected {check:?} to fail: {v:?}"),
    }
}

/// A deployment, a bundle made with `options`, and the deployment's trusted root.
fn setup(options: Options) -> (Deployment, Value, Value) {
    let d = Deployment::new(1);
    let bundle = d.bundle(&options);
    let root = d.trusted_root();
    (d, bundle, root)
}

fn happy() -> (Deployment, Value, Value) {
    setup(Options::default())
}

#[test]
fn happy_path_reports_what_was_verified() {
    let (d, bundle, root) = happy();
    let v = run_default(&bundle, &root).unwrap();
    match &v.signer {
        Signer::Certificate {
            san,
            issuer,
            authority,
            ..
        } => {
            assert_eq!(san, SAN);
            assert_eq!(issuer, ISSUER);
            assert_eq!(authority, "https://ca.test");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(v.signing_times.len(), 1);
    assert_eq!(v.signing_times[0].unix, T0);
    assert!(matches!(
        v.signing_times[0].source,
        TimeSource::TransparencyLog { .. }
    ));
    assert_eq!(v.entries[0].log_index, 3);
    assert_eq!(v.entries[0].tree_size, Some(5));
    assert_eq!(v.entries[0].log_id, d.log_id());
    assert!(matches!(v.signed, Signed::Artifact { .. }));

    // The digest form verifies too.
    let digest = format!("sha256:{}", hex::encode(common::sha256(ARTIFACT)));
    let artifact = Artifact::parse_digest(&digest).unwrap();
    run(&bundle, &root, Some(&artifact), &identity()).unwrap();
}

#[test]
fn tampered_artifact() {
    let (_, mut bundle, root) = happy();
    let other = Artifact::Bytes(b"another artifact");
    expect_check(
        run(&bundle, &root, Some(&other), &identity()),
        Check::ArtifactDigest,
    );
    // Without the digest hint, the signature itself fails.
    bundle["messageSignature"]
        .as_object_mut()
        .unwrap()
        .remove("messageDigest");
    expect_check(
        run(&bundle, &root, Some(&other), &identity()),
        Check::ArtifactSignature,
    );
    expect_check(
        run(&bundle, &root, None, &identity()),
        Check::ArtifactDigest,
    );
}

#[test]
fn wrong_identity_issuer_or_extension() {
    let (_, bundle, root) = happy();
    let art = Artifact::Bytes(ARTIFACT);
    let wrong_san = Policy::Identity(IdentityPolicy::exact("https://ci.example/other", ISSUER));
    let text = expect_check(run(&bundle, &root, Some(&art), &wrong_san), Check::Identity);
    assert!(text.contains(SAN), "{text}");
    let wrong_issuer = Policy::Identity(IdentityPolicy::exact(SAN, "https://other.example"));
    expect_check(
        run(&bundle, &root, Some(&art), &wrong_issuer),
        Check::Issuer,
    );

    let mut policy = IdentityPolicy {
        san: Matcher::regex(r"https://ci\.example/org/.*").unwrap(),
        issuer: Matcher::exact(ISSUER),
        extensions: vec![(CiExtension::SourceRepositoryUri, REPO.to_owned())],
    };
    run(
        &bundle,
        &root,
        Some(&art),
        &Policy::Identity(policy.clone()),
    )
    .unwrap();
    // A regex must match the whole SAN.
    policy.san = Matcher::regex("https://ci.example/org").unwrap();
    expect_check(
        run(
            &bundle,
            &root,
            Some(&art),
            &Policy::Identity(policy.clone()),
        ),
        Check::Identity,
    );
    policy.san = Matcher::exact(SAN);
    policy.extensions = vec![(
        CiExtension::SourceRepositoryUri,
        "https://git.example/evil".into(),
    )];
    expect_check(
        run(
            &bundle,
            &root,
            Some(&art),
            &Policy::Identity(policy.clone()),
        ),
        Check::Extension,
    );
    policy.extensions = vec![(CiExtension::SourceRepositoryRef, "refs/heads/main".into())];
    expect_check(
        run(&bundle, &root, Some(&art), &Policy::Identity(policy)),
        Check::Extension,
    );
}

#[test]
fn bundle_from_another_trust_root() {
    let (_, bundle, _) = happy();
    let other = Deployment::new(50);
    let art = Artifact::Bytes(ARTIFACT);
    // Another deployment's log is unknown.
    expect_check(
        run(&bundle, &other.trusted_root(), Some(&art), &identity()),
        Check::LogKey,
    );
    // Same log, another CA: the chain fails.
    let mut root = other.trusted_root();
    root["tlogs"] = happy().2["tlogs"].clone();
    expect_check(
        run(&bundle, &root, Some(&art), &identity()),
        Check::CertificateChain,
    );
    // Same log and CA, another CT log: the SCT fails.
    let mut root = happy().2;
    root["ctlogs"] = other.trusted_root()["ctlogs"].clone();
    expect_check(run(&bundle, &root, Some(&art), &identity()), Check::Sct);
}

#[test]
fn tampered_inclusion_proof() {
    let (_, mut bundle, root) = happy();
    let hashes = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"];
    hashes[1] = Value::String(b64(&[7u8; 32]));
    let text = expect_check(run_default(&bundle, &root), Check::InclusionProof);
    assert!(text.contains("computed root"), "{text}");
}

#[test]
fn tampered_checkpoint() {
    let (_, mut bundle, root) = happy();
    let cp = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
        ["envelope"];
    // Signed by another key under the same name.
    let other = Deployment::new(50);
    let key_id =
        hallmark_tlog::note::NoteKeyId::ecdsa("rekor.test", other.rekor_key.verifying_key())
            .unwrap();
    let text = cp
        .as_str()
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    let checkpoint = hallmark_tlog::note::Checkpoint::parse(&text).unwrap();
    *cp = Value::String(checkpoint.sign(&key_id, &other.rekor_key).unwrap());
    expect_check(run_default(&bundle, &root), Check::Checkpoint);
}

#[test]
fn tampered_set_and_integrated_time() {
    let (_, bundle, root) = happy();
    let art = Artifact::Bytes(ARTIFACT);
    let mut tampered = bundle.clone();
    tampered["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
        Value::String((T0 + 1).to_string());
    expect_check(
        run(&tampered, &root, Some(&art), &identity()),
        Check::SignedEntryTimestamp,
    );

    let (_, future, _) = setup(Options {
        integrated_time: NOW + 10,
        leaf_not_after: NOW + 600,
        ..Options::default()
    });
    expect_check(
        run(&future, &root, Some(&art), &identity()),
        Check::IntegratedTime,
    );
}

#[test]
fn certificate_outside_validity() {
    let (_, bundle, root) = setup(Options {
        leaf_not_before: T0 - 1200,
        leaf_not_after: T0 - 600,
        ..Options::default()
    });
    let text = expect_check(run_default(&bundle, &root), Check::CertificateValidity);
    assert!(
        text.contains("outside the certificate's validity"),
        "{text}"
    );
}

#[test]
fn missing_sct() {
    let (_, bundle, root) = setup(Options {
        sct: false,
        ..Options::default()
    });
    let text = expect_check(run_default(&bundle, &root), Check::Sct);
    assert!(text.contains("no embedded SCT"), "{text}");
}

#[test]
fn log_key_validity_ends_inclusively() {
    let d = Deployment::new(1);
    let bundle = d.bundle(&Options::default());
    let art = Artifact::Bytes(ARTIFACT);
    let until = |end| d.trusted_root_with(TimeRange::between(T0 - 86_400, end).unwrap());
    run(&bundle, &until(T0), Some(&art), &identity()).unwrap();
    expect_check(
        run(&bundle, &until(T0 - 1), Some(&art), &identity()),
        Check::LogKey,
    );
}

#[test]
fn managed_key_policy() {
    let (d, bundle, root) = setup(Options {
        managed_key: true,
        ..Options::default()
    });
    let art = Artifact::Bytes(ARTIFACT);
    let key = PublicKey::from_pem(&common::pem_key(&common::spki(&d.leaf_key))).unwrap();
    let v = run(&bundle, &root, Some(&art), &Policy::Key(key)).unwrap();
    assert!(matches!(v.signer, Signer::Key { .. }));

    let wrong = PublicKey::from_pem(&common::pem_key(&common::spki(&common::key(99)))).unwrap();
    expect_check(
        run(&bundle, &root, Some(&art), &Policy::Key(wrong.clone())),
        Check::ArtifactSignature,
    );
    // A key bundle under an identity policy, and a certificate bundle under a key policy.
    expect_check(run(&bundle, &root, Some(&art), &identity()), Check::Key);
    let (_, cert_bundle, _) = happy();
    expect_check(
        run(&cert_bundle, &root, Some(&art), &Policy::Key(wrong)),
        Check::Key,
    );
}

#[test]
fn dsse_statement() {
    let (_, bundle, root) = setup(Options {
        dsse: true,
        ..Options::default()
    });
    let v = run_default(&bundle, &root).unwrap();
    assert!(matches!(v.signed, Signed::Dsse { .. }));
    run(&bundle, &root, None, &identity()).unwrap();
    expect_check(
        run(
            &bundle,
            &root,
            Some(&Artifact::Bytes(b"not a subject")),
            &identity(),
        ),
        Check::ArtifactDigest,
    );
    // Another payload under the same signature.
    let mut tampered = bundle.clone();
    tampered["dsseEnvelope"]["payload"] = Value::String(b64(b"{}"));
    expect_check(
        run(&tampered, &root, None, &identity()),
        Check::DsseSignature,
    );
}

#[test]
fn entry_must_match_the_bundle() {
    let d = Deployment::new(1);
    let root = d.trusted_root();
    let art = Artifact::Bytes(ARTIFACT);
    // Swap in the entry of another signature by the same signer.
    let mut bundle = d.bundle(&Options::default());
    let dsse = d.bundle(&Options {
        dsse: true,
        ..Options::default()
    });
    bundle["verificationMaterial"]["tlogEntries"] =
        dsse["verificationMaterial"]["tlogEntries"].clone();
    expect_check(
        run(&bundle, &root, Some(&art), &identity()),
        Check::LogEntry,
    );
}

#[test]
fn bundle_chain_with_root_is_rejected() {
    let (d, mut bundle, root) = happy();
    let leaf = bundle["verificationMaterial"]["certificate"]["rawBytes"].clone();
    let vm = bundle["verificationMaterial"].as_object_mut().unwrap();
    vm.remove("certificate");
    vm.insert(
        "x509CertificateChain".into(),
        serde_json::json!({"certificates": [{"rawBytes": leaf}, {"rawBytes": b64(&d.root_der)}]}),
    );
    bundle["mediaType"] =
        Value::String("application/vnd.dev.sigstore.bundle+json;version=0.2".into());
    expect_check(run_default(&bundle, &root), Check::CertificateChain);
    // v0.3 must not carry a chain at all.
    bundle["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle.v0.3+json".into());
    let err = Bundle::from_json(bundle.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, VerifyError::Parse { .. }), "{err}");
}

#[test]
fn parse_errors_name_the_field() {
    let (_, bundle, root) = happy();
    let mut b = bundle.clone();
    b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = Value::String("-3".into());
    let e = Bundle::from_json(b.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("tlogEntries[0].logIndex"), "{e}");
    // Proto3 JSON leaves a zero index out (sigstore-js does, for a log's first entry): absent
    // parses as 0, which this entry (index 3) then fails on, as a check rather than a parse
    // error. (The end-to-end test `sigstore_js.rs` verifies a real index-0 bundle.)
    let mut b = bundle.clone();
    let entry = b["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap();
    entry.remove("logIndex");
    entry["inclusionProof"]
        .as_object_mut()
        .unwrap()
        .remove("logIndex");
    let e = run_default(&b, &root).unwrap_err();
    assert!(matches!(e, VerifyError::Check { .. }), "{e}");
    let mut b = bundle.clone();
    b["unexpected"] = Value::Bool(true);
    assert!(Bundle::from_json(b.to_string().as_bytes()).is_err());
    let mut b = bundle;
    b["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle.v0.4+json".into());
    let e = Bundle::from_json(b.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("mediaType"), "{e}");
    assert!(Artifact::parse_digest("sha512:00").is_err());
    assert!(Matcher::regex("(").is_err());
}

/// One parsed trusted root verifying many bundles (as `hallmark sign` does) remembers the
/// certificate chains and SCTs that verified, and nothing else: every other check still runs,
/// and a certificate it has not seen is checked in full.
#[test]
fn a_reused_trusted_root_still_checks_everything_it_has_not_seen() {
    let d = Deployment::new(1);
    let root = TrustedRoot::from_json(d.trusted_root().to_string().as_bytes()).unwrap();
    let check = |bundle: &Value| {
        let bundle = Bundle::from_json(bundle.to_string().as_bytes())?;
        verify(
            &bundle,
            Some(&Artifact::Bytes(ARTIFACT)),
            &root,
            &identity(),
            NOW,
        )
    };
    let good = d.bundle(&Options::default());
    for _ in 0..3 {
        check(&good).unwrap();
    }
    // Same certificate, other parts tampered: caught as before.
    let mut b = good.clone();
    b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] =
        Value::String(b64(&[1u8; 71]));
    expect_check(check(&b), Check::SignedEntryTimestamp);
    let mut b = good.clone();
    b["messageSignature"]["signature"] = Value::String(b64(&[2u8; 70]));
    expect_check(check(&b), Check::ArtifactSignature);
    // Certificates from the same CA it has not seen: checked in full.
    let no_sct = d.bundle(&Options {
        sct: false,
        ..Options::default()
    });
    expect_check(check(&no_sct), Check::Sct);
    let expired = d.bundle(&Options {
        leaf_not_before: T0 - 1200,
        leaf_not_after: T0 - 600,
        ..Options::default()
    });
    expect_check(check(&expired), Check::CertificateValidity);
    check(&good).unwrap();
}

/// An auditor reads a certificate's identity without verifying it, and matches it with the same
/// policy type verification uses; a precertificate's TBS reads the same as the certificate.
#[test]
fn certificate_identity_is_read_and_matched() {
    use der::{Decode as _, Encode as _};
    use hallmark_verify::CertificateIdentity;
    let d = Deployment::new(1);
    let leaf = d.leaf(&Options::default());
    let id = CertificateIdentity::from_certificate_der(&leaf).unwrap();
    assert_eq!(id.sans, vec![SAN.to_owned()]);
    assert_eq!(id.issuer.as_deref(), Some(ISSUER));
    assert_eq!(id.extension(CiExtension::SourceRepositoryUri), Some(REPO));
    assert_eq!(id.not_after - id.not_before, 600);
    let tbs = x509_cert::Certificate::from_der(&leaf)
        .unwrap()
        .tbs_certificate()
        .to_der()
        .unwrap();
    assert_eq!(CertificateIdentity::from_tbs_der(&tbs).unwrap(), id);

    assert!(IdentityPolicy::exact(SAN, ISSUER).matches(&id));
    assert!(!IdentityPolicy::exact("someone-else@example.com", ISSUER).matches(&id));
    assert!(!IdentityPolicy::exact(SAN, "https://other.example").matches(&id));
    let mut pinned = IdentityPolicy::exact(SAN, ISSUER);
    pinned.san = Matcher::regex(".*").unwrap();
    pinned.extensions.push((
        CiExtension::SourceRepositoryUri,
        "https://elsewhere".to_owned(),
    ));
    assert!(!pinned.matches(&id));
    assert!(CertificateIdentity::from_certificate_der(b"junk").is_err());
}
