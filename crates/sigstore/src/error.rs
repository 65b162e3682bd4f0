//! The one error type of this crate.

/// Why a proposed Rekor entry, a log answer, or an input to a trust document or bundle was
/// rejected.
///
/// Every variant is a mistake of whoever wrote the input (for the server: the client's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The body is not JSON, or a field has the wrong JSON type.
    #[error("malformed entry: {field}: {reason}")]
    Malformed {
        /// Dotted path of the offending field (`"body"` for the whole document).
        field: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A required field is absent or `null`.
    #[error("missing field {field}")]
    MissingField {
        /// Dotted path of the missing field.
        field: &'static str,
    },
    /// `kind` names an entry type Hallmark does not accept.
    #[error("unsupported entry kind {kind:?} (accepted: hashedrekord, dsse, intoto)")]
    UnsupportedKind {
        /// The kind as sent.
        kind: String,
    },
    /// `apiVersion` is not the one version Hallmark implements for this kind.
    #[error("unsupported apiVersion {version:?} for kind {kind} (expected {expected})")]
    UnsupportedVersion {
        /// The entry kind.
        kind: &'static str,
        /// The version as sent.
        version: String,
        /// The version Hallmark implements.
        expected: &'static str,
    },
    /// A field that must be base64 is not.
    #[error("{field} is not valid base64: {reason}")]
    Base64 {
        /// Dotted path of the field.
        field: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// A field that must be hexadecimal is not, or has the wrong length.
    #[error("{field} is not a {expected_len}-digit hex string")]
    Hex {
        /// Dotted path of the field.
        field: &'static str,
        /// Expected number of hex digits.
        expected_len: usize,
    },
    /// A field is larger than Hallmark accepts.
    #[error("{field} is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Dotted path of the field (`"body"` for the whole document).
        field: &'static str,
        /// Its size in bytes (or elements for lists).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A hash algorithm name Hallmark does not accept.
    #[error("{field}: unsupported hash algorithm {algorithm:?} (accepted: sha256, sha384, sha512)")]
    UnsupportedHash {
        /// Dotted path of the field.
        field: &'static str,
        /// The name as sent.
        algorithm: String,
    },
    /// A verifier is neither a PEM certificate nor a PEM public key, or does not parse.
    #[error("{field}: not a PEM certificate or public key: {reason}")]
    BadPublicKey {
        /// Dotted path of the field.
        field: &'static str,
        /// What failed.
        reason: String,
    },
    /// The key type cannot be used here (for instance Ed25519 over a prehashed digest).
    #[error("{field}: {algorithm} keys are not supported here: {reason}")]
    UnsupportedKey {
        /// Dotted path of the field.
        field: &'static str,
        /// The key type, as named by Hallmark.
        algorithm: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The entry would add more search-index keys than one entry may.
    #[error(
        "the entry would add {count} search-index keys (its digest, and per verifier its key and \
         identities); the limit is {limit}"
    )]
    TooManyIndexKeys {
        /// Distinct keys the entry would add.
        count: usize,
        /// The limit ([`crate::MAX_INDEX_KEYS`]).
        limit: usize,
    },
    /// An entry UUID is not 80 hex digits (tree id and leaf hash) or the 64-digit leaf hash.
    #[error("{uuid:?} is not an entry UUID (80 hex digits, or the 64-digit leaf hash)")]
    BadUuid {
        /// The text as sent (its first 100 characters).
        uuid: String,
    },
    /// A time cannot be written as an RFC 3339 timestamp of the Sigstore documents.
    #[error("Unix time {unix} is outside the years 1970 to 9999")]
    TimeOutOfRange {
        /// The time, Unix seconds.
        unix: i64,
    },
    /// A Sigstore document has a media type this crate does not read as that document.
    #[error("{document}: unsupported mediaType {media_type:?}")]
    UnsupportedMediaType {
        /// The document expected (`"trusted root"`, `"bundle"`, ...).
        document: &'static str,
        /// The media type as found (its first 100 characters), empty when absent.
        media_type: String,
    },
    /// A signature does not verify.
    #[error("signature verification failed: {what}")]
    BadSignature {
        /// Which signature (for DSSE: its position in the envelope).
        what: String,
    },
}

impl EntryError {
    pub(crate) fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        EntryError::Malformed {
            field,
            reason: reason.into(),
        }
    }
}

/// `Result` with [`EntryError`].
pub type Result<T, E = EntryError> = std::result::Result<T, E>;
