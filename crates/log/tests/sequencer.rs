//! The sequencer over both stores, with an in-memory signing key (the HSM-backed key runs the same
//! code in the end-to-end crash test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hallmark_log::store::{LogStore, MemoryStore, NewEntry};
use hallmark_log::{LogError, RedbStore, Sequencer, SequencerConfig};
use hallmark_tlog::note::NoteVerifier;
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::MemoryHashes;
use hallmark_tlog::{EMPTY_ROOT, leaf_hash};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use signature::{Keypair, Signer};

fn key() -> SigningKey {
    SigningKey::from_slice(&[42u8; 32]).unwrap()
}

fn config() -> SequencerConfig {
    let mut c = SequencerConfig::new("test.example - 1", "test.example");
    c.max_batch = 64;
    c.history_interval_ms = 0;
    c
}

fn verifier() -> NoteVerifier {
    NoteVerifier::ecdsa("test.example", *key().verifying_key()).unwrap()
}

fn concurrent_appends<S: LogStore>(store: Arc<S>) {
    let seq = Sequencer::start(store.clone(), key(), config()).unwrap();
    assert_eq!(seq.latest().size, 0);
    assert_eq!(seq.latest().root, EMPTY_ROOT);
    verifier()
        .verify_checkpoint(&seq.latest().checkpoint)
        .unwrap();

    let threads: Vec<_> = (0..8)
        .map(|t| {
            let seq = seq.clone();
            std::thread::spawn(move || {
                (0..250)
                    .map(|i| {
                        let a = seq
                            .append_blocking(NewEntry::new(format!("t{t}-e{i}")))
                            .unwrap();
                        // Every acknowledgement comes with a signed tree that contains it.
                        assert!(a.index < a.tree.size);
                        assert!(!a.duplicate);
                        (a.index, format!("t{t}-e{i}"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked: Vec<(u64, String)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    acked.sort();
    assert_eq!(acked.len(), 2000);
    for (want, (index, data)) in acked.iter().enumerate() {
        assert_eq!(*index, want as u64, "indexes are contiguous");
        assert_eq!(
            seq.store().entry(*index).unwrap().unwrap().data,
            data.as_bytes()
        );
    }

    // Root equals an independent recomputation; checkpoint verifies; proofs verify.
    let mut m = MemoryHashes::new();
    for (_, d) in &acked {
        m.append(leaf_hash(d.as_bytes()));
    }
    let latest = seq.latest();
    assert_eq!((latest.size, latest.root), (2000, m.root()));
    let cp = verifier().verify_checkpoint(&latest.checkpoint).unwrap();
    assert_eq!((cp.size, cp.root), (2000, m.root()));
    for i in [0u64, 1, 999, 1999] {
        let p = seq.inclusion_proof(i, 2000).unwrap();
        verify_inclusion(
            i,
            2000,
            &leaf_hash(acked[i as usize].1.as_bytes()).0,
            &p,
            &m.root().0,
        )
        .unwrap();
    }
    let old = seq.root_at(777).unwrap();
    let p = seq.consistency_proof(777, 2000).unwrap();
    verify_consistency(777, 2000, &old.0, &m.root().0, &p).unwrap();
    // Sizes beyond the committed tree are refused.
    assert!(seq.inclusion_proof(0, 2001).is_err());
    assert!(seq.consistency_proof(1, 2001).is_err());

    // Groups were committed as batches, and history holds a verifying checkpoint per batch.
    let history = seq.store().checkpoints(1, 2000).unwrap();
    assert!(
        !history.is_empty() && history.len() < 2000,
        "{} batches",
        history.len()
    );
    for (size, note) in &history {
        assert_eq!(verifier().verify_checkpoint(note).unwrap().size, *size);
    }
}

#[test]
fn concurrent_appends_memory() {
    concurrent_appends(Arc::new(MemoryStore::new()));
}

#[test]
fn concurrent_appends_redb() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_appends(Arc::new(
        RedbStore::open(dir.path().join("l.redb")).unwrap(),
    ));
}

#[test]
fn duplicates_return_the_existing_entry() {
    let seq = Sequencer::start(Arc::new(MemoryStore::new()), key(), config()).unwrap();
    let a = seq.append_blocking(NewEntry::new("same")).unwrap();
    seq.append_blocking(NewEntry::new("other")).unwrap();
    let b = seq.append_blocking(NewEntry::new("same")).unwrap();
    assert!(b.duplicate && !a.duplicate);
    assert_eq!((b.index, b.integrated_ms), (a.index, a.integrated_ms));
    assert_eq!(seq.latest().size, 2);

    // Two identical entries racing into one batch get one index.
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let seq = seq.clone();
            std::thread::spawn(move || seq.append_blocking(NewEntry::new("race")).unwrap().index)
        })
        .collect();
    let idx: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(idx.iter().all(|i| *i == idx[0]));
    assert_eq!(seq.latest().size, 3);
}

#[test]
fn restart_resumes_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let (size, root) = {
        let seq =
            Sequencer::start(Arc::new(RedbStore::open(&path).unwrap()), key(), config()).unwrap();
        for i in 0..37 {
            seq.append_blocking(NewEntry::new(format!("{i}"))).unwrap();
        }
        (seq.latest().size, seq.latest().root)
    };
    let seq = Sequencer::start(Arc::new(RedbStore::open(&path).unwrap()), key(), config()).unwrap();
    assert_eq!((seq.latest().size, seq.latest().root), (size, root));
    let a = seq.append_blocking(NewEntry::new("after")).unwrap();
    assert_eq!(a.index, 37);
    let dup = seq.append_blocking(NewEntry::new("5")).unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.index, 5);
}

#[test]
fn oversized_entries_are_refused() {
    let mut c = config();
    c.max_entry_bytes = 10;
    let seq = Sequencer::start(Arc::new(MemoryStore::new()), key(), c).unwrap();
    let e = seq
        .append_blocking(NewEntry::new(vec![0u8; 11]))
        .unwrap_err();
    assert!(matches!(
        *e,
        LogError::EntryTooLarge {
            size: 11,
            limit: 10
        }
    ));
    assert_eq!(seq.latest().size, 0);
}

/// A signer that can be switched off, standing in for an HSM that goes away.
struct Flaky {
    key: SigningKey,
    down: Arc<AtomicBool>,
}
impl Signer<DerSignature> for Flaky {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(signature::Error::new());
        }
        self.key.try_sign(msg)
    }
}
impl Keypair for Flaky {
    type VerifyingKey = VerifyingKey;
    fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

#[test]
fn signing_failure_commits_nothing_and_recovers() {
    let down = Arc::new(AtomicBool::new(false));
    let store = Arc::new(MemoryStore::new());
    let seq = Sequencer::start(
        store.clone(),
        Flaky {
            key: key(),
            down: down.clone(),
        },
        config(),
    )
    .unwrap();
    seq.append_blocking(NewEntry::new("one")).unwrap();
    down.store(true, Ordering::SeqCst);
    let e = seq.append_blocking(NewEntry::new("two")).unwrap_err();
    assert!(matches!(*e, LogError::Signing { size: 2, .. }), "{e:?}");
    assert_eq!(store.state().unwrap().size, 1);
    assert_eq!(seq.latest().size, 1);
    down.store(false, Ordering::SeqCst);
    let a = seq.append_blocking(NewEntry::new("two")).unwrap();
    assert_eq!((a.index, a.duplicate), (1, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_appends() {
    let seq = Sequencer::start(Arc::new(MemoryStore::new()), key(), config()).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let seq = seq.clone();
            tokio::spawn(async move { seq.append(NewEntry::new(format!("{i}"))).await.unwrap() })
        })
        .collect();
    let mut idx = Vec::new();
    for t in tasks {
        idx.push(t.await.unwrap().index);
    }
    idx.sort();
    assert_eq!(idx, (0..200).collect::<Vec<_>>());
}

/// An entry signer that counts its signatures and can be switched off (an HSM outage). It signs
/// `index || ms || data` with a P-256 key, so a test can check each stored signature.
struct CountingEntrySigner {
    key: SigningKey,
    count: std::sync::atomic::AtomicU64,
    down: AtomicBool,
}

impl CountingEntrySigner {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            key: SigningKey::from_slice(&[7u8; 32]).unwrap(),
            count: std::sync::atomic::AtomicU64::new(0),
            down: AtomicBool::new(false),
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn message(index: u64, ms: u64, data: &[u8]) -> Vec<u8> {
        let mut m = index.to_be_bytes().to_vec();
        m.extend_from_slice(&ms.to_be_bytes());
        m.extend_from_slice(data);
        m
    }

    /// Checks the stored signature of entry `index` against its stored data and time.
    fn check_stored(&self, store: &dyn LogStore, index: u64) -> Vec<u8> {
        use signature::Verifier as _;
        let e = store.entry(index).unwrap().unwrap();
        let sig = store
            .entry_signature(index)
            .unwrap()
            .unwrap_or_else(|| panic!("entry {index} has no stored signature"));
        let der = DerSignature::from_bytes(&sig).unwrap();
        self.key
            .verifying_key()
            .verify(&Self::message(index, e.integrated_ms, &e.data), &der)
            .unwrap();
        sig
    }
}

impl hallmark_log::EntrySigner for CountingEntrySigner {
    fn sign_entry(&self, index: u64, ms: u64, data: &[u8]) -> Result<Vec<u8>, signature::Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(signature::Error::new());
        }
        self.count.fetch_add(1, Ordering::SeqCst);
        let sig: DerSignature = self.key.try_sign(&Self::message(index, ms, data))?;
        Ok(sig.to_bytes().to_vec())
    }
}

/// Each entry is signed exactly once, in its batch, and the signature is stored with it and
/// handed back with the acknowledgement; a duplicate gets the stored signature, unsigned again.
#[test]
fn entries_are_signed_once_as_they_are_appended() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(dir.path().join("log.redb")).unwrap());
    let signer = CountingEntrySigner::new();
    let mut c = config();
    c.entry_signing_threads = 3;
    let seq = Sequencer::start_with_entry_signer(store.clone(), key(), signer.clone(), c).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let seq = seq.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        seq.append_blocking(NewEntry::new(format!("t{t}-e{i}")))
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acked: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(signer.count(), 600);
    for a in &acked {
        let stored = signer.check_stored(store.as_ref(), a.index);
        assert_eq!(a.entry_signature.as_deref(), Some(stored.as_slice()));
    }
    let dup = seq.append_blocking(NewEntry::new("t0-e0")).unwrap();
    assert!(dup.duplicate);
    assert_eq!(
        dup.entry_signature,
        store.entry_signature(dup.index).unwrap()
    );
    assert_eq!(signer.count(), 600, "a duplicate was signed again");
}

