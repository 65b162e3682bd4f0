//! Errors of the auditor.

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong while auditing a log. The variants that mean "the log misbehaved" (as opposed
/// to "the auditor could not check") say which tree sizes disagree; [`AuditError::is_misbehaviour`]
/// tells them apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The embedded store failed.
    #[error("the auditor's store at {path}: {source}")]
    Store {
        /// The store's file.
        path: String,
        /// What failed.
        #[source]
        source: Cause,
    },
    /// The trust material does not describe a log the auditor can check.
    #[error("trust root, {log}: {reason}")]
    TrustRoot {
        /// Which log entry of the trust root (`tlogs[0]`, ...).
        log: String,
        /// What is missing or unusable.
        reason: String,
    },
    /// A request to the log failed (unreachable, timed out, a body that could not be read).
    #[error("{log}: GET/POST {url}: {source}")]
    Fetch {
        /// The log.
        log: String,
        /// The URL asked.
        url: String,
        /// What failed.
        #[source]
        source: Cause,
    },
    /// The log answered with an error status.
    #[error("{log}: {url} answered {status}: {body}")]
    Status {
        /// The log.
        log: String,
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// An answer from the log (or a gossiped checkpoint) does not parse.
    #[error("{log}: malformed {what}: {reason}")]
    Malformed {
        /// The log (or the gossip source).
        log: String,
        /// What was being read.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint or tree head is not signed by the log's key from the trust root.
    #[error(
        "{log}: the checkpoint{size} is not signed by the log's key in the trust root: {source}"
    )]
    Signature {
        /// The log.
        log: String,
        /// " of size N" when the unverified checkpoint said so, else empty.
        size: String,
        /// Why the signature was refused.
        #[source]
        source: Cause,
    },
    /// The checkpoint names another origin than the one trusted before.
    #[error(
        "{log}: checkpoint of size {size} has origin {got:?}, but the trusted checkpoints have origin {trusted:?}"
    )]
    OriginChanged {
        /// The log.
        log: String,
        /// The new checkpoint's size.
        size: u64,
        /// The trusted origin.
        trusted: String,
        /// The new origin.
        got: String,
    },
    /// The log's latest checkpoint is smaller than one it signed before.
    #[error(
        "{log}: the log shrank from {trusted_size} to {size} entries (it signed a checkpoint of size {trusted_size} before, and now one of size {size})"
    )]
    Shrank {
        /// The log.
        log: String,
        /// The largest size trusted so far.
        trusted_size: u64,
        /// The size now claimed.
        size: u64,
    },
    /// Two signed checkpoints of the same size with different roots: a fork, or a split view.
    #[error(
        "{log}: fork at size {size}: the log signed root {trusted_root} and root {root} for the same tree size {size}{context}"
    )]
    Fork {
        /// The log.
        log: String,
        /// The tree size.
        size: u64,
        /// The root trusted (or seen first).
        trusted_root: String,
        /// The other root.
        root: String,
        /// Where the other checkpoint came from (gossip source), or empty.
        context: String,
    },
    /// A consistency proof between two signed checkpoints does not verify: the larger tree does
    /// not extend the smaller one.
    #[error(
        "{log}: the checkpoint of size {second} (root {second_root}) is not consistent with the checkpoint of size {first} (root {first_root}){context}: {source}"
    )]
    Inconsistent {
        /// The log.
        log: Box<str>,
        /// The smaller size.
        first: u64,
        /// Its root.
        first_root: hallmark_tlog::Hash,
        /// The larger size.
        second: u64,
        /// Its root.
        second_root: hallmark_tlog::Hash,
        /// Where the other checkpoint came from (gossip source), or empty.
        context: Box<str>,
        /// Why the proof failed.
        #[source]
        source: Box<hallmark_tlog::Error>,
    },
    /// The entries the log serves do not hash to the root it signed.
    #[error(
        "{log}: the entries 0..{size} the log serves recompute to root {computed}, but its signed checkpoint of size {size} has root {signed}: entries before index {size} were changed or removed"
    )]
    RootMismatch {
        /// The log.
        log: String,
        /// The tree size.
        size: u64,
        /// The root the log signed.
        signed: String,
        /// The root of the entries served.
        computed: String,
    },
    /// An entry is not in the tree of a checkpoint this auditor verified.
    #[error(
        "{log}: entry {index} (leaf hash {leaf}) is not included in the verified checkpoint of size {size} (root {root}): {reason}"
    )]
    NotIncluded {
        /// The log.
        log: Box<str>,
        /// The entry's index.
        index: u64,
        /// Its leaf hash.
        leaf: hallmark_tlog::Hash,
        /// The tree size.
        size: u64,
        /// The root.
        root: hallmark_tlog::Hash,
        /// Why.
        reason: Box<str>,
    },
    /// A watch rule or configuration file is unusable.
    #[error("watch configuration: {problem}")]
    WatchConfig {
        /// What is wrong, naming the rule.
        problem: String,
    },
    /// A log entry is not what its log stores (or a finding about it could not be reported).
    #[error("{}: entry {} cannot be read: {}", .0.log_url, .0.index, .0.problem)]
    Entry(Box<EntryProblem>),
}

/// Which entry of which log, and what is wrong with it ([`AuditError::Entry`]).
#[derive(Debug)]
pub struct EntryProblem {
    /// The log.
    pub log_url: String,
    /// The entry's index.
    pub index: u64,
    /// Why.
    pub problem: String,
}

impl AuditError {
    /// [`AuditError::Entry`] for entry `index` of the log at `log_url`.
    pub fn entry(log_url: &str, index: u64, problem: impl Into<String>) -> Self {
        AuditError::Entry(Box::new(EntryProblem {
            log_url: log_url.to_owned(),
            index,
            problem: problem.into(),
        }))
    }
}

impl AuditError {
    /// Whether the error is evidence that the log misbehaved (rather than the auditor failing
    /// to check it).
    pub fn is_misbehaviour(&self) -> bool {
        matches!(
            self,
            AuditError::Signature { .. }
                | AuditError::OriginChanged { .. }
                | AuditError::Shrank { .. }
                | AuditError::Fork { .. }
                | AuditError::Inconsistent { .. }
                | AuditError::RootMismatch { .. }
                | AuditError::NotIncluded { .. }
        )
    }

    pub(crate) fn malformed(log: &str, what: &str, reason: impl std::fmt::Display) -> Self {
        AuditError::Malformed {
            log: log.to_owned(),
            what: what.to_owned(),
            reason: reason.to_string(),
        }
    }
}
