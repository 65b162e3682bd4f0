//! The transparency-log service core shared by Hallmark's signature log and its CT log.
//!
//! - [`store`]: an append-only entry store behind the [`LogStore`] trait, with an embedded
//!   implementation on [redb](https://docs.rs/redb) ([`RedbStore`]), one on PostgreSQL for several
//!   replicas sharing a database ([`PgStore`]), and an in-memory one for tests ([`MemoryStore`]).
//!   A batch of entries, the Merkle hashes it adds, its index keys and the signed checkpoint for
//!   the new tree are written in one transaction.
//! - [`Sequencer`]: accepts appends from any number of threads or tasks, gathers whatever is waiting
//!   into a batch, and makes each batch durable with one commit (group commit). An append is
//!   acknowledged only after its batch — entry, tree hashes and checkpoint — is durable.
//!
//! The Merkle math lives in [`hallmark_tlog`]; keys come in through the RustCrypto
//! [`signature::Signer`] trait, so an HSM-held key and an in-memory key are interchangeable.
//!
//! # Life of an append
//! 1. [`Sequencer::append`] sends the entry to the sequencer thread and waits on a one-shot reply.
//! 2. The thread takes every request waiting (up to `max_batch`), hashes each entry (RFC 6962 leaf
//!    hash), and drops duplicates (already logged, or twice in the batch) after one batched lookup.
//! 3. For a log with an [`EntrySigner`] (Rekor's SETs), it signs each new entry once, with its
//!    index and the batch's time. It appends the new leaves to a copy of the in-memory
//!    [`hallmark_tlog::tree::Frontier`], which yields the node hashes to store and the new root,
//!    then signs a checkpoint for the new size.
//! 4. It hands the batch to the committer thread, whose one write transaction stores entries,
//!    their signatures, hashes, index keys, tree size and checkpoint, and commits with fsync. Only
//!    then does the committed state advance and every waiter get its [`Appended`]. Meanwhile the
//!    sequencer thread numbers and signs the next batch on top of the one committing (at most one
//!    batch ahead), so the HSM's signatures overlap the disk's fsync.
//! 5. If any signing fails, nothing of the batch is sent and every waiter in it gets the error. If
//!    a commit fails, every waiter of that batch and of the batch prepared on top of it gets the
//!    error; the sequencer waits for the committer to drain and starts again from the store. An
//!    entry sent twice while its first copy is still committing is answered, as a duplicate, only
//!    once that copy is durable.
//!
//! [`migrate`] copies a log from one store into another (redb into PostgreSQL) and verifies it.
//!
//! Reads (entries, their stored signatures, proofs, the latest signed checkpoint) never sign.

mod error;
pub mod migrate;
mod pg_store;
mod redb_store;
mod sequencer;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{LogError, StoreError};
pub use pg_store::{PgOptions, PgStore, SCHEMA_VERSION, SequencerLease};
pub use redb_store::{DEFAULT_CACHE_MIB as DEFAULT_REDB_CACHE_MIB, RedbStore};
pub use sequencer::{
    Appended, CheckpointSigner, Committed, EntrySigner, Sequencer, SequencerConfig,
};
pub use store::{Batch, EntrySearchKeys, LogStore, MemoryStore, NewEntry, StoredEntry};
