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
//! Everything is checked once, here; a value of [`IssuerConfig`] is known good.
//!
//! Meta issuers follow Fulcio (`pkg/config`): each `*` stands for one or more characters from
//! `[-_a-zA-Z0-9]`, so it matches within one host label or one path segment (never `.`, `/` or
//! `:`), and the whole URL must match. Exact issuers are looked up first; meta issuers are tried in
//! file order (Fulcio's maps have no order: a Fulcio file's meta issuers are tried in key order).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{ConfigError, UrlProblem};

/// The audience tokens must carry unless an issuer says otherwise (Sigstore's convention).
pub const DEFAULT_AUDIENCE: &str = "sigstore";

/// Where GitHub Actions' token service issues tokens; its jobs run on `https://github.com`.
const GITHUB_ACTIONS_ISSUER_HOST: &str = "token.actions.githubusercontent.com";

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

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}

/// Hallmark's issuer file, as written (before validation). It may also be embedded in a larger
/// server configuration and validated with [`IssuerConfig::from_file`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuersFile {
    /// Issuers matched by exact URL.
    #[serde(default)]
    pub issuers: Vec<IssuerEntry>,
    /// Issuers matched by a URL pattern with `*` wildcards.
    #[serde(default)]
    pub meta_issuers: Vec<IssuerEntry>,
}

/// One issuer as written in Hallmark's YAML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    /// The issuer URL (the tokens' `iss`), or for a meta issuer a pattern with `*`.
    pub url: String,
    /// The audience tokens must contain (default `sigstore`).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// How tokens map to identities.
    #[serde(rename = "type")]
    pub issuer_type: IssuerType,
    /// PEM file of extra TLS roots for an IdP behind a private CA (relative paths are relative to
    /// the configuration file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// `uri`: `scheme://host` subjects must use; `username`: the domain after `!`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_domain: Option<String>,
    /// `spiffe`: the trust domain subjects must belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spiffe_trust_domain: Option<String>,
    /// The OAuth client ID interactive clients use with this issuer (published, not checked;
    /// defaults to the audience).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `email`: a claim (`$.a.b`) holding the issuer to certify instead of `iss`, for federating
    /// IdPs such as Dex (Fulcio's `IssuerClaim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_claim: Option<String>,
    /// `email`: accept tokens without `email_verified: true`. Only for an IdP that verifies
    /// addresses itself and does not say so in its tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_email_verification: bool,
    /// `github-workflow` / `gitlab-pipeline`: the forge's web URL that SANs and extensions are
    /// built on. Default: `https://github.com` (or `https://<host>` for a GitHub Enterprise
    /// Server issuer `https://<host>/_services/token`); for GitLab, the issuer URL itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Accept a plain `http://` issuer (and JWKS) on a host other than loopback. Off by default:
    /// the token signing keys would travel unauthenticated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
}

/// Fulcio's configuration file (`pkg/config.FulcioConfig`), JSON key spelling or YAML
/// kebab-case spelling.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulcioConfigFile {
    /// Exact issuers, keyed by issuer URL.
    #[serde(rename = "OIDCIssuers", alias = "oidc-issuers", default)]
    pub oidc_issuers: BTreeMap<String, FulcioIssuer>,
    /// Meta issuers, keyed by URL pattern.
    #[serde(rename = "MetaIssuers", alias = "meta-issuers", default)]
    pub meta_issuers: BTreeMap<String, FulcioIssuer>,
    /// Fulcio's claim templates for `ci-provider` issuers. Accepted and not read: Hallmark maps
    /// `github-workflow` and `gitlab-pipeline` claims itself, the way Fulcio's shipped templates do.
    #[serde(rename = "CIIssuerMetadata", alias = "ci-issuer-metadata", default)]
    pub ci_issuer_metadata: Option<serde::de::IgnoredAny>,
    /// Holder of YAML anchors in Fulcio's own `config.yaml`; ignored.
    #[serde(default)]
    pub define: Option<serde::de::IgnoredAny>,
}

