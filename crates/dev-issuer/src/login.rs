//! An interactive login at the development issuer: the authorization-code flow with PKCE
//! ([RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1),
//! [RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)), either for one configured identity
//! (no person needed, for tests) or for whatever email the person types ([`DevLogin::ask`], what
//! `hallmark serve` mounts with its development issuer).
//!
//! `GET /authorize` checks the request and either redirects straight back to the client's
//! loopback `redirect_uri` with a single-use code, or shows a form asking for an email that
//! `POST /authorize` turns into that redirect. `POST /oauth2/token` exchanges
//! that code, the same `redirect_uri` and `client_id`, and the PKCE `code_verifier` (checked
//! against the S256 challenge) for an ID token whose `aud` is the client id and whose `nonce` is
//! the one the client sent. Only S256 PKCE and loopback (`http://127.0.0.1`, `http://[::1]`,
//! `http://localhost`) redirect URIs are accepted, so the endpoint cannot be used as an open
//! redirector.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use super::{DevIssuer, TOKEN_LIFETIME_SECS, serve_jwks};

mod device;
mod page;

/// Path of the authorization endpoint, below the issuer URL.
pub const AUTHORIZE_PATH: &str = "/authorize";
/// Path of the code-exchange token endpoint, below the issuer URL. (`/token` is the JSON minting
/// endpoint of [`DevIssuer::router_with_token_endpoint`].)
pub const OAUTH_TOKEN_PATH: &str = "/oauth2/token";

/// How long an authorization code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Outstanding codes kept at most; more requests are refused until some expire or are used.
const MAX_PENDING_CODES: usize = 1024;
/// How long a login form ([`DevLogin::ask`]) can be submitted.
const REQUEST_LIFETIME: Duration = Duration::from_secs(600);
/// Login forms waiting to be submitted, at most.
const MAX_PENDING_REQUESTS: usize = 1024;

/// Who "logs in" at [`DevIssuer::router_with_login`], and whether the login succeeds.
#[derive(Clone, Debug)]
pub struct DevLogin {
    claims: Map<String, Value>,
    deny: bool,
    ask: bool,
}

impl DevLogin {
    /// A login whose ID token carries `claims` merged over [`DevIssuer::default_claims`], after
    /// `aud` = the client id (so `claims` may override even that) and before `nonce`. A `null`
    /// value removes a default claim, as in [`DevIssuer::mint`].
    pub fn with_claims(claims: Map<String, Value>) -> Self {
        Self {
            claims,
            deny: false,
            ask: false,
        }
    }

    /// A person at an email IdP ([`DevIssuer::email_claims`]).
    pub fn email(email: &str) -> Self {
        match DevIssuer::email_claims(email) {
            Value::Object(claims) => Self::with_claims(claims),
            _ => Self::with_claims(Map::new()),
        }
    }

    /// A login the person refuses: the authorization endpoint redirects back with
    /// `error=access_denied`.
    pub fn denied() -> Self {
        Self {
            claims: Map::new(),
            deny: true,
            ask: false,
        }
    }

    /// A person who says who they are: `GET /authorize` shows a form asking for an email
    /// address, and the ID token carries [`DevIssuer::email_claims`] for what they typed. Nothing
    /// is checked about the address: this is a development issuer.
    pub fn ask() -> Self {
        Self {
            claims: Map::new(),
            deny: false,
            ask: true,
        }
    }
}

/// A code handed out by `/authorize`, waiting to be exchanged.
#[derive(Debug)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    /// The S256 `code_challenge`: base64url(SHA-256(verifier)).
    challenge: String,
    nonce: Option<String>,
    /// The identity claims the ID token will carry.
    claims: Map<String, Value>,
    issued: Instant,
}

/// An authorization request shown as a login form ([`DevLogin::ask`]), waiting for the person.
/// The form carries only its random id: the request itself never round-trips through the
/// browser, and a submitted (or expired) form cannot be submitted again.
#[derive(Debug)]
struct PendingRequest {
    auth: Authorization,
    issued: Instant,
}

