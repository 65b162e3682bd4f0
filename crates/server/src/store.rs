//! The logs' storage as the handlers see it: any [`LogStore`] behind one type, so handler state
//! names no storage engine. Production opens redb files (`hallmark_log::RedbStore`); handler
//! tests use `hallmark_log::MemoryStore`.

use std::sync::Arc;

use hallmark_log::store::{Batch, LogStore, StoredEntry, StoredState};
use hallmark_log::{Sequencer, StoreError};
use hallmark_tlog::Hash;

/// A sequencer over a [`SharedStore`]: the one log type the handlers use.
pub(crate) type LogSequencer = Sequencer<SharedStore>;

/// Any [`LogStore`], shared. Each call is passed on unchanged; for a store that blocks on the
/// network (PostgreSQL, whose blocking client runs its own runtime and must not be entered from
/// an async worker), a call made on an async worker thread first leaves the executor
/// (`block_in_place`), so handlers can read in place whatever the store.
#[derive(Clone)]
pub(crate) struct SharedStore {
    store: Arc<dyn LogStore>,
    networked: bool,
}

impl SharedStore {
    /// Shares `store`, an embedded one (its reads are local and quick).
    pub(crate) fn new(store: impl LogStore) -> Self {
        Self {
            store: Arc::new(store),
            networked: false,
        }
    }

    /// Shares a store that talks to a database server and is also held elsewhere (a PostgreSQL
    /// store, which the sequencer election fences and unfences).
    pub(crate) fn networked(store: Arc<dyn LogStore>) -> Self {
        Self {
            store,
            networked: true,
        }
    }

    fn call<T>(&self, f: impl FnOnce(&dyn LogStore) -> T) -> T {
        let store = self.store.as_ref();
        if self.networked
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
        {
            tokio::task::block_in_place(|| f(store))
        } else {
            f(store)
        }
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl LogStore for SharedStore {
    fn state(&self) -> Result<StoredState, StoreError> {
        self.call(|s| s.state())
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        self.call(|s| s.append(batch))
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        self.call(|s| s.entry(index))
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        self.call(|s| s.entries(start, end))
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        self.call(|s| s.find_leaves(leaf_hashes))
    }

    fn lookup_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        self.call(|s| s.lookup_leaves(leaf_hashes))
    }

    fn entry_signature(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(|s| s.entry_signature(index))
    }

    fn unsigned_entries(&self, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.call(|s| s.unsigned_entries(from, limit))
    }

    fn add_entry_signatures(&self, signatures: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        self.call(|s| s.add_entry_signatures(signatures))
    }

    fn search(&self, key: &str, before: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.call(|s| s.search(key, before, limit))
    }

    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.call(|s| s.read_hashes(positions))
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        self.call(|s| s.checkpoints(from, to))
    }
}
