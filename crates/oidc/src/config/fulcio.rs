//! Fulcio's configuration file (`fulcio serve --config-path`, JSON or YAML), read into drafts so
//! an existing Fulcio deployment can migrate unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::IssuerType;
use super::validate::Draft;
use crate::error::ConfigError;

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

/// Parses a Fulcio configuration: JSON if it starts with `{`, else YAML.
pub(super) fn parse(text: &str) -> Result<FulcioConfigFile, ConfigError> {
    Ok(if text.trim_start().starts_with('{') {
        serde_json::from_str(text)?
    } else {
        serde_norway::from_str(text)?
    })
}

/// The file's entries as drafts (exact issuers, then meta issuers, each in key order).
pub(super) fn drafts(file: FulcioConfigFile) -> Result<Vec<Draft>, ConfigError> {
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
    Ok(drafts)
}

/// Whether a file is Fulcio's: its top level has `OIDCIssuers`, `MetaIssuers`, `oidc-issuers` or
/// `meta-issuers`.
pub(super) fn is_fulcio_format(text: &str) -> bool {
    const KEYS: [&str; 4] = ["OIDCIssuers", "MetaIssuers", "oidc-issuers", "meta-issuers"];
    match serde_norway::from_str::<serde_norway::Value>(text) {
        Ok(serde_norway::Value::Mapping(map)) => map
            .keys()
            .any(|k| k.as_str().is_some_and(|k| KEYS.contains(&k))),
        _ => false,
    }
}

/// One Fulcio issuer entry as a draft.
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
