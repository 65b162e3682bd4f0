//! Where a [`TokenVerifier`](crate::TokenVerifier) gets an issuer's discovery document and JWK
//! set: a [`KeySource`].
//!
//! The verifier decides *what* to fetch and checks what comes back (the discovery document's
//! `issuer`, which `jwks_uri` is acceptable, the keys); a source only fetches bytes. Two sources
//! ship here:
//!
//! - [`HttpKeySource`], the default: HTTPS (or loopback HTTP) with per-issuer TLS roots,
//!   redirects only within the host first asked, timeouts and a size limit, and the JWKS
//!   lifetime from `Cache-Control`;
//! - [`MemoryKeySource`]: documents held in memory, so tests (and embedders) verify real signed
//!   tokens with no identity provider running, and can rotate keys or take an issuer away.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use url::Url;

use crate::config::{IssuerConfig, IssuerPolicy};
use crate::error::{ConfigError, Document, FetchError};
use crate::verifier::VerifierOptions;

/// The future a [`KeySource`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Fetched, FetchError>> + Send + 'a>>;

/// Fetches the documents a [`TokenVerifier`](crate::TokenVerifier) needs: for each issuer, its
/// OIDC discovery document and then the JWK set the document names.
///
/// Implementations must refuse a body over [`FetchRequest::max_bytes`] with
/// [`FetchError::TooLarge`] (the verifier checks again). They need not check the URL: the
/// verifier has already checked it against the issuer's policy.
pub trait KeySource: Send + Sync + fmt::Debug {
    /// Fetches one document.
    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a>;
}

/// One document a [`KeySource`] is asked for.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct FetchRequest<'a> {
    /// The concrete issuer (a token's `iss`).
    pub issuer: &'a str,
    /// The configured entry the issuer matched (its TLS roots, its `allow_insecure_http`).
    pub policy: &'a IssuerPolicy,
    /// Which document.
    pub document: Document,
    /// Where it is: `<issuer>/.well-known/openid-configuration`, or the discovery document's
    /// `jwks_uri`.
    pub url: &'a Url,
    /// The largest body accepted.
    pub max_bytes: usize,
}

/// A fetched document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The body (JSON).
    pub body: Vec<u8>,
    /// How long the document may be cached, as its source says (`Cache-Control: max-age`; zero
    /// for `no-store` or `no-cache`), or `None` when it says nothing. The verifier clamps it
    /// between [`VerifierOptions::jwks_min_ttl`] and [`VerifierOptions::jwks_max_ttl`].
    pub max_age: Option<Duration>,
}

impl Fetched {
    /// A document and its cache lifetime.
    pub fn new(body: Vec<u8>, max_age: Option<Duration>) -> Self {
        Self { body, max_age }
    }
}

/// The default [`KeySource`]: HTTP with `reqwest`. One connection pool is shared by the issuers
/// without extra TLS roots; each issuer with `ca_cert` roots gets its own.
#[derive(Clone, Debug)]
pub struct HttpKeySource {
    shared: reqwest::Client,
    /// Clients for issuer entries with extra TLS roots, by configured URL or pattern.
    with_roots: HashMap<String, reqwest::Client>,
}

impl HttpKeySource {
    /// Clients for every issuer of `config`, with the timeouts of `options`. An issuer that is
    /// not in `config` is fetched with the shared client (the system's TLS roots only).
    pub fn new(config: &IssuerConfig, options: &VerifierOptions) -> Result<Self, ConfigError> {
        let mut with_roots = HashMap::new();
        for policy in config.issuers() {
            if !policy.ca_certs().is_empty() {
                with_roots.insert(policy.url().to_owned(), http_client(policy, options)?);
            }
        }
        let shared = client_builder(options)
            .build()
            .map_err(|source| ConfigError::HttpClient {
                url: "(issuers without ca_cert)".to_owned(),
                source,
            })?;
        Ok(Self { shared, with_roots })
    }

    fn client(&self, policy: &IssuerPolicy) -> &reqwest::Client {
        self.with_roots.get(policy.url()).unwrap_or(&self.shared)
    }
}

impl KeySource for HttpKeySource {
    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let mut response = self
                .client(request.policy)
                .get(request.url.as_str())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(FetchError::Transport)?;
            let document = request.document;
            if response.status() != reqwest::StatusCode::OK {
                return Err(FetchError::Status {
                    document,
                    status: response.status().as_u16(),
                });
            }
            let limit = request.max_bytes;
            let too_large = FetchError::TooLarge { document, limit };
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(too_large);
            }
            let max_age = max_age(response.headers());
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
                if body.len() + chunk.len() > limit {
                    return Err(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Fetched { body, max_age })
        })
    }
}

