//! Test fixtures: a served development IdP and verifiers configured for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
pub(crate) use hallmark_oidc::ErrorKind;
use hallmark_oidc::{IssuerConfig, OidcError, TokenVerifier, UnixTime, VerifierOptions};
use tokio::net::TcpListener;

/// A development IdP served on loopback.
pub(crate) struct Idp {
    pub(crate) dev: DevIssuer,
    /// `http://127.0.0.1:PORT` (the server's root; the issuer may sit below it).
    pub(crate) base: String,
    pub(crate) addr: SocketAddr,
    /// While set, every request is answered with HTTP 503.
    pub(crate) down: Arc<AtomicBool>,
    /// Requests answered with 503 because of `down`.
    pub(crate) refused: Arc<AtomicU64>,
}

impl Idp {
    /// The issuer URL.
    pub(crate) fn url(&self) -> String {
        self.dev.issuer().to_owned()
    }
}

pub(crate) async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// Serves `router` on `listener` in the background.
pub(crate) fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// An RS256 or ES256 IdP whose issuer is `http://127.0.0.1:PORT{path}`, served at `path`.
pub(crate) async fn idp_at(alg: DevAlgorithm, path: &str) -> Idp {
    let (l, addr) = listener().await;
    let base = format!("http://{addr}");
    let dev = DevIssuer::new(format!("{base}{path}"), alg).unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let router = if path.is_empty() {
        dev.router()
    } else {
        Router::new().nest(path, dev.router())
    };
    serve(
        l,
        with_outage_switch(router, Arc::clone(&down), Arc::clone(&refused)),
    );
    Idp {
        dev,
        base,
        addr,
        down,
        refused,
    }
}

pub(crate) async fn idp(alg: DevAlgorithm) -> Idp {
    idp_at(alg, "").await
}

pub(crate) async fn rsa_idp() -> Idp {
    idp(DevAlgorithm::Rs256).await
}

/// Wraps a router so that it answers 503 (counted in `refused`) while `down` is set.
pub(crate) fn with_outage_switch(
    router: Router,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
) -> Router {
    router.layer(axum::middleware::from_fn(
        move |req, next: axum::middleware::Next| {
            let down = Arc::clone(&down);
            let refused = Arc::clone(&refused);
            async move {
                if down.load(Ordering::SeqCst) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    next.run(req).await
                }
            }
        },
    ))
}

pub(crate) fn verifier(yaml: &str) -> TokenVerifier {
    verifier_with(yaml, VerifierOptions::default())
}

pub(crate) fn verifier_with(yaml: &str, options: VerifierOptions) -> TokenVerifier {
    let config = IssuerConfig::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    TokenVerifier::with_options(config, options).unwrap()
}

/// A verifier trusting one issuer of the given type (plus extra YAML lines for the entry).
pub(crate) fn verifier_for(url: &str, issuer_type: &str, extra: &str) -> TokenVerifier {
    verifier(&one_issuer(url, issuer_type, extra))
}

pub(crate) fn one_issuer(url: &str, issuer_type: &str, extra: &str) -> String {
    let mut yaml = format!("issuers:\n  - url: {url}\n    type: {issuer_type}\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str(&format!("    {}\n", line.trim()));
    }
    yaml
}

pub(crate) fn now() -> u64 {
    UnixTime::now().0
}

pub(crate) fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Asserts an error's kind and that its message contains `needle`; returns it for matching.
#[track_caller]
pub(crate) fn expect_error(
    result: Result<hallmark_oidc::Identity, OidcError>,
    kind: ErrorKind,
    needle: &str,
) -> OidcError {
    let e = match result {
        Ok(id) => panic!("expected an error containing {needle:?}, got {id:?}"),
        Err(e) => e,
    };
    assert_eq!(e.kind(), kind, "kind of {e:?}");
    assert!(
        e.to_string().contains(needle),
        "{:?} does not contain {needle:?}",
        e.to_string()
    );
    e
}
