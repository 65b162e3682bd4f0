//! The OIDC issuers this CA accepts: the token verifier built from the configuration (the
//! issuers file, plus the development issuer when it is on), and Fulcio's
//! `/api/v2/configuration` listing them.

use anyhow::{Context, Result, bail};
use hallmark_oidc::config::{IssuerType, IssuersFile};
use hallmark_oidc::{IssuerConfig, TokenVerifier};

use crate::Settings;
use crate::dev::{self, DevIssuer};

/// The token verifier for the configured issuers, and the development issuer when it is on.
pub(crate) fn verifier(settings: &Settings) -> Result<(TokenVerifier, Option<DevIssuer>)> {
    let dev = dev::issuer(settings)?;
    let config = match (&settings.issuers_file, &dev) {
        (Some(path), None) => {
            IssuerConfig::load(path).with_context(|| format!("OIDC issuers {}", path.display()))?
        }
        (file, Some(dev)) => {
            // The issuers file (Hallmark's format or Fulcio's), plus the development issuer.
            let mut extra = IssuersFile::default();
            dev::add_to(&mut extra, dev);
            match file {
                Some(path) => IssuerConfig::load_with(path, extra)
                    .with_context(|| format!("OIDC issuers {}", path.display()))?,
                None => IssuerConfig::from_file(extra, None)?,
            }
        }
        (None, None) => bail!("no OIDC issuers configured"),
    };
    Ok((TokenVerifier::new(config)?, dev))
}

/// Fulcio's `/api/v2/configuration`: the issuers this CA accepts.
pub(crate) fn configuration(verifier: &TokenVerifier) -> serde_json::Value {
    let issuers: Vec<serde_json::Value> = verifier
        .config()
        .issuers()
        .map(|i| {
            let url_key = if i.url().contains('*') { "wildcardIssuerUrl" } else { "issuerUrl" };
            serde_json::json!({
                url_key: i.url(),
                "audience": i.audience(),
                "challengeClaim": if i.issuer_type() == IssuerType::Email { "email" } else { "sub" },
                "issuerType": i.issuer_type().as_str(),
            })
        })
        .collect();
    serde_json::json!({ "issuers": issuers })
}