fn client_builder(options: &VerifierOptions) -> reqwest::ClientBuilder {
    let redirect = reqwest::redirect::Policy::custom(|attempt| {
        // Follow redirects only within the origin first asked (scheme, host and port): the
        // issuer URL's checks (HTTPS, or loopback HTTP) hold for every document it serves.
        let same_origin =
            attempt.previous().first().map(url::Url::origin) == Some(attempt.url().origin());
        if attempt.previous().len() > 5 || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .timeout(options.http_timeout)
        .connect_timeout(options.connect_timeout)
        .redirect(redirect)
        .user_agent(concat!("hallmark-oidc/", env!("CARGO_PKG_VERSION")))
}

/// A client that also trusts the issuer's extra TLS roots.
fn http_client(
    policy: &IssuerPolicy,
    options: &VerifierOptions,
) -> Result<reqwest::Client, ConfigError> {
    let error = |source| ConfigError::HttpClient {
        url: policy.url().to_owned(),
        source,
    };
    let certs: Vec<_> = policy
        .ca_certs()
        .iter()
        .map(|c| reqwest::Certificate::from_der(c))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    client_builder(options)
        .tls_certs_merge(certs)
        .build()
        .map_err(error)
}

/// The lifetime `Cache-Control` gives: the last `max-age`, or zero after `no-store` /
/// `no-cache`; `None` without either.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let mut age = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                age = Some(Duration::ZERO);
            } else if let Some(Ok(secs)) = lower
                .strip_prefix("max-age=")
                .map(|s| s.trim_matches('"').parse::<u64>())
            {
                age = Some(Duration::from_secs(secs));
            }
        }
    }
    age
}

/// A [`KeySource`] that answers from documents held in memory, by URL; any other URL answers
/// HTTP 404. Cheap to clone: clones share the documents, so a test can rotate keys or take an
/// issuer away while a verifier uses the source.
///
/// ```
/// use std::sync::Arc;
/// use hallmark_oidc::{IssuerConfig, MemoryKeySource, TokenVerifier, VerifierOptions};
///
/// let keys = MemoryKeySource::new();
/// keys.serve_issuer("https://issuer.example", &serde_json::json!({ "keys": [] }));
/// let config =
///     IssuerConfig::from_yaml("issuers:\n  - url: https://issuer.example\n    type: email\n")?;
/// let verifier =
///     TokenVerifier::with_key_source(config, VerifierOptions::default(), Arc::new(keys.clone()));
/// # let _ = verifier; Ok::<(), hallmark_oidc::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryKeySource {
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Debug, Default)]
struct MemoryState {
    documents: HashMap<String, Fetched>,
    fetches: HashMap<String, u64>,
}

impl MemoryKeySource {
    /// A source with no documents.
    pub fn new() -> Self {
        Self::default()
    }

    /// The discovery document of `issuer` (at `<issuer>/.well-known/openid-configuration`).
    pub fn discovery_url(issuer: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    }

    /// Where [`Self::serve_issuer`] puts the JWK set of `issuer`: `<issuer>/jwks`.
    pub fn jwks_url(issuer: &str) -> String {
        format!("{}/jwks", issuer.trim_end_matches('/'))
    }

    /// Serves `issuer`: a discovery document naming it and [`Self::jwks_url`], and `jwks` there
    /// (without a cache lifetime). Calling it again replaces the keys (a rotation).
    pub fn serve_issuer(&self, issuer: &str, jwks: &serde_json::Value) {
        let jwks_url = Self::jwks_url(issuer);
        let discovery = serde_json::json!({ "issuer": issuer, "jwks_uri": jwks_url });
        self.insert(
            &Self::discovery_url(issuer),
            Fetched::new(discovery.to_string().into_bytes(), None),
        );
        self.insert(&jwks_url, Fetched::new(jwks.to_string().into_bytes(), None));
    }

    /// Serves `document` at `url`, replacing what was there.
    pub fn insert(&self, url: &str, document: Fetched) {
        self.lock().documents.insert(url.to_owned(), document);
    }

    /// Stops serving `url` (it answers 404 from now on); returns what it served.
    pub fn remove(&self, url: &str) -> Option<Fetched> {
        self.lock().documents.remove(url)
    }

    /// How many times `url` was fetched (whether or not it was served).
    pub fn fetches(&self, url: &str) -> u64 {
        self.lock().fetches.get(url).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeySource for MemoryKeySource {
    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        let answer = {
            let mut state = self.lock();
            *state
                .fetches
                .entry(request.url.as_str().to_owned())
                .or_default() += 1;
            match state.documents.get(request.url.as_str()) {
                None => Err(FetchError::Status {
                    document: request.document,
                    status: 404,
                }),
                Some(doc) if doc.body.len() > request.max_bytes => Err(FetchError::TooLarge {
                    document: request.document,
                    limit: request.max_bytes,
                }),
                Some(doc) => Ok(doc.clone()),
            }
        };
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        let o = VerifierOptions::default();
        let ttl = |v: &[&str]| {
            let mut h = reqwest::header::HeaderMap::new();
            for v in v {
                h.append(reqwest::header::CACHE_CONTROL, v.parse().unwrap());
            }
            o.jwks_ttl(max_age(&h)).as_secs()
        };
        assert_eq!(ttl(&[]), 3600);
        assert_eq!(ttl(&["public, max-age=19517"]), 19517);
        assert_eq!(ttl(&["max-age=5"]), 60);
        assert_eq!(ttl(&["max-age=999999999"]), 86400);
        assert_eq!(ttl(&["no-store"]), 60);
        assert_eq!(ttl(&["private", "max-age=120"]), 120);
    }
}
