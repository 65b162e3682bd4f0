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
}
