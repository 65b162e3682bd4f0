//! Interactive login: the OIDC authorization-code flow with PKCE
//! ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) and a loopback redirect
//! ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)), through `openidconnect`.
//!
//! 1. Discovery (`<issuer>/.well-known/openid-configuration`) and the issuer's JWK set.
//! 2. A listener on `127.0.0.1` (and `[::1]` when the redirect host is `localhost`) on an
//!    ephemeral port serves `/auth/callback`.
//! 3. The authorization URL (S256 challenge, random `state` and `nonce`) is shown to the person
//!    ([`LoginOptions::prompt`]) and, if allowed, opened in their browser.
//! 4. The first callback carrying the right `state` ends the wait; callbacks with another `state`
//!    are answered 400 and ignored. No callback within [`LoginOptions::timeout`] is an error.
//! 5. The code and the PKCE verifier are exchanged at the token endpoint; the ID token must verify
//!    under the issuer's JWKS (asymmetric algorithms only) with our client id as audience and our
//!    nonce.
//!
//! With [`LoginOptions::device`], the device authorization grant
//! ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)) instead, for a terminal without a browser
//! on the same machine: the issuer's `device_authorization_endpoint` gives a user code and a URL
//! to open anywhere ([`LoginOptions::device_prompt`]), and the token endpoint is polled at the
//! interval it asks for until the person approves, refuses, or [`LoginOptions::timeout`] passes.
//! The ID token is verified as above (there is no nonce in this flow).
//!
//! All HTTP goes through `reqwest` with redirects off (the `openidconnect` advice against SSRF).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreDeviceAuthorizationResponse, CoreGrantType, CoreIdTokenVerifier,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    CoreTokenResponse,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationUrl, DiscoveryError, EmptyAdditionalProviderMetadata, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, NonceVerifier, PkceCodeChallenge, ProviderMetadata,
    RedirectUrl, RequestTokenError, Scope, TokenResponse as _,
};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{AcquireError, HttpFailure, IdentityToken};
use hallmark_oidc::config::DEFAULT_AUDIENCE;

/// The path of the loopback redirect URI, as Sigstore's clients use it.
const CALLBACK_PATH: &str = "/auth/callback";
/// Largest discovery document, JWK set or token response accepted.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Shows the authorization URL to the person logging in. The default writes it to stderr.
pub type LoginPrompt = Arc<dyn Fn(&str) + Send + Sync>;

/// What a device login shows the person: where to go and the code to enter there.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeviceCode {
    /// The page to open (on any device).
    pub verification_uri: String,
    /// The code to type there.
    pub user_code: String,
    /// The page with the code filled in, if the issuer offers one.
    pub verification_uri_complete: Option<String>,
}

/// Shows a device login's code and URL. The default writes them to stderr.
pub type DevicePrompt = Arc<dyn Fn(&DeviceCode) + Send + Sync>;

/// How to log in interactively. [`Self::new`] gives client id `sigstore`, scopes `openid email`,
/// a 5-minute timeout, no browser launch, and a redirect to `http://localhost:<any port>/auth/callback`.
#[derive(Clone)]
#[non_exhaustive]
pub struct LoginOptions {
    /// The OIDC issuer URL (discovery is at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The OAuth client id registered at the issuer; also the token's audience (default
    /// `sigstore`).
    pub client_id: String,
    /// A client secret, for issuers that insist on one (Sigstore's public client has none).
    pub client_secret: Option<String>,
    /// Scopes besides `openid` (always sent). Default `email`.
    pub scopes: Vec<String>,
    /// Try to open the authorization URL in the default browser (default false). The URL is
    /// shown through [`Self::prompt`] either way.
    pub open_browser: bool,
    /// How long to wait for the person to finish logging in (default 5 minutes).
    pub timeout: Duration,
    /// Whole-request timeout for discovery, JWKS and the code exchange (default 30 s).
    pub http_timeout: Duration,
    /// The host of the redirect URI: `localhost` (default, what Sigstore's OAuth clients
    /// register), `127.0.0.1` or `[::1]`. The listener is always on a loopback address.
    pub redirect_host: String,
    /// The listener's port; 0 (default) picks a free one.
    pub redirect_port: u16,
    /// Extra trusted roots for an issuer behind a private CA.
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// Shows the authorization URL (default: printed to stderr).
    pub prompt: LoginPrompt,
    /// Use the device authorization grant (RFC 8628) instead of a browser redirect (default
    /// false): for a machine without a browser, such as one reached over SSH.
    pub device: bool,
    /// Shows a device login's code and URL (default: printed to stderr).
    pub device_prompt: DevicePrompt,
}