/// An entry signer that fails (an HSM outage) fails the whole batch: nothing is stored, nothing
/// acknowledged, no entry without its signature; the log carries on once it is back.
#[test]
fn entry_signing_failure_commits_nothing() {
    let store = Arc::new(MemoryStore::new());
    let signer = CountingEntrySigner::new();
    let seq =
        Sequencer::start_with_entry_signer(store.clone(), key(), signer.clone(), config()).unwrap();
    seq.append_blocking(NewEntry::new("one")).unwrap();
    signer.down.store(true, Ordering::SeqCst);
    let e = seq.append_blocking(NewEntry::new("two")).unwrap_err();
    assert!(
        matches!(*e, LogError::EntrySigning { index: 1, .. }),
        "{e:?}"
    );
    assert_eq!(store.state().unwrap().size, 1);
    assert_eq!(seq.latest().size, 1);
    signer.down.store(false, Ordering::SeqCst);
    let a = seq.append_blocking(NewEntry::new("two")).unwrap();
    assert_eq!((a.index, a.duplicate), (1, false));
    signer.check_stored(store.as_ref(), 0);
    signer.check_stored(store.as_ref(), 1);
    assert_eq!(signer.count(), 2);
}

/// A log written before entries were signed at append gets each old entry signed once, at the
/// first start with an entry signer; later starts sign nothing.
#[test]
fn older_logs_get_their_entries_signed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    {
        let seq =
            Sequencer::start(Arc::new(RedbStore::open(&path).unwrap()), key(), config()).unwrap();
        for i in 0..1500 {
            seq.append_blocking(NewEntry::new(format!("old {i}")))
                .unwrap();
        }
    }
    let signer = CountingEntrySigner::new();
    {
        let store = Arc::new(RedbStore::open(&path).unwrap());
        let seq =
            Sequencer::start_with_entry_signer(store.clone(), key(), signer.clone(), config())
                .unwrap();
        assert_eq!(signer.count(), 1500);
        let a = seq.append_blocking(NewEntry::new("new")).unwrap();
        assert_eq!(a.index, 1500);
        for i in 0..=1500 {
            signer.check_stored(store.as_ref(), i);
        }
    }
    // While the signer is down a start that would need it fails; this one does not need it.
    signer.down.store(true, Ordering::SeqCst);
    let store = Arc::new(RedbStore::open(&path).unwrap());
    let _seq =
        Sequencer::start_with_entry_signer(store.clone(), key(), signer.clone(), config()).unwrap();
    assert_eq!(signer.count(), 1501);
    assert!(store.unsigned_entries(0, 10).unwrap().is_empty());
}

