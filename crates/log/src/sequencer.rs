//! The group-commit sequencer. See the crate documentation for the life of an append.
//!
//! # Entry signatures
//!
//! A log started with [`Sequencer::start_with_entry_signer`] signs every new entry once, in the
//! batch that sequences it and before that batch is written: the signature (Rekor's signed entry
//! timestamp) is stored in the same transaction as the entry, so no entry is ever acknowledged or
//! stored without it, and readers get the stored signature without touching the key. If any
//! signature of a batch fails (an HSM outage), the whole batch fails and nothing is stored.
//! Entries written before the log signed entries (an older log file) are signed once when the
//! sequencer starts, before it accepts appends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use hallmark_tlog::note::{Checkpoint, NoteKeyId, NoteSigner};
use hallmark_tlog::tree::{Frontier, consistency_proof, inclusion_proof, root_at};
use hallmark_tlog::{Hash, leaf_hash};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Batch, LogStore, NewEntry, TreeReader};
use crate::{LogError, StoreError};

/// A key that signs checkpoints: any [`NoteSigner`] that can move to the sequencer thread. An ECDSA
/// P-256 RustCrypto signer with its public key (an HSM-held key from `hallmark-keys`, an
/// in-memory `p256::ecdsa::SigningKey`) is one as it is; an Ed25519 one wrapped in
/// [`hallmark_tlog::note::Ed25519NoteSigner`]. Checkpoints are signed under
/// [`SequencerConfig::key_name`].
pub trait CheckpointSigner: NoteSigner + Send + Sync + 'static {}
impl<T: NoteSigner + Send + Sync + 'static> CheckpointSigner for T {}

/// Signs each new entry once, as its batch is sequenced: for Rekor, the signed entry timestamp over
/// the entry's body, integration time, log ID and index. Called from the sequencer thread (and
/// from up to [`SequencerConfig::entry_signing_threads`] helpers at once); blocking is fine.
pub trait EntrySigner: Send + Sync + 'static {
    /// The signature over the entry `data` at `index`, sequenced at `integrated_ms`.
    fn sign_entry(
        &self,
        index: u64,
        integrated_ms: u64,
        data: &[u8],
    ) -> Result<Vec<u8>, signature::Error>;
}

/// Entries signed per thread before a batch's entry signatures are spread over several threads.
/// Signing overlaps the previous batch's commit, so one thread keeps up with a busy log; more
/// threads (each spawned for the batch) pay off only for large batches.
const ENTRIES_PER_SIGNING_THREAD: usize = 256;
/// Entries signed per store transaction when signing the entries of an older log at start-up.
const BACKFILL_CHUNK: usize = 1024;

/// Sequencer settings.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// The checkpoint origin line (Rekor v1: `<hostname> - <tree id>`).
    pub origin: String,
    /// The name the log key signs checkpoints under (Rekor v1: `<hostname>`).
    pub key_name: String,
    /// Most entries in one batch (one durable commit).
    pub max_batch: usize,
    /// Largest accepted entry, in bytes.
    pub max_entry_bytes: usize,
    /// Appends that may wait for the sequencer before callers are slowed down.
    pub queue_depth: usize,
    /// Keep a checkpoint in the auditable history at most this often (0: after every batch).
    pub history_interval_ms: u64,
    /// Threads that sign a large batch's entries at once (each holds one HSM session while it
    /// signs). Only used with an [`EntrySigner`].
    pub entry_signing_threads: usize,
}

impl SequencerConfig {
    /// Defaults for a log with the given origin and key name.
    pub fn new(origin: impl Into<String>, key_name: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            key_name: key_name.into(),
            max_batch: 4096,
            max_entry_bytes: 1 << 20,
            queue_depth: 1 << 16,
            history_interval_ms: 1000,
            entry_signing_threads: 2,
        }
    }
}

/// The log's committed state: what has been made durable and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The signed checkpoint note for (size, root).
    pub checkpoint: Arc<str>,
}

