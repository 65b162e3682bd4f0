//! Interop with cosign 3 (built from its Go module by `scripts/test.sh`, `ensure_cosign`): an
//! unmodified cosign signs a file (`sign-blob`) and attests a SLSA provenance predicate about it
//! (`attest-blob`) against a running Hallmark, from Hallmark's own signing config and trusted
//! root (the two halves of `hallmark trust-root --client-trust-config`) and a token from the
//! development issuer; the entries land in Hallmark's log. cosign verifies them
//! (`verify-blob`, `verify-blob-attestation`) and refuses another identity, another issuer and
//! a tampered file; `hallmark verify` verifies cosign's bundles, and cosign verifies the bundles
//! of `hallmark sign` and `hallmark attest`.
//!
//! The first test uses the Rekor v1 log. The second runs the same round trips on the Rekor v2
//! log with an RFC 3161 timestamp from Hallmark's TSA (cosign >= 3.1 requires one with v2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "release@example.com";
const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// The cosign version `scripts/lib.sh` pins (`COSIGN_VERSION=`).
fn pinned_cosign_version() -> String {
    include_str!("../../../scripts/lib.sh")
        .lines()
        .find_map(|l| l.strip_prefix("COSIGN_VERSION="))
        .expect("scripts/lib.sh pins COSIGN_VERSION")
        .trim()
        .to_owned()
}

/// The cosign binary: `HALLMARK_COSIGN`, else the pinned build under `.tools/`. Fails loudly when
/// it is missing or is not the pinned version.
fn cosign_bin() -> PathBuf {
    const HINT: &str = "run ./scripts/test.sh (its ensure_cosign builds the pinned cosign into \
                        .tools/ and sets HALLMARK_COSIGN)";
    let version = pinned_cosign_version();
    let path = std::env::var_os("HALLMARK_COSIGN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../.tools/cosign-{version}/cosign"))
        });
    let out = Command::new(&path).arg("version").output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => panic!(
            "cannot run cosign at {} ({other:?}): {HINT}",
            path.display()
        ),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("GitVersion:") && l.trim_end().ends_with(&format!("v{version}"))),
        "{} is not cosign v{version}:\n{text}\n{HINT}",
        path.display()
    );
    path
}

/// A cosign command with nothing from the test's own environment that could change what it
/// signs with or trusts: no ambient token sources, no TUF cache or Docker config from $HOME.
fn cosign(stack: &Stack) -> Command {
    let mut c = Command::new(cosign_bin());
    for var in AMBIENT_TOKEN_VARS.iter().chain(&[
        "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
        "SIGSTORE_REKOR_PUBLIC_KEY",
        "SIGSTORE_ROOT_FILE",
    ]) {
        c.env_remove(var);
    }
    let home = stack.dir().join("cosign-home");
    std::fs::create_dir_all(&home).unwrap();
    c.env("HOME", &home)
        .env("TUF_ROOT", home.join("tuf"))
        .current_dir(stack.dir());
    c
}

/// Which of Hallmark's logs cosign writes to.
#[derive(Clone, Copy, Debug)]
enum Rekor {
    /// Rekor v1 (`/api/v1/log/entries`), no timestamp authority.
    V1,
    /// Rekor v2 (`/api/v2/log/entries`) and the TSA (`/api/v1/timestamp`).
    V2WithTsa,
}

/// The two documents cosign reads, cut from `hallmark trust-root --client-trust-config`.
struct CosignTrust {
    trusted_root: PathBuf,
    signing_config: PathBuf,
}