impl LoginOptions {
    /// Defaults for logging in at `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: DEFAULT_AUDIENCE.to_owned(),
            client_secret: None,
            scopes: vec!["email".to_owned()],
            open_browser: false,
            timeout: Duration::from_secs(300),
            http_timeout: Duration::from_secs(30),
            redirect_host: "localhost".to_owned(),
            redirect_port: 0,
            ca_certs: Vec::new(),
            prompt: Arc::new(|url| {
                eprintln!(
                    "Open this URL in a browser to log in (no browser on this machine? use \
                     --device-login):\n\n    {url}\n"
                );
            }),
            device: false,
            device_prompt: Arc::new(|code| {
                eprintln!(
                    "To log in, open {} on any device and enter the code\n\n    {}\n",
                    code.verification_uri, code.user_code
                );
                if let Some(complete) = &code.verification_uri_complete {
                    eprintln!("(or open {complete})\n");
                }
            }),
        }
    }
}

impl fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginOptions")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .field("open_browser", &self.open_browser)
            .field("timeout", &self.timeout)
            .field("http_timeout", &self.http_timeout)
            .field("redirect_host", &self.redirect_host)
            .field("redirect_port", &self.redirect_port)
            .field("ca_certs", &self.ca_certs.len())
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// Logs in and returns the verified ID token.
pub(super) async fn login(options: &LoginOptions) -> Result<IdentityToken, AcquireError> {
    if options.device {
        return device_login(options).await;
    }
    let issuer = options.issuer.clone();
    let (metadata, http) = discover::<EmptyAdditionalProviderMetadata>(options).await?;
    let send = |request: HttpRequest| send(http.clone(), request);

    let listeners = bind(options).await?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(options.redirect_port, |a| a.port());
    let redirect = format!("http://{}:{port}{CALLBACK_PATH}", options.redirect_host);
    let redirect =
        RedirectUrl::new(redirect.clone()).map_err(|source| AcquireError::LoginRedirectUri {
            uri: redirect,
            source,
        })?;

    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(options.client_id.clone()),
        options.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &options.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();

    let mut callback = Callback::serve(listeners, state.secret().clone());
    (options.prompt)(url.as_str());
    if options.open_browser {
        open_browser(url.as_str());
    }
    let outcome = tokio::time::timeout(options.timeout, callback.wait()).await;
    let code = match outcome {
        Err(_) | Ok(None) => {
            callback.finish(PageOutcome::Failed).await;
            return Err(AcquireError::LoginTimedOut {
                issuer,
                timeout: options.timeout,
            });
        }
        Ok(Some(CallbackResult::Error { error, description })) => {
            callback.finish(PageOutcome::Failed).await;
            return Err(AcquireError::LoginRefused {
                issuer,
                error,
                description,
            });
        }
        Ok(Some(CallbackResult::Code(code))) => code,
    };

    // The browser's page waits for this: it says who logged in, or that the login failed.
    let token = async {
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|source| AcquireError::LoginMisconfigured {
                issuer: issuer.clone(),
                source,
            })?
            .set_pkce_verifier(verifier)
            .request_async(&send)
            .await
            .map_err(|e| AcquireError::CodeExchange {
                issuer: issuer.clone(),
                failure: token_failure(e),
            })?;
        checked_id_token(&issuer, &response, client.id_token_verifier(), &nonce)
    }
    .await;
    callback
        .finish(match &token {
            Ok((_, identity)) => PageOutcome::LoggedIn(identity.clone()),
            Err(_) => PageOutcome::Failed,
        })
        .await;
    token.map(|(token, _)| token)
}

/// The discovery document with the device authorization endpoint (RFC 8628 §4), which the core
/// metadata does not carry.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
struct DeviceEndpoint {
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}

impl AdditionalProviderMetadata for DeviceEndpoint {}

