use std::error::Error as StdError;

/// A storage backend failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed during `op`.
    #[error("storage backend failed during {op}")]
    Backend {
        /// What the store was doing.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// Stored data did not have the expected shape (a corrupt or foreign database).
    #[error("stored data is corrupt: {what}")]
    Corrupt {
        /// What was wrong.
        what: &'static str,
    },
    /// A read asked for something beyond the stored tree.
    #[error("{what} {index} is beyond the stored tree of size {size}")]
    OutOfRange {
        /// What was asked for.
        what: &'static str,
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A batch did not start where the stored tree ends: another writer committed first (a
    /// stale sequencer on another machine), or a bug. Nothing of the batch was written.
    #[error("batch starts at {batch_start} but the stored tree has {stored_size} entries")]
    NotContiguous {
        /// Where the batch starts.
        batch_start: u64,
        /// The stored size.
        stored_size: u64,
    },
    /// An entry signature was to be added for an entry that already has one.
    #[error("entry {index} already has a stored signature; it is never replaced")]
    AlreadySigned {
        /// The entry's index.
        index: u64,
    },
    /// This store writes as sequencer epoch `epoch`, but another sequencer has since taken the
    /// log's lease (epoch `current`): this one is fenced off, and nothing of the batch was written.
    #[error(
        "sequencer epoch {epoch} was superseded by epoch {current}: another sequencer took over \
         the log, nothing was written"
    )]
    Fenced {
        /// The epoch this store writes under.
        epoch: u64,
        /// The log's epoch in the database.
        current: u64,
    },
    /// The database's schema is newer than this build understands (a newer Hallmark migrated
    /// it): upgrade before pointing this one at it.
    #[error(
        "the database schema is version {found}, newer than version {supported} that this \
         build knows: upgrade Hallmark"
    )]
    UnsupportedSchema {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Merkle math rejected a request.
    #[error(transparent)]
    Tree(#[from] hallmark_tlog::Error),
}

impl StoreError {
    pub(crate) fn backend(op: &'static str, e: impl StdError + Send + Sync + 'static) -> Self {
        Self::Backend {
            op,
            source: Box::new(e),
        }
    }
}

/// A failure of the log service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Storage failed; nothing from the affected batch was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checkpoint could not be signed (for an HSM: unreachable); the batch was not committed.
    #[error("could not sign the checkpoint for tree size {size}")]
    Signing {
        /// The tree size that was to be signed.
        size: u64,
        /// The signer's error.
        #[source]
        source: signature::Error,
    },
    /// An entry's signed entry timestamp could not be signed (for an HSM: unreachable); the batch
    /// holding it was not committed.
    #[error("could not sign the entry at log index {index}")]
    EntrySigning {
        /// The entry's log index.
        index: u64,
        /// The signer's error.
        #[source]
        source: signature::Error,
    },
    /// An entry was larger than the configured limit.
    #[error("entry is {size} bytes, the limit is {limit}")]
    EntryTooLarge {
        /// The entry's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The sequencer has stopped (shutting down, or its thread died).
    #[error("the log sequencer is not running")]
    Stopped,
    /// The sequencer's queue is full ([`crate::Sequencer::try_append`]): the caller should come
    /// back later.
    #[error("the log is busy: its append queue is full")]
    Overloaded,
    /// A proof or read was asked for sizes the log cannot serve.
    #[error(transparent)]
    Tree(#[from] hallmark_tlog::Error),
}