/// Writes the stack's trusted root as is, and its signing config narrowed to the one log
/// version `rekor` names (cosign picks the highest version it supports, so both would mean v2),
/// with the TSA for v2 and none for v1.
fn cosign_trust(stack: &Stack, rekor: Rekor) -> (PathBuf, CosignTrust) {
    let dir = stack.dir();
    let tc = dir.join("trust-config.json");
    write_trust_config(stack, &tc, None);
    let doc: Value = serde_json::from_slice(&std::fs::read(&tc).unwrap()).unwrap();
    let trusted_root = doc["trustedRoot"].clone();
    let mut signing_config = doc["signingConfig"].clone();
    assert_eq!(
        signing_config["mediaType"],
        "application/vnd.dev.sigstore.signingconfig.v0.2+json"
    );
    let major = match rekor {
        Rekor::V1 => 1,
        Rekor::V2WithTsa => 2,
    };
    let logs: Vec<Value> = signing_config["rekorTlogUrls"]
        .as_array()
        .unwrap_or_else(|| panic!("no rekorTlogUrls in {signing_config}"))
        .iter()
        .filter(|s| s["majorApiVersion"] == major)
        .cloned()
        .collect();
    assert_eq!(
        logs.len(),
        1,
        "one Rekor v{major} service in the signing config: {signing_config}"
    );
    assert_eq!(logs[0]["url"], stack.url.as_str());
    signing_config["rekorTlogUrls"] = Value::Array(logs);
    match rekor {
        Rekor::V1 => {
            signing_config["tsaUrls"] = json!([]);
        }
        Rekor::V2WithTsa => {
            let tsa = &signing_config["tsaUrls"];
            assert_eq!(
                tsa.as_array().map(Vec::len),
                Some(1),
                "one TSA in the signing config: {signing_config}"
            );
            assert_eq!(tsa[0]["url"], format!("{}/api/v1/timestamp", stack.url));
            assert_eq!(tsa[0]["majorApiVersion"], 1);
            assert_eq!(
                trusted_root["timestampAuthorities"]
                    .as_array()
                    .map(Vec::len),
                Some(1),
                "the TSA in the trusted root: {trusted_root}"
            );
        }
    }
    let trust = CosignTrust {
        trusted_root: dir.join("trusted_root.json"),
        signing_config: dir.join("signing_config.json"),
    };
    std::fs::write(&trust.trusted_root, trusted_root.to_string()).unwrap();
    std::fs::write(&trust.signing_config, signing_config.to_string()).unwrap();
    (tc, trust)
}

/// A development token for `email`, in a file (cosign's `--identity-token` takes a path, which
/// keeps the token out of argv).
fn token_file(stack: &Stack, email: &str) -> PathBuf {
    let path = stack.dir().join(format!("{email}.jwt"));
    std::fs::write(&path, email_token(stack, email)).unwrap();
    path
}

/// `cosign SUBCOMMAND` (`sign-blob`, `attest-blob`) signing with Hallmark's signing config
/// and trusted root and the token in `token`, the bundle written to `bundle`.
fn cosign_signer(
    stack: &Stack,
    trust: &CosignTrust,
    subcommand: &str,
    token: &Path,
    bundle: &Path,
) -> Command {
    let mut c = cosign(stack);
    c.args([subcommand, "--yes", "--signing-config"])
        .arg(&trust.signing_config)
        .arg("--trusted-root")
        .arg(&trust.trusted_root)
        .arg("--identity-token")
        .arg(token)
        .arg("--bundle")
        .arg(bundle);
    c
}

/// `cosign sign-blob` of `file`.
fn cosign_sign_blob(stack: &Stack, trust: &CosignTrust, token: &Path, file: &Path, bundle: &Path) {
    run(cosign_signer(stack, trust, "sign-blob", token, bundle).arg(file));
}

/// `cosign attest-blob` of a SLSA provenance v1 `predicate` about `file`.
fn cosign_attest_blob(
    stack: &Stack,
    trust: &CosignTrust,
    token: &Path,
    predicate: &Path,
    file: &Path,
    bundle: &Path,
) {
    run(cosign_signer(stack, trust, "attest-blob", token, bundle)
        .arg("--predicate")
        .arg(predicate)
        .args(["--type", SLSA_PROVENANCE_V1])
        .arg(file));
}

/// `cosign verify-blob` (or `verify-blob-attestation` with `--type`, when `predicate_type` is
/// given) of `file` against `bundle`, the trusted root and an exact identity and issuer.
fn cosign_verify(
    stack: &Stack,
    trust: &CosignTrust,
    predicate_type: Option<&str>,
    file: &Path,
    bundle: &Path,
    identity: &str,
    issuer: &str,
) -> Output {
    let mut c = cosign(stack);
    match predicate_type {
        None => c.arg("verify-blob"),
        Some(t) => c.args(["verify-blob-attestation", "--type", t]),
    };
    c.arg("--bundle")
        .arg(bundle)
        .arg("--trusted-root")
        .arg(&trust.trusted_root)
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ])
        .arg(file)
        .output()
        .unwrap()
}

