//! The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)) at the
//! development issuer.
//!
//! - `POST /device/code` (form: `client_id`, `scope` with `openid`) answers a `device_code`, a
//!   `user_code` (`XXXX-XXXX`, consonants only), the verification URIs, `expires_in` (5 minutes)
//!   and `interval` (1 s).
//! - With a fixed identity ([`DevLogin::email`], [`DevLogin::with_claims`]) the request is
//!   approved at once, and with [`DevLogin::denied`] refused, so tests need no person. With
//!   [`DevLogin::ask`], `GET /device` shows a form for the user code and an email address, and
//!   `POST /device` approves the request with that code for that address.
//! - The token endpoint takes `grant_type=urn:ietf:params:oauth:grant-type:device_code` with the
//!   `device_code` and `client_id`: `authorization_pending` until approved, then the ID token
//!   (once: the device code is used up), `access_denied` if refused, `expired_token` after 5
//!   minutes.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use axum::body::Bytes;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    DevIssuer, DevLogin, Shared, oauth_error, page, plausible_email, random_token, token_response,
};

/// The device authorization endpoint, below the issuer URL.
pub(super) const AUTHORIZATION_PATH: &str = "/device/code";
/// Where the person enters the user code, below the issuer URL.
pub(super) const VERIFICATION_PATH: &str = "/device";
/// The grant type of the token request (RFC 8628 §3.4).
pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long a device code can be approved and exchanged.
const LIFETIME: Duration = Duration::from_secs(300);
/// The polling interval asked of clients, in seconds.
const INTERVAL_SECS: u64 = 1;
/// Outstanding device codes kept at most.
const MAX_PENDING: usize = 1024;
/// RFC 8628 §6.1: consonants only, so no words are spelled and nothing looks alike.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A device authorization waiting for the person, then for the client's poll.
#[derive(Debug)]
pub(super) struct Pending {
    client_id: String,
    /// Normalised: 8 letters, no dash.
    user_code: String,
    /// `Some` once approved: the identity the ID token will carry.
    approved: Option<Map<String, Value>>,
    denied: bool,
    issued: Instant,
}

/// A new user code, normalised: 8 letters of [`USER_CODE_ALPHABET`] (about 34 bits; shown as
/// `XXXX-XXXX`).
fn user_code() -> Option<String> {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(
        bytes
            .iter()
            .map(|b| USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char)
            .collect(),
    )
}

/// What a person typed, as stored: upper case, without dashes or spaces.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn dashed(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
}

/// `POST /device/code`.
pub(super) async fn serve_authorization(State(shared): State<Shared>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(client_id) = form.get("client_id").filter(|c| !c.is_empty()).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is required",
        );
    };
    if !form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|s| s == "openid"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must include openid",
        );
    }
    let (Some(device_code), Some(user_code)) = (random_token(), user_code()) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no randomness for a device code",
        );
    };
    let login: &DevLogin = &shared.0.login;
    let approved = (!login.ask && !login.deny).then(|| login.claims.clone());
    {
        let mut devices = shared
            .0
            .devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        devices.retain(|_, p| p.issued.elapsed() < LIFETIME);
        if devices.len() >= MAX_PENDING {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many outstanding device codes",
            );
        }
        devices.insert(
            device_code.clone(),
            Pending {
                client_id,
                user_code: user_code.clone(),
                approved,
                denied: login.deny,
                issued: Instant::now(),
            },
        );
    }
    let base = shared.0.issuer.issuer().trim_end_matches('/').to_owned();
    let shown = dashed(&user_code);
    let body = json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": format!("{base}{VERIFICATION_PATH}"),
        "verification_uri_complete": format!("{base}{VERIFICATION_PATH}?user_code={shown}"),
        "expires_in": LIFETIME.as_secs(),
        "interval": INTERVAL_SECS,
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// The token request of the device grant.
pub(super) fn exchange(
    shared: &Shared,
    device_code: Option<&str>,
    client_id: Option<&str>,
) -> Response {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let Some(device_code) = device_code else {
        return bad("invalid_request", "device_code is required");
    };
    let mut devices = shared
        .0
        .devices
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Some(pending) = devices.get(device_code) else {
        return bad("invalid_grant", "unknown or already used device code");
    };
    if client_id != Some(pending.client_id.as_str()) {
        return bad(
            "invalid_grant",
            "the device code was issued to another client_id",
        );
    }
    if pending.issued.elapsed() >= LIFETIME {
        devices.remove(device_code);
        return bad("expired_token", "the device code expired");
    }
    if pending.denied {
        devices.remove(device_code);
        return bad("access_denied", "the development login is set to refuse");
    }
    if pending.approved.is_none() {
        return bad(
            "authorization_pending",
            "the code has not been entered and approved yet",
        );
    }
    let Some(pending) = devices.remove(device_code) else {
        return bad("invalid_grant", "unknown or already used device code");
    };
    drop(devices);
    let identity = pending.approved.unwrap_or_default();
    token_response(&shared.0.issuer, &pending.client_id, identity, None)
}

