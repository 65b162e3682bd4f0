//! The one error type of this crate.

use std::fmt;

/// A document this crate parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Document {
    /// A Sigstore bundle.
    Bundle,
    /// A `TrustedRoot` (or a `ClientTrustConfig` holding one).
    TrustedRoot,
    /// A PEM or DER public key given as a verification policy.
    PublicKey,
    /// An artifact digest given on the command line (`sha256:<hex>`).
    ArtifactDigest,
    /// A regular expression of an identity policy.
    Policy,
    /// A certificate read on its own (a log entry's, by an auditor).
    Certificate,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Bundle => "bundle",
            Document::TrustedRoot => "trusted root",
            Document::PublicKey => "public key",
            Document::ArtifactDigest => "artifact digest",
            Document::Policy => "policy",
            Document::Certificate => "certificate",
        })
    }
}

/// The verification step that failed. Each names one thing a Sigstore verifier checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The bundle's shape for its version: content, verification material, log entries.
    BundleFormat,
    /// The signing certificate itself: parsable, a leaf, key usage and extended key usage.
    Certificate,
    /// The chain from the signing certificate to a trusted certificate authority.
    CertificateChain,
    /// The signing certificate's validity period against the verified signing times.
    CertificateValidity,
    /// The embedded signed certificate timestamps against the trusted CT logs.
    Sct,
    /// The subject alternative name against the identity policy.
    Identity,
    /// The OIDC issuer extension against the identity policy.
    Issuer,
    /// A Fulcio CI extension against the identity policy.
    Extension,
    /// The verification key: certificate vs. public key policy, key type, key match.
    Key,
    /// The message signature over the artifact (hashedrekord content).
    ArtifactSignature,
    /// The artifact or its digest against the bundle (message digest, in-toto subject).
    ArtifactDigest,
    /// The DSSE envelope's signature over its PAE encoding.
    DsseSignature,
    /// The transparency log entry body against the bundle content.
    LogEntry,
    /// The transparency log: known to the trusted root, key valid at the signing time.
    LogKey,
    /// The signed entry timestamp (inclusion promise).
    SignedEntryTimestamp,
    /// The Merkle inclusion proof.
    InclusionProof,
    /// The signed checkpoint (tree head) the inclusion proof ends in.
    Checkpoint,
    /// The log's integrated time.
    IntegratedTime,
    /// An RFC 3161 signed timestamp.
    Timestamp,
    /// Whether any verified source of signing time exists.
    SigningTime,
}

impl Check {
    /// A short lower-case name for messages (`"inclusion proof"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Check::BundleFormat => "bundle format",
            Check::Certificate => "signing certificate",
            Check::CertificateChain => "certificate chain",
            Check::CertificateValidity => "certificate validity",
            Check::Sct => "signed certificate timestamp",
            Check::Identity => "identity",
            Check::Issuer => "issuer",
            Check::Extension => "certificate extension",
            Check::Key => "verification key",
            Check::ArtifactSignature => "artifact signature",
            Check::ArtifactDigest => "artifact digest",
            Check::DsseSignature => "DSSE signature",
            Check::LogEntry => "log entry",
            Check::LogKey => "transparency log",
            Check::SignedEntryTimestamp => "signed entry timestamp",
            Check::InclusionProof => "inclusion proof",
            Check::Checkpoint => "checkpoint",
            Check::IntegratedTime => "integrated time",
            Check::Timestamp => "signed timestamp",
            Check::SigningTime => "signing time",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a bundle (or an input to verification) was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A document could not be parsed, or breaks its format's rules.
    #[error("malformed {document}: {field}: {reason}")]
    Parse {
        /// Which document.
        document: Document,
        /// Dotted path of the offending field (`"$"` for the whole document).
        field: String,
        /// What was wrong with it.
        reason: String,
        /// The underlying error, when a parser of its own rejected the field.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A verification step failed.
    #[error("{check}: {reason}")]
    Check {
        /// The step.
        check: Check,
        /// What it found, with the values involved (or, with a `source`, what was being
        /// checked).
        reason: String,
        /// The underlying error, when the step's own checker failed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl VerifyError {
    /// The failed check, if this is a verification failure (parse errors have none).
    #[must_use]
    pub fn check(&self) -> Option<Check> {
        match self {
            VerifyError::Check { check, .. } => Some(*check),
            VerifyError::Parse { .. } => None,
        }
    }

    pub(crate) fn parse(
        document: Document,
        field: impl Into<String>,
        reason: impl fmt::Display,
    ) -> Self {
        VerifyError::Parse {
            document,
            field: field.into(),
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A parse error caused by `source` (its message is the `reason`; the chain stays
    /// reachable through [`std::error::Error::source`]).
    pub(crate) fn parse_with(
        document: Document,
        field: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        VerifyError::Parse {
            document,
            field: field.into(),
            reason: crate::error::chain(&source),
            source: Some(Box::new(source)),
        }
    }
}

/// Shorthand for a failed check.
pub(crate) fn fail(check: Check, reason: impl Into<String>) -> VerifyError {
    VerifyError::Check {
        check,
        reason: reason.into(),
        source: None,
    }
}

/// A failed check caused by `source`, in the context `context` (`"timestamp #0"`, or empty
/// when the check's name says it all).
pub(crate) fn fail_with(
    check: Check,
    context: impl fmt::Display,
    source: impl std::error::Error + Send + Sync + 'static,
) -> VerifyError {
    let context = context.to_string();
    let reason = if context.is_empty() {
        chain(&source)
    } else {
        format!("{context}: {}", chain(&source))
    };
    VerifyError::Check {
        check,
        reason,
        source: Some(Box::new(source)),
    }
}

/// An error's message followed by its sources' (`a: b: c`), for the `reason` of a
/// [`VerifyError`], whose message stands alone (callers print it without walking sources).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// `Result` with [`VerifyError`].
pub type Result<T, E = VerifyError> = std::result::Result<T, E>;