/// The bundle's one log entry, checked: a v0.3 bundle, the expected kind and version; for v1
/// the log serves the same canonicalized body at the same index, for v2 the inclusion proof
/// carries a checkpoint, the log's checkpoint covers the index and the bundle has a signed
/// timestamp. Returns the log index.
fn assert_logged(stack: &Stack, bundle: &Path, rekor: Rekor, kind: &str) -> u64 {
    let doc: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    assert_eq!(
        doc["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json",
        "{doc}"
    );
    let entries = doc["verificationMaterial"]["tlogEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("no tlogEntries in {doc}"));
    assert_eq!(entries.len(), 1, "{doc}");
    let entry = &entries[0];
    // protojson: an int64 as a string, and left out when 0 (cosign's Go writer does that).
    let index: u64 = entry
        .get("logIndex")
        .map_or(0, |i| i.as_str().unwrap().parse().unwrap());
    let body = STANDARD
        .decode(entry["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    match rekor {
        Rekor::V1 => {
            assert_eq!(entry["kindVersion"]["kind"], kind, "{entry}");
            assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
            let (status, text) = stack
                .get(&format!("/api/v1/log/entries?logIndex={index}"))
                .unwrap();
            assert_eq!(status, 200, "{text}");
            let served: Value = serde_json::from_str(&text).unwrap();
            let (_, served) = served.as_object().unwrap().iter().next().unwrap();
            assert_eq!(
                STANDARD.decode(served["body"].as_str().unwrap()).unwrap(),
                body,
                "the log serves the bundle's entry at index {index}"
            );
        }
        Rekor::V2WithTsa => {
            assert_eq!(
                entry["kindVersion"],
                json!({"kind": kind, "version": "0.0.2"}),
                "{entry}"
            );
            assert!(
                entry["inclusionProof"]["checkpoint"]["envelope"].is_string(),
                "{entry}"
            );
            // The log's current checkpoint (C2SP: origin, then the tree size) covers the entry.
            let (status, checkpoint) = stack.get("/checkpoint").unwrap();
            assert_eq!(status, 200, "{checkpoint}");
            let size: u64 = checkpoint
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| panic!("no tree size in the checkpoint:\n{checkpoint}"));
            assert!(size > index, "checkpoint size {size}, entry {index}");
            assert_eq!(
                doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                    .as_array()
                    .map(Vec::len),
                Some(1),
                "{doc}"
            );
        }
    }
    index
}

/// A SLSA provenance v1 predicate.
fn write_provenance(dir: &Path) -> PathBuf {
    let path = dir.join("provenance.json");
    std::fs::write(
        &path,
        json!({
            "buildDefinition": {"buildType": "https://hallmark.local/ci/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://hallmark.local/runner"}}
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// Every round trip, on the log `rekor` names.
fn cosign_round_trips(rekor: Rekor) {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (tc, trust) = cosign_trust(&stack, rekor);
    let token = token_file(&stack, EMAIL);
    let issuer = stack.issuer();
    let artifact = dir.join("release.tar.gz");
    std::fs::write(&artifact, b"the release\n").unwrap();
    let tampered = dir.join("tampered.tar.gz");
    std::fs::write(&tampered, b"the release!\n").unwrap();

    // cosign sign-blob -> in the log; cosign and hallmark verify it.
    let signed = dir.join("cosign.sigstore.json");
    cosign_sign_blob(&stack, &trust, &token, &artifact, &signed);
    let first = assert_logged(&stack, &signed, rekor, "hashedrekord");
    assert_ok(
        "cosign verify-blob of its own bundle",
        &cosign_verify(&stack, &trust, None, &artifact, &signed, EMAIL, &issuer),
    );
    assert_ok(
        "hallmark verify of cosign's bundle",
        &hallmark_verify(&stack, &tc, &artifact, &signed, EMAIL),
    );
    // Refused, and for the reason given (a part of the message).
    let refused = |what: &str, out: Output, reason: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what} verified:\n{stderr}");
        assert!(
            stderr.contains(reason),
            "{what}: refused, but not for {reason:?}:\n{stderr}"
        );
    };
    refused(
        "cosign verify-blob, tampered file",
        cosign_verify(&stack, &trust, None, &tampered, &signed, EMAIL, &issuer),
        "invalid signature",
    );
    refused(
        "cosign verify-blob, another identity",
        cosign_verify(
            &stack,
            &trust,
            None,
            &artifact,
            &signed,
            "mallory@example.com",
            &issuer,
        ),
        "expected SAN value \"mallory@example.com\"",
    );
    refused(
        "cosign verify-blob, another issuer",
        cosign_verify(
            &stack,
            &trust,
            None,
            &artifact,
            &signed,
            EMAIL,
            "https://accounts.google.com",
        ),
        "expected issuer value \"https://accounts.google.com\"",
    );
    refused(
        "hallmark verify of cosign's bundle, tampered file",
        hallmark_verify(&stack, &tc, &tampered, &signed, EMAIL),
        "verification failed: artifact digest",
    );

    // cosign attest-blob -> in the log; cosign and hallmark verify it.
    let predicate = write_provenance(&dir);
    let attested = dir.join("cosign-provenance.sigstore.json");
    cosign_attest_blob(&stack, &trust, &token, &predicate, &artifact, &attested);
    let kind = match rekor {
        Rekor::V1 => "dsse",
        // cosign >= 3.1 logs a DSSE envelope on v2 as a hashedrekord over its PAE.
        Rekor::V2WithTsa => "hashedrekord",
    };
    let second = assert_logged(&stack, &attested, rekor, kind);
    assert!(second > first, "log indexes {first}, {second}");
    let verify_attestation = |file: &Path, bundle: &Path, identity: &str| {
        cosign_verify(
            &stack,
            &trust,
            Some(SLSA_PROVENANCE_V1),
            file,
            bundle,
            identity,
            &issuer,
        )
    };
    // cosign verifies an attestation about `subject`, and refuses it for `other`.
    let attestation_verifies = |whose: &str, bundle: &Path, subject: &Path, other: &Path| {
        assert_ok(
            &format!("cosign verify-blob-attestation of {whose}"),
            &verify_attestation(subject, bundle, EMAIL),
        );
        refused(
            &format!("cosign verify-blob-attestation of {whose}, another subject"),
            verify_attestation(other, bundle, EMAIL),
            "artifact digests do not match",
        );
    };
    attestation_verifies("its own attestation", &attested, &artifact, &tampered);
    refused(
        "cosign verify-blob-attestation, another identity",
        verify_attestation(&artifact, &attested, "mallory@example.com"),
        "expected SAN value \"mallory@example.com\"",
    );
    refused(
        "cosign verify-blob-attestation, another predicate type",
        cosign_verify(
            &stack,
            &trust,
            Some("https://in-toto.io/attestation/link/v0.3"),
            &artifact,
            &attested,
            EMAIL,
            &issuer,
        ),
        "invalid predicate type",
    );
    assert_ok(
        "hallmark verify of cosign's attestation",
        &hallmark_verify(&stack, &tc, &artifact, &attested, EMAIL),
    );
    refused(
        "hallmark verify of cosign's attestation, another subject",
        hallmark_verify(&stack, &tc, &tampered, &attested, EMAIL),
        "verification failed: artifact digest",
    );

    // Another Hallmark's trusted root (its own CA and logs) does not vouch for these bundles:
    // its logs do not hold the entry.
    let other = Stack::start(&bin()).unwrap();
    let (_, other_trust) = cosign_trust(&other, rekor);
    refused(
        "cosign verify-blob with another Hallmark's trusted root",
        cosign_verify(
            &stack,
            &other_trust,
            None,
            &artifact,
            &signed,
            EMAIL,
            &issuer,
        ),
        "not enough verified log entries",
    );
    drop(other);

    // hallmark sign and attest -> cosign verifies them.
    {
        let ours = dir.join("hallmark.tar.gz");
        std::fs::write(&ours, b"signed by hallmark\n").unwrap();
        run(client(&stack, &tc)
            .args(["sign", "--no-login", "--kubernetes-token-file"])
            .arg(dir.join("no-such-k8s-token"))
            .arg("--identity-token-file")
            .arg(&token)
            .arg(&ours));
        let ours_bundle = PathBuf::from(format!("{}.sigstore.json", ours.display()));
        assert_ok(
            "cosign verify-blob of hallmark's bundle",
            &cosign_verify(&stack, &trust, None, &ours, &ours_bundle, EMAIL, &issuer),
        );
        refused(
            "cosign verify-blob of hallmark's bundle, another identity",
            cosign_verify(
                &stack,
                &trust,
                None,
                &ours,
                &ours_bundle,
                "mallory@example.com",
                &issuer,
            ),
            "expected SAN value \"mallory@example.com\"",
        );
        let ours_attestation = dir.join("hallmark-provenance.sigstore.json");
        run(client(&stack, &tc)
            .args(["attest", "--no-login", "--kubernetes-token-file"])
            .arg(dir.join("no-such-k8s-token"))
            .arg("--identity-token-file")
            .arg(&token)
            .arg("--predicate")
            .arg(&predicate)
            .args(["--type", SLSA_PROVENANCE_V1, "--bundle"])
            .arg(&ours_attestation)
            .arg(&ours));
        attestation_verifies(
            "hallmark's attestation",
            &ours_attestation,
            &ours,
            &artifact,
        );
    }
}

#[test]
fn cosign_signs_attests_and_verifies_with_hallmark_on_the_v1_log() {
    cosign_round_trips(Rekor::V1);
}

#[test]
fn cosign_signs_attests_and_verifies_with_hallmark_on_the_v2_log_with_a_tsa() {
    cosign_round_trips(Rekor::V2WithTsa);
}
