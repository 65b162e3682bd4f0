//! The append-only entry store.
//!
//! The trait is small on purpose, so that a PostgreSQL implementation can follow the embedded one:
//! one method writes a whole batch atomically and durably; the rest are reads of committed data.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use hallmark_tlog::Hash;
use hallmark_tlog::tree::{HashReader, stored_count};

use crate::StoreError;

/// An entry as submitted to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// The leaf data: what the Merkle leaf hash covers.
    pub data: Vec<u8>,
    /// Search keys under which the entry can be found (e.g. `sha256:<hex>`, `email:<addr>`).
    pub index_keys: Vec<String>,
}

impl NewEntry {
    /// An entry without search keys.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        Self {
            data: data.into(),
            index_keys: Vec::new(),
        }
    }
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Milliseconds since the Unix epoch at which the entry's batch was sequenced.
    pub integrated_ms: u64,
    /// The leaf data.
    pub data: Vec<u8>,
}

impl StoredEntry {
    /// The stored record: 8 bytes of big-endian timestamp, then the data.
    pub fn encode(integrated_ms: u64, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + data.len());
        v.extend_from_slice(&integrated_ms.to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    /// Reads a record written by [`StoredEntry::encode`].
    pub fn decode(record: &[u8]) -> Result<Self, StoreError> {
        let (ts, data) = record.split_at_checked(8).ok_or(StoreError::Corrupt {
            what: "entry record shorter than its timestamp",
        })?;
        let mut b = [0u8; 8];
        b.copy_from_slice(ts);
        Ok(Self {
            integrated_ms: u64::from_be_bytes(b),
            data: data.to_vec(),
        })
    }
}

/// One atomic, durable write: the entries of a batch and everything derived from them.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Index of the first entry; must equal the stored tree size.
    pub first_index: u64,
    /// Sequencing time of the batch, in milliseconds since the Unix epoch.
    pub integrated_ms: u64,
    /// The new entries in log order.
    pub entries: &'a [NewEntry],
    /// Each entry's signature by the log (Rekor's signed entry timestamp), made before the batch
    /// is written so that it is stored with the entry in the same transaction: empty for a log
    /// that signs no entries, else one per entry.
    pub entry_signatures: &'a [Vec<u8>],
    /// Their leaf hashes.
    pub leaf_hashes: &'a [Hash],
    /// Tree hashes to store, starting at position `stored_count(first_index)`.
    pub tree_hashes: &'a [Hash],
    /// The signed checkpoint (note) for the tree after this batch.
    pub checkpoint: &'a str,
    /// Whether to also keep this checkpoint in the history that auditors can fetch by size.
    pub keep_checkpoint: bool,
}

impl Batch<'_> {
    /// Tree size after the batch.
    pub fn new_size(&self) -> u64 {
        self.first_index + self.entries.len() as u64
    }

    /// Checks the batch's slices agree in length (a bug otherwise, never a client's doing).
    pub fn check_shape(&self) -> Result<(), StoreError> {
        if self.leaf_hashes.len() != self.entries.len() {
            return Err(StoreError::Corrupt {
                what: "batch has a different number of leaf hashes and entries",
            });
        }
        if !self.entry_signatures.is_empty() && self.entry_signatures.len() != self.entries.len() {
            return Err(StoreError::Corrupt {
                what: "batch has entry signatures for some entries but not all",
            });
        }
        Ok(())
    }
}

/// What the store holds at open.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StoredState {
    /// Number of entries.
    pub size: u64,
    /// The latest signed checkpoint, if any batch was ever written.
    pub checkpoint: Option<String>,
}

