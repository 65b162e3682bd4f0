//! What a verification expects: the artifact, and who must have signed it (an identity policy
//! over the Fulcio certificate, or a managed public key).

use std::fmt;

use der::asn1::ObjectIdentifier;
use regex::Regex;

use crate::crypto::PublicKey;
use crate::error::{Document, Result, VerifyError};

/// The artifact a bundle is verified against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// The artifact's SHA-256 digest.
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    /// Parses `sha256:<64 hex digits>` (the form `hallmark verify --digest` takes).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] for another prefix or bad hex.
    pub fn parse_digest(s: &str) -> Result<Artifact<'static>> {
        let hex_part = s.strip_prefix("sha256:").ok_or_else(|| {
            VerifyError::parse(
                Document::ArtifactDigest,
                "$",
                "expected sha256:<64 hex digits>",
            )
        })?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out)
            .map_err(|e| VerifyError::parse(Document::ArtifactDigest, "$", e))?;
        Ok(Artifact::Sha256(out))
    }
}

/// Matches a certificate value: exactly, or by a regular expression over the whole value.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Matcher {
    /// The value must be this string.
    Exact(String),
    /// The value must match this regular expression in full (it is anchored at both ends).
    Regex(Regex),
}

impl Matcher {
    /// An exact matcher.
    pub fn exact(value: impl Into<String>) -> Self {
        Matcher::Exact(value.into())
    }

    /// A regular-expression matcher; `pattern` must match the whole value.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] when the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self> {
        Regex::new(&format!("^(?:{pattern})$"))
            .map(Matcher::Regex)
            .map_err(|e| VerifyError::parse(Document::Policy, "regex", e))
    }

    /// Whether `value` matches.
    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// A Fulcio certificate extension describing the CI run
/// ([OID directory](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CiExtension {
    /// `.1.2` GitHub workflow trigger (deprecated, raw UTF-8).
    GithubWorkflowTrigger,
    /// `.1.3` GitHub workflow SHA (deprecated, raw UTF-8).
    GithubWorkflowSha,
    /// `.1.4` GitHub workflow name (deprecated, raw UTF-8).
    GithubWorkflowName,
    /// `.1.5` GitHub workflow repository (deprecated, raw UTF-8).
    GithubWorkflowRepository,
    /// `.1.6` GitHub workflow ref (deprecated, raw UTF-8).
    GithubWorkflowRef,
    /// `.1.9` build signer URI.
    BuildSignerUri,
    /// `.1.10` build signer digest.
    BuildSignerDigest,
    /// `.1.11` runner environment.
    RunnerEnvironment,
    /// `.1.12` source repository URI.
    SourceRepositoryUri,
    /// `.1.13` source repository digest.
    SourceRepositoryDigest,
    /// `.1.14` source repository ref.
    SourceRepositoryRef,
    /// `.1.15` source repository identifier.
    SourceRepositoryIdentifier,
    /// `.1.16` source repository owner URI.
    SourceRepositoryOwnerUri,
    /// `.1.17` source repository owner identifier.
    SourceRepositoryOwnerIdentifier,
    /// `.1.18` build config URI.
    BuildConfigUri,
    /// `.1.19` build config digest.
    BuildConfigDigest,
    /// `.1.20` build trigger.
    BuildTrigger,
    /// `.1.21` run invocation URI.
    RunInvocationUri,
    /// `.1.22` source repository visibility at signing.
    SourceRepositoryVisibility,
    /// `.1.23` deployment environment.
    DeploymentEnvironment,
}

