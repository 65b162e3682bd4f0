//! Interop with the real client: an unmodified sigstore-python 4.5.1 signs a file, attests a SLSA
//! provenance predicate and signs an arbitrary in-toto statement (DSSE, through its Python API)
//! against a running Hallmark, then verifies each bundle offline with `verify identity`. Tampered
//! artifacts, wrong identities and wrong issuers fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

const EMAIL: &str = "signer@example.com";

#[test]
fn sigstore_python_signs_attests_and_verifies_against_hallmark() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let tc = dir.join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let token = email_token(&stack, EMAIL);

    // sign + verify a file
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"hello from hallmark\n").unwrap();
    run(python_sigstore(&stack, &tc)
        .args(["sign", "--identity-token", &token, "--bundle"])
        .arg(dir.join("artifact.sigstore.json"))
        .arg(&artifact));
    let verify = |bundle: &str, file: &std::path::Path, identity: &str, issuer: &str| {
        python_sigstore(&stack, &tc)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(dir.join(bundle))
            .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
            .arg(file)
            .output()
            .unwrap()
    };
    // The signing config offers Hallmark's TSA: sigstore-python (rfc3161-client) asked it for a
    // timestamp, and its verification below checks that token against the trusted root.
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("artifact.sigstore.json")).unwrap())
            .unwrap();
    let stamps = &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(stamps.as_array().map(Vec::len), Some(1), "{bundle}");
    let ok = verify("artifact.sigstore.json", &artifact, EMAIL, &stack.issuer());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // tampered artifact, wrong identity, wrong issuer: all fail
    let tampered = dir.join("tampered.txt");
    std::fs::write(&tampered, b"hello from hallmark!\n").unwrap();
    std::fs::copy(
        dir.join("artifact.sigstore.json"),
        dir.join("tampered.txt.sigstore.json"),
    )
    .unwrap();
    for (what, out) in [
        (
            "tampered artifact",
            verify(
                "tampered.txt.sigstore.json",
                &tampered,
                EMAIL,
                &stack.issuer(),
            ),
        ),
        (
            "wrong identity",
            verify(
                "artifact.sigstore.json",
                &artifact,
                "mallory@example.com",
                &stack.issuer(),
            ),
        ),
        (
            "wrong issuer",
            verify(
                "artifact.sigstore.json",
                &artifact,
                EMAIL,
                "https://accounts.google.com",
            ),
        ),
    ] {
        assert!(!out.status.success(), "{what} verified");
    }

    // attest a SLSA provenance predicate (DSSE), verify it
    let predicate = dir.join("provenance.json");
    std::fs::write(
        &predicate,
        serde_json::to_vec(&json!({
            "buildDefinition": {"buildType": "https://hallmark.local/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://hallmark.local/builder"}}
        }))
        .unwrap(),
    )
    .unwrap();
    python_attest_slsa(
        &stack,
        &tc,
        &token,
        &predicate,
        &dir.join("attest.sigstore.json"),
        &artifact,
    );
    let ok = verify("attest.sigstore.json", &artifact, EMAIL, &stack.issuer());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // an arbitrary in-toto statement through sigstore-python's API
    let out = py(
        r#"
import sys, json, hashlib
from sigstore.models import ClientTrustConfig
from sigstore.sign import SigningContext
from sigstore.oidc import IdentityToken
from sigstore import dsse
tc = ClientTrustConfig.from_json(open(sys.argv[1]).read())
ctx = SigningContext.from_trust_config(tc)
data = open(sys.argv[3], 'rb').read()
stmt = dsse.StatementBuilder().subjects([dsse.Subject(name="artifact.txt", digest={"sha256": hashlib.sha256(data).hexdigest()})]).predicate_type("https://hallmark.local/custom/v1").predicate({"note": "any predicate"}).build()
with ctx.signer(IdentityToken(sys.argv[2]), cache=True) as signer:
    bundle = signer.sign_dsse(stmt)
open(sys.argv[4], 'w').write(bundle.to_json())
print("DSSE OK")
"#,
        &[
            tc.to_str().unwrap(),
            &token,
            artifact.to_str().unwrap(),
            dir.join("statement.sigstore.json").to_str().unwrap(),
        ],
    );
    assert!(out.contains("DSSE OK"), "{out}");
    let ok = verify("statement.sigstore.json", &artifact, EMAIL, &stack.issuer());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// Key rotation: a second authority (new CA, new log keys) publishes a trust root made with
/// `trust-root --previous <the first one's>`. Bundles the first authority made still verify
/// against it with sigstore-python; against the second authority's own root alone they do not.
#[test]
fn bundles_from_before_a_rotation_verify_against_the_merged_trust_root() {
    let old = Stack::start(&bin()).unwrap();
    let new = Stack::start(&bin()).unwrap();
    let dir = new.dir().to_path_buf();
    let old_tc = dir.join("old-trust-config.json");
    write_trust_config(&old, &old_tc, None);
    let token = email_token(&old, EMAIL);
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"signed before the rotation\n").unwrap();
    let bundle = dir.join("artifact.sigstore.json");
    run(python_sigstore(&old, &old_tc)
        .args(["sign", "--identity-token", &token, "--bundle"])
        .arg(&bundle)
        .arg(&artifact));

    let trust_root = |out: &str, previous: Option<&std::path::Path>| {
        write_trust_config(&new, &dir.join(out), previous);
        dir.join(out)
    };
    let merged = trust_root("merged.json", Some(&old_tc));
    let alone = trust_root("alone.json", None);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(
        doc["trustedRoot"]["certificateAuthorities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Each authority's Rekor v1 and v2 logs; the TSAs likewise.
    assert_eq!(doc["trustedRoot"]["tlogs"].as_array().unwrap().len(), 4);
    assert_eq!(
        doc["trustedRoot"]["timestampAuthorities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(doc["trustedRoot"]["certificateAuthorities"][1]["validFor"]["end"].is_string());
    assert_eq!(doc["signingConfig"]["caUrls"][0]["url"], new.url.as_str());

    let verify = |tc: &std::path::Path| {
        python_sigstore(&new, tc)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle)
            .args([
                "--cert-identity",
                EMAIL,
                "--cert-oidc-issuer",
                &old.issuer(),
            ])
            .arg(&artifact)
            .output()
            .unwrap()
    };
    let ok = verify(&merged);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = verify(&alone);
    assert!(
        !refused.status.success(),
        "a bundle from the retired CA verified against a root that no longer lists it"
    );
}