/// The acknowledgement of an append: the entry is durable at `index`.
#[derive(Clone, Debug)]
pub struct Appended {
    /// The entry's log index.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// When its batch was sequenced (ms since the Unix epoch).
    pub integrated_ms: u64,
    /// True if the entry was already in the log; `index` is then the existing entry's.
    pub duplicate: bool,
    /// The entry's stored signature, for a log with an [`EntrySigner`].
    pub entry_signature: Option<Vec<u8>>,
    /// The committed tree that contains it.
    pub tree: Arc<Committed>,
}

struct Request {
    entry: NewEntry,
    /// Computed by the caller, off the sequencer thread.
    leaf_hash: Hash,
    reply: oneshot::Sender<Result<Appended, Arc<LogError>>>,
}

struct Shared<S> {
    store: Arc<S>,
    latest: RwLock<Arc<Committed>>,
    config: SequencerConfig,
    /// Counts failed commits. A batch is prepared on the generation the sequencer last resynced
    /// at; the committer refuses batches of an older one, whose indexes follow a failed batch.
    generation: AtomicU64,
}

impl<S> Shared<S> {
    fn latest(&self) -> Arc<Committed> {
        self.latest
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn fail(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Handle to a running sequencer and the log it writes. Cheap to clone; the sequencer thread stops
/// when the last handle is dropped.
pub struct Sequencer<S: LogStore> {
    shared: Arc<Shared<S>>,
    tx: mpsc::Sender<Request>,
    _thread: Arc<ThreadGuard>,
}

impl<S: LogStore> Clone for Sequencer<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            tx: self.tx.clone(),
            _thread: self._thread.clone(),
        }
    }
}

impl<S: LogStore> std::fmt::Debug for Sequencer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer")
            .field("latest", &self.latest())
            .finish_non_exhaustive()
    }
}