/// One issuer in Fulcio's configuration (`pkg/config.OIDCIssuer`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulcioIssuer {
    /// The issuer URL (defaults to the map key).
    #[serde(rename = "IssuerURL", alias = "issuer-url", default)]
    pub issuer_url: String,
    /// The audience tokens must carry.
    #[serde(rename = "ClientID", alias = "client-id", default)]
    pub client_id: String,
    /// The issuer type; `ci-provider` with `CIProvider` naming the flavour.
    #[serde(rename = "Type", alias = "type", default)]
    pub issuer_type: String,
    /// For `ci-provider`: `github-workflow` or `gitlab-pipeline`.
    #[serde(rename = "CIProvider", alias = "ci-provider", default)]
    pub ci_provider: String,
    /// For `email`: a claim path holding the issuer to certify.
    #[serde(rename = "IssuerClaim", alias = "issuer-claim", default)]
    pub issuer_claim: String,
    /// For `uri` / `username`.
    #[serde(rename = "SubjectDomain", alias = "subject-domain", default)]
    pub subject_domain: String,
    /// For `spiffe`.
    #[serde(rename = "SPIFFETrustDomain", alias = "spiffe-trust-domain", default)]
    pub spiffe_trust_domain: String,
    /// Accepted only when it names the claim Hallmark uses anyway (`email` for email issuers,
    /// else `sub`).
    #[serde(rename = "ChallengeClaim", alias = "challenge-claim", default)]
    pub challenge_claim: String,
    /// Informational.
    #[serde(rename = "Description", alias = "description", default)]
    pub description: String,
    /// Informational.
    #[serde(rename = "Contact", alias = "contact", default)]
    pub contact: String,
    /// Fulcio's staging/production marker; informational here.
    #[serde(rename = "Environment", alias = "environment", default)]
    pub environment: String,
    /// Inline PEM roots for an IdP behind a private CA.
    #[serde(rename = "CACert", alias = "ca-cert", default)]
    pub ca_cert: String,
    /// For `email`.
    #[serde(
        rename = "SkipEmailVerification",
        alias = "skip-email-verification",
        default
    )]
    pub skip_email_verification: bool,
    /// Hallmark's extension: accept a plain `http://` issuer on a host other than loopback.
    #[serde(rename = "AllowInsecureHTTP", alias = "allow-insecure-http", default)]
    pub allow_insecure_http: bool,
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

/// A meta-issuer URL pattern: `*` matches one or more of `[-_a-zA-Z0-9]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaPattern {
    text: String,
}

impl MetaPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `issuer` matches the whole pattern (Fulcio's `MetaRegex` semantics).
    pub fn matches(&self, issuer: &str) -> bool {
        wildcard_match(self.text.as_bytes(), issuer.as_bytes())
    }
}

