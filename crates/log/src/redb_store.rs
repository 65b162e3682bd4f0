//! The embedded [`LogStore`]: a redb database per log, plus a derived index database beside it.
//!
//! redb commits with `Durability::Immediate` by default: `commit()` returns after the data and the
//! new root are fsynced, and a crash at any moment leaves the last committed transaction intact.
//! One batch is one transaction, so a batch is either wholly present after a crash or wholly absent.
//!
//! # Two files: the log and its index
//!
//! `<path>` holds the log: entries, tree hashes (whose level 0 *is* the leaf hashes in log order),
//! every entry's search keys by log index, the checkpoint history, the tree size and the latest
//! checkpoint. Batches write only sequential keys there.
//!
//! `<path>.index` holds what is looked up by random keys: leaf hash -> index (duplicate
//! detection) and search key -> indexes. Inserting a batch's random keys one by one dirties about
//! one B-tree page per entry; done inside each batch it made commits ~4x slower than everything
//! else together (measured: 20k vs 76k appends/s), and done in one big transaction of the log file
//! it stalled appends for 0.5 s at a time. So a background thread merges the index in large sorted
//! transactions of its own database, which redb lets run concurrently with the log's commits.
//! Entries not merged yet are held in memory, and every lookup consults both. The index file
//! records how far it got; after a crash [`RedbStore::open`] rebuilds the in-memory tail from the
//! log file, and a missing or damaged index file is rebuilt from scratch. Nothing acknowledged
//! depends on the index file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hallmark_tlog::tree::{stored_count, stored_index};
use hallmark_tlog::{Hash, HashBuildHasher};
use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use crate::StoreError;
use crate::store::{Batch, LogStore, StoredEntry, StoredState};

// The log file.
/// Entry records by log index: [`StoredEntry::encode`].
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Tree hashes by stored position.
const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("tree_hashes");
/// Search keys by log index (NUL-separated), for entries that have any.
const KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("search_keys");
/// Checkpoint history by tree size.
const HISTORY: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
/// Tree size and latest checkpoint.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_SIZE: &str = "tree_size";
const META_CHECKPOINT: &str = "checkpoint";

// The index file.
/// Log index by leaf hash.
const LEAVES: TableDefinition<[u8; 32], u64> = TableDefinition::new("leaf_index");
/// Log indexes by search key.
const SEARCH: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("search_index");
/// `indexed_size`: every entry below it is in the index tables.
const INDEX_META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const INDEXED_SIZE: &str = "indexed_size";

/// Unmerged entries that wake the merger, by default.
const MERGE_ENTRIES: u64 = 1 << 16;
/// The merger also runs when this much time passed with anything unmerged.
const MERGE_INTERVAL: Duration = Duration::from_secs(5);

/// The index entries of `[from, to)`, not yet in the index file.
#[derive(Debug, Default)]
struct Pending {
    from: u64,
    to: u64,
    leaves: HashMap<Hash, u64, HashBuildHasher>,
    keys: HashMap<String, Vec<u64>>,
}

struct Inner {
    log: Database,
    index: Database,
    pending: RwLock<Pending>,
    merge_every: std::sync::atomic::AtomicU64,
    /// Set to stop the merger; the condvar wakes it.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// A [`LogStore`] in a redb database file (and its derived `.index` file).
pub struct RedbStore {
    inner: Arc<Inner>,
    merger: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn be<E: Into<redb::Error>>(op: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::backend(op, e.into())
}

fn index_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".index");
    PathBuf::from(p)
}

