//! `hallmark ca init` and start-up: never overwrite, and say exactly what is missing or wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;

/// Runs a hallmark command expected to fail; returns its stderr.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "{cmd:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_refuses_to_overwrite_and_startup_names_what_is_wrong() {
    let stack = Stack::start(&bin()).unwrap();
    let config = std::fs::read_to_string(stack.config()).unwrap();

    // A second init changes nothing and lists what exists.
    let before = std::fs::read(stack.dir().join("data/ca/root.pem")).unwrap();
    let err = fails(
        stack
            .command()
            .args(["ca", "init", "--config"])
            .arg(stack.config()),
    );
    assert!(err.contains("refusing"), "{err}");
    assert!(
        err.contains("root key") && err.contains("root certificate"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(stack.dir().join("data/ca/root.pem")).unwrap(),
        before
    );

    // Keys present, certificates missing (another data_dir): serve says which file and what to run.
    let other = stack.dir().join("empty-data");
    let cfg = stack.dir().join("missing.yaml");
    std::fs::write(
        &cfg,
        config.replace(
            stack.dir().join("data").to_str().unwrap(),
            other.to_str().unwrap(),
        ),
    )
    .unwrap();
    let err = fails(stack.command().args(["serve", "--config"]).arg(&cfg));
    assert!(
        err.contains("root.pem") || err.contains("issuing.pem"),
        "{err}"
    );
    assert!(err.contains("hallmark ca init"), "{err}");

    // A certificate that does not match its key: the root certificate in place of the issuing one.
    let swapped = stack.dir().join("swapped-data");
    std::fs::create_dir_all(swapped.join("ca")).unwrap();
    std::fs::copy(
        stack.dir().join("data/ca/root.pem"),
        swapped.join("ca/root.pem"),
    )
    .unwrap();
    std::fs::copy(
        stack.dir().join("data/ca/root.pem"),
        swapped.join("ca/issuing.pem"),
    )
    .unwrap();
    let cfg = stack.dir().join("swapped.yaml");
    std::fs::write(
        &cfg,
        config.replace(
            stack.dir().join("data").to_str().unwrap(),
            swapped.to_str().unwrap(),
        ),
    )
    .unwrap();
    let err = fails(stack.command().args(["serve", "--config"]).arg(&cfg));
    assert!(
        err.contains("issuing.pem") && err.to_lowercase().contains("key"),
        "{err}"
    );

    // A wrong PIN is named as such.
    let wrong_pin = stack.dir().join("wrong-pin");
    std::fs::write(&wrong_pin, "not-the-pin\n").unwrap();
    let err = fails(
        stack
            .command()
            .env("HALLMARK_PKCS11_PIN_FILE", &wrong_pin)
            .args(["serve", "--config"])
            .arg(stack.config()),
    );
    assert!(err.contains("PIN"), "{err}");

    // No such token: the error lists the tokens that exist.
    let cfg = stack.dir().join("notoken.yaml");
    std::fs::write(&cfg, config.replace("token=hallmark;", "token=nope;")).unwrap();
    let err = fails(stack.command().args(["serve", "--config"]).arg(&cfg));
    assert!(err.contains("nope") && err.contains("hallmark"), "{err}");
}

#[test]
fn p384_ca_issues_verifiable_certificates() {
    let stack = Stack::start_with(&bin(), "  curve: p384\n").unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, certs) = request_certificate(&stack, &dir, "c", "p384@example.com");
    for (name, pem) in ["leaf.pem", "issuing.pem", "root.pem"].iter().zip(&certs) {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    openssl_verify_chain(&dir);
    let text = run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(dir.join("leaf.pem")));
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");
    let root = run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(dir.join("root.pem")));
    assert!(
        root.contains("NIST CURVE: P-384") || root.contains("secp384r1"),
        "{root}"
    );
}
