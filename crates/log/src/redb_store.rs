//! The embedded [`LogStore`]: one redb file per log.
//!
//! redb commits with `Durability::Immediate` by default: `commit()` returns after the data and the
//! new root are fsynced, and a crash at any moment leaves the last committed transaction intact.
//! One batch is one transaction, so a batch is either wholly present after a crash or wholly absent.

use std::path::Path;

use hallmark_tlog::Hash;
use hallmark_tlog::tree::stored_count;
use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};

use crate::StoreError;
use crate::store::{Batch, LogStore, StoredEntry, StoredState};

/// Entry records by log index: [`StoredEntry::encode`].
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Tree hashes by stored position.
const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("tree_hashes");
/// Log index by leaf hash.
const LEAVES: TableDefinition<[u8; 32], u64> = TableDefinition::new("leaf_index");
/// Log indexes by search key.
const SEARCH: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("search_index");
/// Checkpoint history by tree size.
const HISTORY: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
/// Tree size and latest checkpoint.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_SIZE: &str = "tree_size";
const META_CHECKPOINT: &str = "checkpoint";

/// A [`LogStore`] in a redb database file.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it (and its tables) if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path.as_ref()).map_err(|e| StoreError::backend("open", e))?;
        let txn = db
            .begin_write()
            .map_err(|e| StoreError::backend("open", e))?;
        {
            txn.open_table(ENTRIES)
                .map_err(|e| StoreError::backend("open", e))?;
            txn.open_table(HASHES)
                .map_err(|e| StoreError::backend("open", e))?;
            txn.open_table(LEAVES)
                .map_err(|e| StoreError::backend("open", e))?;
            txn.open_multimap_table(SEARCH)
                .map_err(|e| StoreError::backend("open", e))?;
            txn.open_table(HISTORY)
                .map_err(|e| StoreError::backend("open", e))?;
            txn.open_table(META)
                .map_err(|e| StoreError::backend("open", e))?;
        }
        txn.commit().map_err(|e| StoreError::backend("open", e))?;
        let store = Self { db };
        // Refuse a database whose tables disagree with its recorded size.
        let state = store.state()?;
        let read = store.read_txn("open")?;
        let entries = read
            .open_table(ENTRIES)
            .and_then(|t| Ok(t.len()?))
            .map_err(|e| StoreError::backend("open", e))?;
        let hashes = read
            .open_table(HASHES)
            .and_then(|t| Ok(t.len()?))
            .map_err(|e| StoreError::backend("open", e))?;
        if entries != state.size || hashes != stored_count(state.size) {
            return Err(StoreError::Corrupt {
                what: "entry or hash count disagrees with the recorded tree size",
            });
        }
        Ok(store)
    }

    fn read_txn(&self, op: &'static str) -> Result<redb::ReadTransaction, StoreError> {
        self.db.begin_read().map_err(|e| StoreError::backend(op, e))
    }
}

