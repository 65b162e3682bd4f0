//! The logs' storage as the handlers see it: any [`LogStore`] behind one type, so handler state
//! names no storage engine. Production opens redb files (`hallmark_log::RedbStore`); handler
//! tests use `hallmark_log::MemoryStore`.

use std::sync::Arc;

use hallmark_log::store::{Batch, LogStore, StoredEntry, StoredState};
use hallmark_log::{Sequencer, StoreError};
use hallmark_tlog::Hash;

/// A sequencer over a [`SharedStore`]: the one log type the handlers use.
pub(crate) type LogSequencer = Sequencer<SharedStore>;

/// Any [`LogStore`], shared. Each call is passed on unchanged.
#[derive(Clone)]
pub(crate) struct SharedStore(Arc<dyn LogStore>);

impl SharedStore {
    /// Shares `store`.
    pub(crate) fn new(store: impl LogStore) -> Self {
        Self(Arc::new(store))
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl LogStore for SharedStore {
    fn state(&self) -> Result<StoredState, StoreError> {
        self.0.state()
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        self.0.append(batch)
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        self.0.entry(index)
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        self.0.entries(start, end)
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        self.0.find_leaves(leaf_hashes)
    }

    fn entry_signature(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.entry_signature(index)
    }

    fn unsigned_entries(&self, from: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.0.unsigned_entries(from, limit)
    }

    fn add_entry_signatures(&self, signatures: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        self.0.add_entry_signatures(signatures)
    }

    fn search(&self, key: &str, before: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.0.search(key, before, limit)
    }

    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.0.read_hashes(positions)
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        self.0.checkpoints(from, to)
    }
}