/// Provider metadata with the extra fields `A`.
type Metadata<A> = ProviderMetadata<
    A,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The device authorization grant: a code to enter elsewhere, then polling for the token.
async fn device_login(options: &LoginOptions) -> Result<IdentityToken, AcquireError> {
    let issuer = options.issuer.clone();
    let (metadata, http) = discover::<DeviceEndpoint>(options).await?;
    let send = |request: HttpRequest| send(http.clone(), request);
    let endpoint = metadata
        .additional_metadata()
        .device_authorization_endpoint
        .clone()
        .ok_or_else(|| AcquireError::NoDeviceLogin {
            issuer: issuer.clone(),
        })?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(options.client_id.clone()),
        options.client_secret.clone().map(ClientSecret::new),
    )
    .set_device_authorization_url(endpoint)
    .set_auth_type(AuthType::RequestBody);
    let mut request = client.exchange_device_code();
    for scope in &options.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let details: CoreDeviceAuthorizationResponse =
        request
            .request_async(&send)
            .await
            .map_err(|e| AcquireError::DeviceAuthorization {
                issuer: issuer.clone(),
                failure: token_failure(e),
            })?;
    (options.device_prompt)(&DeviceCode {
        verification_uri: details.verification_uri().to_string(),
        user_code: details.user_code().secret().clone(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
    });
    let response = client
        .exchange_device_access_token(&details)
        .map_err(|source| AcquireError::LoginMisconfigured {
            issuer: issuer.clone(),
            source,
        })?
        .request_async(&send, tokio::time::sleep, Some(options.timeout))
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => AcquireError::LoginRefused {
                issuer: issuer.clone(),
                error: r.error().to_string(),
                description: r.error_description().cloned(),
            },
            RequestTokenError::Other(_) => AcquireError::LoginTimedOut {
                issuer: issuer.clone(),
                timeout: options.timeout,
            },
            other => AcquireError::CodeExchange {
                issuer: issuer.clone(),
                failure: token_failure(other),
            },
        })?;
    // No nonce in the device flow: the token comes straight from the token endpoint.
    checked_id_token(
        &issuer,
        &response,
        client.id_token_verifier(),
        |_: Option<&Nonce>| Ok(()),
    )
    .map(|(token, _)| token)
}

/// The issuer's discovery document (with the extra metadata `A`) and JWK set, fetched with the
/// login's HTTP client, which is returned for the rest of the login.
async fn discover<A: AdditionalProviderMetadata>(
    options: &LoginOptions,
) -> Result<(Metadata<A>, reqwest::Client), AcquireError> {
    let issuer = &options.issuer;
    let issuer_url =
        IssuerUrl::new(issuer.clone()).map_err(|source| AcquireError::LoginIssuerUrl {
            issuer: issuer.clone(),
            source,
        })?;
    let http = http_client(options)?;
    let metadata = Metadata::<A>::discover_async(issuer_url, &|request: HttpRequest| {
        send(http.clone(), request)
    })
    .await
    .map_err(|e| AcquireError::LoginDiscovery {
        issuer: issuer.clone(),
        failure: discovery_failure(e),
    })?;
    Ok((metadata, http))
}

/// The ID token of a token response, verified (signature under the issuer's JWKS with an
/// asymmetric algorithm, issuer, audience, expiry, and `nonce`).
fn checked_id_token(
    issuer: &str,
    response: &CoreTokenResponse,
    verifier: CoreIdTokenVerifier<'_>,
    nonce: impl NonceVerifier,
) -> Result<(IdentityToken, String), AcquireError> {
    let id_token = response.id_token().ok_or_else(|| AcquireError::NoIdToken {
        issuer: issuer.to_owned(),
    })?;
    let claims = id_token
        .claims(&verifier.set_allowed_algs(ASYMMETRIC_ALGORITHMS), nonce)
        .map_err(|source| AcquireError::LoginTokenRejected {
            issuer: issuer.to_owned(),
            source,
        })?;
    // Who logged in, as a person would recognise it: the email address, else the subject.
    let identity = claims
        .email()
        .map_or_else(|| claims.subject().to_string(), |e| e.to_string());
    Ok((IdentityToken::new(id_token.to_string()), identity))
}

