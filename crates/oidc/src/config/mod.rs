//! Issuer policy as data: which OIDC issuers the CA trusts, for which audience, and how each
//! issuer's tokens become identities.
//!
//! Two file formats load into the same validated [`IssuerConfig`]:
//!
//! - Hallmark's own YAML ([`IssuersFile`]):
//!
//!   ```yaml
//!   issuers:
//!     - url: https://token.actions.githubusercontent.com
//!       type: github-workflow
//!     - url: https://dex.corp.example
//!       type: email
//!       ca_cert: /etc/hallmark/corp-root.pem   # PEM roots for an IdP behind a private CA
//!   meta_issuers:
//!     - url: https://oidc.eks.*.amazonaws.com/id/*
//!       type: kubernetes
//!   ```
//!
//! An `http://` issuer is accepted only on a loopback host (`localhost`, `127.0.0.0/8`, `::1`):
//! its keys would otherwise travel in plaintext, and whoever can tamper with them can mint any
//! identity. An issuer on another host may opt in with `allow_insecure_http: true`
//! (`AllowInsecureHTTP` in Fulcio's format, a Hallmark extension); its `jwks_uri` follows the
//! same rule.
//!
//! - Fulcio's config file ([`FulcioConfigFile`], JSON or YAML, as `fulcio serve --config-path`
//!   reads it), so an existing Fulcio deployment can migrate unchanged.
//!
//! Everything is checked once, here; a value of [`IssuerConfig`] is known good. The module is
//! split by concern: `hallmark` reads Hallmark's YAML, `fulcio` reads Fulcio's format, both into
//! one draft shape that `validate` turns into an [`IssuerPolicy`]; `pattern` matches meta
//! issuers.
//!
//! Meta issuers follow Fulcio (`pkg/config`): each `*` stands for one or more characters from
//! `[-_a-zA-Z0-9]`, so it matches within one host label or one path segment (never `.`, `/` or
//! `:`), and the whole URL must match. Exact issuers are looked up first; meta issuers are tried in
//! file order (Fulcio's maps have no order: a Fulcio file's meta issuers are tried in key order).

mod fulcio;
mod hallmark;
mod pattern;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use url::Url;

pub use fulcio::{FulcioConfigFile, FulcioIssuer};
pub use hallmark::{IssuerEntry, IssuersFile};
pub use pattern::MetaPattern;
pub(crate) use validate::{is_loopback, is_trust_domain};

use crate::error::ConfigError;
use validate::Draft;

/// The audience tokens must carry unless an issuer says otherwise (Sigstore's convention).
pub const DEFAULT_AUDIENCE: &str = "sigstore";

/// How an issuer's tokens map to identities: the `type` of an issuer entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum IssuerType {
    /// People: SAN email from the `email` claim, which `email_verified` must vouch for.
    Email,
    /// Kubernetes service-account tokens: SAN
    /// `https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa>`.
    Kubernetes,
    /// GitHub Actions: SAN `<server>/<job_workflow_ref>` and the CI extensions.
    GithubWorkflow,
    /// GitLab CI (gitlab.com or self-hosted): SAN from `ci_config_ref_uri` and the CI extensions.
    GitlabPipeline,
    /// `sub` is a URI whose scheme and host are the configured subject domain's.
    Uri,
    /// `sub` is a username: SAN otherName `<sub>!<subject_domain>`.
    Username,
    /// `sub` is a SPIFFE ID in the configured trust domain.
    Spiffe,
}

impl IssuerType {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Kubernetes => "kubernetes",
            Self::GithubWorkflow => "github-workflow",
            Self::GitlabPipeline => "gitlab-pipeline",
            Self::Uri => "uri",
            Self::Username => "username",
            Self::Spiffe => "spiffe",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "email" => Self::Email,
            "kubernetes" => Self::Kubernetes,
            "github-workflow" => Self::GithubWorkflow,
            "gitlab-pipeline" => Self::GitlabPipeline,
            "uri" => Self::Uri,
            "username" => Self::Username,
            "spiffe" => Self::Spiffe,
            _ => return None,
        })
    }
}

impl std::fmt::Display for IssuerType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated issuer policy: every issuer the CA accepts tokens from.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    exact: BTreeMap<String, Arc<IssuerPolicy>>,
    meta: Vec<Arc<IssuerPolicy>>,
}