#[derive(Debug, Deserialize)]
pub(super) struct FormQuery {
    user_code: Option<String>,
}

/// `GET /device`: the form (with the code filled in from `verification_uri_complete`).
pub(super) async fn serve_form(Query(q): Query<FormQuery>) -> Response {
    form_page(q.user_code.as_deref().unwrap_or_default(), None)
}

/// The `POST /device` form.
#[derive(Debug, Deserialize)]
pub(super) struct Approval {
    user_code: Option<String>,
    email: Option<String>,
}

/// `POST /device`: a user code and an email address approve the matching device code.
pub(super) async fn serve_approval(
    State(shared): State<Shared>,
    Form(form): Form<Approval>,
) -> Response {
    let typed = form.user_code.unwrap_or_default();
    let email = form.email.as_deref().map(str::trim).unwrap_or_default();
    if !plausible_email(email) {
        return form_page(
            &typed,
            Some("Type an email address such as you@example.com (at most 254 characters)."),
        );
    }
    let code = normalise(&typed);
    let approved = {
        let mut devices = shared
            .0
            .devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        devices
            .values_mut()
            .find(|p| p.user_code == code && p.approved.is_none() && p.issued.elapsed() < LIFETIME)
            .map(|p| {
                p.approved = Some(match DevIssuer::email_claims(email) {
                    Value::Object(claims) => claims,
                    _ => Map::new(),
                });
            })
            .is_some()
    };
    if !approved {
        return form_page(
            &typed,
            Some(
                "No login is waiting for that code (mistyped, expired or already used). Check \
                 the code in the terminal, or run the command again for a new one.",
            ),
        );
    }
    page::render(
        StatusCode::OK,
        "Login approved",
        &format!(
            "<p>Approved: the program that showed you the code <code>{}</code> is now logged in \
             as <strong>{}</strong>.</p><p>Return to the terminal; it goes on by itself. You can \
             close this page.</p>",
            page::escape(&dashed(&code)),
            page::escape(email)
        ),
    )
}

fn form_page(user_code: &str, problem: Option<&str>) -> Response {
    let mut body = String::from(
        "<p>A program in a terminal (<code>hallmark --device-login</code>) is waiting for you \
         to log in. Type the code it shows, and your email address.</p>",
    );
    if let Some(problem) = problem {
        body.push_str(&page::alert(problem));
    }
    body.push_str(&format!(
        "<form method=post action=device>\
         <label>Code from the terminal <input name=user_code value=\"{}\" required \
         autocomplete=off placeholder=XXXX-XXXX></label>\
         <label>Your email address <input type=email name=email required autofocus \
         autocomplete=email placeholder=you@example.com></label>\
         <button type=submit>Log in</button></form>",
        page::escape(user_code)
    ));
    page::render(StatusCode::OK, "Log in a terminal to Hallmark", &body)
}