fn star_class(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Anchored match where each `*` in `pattern` is `[-_a-zA-Z0-9]+`. Dynamic programming over
/// (pattern position, input position): O(|pattern| * |input|), no backtracking blow-up.
fn wildcard_match(pattern: &[u8], input: &[u8]) -> bool {
    // reach[j]: the first j pattern bytes can match the input consumed so far. For a `*` at
    // j-1, reach[j] means "inside or at the end of that star's run, having consumed >= 1 byte".
    let m = pattern.len();
    let mut reach = vec![false; m + 1];
    reach[0] = true;
    let mut next = vec![false; m + 1];
    for &c in input {
        next[0] = false;
        for j in 1..=m {
            next[j] = match pattern[j - 1] {
                b'*' => star_class(c) && (reach[j - 1] || reach[j]),
                p => p == c && reach[j - 1],
            };
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[m]
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
        let file: FulcioConfigFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)?
        } else {
            serde_norway::from_str(text)?
        };
        Self::from_fulcio_file(file)
    }

    /// Reads a file in either format: a file whose top level has `OIDCIssuers`, `MetaIssuers`,
    /// `oidc-issuers` or `meta-issuers` is Fulcio's; anything else is Hallmark's YAML.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        if is_fulcio_format(&text) {
            Self::from_fulcio(&text)
        } else {
            Self::from_file(serde_norway::from_str(&text)?, path.parent())
        }
    }

    /// Validates Hallmark's issuer file; `base_dir` anchors relative `ca_cert` paths.
    pub fn from_file(file: IssuersFile, base_dir: Option<&Path>) -> Result<Self, ConfigError> {
        let mut drafts = Vec::new();
        for (entries, meta) in [(file.issuers, false), (file.meta_issuers, true)] {
            for e in entries {
                let ca_pem = match &e.ca_cert {
                    None => None,
                    Some(path) => {
                        let path = match base_dir {
                            Some(dir) if path.is_relative() => dir.join(path),
                            _ => path.clone(),
                        };
                        let pem =
                            std::fs::read(&path).map_err(|source| ConfigError::CaCertRead {
                                url: e.url.clone(),
                                path,
                                source,
                            })?;
                        Some(pem)
                    }
                };
                drafts.push(Draft {
                    client_id: e.client_id.unwrap_or_else(|| e.audience.clone()),
                    url: e.url,
                    meta,
                    audience: e.audience,
                    issuer_type: e.issuer_type,
                    ca_pem,
                    subject_domain: e.subject_domain,
                    spiffe_trust_domain: e.spiffe_trust_domain,
                    issuer_claim: e.issuer_claim,
                    skip_email_verification: e.skip_email_verification,
                    server_url: e.server_url,
                    allow_insecure_http: e.allow_insecure_http,
                });
            }
        }
        Self::build(drafts)
    }

    /// Validates a parsed Fulcio configuration.
    pub fn from_fulcio_file(file: FulcioConfigFile) -> Result<Self, ConfigError> {
        let mut drafts = Vec::new();
        for (entries, meta) in [(file.oidc_issuers, false), (file.meta_issuers, true)] {
            for (key, f) in entries {
                if !f.issuer_url.is_empty() && f.issuer_url != key {
                    return Err(ConfigError::FulcioKeyMismatch {
                        key,
                        issuer_url: f.issuer_url,
                    });
                }
                drafts.push(fulcio_draft(key, f, meta)?);
            }
        }
        Self::build(drafts)
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

fn is_fulcio_format(text: &str) -> bool {
    const KEYS: [&str; 4] = ["OIDCIssuers", "MetaIssuers", "oidc-issuers", "meta-issuers"];
    match serde_norway::from_str::<serde_norway::Value>(text) {
        Ok(serde_norway::Value::Mapping(map)) => map
            .keys()
            .any(|k| k.as_str().is_some_and(|k| KEYS.contains(&k))),
        _ => false,
    }
}

fn fulcio_draft(key: String, f: FulcioIssuer, meta: bool) -> Result<Draft, ConfigError> {
    let unsupported = |issuer_type: &str| ConfigError::UnsupportedType {
        url: key.clone(),
        issuer_type: issuer_type.to_owned(),
        supported: "email, kubernetes, github-workflow, gitlab-pipeline, uri, username, spiffe, \
                    and ci-provider with CIProvider github-workflow or gitlab-pipeline",
    };
    let issuer_type = match f.issuer_type.as_str() {
        "ci-provider" => match f.ci_provider.as_str() {
            "github-workflow" => IssuerType::GithubWorkflow,
            "gitlab-pipeline" => IssuerType::GitlabPipeline,
            other => return Err(unsupported(&format!("ci-provider/{other}"))),
        },
        other => IssuerType::from_name(other).ok_or_else(|| unsupported(other))?,
    };
    if !f.ci_provider.is_empty() && f.issuer_type != "ci-provider" {
        return Err(ConfigError::FieldNotAllowed {
            url: key,
            issuer_type: issuer_type.as_str(),
            field: "CIProvider",
        });
    }
    if f.client_id.is_empty() {
        return Err(ConfigError::MissingField {
            url: key,
            issuer_type: issuer_type.as_str(),
            field: "ClientID (the audience)",
        });
    }
    let challenge = if issuer_type == IssuerType::Email {
        "email"
    } else {
        "sub"
    };
    if !f.challenge_claim.is_empty() && f.challenge_claim != challenge {
        return Err(ConfigError::InvalidField {
            url: key,
            field: "ChallengeClaim",
            value: f.challenge_claim,
            reason: "Hallmark's proof of possession is over `email` when present, else `sub`",
        });
    }
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Draft {
        url: key,
        meta,
        audience: f.client_id.clone(),
        client_id: f.client_id,
        issuer_type,
        ca_pem: non_empty(f.ca_cert).map(String::into_bytes),
        subject_domain: non_empty(f.subject_domain),
        spiffe_trust_domain: non_empty(f.spiffe_trust_domain),
        issuer_claim: non_empty(f.issuer_claim),
        skip_email_verification: f.skip_email_verification,
        server_url: None,
        allow_insecure_http: f.allow_insecure_http,
    })
}