/// Equality ignores the order of meta issuers (Fulcio's files have none).
impl PartialEq for IssuerConfig {
    fn eq(&self, other: &Self) -> bool {
        fn sorted(v: &[Arc<IssuerPolicy>]) -> Vec<&IssuerPolicy> {
            let mut v: Vec<&IssuerPolicy> = v.iter().map(Arc::as_ref).collect();
            v.sort_by(|a, b| a.url().cmp(b.url()));
            v
        }
        self.exact == other.exact && sorted(&self.meta) == sorted(&other.meta)
    }
}

impl Eq for IssuerConfig {}

/// One trusted issuer (or meta-issuer pattern) and the rules for its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerPolicy {
    pattern: IssuerPattern,
    audience: String,
    client_id: String,
    kind: IssuerKind,
    ca_certs: Vec<CertificateDer<'static>>,
    allow_insecure_http: bool,
}

/// How an issuer entry matches a token's `iss`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerPattern {
    /// Byte-for-byte equality.
    Exact(String),
    /// A meta-issuer pattern.
    Wildcard(MetaPattern),
}

/// The type-specific rules of an issuer, with everything each type needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerKind {
    /// See [`IssuerType::Email`].
    Email {
        /// A claim path whose string value is the issuer to certify, instead of `iss`.
        issuer_claim: Option<ClaimPath>,
        /// Accept tokens without `email_verified: true`.
        skip_email_verification: bool,
    },
    /// See [`IssuerType::Kubernetes`].
    Kubernetes,
    /// See [`IssuerType::GithubWorkflow`].
    GithubWorkflow {
        /// The GitHub web URL (no trailing `/`).
        server_url: String,
    },
    /// See [`IssuerType::GitlabPipeline`].
    GitlabPipeline {
        /// The GitLab web URL (no trailing `/`); `None` means the token's `iss`.
        server_url: Option<String>,
    },
    /// See [`IssuerType::Uri`].
    Uri {
        /// Scheme subjects must use.
        scheme: String,
        /// Host subjects must use.
        host: String,
    },
    /// See [`IssuerType::Username`].
    Username {
        /// The domain after `!` in the SAN.
        subject_domain: String,
    },
    /// See [`IssuerType::Spiffe`].
    Spiffe {
        /// The trust domain subjects must belong to.
        trust_domain: String,
    },
}

/// A JSON path of object keys, written `$.a.b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("$.")?;
        let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
        let ok = keys.iter().all(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        ok.then_some(Self(keys))
    }

    /// Looks the path up in a claims object.
    pub fn get<'a>(
        &self,
        claims: &'a serde_json::Map<String, serde_json::Value>,
    ) -> Option<&'a str> {
        let (first, rest) = self.0.split_first()?;
        let mut value = claims.get(first)?;
        for key in rest {
            value = value.get(key)?;
        }
        value.as_str()
    }

    /// The path as written.
    pub fn to_text(&self) -> String {
        format!("$.{}", self.0.join("."))
    }
}

impl IssuerPolicy {
    /// The issuer URL or meta-issuer pattern as configured.
    pub fn url(&self) -> &str {
        match &self.pattern {
            IssuerPattern::Exact(u) => u,
            IssuerPattern::Wildcard(p) => p.as_str(),
        }
    }

    /// How this entry matches `iss`.
    pub fn pattern(&self) -> &IssuerPattern {
        &self.pattern
    }

    /// The audience tokens must contain.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The OAuth client ID published for interactive clients.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The type-specific rules.
    pub fn kind(&self) -> &IssuerKind {
        &self.kind
    }

    /// The issuer type.
    pub fn issuer_type(&self) -> IssuerType {
        match self.kind {
            IssuerKind::Email { .. } => IssuerType::Email,
            IssuerKind::Kubernetes => IssuerType::Kubernetes,
            IssuerKind::GithubWorkflow { .. } => IssuerType::GithubWorkflow,
            IssuerKind::GitlabPipeline { .. } => IssuerType::GitlabPipeline,
            IssuerKind::Uri { .. } => IssuerType::Uri,
            IssuerKind::Username { .. } => IssuerType::Username,
            IssuerKind::Spiffe { .. } => IssuerType::Spiffe,
        }
    }

    /// Extra TLS roots for fetching this issuer's discovery document and keys.
    pub fn ca_certs(&self) -> &[CertificateDer<'static>] {
        &self.ca_certs
    }

