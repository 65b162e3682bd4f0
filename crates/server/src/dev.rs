//! The development OIDC issuer, mounted at `<public_url>/dev-oidc` when `dev_oidc` is on. This
//! module exists only in builds with the `dev-oidc` cargo feature (`scripts/run.sh` and the tests
//! enable it); a production build compiles `dev_off.rs` instead, which has no issuer at all.
//!
//! It mints tokens for any email address, so start-up ([`crate::config`]) refuses it on a
//! non-loopback listen address or public URL, and together with an issuers file, unless
//! `dev_oidc_unsafe_allow_anywhere` is set; and the server prints a banner on stdout.

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::post;
pub(crate) use hallmark_dev_issuer::DevIssuer;
use hallmark_dev_issuer::{DevAlgorithm, DevLogin};
use hallmark_oidc::config::{IssuerEntry, IssuerType, IssuersFile};

use crate::error::ApiError;
use crate::{AppState, Settings};

/// The issuer, if the settings turn it on.
pub(crate) fn issuer(settings: &Settings) -> Result<Option<DevIssuer>> {
    if !settings.dev_oidc {
        return Ok(None);
    }
    tracing::warn!(
        issuer = %settings.dev_issuer_url(),
        "THE DEVELOPMENT OIDC ISSUER IS ENABLED: anyone who can reach this server can mint \
         tokens for any email address. Never enable it in production."
    );
    DevIssuer::new(settings.dev_issuer_url(), DevAlgorithm::Rs256)
        .map(Some)
        .context("making the development issuer's key")
}

/// Adds the issuer to an issuer policy, as an email issuer with audience `sigstore`.
pub(crate) fn add_to(issuers: &mut IssuersFile, dev: &DevIssuer) {
    issuers.issuers.push(IssuerEntry {
        url: dev.issuer().to_owned(),
        audience: "sigstore".into(),
        issuer_type: IssuerType::Email,
        ca_cert: None,
        subject_domain: None,
        spiffe_trust_domain: None,
        client_id: None,
        issuer_claim: None,
        skip_email_verification: false,
        server_url: None,
        // This server's own issuer, at its public URL (loopback unless the operator set
        // dev_oidc_unsafe_allow_anywhere, which start-up has already checked).
        allow_insecure_http: true,
    });
}

/// Mounts the issuer's routes: discovery, JWKS, `POST /token` to mint, the interactive logins
/// (authorization code with PKCE and a form asking for an email; the device grant), and
/// `POST /rotate` to replace the key (tests of JWKS refetch).
pub(crate) fn mount(app: Router<Arc<AppState>>, dev: &DevIssuer) -> Router<Arc<AppState>> {
    let d = dev.clone();
    let rotate = post(move || {
        let d = d.clone();
        async move {
            d.rotate()
                .map(|kid| axum::Json(serde_json::json!({ "kid": kid })))
                .map_err(|e| ApiError::internal("rotating the development key", &e))
        }
    });
    app.nest_service(
        "/dev-oidc",
        dev.router_with_login_and_token_endpoint(DevLogin::ask())
            .route("/rotate", rotate),
    )
}

/// The banner printed on stdout at start-up while the issuer is on.
pub(crate) fn banner(settings: &Settings) -> Option<String> {
    settings.dev_oidc.then(|| {
        format!(
            "################################################################################\n\
             # DEVELOPMENT OIDC ISSUER ON at {}\n\
             # Anyone who can reach this server gets a certificate for ANY email address.\n\
             # Never run it where real signatures are made.\n\
             ################################################################################",
            settings.dev_issuer_url()
        )
    })
}