#[derive(Debug)]
struct LoginState {
    issuer: DevIssuer,
    login: DevLogin,
    codes: Mutex<HashMap<String, Pending>>,
    requests: Mutex<HashMap<String, PendingRequest>>,
    devices: Mutex<HashMap<String, device::Pending>>,
}

#[derive(Clone, Debug)]
struct Shared(Arc<LoginState>);

impl FromRef<Shared> for DevIssuer {
    fn from_ref(shared: &Shared) -> Self {
        shared.0.issuer.clone()
    }
}

impl DevIssuer {
    /// [`Self::router`] plus an interactive login that completes without a person, for `login`:
    /// the authorization-code flow with PKCE, and a discovery document that names its endpoints
    /// ([`Self::login_discovery_document`]).
    ///
    /// - `GET /authorize` shows no page: it checks the request (`response_type=code`, a
    ///   `client_id`, scope `openid`, an S256 `code_challenge`; `plain` PKCE is refused) and
    ///   redirects straight back to `redirect_uri` with a single-use code and the `state`, or with
    ///   `error=...` (`access_denied` for [`DevLogin::denied`]). Only `http` loopback redirect URIs
    ///   are accepted (127.0.0.1, `[::1]`, `localhost`), so it cannot serve as an open redirector.
    /// - `POST /oauth2/token` (form-encoded, client id in the body or HTTP Basic) exchanges the
    ///   code within 60 s for `{"access_token", "token_type": "Bearer", "expires_in", "id_token"}`,
    ///   given the same `client_id` and `redirect_uri` and a `code_verifier` whose SHA-256 matches
    ///   the challenge. The ID token has `aud` = the client id, the request's `nonce`, and
    ///   `login`'s claims. Failures answer 400 with an OAuth error (`invalid_grant`, ...), and
    ///   use the code up.
    ///
    /// With [`DevLogin::ask`], `GET /authorize` answers a form asking for an email address
    /// instead, and `POST /authorize` (the form) redirects with a code for that address.
    ///
    /// **Development only:** anyone who can reach it logs in as `login`'s identity, or as
    /// anyone at all with [`DevLogin::ask`].
    pub fn router_with_login(&self, login: DevLogin) -> Router {
        let shared = Shared(Arc::new(LoginState {
            issuer: self.clone(),
            login,
            codes: Mutex::new(HashMap::new()),
            requests: Mutex::new(HashMap::new()),
            devices: Mutex::new(HashMap::new()),
        }));
        // The forms exist only where a person answers them (DevLogin::ask).
        let ask = shared.0.login.ask;
        let authorize = if ask {
            get(serve_authorize).post(serve_authorize_form)
        } else {
            get(serve_authorize)
        };
        let mut router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(serve_login_discovery),
            )
            .route("/jwks", get(serve_jwks))
            .route(AUTHORIZE_PATH, authorize)
            .route(OAUTH_TOKEN_PATH, post(serve_code_exchange))
            .route(
                device::AUTHORIZATION_PATH,
                post(device::serve_authorization),
            );
        if ask {
            router = router.route(
                device::VERIFICATION_PATH,
                get(device::serve_form).post(device::serve_approval),
            );
        }
        router.with_state(shared)
    }

    /// [`Self::router_with_login`] plus the JSON minting endpoint `POST /token` of
    /// [`Self::router_with_token_endpoint`]: everything the development issuer offers.
    pub fn router_with_login_and_token_endpoint(&self, login: DevLogin) -> Router {
        self.router_with_login(login).merge(
            Router::new()
                .route("/token", post(super::serve_token))
                .with_state(self.clone()),
        )
    }

    /// [`Self::discovery_document`] plus the login endpoints of [`Self::router_with_login`].
    pub fn login_discovery_document(&self) -> Value {
        let base = self.inner.issuer.trim_end_matches('/');
        let mut doc = self.discovery_document();
        if let Value::Object(m) = &mut doc {
            m.insert(
                "authorization_endpoint".into(),
                format!("{base}{AUTHORIZE_PATH}").into(),
            );
            m.insert(
                "token_endpoint".into(),
                format!("{base}{OAUTH_TOKEN_PATH}").into(),
            );
            m.insert("response_types_supported".into(), json!(["code"]));
            m.insert(
                "grant_types_supported".into(),
                json!(["authorization_code", device::GRANT_TYPE]),
            );
            m.insert(
                "device_authorization_endpoint".into(),
                format!("{base}{}", device::AUTHORIZATION_PATH).into(),
            );
            m.insert("code_challenge_methods_supported".into(), json!(["S256"]));
            m.insert("scopes_supported".into(), json!(["openid", "email"]));
            m.insert(
                "token_endpoint_auth_methods_supported".into(),
                json!(["none", "client_secret_basic", "client_secret_post"]),
            );
        }
        doc
    }
}

