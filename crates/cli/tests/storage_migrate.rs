//! `hallmark storage migrate`: a real stack writes Rekor entries and a certificate (a CT entry)
//! to its redb logs; the migration refuses to run beside the server, then, with the server
//! stopped, copies the logs into PostgreSQL (a private cluster) and verifies them; the same
//! server started on PostgreSQL serves the same tree, the same entries with the same SETs, and
//! goes on at the next index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{bin, request_certificate};
use hallmark_log::PgStore;
use hallmark_log::store::LogStore;
use hallmark_log::testing::PgCluster;
use hallmark_tests::Stack;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::EncodePublicKey;
use serde_json::Value;
use sha2::Digest;

/// A bare-key hashedrekord entry for `text`.
fn entry(text: &str) -> Vec<u8> {
    let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let digest = sha2::Sha256::digest(text);
    let sig: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
    hallmark_sigstore::body::Body::hashedrekord(
        sig.to_der().as_bytes(),
        pem.as_bytes(),
        hallmark_sigstore::HashAlgorithm::Sha256,
        &digest,
    )
    .to_json()
    .unwrap()
}

/// The only entry of a Rekor answer: (body, SET, logIndex).
fn the_entry(v: &Value) -> (Value, Value, u64) {
    let (_, e) = v.as_object().unwrap().iter().next().unwrap();
    (
        e["body"].clone(),
        e["verification"]["signedEntryTimestamp"].clone(),
        e["logIndex"].as_u64().unwrap(),
    )
}

fn tree(stack: &Stack) -> (u64, String) {
    let (status, text) = stack.get("/api/v1/log").unwrap();
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    (
        v["treeSize"].as_u64().unwrap(),
        v["rootHash"].as_str().unwrap().to_owned(),
    )
}

fn sth_size(stack: &Stack) -> u64 {
    let (status, text) = stack.get("/ct/v1/get-sth").unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["tree_size"]
        .as_u64()
        .unwrap()
}

#[test]
fn redb_logs_move_to_postgres_and_are_served_unchanged() {
    let pg = PgCluster::start().expect("a private PostgreSQL cluster (see scripts/test.sh)");
    let url = pg.fresh_database("storage_migrate").unwrap();
    let mut stack = Stack::start_with(&bin(), "log:\n  accept_any_signer: true\n").unwrap();
    let mut created = Vec::new();
    for i in 0..6 {
        let (status, v) = stack
            .post(
                "/api/v1/log/entries",
                &entry(&format!("artifact {i}")),
                None,
            )
            .unwrap();
        assert_eq!(status, 201, "{v}");
        created.push(the_entry(&v));
    }
    let dir = stack.dir().to_path_buf();
    request_certificate(&stack, &dir, "migrated", "ci@example.com");
    let before = tree(&stack);
    assert_eq!(before.0, 6);
    let ct_before = sth_size(&stack);
    assert!(ct_before >= 1);

    let migrate = |stack: &Stack| {
        let mut cmd = stack.command();
        cmd.args(["storage", "migrate", "--config"])
            .arg(stack.config())
            .env("HALLMARK_PG_URL", &url);
        cmd.output().unwrap()
    };
    // Beside the running server: refused, clearly, and the database is left alone.
    let out = migrate(&stack);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("stop `hallmark serve`"), "{stderr}");
    assert!(!stderr.contains(&url), "the URL leaked: {stderr}");

    stack.stop();
    let out = migrate(&stack);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("rekor: verified size 6 root {}", before.1)),
        "{stdout}"
    );
    assert!(stdout.contains("rekor: copied 6 entries"), "{stdout}");
    assert!(
        stdout.contains(&format!("ct: verified size {ct_before} root")),
        "{stdout}"
    );
    assert!(
        !format!("{stdout}{stderr}").contains(&url),
        "the URL leaked"
    );
    // Run again: verified, nothing copied.
    let out = migrate(&stack);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("rekor: already in the database"),
        "{stdout}"
    );

    // The same server on PostgreSQL (the URL from a file).
    let url_file = dir.join("pg-url");
    std::fs::write(&url_file, &url).unwrap();
    let mut config = std::fs::read_to_string(stack.config()).unwrap();
    config.push_str(&format!(
        "storage:\n  backend: postgres\n  postgres:\n    url_file: {}\n    pool_size: 4\n",
        url_file.display()
    ));
    std::fs::write(stack.config(), config).unwrap();
    std::fs::remove_file(dir.join("data").join("log.redb")).unwrap();
    std::fs::remove_file(dir.join("data").join("ct-log.redb")).unwrap();
    stack.restart().unwrap();
    assert_eq!(tree(&stack), before);
    assert_eq!(sth_size(&stack), ct_before);
    for (i, (body, set, index)) in created.iter().enumerate() {
        assert_eq!(*index, i as u64);
        let (status, text) = stack
            .get(&format!("/api/v1/log/entries?logIndex={i}"))
            .unwrap();
        assert_eq!(status, 200, "{text}");
        let (b, s, idx) = the_entry(&serde_json::from_str(&text).unwrap());
        assert_eq!((&b, &s, idx), (body, set, *index), "entry {i}");
    }
    let (status, v) = stack
        .post("/api/v1/log/entries", &entry("after the move"), None)
        .unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(the_entry(&v).2, 6);
    request_certificate(&stack, &dir, "after", "ci@example.com");
    assert_eq!(sth_size(&stack), ct_before + 1);
    let store = PgStore::open(&url, "rekor", 1).unwrap();
    assert_eq!(store.state().unwrap().size, 7);
}
