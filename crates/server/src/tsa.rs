//! The RFC 3161 timestamp authority: `POST /api/v1/timestamp` and
//! `GET /api/v1/timestamp/certchain`, as sigstore/timestamp-authority serves them. The formats
//! are [`hallmark_sigstore::rfc3161`]'s; this module is HTTP and scheduling.
//!
//! # Life of a timestamp request
//! 1. The body (at most `max_body_bytes`) is read; `Content-Type: application/timestamp-query`
//!    is a DER `TimeStampReq`, `application/json` the Sigstore TSA's JSON form; anything else is
//!    415.
//! 2. The request is parsed and checked (hash, digest length, policy, extensions, nonce). A bad
//!    DER request is answered 400 with an RFC 3161 `rejection` (`application/timestamp-reply`,
//!    `failInfo` badAlg / badDataFormat / unacceptedPolicy / unacceptedExtension, and the reason
//!    as status string), so RFC 3161 clients read why; a bad JSON request gets a JSON 400.
//! 3. Admission: at most `tsa.max_concurrent + tsa.max_queue` requests are in the TSA at once;
//!    one more is answered 503 with `Retry-After` at once (no HSM work, no waiting).
//! 4. A signing permit (at most `tsa.max_concurrent`), then on a blocking thread: a 128-bit random
//!    serial, the clock read, the token signed by the TSA key in the HSM (its own token handle and
//!    sessions), the `TimeStampResp` encoded. The answer is 200 `application/timestamp-reply`.
//!
//! # Anonymous callers make the HSM sign here
//! Hallmark's rule is that anonymous callers never make the HSM sign: certificates need a
//! verified identity token, log entries need a signature by a key the CA certified. A timestamp
//! authority cannot follow it: every Sigstore client (sigstore-python, sigstore-go, cosign,
//! sigstore-js) calls the TSA without credentials, and RFC 3161 has no place for them. So the
//! TSA signs for anyone, and is bounded instead:
//! - its key is its own (`tsa.key`), on its own token handle, so its sessions are not the
//!   issuing key's;
//! - at most `tsa.max_concurrent` signatures run at once, so anonymous timestamp load takes at
//!   most that many HSM sessions and blocking threads, and certificate issuance always finds
//!   sessions and CPU of its own;
//! - at most `tsa.max_queue` more wait; beyond that the answer is 503 + `Retry-After: 1`
//!   straight away, so a flood costs a parse, not memory, threads or HSM time;
//! - the request body is bounded by `max_body_bytes`, the parse does no HSM work, and the
//!   token's size is bounded (the nonce is at most 32 bytes; extensions are refused).
//!
//! Rate limiting per client belongs in the proxy in front (it knows the client addresses).

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hallmark_sigstore::rfc3161::{
    self, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE, RequestError, TimestampAuthority, TimestampRequest,
    TsaError,
};
use p256::ecdsa::DerSignature;
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::ApiError;
use crate::state::LogKey;

/// The timestamp authority: its chain, its key, and its limits.
pub(crate) struct Tsa {
    authority: TimestampAuthority,
    key: LogKey,
    /// Leaf then root, PEM (the `certchain` answer).
    chain_pem: String,
    /// Requests in the TSA (signing or waiting to).
    admitted: Arc<Semaphore>,
    /// Requests signing.
    signing: Arc<Semaphore>,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsa")
            .field("policy", &self.authority.policy())
            .finish_non_exhaustive()
    }
}

impl Tsa {
    /// The authority of `chain_der` (leaf first, root last) signing with `key`.
    pub(crate) fn new(
        chain_der: &[Vec<u8>],
        chain_pem: String,
        key: LogKey,
        policy: der::asn1::ObjectIdentifier,
        max_concurrent: usize,
        max_queue: usize,
    ) -> Result<Self, TsaError> {
        Ok(Self {
            authority: TimestampAuthority::new(chain_der, policy)?,
            key,
            chain_pem,
            admitted: Arc::new(Semaphore::new(max_concurrent + max_queue)),
            signing: Arc::new(Semaphore::new(max_concurrent)),
        })
    }
}

/// Which form the request came in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Der,
    Json,
}