/// The ID-token algorithms accepted: asymmetric only, like the CA's verifier (an HMAC "signature"
/// would be keyed with the client secret, which a public client does not have).
const ASYMMETRIC_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn http_client(options: &LoginOptions) -> Result<reqwest::Client, AcquireError> {
    let mut builder = reqwest::Client::builder()
        .timeout(options.http_timeout)
        .connect_timeout(options.http_timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hallmark-oidc/", env!("CARGO_PKG_VERSION")));
    if !options.ca_certs.is_empty() {
        let certs: Result<Vec<_>, _> = options
            .ca_certs
            .iter()
            .map(|c| reqwest::Certificate::from_der(c))
            .collect();
        builder =
            builder.tls_certs_merge(certs.map_err(|source| AcquireError::HttpClient { source })?);
    }
    builder
        .build()
        .map_err(|source| AcquireError::HttpClient { source })
}

/// `openidconnect`'s HTTP requests, sent with `reqwest`.
async fn send(client: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpFailure> {
    let request = reqwest::Request::try_from(request).map_err(HttpFailure::Transport)?;
    let response = client
        .execute(request)
        .await
        .map_err(HttpFailure::Transport)?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        headers.extend(
            response
                .headers()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    let body = super::ci::read_limited(response, MAX_RESPONSE_BYTES).await?;
    builder
        .body(body)
        .map_err(|e| HttpFailure::InvalidResponse {
            detail: format!("unusable response head: {e}"),
        })
}

fn discovery_failure(error: DiscoveryError<HttpFailure>) -> HttpFailure {
    match error {
        DiscoveryError::Request(failure) => failure,
        DiscoveryError::Response(status, _, detail) => {
            if status == StatusCode::OK {
                HttpFailure::InvalidResponse { detail }
            } else {
                HttpFailure::Status {
                    status: status.as_u16(),
                }
            }
        }
        // Discovery documents and JWK sets are public: the parser's message may quote them.
        DiscoveryError::Parse(e) => HttpFailure::InvalidResponse {
            detail: format!("discovery document or JWK set: {e}"),
        },
        other => HttpFailure::InvalidResponse {
            detail: other.to_string(),
        },
    }
}

fn token_failure<T: openidconnect::ErrorResponseType + std::fmt::Display>(
    error: RequestTokenError<HttpFailure, openidconnect::StandardErrorResponse<T>>,
) -> HttpFailure {
    match error {
        RequestTokenError::ServerResponse(response) => HttpFailure::OAuth {
            error: response.error().to_string(),
            description: response.error_description().cloned(),
        },
        RequestTokenError::Request(failure) => failure,
        // The body holds tokens: name only where parsing failed, never the parser's message
        // (which may quote a value).
        RequestTokenError::Parse(e, _body) => HttpFailure::InvalidResponse {
            detail: format!(
                "token response does not parse at {} ({:?} error)",
                e.path(),
                e.inner().classify()
            ),
        },
        RequestTokenError::Other(detail) => HttpFailure::InvalidResponse { detail },
    }
}

/// Binds the loopback listener(s) for the redirect.
async fn bind(options: &LoginOptions) -> Result<Vec<TcpListener>, AcquireError> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, options.redirect_port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, options.redirect_port));
    let host = options.redirect_host.as_str();
    let (first, second) = match host {
        "[::1]" => (v6, None),
        "localhost" => (v4, Some(v6)),
        _ => (v4, None),
    };
    let listener =
        TcpListener::bind(first)
            .await
            .map_err(|source| AcquireError::CallbackListener {
                address: first.to_string(),
                source,
            })?;
    let mut listeners = vec![];
    if let (Some(mut v6), Ok(bound)) = (second, listener.local_addr()) {
        // Browsers may resolve `localhost` to ::1 first; serve it there too when possible.
        v6.set_port(bound.port());
        if let Ok(l) = TcpListener::bind(v6).await {
            listeners.push(l);
        }
    }
    listeners.insert(0, listener);
    Ok(listeners)
}

#[derive(Debug)]
enum CallbackResult {
    Code(String),
    Error {
        error: String,
        description: Option<String>,
    },
}

/// How the login ended, for the page the browser is waiting on.
#[derive(Clone, Debug)]
enum PageOutcome {
    /// Logged in as this identity (email, else subject).
    LoggedIn(String),
    /// Refused, timed out, or the code exchange or the ID token failed; the terminal says why.
    Failed,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Clone, Debug)]