/// Either file format, normalised, before validation.
struct Draft {
    url: String,
    meta: bool,
    audience: String,
    client_id: String,
    issuer_type: IssuerType,
    ca_pem: Option<Vec<u8>>,
    subject_domain: Option<String>,
    spiffe_trust_domain: Option<String>,
    issuer_claim: Option<String>,
    skip_email_verification: bool,
    server_url: Option<String>,
    allow_insecure_http: bool,
}

impl Draft {
    fn validate(self) -> Result<IssuerPolicy, ConfigError> {
        let url = self.url;
        let t = self.issuer_type;
        let bad_url = |problem| ConfigError::BadIssuerUrl {
            url: url.clone(),
            problem,
        };

        if self.meta {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", &url));
            let authority = rest.split('/').next().unwrap_or("");
            let port = authority.rsplit_once(':').map_or("", |(_, p)| p);
            if scheme.contains('*') || port.contains('*') {
                return Err(bad_url(UrlProblem::WildcardPlacement));
            }
        }
        // Parse, with each `*` of a meta issuer standing in as a plain label.
        let parsed =
            Url::parse(&url.replace('*', "x")).map_err(|source| ConfigError::InvalidUrl {
                url: url.clone(),
                source,
            })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad_url(UrlProblem::Scheme {
                scheme: parsed.scheme().to_owned(),
            }));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad_url(UrlProblem::NoHost));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad_url(UrlProblem::QueryOrFragment));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad_url(UrlProblem::Credentials));
        }
        // A meta issuer's host is checked with each `*` as a digit: `http://127.0.0.*` and
        // `http://*.localhost` stay loopback, `http://*.example.com` does not. The concrete
        // issuer is checked again before anything is fetched from it.
        if parsed.scheme() == "http" && !self.allow_insecure_http {
            let loopback = Url::parse(&url.replace('*', "1")).is_ok_and(|u| is_loopback(&u));
            if !loopback {
                return Err(bad_url(UrlProblem::InsecureHttp));
            }
        }
        let pattern = if self.meta {
            if !url.contains('*') {
                return Err(bad_url(UrlProblem::NoWildcard));
            }
            IssuerPattern::Wildcard(MetaPattern { text: url.clone() })
        } else {
            if url.contains('*') {
                return Err(bad_url(UrlProblem::WildcardInIssuer));
            }
            IssuerPattern::Exact(url.clone())
        };
        let issuer_host = parsed.host_str().unwrap_or("").to_owned();

        if self.audience.is_empty() {
            return Err(ConfigError::InvalidField {
                url,
                field: "audience",
                value: String::new(),
                reason: "must not be empty",
            });
        }

        let not_allowed = |field: &'static str| ConfigError::FieldNotAllowed {
            url: url.clone(),
            issuer_type: t.as_str(),
            field,
        };
        let missing = |field: &'static str| ConfigError::MissingField {
            url: url.clone(),
            issuer_type: t.as_str(),
            field,
        };
        let invalid =
            |field: &'static str, value: &str, reason: &'static str| ConfigError::InvalidField {
                url: url.clone(),
                field,
                value: value.to_owned(),
                reason,
            };

        if self.subject_domain.is_some() && !matches!(t, IssuerType::Uri | IssuerType::Username) {
            return Err(not_allowed("subject_domain"));
        }
        if self.spiffe_trust_domain.is_some() && t != IssuerType::Spiffe {
            return Err(not_allowed("spiffe_trust_domain"));
        }
        if (self.issuer_claim.is_some() || self.skip_email_verification) && t != IssuerType::Email {
            return Err(not_allowed(if self.issuer_claim.is_some() {
                "issuer_claim"
            } else {
                "skip_email_verification"
            }));
        }
        if self.server_url.is_some()
            && !matches!(t, IssuerType::GithubWorkflow | IssuerType::GitlabPipeline)
        {
            return Err(not_allowed("server_url"));
        }
        let server_url = match &self.server_url {
            None => None,
            Some(s) => {
                let u =
                    Url::parse(s).map_err(|_| invalid("server_url", s, "not an absolute URL"))?;
                if !matches!(u.scheme(), "http" | "https")
                    || u.host_str().is_none()
                    || u.query().is_some()
                {
                    return Err(invalid(
                        "server_url",
                        s,
                        "must be an http(s) URL without query",
                    ));
                }
                Some(s.trim_end_matches('/').to_owned())
            }
        };

        let kind = match t {
            IssuerType::Email => IssuerKind::Email {
                issuer_claim: match &self.issuer_claim {
                    None => None,
                    Some(c) => Some(
                        ClaimPath::parse(c)
                            .ok_or_else(|| invalid("issuer_claim", c, "expected $.key(.key)*"))?,
                    ),
                },
                skip_email_verification: self.skip_email_verification,
            },
            IssuerType::Kubernetes => IssuerKind::Kubernetes,
            IssuerType::GithubWorkflow => IssuerKind::GithubWorkflow {
                server_url: server_url.unwrap_or_else(|| github_server_for(&parsed)),
            },
            IssuerType::GitlabPipeline => IssuerKind::GitlabPipeline { server_url },
            IssuerType::Uri => {
                let d = self
                    .subject_domain
                    .as_deref()
                    .ok_or_else(|| missing("subject_domain"))?;
                let du = Url::parse(d).map_err(|_| {
                    invalid(
                        "subject_domain",
                        d,
                        "a uri issuer's subject domain is scheme://host",
                    )
                })?;
                let host = du.host_str().unwrap_or("").to_owned();
                if host.is_empty() {
                    return Err(invalid("subject_domain", d, "has no host"));
                }
                if du.scheme() != parsed.scheme() {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "scheme differs from the issuer's",
                    ));
                }
                if !same_registered_domain(&host, &issuer_host) {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "must share its last two host labels with the issuer (Fulcio's rule)",
                    ));
                }
                IssuerKind::Uri {
                    scheme: du.scheme().to_owned(),
                    host,
                }
            }
            IssuerType::Username => {
                let d = self
                    .subject_domain
                    .as_deref()
                    .ok_or_else(|| missing("subject_domain"))?;
                if d.contains("://") {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "a username domain has no scheme",
                    ));
                }
                if !is_hostname(d) {
                    return Err(invalid("subject_domain", d, "not a host name"));
                }
                if !same_registered_domain(d, &issuer_host) {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "must share its last two labels with the issuer's host (Fulcio's rule)",
                    ));
                }
                IssuerKind::Username {
                    subject_domain: d.to_owned(),
                }
            }
            IssuerType::Spiffe => {
                if self.meta {
                    return Err(invalid(
                        "type",
                        "spiffe",
                        "a SPIFFE trust domain needs one issuer, not a meta issuer",
                    ));
                }
                let td = self
                    .spiffe_trust_domain
                    .as_deref()
                    .ok_or_else(|| missing("spiffe_trust_domain"))?;
                if !is_trust_domain(td) {
                    return Err(invalid(
                        "spiffe_trust_domain",
                        td,
                        "a trust domain is lowercase letters, digits, '.', '-' and '_'",
                    ));
                }
                IssuerKind::Spiffe {
                    trust_domain: td.to_owned(),
                }
            }
        };

        let ca_certs = match self.ca_pem {
            None => Vec::new(),
            Some(pem) => {
                let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem)
                    .map(|c| c.map(|c| c.into_owned()))
                    .collect();
                match certs {
                    // A DER certificate is a SEQUENCE; the HTTP client checks the rest.
                    Ok(c) if !c.is_empty() && c.iter().all(|c| c.first() == Some(&0x30)) => c,
                    _ => return Err(ConfigError::CaCertInvalid { url }),
                }
            }
        };

        Ok(IssuerPolicy {
            pattern,
            audience: self.audience,
            client_id: self.client_id,
            kind,
            ca_certs,
            allow_insecure_http: self.allow_insecure_http,
        })
    }
}

