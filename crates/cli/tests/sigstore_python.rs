//! Interop with the real client: an unmodified sigstore-python 4.5.1 signs a file, attests a SLSA
//! provenance predicate and signs an arbitrary in-toto statement (DSSE, through its Python API)
//! against a running Hallmark, then verifies each bundle offline with `verify identity`. Tampered
//! artifacts, wrong identities and wrong issuers fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

const EMAIL: &str = "signer@example.com";

fn sigstore(stack: &Stack, tc: &std::path::Path) -> Command {
    let mut c = Command::new(venv_bin("sigstore"));
    c.arg("--trust-config").arg(tc).current_dir(stack.dir());
    c
}

#[test]
fn sigstore_python_signs_attests_and_verifies_against_hallmark() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let tc = dir.join("trust-config.json");
    run(stack
        .command()
        .args(["trust-root", "--config"])
        .arg(stack.config())
        .args(["--url", &stack.url, "--client-trust-config"])
        .arg(&tc));
    let token = stack
        .mint(json!({"sub": EMAIL, "email": EMAIL, "email_verified": true}))
        .unwrap();

    // sign + verify a file
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, b"hello from hallmark\n").unwrap();
    run(sigstore(&stack, &tc)
        .args(["sign", "--identity-token", &token, "--bundle"])
        .arg(dir.join("artifact.sigstore.json"))
        .arg(&artifact));
    let verify = |bundle: &str, file: &std::path::Path, identity: &str, issuer: &str| {
        sigstore(&stack, &tc)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(dir.join(bundle))
            .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
            .arg(file)
            .output()
            .unwrap()
    };
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
    run(sigstore(&stack, &tc)
        .args([
            "attest",
            "--identity-token",
            &token,
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--predicate",
        ])
        .arg(&predicate)
        .arg("--bundle")
        .arg(dir.join("attest.sigstore.json"))
        .arg(&artifact));
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