impl CiExtension {
    /// Every extension, in OID order.
    pub const ALL: [CiExtension; 20] = [
        CiExtension::GithubWorkflowTrigger,
        CiExtension::GithubWorkflowSha,
        CiExtension::GithubWorkflowName,
        CiExtension::GithubWorkflowRepository,
        CiExtension::GithubWorkflowRef,
        CiExtension::BuildSignerUri,
        CiExtension::BuildSignerDigest,
        CiExtension::RunnerEnvironment,
        CiExtension::SourceRepositoryUri,
        CiExtension::SourceRepositoryDigest,
        CiExtension::SourceRepositoryRef,
        CiExtension::SourceRepositoryIdentifier,
        CiExtension::SourceRepositoryOwnerUri,
        CiExtension::SourceRepositoryOwnerIdentifier,
        CiExtension::BuildConfigUri,
        CiExtension::BuildConfigDigest,
        CiExtension::BuildTrigger,
        CiExtension::RunInvocationUri,
        CiExtension::SourceRepositoryVisibility,
        CiExtension::DeploymentEnvironment,
    ];

    /// The last arc under 1.3.6.1.4.1.57264.1.
    fn arc(self) -> u32 {
        match self {
            CiExtension::GithubWorkflowTrigger => 2,
            CiExtension::GithubWorkflowSha => 3,
            CiExtension::GithubWorkflowName => 4,
            CiExtension::GithubWorkflowRepository => 5,
            CiExtension::GithubWorkflowRef => 6,
            CiExtension::BuildSignerUri => 9,
            CiExtension::BuildSignerDigest => 10,
            CiExtension::RunnerEnvironment => 11,
            CiExtension::SourceRepositoryUri => 12,
            CiExtension::SourceRepositoryDigest => 13,
            CiExtension::SourceRepositoryRef => 14,
            CiExtension::SourceRepositoryIdentifier => 15,
            CiExtension::SourceRepositoryOwnerUri => 16,
            CiExtension::SourceRepositoryOwnerIdentifier => 17,
            CiExtension::BuildConfigUri => 18,
            CiExtension::BuildConfigDigest => 19,
            CiExtension::BuildTrigger => 20,
            CiExtension::RunInvocationUri => 21,
            CiExtension::SourceRepositoryVisibility => 22,
            CiExtension::DeploymentEnvironment => 23,
        }
    }

    /// The extension's OID.
    #[must_use]
    pub fn oid(self) -> ObjectIdentifier {
        fulcio_oid(self.arc())
    }

    /// Legacy extensions hold raw UTF-8 bytes; the others a DER UTF8String.
    pub(crate) fn is_raw(self) -> bool {
        self.arc() < 7
    }

    /// The extension named by its OID (`1.3.6.1.4.1.57264.1.12`) or its last arc (`12`).
    #[must_use]
    pub fn from_oid_str(s: &str) -> Option<Self> {
        let arc = s.strip_prefix("1.3.6.1.4.1.57264.1.").unwrap_or(s);
        CiExtension::ALL
            .into_iter()
            .find(|e| e.arc().to_string() == arc)
    }
}

impl fmt::Display for CiExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.3.6.1.4.1.57264.1.{}", self.arc())
    }
}

/// `1.3.6.1.4.1.57264.1.<arc>`.
pub(crate) fn fulcio_oid(arc: u32) -> ObjectIdentifier {
    const BASE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
    // Appending one arc to this short OID cannot exceed the OID length limit.
    BASE.push_arc(arc).unwrap_or(BASE)
}

/// Who must have signed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Policy {
    /// A Fulcio-style certificate whose identity matches.
    Identity(IdentityPolicy),
    /// A managed key (`key.pub`); the bundle must carry a public key hint, not a certificate.
    Key(PublicKey),
}

/// An identity policy: SAN, OIDC issuer, and optional exact values of CI extensions.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    /// Matches one of the certificate's SANs (email, URI, DNS or Fulcio username).
    pub san: Matcher,
    /// Matches the OIDC issuer (extension `.1.8`, else the legacy `.1.1`).
    pub issuer: Matcher,
    /// Extensions that must be present with exactly these values.
    pub extensions: Vec<(CiExtension, String)>,
}

impl IdentityPolicy {
    /// A policy with exact SAN and issuer and no extension constraints.
    pub fn exact(san: impl Into<String>, issuer: impl Into<String>) -> Self {
        IdentityPolicy {
            san: Matcher::exact(san),
            issuer: Matcher::exact(issuer),
            extensions: Vec::new(),
        }
    }
}