struct CallbackState {
    expected_state: Arc<str>,
    result: mpsc::Sender<CallbackResult>,
    outcome: watch::Receiver<Option<PageOutcome>>,
}

/// The loopback redirect server, running until [`Callback::finish`].
struct Callback {
    results: mpsc::Receiver<CallbackResult>,
    outcome: watch::Sender<Option<PageOutcome>>,
    stop: watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Callback {
    fn serve(listeners: Vec<TcpListener>, expected_state: String) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let (stop, stopped) = watch::channel(false);
        let (outcome, outcome_rx) = watch::channel(None);
        let app = Router::new()
            .route(CALLBACK_PATH, get(serve_callback))
            .with_state(CallbackState {
                expected_state: Arc::from(expected_state),
                result: tx,
                outcome: outcome_rx,
            });
        let servers = listeners
            .into_iter()
            .map(|listener| {
                let app = app.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let shutdown = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    if let Err(e) = axum::serve(listener, app)
                        .with_graceful_shutdown(shutdown)
                        .await
                    {
                        tracing::warn!(error = %e, "login redirect listener failed");
                    }
                })
            })
            .collect();
        Self {
            results: rx,
            outcome,
            stop,
            servers,
        }
    }

    /// The first callback with the right `state`; `None` if every server stopped.
    async fn wait(&mut self) -> Option<CallbackResult> {
        self.results.recv().await
    }

    /// Tells the waiting page how the login ended, then stops the listeners, letting the page
    /// finish loading (at most 2 s).
    async fn finish(self, outcome: PageOutcome) {
        let _ = self.outcome.send(Some(outcome));
        let _ = self.stop.send(true);
        for mut server in self.servers {
            if tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

/// How long the callback page waits for the code exchange before answering anyway.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// The loopback pages: no script, no style but their own, no referrer, not cached.
fn callback_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{title} · Hallmark</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;\
         padding:0 1rem}}</style><h1>{title}</h1>{body}"
    );
    (
        status,
        [
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}

/// Escapes text for HTML content.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn serve_callback(
    State(state): State<CallbackState>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if query.state.as_deref() != Some(&*state.expected_state) {
        tracing::warn!("ignoring a login redirect with an unexpected state parameter");
        return callback_page(
            StatusCode::BAD_REQUEST,
            "Not this login",
            "<p>This page belongs to another login than the one hallmark is waiting for (state \
             mismatch). Use the link that the running hallmark command printed.</p>",
        );
    }
    let result = match (query.code, query.error) {
        (_, Some(error)) => CallbackResult::Error {
            error,
            description: query.error_description,
        },
        (Some(code), None) => CallbackResult::Code(code),
        (None, None) => CallbackResult::Error {
            error: "invalid_request".to_owned(),
            description: Some("the redirect carried neither a code nor an error".to_owned()),
        },
    };
    // A full channel means a result is in already; later redirects change nothing.
    let _ = state.result.try_send(result);
    let mut outcome = state.outcome.clone();
    let ended = tokio::time::timeout(PAGE_WAIT, outcome.wait_for(Option::is_some)).await;
    let ended = match ended {
        Ok(Ok(ended)) => ended.clone(),
        _ => None,
    };
    match ended {
        Some(PageOutcome::LoggedIn(identity)) => callback_page(
            StatusCode::OK,
            "Login complete",
            &format!(
                "<p>hallmark is logged in as <strong>{}</strong> and goes on in the terminal.</p>\
                 <p>You can close this tab.</p>",
                escape(&identity)
            ),
        ),
        Some(PageOutcome::Failed) => callback_page(
            StatusCode::OK,
            "Login failed",
            "<p>The login did not complete; the terminal says why.</p><p>You can close this \
             tab and run the hallmark command again.</p>",
        ),
        None => callback_page(
            StatusCode::OK,
            "Login received",
            "<p>hallmark received the login and is finishing it; see the terminal.</p>",
        ),
    }
}

/// Best effort: asks the desktop to open `url`; failures are logged, the URL was shown anyway.
fn open_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let spawned = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reap the opener in the background; its exit status does not matter.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::warn!(error = %e, "could not open a browser; open the URL by hand"),
    }
}