impl RedbStore {
    /// Opens the log at `path` (creating it if needed) and its index at `<path>.index`, checks that
    /// the log's tables agree with its recorded size, and starts the index merger.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let op = "open log";
        let log = Database::create(path).map_err(be(op))?;
        let txn = log.begin_write().map_err(be(op))?;
        {
            txn.open_table(ENTRIES).map_err(be(op))?;
            txn.open_table(HASHES).map_err(be(op))?;
            txn.open_table(KEYS).map_err(be(op))?;
            txn.open_table(HISTORY).map_err(be(op))?;
            txn.open_table(META).map_err(be(op))?;
        }
        txn.commit().map_err(be(op))?;
        let size = {
            let read = log.begin_read().map_err(be(op))?;
            let size = read_u64(&read.open_table(META).map_err(be(op))?, META_SIZE)?;
            let entries = read
                .open_table(ENTRIES)
                .map_err(be(op))?
                .len()
                .map_err(be(op))?;
            let hashes = read
                .open_table(HASHES)
                .map_err(be(op))?
                .len()
                .map_err(be(op))?;
            if entries != size || hashes != stored_count(size) {
                return Err(StoreError::Corrupt {
                    what: "entry or hash count disagrees with the recorded tree size",
                });
            }
            size
        };
        let index = open_index(&index_path(path), size)?;
        let inner = Arc::new(Inner {
            log,
            index,
            pending: RwLock::new(Pending::default()),
            merge_every: std::sync::atomic::AtomicU64::new(MERGE_ENTRIES),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        inner.load_pending(size)?;
        let merger_inner = inner.clone();
        let merger = std::thread::Builder::new()
            .name("log-index-merger".into())
            .spawn(move || merger_inner.merge_loop())
            .map_err(|e| StoreError::backend("start index merger", e))?;
        Ok(Self {
            inner,
            merger: Some(merger),
        })
    }

    /// Sets how many unmerged entries wake the merger (default 65,536). Tests use tiny values.
    pub fn set_index_merge_entries(&self, n: u64) {
        self.inner
            .merge_every
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Merges everything unmerged into the index file now (the merger does this by itself).
    pub fn merge_index(&self) -> Result<(), StoreError> {
        self.inner.merge_once()
    }

    /// Entries appended but not yet merged into the index file.
    pub fn unmerged(&self) -> u64 {
        let p = self.inner.pending();
        p.to - p.from
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        if let Ok(mut stop) = self.inner.stop.lock() {
            *stop = true;
        }
        self.inner.wake.notify_all();
        if let Some(m) = self.merger.take() {
            let _ = m.join();
        }
    }
}

/// Opens the index file, or recreates it when it is unreadable or ahead of the log (a log file
/// restored from an older backup).
fn open_index(path: &Path, log_size: u64) -> Result<Database, StoreError> {
    let op = "open index";
    let attempt = || -> Result<Database, StoreError> {
        let db = Database::create(path).map_err(be(op))?;
        let txn = db.begin_write().map_err(be(op))?;
        let indexed = {
            txn.open_table(LEAVES).map_err(be(op))?;
            txn.open_multimap_table(SEARCH).map_err(be(op))?;
            let meta = txn.open_table(INDEX_META).map_err(be(op))?;
            meta.get(INDEXED_SIZE)
                .map_err(be(op))?
                .map(|v| v.value())
                .unwrap_or(0)
        };
        txn.commit().map_err(be(op))?;
        if indexed > log_size {
            return Err(StoreError::Corrupt {
                what: "index is ahead of the log",
            });
        }
        Ok(db)
    };
    match attempt() {
        Ok(db) => Ok(db),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "rebuilding the log index file");
            std::fs::remove_file(path).map_err(|e| StoreError::backend(op, e))?;
            attempt()
        }
    }
}

