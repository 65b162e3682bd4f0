//! The Rekor v2 log over HTTP, checked from outside: entries posted by hand (openssl signatures,
//! a certificate from this CA), then the served tiles and the tiles the server mirrors to a
//! directory checked by `tests/go/tilecheck`, which uses Go's own transparency-log code
//! (`golang.org/x/mod/sumdb/tlog`) to rebuild inclusion and consistency proofs from tiles alone
//! and check them against the signed checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

const EMAIL: &str = "tiles@example.com";

/// Builds `tests/go/tilecheck` with the Go toolchain on PATH (the test fails if there is none).
fn tilecheck() -> PathBuf {
    go_build("tilecheck")
}

fn run_tilecheck(tool: &Path, args: &[&std::ffi::OsStr]) -> Result<Value, String> {
    let out = Command::new(tool).args(args).output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The value of `hallmark_hsm_signatures_total{key="log_v2"}`.
fn v2_signatures(stack: &Stack) -> u64 {
    let (_, text) = stack.get("/metrics").unwrap();
    let prefix = "hallmark_hsm_signatures_total{key=\"log_v2\"} ";
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// The v2 log key, from the trust config `hallmark trust-root` writes: (the trust config, the v2
/// log's entry in its trusted root, a PEM file of the key).
fn v2_log_key(stack: &Stack) -> (Value, Value, PathBuf) {
    let dir = stack.dir();
    let tc = dir.join("trust.json");
    write_trust_config(stack, &tc, None);
    let trust: Value = serde_json::from_slice(&std::fs::read(&tc).unwrap()).unwrap();
    let v2 = trust["trustedRoot"]["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t.get("checkpointKeyId").is_some())
        .expect("the trust root lists the v2 log with a checkpointKeyId")
        .clone();
    assert_eq!(v2["checkpointKeyId"], v2["logId"]);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        v2["publicKey"]["rawBytes"].as_str().unwrap()
    );
    let key_file = dir.join("log-v2.pem");
    std::fs::write(&key_file, pem).unwrap();
    (trust, v2, key_file)
}

#[test]
fn tiles_served_and_mirrored_prove_every_entry_to_an_independent_checker() {
    let tool = tilecheck();
    let tmp = tempfile::tempdir().unwrap();
    let tiles = tmp.path().join("tiles");
    let stack = Stack::start_with(
        &bin(),
        &format!("log_v2:\n  tiles_dir: {}\n", tiles.display()),
    )
    .unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, chain) = request_certificate(&stack, &dir, "tiles", EMAIL);
    let leaf = der(&chain[0]);

    let (trust, _, key_file) = v2_log_key(&stack);
    let services = trust["signingConfig"]["rekorTlogUrls"].as_array().unwrap();
    assert!(
        services.iter().any(|s| s["majorApiVersion"] == 2),
        "{services:?}"
    );

    // A few entries, an old checkpoint kept, then enough to fill a tile and start the next.
    let post = |i: u32| {
        let body = v2_request(&key, &leaf, format!("entry {i}\n").as_bytes(), &dir);
        let (status, resp) = stack
            .post("/api/v2/log/entries", body.to_string().as_bytes(), None)
            .unwrap();
        assert_eq!(status, 201, "{resp}");
        assert_eq!(resp["logIndex"], i.to_string());
    };
    for i in 0..5 {
        post(i);
    }
    let (status, old) = stack.get("/checkpoint").unwrap();
    assert_eq!(status, 200);
    let old_file = dir.join("old-checkpoint");
    std::fs::write(&old_file, &old).unwrap();
    for i in 5..260 {
        post(i);
    }

    // Reads never sign: the checkpoint was signed when its batch was written.
    let before = v2_signatures(&stack);
    let url = stack.url.clone();
    let served = run_tilecheck(
        &tool,
        &[
            "-key".as_ref(),
            key_file.as_os_str(),
            "-url".as_ref(),
            url.as_ref(),
            "-old".as_ref(),
            old_file.as_os_str(),
        ],
    )
    .unwrap();
    assert_eq!(served["size"], 260, "{served}");
    assert_eq!(served["entries_checked"], 260, "{served}");
    assert_eq!(served["consistent_from"], 5, "{served}");
    assert_eq!(served["origin"], "127.0.0.1");
    assert_eq!(v2_signatures(&stack), before, "reads made the log key sign");

    // The mirror catches up within a second or so; then the same checks pass from the files.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mirrored = loop {
        match run_tilecheck(
            &tool,
            &[
                "-key".as_ref(),
                key_file.as_os_str(),
                "-dir".as_ref(),
                tiles.as_os_str(),
            ],
        ) {
            Ok(v) if v["size"] == 260 => break v,
            other if std::time::Instant::now() > deadline => {
                panic!("the mirror did not reach size 260: {other:?}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    };
    assert_eq!(mirrored["entries_checked"], 260);
    // The full tile replaced its partial versions.
    assert!(tiles.join("tile/0/000").is_file());
    assert!(!tiles.join("tile/0/000.p").exists());
    assert!(tiles.join("tile/0/001.p/4").is_file());

    // A tampered entry or tile is caught.
    let bundle = tiles.join("tile/entries/001.p/4");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let err = run_tilecheck(
        &tool,
        &[
            "-key".as_ref(),
            key_file.as_os_str(),
            "-dir".as_ref(),
            tiles.as_os_str(),
        ],
    )
    .unwrap_err();
    assert!(err.contains("entry 259"), "{err}");
    bytes[last] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let tile = tiles.join("tile/0/000");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&tile, &bytes).unwrap();
    let err = run_tilecheck(
        &tool,
        &[
            "-key".as_ref(),
            key_file.as_os_str(),
            "-dir".as_ref(),
            tiles.as_os_str(),
        ],
    )
    .unwrap_err();
    assert!(!err.is_empty());

    // A checkpoint signed by another key is refused.
    let other = dir.join("other.pem");
    let (okey, _) = openssl_key_and_csr(&dir, "other");
    std::fs::write(&other, openssl_pubkey(&okey)).unwrap();
    let err = run_tilecheck(
        &tool,
        &[
            "-key".as_ref(),
            other.as_os_str(),
            "-url".as_ref(),
            url.as_ref(),
        ],
    )
    .unwrap_err();
    assert!(err.contains("no signature by the key"), "{err}");
}

/// An Ed25519 v2 log (`log_v2.key_type: ed25519`): Go's checker verifies its C2SP Ed25519
/// checkpoint with the key from the trust root and proves the entries from its tiles.
#[test]
fn an_ed25519_log_proves_its_entries_to_the_independent_checker() {
    let tool = tilecheck();
    let stack = Stack::start_with(&bin(), "log_v2:\n  key_type: ed25519\n").unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, chain) = request_certificate(&stack, &dir, "ed25519", EMAIL);
    let leaf = der(&chain[0]);
    let (_, v2, key_file) = v2_log_key(&stack);
    assert_eq!(v2["publicKey"]["keyDetails"], "PKIX_ED25519");
    for i in 0..3u32 {
        let body = v2_request(&key, &leaf, format!("entry {i}\n").as_bytes(), &dir);
        let (status, resp) = stack
            .post("/api/v2/log/entries", body.to_string().as_bytes(), None)
            .unwrap();
        assert_eq!(status, 201, "{resp}");
    }
    let url = stack.url.clone();
    let checked = run_tilecheck(
        &tool,
        &[
            "-key".as_ref(),
            key_file.as_os_str(),
            "-url".as_ref(),
            url.as_ref(),
        ],
    )
    .unwrap();
    assert_eq!(checked["size"], 3, "{checked}");
    assert_eq!(checked["entries_checked"], 3, "{checked}");
}
