//! Building the CT log and the signature logs over any key and any store: start-up passes HSM
//! keys and redb files, handler tests in-memory keys and stores. The CT log and the Rekor v1 log
//! take P-256 keys (SCTs, STHs and SETs are ECDSA); the Rekor v2 log any checkpoint signer (P-256
//! or Ed25519).

use std::sync::Arc;

use anyhow::{Context, Result};
use hallmark_log::{CheckpointSigner, Sequencer, SequencerConfig};
use p256::ecdsa::{DerSignature, VerifyingKey};
use signature::{Keypair, Signer};
use spki::EncodePublicKey as _;

use crate::Settings;
use crate::ct::CtLog;
use crate::rekor::{RekorLog, SetSigner, WORKERS_PER_CORE};
use crate::rekor_v2::{MAX_V2_ENTRY_BYTES, RekorV2Log};
use crate::store::SharedStore;

/// A log key as the CT log and the Rekor v1 log take it: signs checkpoints, SCTs, STHs and SETs
/// (DER ECDSA) and has a P-256 public key.
pub(crate) trait LogSigningKey:
    CheckpointSigner + Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> + Clone
{
}
impl<T> LogSigningKey for T where
    T: CheckpointSigner + Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> + Clone
{
}

/// The CT log over `store`, signed by `key`, serving `chain_der` (issuing CA, root) as its
/// `extra_data` and roots; checkpoints name `host`.
pub(crate) fn ct_log(
    store: SharedStore,
    key: impl LogSigningKey,
    chain_der: Vec<Vec<u8>>,
    host: &str,
) -> Result<CtLog> {
    let spki = key
        .verifying_key()
        .to_public_key_der()
        .context("encoding the CT log public key")?;
    let log_id = hallmark_sigstore::ct::log_id(spki.as_bytes());
    let seq = Sequencer::start(
        Arc::new(store),
        key.clone(),
        SequencerConfig::new(format!("{host} - ct"), host),
    )
    .context("starting the CT log")?;
    CtLog::new(seq, Arc::new(key), log_id, chain_der)
        .context("encoding the CT log's certificate chain")
}

/// The signature log's sequencer settings: its entry limit is the configured one (the
/// sequencer's default of 1 MiB would silently cap a larger `log.max_entry_bytes`).
pub(crate) fn rekor_sequencer_config(s: &Settings, tree_id: u64) -> SequencerConfig {
    let host = s.public_host();
    let mut config = SequencerConfig::new(format!("{host} - {tree_id}"), host);
    config.max_entry_bytes = s.max_entry_bytes;
    config
}

/// The signature log over `store`, signed by `key`. Entries of the store without a SET are
/// signed first.
pub(crate) fn rekor_log(
    store: SharedStore,
    key: impl LogSigningKey,
    settings: &Settings,
) -> Result<RekorLog> {
    let verifying = key.verifying_key();
    let spki = verifying
        .to_public_key_der()
        .context("encoding the log public key")?;
    let log_id = hallmark_sigstore::rekor_log_id(spki.as_bytes());
    let tree_id = hallmark_sigstore::tree_id(&log_id);
    let public_key_pem = verifying
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .context("encoding the log public key")?;
    // Each entry's SET is signed once, in the batch that appends it, and stored with it.
    let set_signer = Arc::new(SetSigner {
        key: Arc::new(key.clone()),
        log_id_hex: hex::encode(log_id),
    });
    let seq = Sequencer::start_with_entry_signer(
        Arc::new(store),
        key,
        set_signer,
        rekor_sequencer_config(settings, tree_id),
    )
    .context("starting the signature log (signing the SETs of entries that have none)")?;
    Ok(RekorLog {
        seq,
        log_id,
        tree_id,
        public_key_pem,
        workers: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, usize::from) * WORKERS_PER_CORE,
        ),
    })
}

/// The Rekor v2 log over `store`, its checkpoints signed by `key` under the public URL's host
/// name (C2SP: the origin is the log's base URL without scheme, port or path, and the key signs
/// under its origin). A P-256 key signs as it is, an Ed25519 key wrapped in
/// [`hallmark_tlog::note::Ed25519NoteSigner`]. The log's ID is the 32-byte hash its checkpoint key
/// ID is the start of: SHA-256 of the SPKI for P-256, the C2SP key hash for Ed25519.
pub(crate) fn rekor_v2_log(
    store: SharedStore,
    key: impl CheckpointSigner,
    settings: &Settings,
) -> Result<RekorV2Log> {
    let origin = settings.public_host_name();
    let mut config = SequencerConfig::new(origin.clone(), origin.clone());
    config.max_entry_bytes = MAX_V2_ENTRY_BYTES;
    config.queue_depth = settings.log_v2.max_queue;
    let note_key = key
        .note_key(&origin)
        .context("the v2 log's checkpoint key and origin")?;
    let seq =
        Sequencer::start(Arc::new(store), key, config).context("starting the Rekor v2 log")?;
    // A stored log keeps serving its last checkpoint until the next append: refuse one signed by
    // another key (log_v2.key or log_v2.key_type changed under an existing log-v2.redb).
    let checkpoint = seq.latest().checkpoint.clone();
    let signed_by_key = hallmark_tlog::note::Note::parse(&checkpoint).is_ok_and(|note| {
        note.signatures
            .iter()
            .any(|s| s.name == note_key.name() && s.key_id == note_key.id())
    });
    if !signed_by_key {
        anyhow::bail!(
            "the Rekor v2 log's stored checkpoint is not signed by its configured key {} as {:?}: \
             log_v2.key or log_v2.key_type changed under an existing log-v2.redb (a new key \
             needs a new log)",
            hex::encode(note_key.id()),
            note_key.name()
        );
    }
    Ok(RekorV2Log {
        seq,
        key_id: note_key.key_hash(),
        frozen: settings.log_v2.frozen,
        witnessing: crate::witnessing::Witnessing::new(&settings.log_v2)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn the_sequencer_takes_the_configured_entry_limit() {
        let dir = std::env::temp_dir().join(format!("hallmark-seq-{}.yaml", std::process::id()));
        std::fs::write(&dir, "dev_oidc: true\nlog:\n  max_entry_bytes: 6291456\n").unwrap();
        let s = crate::config::load(Some(&dir), |_| None).unwrap();
        std::fs::remove_file(&dir).ok();
        let c = rekor_sequencer_config(&s, 7);
        assert_eq!(c.max_entry_bytes, 6 << 20);
        assert!(c.origin.ends_with(" - 7"), "{}", c.origin);
    }
}