async fn serve_login_discovery(State(shared): State<Shared>) -> Response {
    let issuer = &shared.0.issuer;
    issuer
        .inner
        .discovery_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    axum::Json(issuer.login_discovery_document()).into_response()
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `POST /authorize`: the login form's request id and the address typed.
#[derive(Debug, Deserialize)]
struct AuthorizeForm {
    request: Option<String>,
    email: Option<String>,
}

/// An OAuth error answered directly (not redirected): `{"error": ..., "error_description": ...}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, axum::Json(body)).into_response()
}

/// A loopback `http` URL (RFC 8252 §7.3), the only redirect target this issuer accepts.
fn loopback_redirect(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    let loopback = match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
    };
    (url.scheme() == "http" && loopback && url.fragment().is_none()).then_some(url)
}

/// `redirect_uri` with the given parameters added to its query.
fn with_params(mut target: Url, params: &[(&str, &str)]) -> Url {
    target.query_pairs_mut().extend_pairs(params);
    target
}

/// A redirect to `redirect_uri` with the given parameters added to its query.
fn redirect_with(target: Url, params: &[(&str, &str)]) -> Response {
    Redirect::to(with_params(target, params).as_str()).into_response()
}

fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE code verifier or S256 challenge: 43 to 128 unreserved characters (RFC 7636 §4.1).
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An authorization request that passed every check.
#[derive(Clone, Debug)]
struct Authorization {
    target: Url,
    redirect_uri: String,
    state: String,
    client_id: String,
    challenge: String,
    nonce: Option<String>,
}

impl Authorization {
    /// Redirects back to the client with `error`.
    fn refuse(&self, error: &str, description: &str) -> Response {
        refuse(&self.target, &self.state, error, description)
    }
}

fn refuse(target: &Url, state: &str, error: &str, description: &str) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if !state.is_empty() {
        params.push(("state", state));
    }
    redirect_with(target.clone(), &params)
}

/// Whether the caller is a browser (it asks for HTML), so an error that cannot be redirected to
/// the client is shown as a page rather than as JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// An error that cannot go back to the client (there is no valid redirect URI): a page for a
/// person, OAuth JSON for a program.
fn direct_error(html: bool, description: &str) -> Box<Response> {
    Box::new(if html {
        page::error(
            StatusCode::BAD_REQUEST,
            "This login link is not valid",
            description,
            "Go back to the terminal and run the hallmark command again; it prints a new link.",
        )
    } else {
        oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
    })
}

/// Checks an authorization request; the `Err` is the answer (a 400, or a redirect with `error`).
fn check_authorization(q: AuthorizeQuery, html: bool) -> Result<Authorization, Box<Response>> {
    let Some(redirect_uri) = q.redirect_uri else {
        return Err(direct_error(html, "redirect_uri is required"));
    };
    let Some(target) = loopback_redirect(&redirect_uri) else {
        return Err(direct_error(
            html,
            "the development issuer only redirects to http loopback addresses",
        ));
    };
    let state = q.state.unwrap_or_default();
    if q.response_type.as_deref() != Some("code") {
        return Err(Box::new(refuse(
            &target,
            &state,
            "unsupported_response_type",
            "only response_type=code is supported",
        )));
    }
    let Some(client_id) = q.client_id.filter(|c| !c.is_empty()) else {
        return Err(Box::new(refuse(
            &target,
            &state,
            "invalid_request",
            "client_id is required",
        )));
    };
    let scope = q.scope.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(Box::new(refuse(
            &target,
            &state,
            "invalid_scope",
            "scope must include openid",
        )));
    }
    let challenge = match (q.code_challenge_method.as_deref(), q.code_challenge) {
        (Some("S256"), Some(c)) if pkce_shaped(&c) => c,
        _ => {
            return Err(Box::new(refuse(
                &target,
                &state,
                "invalid_request",
                "PKCE is required: code_challenge_method=S256 and a 43-character code_challenge",
            )));
        }
    };
    Ok(Authorization {
        target,
        redirect_uri,
        state,
        client_id,
        challenge,
        nonce: q.nonce,
    })
}