/// A signer that, once stalled, blocks inside `try_sign` until released: a sequencer whose
/// batch is stuck (a slow HSM), so its queue fills.
struct Stalling {
    key: SigningKey,
    gate: Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>,
}
impl Signer<DerSignature> for Stalling {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        let (lock, cv) = &*self.gate;
        let mut g = lock.lock().unwrap();
        if g.0 {
            g.1 = true; // entered while stalled
            cv.notify_all();
            while g.0 {
                g = cv.wait(g).unwrap();
            }
        }
        drop(g);
        self.key.try_sign(msg)
    }
}
impl Keypair for Stalling {
    type VerifyingKey = VerifyingKey;
    fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

/// `try_append` pushes back at once when the queue is full (Rekor v2's 503), and the appends it
/// took all land once the sequencer moves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_append_refuses_when_the_queue_is_full() {
    let gate = Arc::new((
        std::sync::Mutex::new((false, false)),
        std::sync::Condvar::new(),
    ));
    let mut c = config();
    c.queue_depth = 1;
    let seq = Sequencer::start(
        Arc::new(MemoryStore::new()),
        Stalling {
            key: key(),
            gate: gate.clone(),
        },
        c,
    )
    .unwrap();
    gate.0.lock().unwrap().0 = true;
    // The first append reaches the signer and stalls there: its batch is in flight.
    let first = tokio::spawn({
        let seq = seq.clone();
        async move { seq.try_append(NewEntry::new("a")).await }
    });
    {
        let (lock, cv) = &*gate;
        let mut g = lock.lock().unwrap();
        while !g.1 {
            g = cv.wait(g).unwrap();
        }
    }
    // The second waits in the queue (depth 1); the third finds it full.
    let second = tokio::spawn({
        let seq = seq.clone();
        async move { seq.try_append(NewEntry::new("b")).await }
    });
    tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(100)))
        .await
        .unwrap();
    let third = seq.try_append(NewEntry::new("c")).await.unwrap_err();
    assert!(matches!(*third, LogError::Overloaded), "{third:?}");
    {
        let (lock, cv) = &*gate;
        lock.lock().unwrap().0 = false;
        cv.notify_all();
    }
    let a = first.await.unwrap().unwrap();
    let b = second.await.unwrap().unwrap();
    assert_eq!((a.index, b.index), (0, 1));
    assert_eq!(seq.latest().size, 2, "the refused entry was not stored");
}

