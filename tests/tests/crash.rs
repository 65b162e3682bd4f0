//! Crash test: a child process appends under concurrent load and is killed with SIGKILL at random
//! moments, 25 times, on one growing log. After each kill the log is reopened and checked:
//! - every entry the child reported as acknowledged is present, at its index, with its hash;
//! - the root recomputed from the stored entries equals the stored tree's root and checkpoint;
//! - every checkpoint handed out before any crash verifies against the HSM key and is consistent
//!   with the reopened tree (a consistency proof from its size verifies).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_log::store::LogStore;
use hallmark_log::{RedbStore, Sequencer, SequencerConfig};
use hallmark_tests::XorShift;
use hallmark_tlog::note::NoteVerifier;
use hallmark_tlog::proof::verify_consistency;
use hallmark_tlog::tree::MemoryHashes;
use hallmark_tlog::{Hash, leaf_hash};
use signature::Keypair;

const KILLS: usize = 25;

#[test]
fn sigkill_under_load_loses_nothing_acknowledged() {
    let token = TestToken::shared();
    let key_label = unique_label("crash-log-key");
    let hsm = token.open();
    let key = hsm.generate_p256(&key_label).unwrap();
    let verifier = NoteVerifier::ecdsa("crash.hallmark", key.verifying_key()).unwrap();
    let dir = tempfile_dir();
    let db = dir.join("crash.redb");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed:#x}");
    let mut rng = XorShift(seed);

    let mut acked: Vec<(u64, Hash, Vec<u8>)> = Vec::new();
    let mut checkpoints: Vec<String> = Vec::new();
    for run in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
            .arg(&db)
            .arg(run.to_string())
            .env("SOFTHSM2_CONF", token.conf())
            .env("HALLMARK_PKCS11_MODULE", token.module())
            .env("HALLMARK_TEST_TOKEN", token.label())
            .env("HALLMARK_PKCS11_PIN_FILE", token.pin_file())
            .env("HALLMARK_TEST_KEY", &key_label)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start crash-child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the load to be running, then kill at a random moment within the next 300 ms.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("run {run}: the child acknowledged nothing within 60 s")
            });
        let mut lines = vec![first];
        let deadline = Instant::now() + Duration::from_millis(rng.below(300));
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(5)) {
                lines.push(l);
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "run {run}: child exited by itself: {status}"
        );
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let before = acked.len();
        for line in lines {
            match line.split_once(' ') {
                Some(("A", rest)) => {
                    let mut parts = rest.split(' ');
                    let (i, h, sig) = (
                        parts.next().unwrap(),
                        parts.next().unwrap(),
                        parts.next().unwrap(),
                    );
                    acked.push((
                        i.parse().unwrap(),
                        Hash::from_hex(h).unwrap(),
                        hex::decode(sig).unwrap(),
                    ));
                }
                Some(("C", b64)) => checkpoints.push(
                    String::from_utf8(
                        base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .unwrap(),
                    )
                    .unwrap(),
                ),
                _ => panic!("run {run}: unexpected line {line:?}"),
            }
        }
        assert!(
            acked.len() > before,
            "run {run}: no acknowledgements before the kill"
        );

        // Reopen exactly as a restarted server would (this also checks the stored checkpoint
        // against the recomputed root) and audit everything seen so far.
        let store = Arc::new(RedbStore::open(&db).unwrap());
        let seq = Sequencer::start(
            store.clone(),
            hsm.load_p256(&key_label).unwrap(),
            SequencerConfig::new("crash.hallmark - 1", "crash.hallmark"),
        )
        .unwrap();
        let latest = seq.latest();
        let entries = store.entries(0, latest.size).unwrap();
        assert_eq!(entries.len() as u64, latest.size);
        let mut tree = MemoryHashes::new();
        for e in &entries {
            tree.append(leaf_hash(&e.data));
        }
        assert_eq!(
            tree.root(),
            latest.root,
            "run {run}: recomputed root differs"
        );
        let cp = verifier.verify_checkpoint(&latest.checkpoint).unwrap();
        assert_eq!((cp.size, cp.root), (latest.size, latest.root));
        for (n, (index, hash, sig)) in acked.iter().enumerate() {
            let e = entries
                .get(*index as usize)
                .unwrap_or_else(|| panic!("run {run}: acknowledged entry {index} is missing"));
            assert_eq!(
                leaf_hash(&e.data),
                *hash,
                "run {run}: entry {index} changed"
            );
            // The entry signature acknowledged with it is the one stored, and it verifies
            // (checked once, in the run that acknowledged it: verifying is slow in debug builds).
            assert_eq!(
                store.entry_signature(*index).unwrap().as_ref(),
                Some(sig),
                "run {run}: entry {index} lost or changed its signature"
            );
            if n < before {
                continue;
            }
            let der = p256::ecdsa::DerSignature::from_bytes(sig).unwrap();
            signature::Verifier::verify(
                &key.verifying_key(),
                &hallmark_tests::crash::entry_message(*index, e.integrated_ms, &e.data),
                &der,
            )
            .unwrap_or_else(|e| panic!("run {run}: entry {index}'s signature: {e}"));
        }
        // No entry was ever stored without its signature, acknowledged or not.
        assert_eq!(
            store.unsigned_entries(0, 10).unwrap(),
            Vec::<u64>::new(),
            "run {run}: entries stored without their signature"
        );
        for note in &checkpoints {
            let cp = verifier.verify_checkpoint(note).unwrap();
            assert!(
                cp.size <= latest.size,
                "run {run}: checkpoint ahead of the log"
            );
            if cp.size > 0 {
                let proof = seq.consistency_proof(cp.size, latest.size).unwrap();
                verify_consistency(cp.size, latest.size, &cp.root.0, &latest.root.0, &proof)
                    .unwrap_or_else(|e| {
                        panic!("run {run}: checkpoint {} inconsistent: {e}", cp.size)
                    });
            }
        }
        eprintln!(
            "run {run}: killed after {} acks in total; log size {}, {} checkpoints checked",
            acked.len(),
            latest.size,
            checkpoints.len()
        );
    }
    // Indexes are unique: no acknowledged index was handed out twice.
    let mut idx: Vec<u64> = acked.iter().map(|(i, _, _)| *i).collect();
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), acked.len());
    std::fs::remove_dir_all(&dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hallmark-crash-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