fn read_size(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<u64, StoreError> {
    match meta
        .get(META_SIZE)
        .map_err(|e| StoreError::backend("read tree size", e))?
    {
        None => Ok(0),
        Some(v) => {
            let b: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
                what: "tree size is not 8 bytes",
            })?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

impl LogStore for RedbStore {
    fn state(&self) -> Result<StoredState, StoreError> {
        let txn = self.read_txn("read state")?;
        let meta = txn
            .open_table(META)
            .map_err(|e| StoreError::backend("read state", e))?;
        let size = read_size(&meta)?;
        let checkpoint =
            match meta
                .get(META_CHECKPOINT)
                .map_err(|e| StoreError::backend("read state", e))?
            {
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
        let be = |e: redb::Error| StoreError::backend(op, e);
        let txn = self.db.begin_write().map_err(|e| be(e.into()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| be(e.into()))?;
            let size = read_size(&meta)?;
            if size != batch.first_index {
                return Err(StoreError::NotContiguous {
                    batch_start: batch.first_index,
                    stored_size: size,
                });
            }
            let mut entries = txn.open_table(ENTRIES).map_err(|e| be(e.into()))?;
            let mut leaves = txn.open_table(LEAVES).map_err(|e| be(e.into()))?;
            let mut search = txn.open_multimap_table(SEARCH).map_err(|e| be(e.into()))?;
            let mut record = Vec::new();
            for (i, (e, lh)) in batch.entries.iter().zip(batch.leaf_hashes).enumerate() {
                let index = size + i as u64;
                record.clear();
                record.extend_from_slice(&batch.integrated_ms.to_be_bytes());
                record.extend_from_slice(&e.data);
                entries
                    .insert(index, record.as_slice())
                    .map_err(|e| be(e.into()))?;
                leaves.insert(lh.0, index).map_err(|e| be(e.into()))?;
                for k in &e.index_keys {
                    search.insert(k.as_str(), index).map_err(|e| be(e.into()))?;
                }
            }
            let mut hashes = txn.open_table(HASHES).map_err(|e| be(e.into()))?;
            let base = stored_count(size);
            for (i, h) in batch.tree_hashes.iter().enumerate() {
                hashes
                    .insert(base + i as u64, h.0)
                    .map_err(|e| be(e.into()))?;
            }
            if batch.keep_checkpoint {
                let mut history = txn.open_table(HISTORY).map_err(|e| be(e.into()))?;
                history
                    .insert(batch.new_size(), batch.checkpoint)
                    .map_err(|e| be(e.into()))?;
            }
            meta.insert(META_SIZE, batch.new_size().to_be_bytes().as_slice())
                .map_err(|e| be(e.into()))?;
            meta.insert(META_CHECKPOINT, batch.checkpoint.as_bytes())
                .map_err(|e| be(e.into()))?;
        }
        txn.commit().map_err(|e| be(e.into()))
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        let txn = self.read_txn("read entry")?;
        let t = txn
            .open_table(ENTRIES)
            .map_err(|e| StoreError::backend("read entry", e))?;
        match t
            .get(index)
            .map_err(|e| StoreError::backend("read entry", e))?
        {
            None => Ok(None),
            Some(v) => StoredEntry::decode(v.value()).map(Some),
        }
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        let op = "read entries";
        let txn = self.read_txn(op)?;
        let t = txn
            .open_table(ENTRIES)
            .map_err(|e| StoreError::backend(op, e))?;
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        for item in t
            .range(start..end)
            .map_err(|e| StoreError::backend(op, e))?
        {
            let (_, v) = item.map_err(|e| StoreError::backend(op, e))?;
            out.push(StoredEntry::decode(v.value())?);
        }
        Ok(out)
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<u64>>, StoreError> {
        let op = "look up leaf hashes";
        let txn = self.read_txn(op)?;
        let t = txn
            .open_table(LEAVES)
            .map_err(|e| StoreError::backend(op, e))?;
        leaf_hashes
            .iter()
            .map(|h| {
                t.get(h.0)
                    .map(|v| v.map(|v| v.value()))
                    .map_err(|e| StoreError::backend(op, e))
            })
            .collect()
    }

    fn search(&self, key: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let op = "search";
        let txn = self.read_txn(op)?;
        let t = txn
            .open_multimap_table(SEARCH)
            .map_err(|e| StoreError::backend(op, e))?;
        let mut out = Vec::new();
        for v in t.get(key).map_err(|e| StoreError::backend(op, e))? {
            if out.len() == limit {
                break;
            }
            out.push(v.map_err(|e| StoreError::backend(op, e))?.value());
        }
        Ok(out)
    }

    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let op = "read tree hashes";
        let txn = self.read_txn(op)?;
        let t = txn
            .open_table(HASHES)
            .map_err(|e| StoreError::backend(op, e))?;
        positions
            .iter()
            .map(
                |&p| match t.get(p).map_err(|e| StoreError::backend(op, e))? {
                    Some(v) => Ok(Hash(v.value())),
                    None => Err(StoreError::OutOfRange {
                        what: "tree hash position",
                        index: p,
                        size: 0,
                    }),
                },
            )
            .collect()
    }

    fn checkpoints(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let op = "read checkpoints";
        if from > to {
            return Ok(Vec::new());
        }
        let txn = self.read_txn(op)?;
        let t = txn
            .open_table(HISTORY)
            .map_err(|e| StoreError::backend(op, e))?;
        let mut out = Vec::new();
        for item in t.range(from..=to).map_err(|e| StoreError::backend(op, e))? {
            let (k, v) = item.map_err(|e| StoreError::backend(op, e))?;
            out.push((k.value(), v.value().to_owned()));
        }
        Ok(out)
    }
}