/// A store whose commits are slow (so the sequencer prepares the next batch while one commits)
/// and fail while `down` is set.
struct SlowFlakyStore {
    inner: MemoryStore,
    down: AtomicBool,
    failures: std::sync::atomic::AtomicU64,
}

impl LogStore for SlowFlakyStore {
    fn state(&self) -> Result<hallmark_log::store::StoredState, hallmark_log::StoreError> {
        self.inner.state()
    }
    fn append(&self, batch: &hallmark_log::Batch<'_>) -> Result<(), hallmark_log::StoreError> {
        std::thread::sleep(std::time::Duration::from_millis(3));
        if self.down.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(hallmark_log::StoreError::Backend {
                op: "test commit",
                source: "disk on fire".into(),
            });
        }
        self.inner.append(batch)
    }
    fn entry(&self, i: u64) -> Result<Option<hallmark_log::StoredEntry>, hallmark_log::StoreError> {
        self.inner.entry(i)
    }
    fn entries(
        &self,
        a: u64,
        b: u64,
    ) -> Result<Vec<hallmark_log::StoredEntry>, hallmark_log::StoreError> {
        self.inner.entries(a, b)
    }
    fn find_leaves(
        &self,
        h: &[hallmark_tlog::Hash],
    ) -> Result<Vec<Option<u64>>, hallmark_log::StoreError> {
        self.inner.find_leaves(h)
    }
    fn entry_signature(&self, i: u64) -> Result<Option<Vec<u8>>, hallmark_log::StoreError> {
        self.inner.entry_signature(i)
    }
    fn unsigned_entries(&self, f: u64, l: usize) -> Result<Vec<u64>, hallmark_log::StoreError> {
        self.inner.unsigned_entries(f, l)
    }
    fn add_entry_signatures(&self, s: &[(u64, Vec<u8>)]) -> Result<(), hallmark_log::StoreError> {
        self.inner.add_entry_signatures(s)
    }
    fn search(
        &self,
        k: &str,
        b: Option<u64>,
        l: usize,
    ) -> Result<Vec<u64>, hallmark_log::StoreError> {
        self.inner.search(k, b, l)
    }
    fn read_hashes(&self, p: &[u64]) -> Result<Vec<hallmark_tlog::Hash>, hallmark_log::StoreError> {
        self.inner.read_hashes(p)
    }
    fn checkpoints(&self, f: u64, t: u64) -> Result<Vec<(u64, String)>, hallmark_log::StoreError> {
        self.inner.checkpoints(f, t)
    }
}