/// Durable, append-only storage for one log.
pub trait LogStore: Send + Sync + 'static {
    /// The committed tree size and latest checkpoint.
    fn state(&self) -> Result<StoredState, StoreError>;

    /// Writes a batch in one transaction and returns only once it is durable. On error nothing of the
    /// batch is visible.
    fn append(&self, batch: &Batch<'_>) -> Result<(), StoreError>;

    /// The entry at `index`, if committed.
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError>;

    /// Committed entries in `[start, end)`, in order; fewer if the log is shorter.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError>;

    /// For each leaf hash, the index of the entry with that hash, if logged. The sequencer's
    /// duplicate check; readers use [`LogStore::lookup_leaves`].
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError>;

    /// [`LogStore::find_leaves`] for readers (entries and proofs looked up by leaf hash): a store
    /// whose writer has connections of its own serves these elsewhere, so that anonymous reads
    /// never hold up appends.
    fn lookup_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        self.find_leaves(leaf_hashes)
    }

    /// The log's signature over the entry at `index` (its signed entry timestamp), if the entry
    /// is committed and was signed.
    fn entry_signature(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` indexes, at or after `from`, of committed entries that have no entry
    /// signature, ascending (entries written before the log signed entries as it appended them).
    fn unsigned_entries(&self, from: u64, limit: usize) -> Result<Vec<u64>, StoreError>;

    /// Stores signatures for committed entries that have none, durably, in one transaction.
    /// An index beyond the log, or one that already has a signature, is an error and nothing is
    /// written: a signature once stored (and possibly served) is never replaced.
    fn add_entry_signatures(&self, signatures: &[(u64, Vec<u8>)]) -> Result<(), StoreError>;

    /// Indexes of entries filed under a search key, newest first (descending), only those below
    /// `before` when it is given, at most `limit`. Paging with `before` set to the last index of
    /// the previous page walks every entry under the key exactly once, however many there are.
    fn search(&self, key: &str, before: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError>;

    /// Stored tree hashes by position (see [`hallmark_tlog::tree`]).
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// Checkpoints kept in the history, with tree sizes in `[from, to]`, ascending.
    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError>;
}

/// Reading back the search keys each entry was filed under: what a copy of the log needs and
/// [`LogStore::search`] cannot give (it maps a key to entries, not an entry to its keys). A
/// separate trait, so that only stores that keep the keys by entry offer it.
pub trait EntrySearchKeys {
    /// Each entry in `[start, end)` that has search keys, with its keys, ascending by index.
    /// A key listed twice for one entry may come back twice; the order of an entry's keys is not
    /// significant (an entry is filed once under each of its keys).
    fn entry_search_keys(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError>;
}

/// From `ascending` (indexes in log order), those below `before`, newest first, at most `limit`.
pub(crate) fn newest_below(ascending: &[u64], before: Option<u64>, limit: usize) -> Vec<u64> {
    let end = before.map_or(ascending.len(), |b| ascending.partition_point(|&i| i < b));
    ascending[..end].iter().rev().take(limit).copied().collect()
}

/// Adapts a [`LogStore`] to the Merkle code's reader trait.
#[derive(Debug)]
pub struct TreeReader<'a, S: ?Sized>(pub &'a S);

impl<S: LogStore + ?Sized> HashReader for TreeReader<'_, S> {
    type Error = StoreError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.0.read_hashes(indexes)
    }
}

/// An in-memory [`LogStore`] for unit tests of the logic above storage. Not durable.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    entries: Vec<StoredEntry>,
    signatures: Vec<Option<Vec<u8>>>,
    hashes: Vec<Hash>,
    leaves: HashMap<Hash, u64>,
    index: HashMap<String, Vec<u64>>,
    checkpoint: Option<String>,
    history: BTreeMap<u64, String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the data half-written in a way that matters
        // to a test store; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LogStore for MemoryStore {
    fn state(&self) -> Result<StoredState, StoreError> {
        let g = self.lock();
        Ok(StoredState {
            size: g.entries.len() as u64,
            checkpoint: g.checkpoint.clone(),
        })
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        batch.check_shape()?;
        let mut g = self.lock();
        let size = g.entries.len() as u64;
        if batch.first_index != size || g.hashes.len() as u64 != stored_count(size) {
            return Err(StoreError::NotContiguous {
                batch_start: batch.first_index,
                stored_size: size,
            });
        }
        for (i, (e, lh)) in batch.entries.iter().zip(batch.leaf_hashes).enumerate() {
            let index = size + i as u64;
            g.entries.push(StoredEntry {
                integrated_ms: batch.integrated_ms,
                data: e.data.clone(),
            });
            g.signatures.push(batch.entry_signatures.get(i).cloned());
            g.leaves.insert(*lh, index);
            for k in &e.index_keys {
                let list = g.index.entry(k.clone()).or_default();
                // An entry listing a key twice is filed once.
                if list.last() != Some(&index) {
                    list.push(index);
                }
            }
        }
        g.hashes.extend_from_slice(batch.tree_hashes);
        g.checkpoint = Some(batch.checkpoint.to_owned());
        if batch.keep_checkpoint {
            g.history
                .insert(batch.new_size(), batch.checkpoint.to_owned());
        }
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.lock().entries.get(i).cloned()))
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let g = self.lock();
        let len = g.entries.len();
        let s = usize::try_from(start).unwrap_or(len).min(len);
        let e = usize::try_from(end).unwrap_or(len).min(len).max(s);
        Ok(g.entries[s..e].to_vec())
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        let g = self.lock();
        Ok(leaf_hashes
            .iter()
            .map(|h| g.leaves.get(h).copied())
            .collect())
    }

    fn entry_signature(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.lock().signatures.get(i).cloned().flatten()))
    }

    fn unsigned_entries(&self, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        let g = self.lock();
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        Ok(g.signatures
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| i as u64)
            .take(limit)
            .collect())
    }

    fn add_entry_signatures(&self, signatures: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut g = self.lock();
        let size = g.entries.len() as u64;
        for (index, _) in signatures {
            match usize::try_from(*index)
                .ok()
                .and_then(|i| g.signatures.get(i))
            {
                None => {
                    return Err(StoreError::OutOfRange {
                        what: "entry to sign",
                        index: *index,
                        size,
                    });
                }
                Some(Some(_)) => return Err(StoreError::AlreadySigned { index: *index }),
                Some(None) => {}
            }
        }
        for (index, sig) in signatures {
            if let Some(slot) = usize::try_from(*index)
                .ok()
                .and_then(|i| g.signatures.get_mut(i))
            {
                *slot = Some(sig.clone());
            }
        }
        Ok(())
    }

    fn search(&self, key: &str, before: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        let g = self.lock();
        let Some(all) = g.index.get(key) else {
            return Ok(Vec::new());
        };
        Ok(newest_below(all, before, limit))
    }

    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let g = self.lock();
        positions
            .iter()
            .map(|&p| {
                usize::try_from(p)
                    .ok()
                    .and_then(|i| g.hashes.get(i).copied())
                    .ok_or(StoreError::OutOfRange {
                        what: "tree hash position",
                        index: p,
                        size: g.entries.len() as u64,
                    })
            })
            .collect()
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        let g = self.lock();
        Ok(g.history
            .range(from..=to)
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }
}

impl EntrySearchKeys for MemoryStore {
    fn entry_search_keys(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        // The test store keeps keys by key only: invert the index for the range.
        let g = self.lock();
        let mut by_index: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (key, list) in &g.index {
            for &i in list.iter().filter(|&&i| i >= start && i < end) {
                by_index.entry(i).or_default().push(key.clone());
            }
        }
        Ok(by_index.into_iter().collect())
    }
}
