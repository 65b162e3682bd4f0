//! Hallmark's HTTP server: the certificate authority (Fulcio v2 API), its certificate-transparency
//! log (RFC 6962 API), the RFC 3161 timestamp authority (see `tsa`), health, readiness and metrics, and — only when asked for — a development
//! OIDC issuer.
//!
//! # Life of a certificate request (`POST /api/v2/signingCert`)
//! 1. The body (size-limited) is parsed in either of its two forms: a CSR with the token in
//!    `Authorization: Bearer`, or `credentials` + `publicKeyRequest` + `proofOfPossession`.
//! 2. The token is verified against its issuer's JWKS (`hallmark-oidc`): issuer allowed,
//!    signature with the key's own algorithm, audience, expiry; its claims become an `Identity`.
//! 3. Proof of possession: the CSR's self-signature, or the signature over the identity's challenge
//!    (email, else subject) by the submitted public key.
//! 4. The leaf TBS is built (`hallmark-ca`), and its precertificate leaf is appended to the CT log;
//!    the request waits until that batch is durable.
//! 5. On a blocking thread (the HSM blocks): the CT key signs the SCT over the precertificate, the
//!    certificate gets the SCT list and is signed by the issuing key.
//! 6. The answer carries the leaf, the issuing CA and the root as PEM.

mod ca_api;
mod ca_init;
mod ca_service;
pub mod config;
mod ct;
#[cfg(feature = "dev-oidc")]
mod dev;
#[cfg(not(feature = "dev-oidc"))]
#[path = "dev_off.rs"]
mod dev;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod health;
mod http;
mod issuers;
mod leadership;
mod logs;
mod reads;
mod rekor;
mod rekor_v2;
mod startup;
mod state;
mod store;
#[cfg(test)]
mod tests;
mod trust;
mod tsa;
mod witnessing;

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use ca_init::{CaInitReport, ca_init, ca_init_tsa, ca_upgrade};
pub use config::{ConfigError, Settings};
pub use http::HttpLimits;
pub use state::AppState;
pub use trust::{merge_previous, trust_root};

/// Builds the router over a ready state.
pub fn router(state: Arc<AppState>) -> Router {
    let mut app = Router::new()
        .route("/api/v2/signingCert", post(ca_api::signing_cert))
        .route("/api/v2/trustBundle", get(ca_api::trust_bundle))
        .route("/api/v2/configuration", get(ca_api::configuration))
        .route("/ct/v1/get-sth", get(ct::get_sth))
        .route("/ct/v1/get-sth-consistency", get(ct::get_sth_consistency))
        .route("/ct/v1/get-proof-by-hash", get(ct::get_proof_by_hash))
        .route("/ct/v1/get-entries", get(ct::get_entries))
        .route("/ct/v1/get-roots", get(ct::get_roots))
        .route(
            "/api/v1/log/entries",
            post(rekor::create_entry).get(rekor::entry_by_index),
        )
        .route("/api/v1/log/entries/retrieve", post(rekor::retrieve))
        .route("/api/v1/log/entries/{uuid}", get(rekor::entry_by_uuid))
        .route("/api/v1/log", get(rekor::log_info))
        .route("/api/v1/log/publicKey", get(rekor::public_key))
        .route("/api/v1/log/proof", get(rekor::proof))
        .route("/api/v1/index/retrieve", post(rekor::index_retrieve))
        .route("/api/v2/log/entries", post(rekor_v2::create_entry))
        .route("/checkpoint", get(rekor_v2::checkpoint))
        .route("/tile/{*path}", get(rekor_v2::tile))
        .route("/api/v1/timestamp", post(tsa::timestamp))
        .route("/api/v1/timestamp/certchain", get(tsa::certchain))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    if state.leadership.is_some() {
        // Several replicas on PostgreSQL: standbys hand verified entries to the sequencer. An
        // entry is at most `max_entry_bytes`, base64 in JSON.
        let limit = state
            .settings
            .max_entry_bytes
            .max(rekor_v2::MAX_V2_ENTRY_BYTES)
            .saturating_mul(2)
            .saturating_add(64 * 1024);
        app = app.route(
            &format!("{}/{{log}}", leadership::INTERNAL_APPEND),
            post(leadership::internal_append).layer(DefaultBodyLimit::max(limit)),
        );
    }
    if let Some(dev) = &state.dev_issuer {
        app = dev::mount(app, dev);
    }
    app.fallback(ca_api::not_found)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            ca_api::panic_response,
        ))
        .with_state(state)
}

/// Binds, prints `listening on <public url>` on stdout (scripts and tests wait for it), and
/// serves until SIGINT or SIGTERM. `metrics` renders `/metrics`: the handle of the recorder the
/// binary installed (`metrics_exporter_prometheus::PrometheusBuilder::install_recorder`).
pub async fn serve(mut settings: Settings, metrics: PrometheusHandle) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let bound = listener.local_addr()?;
    let public = settings.resolve_public_url(bound);
    settings.resolve_advertise_url(bound)?;
    let state = Arc::new(AppState::open(settings, metrics).await?);
    let app = router(state.clone());
    if let Some(v2) = &state.rekor_v2
        && let Some(w) = &v2.witnessing
    {
        w.clone().spawn(v2.seq.clone())?;
    }
    if let (Some(dir), Some(v2)) = (&state.settings.log_v2.tiles_dir, &state.rekor_v2) {
        let mut mirror = rekor_v2::TileMirror::new(dir.clone(), v2.clone())?;
        mirror
            .sync()
            .context("writing the v2 log's tiles to log_v2.tiles_dir")?;
        mirror.spawn(std::time::Duration::from_millis(500));
    }
    if let Some(banner) = dev::banner(&state.settings) {
        println!("{banner}");
    }
    if state.root_key_reachable {
        let root = &state.settings.root_key;
        tracing::warn!(%root, "the CA root key is on a token this server opened");
        println!(
            "WARNING: the CA root key {root} is on a token this server opens with its PIN, so \
             this process could mint intermediate CAs. Keep the root on a token of its own \
             (ca.root_key on another token, ca.root_pin_file) that only `hallmark ca init` opens."
        );
    }
    println!("listening on {public}");
    tracing::info!(%bound, %public, "hallmark serving");
    let limits = state.settings.http;
    http::serve(
        listener,
        http::with_request_limits(app, &limits),
        limits,
        shutdown_signal(),
    )
    .await
    .context("serving")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
