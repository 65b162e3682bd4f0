//! Errors of the auditor.

/// What went wrong while auditing a log. The variants that mean "the log misbehaved" (as opposed
/// to "the auditor could not check") say which tree sizes disagree.
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
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A watch rule or configuration file is unusable.
    #[error("watch configuration: {problem}")]
    WatchConfig {
        /// What is wrong, naming the rule.
        problem: String,
    },
    /// A log entry is not what its log stores.
    #[error("{log_url}: entry {index} cannot be read: {problem}")]
    Entry {
        /// The log.
        log_url: String,
        /// The entry's index.
        index: u64,
        /// Why.
        problem: String,
    },
}
