//! What a verification expects: the artifact, and who must have signed it (an identity policy
//! over the Fulcio certificate, or a managed public key).

use std::fmt;

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
        let compile =
            |p: &str| Regex::new(p).map_err(|e| VerifyError::parse(Document::Policy, "regex", e));
        // The pattern must stand on its own before it is anchored: `a)|(.*` is refused, where
        // wrapped it would compile as `^(?:a)|(.*)$` and match anything.
        compile(pattern)?;
        compile(&format!("^(?:{pattern})$")).map(Matcher::Regex)
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

/// The Fulcio CI extensions a policy can require, from the spec layer's OID registry.
pub use hallmark_sigstore::oid::CiExtension;
/// `1.3.6.1.4.1.57264.1.<arc>`, from the spec layer's OID registry.
pub(crate) use hallmark_sigstore::oid::fulcio_extension as fulcio_oid;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A pattern that closes the anchoring group early is refused, not turned into an
    /// unanchored alternation that matches any identity.
    #[test]
    fn patterns_cannot_escape_their_anchors() {
        for escape in [r"alice@corp\.com)|(.*", r".*)|(?:x", ")("] {
            assert!(Matcher::regex(escape).is_err(), "{escape}");
        }
        let m = Matcher::regex(r"alice@corp\.com|bob@corp\.com").unwrap();
        assert!(m.matches("bob@corp.com"));
        assert!(!m.matches("mallory@evil.com"));
        assert!(!m.matches("xbob@corp.com"));
    }
}
