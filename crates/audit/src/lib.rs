//! Hallmark's auditor (`hallmark audit`): what an auditor needs to trust a transparency log no
//! more than its proofs allow.
//!
//! - [`store`]: the checkpoints this auditor verified, per log, in an embedded store, so that a
//!   log that rewrites, truncates or forks its history is caught across restarts.
//! - [`sync`]: follows a log (the Rekor v1 API, Rekor v2 tlog-tiles, the RFC 6962 CT API): each
//!   new checkpoint's signature against the trust root, a consistency proof from the last
//!   checkpoint trusted; `--full` recomputes the root from every entry.
//! - [`watch`]: every certificate and signature made in a watched identity's name, in the CT log
//!   and the signature log, and whether it was expected.
//! - [`witness`]: the auditor as a [C2SP tlog-witness](https://c2sp.org/tlog-witness), cosigning
//!   checkpoints it has verified to be consistent with what it cosigned before.
//!
//! The Merkle math and the signed-note formats live in [`hallmark_tlog`]; this crate fetches,
//! stores and decides.

pub mod error;
pub mod watch;
pub mod witness;

pub use error::AuditError;
