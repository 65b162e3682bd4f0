//! Crash-test child: appends to a redb log under concurrent load, with checkpoints signed by a
//! SoftHSM key, and reports on stdout every acknowledgement and every checkpoint it was given:
//!
//! - `A <index> <leaf hash hex> <entry signature hex>`: the append was acknowledged (durable) at
//!   `index`, with the entry signature the log signed in its batch ([`entry_message`]);
//! - `C <base64 of the checkpoint note>`: a checkpoint the log handed out.
//!
//! Each line goes out in one `write` on a pipe (under `PIPE_BUF`), so a SIGKILL never leaves half a
//! line. The parent kills this process at random moments and checks the log afterwards.
//!
//! Usage: `crash-child <db path> <run id>`; the token comes from `$SOFTHSM2_CONF`,
//! `$HALLMARK_PKCS11_MODULE`, `$HALLMARK_TEST_TOKEN`, `$HALLMARK_PKCS11_PIN_FILE`, and the key label
//! from `$HALLMARK_TEST_KEY`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use base64::Engine as _;
use hallmark_keys::{Hsm, PinSource, Pkcs11Config};
use hallmark_log::store::NewEntry;
use hallmark_log::{EntrySigner, RedbStore, Sequencer, SequencerConfig};
use hallmark_tests::crash::entry_message;

/// Entry payload size, as in the benchmark.
const ENTRY_BYTES: usize = 500;

fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("${name} is not set"))
}

/// Signs each entry with the log key, over [`entry_message`], standing in for Rekor's SET.
struct Signer(hallmark_keys::Pkcs11Key<p256::NistP256>);

impl EntrySigner for Signer {
    fn sign_entry(&self, index: u64, ms: u64, data: &[u8]) -> Result<Vec<u8>, signature::Error> {
        use signature::Signer as _;
        let sig: p256::ecdsa::DerSignature = self.0.try_sign(&entry_message(index, ms, data))?;
        Ok(sig.as_bytes().to_vec())
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().context("usage: crash-child <db> <run id>")?);
    let run = args.next().context("usage: crash-child <db> <run id>")?;
    let hsm = Hsm::open(Pkcs11Config {
        module: env("HALLMARK_PKCS11_MODULE")?.into(),
        token_label: env("HALLMARK_TEST_TOKEN")?,
        pin: PinSource::File(env("HALLMARK_PKCS11_PIN_FILE")?.into()),
    })?;
    let key = hsm.load_p256(&env("HALLMARK_TEST_KEY")?)?;
    let store = RedbStore::open(&db)?;
    // Merge the derived index often, so that kills also land in the middle of merges.
    store.set_index_merge_entries(500);
    let store = Arc::new(store);
    let mut config = SequencerConfig::new("crash.hallmark - 1", "crash.hallmark");
    config.max_batch = 256;
    config.history_interval_ms = 0;
    let seq =
        Sequencer::start_with_entry_signer(store, key.clone(), Arc::new(Signer(key)), config)?;

    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |out: &Mutex<std::io::Stdout>, line: String| {
        if let Ok(mut o) = out.lock() {
            let _ = o.write_all(line.as_bytes());
            let _ = o.flush();
        }
    };
    let last_cp = Arc::new(AtomicU64::new(u64::MAX));
    std::thread::scope(|s| {
        for t in 0..8 {
            let (seq, out, last_cp, run) = (seq.clone(), out.clone(), last_cp.clone(), &run);
            s.spawn(move || {
                for i in 0u64.. {
                    let mut data = format!("run {run} thread {t} entry {i} ").into_bytes();
                    data.resize(ENTRY_BYTES, b'.');
                    let Ok(a) = seq.append_blocking(NewEntry::new(data)) else {
                        return;
                    };
                    let Some(sig) = &a.entry_signature else {
                        return;
                    };
                    say(
                        &out,
                        format!(
                            "A {} {} {}\n",
                            a.index,
                            a.leaf_hash.to_hex(),
                            hex::encode(sig)
                        ),
                    );
                    if last_cp.swap(a.tree.size, Ordering::SeqCst) != a.tree.size {
                        let note = base64::engine::general_purpose::STANDARD
                            .encode(a.tree.checkpoint.as_bytes());
                        say(&out, format!("C {note}\n"));
                    }
                }
            });
        }
    });
    Ok(())
}
