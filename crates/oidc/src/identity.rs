//! The identity a verified token proves: the contract between token verification (this crate) and
//! certificate issuance (`hallmark-ca`). The types live in the spec layer
//! ([`hallmark_sigstore::identity`]); they are re-exported here so callers keep their paths.

pub use hallmark_sigstore::identity::{CiExtensions, GithubV1Extensions, Identity, SubjectAltName};