    /// Whether plain `http://` URLs (issuer, JWKS) on hosts other than loopback are accepted.
    pub fn allow_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }

    /// Whether this issuer's documents may be fetched from `url`: https, or http on a loopback
    /// host (on any host for an issuer that opted in with `allow_insecure_http`).
    pub fn may_fetch_from(&self, url: &Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self.allow_insecure_http || is_loopback(url),
            _ => false,
        }
    }
}

impl IssuerConfig {
    /// Parses and validates Hallmark's YAML issuer file. Relative `ca_cert` paths are relative to
    /// the working directory; [`IssuerConfig::load`] resolves them against the file instead.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        Self::from_file(serde_norway::from_str(text)?, None)
    }

    /// Parses and validates a Fulcio configuration file, JSON or YAML.
    pub fn from_fulcio(text: &str) -> Result<Self, ConfigError> {
        Self::from_fulcio_file(fulcio::parse(text)?)
    }

    /// Reads a file in either format: a file whose top level has `OIDCIssuers`, `MetaIssuers`,
    /// `oidc-issuers` or `meta-issuers` is Fulcio's; anything else is Hallmark's YAML.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::build(Self::file_drafts(path)?)
    }

    /// Like [`IssuerConfig::load`], with the issuers of `extra` (Hallmark's format, relative
    /// paths resolved against the working directory) added: how the server adds its
    /// development issuer to an issuers file of either format. A URL in both is refused as a
    /// duplicate.
    pub fn load_with(path: &Path, extra: IssuersFile) -> Result<Self, ConfigError> {
        let mut drafts = Self::file_drafts(path)?;
        drafts.extend(hallmark::drafts(extra, None)?);
        Self::build(drafts)
    }

    fn file_drafts(path: &Path) -> Result<Vec<Draft>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        if fulcio::is_fulcio_format(&text) {
            fulcio::drafts(fulcio::parse(&text)?)
        } else {
            hallmark::drafts(serde_norway::from_str(&text)?, path.parent())
        }
    }

    /// Validates Hallmark's issuer file; `base_dir` anchors relative `ca_cert` paths.
    pub fn from_file(file: IssuersFile, base_dir: Option<&Path>) -> Result<Self, ConfigError> {
        Self::build(hallmark::drafts(file, base_dir)?)
    }

    /// Validates a parsed Fulcio configuration.
    pub fn from_fulcio_file(file: FulcioConfigFile) -> Result<Self, ConfigError> {
        Self::build(fulcio::drafts(file)?)
    }

    fn build(drafts: Vec<Draft>) -> Result<Self, ConfigError> {
        if drafts.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        let mut exact = BTreeMap::new();
        let mut meta: Vec<Arc<IssuerPolicy>> = Vec::new();
        for draft in drafts {
            let policy = Arc::new(draft.validate()?);
            let url = policy.url().to_owned();
            let duplicate = match policy.pattern {
                IssuerPattern::Exact(_) => exact.insert(url.clone(), policy).is_some(),
                IssuerPattern::Wildcard(_) => {
                    let dup = meta.iter().any(|m| m.url() == url);
                    meta.push(policy);
                    dup
                }
            };
            if duplicate {
                return Err(ConfigError::DuplicateIssuer { url });
            }
        }
        Ok(Self { exact, meta })
    }

    /// Every configured issuer: exact ones (sorted by URL), then meta issuers in match order.
    pub fn issuers(&self) -> impl Iterator<Item = &Arc<IssuerPolicy>> {
        self.exact.values().chain(self.meta.iter())
    }

    /// The policy for a token's `iss`: the exact entry, else the first meta issuer that matches.
    pub fn find(&self, issuer: &str) -> Option<&Arc<IssuerPolicy>> {
        self.exact.get(issuer).or_else(|| {
            self.meta.iter().find(|m| match &m.pattern {
                IssuerPattern::Wildcard(p) => p.matches(issuer),
                IssuerPattern::Exact(_) => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_paths() {
        let p = ClaimPath::parse("$.federated_claims.connector_id").unwrap();
        let claims = serde_json::json!({"federated_claims": {"connector_id": "https://github.com/login/oauth"}});
        assert_eq!(
            p.get(claims.as_object().unwrap()),
            Some("https://github.com/login/oauth")
        );
        assert_eq!(p.to_text(), "$.federated_claims.connector_id");
        for bad in ["federated", "$.", "$.a..b", "$.a[0]", "$"] {
            assert!(ClaimPath::parse(bad).is_none(), "{bad}");
        }
    }
}
