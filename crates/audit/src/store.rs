//! The auditor's memory: an embedded [redb](https://docs.rs/redb) file (`audit.redb` in the
//! state directory) holding, per log (keyed by [`crate::trust::AuditedLog::store_key`]):
//!
//! - every checkpoint the auditor verified: size, root, origin, the signed note or STH exactly
//!   as received, and when it was first seen; and which is the latest trusted one;
//! - the progress of a `--full` recomputation: the tree size it checks up to, the next entry
//!   and the Merkle frontier so far, so that a long run resumes after Ctrl-C or a crash.
//!
//! Each write is one redb transaction, durable when it returns. One process at a time (redb
//! locks the file); within it, any number of threads.

use std::path::{Path, PathBuf};

use hallmark_tlog::Hash;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::AuditError;

/// (log, tree size) to a [`StoredCheckpoint`] (JSON).
const CHECKPOINTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("checkpoints");
/// Log to the size of its latest trusted checkpoint.
const LATEST: TableDefinition<&str, u64> = TableDefinition::new("latest");
/// Log to its [`FullProgress`] (JSON).
const FULL: TableDefinition<&str, &[u8]> = TableDefinition::new("full_sync");

/// A checkpoint this auditor verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash (hex).
    pub root: String,
    /// Origin line (Rekor logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The signed note or STH JSON as received.
    pub signed: String,
    /// When this auditor first verified it (Unix seconds).
    pub seen_unix: i64,
}

impl StoredCheckpoint {
    /// The root as a hash.
    pub fn root_hash(&self) -> Result<Hash, AuditError> {
        Hash::from_hex(&self.root).map_err(|e| AuditError::Store {
            path: "checkpoint".into(),
            source: Box::new(e),
        })
    }
}

/// Where a `--full` recomputation stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullProgress {
    /// The verified checkpoint size it checks up to.
    pub target: u64,
    /// Entries hashed so far (the next index to read).
    pub next: u64,
    /// The frontier of the tree of `next` entries (hex hashes, largest subtree first).
    pub frontier: Vec<String>,
}

/// The auditor's store.
#[derive(Debug)]
pub struct AuditStore {
    db: Database,
    path: PathBuf,
}

impl AuditStore {
    /// Opens (creating if needed) `audit.redb` in `dir`.
    ///
    /// # Errors
    /// [`AuditError::Store`] when the directory or file cannot be made or opened (another
    /// auditor process holding it, for one).
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        let path = dir.join("audit.redb");
        let err = |e: Box<dyn std::error::Error + Send + Sync>| AuditError::Store {
            path: path.display().to_string(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(Box::new(e)))?;
        let db = Database::create(&path).map_err(|e| err(Box::new(e)))?;
        let store = Self { db, path };
        store.init()?;
        Ok(store)
    }