/// Hands out a single-use code for `auth`, whose ID token will carry `claims`. The `Ok` is the
/// client's redirect URI with the code and state; the `Err` is the answer (a redirect with an
/// error).
fn issue_code(
    shared: &Shared,
    auth: Authorization,
    claims: Map<String, Value>,
) -> Result<Url, Box<Response>> {
    let Some(code) = random_token() else {
        return Err(Box::new(
            auth.refuse("server_error", "no randomness for a code"),
        ));
    };
    {
        let mut codes = shared
            .0
            .codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        codes.retain(|_, p| p.issued.elapsed() < CODE_LIFETIME);
        if codes.len() >= MAX_PENDING_CODES {
            drop(codes);
            return Err(Box::new(
                auth.refuse("temporarily_unavailable", "too many outstanding codes"),
            ));
        }
        codes.insert(
            code.clone(),
            Pending {
                client_id: auth.client_id,
                redirect_uri: auth.redirect_uri,
                challenge: auth.challenge,
                nonce: auth.nonce,
                claims,
                issued: Instant::now(),
            },
        );
    }
    let mut params = vec![("code", code.as_str())];
    if !auth.state.is_empty() {
        params.push(("state", auth.state.as_str()));
    }
    Ok(with_params(auth.target, &params))
}

async fn serve_authorize(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    let auth = match check_authorization(q, wants_html(&headers)) {
        Ok(auth) => auth,
        Err(answer) => return *answer,
    };
    let login = &shared.0.login;
    if login.deny {
        return auth.refuse("access_denied", "the development login is set to refuse");
    }
    if login.ask {
        let Some(id) = random_token() else {
            return auth.refuse("server_error", "no randomness for a login form");
        };
        let mut requests = shared
            .0
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        requests.retain(|_, p| p.issued.elapsed() < REQUEST_LIFETIME);
        if requests.len() >= MAX_PENDING_REQUESTS {
            drop(requests);
            return auth.refuse("temporarily_unavailable", "too many login forms open");
        }
        let form = login_form(&id, &auth, None);
        requests.insert(
            id,
            PendingRequest {
                auth,
                issued: Instant::now(),
            },
        );
        return form;
    }
    match issue_code(&shared, auth, login.claims.clone()) {
        Ok(target) => Redirect::to(target.as_str()).into_response(),
        Err(answer) => *answer,
    }
}

/// `POST /authorize`: the login form, naming its pending request and the email typed.
async fn serve_authorize_form(
    State(shared): State<Shared>,
    Form(form): Form<AuthorizeForm>,
) -> Response {
    let id = form.request.unwrap_or_default();
    let email = form.email.unwrap_or_default();
    let email = email.trim();
    let auth = {
        let mut requests = shared
            .0
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        requests.retain(|_, p| p.issued.elapsed() < REQUEST_LIFETIME);
        // Taken out before anything else happens: a form is good for one login.
        let Some(pending) = requests.remove(&id) else {
            drop(requests);
            return page::error(
                StatusCode::BAD_REQUEST,
                "This login page has expired or was already used",
                "A login page can be submitted once, within 10 minutes of opening it.",
                "Go back to the terminal: if hallmark is still waiting, open the link it printed \
                 again; otherwise run the hallmark command again for a new link.",
            );
        };
        if !plausible_email(email) {
            let answer = login_form(
                &id,
                &pending.auth,
                Some("Type an email address such as you@example.com (at most 254 characters)."),
            );
            requests.insert(id, pending);
            return answer;
        }
        pending.auth
    };
    let claims = match DevIssuer::email_claims(email) {
        Value::Object(claims) => claims,
        _ => Map::new(),
    };
    match issue_code(&shared, auth, claims) {
        Ok(target) => page::continue_page(email, target.as_str()),
        Err(answer) => *answer,
    }
}