impl Inner {
    fn pending(&self) -> RwLockReadGuard<'_, Pending> {
        // The maps are only extended or pruned whole under the lock; a panic elsewhere cannot leave
        // them in a state lookups would misread.
        self.pending.read().unwrap_or_else(|p| p.into_inner())
    }

    fn pending_mut(&self) -> RwLockWriteGuard<'_, Pending> {
        self.pending.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuilds the in-memory unmerged tail from the log file.
    fn load_pending(&self, size: u64) -> Result<(), StoreError> {
        let op = "load unmerged index";
        let from = {
            let txn = self.index.begin_read().map_err(be(op))?;
            let meta = txn.open_table(INDEX_META).map_err(be(op))?;
            meta.get(INDEXED_SIZE)
                .map_err(be(op))?
                .map(|v| v.value())
                .unwrap_or(0)
        };
        let txn = self.log.begin_read().map_err(be(op))?;
        let hashes = txn.open_table(HASHES).map_err(be(op))?;
        let mut p = Pending {
            from,
            to: size,
            ..Pending::default()
        };
        for i in from..size {
            let h = hashes
                .get(stored_index(0, i))
                .map_err(be(op))?
                .ok_or(StoreError::Corrupt {
                    what: "leaf hash missing",
                })?;
            p.leaves.insert(Hash(h.value()), i);
        }
        let keys = txn.open_table(KEYS).map_err(be(op))?;
        for item in keys.range(from..size).map_err(be(op))? {
            let (k, v) = item.map_err(be(op))?;
            for key in decode_keys(v.value())? {
                p.keys.entry(key).or_default().push(k.value());
            }
        }
        *self.pending_mut() = p;
        Ok(())
    }

    fn merge_loop(&self) {
        loop {
            {
                let Ok(stop) = self.stop.lock() else { return };
                if *stop {
                    return;
                }
                let Ok((stop, _)) = self.wake.wait_timeout(stop, MERGE_INTERVAL) else {
                    return;
                };
                if *stop {
                    return;
                }
            }
            if let Err(e) = self.merge_once() {
                tracing::warn!(error = %e, "log index merge failed; will retry");
            }
        }
    }

    /// Merges `[from, to)` of the pending tail, keys sorted, in one transaction of the index file,
    /// then drops the merged part from memory.
    fn merge_once(&self) -> Result<(), StoreError> {
        let op = "merge index";
        let started = std::time::Instant::now();
        // Copy out under the read lock (appends only add entries at or above `to`).
        let (from, to, mut leaves, mut keys) = {
            let p = self.pending();
            if p.to == p.from {
                return Ok(());
            }
            let leaves: Vec<(Hash, u64)> = p.leaves.iter().map(|(h, i)| (*h, *i)).collect();
            let keys: Vec<(String, u64)> = p
                .keys
                .iter()
                .flat_map(|(k, v)| v.iter().map(move |i| (k.clone(), *i)))
                .collect();
            (p.from, p.to, leaves, keys)
        };
        leaves.retain(|(_, i)| *i < to);
        keys.retain(|(_, i)| *i < to);
        leaves.sort_unstable();
        keys.sort_unstable();
        let txn = self.index.begin_write().map_err(be(op))?;
        {
            let mut t = txn.open_table(LEAVES).map_err(be(op))?;
            for (h, i) in &leaves {
                t.insert(h.0, *i).map_err(be(op))?;
            }
            let mut s = txn.open_multimap_table(SEARCH).map_err(be(op))?;
            for (k, i) in &keys {
                s.insert(k.as_str(), *i).map_err(be(op))?;
            }
            let mut meta = txn.open_table(INDEX_META).map_err(be(op))?;
            meta.insert(INDEXED_SIZE, to).map_err(be(op))?;
        }
        txn.commit().map_err(be(op))?;
        // Merged and durable: only now drop the merged part of the in-memory copy.
        {
            let mut p = self.pending_mut();
            p.from = to;
            p.leaves.retain(|_, i| *i >= to);
            p.keys.retain(|_, v| {
                v.retain(|i| *i >= to);
                !v.is_empty()
            });
        }
        tracing::debug!(
            entries = to - from,
            indexed_size = to,
            ms = started.elapsed().as_millis() as u64,
            "log index merged"
        );
        Ok(())
    }
}