    /// A store in memory (tests).
    ///
    /// # Errors
    /// [`AuditError::Store`] if redb cannot set it up.
    pub fn in_memory() -> Result<Self, AuditError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| AuditError::Store {
                path: "(memory)".into(),
                source: Box::new(e),
            })?;
        let store = Self {
            db,
            path: PathBuf::from("(memory)"),
        };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<(), AuditError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            txn.open_table(CHECKPOINTS).map_err(|e| self.err(e))?;
            txn.open_table(LATEST).map_err(|e| self.err(e))?;
            txn.open_table(FULL).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    fn err(&self, e: impl std::error::Error + Send + Sync + 'static) -> AuditError {
        AuditError::Store {
            path: self.path.display().to_string(),
            source: Box::new(e),
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, AuditError> {
        serde_json::from_slice(bytes).map_err(|e| self.err(e))
    }

    /// The latest trusted checkpoint of `log`.
    pub fn latest(&self, log: &str) -> Result<Option<StoredCheckpoint>, AuditError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let latest = txn.open_table(LATEST).map_err(|e| self.err(e))?;
        let Some(size) = latest.get(log).map_err(|e| self.err(e))?.map(|v| v.value()) else {
            return Ok(None);
        };
        let cps = txn.open_table(CHECKPOINTS).map_err(|e| self.err(e))?;
        match cps.get((log, size)).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(self.decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// The verified checkpoint of `log` at `size`, if any.
    pub fn at(&self, log: &str, size: u64) -> Result<Option<StoredCheckpoint>, AuditError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let cps = txn.open_table(CHECKPOINTS).map_err(|e| self.err(e))?;
        match cps.get((log, size)).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(self.decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// The verified checkpoints of `log` with sizes in `[from, to]`, smallest first.
    pub fn between(
        &self,
        log: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredCheckpoint>, AuditError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let cps = txn.open_table(CHECKPOINTS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in cps
            .range((log, from)..=(log, to))
            .map_err(|e| self.err(e))?
        {
            let (_, v) = row.map_err(|e| self.err(e))?;
            out.push(self.decode(v.value())?);
        }
        Ok(out)
    }

    /// Records a verified checkpoint of `log`; it becomes the latest when it is larger. A
    /// checkpoint already stored at that size with another root is refused ([`AuditError::Fork`]):
    /// callers check before, this is the last line.
    pub fn record(&self, log: &str, cp: &StoredCheckpoint) -> Result<(), AuditError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut cps = txn.open_table(CHECKPOINTS).map_err(|e| self.err(e))?;
            let existing: Option<StoredCheckpoint> =
                match cps.get((log, cp.size)).map_err(|e| self.err(e))? {
                    Some(v) => Some(self.decode(v.value())?),
                    None => None,
                };
            match existing {
                Some(old) if old.root != cp.root => {
                    return Err(AuditError::Fork {
                        log: log.to_owned(),
                        size: cp.size,
                        trusted_root: old.root,
                        root: cp.root.clone(),
                        context: String::new(),
                    });
                }
                Some(_) => {}
                None => {
                    let json = serde_json::to_vec(cp).map_err(|e| self.err(e))?;
                    cps.insert((log, cp.size), json.as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
            let mut latest = txn.open_table(LATEST).map_err(|e| self.err(e))?;
            let current = latest.get(log).map_err(|e| self.err(e))?.map(|v| v.value());
            if current.is_none_or(|s| s < cp.size) {
                latest.insert(log, cp.size).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// The `--full` progress of `log`.
    pub fn full_progress(&self, log: &str) -> Result<Option<FullProgress>, AuditError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(FULL).map_err(|e| self.err(e))?;
        match t.get(log).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(self.decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// Saves (or with `None` clears) the `--full` progress of `log`.
    pub fn set_full_progress(&self, log: &str, p: Option<&FullProgress>) -> Result<(), AuditError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = txn.open_table(FULL).map_err(|e| self.err(e))?;
            match p {
                Some(p) => {
                    let json = serde_json::to_vec(p).map_err(|e| self.err(e))?;
                    t.insert(log, json.as_slice()).map_err(|e| self.err(e))?;
                }
                None => {
                    t.remove(log).map_err(|e| self.err(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn cp(size: u64, root: &str) -> StoredCheckpoint {
        StoredCheckpoint {
            size,
            root: root.into(),
            origin: None,
            signed: format!("note {size}"),
            seen_unix: 1,
        }
    }

    #[test]
    fn records_survive_reopening_and_latest_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = AuditStore::open(dir.path()).unwrap();
            s.record("v2:aa", &cp(5, "05")).unwrap();
            s.record("v2:aa", &cp(9, "09")).unwrap();
            s.record("v2:aa", &cp(7, "07")).unwrap();
            s.record("ct:bb", &cp(1, "01")).unwrap();
            s.set_full_progress(
                "v2:aa",
                Some(&FullProgress {
                    target: 9,
                    next: 3,
                    frontier: vec!["ab".into()],
                }),
            )
            .unwrap();
        }
        let s = AuditStore::open(dir.path()).unwrap();
        assert_eq!(s.latest("v2:aa").unwrap().unwrap().size, 9);
        assert_eq!(s.latest("ct:bb").unwrap().unwrap().size, 1);
        assert!(s.latest("v1:cc").unwrap().is_none());
        let sizes: Vec<u64> = s
            .between("v2:aa", 6, 9)
            .unwrap()
            .iter()
            .map(|c| c.size)
            .collect();
        assert_eq!(sizes, [7, 9]);
        assert_eq!(s.full_progress("v2:aa").unwrap().unwrap().next, 3);
        s.set_full_progress("v2:aa", None).unwrap();
        assert!(s.full_progress("v2:aa").unwrap().is_none());
        // The same size with another root is a fork, even here.
        assert!(matches!(
            s.record("v2:aa", &cp(7, "77")),
            Err(AuditError::Fork { size: 7, .. })
        ));
        s.record("v2:aa", &cp(7, "07")).unwrap();
    }
}
