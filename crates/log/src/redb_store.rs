//! The embedded [`LogStore`]: a redb database per log, plus a derived index database beside it.
//!
//! redb commits with `Durability::Immediate` by default: `commit()` returns after the data and the
//! new root are fsynced, and a crash at any moment leaves the last committed transaction intact.
//! One batch is one transaction, so a batch is either wholly present after a crash or wholly absent.
//!
//! # Two files: the log and its index
//!
//! `<path>` holds the log: entries, their signed entry timestamps (written in the same
//! transaction as the entry, so an acknowledged entry always has its SET), tree hashes (whose
//! level 0 *is* the leaf hashes in log order), every entry's search keys by log index, the
//! checkpoint history, the tree size and the latest checkpoint. Batches write only sequential keys
//! there.
//!
//! An entry's search keys are stored length-prefixed (`search_keys_v2`: for each key, its length
//! as 4 big-endian bytes, then its bytes), so every key round-trips exactly, NUL bytes included.
//! Logs written before that have their keys NUL-joined in `search_keys`; those are still read (a
//! key containing NUL could not be told apart there, and was split at it as before).
//!
//! `<path>.index` holds what is looked up by random keys: leaf hash -> index (duplicate
//! detection) and (search key, index) pairs, so that a search reads the newest entries under a
//! key first and pages through any number of them. Inserting a batch's random keys one by one dirties about
//! one B-tree page per entry; done inside each batch it made commits ~4x slower than everything
//! else together (measured: 20k vs 76k appends/s), and done in one big transaction of the log file
//! it stalled appends for 0.5 s at a time. So a background thread merges the index in large sorted
//! transactions of its own database, which redb lets run concurrently with the log's commits.
//! Entries not merged yet are held in memory, and every lookup consults both. The index file
//! records how far it got; after a crash [`RedbStore::open`] rebuilds the in-memory tail from the
//! log file, and a missing or damaged index file is rebuilt from scratch. Nothing acknowledged
//! depends on the index file.
//!
//! # The leaf filter
//!
//! Almost every leaf hash the sequencer looks up is new, and once the index file is larger than
//! redb's page cache, proving a hash absent read B-tree pages from the operating system for every
//! entry (at 10M entries, appends fell to 0.57-0.67x of the rate at 1M). A Bloom filter of every
//! leaf hash in the log answers most of those lookups from memory: a hash the filter has never
//! seen is in neither the tail nor the index file, and only the filter's false positives (about
//! 0.5% per part) and real duplicates read the index file. The filter is a chain of parts, each
//! twice the capacity of the one before, so it grows with the log without being rebuilt; it costs
//! about 11 bits per entry it has room for (2.3 bytes per entry at 10M). Appends add their leaves
//! to it under the tail's lock, before a lookup can miss them in the tail; the leaves indexed
//! before the store was opened are read from the index file by the merger thread, and until it
//! is done lookups go to the index file as before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hallmark_tlog::tree::{stored_count, stored_index};
use hallmark_tlog::{Hash, HashBuildHasher};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::StoreError;
use crate::store::{Batch, LogStore, StoredEntry, StoredState, newest_below};

// The log file.
/// Entry records by log index: [`StoredEntry::encode`].
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Tree hashes by stored position.
const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("tree_hashes");
/// Search keys by log index, NUL-separated: written by earlier versions, read only.
const LEGACY_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("search_keys");
/// Search keys by log index, length-prefixed ([`encode_keys`]), for entries that have any.
const KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("search_keys_v2");
/// The log's signature over each entry (Rekor's signed entry timestamp), by log index.
const SIGNATURES: TableDefinition<u64, &[u8]> = TableDefinition::new("entry_signatures");
/// Checkpoint history by tree size.
const HISTORY: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
/// Tree size and latest checkpoint.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_SIZE: &str = "tree_size";
const META_CHECKPOINT: &str = "checkpoint";

// The index file.
/// Log index by leaf hash.
const LEAVES: TableDefinition<[u8; 32], u64> = TableDefinition::new("leaf_index");
/// (search key, log index) pairs; ordered by key, then index, so a key's newest entries are a
/// reverse range scan.
const SEARCH: TableDefinition<(&str, u64), ()> = TableDefinition::new("search_by_key");
/// `indexed_size`: every entry below it is in the index tables; `format`: [`INDEX_FORMAT`].
const INDEX_META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const INDEXED_SIZE: &str = "indexed_size";
const FORMAT: &str = "format";
/// The index file's layout. A file of another (or no) format with entries in it is rebuilt from
/// the log (format 1 kept search keys in a multimap table that could not be read newest first).
const INDEX_FORMAT: u64 = 2;

