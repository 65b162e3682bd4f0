//! Hallmark's auditor (`hallmark audit`): what an auditor needs to trust a transparency log no
//! more than its proofs allow.
//!
//! - [`trust`]: the logs to audit and their keys, from the Sigstore trust material, and the
//!   verification of their signed heads (checkpoints, signed tree heads).
//! - [`source`]: how a log is read ([`source::LogSource`]; over HTTP in [`http`], with proofs
//!   built from tiles for tlog-tiles logs in [`tiles`]), and [`source::EntryRange`], which walks
//!   a range of entries with their indexes, bytes and leaf hashes.
//! - [`store`]: the checkpoints this auditor verified, per log, in an embedded store, so that a
//!   log that rewrites, truncates or forks its history is caught across restarts; and the
//!   progress of a full recomputation.
//! - [`sync`]: follows a log (the Rekor v1 API, Rekor v2 tlog-tiles, the RFC 6962 CT API): each
//!   new checkpoint's signature against the trust root, a consistency proof from the last
//!   checkpoint trusted; `--full` recomputes the root from every entry; gossip checks another
//!   auditor's checkpoints against this one's view; inclusion proofs against a checkpoint this
//!   auditor verified.
//! - [`watch`]: every certificate and signature made in a watched identity's name, in the CT log
//!   and the signature log, and whether it was expected.
//! - [`witness`]: the auditor as a [C2SP tlog-witness](https://c2sp.org/tlog-witness), cosigning
//!   checkpoints it has verified to be consistent with what it cosigned before.
//!
//! The Merkle math and the signed-note formats live in [`hallmark_tlog`], the CT structures in
//! [`hallmark_sigstore::ct`]; this crate fetches, stores and decides.

pub mod error;
pub mod http;
pub mod source;
pub mod store;
pub mod sync;
pub mod tiles;
pub mod trust;
pub mod watch;
pub mod witness;

pub use error::AuditError;
pub use source::{Chunk, EntryRange, InclusionAnswer, LogSource};
pub use store::{AuditStore, StoredCheckpoint};
pub use sync::{Auditor, decide};
pub use trust::{AuditedLog, LogKind, VerifiedHead};