/// `local@domain`, printable, no spaces, at most 254 characters. A development issuer asks no
/// more of an address.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.chars().all(|c| c.is_ascii_graphic())
}

/// The page that asks who is logging in; the form names its pending request by id.
fn login_form(id: &str, auth: &Authorization, problem: Option<&str>) -> Response {
    let client = auth.target.origin().ascii_serialization();
    let mut body = format!(
        "<p>A program on your computer (<code>hallmark</code>, waiting at {}) asks for an \
         identity token, to get a short-lived signing certificate in your name.</p>",
        page::escape(&client)
    );
    if let Some(problem) = problem {
        body.push_str(&page::alert(problem));
    }
    body.push_str(&format!(
        "<form method=post action=\"{}\">\
         <input type=hidden name=\"request\" value=\"{}\">\
         <label>Your email address <input type=email name=email required autofocus \
         autocomplete=email placeholder=you@example.com></label>\
         <button type=submit>Log in</button></form>\
         <p>After you log in, this page hands you back to hallmark, which goes on by itself.</p>",
        page::escape(AUTHORIZE_PATH.trim_start_matches('/')),
        page::escape(id)
    ));
    page::render(StatusCode::OK, "Log in to sign with Hallmark", &body)
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: each
/// form-urlencoded before base64).
fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, _secret) = decoded.split_once(':')?;
    url::form_urlencoded::parse(format!("id={id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

async fn serve_code_exchange(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let login = &shared.0;
    login
        .issuer
        .inner
        .token_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let bad_request =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);

    if field("grant_type") == Some(device::GRANT_TYPE) {
        let client_id = basic_client_id(&headers).or_else(|| field("client_id").map(str::to_owned));
        return device::exchange(&shared, field("device_code"), client_id.as_deref());
    }
    if field("grant_type") != Some("authorization_code") {
        return bad_request(
            "unsupported_grant_type",
            "grant_type must be authorization_code or urn:ietf:params:oauth:grant-type:device_code",
        );
    }
    let Some(code) = field("code") else {
        return bad_request("invalid_request", "code is required");
    };
    // Removed before any other check: a code is good for one attempt only.
    let pending = login
        .codes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(code);
    let Some(pending) = pending.filter(|p| p.issued.elapsed() < CODE_LIFETIME) else {
        return bad_request(
            "invalid_grant",
            "unknown, expired or already used authorization code",
        );
    };
    let client_id = basic_client_id(&headers).or_else(|| field("client_id").map(str::to_owned));
    if client_id.as_deref() != Some(pending.client_id.as_str()) {
        return bad_request("invalid_grant", "the code was issued to another client_id");
    }
    if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return bad_request(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        );
    }
    let Some(verifier) = field("code_verifier").filter(|v| pkce_shaped(v)) else {
        return bad_request(
            "invalid_grant",
            "code_verifier is required: 43 to 128 unreserved characters",
        );
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        computed.as_bytes(),
        pending.challenge.as_bytes(),
    )
    .is_err()
    {
        return bad_request(
            "invalid_grant",
            "PKCE verification failed: code_verifier does not match code_challenge",
        );
    }

    token_response(
        &login.issuer,
        &pending.client_id,
        pending.claims,
        pending.nonce,
    )
}

/// `{"access_token", "token_type", "expires_in", "id_token"}` with an ID token for `client_id`
/// carrying `claims` (and `nonce`).
fn token_response(
    issuer: &DevIssuer,
    client_id: &str,
    identity: Map<String, Value>,
    nonce: Option<String>,
) -> Response {
    let mut claims = Map::new();
    claims.insert("aud".into(), client_id.into());
    claims.extend(identity);
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    let id_token = issuer.mint(Value::Object(claims));
    let Some(access_token) = random_token() else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no randomness for an access token",
        );
    };
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "id_token": id_token,
        "scope": "openid email",
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}
