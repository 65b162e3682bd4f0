//! What a successful verification returns.

use crate::DigestAlgorithm;

/// Where a verified signing time came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeSource {
    /// A transparency log's signed entry timestamp (integrated time).
    TransparencyLog {
        /// The log's base URL.
        log: String,
    },
    /// An RFC 3161 timestamp authority.
    TimestampAuthority {
        /// The authority's URI.
        authority: String,
    },
}

/// A verified time at which the signature existed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningTime {
    /// Unix seconds.
    pub unix: i64,
    /// Who vouches for it.
    pub source: TimeSource,
}

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// A certificate identity.
    Certificate {
        /// The SAN that matched the policy.
        san: String,
        /// The OIDC issuer.
        issuer: String,
        /// The leaf certificate, DER.
        certificate_der: Vec<u8>,
        /// The URI of the certificate authority it chains to.
        authority: String,
    },
    /// A managed key.
    Key {
        /// The key, DER `SubjectPublicKeyInfo`.
        spki_der: Vec<u8>,
    },
}

/// A verified transparency log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedEntry {
    /// The log's base URL (from the trusted root).
    pub log: String,
    /// The log ID.
    pub log_id: Vec<u8>,
    /// The entry's log index.
    pub log_index: u64,
    /// Entry kind and version (`hashedrekord`, `0.0.1`).
    pub kind: String,
    /// Entry API version.
    pub version: String,
    /// The integrated time, when a signed entry timestamp vouched for it.
    pub integrated_time: Option<i64>,
    /// The tree size of the verified inclusion proof (absent only for v0.1 bundles without one).
    pub tree_size: Option<u64>,
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signed {
    /// An artifact, by digest.
    Artifact {
        /// Digest algorithm.
        algorithm: DigestAlgorithm,
        /// The digest.
        digest: Vec<u8>,
    },
    /// A DSSE payload (read its type before using it).
    Dsse {
        /// The payload type.
        payload_type: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

/// The result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Who signed.
    pub signer: Signer,
    /// What was signed.
    pub signed: Signed,
    /// The verified signing times (at least one).
    pub signing_times: Vec<SigningTime>,
    /// The verified log entries (at least one).
    pub entries: Vec<VerifiedEntry>,
}
