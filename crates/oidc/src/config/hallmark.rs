//! Hallmark's own issuer file (YAML), as written, and its reading into drafts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::validate::Draft;
use super::{DEFAULT_AUDIENCE, IssuerType};
use crate::error::ConfigError;

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}

/// Hallmark's issuer file, as written (before validation). It may also be embedded in a larger
/// server configuration and validated with
/// [`IssuerConfig::from_file`](super::IssuerConfig::from_file).
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

/// The file's entries as drafts, in file order (exact issuers, then meta issuers), with each
/// `ca_cert` read (relative paths against `base_dir`).
pub(super) fn drafts(
    file: IssuersFile,
    base_dir: Option<&Path>,
) -> Result<Vec<Draft>, ConfigError> {
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
                    let pem = std::fs::read(&path).map_err(|source| ConfigError::CaCertRead {
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
    Ok(drafts)
}
