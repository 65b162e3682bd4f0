//! `hallmark demo`: the foundation end to end, on the embedded defaults. Appends entries to a redb
//! log whose checkpoints are signed by a P-256 key held in the HSM, then checks what an auditor
//! would: the signed checkpoint, an inclusion proof, and consistency with the previous run's tree.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Args;
use hallmark_keys::KeyRef;
use hallmark_log::store::{LogStore, NewEntry, StoredEntry};
use hallmark_log::{RedbStore, Sequencer, SequencerConfig};
use hallmark_tlog::leaf_hash;
use hallmark_tlog::note::NoteVerifier;
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use signature::Keypair;

use crate::HsmArgs;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Directory holding the log database.
    #[arg(long, env = "HALLMARK_DATA_DIR", default_value = ".hallmark/data")]
    data: PathBuf,
    /// The checkpoint signing key (generated on the token if missing).
    #[arg(
        long,
        env = "HALLMARK_LOG_KEY",
        default_value = "pkcs11:token=hallmark;object=log-key"
    )]
    key: KeyRef,
    /// Entries to append.
    #[arg(long, default_value_t = 10_000)]
    entries: u64,
    #[command(flatten)]
    hsm: HsmArgs,
}

const ORIGIN: &str = "demo.hallmark.local - 1";
const NAME: &str = "demo.hallmark.local";

pub(crate) fn run(a: DemoArgs) -> Result<()> {
    let signer = a.hsm.load_or_generate_p256(&a.key)?;
    let verifier = NoteVerifier::ecdsa(NAME, signer.verifying_key())?;
    std::fs::create_dir_all(&a.data).with_context(|| format!("creating {}", a.data.display()))?;
    let db = a.data.join("demo-log.redb");
    let store =
        Arc::new(RedbStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
    let seq = Sequencer::start(store, signer, SequencerConfig::new(ORIGIN, NAME))?;
    let before = seq.latest();
    println!("log {} opened at size {}", db.display(), before.size);

    let start = Instant::now();
    let threads = 64u64;
    let per = a.entries.div_ceil(threads);
    let run_id = std::process::id();
    std::thread::scope(|s| -> Result<()> {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let seq = seq.clone();
                s.spawn(move || -> Result<()> {
                    for i in 0..per {
                        let n = t * per + i;
                        if n >= a.entries {
                            break;
                        }
                        seq.append_blocking(NewEntry::new(format!("demo run {run_id} entry {n}")))
                            .map_err(|e| anyhow::anyhow!("append failed: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in hs {
            h.join()
                .map_err(|_| anyhow::anyhow!("appender thread panicked"))??;
        }
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    let after = seq.latest();
    println!(
        "appended {} entries in {secs:.2} s ({:.0}/s), each acknowledged only once durable",
        a.entries,
        a.entries as f64 / secs
    );

    let cp = verifier.verify_checkpoint(&after.checkpoint)?;
    ensure!(
        cp.size == after.size && cp.root == after.root,
        "checkpoint does not match the tree"
    );
    println!(
        "signed checkpoint (verified against the HSM key):\n{}",
        after.checkpoint
    );

    let index = after.size - 1;
    let entry: StoredEntry = seq.store().entry(index)?.context("last entry missing")?;
    let proof = seq.inclusion_proof(index, after.size)?;
    verify_inclusion(
        index,
        after.size,
        &leaf_hash(&entry.data).0,
        &proof,
        &after.root.0,
    )?;
    println!(
        "inclusion proof of entry {index}: {} hashes, verified",
        proof.len()
    );
    if before.size > 0 {
        let proof = seq.consistency_proof(before.size, after.size)?;
        verify_consistency(
            before.size,
            after.size,
            &before.root.0,
            &after.root.0,
            &proof,
        )?;
        println!(
            "consistency proof {} -> {}: {} hashes, verified (nothing earlier was rewritten)",
            before.size,
            after.size,
            proof.len()
        );
    }
    Ok(())
}