fn form(content_type: Option<&HeaderValue>) -> Option<Form> {
    let v = content_type?.to_str().ok()?;
    let media = v.split(';').next()?.trim();
    if media.eq_ignore_ascii_case(QUERY_MEDIA_TYPE) {
        Some(Form::Der)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(Form::Json)
    } else {
        None
    }
}

fn reply(status: StatusCode, der: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, REPLY_MEDIA_TYPE)], der).into_response()
}

/// A refused request: a DER caller gets a 400 RFC 3161 rejection, a JSON caller a JSON 400.
fn refused(form: Form, e: &RequestError) -> Response {
    metrics::counter!("hallmark_timestamps_total", "outcome" => "rejected").increment(1);
    let message = e.to_string();
    if form == Form::Der
        && let Ok(der) = rfc3161::rejection(e.failure_info(), &message)
    {
        return reply(StatusCode::BAD_REQUEST, der);
    }
    ApiError::bad_request(message).into_response()
}

/// `POST /api/v1/timestamp`.
pub(crate) async fn timestamp(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let Some(tsa) = state.tsa.clone() else {
        return ApiError::not_found(
            "this server has no timestamp authority: run `hallmark ca init-tsa` and restart",
        )
        .into_response();
    };
    let form = form(req.headers().get(header::CONTENT_TYPE));
    let body = match crate::extract::read_body(req.into_body(), state.settings.max_body_bytes).await
    {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let Some(form) = form else {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {QUERY_MEDIA_TYPE} (DER) or application/json"),
        )
        .into_response();
    };
    let request = match form {
        Form::Der => TimestampRequest::from_der(&body),
        Form::Json => TimestampRequest::from_json(&body),
    };
    let request = match request.and_then(|r| tsa.authority.check(&r).map(|()| r)) {
        Ok(r) => r,
        Err(e) => return refused(form, &e),
    };
    // Admission: no waiting room left means an immediate 503.
    let Ok(_admitted) = Arc::clone(&tsa.admitted).try_acquire_owned() else {
        metrics::counter!("hallmark_timestamps_total", "outcome" => "busy").increment(1);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the timestamp authority is busy; retry later",
        )
        .into_response();
    };
    let Ok(signing) = Arc::clone(&tsa.signing).acquire_owned().await else {
        return ApiError::unavailable("the timestamp authority").into_response();
    };
    let signer = Arc::clone(&tsa);
    // Both permits move into the blocking task: a client that disconnects (or times out) drops
    // this future, but the signature already under way keeps its permits until it is done, so
    // resets cannot stack up signing tasks beyond the limits.
    let signed = tokio::task::spawn_blocking(move || {
        let _held = (_admitted, signing);
        sign(&signer, &request)
    })
    .await;
    match signed {
        Ok(Ok(der)) => {
            metrics::counter!("hallmark_timestamps_total", "outcome" => "granted").increment(1);
            reply(StatusCode::OK, der)
        }
        Ok(Err(e)) => {
            metrics::counter!("hallmark_timestamps_total", "outcome" => "failed").increment(1);
            e.into_response()
        }
        Err(e) => ApiError::internal("timestamp task failed", &e).into_response(),
    }
}

/// Signs the token (blocking: the HSM). An unavailable or saturated HSM is a 503.
fn sign(tsa: &Tsa, request: &TimestampRequest) -> Result<Vec<u8>, ApiError> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial)
        .map_err(|e| ApiError::internal("no randomness for the timestamp serial", &e))?;
    tsa.authority
        .respond::<_, DerSignature>(request, &serial, SystemTime::now(), tsa.key.as_ref())
        .map_err(|e| match &e {
            TsaError::Signer { source } if crate::error::signer_unavailable(source) => {
                tracing::warn!(error = %e, "timestamp key unavailable");
                ApiError::unavailable("the timestamp key")
            }
            TsaError::Refused(r) => ApiError::bad_request(r.to_string()),
            _ => ApiError::internal("making a timestamp", &e),
        })
}

/// `GET /api/v1/timestamp/certchain`: the chain, leaf first, PEM. Static: no HSM use.
pub(crate) async fn certchain(State(state): State<Arc<AppState>>) -> Response {
    match &state.tsa {
        Some(tsa) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
            Body::from(tsa.chain_pem.clone()),
        )
            .into_response(),
        None => ApiError::not_found("this server has no timestamp authority").into_response(),
    }
}
