//! What a witness remembers per log: the latest checkpoint it cosigned. The check of a request
//! against it and the update run as one atomic step ([`WitnessState::advance`]), so that two
//! concurrent requests cannot both move a log's state from the same size (C2SP tlog-witness:
//! the old-size check and the update MUST be atomic), and the new state is durable before the
//! cosignature is handed out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hallmark_tlog::Hash;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::WitnessError;

/// Per origin: the latest cosigned checkpoint, as JSON ([`Cosigned`]).
const LATEST: TableDefinition<&str, &[u8]> = TableDefinition::new("witness_latest");

/// The latest checkpoint a witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosigned {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    #[serde(with = "hash_hex")]
    pub root: Hash,
    /// The checkpoint note as the log sent it, with the witness's cosignature appended: what
    /// auditors gossip.
    pub note: String,
}

mod hash_hex {
    use hallmark_tlog::Hash;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&h.to_hex())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The step [`WitnessState::advance`] runs while it holds a log's state: given the latest
/// cosigned checkpoint (`None` if never), it checks the request and returns the new state (or
/// why not).
pub type Decide<'a> = dyn FnMut(Option<&Cosigned>) -> Result<Cosigned, WitnessError> + 'a;

/// Where a witness keeps its per-log state.
pub trait WitnessState: Send + Sync {
    /// The latest checkpoint cosigned for `origin`, if any.
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError>;

    /// Runs `decide` on the current state of `origin` and, if it succeeds, stores its result,
    /// durably, before returning it; nothing else reads or writes that state in between.
    fn advance(&self, origin: &str, decide: &mut Decide<'_>) -> Result<Cosigned, WitnessError>;
}

/// In memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<BTreeMap<String, Cosigned>>);

impl WitnessState for MemoryState {
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(map.get(origin).cloned())
    }

    fn advance(&self, origin: &str, decide: &mut Decide<'_>) -> Result<Cosigned, WitnessError> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = decide(map.get(origin))?;
        map.insert(origin.to_owned(), new.clone());
        Ok(new)
    }
}

/// In a redb file. redb runs one write transaction at a time, and [`RedbState::advance`] reads,
/// decides and writes inside one, committed with immediate durability (fsync) before it returns.
#[derive(Debug)]
pub struct RedbState {
    db: Database,
    path: PathBuf,
}

impl RedbState {
    /// Opens (or creates) the state file at `path`.
    pub fn open(path: &Path) -> Result<Self, WitnessError> {
        let db = Database::create(path).map_err(|e| store_err(path, e))?;
        let txn = db.begin_write().map_err(|e| store_err(path, e))?;
        txn.open_table(LATEST).map_err(|e| store_err(path, e))?;
        txn.commit().map_err(|e| store_err(path, e))?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    fn decode(&self, raw: &[u8]) -> Result<Cosigned, WitnessError> {
        serde_json::from_slice(raw).map_err(|e| store_err(&self.path, e))
    }
}

fn store_err<E: std::error::Error + Send + Sync + 'static>(path: &Path, e: E) -> WitnessError {
    WitnessError::Store {
        path: path.display().to_string(),
        source: Box::new(e),
    }
}

impl WitnessState for RedbState {
    fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        let txn = self.db.begin_read().map_err(|e| store_err(&self.path, e))?;
        let table = txn
            .open_table(LATEST)
            .map_err(|e| store_err(&self.path, e))?;
        let raw = table.get(origin).map_err(|e| store_err(&self.path, e))?;
        raw.map(|v| self.decode(v.value())).transpose()
    }

    fn advance(&self, origin: &str, decide: &mut Decide<'_>) -> Result<Cosigned, WitnessError> {
        let txn = self
            .db
            .begin_write()
            .map_err(|e| store_err(&self.path, e))?;
        let new = {
            let mut table = txn
                .open_table(LATEST)
                .map_err(|e| store_err(&self.path, e))?;
            let current = table
                .get(origin)
                .map_err(|e| store_err(&self.path, e))?
                .map(|v| self.decode(v.value()))
                .transpose()?;
            // A refusal drops the transaction: nothing is written.
            let new = decide(current.as_ref())?;
            let raw = serde_json::to_vec(&new).map_err(|e| store_err(&self.path, e))?;
            table
                .insert(origin, raw.as_slice())
                .map_err(|e| store_err(&self.path, e))?;
            new
        };
        txn.commit().map_err(|e| store_err(&self.path, e))?;
        Ok(new)
    }
}