/// Commits fail while later batches are already numbered and signed: every acknowledged entry is
/// stored at its index (twice-sent entries at one index), nothing prepared on a failed batch is
/// acknowledged, and the log goes on from what the store holds.
#[test]
fn failed_commits_with_batches_in_flight_lose_nothing_acknowledged() {
    let store = Arc::new(SlowFlakyStore {
        inner: MemoryStore::new(),
        down: AtomicBool::new(false),
        failures: Default::default(),
    });
    let mut cfg = config();
    cfg.max_batch = 8;
    let es = CountingEntrySigner::new();
    let seq = Sequencer::start_with_entry_signer(store.clone(), key(), es.clone(), cfg).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Two threads send the same payloads, so duplicates of in-flight entries happen.
    let workers: Vec<_> = (0..16)
        .map(|t| {
            let seq = seq.clone();
            std::thread::spawn(move || {
                (0..60)
                    .map(|i| {
                        let data = format!("t{}-e{i}", t / 2);
                        (data.clone(), seq.append_blocking(NewEntry::new(data)))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // Flap the store while they run.
    let flapper = {
        let store = store.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 6 {
                std::thread::sleep(std::time::Duration::from_millis(25));
                store.down.store(true, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(7));
                store.down.store(false, Ordering::SeqCst);
                n += 1;
            }
        })
    };
    let results: Vec<(String, Result<hallmark_log::Appended, Arc<LogError>>)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    stop.store(true, Ordering::SeqCst);
    flapper.join().unwrap();
    assert!(
        store.failures.load(Ordering::SeqCst) > 0,
        "no commit failed"
    );
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    assert!(failed > 0, "no append saw a failure");
    let mut by_data = std::collections::HashMap::new();
    for (data, r) in &results {
        let Ok(a) = r else { continue };
        let stored = store
            .entry(a.index)
            .unwrap()
            .expect("acknowledged entry missing");
        assert_eq!(
            stored.data,
            data.as_bytes(),
            "entry {} holds other data",
            a.index
        );
        es.check_stored(store.as_ref(), a.index);
        if let Some(prev) = by_data.insert(data.clone(), a.index) {
            assert_eq!(prev, a.index, "{data} acknowledged at two indexes");
        }
        assert!(a.index < a.tree.size);
    }
    // Every stored entry is unique, and the log goes on from the store's state.
    let size = store.state().unwrap().size;
    let entries = store.entries(0, size).unwrap();
    let distinct: std::collections::HashSet<_> = entries.iter().map(|e| &e.data).collect();
    assert_eq!(distinct.len() as u64, size);
    let a = seq.append_blocking(NewEntry::new("after")).unwrap();
    assert_eq!((a.index, a.duplicate), (size, false));
    let mut f = hallmark_tlog::tree::Frontier::new();
    for e in store.entries(0, size + 1).unwrap() {
        f.append(leaf_hash(&e.data));
    }
    assert_eq!(f.root(), seq.latest().root);
    verifier()
        .verify_checkpoint(&seq.latest().checkpoint)
        .unwrap();
}

/// Two sequencers over one store, one after the other (a replica taking over from another): the
/// second, stale, refuses nothing it should not and, after `reload`, serves and extends the tree
/// the first one wrote.
#[test]
fn reload_takes_over_a_log_another_sequencer_wrote() {
    let store = Arc::new(MemoryStore::new());
    let old = Sequencer::start(store.clone(), key(), config()).unwrap();
    let standby = Sequencer::start(store.clone(), key(), config()).unwrap();
    for i in 0..5 {
        old.append_blocking(NewEntry::new(format!("first-{i}")))
            .unwrap();
    }
    assert_eq!(standby.latest().size, 0);
    drop(old);
    standby.reload().unwrap();
    assert_eq!(standby.latest().size, 5);
    // An entry the old sequencer logged is found, and a new one goes after its entries.
    let dup = standby.append_blocking(NewEntry::new("first-3")).unwrap();
    assert_eq!((dup.index, dup.duplicate), (3, true));
    let a = standby.append_blocking(NewEntry::new("second")).unwrap();
    assert_eq!((a.index, a.duplicate), (5, false));
    let mut f = hallmark_tlog::tree::Frontier::new();
    for e in store.entries(0, 6).unwrap() {
        f.append(leaf_hash(&e.data));
    }
    assert_eq!(f.root(), standby.latest().root);
    verifier()
        .verify_checkpoint(&standby.latest().checkpoint)
        .unwrap();
}