/// Unmerged entries that wake the merger, by default, while the index is small.
const MERGE_ENTRIES: u64 = 1 << 16;
/// Once the index is larger, the merger waits for a tail of this fraction of it. A merge dirties
/// about one page of the index's B-trees per entry merged until it has touched every page, so
/// merging a fixed number of entries cost more per entry the larger the index (measured: 4.2 µs
/// per entry at 1M entries, 14.6 µs at 10M, merges of 65,536): a tail in proportion keeps the
/// pages dirtied per entry, and so the cost, about flat, for a tail in memory of at most about
/// an eighth of the index's entries.
const MERGE_FRACTION: u64 = 8;
/// A log that has stopped growing has its tail merged once it has been quiet this long.
const MERGE_INTERVAL: Duration = Duration::from_secs(5);

/// The leaf filter's false-positive rate per part, when the part is full (about 11 bits a leaf).
const FILTER_FALSE_POSITIVES: f64 = 0.005;
/// The capacity of the leaf filter's first part for appended leaves; each next part doubles it.
const FILTER_FIRST_PART: u64 = 1 << 20;

/// The index entries of `[from, to)`, not yet in the index file, and the filter of every leaf.
#[derive(Debug, Default)]
struct Pending {
    from: u64,
    to: u64,
    leaves: HashMap<Hash, u64, HashBuildHasher>,
    keys: HashMap<String, Vec<u64>>,
    filter: LeafFilter,
}

/// A Bloom filter of leaf hashes that grows: see the module docs, "The leaf filter".
#[derive(Debug, Default)]
struct LeafFilter {
    /// The last part takes new leaves; a full one is followed by a part of twice its capacity.
    parts: Vec<FilterPart>,
    /// Whether the parts hold every leaf of the index file: set once the leaves indexed before
    /// the store was opened have been added. Until then the filter answers nothing.
    complete: bool,
    /// The first part's capacity; 0 means [`FILTER_FIRST_PART`] (tests use small ones).
    first_part: u64,
}

struct FilterPart {
    bloom: fastbloom::BloomFilter,
    capacity: u64,
    items: u64,
}

impl std::fmt::Debug for FilterPart {
    // Not the bits: megabytes of them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterPart")
            .field("capacity", &self.capacity)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

impl FilterPart {
    fn new(capacity: u64) -> Self {
        Self {
            bloom: fastbloom::BloomFilter::with_false_pos(FILTER_FALSE_POSITIVES)
                .expected_items(usize::try_from(capacity.max(1)).unwrap_or(usize::MAX)),
            capacity: capacity.max(1),
            items: 0,
        }
    }

    fn insert(&mut self, leaf: &Hash) {
        self.bloom.insert_hash(filter_hash(leaf));
        self.items += 1;
    }
}

/// The filter's hash of a leaf: its first eight bytes. A leaf hash is SHA-256 output, uniform
/// already, so hashing it again (SipHash: 2.4% of `bench log`'s CPU) buys nothing; whoever
/// grinds entries to collide with others here gains only lookups in the index file, which is
/// what every lookup did before the filter.
fn filter_hash(leaf: &Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&leaf.0[..8]);
    u64::from_le_bytes(first)
}

impl LeafFilter {
    fn insert(&mut self, leaf: &Hash) {
        let next = match self.parts.last() {
            Some(p) if p.items < p.capacity => None,
            Some(p) => Some(p.capacity.saturating_mul(2)),
            None if self.first_part == 0 => Some(FILTER_FIRST_PART),
            None => Some(self.first_part),
        };
        if let Some(capacity) = next {
            self.parts.push(FilterPart::new(capacity));
        }
        if let Some(p) = self.parts.last_mut() {
            p.insert(leaf);
        }
    }

    /// Adds the part holding the leaves indexed before the store was opened, and from now on
    /// answers lookups.
    fn complete_with(&mut self, history: FilterPart) {
        self.parts.insert(0, history);
        self.complete = true;
    }

    /// Whether `leaf` is certainly in neither the tail nor the index file.
    fn rules_out(&self, leaf: &Hash) -> bool {
        let h = filter_hash(leaf);
        self.complete && !self.parts.iter().any(|p| p.bloom.contains_hash(h))
    }