/// GitHub Enterprise Server issues tokens at `https://<host>/_services/token`; everything else
/// (github.com's token service, its enterprise-slug meta issuer, test issuers) is github.com,
/// which is what Fulcio assumes for every GitHub issuer.
fn github_server_for(issuer: &Url) -> String {
    let host = issuer.host_str().unwrap_or("");
    if host != GITHUB_ACTIONS_ISSUER_HOST
        && issuer.path().trim_end_matches('/') == "/_services/token"
    {
        let mut origin = format!("{}://{host}", issuer.scheme());
        if let Some(port) = issuer.port() {
            origin.push_str(&format!(":{port}"));
        }
        return origin;
    }
    "https://github.com".to_owned()
}

/// Whether a URL's host is loopback: `localhost` (and names under it), `127.0.0.0/8`, `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Fulcio's `validateAllowedDomain`: equal, or the same last two labels.
fn same_registered_domain(subject_host: &str, issuer_host: &str) -> bool {
    if subject_host == issuer_host {
        return true;
    }
    let s: Vec<&str> = subject_host.split('.').collect();
    let i: Vec<&str> = issuer_host.split('.').collect();
    s.len() >= 2 && i.len() >= 2 && s[s.len() - 2..] == i[i.len() - 2..]
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A SPIFFE trust domain name (SPIFFE-ID §2.1).
pub(crate) fn is_trust_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> MetaPattern {
        MetaPattern { text: p.to_owned() }
    }

    #[test]
    fn meta_patterns_match_like_fulcio() {
        let eks = pat("https://oidc.eks.*.amazonaws.com/id/*");
        assert!(eks.matches(
            "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB"
        ));
        assert!(!eks.matches("https://oidc.eks.us-west-2.amazonaws.com/id/B02C/extra"));
        assert!(!eks.matches("https://oidc.eks.us.west.amazonaws.com/id/B02C"));
        assert!(!eks.matches("https://oidc.eks..amazonaws.com/id/B02C"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com/id/"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com.evil.example/id/a"));
        assert!(!eks.matches("http://localhost:3000?https://oidc.eks.x.amazonaws.com/id/a"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com/id/a?x=1"));

        let gke = pat("https://container.googleapis.com/v1/projects/*/locations/*/clusters/*");
        assert!(gke.matches(
            "https://container.googleapis.com/v1/projects/mattmoor-credit/locations/us-west1-b/clusters/tenant-cluster"
        ));
        assert!(
            !gke.matches("https://container.googleapis.com/v1/projects/p/locations/l/clusters/c/x")
        );
        assert!(
            !gke.matches("https://container.googleapis.com/v1/projects/p/locations/l/clusters/")
        );

        // A star next to literal class characters still matches (DP, not greedy).
        let mixed = pat("https://*-prod.example.com/*_x");
        assert!(mixed.matches("https://eu-west-prod.example.com/a_b_x"));
        assert!(!mixed.matches("https://-prod.example.com/a_x"));
        assert!(!mixed.matches("https://eu-prod.example.com/_x"));
    }

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

    #[test]
    fn github_server_urls() {
        let u = |s: &str| github_server_for(&Url::parse(s).unwrap());
        assert_eq!(
            u("https://token.actions.githubusercontent.com"),
            "https://github.com"
        );
        assert_eq!(
            u("https://ghe.corp.example/_services/token"),
            "https://ghe.corp.example"
        );
        assert_eq!(u("http://127.0.0.1:8080"), "https://github.com");
    }

    #[test]
    fn registered_domains() {
        assert!(same_registered_domain(
            "example.com",
            "accounts.example.com"
        ));
        assert!(same_registered_domain(
            "users.example.com",
            "accounts.example.com"
        ));
        assert!(!same_registered_domain(
            "example.org",
            "accounts.example.com"
        ));
        assert!(!same_registered_domain("com", "example.com"));
        assert!(same_registered_domain("127.0.0.1", "127.0.0.1"));
    }
}