struct ThreadGuard(Option<JoinHandle<()>>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // Dropping the last handle closed the channel; the thread finishes its batch and exits.
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

impl<S: LogStore> Sequencer<S> {
    /// Opens the log in `store` and starts its sequencer thread. Recomputes the root from stored
    /// hashes and checks it against the stored checkpoint.
    pub fn start<K>(store: Arc<S>, signer: K, config: SequencerConfig) -> Result<Self, LogError>
    where
        K: CheckpointSigner,
    {
        Self::start_inner(store, signer, None, config)
    }

    /// Like [`Sequencer::start`], for a log that signs each entry once as it is appended (see the
    /// module documentation). Entries of the store that have no signature yet (a log written
    /// before) are signed first, once; a failure there fails the start.
    pub fn start_with_entry_signer<K>(
        store: Arc<S>,
        signer: K,
        entry_signer: Arc<dyn EntrySigner>,
        config: SequencerConfig,
    ) -> Result<Self, LogError>
    where
        K: CheckpointSigner,
    {
        let signed = sign_unsigned_entries(
            store.as_ref(),
            entry_signer.as_ref(),
            config.entry_signing_threads,
        )?;
        if signed > 0 {
            tracing::info!(
                entries = signed,
                "signed the entries that had no stored entry signature"
            );
        }
        Self::start_inner(store, signer, Some(entry_signer), config)
    }

    fn start_inner<K>(
        store: Arc<S>,
        signer: K,
        entry_signer: Option<Arc<dyn EntrySigner>>,
        config: SequencerConfig,
    ) -> Result<Self, LogError>
    where
        K: CheckpointSigner,
    {
        let note_key = signer.note_key(&config.key_name)?;
        let state = store.state()?;
        let frontier = Frontier::load(state.size, &TreeReader(store.as_ref()))?;
        let root = frontier.root();
        let checkpoint: Arc<str> = match state.checkpoint {
            Some(note) => {
                let cp = stored_checkpoint(&note)?;
                if cp.size != state.size || cp.root != root {
                    return Err(StoreError::Corrupt {
                        what: "stored checkpoint does not match the stored tree",
                    }
                    .into());
                }
                note.into()
            }
            None => Checkpoint::new(config.origin.clone(), 0, root)
                .sign(&note_key, &signer)
                .map_err(|e| signing_error(0, e))?
                .into(),
        };
        let shared = Arc::new(Shared {
            store,
            latest: RwLock::new(Arc::new(Committed {
                size: state.size,
                root,
                checkpoint,
            })),
            config: config.clone(),
            generation: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let worker = Worker {
            shared: shared.clone(),
            signer: Box::new(signer),
            entry_signer,
            note_key,
            frontier,
            last_ms: 0,
            last_kept_ms: 0,
            generation: 0,
            pending: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("log-sequencer".into())
            .spawn(move || worker.run(rx))
            .map_err(|_| LogError::Stopped)?;
        Ok(Self {
            shared,
            tx,
            _thread: Arc::new(ThreadGuard(Some(thread))),
        })
    }

    /// Appends an entry and waits until it is durable.
    pub async fn append(&self, entry: NewEntry) -> Result<Appended, Arc<LogError>> {
        let rx = self.submit_async(entry).await?;
        rx.await.map_err(|_| Arc::new(LogError::Stopped))?
    }

    /// Like [`Sequencer::append`], but refuses at once with [`LogError::Overloaded`] when the
    /// queue holds [`SequencerConfig::queue_depth`] appends, instead of waiting for room: for
    /// APIs that push back (Rekor v2 answers 503 with `Retry-After`).
    pub async fn try_append(&self, entry: NewEntry) -> Result<Appended, Arc<LogError>> {
        self.check_size(&entry)?;
        let (reply, rx) = oneshot::channel();
        let leaf_hash = leaf_hash(&entry.data);
        self.tx
            .try_send(Request {
                entry,
                leaf_hash,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Arc::new(LogError::Overloaded),
                mpsc::error::TrySendError::Closed(_) => Arc::new(LogError::Stopped),
            })?;
        rx.await.map_err(|_| Arc::new(LogError::Stopped))?
    }

    /// Appends an entry from a thread that is not running async code; blocks until durable.
    pub fn append_blocking(&self, entry: NewEntry) -> Result<Appended, Arc<LogError>> {
        self.check_size(&entry)?;
        let (reply, rx) = oneshot::channel();
        let leaf_hash = leaf_hash(&entry.data);
        self.tx
            .blocking_send(Request {
                entry,
                leaf_hash,
                reply,
            })
            .map_err(|_| Arc::new(LogError::Stopped))?;
        rx.blocking_recv()
            .map_err(|_| Arc::new(LogError::Stopped))?
    }

    async fn submit_async(
        &self,
        entry: NewEntry,
    ) -> Result<oneshot::Receiver<Result<Appended, Arc<LogError>>>, Arc<LogError>> {
        self.check_size(&entry)?;
        let (reply, rx) = oneshot::channel();
        let leaf_hash = leaf_hash(&entry.data);
        self.tx
            .send(Request {
                entry,
                leaf_hash,
                reply,
            })
            .await
            .map_err(|_| Arc::new(LogError::Stopped))?;
        Ok(rx)
    }

    fn check_size(&self, entry: &NewEntry) -> Result<(), Arc<LogError>> {
        let limit = self.shared.config.max_entry_bytes;
        if entry.data.len() > limit {
            return Err(Arc::new(LogError::EntryTooLarge {
                size: entry.data.len(),
                limit,
            }));
        }
        Ok(())
    }

    /// Makes the sequencer start again from what the store holds before its next batch: for a
    /// store that another process may have written to (a replica that just became the log's
    /// sequencer). A batch already prepared on the old state fails instead of being written.
    /// The committed state readers see is refreshed from the store at once (the tree itself is
    /// checked against the stored hashes before the next batch).
    pub fn reload(&self) -> Result<(), LogError> {
        self.shared.fail();
        let state = self.shared.store.state()?;
        if let Some(note) = state.checkpoint {
            let cp = stored_checkpoint(&note)?;
            if cp.size != state.size {
                return Err(StoreError::Corrupt {
                    what: "stored checkpoint does not match the stored tree size",
                }
                .into());
            }
            if let Ok(mut g) = self.shared.latest.write()
                && g.size <= cp.size
            {
                *g = Arc::new(Committed {
                    size: cp.size,
                    root: cp.root,
                    checkpoint: note.into(),
                });
            }
        }
        Ok(())
    }

    /// Takes `tree` as the committed state readers see, if it is larger than the one they see
    /// now: for a replica that is not the log's sequencer and has learnt from the sequencer of a
    /// tree committed to the shared store (its own appends are fenced off, and the next
    /// [`Sequencer::reload`] reads the store anyway). The tree must be one the store holds.
    pub fn observe(&self, tree: Arc<Committed>) {
        if let Ok(mut g) = self.shared.latest.write()
            && g.size < tree.size
        {
            *g = tree;
        }
    }

    /// The latest committed tree.
    pub fn latest(&self) -> Arc<Committed> {
        self.shared.latest()
    }

    /// The store (for reads of committed entries).
    pub fn store(&self) -> &Arc<S> {
        &self.shared.store
    }

    /// Inclusion proof of entry `index` in the committed tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_committed(size)?;
        Ok(inclusion_proof(
            index,
            size,
            &TreeReader(self.shared.store.as_ref()),
        )?)
    }

    /// Consistency proof between two committed tree sizes.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        self.check_committed(second)?;
        Ok(consistency_proof(
            first,
            second,
            &TreeReader(self.shared.store.as_ref()),
        )?)
    }

    /// Root hash of the committed tree of `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_committed(size)?;
        Ok(root_at(size, &TreeReader(self.shared.store.as_ref()))?)
    }

    fn check_committed(&self, size: u64) -> Result<(), LogError> {
        let committed = self.latest().size;
        if size > committed {
            return Err(hallmark_tlog::Error::BadSizes {
                first: size,
                second: committed,
            }
            .into());
        }
        Ok(())
    }
}

fn signing_error(size: u64, e: hallmark_tlog::Error) -> LogError {
    match e {
        hallmark_tlog::Error::Signing(source) => LogError::Signing { size, source },
        other => LogError::Tree(other),
    }
}

/// Signs `entries` (index, integration time, data), in order, on up to `threads` threads.
fn sign_entries(
    signer: &dyn EntrySigner,
    entries: &[(u64, u64, &[u8])],
    threads: usize,
) -> Result<Vec<Vec<u8>>, LogError> {
    let sign_run = |run: &[(u64, u64, &[u8])]| -> Result<Vec<Vec<u8>>, LogError> {
        run.iter()
            .map(|&(index, ms, data)| {
                signer
                    .sign_entry(index, ms, data)
                    .map_err(|source| LogError::EntrySigning { index, source })
            })
            .collect()
    };
    let threads = threads
        .max(1)
        .min(entries.len().div_ceil(ENTRIES_PER_SIGNING_THREAD));
    if threads <= 1 {
        return sign_run(entries);
    }
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(per)
            .map(|run| scope.spawn(move || sign_run(run)))
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for h in handles {
            // A panicking signer fails the batch like a failing one.
            let part = h.join().map_err(|_| LogError::EntrySigning {
                index: entries.first().map_or(0, |e| e.0),
                source: signature::Error::new(),
            })??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// Signs, once, every committed entry without a stored signature; returns how many.
fn sign_unsigned_entries<S: LogStore + ?Sized>(
    store: &S,
    signer: &dyn EntrySigner,
    threads: usize,
) -> Result<u64, LogError> {
    let mut from = 0;
    let mut total = 0u64;
    loop {
        let missing = store.unsigned_entries(from, BACKFILL_CHUNK)?;
        let Some(&last) = missing.last() else {
            return Ok(total);
        };
        let mut stored = Vec::with_capacity(missing.len());
        for &index in &missing {
            let entry = store.entry(index)?.ok_or(StoreError::Corrupt {
                what: "an unsigned entry is missing",
            })?;
            stored.push((index, entry));
        }
        let todo: Vec<(u64, u64, &[u8])> = stored
            .iter()
            .map(|(i, e)| (*i, e.integrated_ms, e.data.as_slice()))
            .collect();
        let sigs = sign_entries(signer, &todo, threads)?;
        let pairs: Vec<(u64, Vec<u8>)> = missing.iter().copied().zip(sigs).collect();
        store.add_entry_signatures(&pairs)?;
        total += pairs.len() as u64;
        from = last + 1;
    }
}

/// The checkpoint body of a stored signed note (its signatures were made by this log).
fn stored_checkpoint(note: &str) -> Result<Checkpoint, LogError> {
    let text = note.split_once("\n\n").map(|(t, _)| t).unwrap_or_default();
    Ok(Checkpoint::parse(&format!("{text}\n"))?)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where each request of a batch ends up.
enum Slot {
    /// A new entry at this position of the batch.
    New(usize),
    /// Already committed at this index.
    Logged(u64),
    /// A new entry of an earlier batch that may still be committing: answered once this batch
    /// (and so that one) is durable.
    Pending(PendingEntry),
}

/// A new entry handed to the committer but perhaps not yet durable.
#[derive(Clone)]
struct PendingEntry {
    index: u64,
    integrated_ms: u64,
    entry_signature: Option<Vec<u8>>,
}

/// The part of a prepared batch that is written: everything [`Batch`] borrows.
struct Write {
    entries: Vec<NewEntry>,
    leaf_hashes: Vec<Hash>,
    entry_signatures: Vec<Vec<u8>>,
    tree_hashes: Vec<Hash>,
    checkpoint: String,
    keep_checkpoint: bool,
    size: u64,
    root: Hash,
}

/// A batch the sequencer has numbered and signed, on its way to the committer.
struct Prepared {
    /// The sequencer's view it was prepared on (see [`Shared::generation`]).
    generation: u64,
    first_index: u64,
    integrated_ms: u64,
    /// `None` when every request was a duplicate.
    write: Option<Write>,
    slots: Vec<(Slot, Hash)>,
    replies: Vec<Reply>,
}

type Reply = oneshot::Sender<Result<Appended, Arc<LogError>>>;

enum ToCommitter {
    Batch(Box<Prepared>),
    /// Answered once every batch sent before it has been handled.
    Drained(std::sync::mpsc::Sender<()>),
}

/// The sequencing stage: numbers, signs and hashes batch N+1 while the committer makes batch N
/// durable. Its frontier runs ahead of the committed tree by at most the batch in flight; when a
/// commit fails, it waits for the committer to drain and starts again from the store.
struct Worker<S> {
    shared: Arc<Shared<S>>,
    signer: Box<dyn CheckpointSigner>,
    entry_signer: Option<Arc<dyn EntrySigner>>,
    note_key: NoteKeyId,
    /// The tree including every batch sent to the committer.
    frontier: Frontier,
    last_ms: u64,
    last_kept_ms: u64,
    generation: u64,
    /// New entries sent to the committer, by leaf hash, until they are known to be committed.
    pending: HashMap<Hash, PendingEntry>,
}

impl<S: LogStore> Worker<S> {
    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        // A rendezvous channel: the sequencer prepares the next batch while the committer writes
        // one, and never runs further ahead than that.
        let (to_committer, from_sequencer) = std::sync::mpsc::sync_channel(0);
        let committer = Committer {
            shared: self.shared.clone(),
            has_entry_signer: self.entry_signer.is_some(),
            failure: None,
        };
        let thread = match std::thread::Builder::new()
            .name("log-committer".into())
            .spawn(move || committer.run(from_sequencer))
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the log's committer thread");
                return;
            }
        };
        let max = self.shared.config.max_batch.max(1);
        let mut batch = Vec::with_capacity(max);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let replies = self.process(&mut batch, &to_committer);
            if let Err((e, replies)) = replies {
                tracing::error!(error = %e, entries = replies.len(), "log batch failed; nothing acknowledged");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        drop(to_committer);
        let _ = thread.join();
    }

    /// Prepares one batch and hands it to the committer; on failure, returns the replies that
    /// were not handed over.
    fn process(
        &mut self,
        batch: &mut Vec<Request>,
        to_committer: &std::sync::mpsc::SyncSender<ToCommitter>,
    ) -> Result<(), (LogError, Vec<Reply>)> {
        let mut hashes = Vec::with_capacity(batch.len());
        let mut entries = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for r in batch.drain(..) {
            hashes.push(r.leaf_hash);
            entries.push(r.entry);
            replies.push(r.reply);
        }
        if self.generation != self.shared.generation()
            && let Err(e) = self.resync(to_committer)
        {
            return Err((e, replies));
        }
        let mut prepared = match self.prepare(entries, &hashes) {
            Ok(p) => p,
            Err(e) => return Err((e, replies)),
        };
        prepared.replies = replies;
        to_committer
            .send(ToCommitter::Batch(Box::new(prepared)))
            .map_err(|e| match e.0 {
                ToCommitter::Batch(p) => (LogError::Stopped, p.replies),
                ToCommitter::Drained(_) => (LogError::Stopped, Vec::new()),
            })
    }

    /// After a failed commit: waits until the committer has handled every batch sent (each one
    /// prepared on the failed batch fails too), then starts again from what the store holds.
    fn resync(
        &mut self,
        to_committer: &std::sync::mpsc::SyncSender<ToCommitter>,
    ) -> Result<(), LogError> {
        let (tx, rx) = std::sync::mpsc::channel();
        to_committer
            .send(ToCommitter::Drained(tx))
            .map_err(|_| LogError::Stopped)?;
        rx.recv().map_err(|_| LogError::Stopped)?;
        let generation = self.shared.generation();
        let store = self.shared.store.as_ref();
        let state = store.state()?;
        let frontier = Frontier::load(state.size, &TreeReader(store))?;
        // Another writer (a sequencer on another replica, before this one took over) may have
        // moved the log on: the committed state is what the store holds.
        if let Some(note) = state.checkpoint {
            let cp = stored_checkpoint(&note)?;
            if cp.size != state.size || cp.root != frontier.root() {
                return Err(StoreError::Corrupt {
                    what: "stored checkpoint does not match the stored tree",
                }
                .into());
            }
            if let Ok(mut g) = self.shared.latest.write() {
                *g = Arc::new(Committed {
                    size: state.size,
                    root: cp.root,
                    checkpoint: note.into(),
                });
            }
        }
        self.frontier = frontier;
        self.pending.clear();
        self.generation = generation;
        tracing::warn!(
            size = state.size,
            "log sequencer restarted from the store after a failed commit"
        );
        Ok(())
    }

    /// Numbers, signs and hashes one batch on top of every batch already sent. Nothing of the
    /// worker's state changes unless it succeeds.
    fn prepare(&mut self, entries: Vec<NewEntry>, hashes: &[Hash]) -> Result<Prepared, LogError> {
        let store = &self.shared.store;
        let t0 = std::time::Instant::now();
        // Entries below the committed size are visible to the store's lookup from now on.
        let committed = self.shared.latest().size;
        self.pending.retain(|_, p| p.index >= committed);
        let logged = store.find_leaves(hashes)?;
        let t_lookup = t0.elapsed();
        let mut slots = Vec::with_capacity(entries.len());
        let mut seen: HashMap<Hash, usize> = HashMap::new();
        let mut new_entries: Vec<NewEntry> = Vec::with_capacity(entries.len());
        let mut new_hashes: Vec<Hash> = Vec::with_capacity(entries.len());
        for ((entry, h), prior) in entries.into_iter().zip(hashes).zip(&logged) {
            let slot = match (prior, self.pending.get(h), seen.get(h)) {
                (Some(index), _, _) => Slot::Logged(*index),
                (None, Some(p), _) => Slot::Pending(p.clone()),
                (None, None, Some(&pos)) => Slot::New(pos),
                (None, None, None) => {
                    let pos = new_entries.len();
                    seen.insert(*h, pos);
                    new_entries.push(entry);
                    new_hashes.push(*h);
                    Slot::New(pos)
                }
            };
            slots.push((slot, *h));
        }

        let first_index = self.frontier.size();
        let ms = now_ms().max(self.last_ms);
        let mut prepared = Prepared {
            generation: self.generation,
            first_index,
            integrated_ms: ms,
            write: None,
            slots,
            replies: Vec::new(),
        };
        if new_entries.is_empty() {
            return Ok(prepared);
        }
        // Entry signatures first: a batch is written with all of them or not at all.
        let t_entries = std::time::Instant::now();
        let mut entry_signatures = Vec::new();
        if let Some(es) = &self.entry_signer {
            let todo: Vec<(u64, u64, &[u8])> = new_entries
                .iter()
                .enumerate()
                .map(|(pos, e)| (first_index + pos as u64, ms, e.data.as_slice()))
                .collect();
            entry_signatures =
                sign_entries(es.as_ref(), &todo, self.shared.config.entry_signing_threads)?;
        }
        let t_entry_sign = t_entries.elapsed();
        let mut frontier = self.frontier.clone();
        let mut tree_hashes = Vec::with_capacity(new_entries.len() * 2 + 64);
        for h in &new_hashes {
            frontier.append_into(*h, &mut tree_hashes);
        }
        let size = frontier.size();
        let root = frontier.root();
        let t1 = std::time::Instant::now();
        let checkpoint = Checkpoint::new(self.shared.config.origin.clone(), size, root)
            .sign(&self.note_key, self.signer.as_ref())
            .map_err(|e| signing_error(size, e))?;
        let keep = ms.saturating_sub(self.last_kept_ms) >= self.shared.config.history_interval_ms;
        tracing::debug!(
            entries = new_entries.len(),
            lookup_us = t_lookup.as_micros() as u64,
            entry_sign_us = t_entry_sign.as_micros() as u64,
            sign_us = t1.elapsed().as_micros() as u64,
            "batch prepared"
        );
        // Prepared: the next batch goes on top of this one.
        for (pos, h) in new_hashes.iter().enumerate() {
            self.pending.insert(
                *h,
                PendingEntry {
                    index: first_index + pos as u64,
                    integrated_ms: ms,
                    entry_signature: entry_signatures.get(pos).cloned(),
                },
            );
        }
        self.frontier = frontier;
        self.last_ms = ms;
        if keep {
            self.last_kept_ms = ms;
        }
        prepared.write = Some(Write {
            entries: new_entries,
            leaf_hashes: new_hashes,
            entry_signatures,
            tree_hashes,
            checkpoint,
            keep_checkpoint: keep,
            size,
            root,
        });
        Ok(prepared)
    }
}

/// The commit stage: writes each prepared batch in one durable transaction, then advances the
/// committed state and answers the batch's waiters.
struct Committer<S> {
    shared: Arc<Shared<S>>,
    has_entry_signer: bool,
    /// The last failed commit, given to every batch prepared on top of it.
    failure: Option<Arc<LogError>>,
}

impl<S: LogStore> Committer<S> {
    fn run(mut self, rx: std::sync::mpsc::Receiver<ToCommitter>) {
        for msg in rx {
            match msg {
                ToCommitter::Drained(done) => {
                    let _ = done.send(());
                }
                ToCommitter::Batch(p) => self.commit(*p),
            }
        }
    }

    fn commit(&mut self, p: Prepared) {
        let stale = p.generation != self.shared.generation();
        let outcome = if stale {
            // Prepared on a batch that failed: its indexes are not the store's.
            Err(self
                .failure
                .clone()
                .unwrap_or_else(|| Arc::new(LogError::Stopped)))
        } else {
            self.write(&p)
        };
        let tree = match outcome {
            Ok(tree) => tree,
            Err(e) => {
                if !stale {
                    tracing::error!(error = %e, entries = p.replies.len(), "log batch failed; nothing acknowledged");
                    self.shared.fail();
                    self.failure = Some(e.clone());
                }
                for reply in p.replies {
                    let _ = reply.send(Err(e.clone()));
                }
                return;
            }
        };
        for (reply, (slot, h)) in p.replies.into_iter().zip(p.slots) {
            let res = match slot {
                Slot::New(pos) => Ok(Appended {
                    index: p.first_index + pos as u64,
                    leaf_hash: h,
                    integrated_ms: p.integrated_ms,
                    duplicate: false,
                    entry_signature: p
                        .write
                        .as_ref()
                        .and_then(|w| w.entry_signatures.get(pos).cloned()),
                    tree: tree.clone(),
                }),
                Slot::Pending(e) => Ok(Appended {
                    index: e.index,
                    leaf_hash: h,
                    integrated_ms: e.integrated_ms,
                    duplicate: true,
                    entry_signature: e.entry_signature,
                    tree: tree.clone(),
                }),
                Slot::Logged(index) => self.logged(index, h, &tree).map_err(|e| Arc::new(e.into())),
            };
            let _ = reply.send(res);
        }
    }

    /// Writes the batch, if it has new entries, and returns the committed tree that holds it.
    fn write(&self, p: &Prepared) -> Result<Arc<Committed>, Arc<LogError>> {
        let Some(w) = &p.write else {
            return Ok(self.shared.latest());
        };
        let t = std::time::Instant::now();
        self.shared
            .store
            .append(&Batch {
                first_index: p.first_index,
                integrated_ms: p.integrated_ms,
                entries: &w.entries,
                entry_signatures: &w.entry_signatures,
                leaf_hashes: &w.leaf_hashes,
                tree_hashes: &w.tree_hashes,
                checkpoint: &w.checkpoint,
                keep_checkpoint: w.keep_checkpoint,
            })
            .map_err(|e| Arc::new(e.into()))?;
        tracing::debug!(
            entries = w.entries.len(),
            commit_us = t.elapsed().as_micros() as u64,
            "batch committed"
        );
        // Durable: advance the committed state.
        let committed = Arc::new(Committed {
            size: w.size,
            root: w.root,
            checkpoint: w.checkpoint.as_str().into(),
        });
        if let Ok(mut g) = self.shared.latest.write() {
            *g = committed.clone();
        }
        Ok(committed)
    }

    /// The acknowledgement for an entry that was already in the log at `index`.
    fn logged(
        &self,
        index: u64,
        leaf_hash: Hash,
        tree: &Arc<Committed>,
    ) -> Result<Appended, StoreError> {
        let store = &self.shared.store;
        let e = store.entry(index)?.ok_or(StoreError::Corrupt {
            what: "leaf index points at a missing entry",
        })?;
        let entry_signature = if self.has_entry_signer {
            store.entry_signature(index)?
        } else {
            None
        };
        Ok(Appended {
            index,
            leaf_hash,
            integrated_ms: e.integrated_ms,
            duplicate: true,
            entry_signature,
            tree: tree.clone(),
        })
    }
}