fn read_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<u64, StoreError> {
    match meta.get(name).map_err(be("read metadata"))? {
        None => Ok(0),
        Some(v) => {
            let b: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
                what: "metadata number is not 8 bytes",
            })?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

fn encode_keys(keys: &[String]) -> Vec<u8> {
    keys.join("\0").into_bytes()
}

fn decode_keys(raw: &[u8]) -> Result<Vec<String>, StoreError> {
    let s = std::str::from_utf8(raw).map_err(|_| StoreError::Corrupt {
        what: "search keys are not UTF-8",
    })?;
    Ok(s.split('\0').map(str::to_owned).collect())
}

impl LogStore for RedbStore {
    fn state(&self) -> Result<StoredState, StoreError> {
        let op = "read state";
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let meta = txn.open_table(META).map_err(be(op))?;
        let size = read_u64(&meta, META_SIZE)?;
        let checkpoint =
            match meta.get(META_CHECKPOINT).map_err(be(op))? {
                None => None,
                Some(v) => Some(String::from_utf8(v.value().to_vec()).map_err(|_| {
                    StoreError::Corrupt {
                        what: "checkpoint is not UTF-8",
                    }
                })?),
            };
        Ok(StoredState { size, checkpoint })
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let op = "append batch";
        let txn = self.inner.log.begin_write().map_err(be(op))?;
        {
            let mut meta = txn.open_table(META).map_err(be(op))?;
            let size = read_u64(&meta, META_SIZE)?;
            if size != batch.first_index {
                return Err(StoreError::NotContiguous {
                    batch_start: batch.first_index,
                    stored_size: size,
                });
            }
            let mut entries = txn.open_table(ENTRIES).map_err(be(op))?;
            let mut keys = txn.open_table(KEYS).map_err(be(op))?;
            let mut record = Vec::new();
            for (i, e) in batch.entries.iter().enumerate() {
                let index = size + i as u64;
                record.clear();
                record.extend_from_slice(&batch.integrated_ms.to_be_bytes());
                record.extend_from_slice(&e.data);
                entries.insert(index, record.as_slice()).map_err(be(op))?;
                if !e.index_keys.is_empty() {
                    keys.insert(index, encode_keys(&e.index_keys).as_slice())
                        .map_err(be(op))?;
                }
            }
            let mut hashes = txn.open_table(HASHES).map_err(be(op))?;
            let base = stored_count(size);
            for (i, h) in batch.tree_hashes.iter().enumerate() {
                hashes.insert(base + i as u64, h.0).map_err(be(op))?;
            }
            if batch.keep_checkpoint {
                let mut history = txn.open_table(HISTORY).map_err(be(op))?;
                history
                    .insert(batch.new_size(), batch.checkpoint)
                    .map_err(be(op))?;
            }
            meta.insert(META_SIZE, batch.new_size().to_be_bytes().as_slice())
                .map_err(be(op))?;
            meta.insert(META_CHECKPOINT, batch.checkpoint.as_bytes())
                .map_err(be(op))?;
        }
        txn.commit().map_err(be(op))?;
        // Durable. Extend the in-memory tail and wake the merger when it has grown enough.
        let wake = {
            let mut p = self.inner.pending_mut();
            for (i, (e, lh)) in batch.entries.iter().zip(batch.leaf_hashes).enumerate() {
                let index = batch.first_index + i as u64;
                p.leaves.insert(*lh, index);
                for k in &e.index_keys {
                    p.keys.entry(k.clone()).or_default().push(index);
                }
            }
            p.to = batch.new_size();
            p.to - p.from
                >= self
                    .inner
                    .merge_every
                    .load(std::sync::atomic::Ordering::Relaxed)
        };
        if wake {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        let op = "read entry";
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let t = txn.open_table(ENTRIES).map_err(be(op))?;
        match t.get(index).map_err(be(op))? {
            None => Ok(None),
            Some(v) => StoredEntry::decode(v.value()).map(Some),
        }
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let op = "read entries";
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let t = txn.open_table(ENTRIES).map_err(be(op))?;
        for item in t.range(start..end).map_err(be(op))? {
            let (_, v) = item.map_err(be(op))?;
            out.push(StoredEntry::decode(v.value())?);
        }
        Ok(out)
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        let op = "look up leaf hashes";
        // Pending first: an entry leaves `pending` only after it is committed to the index file,
        // so reading pending before the index file never misses one.
        let mut out: Vec<Option<u64>> = {
            let p = self.inner.pending();
            leaf_hashes
                .iter()
                .map(|h| p.leaves.get(h).copied())
                .collect()
        };
        if out.iter().any(Option::is_none) {
            let txn = self.inner.index.begin_read().map_err(be(op))?;
            let t = txn.open_table(LEAVES).map_err(be(op))?;
            for (slot, h) in out.iter_mut().zip(leaf_hashes) {
                if slot.is_none() {
                    *slot = t.get(h.0).map_err(be(op))?.map(|v| v.value());
                }
            }
        }
        Ok(out)
    }

    fn search(&self, key: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let op = "search";
        let mut out: Vec<u64> = self
            .inner
            .pending()
            .keys
            .get(key)
            .cloned()
            .unwrap_or_default();
        let txn = self.inner.index.begin_read().map_err(be(op))?;
        let t = txn.open_multimap_table(SEARCH).map_err(be(op))?;
        for v in t.get(key).map_err(be(op))? {
            if out.len() >= limit.saturating_mul(2).max(limit + 64) {
                break;
            }
            out.push(v.map_err(be(op))?.value());
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(limit);
        Ok(out)
    }

    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let op = "read tree hashes";
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let t = txn.open_table(HASHES).map_err(be(op))?;
        positions
            .iter()
            .map(|&p| match t.get(p).map_err(be(op))? {
                Some(v) => Ok(Hash(v.value())),
                None => Err(StoreError::OutOfRange {
                    what: "tree hash position",
                    index: p,
                    size: 0,
                }),
            })
            .collect()
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let op = "read checkpoints";
        if from > to {
            return Ok(Vec::new());
        }
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let t = txn.open_table(HISTORY).map_err(be(op))?;
        let mut out = Vec::new();
        for item in t.range(from..=to).map_err(be(op))? {
            let (k, v) = item.map_err(be(op))?;
            out.push((k.value(), v.value().to_owned()));
        }
        Ok(out)
    }
}