    /// Memory the parts' bit vectors hold, in bytes.
    fn bytes(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.bloom.num_bits() as u64 / 8)
            .sum()
    }
}

struct Inner {
    log: Database,
    index: Database,
    pending: RwLock<Pending>,
    merge_every: std::sync::atomic::AtomicU64,
    /// Entries merged into the index file, and the merges' wall time in µs, since open.
    merged_entries: std::sync::atomic::AtomicU64,
    merge_us: std::sync::atomic::AtomicU64,
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

/// redb's own page cache per database file unless the caller says otherwise
/// ([`RedbStore::open_with_cache`]). redb's default is 1 GiB per file; a server has six files
/// (three logs and their indexes), and the cache is memory the process holds. The operating
/// system's page cache still keeps the files' hot pages.
pub const DEFAULT_CACHE_MIB: usize = 64;
const DEFAULT_CACHE_BYTES: usize = DEFAULT_CACHE_MIB << 20;

impl RedbStore {
    /// Opens the log at `path` (creating it if needed) and its index at `<path>.index`, checks that
    /// the log's tables agree with its recorded size, and starts the index merger. Each file gets
    /// [`DEFAULT_CACHE_BYTES`] of cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// [`RedbStore::open`] with `cache_bytes` of redb page cache for each of the two files.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let op = "open log";
        let log = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(be(op))?;
        let txn = log.begin_write().map_err(be(op))?;
        {
            txn.open_table(ENTRIES).map_err(be(op))?;
            txn.open_table(HASHES).map_err(be(op))?;
            txn.open_table(KEYS).map_err(be(op))?;
            txn.open_table(LEGACY_KEYS).map_err(be(op))?;
            txn.open_table(SIGNATURES).map_err(be(op))?;
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
        let index = open_index(&index_path(path), size, cache_bytes)?;
        let inner = Arc::new(Inner {
            log,
            index,
            pending: RwLock::new(Pending::default()),
            merge_every: std::sync::atomic::AtomicU64::new(MERGE_ENTRIES),
            merged_entries: std::sync::atomic::AtomicU64::new(0),
            merge_us: std::sync::atomic::AtomicU64::new(0),
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

    /// Sets how many unmerged entries wake the merger while the index is small (default 65,536;
    /// later an eighth of the index). Tests use tiny values.
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

    /// Whether the leaf filter answers lookups yet (it does once the merger has read the leaves
    /// indexed before the store was opened), and the memory its bits hold, in bytes.
    pub fn leaf_filter(&self) -> (bool, u64) {
        let p = self.inner.pending();
        (p.filter.complete, p.filter.bytes())
    }

    /// Entries merged into the index file since the store was opened, and the time the merges
    /// took (wall clock, on the merger's thread): what the derived index costs (`hallmark bench
    /// log` reports it per entry as the log grows).
    pub fn merge_stats(&self) -> (u64, Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.inner.merged_entries.load(Relaxed),
            Duration::from_micros(self.inner.merge_us.load(Relaxed)),
        )
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
fn open_index(path: &Path, log_size: u64, cache_bytes: usize) -> Result<Database, StoreError> {
    let op = "open index";
    let attempt = || -> Result<Database, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(be(op))?;
        let txn = db.begin_write().map_err(be(op))?;
        let (indexed, format) = {
            txn.open_table(LEAVES).map_err(be(op))?;
            txn.open_table(SEARCH).map_err(be(op))?;
            let mut meta = txn.open_table(INDEX_META).map_err(be(op))?;
            let indexed = meta
                .get(INDEXED_SIZE)
                .map_err(be(op))?
                .map(|v| v.value())
                .unwrap_or(0);
            let format = meta.get(FORMAT).map_err(be(op))?.map(|v| v.value());
            if format.is_none() && indexed == 0 {
                meta.insert(FORMAT, INDEX_FORMAT).map_err(be(op))?;
            }
            (indexed, format)
        };
        if indexed > 0 && format != Some(INDEX_FORMAT) {
            return Err(StoreError::Corrupt {
                what: "index file has an older format",
            });
        }
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
            let leaf = Hash(h.value());
            p.filter.insert(&leaf);
            p.leaves.insert(leaf, i);
        }
        for (index, entry_keys) in search_keys_in(&txn, from, size, op)? {
            for key in entry_keys {
                let list = p.keys.entry(key).or_default();
                // An entry listing a key twice is filed once.
                if list.last() != Some(&index) {
                    list.push(index);
                }
            }
        }
        *self.pending_mut() = p;
        Ok(())
    }

    /// The unmerged tail at which the merger runs, for an index of `indexed` entries.
    fn merge_threshold(&self, indexed: u64) -> u64 {
        self.merge_every
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(indexed / MERGE_FRACTION)
    }

    /// Whether the store is being dropped.
    fn stopping(&self) -> bool {
        self.stop.lock().map_or(true, |s| *s)
    }

    /// Adds the leaves the index file held when the store was opened to the leaf filter, and
    /// makes the filter answer lookups. Anything merged into the index file since came from the
    /// tail, whose leaves the filter already holds, so reading a later snapshot is as good.
    fn fill_filter(&self) -> Result<(), StoreError> {
        let op = "read the leaf index for the leaf filter";
        let started = std::time::Instant::now();
        let txn = self.index.begin_read().map_err(be(op))?;
        let leaves = txn.open_table(LEAVES).map_err(be(op))?;
        let mut history = FilterPart::new(leaves.len().map_err(be(op))?);
        for (n, item) in leaves.iter().map_err(be(op))?.enumerate() {
            let (k, _) = item.map_err(be(op))?;
            history.insert(&Hash(k.value()));
            if n % 65_536 == 65_535 && self.stopping() {
                return Ok(());
            }
        }
        let mut p = self.pending_mut();
        p.filter.complete_with(history);
        tracing::debug!(
            bytes = p.filter.bytes(),
            ms = started.elapsed().as_millis() as u64,
            "log leaf filter ready"
        );
        Ok(())
    }

    fn merge_loop(&self) {
        if let Err(e) = self.fill_filter() {
            // Lookups keep reading the index file, as they do without a filter.
            tracing::warn!(error = %e, "log leaf filter not built; lookups read the index");
        }
        // The log's size when the merger last looked: unchanged a whole interval later, the log
        // is quiet and its tail is merged whatever its length.
        let mut seen = None;
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
            let (from, to) = {
                let p = self.pending();
                (p.from, p.to)
            };
            let due = to - from >= self.merge_threshold(from);
            let quiet = seen == Some(to);
            seen = Some(to);
            if to > from
                && (due || quiet)
                && let Err(e) = self.merge_once()
            {
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
            let mut s = txn.open_table(SEARCH).map_err(be(op))?;
            for (k, i) in &keys {
                s.insert((k.as_str(), *i), ()).map_err(be(op))?;
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
        let took = started.elapsed();
        self.merged_entries
            .fetch_add(to - from, std::sync::atomic::Ordering::Relaxed);
        self.merge_us.fetch_add(
            took.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        tracing::debug!(
            entries = to - from,
            indexed_size = to,
            ms = took.as_millis() as u64,
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

/// An entry's search keys as stored: for each key, its length in bytes as 4 big-endian bytes, then
/// its UTF-8 bytes. Unlike a separator, this round-trips any key exactly.
pub(crate) fn encode_keys(keys: &[String]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(keys.iter().map(|k| 4 + k.len()).sum());
    for k in keys {
        let len = u32::try_from(k.len()).map_err(|_| StoreError::Corrupt {
            what: "a search key is longer than 4 GiB",
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(k.as_bytes());
    }
    Ok(out)
}

/// Reads what [`encode_keys`] wrote; anything else (truncated, trailing bytes, not UTF-8) is
/// corrupt.
pub(crate) fn decode_keys(mut raw: &[u8]) -> Result<Vec<String>, StoreError> {
    let corrupt = |what| StoreError::Corrupt { what };
    let mut out = Vec::new();
    while !raw.is_empty() {
        let (len, rest) = raw
            .split_first_chunk::<4>()
            .ok_or(corrupt("search key length is truncated"))?;
        let len = usize::try_from(u32::from_be_bytes(*len))
            .map_err(|_| corrupt("search key length does not fit in memory"))?;
        let (key, rest) = rest
            .split_at_checked(len)
            .ok_or(corrupt("search key is shorter than its length"))?;
        out.push(
            std::str::from_utf8(key)
                .map_err(|_| corrupt("search key is not UTF-8"))?
                .to_owned(),
        );
        raw = rest;
    }
    Ok(out)
}

/// Reads the NUL-joined search keys of logs written before [`encode_keys`].
fn decode_legacy_keys(raw: &[u8]) -> Result<Vec<String>, StoreError> {
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
        batch.check_shape()?;
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
            let mut signatures = txn.open_table(SIGNATURES).map_err(be(op))?;
            let mut record = Vec::new();
            for (i, e) in batch.entries.iter().enumerate() {
                let index = size + i as u64;
                record.clear();
                record.extend_from_slice(&batch.integrated_ms.to_be_bytes());
                record.extend_from_slice(&e.data);
                entries.insert(index, record.as_slice()).map_err(be(op))?;
                if !e.index_keys.is_empty() {
                    keys.insert(index, encode_keys(&e.index_keys)?.as_slice())
                        .map_err(be(op))?;
                }
                if let Some(sig) = batch.entry_signatures.get(i) {
                    signatures.insert(index, sig.as_slice()).map_err(be(op))?;
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
                p.filter.insert(lh);
                p.leaves.insert(*lh, index);
                for k in &e.index_keys {
                    let list = p.keys.entry(k.clone()).or_default();
                    if list.last() != Some(&index) {
                        list.push(index);
                    }
                }
            }
            p.to = batch.new_size();
            p.to - p.from >= self.inner.merge_threshold(p.from)
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
        // so reading pending before the index file never misses one. A leaf the filter rules
        // out is in neither.
        let (mut out, look): (Vec<Option<u64>>, Vec<bool>) = {
            let p = self.inner.pending();
            leaf_hashes
                .iter()
                .map(|h| match p.leaves.get(h) {
                    Some(i) => (Some(*i), false),
                    None => (None, !p.filter.rules_out(h)),
                })
                .unzip()
        };
        if look.contains(&true) {
            let txn = self.inner.index.begin_read().map_err(be(op))?;
            let t = txn.open_table(LEAVES).map_err(be(op))?;
            for ((slot, h), look) in out.iter_mut().zip(leaf_hashes).zip(look) {
                if look {
                    *slot = t.get(h.0).map_err(be(op))?.map(|v| v.value());
                }
            }
        }
        Ok(out)
    }

    fn entry_signature(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let op = "read entry signature";
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let t = txn.open_table(SIGNATURES).map_err(be(op))?;
        Ok(t.get(index).map_err(be(op))?.map(|v| v.value().to_vec()))
    }

    fn unsigned_entries(&self, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        let op = "find unsigned entries";
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        let entries = txn.open_table(ENTRIES).map_err(be(op))?;
        let signatures = txn.open_table(SIGNATURES).map_err(be(op))?;
        let mut out = Vec::new();
        // Every entry signed (the usual case): two counts, no scan. Otherwise stop scanning as
        // soon as the counts say no unsigned entry is left.
        let mut missing = entries
            .len()
            .map_err(be(op))?
            .saturating_sub(signatures.len().map_err(be(op))?);
        if missing == 0 || limit == 0 {
            return Ok(out);
        }
        for item in entries.range(from..).map_err(be(op))? {
            let (k, _) = item.map_err(be(op))?;
            let index = k.value();
            if signatures.get(index).map_err(be(op))?.is_none() {
                out.push(index);
                missing -= 1;
                if out.len() >= limit || missing == 0 {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn add_entry_signatures(&self, sigs: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let op = "store entry signatures";
        let txn = self.inner.log.begin_write().map_err(be(op))?;
        {
            let meta = txn.open_table(META).map_err(be(op))?;
            let size = read_u64(&meta, META_SIZE)?;
            let mut t = txn.open_table(SIGNATURES).map_err(be(op))?;
            for (index, sig) in sigs {
                if *index >= size {
                    return Err(StoreError::OutOfRange {
                        what: "entry to sign",
                        index: *index,
                        size,
                    });
                }
                if t.insert(*index, sig.as_slice()).map_err(be(op))?.is_some() {
                    // Dropping the transaction without commit discards every insert.
                    return Err(StoreError::AlreadySigned { index: *index });
                }
            }
        }
        txn.commit().map_err(be(op))?;
        Ok(())
    }

    fn search(&self, key: &str, before: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        let op = "search";
        // Pending first (see `find_leaves`): between them the two sources hold every entry, and
        // each gives its newest `limit` below `before`, so the newest `limit` of the union are
        // among them.
        let mut out = match self.inner.pending().keys.get(key) {
            Some(list) => newest_below(list, before, limit),
            None => Vec::new(),
        };
        let txn = self.inner.index.begin_read().map_err(be(op))?;
        let t = txn.open_table(SEARCH).map_err(be(op))?;
        let end = before.unwrap_or(u64::MAX);
        let range = t.range((key, 0u64)..(key, end)).map_err(be(op))?;
        for item in range.rev().take(limit) {
            let (k, _) = item.map_err(be(op))?;
            out.push(k.value().1);
        }
        out.sort_unstable_by(|a, b| b.cmp(a));
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

impl crate::store::EntrySearchKeys for RedbStore {
    /// Read from the log file (both key tables, as [`RedbStore::open`] does when it rebuilds the
    /// unmerged index tail), not from the index file.
    fn entry_search_keys(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        let op = "read entries' search keys";
        if start >= end {
            return Ok(Vec::new());
        }
        let txn = self.inner.log.begin_read().map_err(be(op))?;
        search_keys_in(&txn, start, end, op)
    }
}

/// The search keys of the entries in `[start, end)` that have any, in log order, from the log
/// file's two key tables. Legacy (NUL-joined) records come from before any length-prefixed one was
/// written, and an entry is in one table or the other; both are read and merged by index anyway.
fn search_keys_in(
    txn: &redb::ReadTransaction,
    start: u64,
    end: u64,
    op: &'static str,
) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
    let mut out = Vec::new();
    let legacy = txn.open_table(LEGACY_KEYS).map_err(be(op))?;
    for item in legacy.range(start..end).map_err(be(op))? {
        let (k, v) = item.map_err(be(op))?;
        out.push((k.value(), decode_legacy_keys(v.value())?));
    }
    let keys = txn.open_table(KEYS).map_err(be(op))?;
    for item in keys.range(start..end).map_err(be(op))? {
        let (k, v) = item.map_err(be(op))?;
        out.push((k.value(), decode_keys(v.value())?));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// The leaf filter never rules out a leaf it was given, through any number of parts,
        /// answers nothing until it is complete, and rules out most leaves it was not given.
        #[test]
        fn leaf_filter_has_no_false_negatives(
            history in proptest::collection::vec(any::<[u8; 32]>(), 0..300),
            appended in proptest::collection::vec(any::<[u8; 32]>(), 0..2000),
            first_part in 1u64..64,
        ) {
            let mut f = LeafFilter { first_part, ..LeafFilter::default() };
            for a in &appended {
                f.insert(&Hash(*a));
            }
            prop_assert!(appended.iter().all(|a| !f.rules_out(&Hash(*a))));
            prop_assert!(!f.rules_out(&Hash([7; 32])), "an incomplete filter ruled a leaf out");
            let mut h = FilterPart::new(history.len() as u64);
            for a in &history {
                h.insert(&Hash(*a));
            }
            f.complete_with(h);
            for a in history.iter().chain(&appended) {
                prop_assert!(!f.rules_out(&Hash(*a)), "lost a leaf");
            }
            // Every part holds at most its capacity, and each doubles the one before.
            for w in f.parts[1..].windows(2) {
                prop_assert_eq!(w[1].capacity, w[0].capacity * 2);
            }
            prop_assert!(f.parts.iter().all(|p| p.items <= p.capacity));
            // Leaves it never saw are mostly ruled out (a full part: about 0.5% pass each).
            let absent = (0..2000u32)
                .filter(|i| f.rules_out(&hallmark_tlog::leaf_hash(&i.to_be_bytes())))
                .count();
            prop_assert!(absent > 1800, "only {absent} of 2000 absent leaves ruled out");
        }
    }

    #[test]
    fn search_keys_encoding_round_trips_and_rejects_garbage() {
        let keys: Vec<String> = ["", "a\0b", "\0\0", "email:x@example.com", "\u{10FFFF}"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let raw = encode_keys(&keys).unwrap();
        assert_eq!(decode_keys(&raw).unwrap(), keys);
        assert!(decode_keys(&[]).unwrap().is_empty());
        // Truncated in a length, truncated in a key, not UTF-8.
        assert!(decode_keys(&raw[..2]).is_err());
        assert!(decode_keys(&raw[..raw.len() - 1]).is_err());
        assert!(decode_keys(&[0, 0, 0, 1, 0xff]).is_err());
    }
}
