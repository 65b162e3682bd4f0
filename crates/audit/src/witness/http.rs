//! The witness over HTTP ([C2SP tlog-witness](https://c2sp.org/tlog-witness)):
//!
//! - `POST /add-checkpoint`: 200 with the cosignature line (`text/plain; charset=utf-8`), 409
//!   with the latest cosigned size as `<size>\n` of type `text/x.tlog.size` (exactly: Tessera
//!   compares the whole header), or the error's status with a plain-text message;
//! - `GET /<hex SHA-256 of the origin>/checkpoint`: the latest checkpoint this witness cosigned
//!   for that log, with the log's signature and this witness's cosignature (404 if none), for
//!   auditors that gossip.
//!
//! Requests are limited to 16 KiB. Signing (perhaps in an HSM) and the state's fsync block: they
//! run on tokio's blocking pool.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hallmark_tlog::witness::{MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE};
use sha2::{Digest, Sha256};

use super::{Witness, WitnessError, WitnessKey};

const TEXT: &str = "text/plain; charset=utf-8";

/// The witness's routes.
pub fn router<K>(witness: Arc<Witness<K>>) -> Router
where
    K: WitnessKey,
{
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint::<K>))
        .route("/{origin_hash}/checkpoint", get(checkpoint::<K>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(witness)
}

/// The hex SHA-256 of an origin: the path segment naming its log.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

async fn add_checkpoint<K>(State(w): State<Arc<Witness<K>>>, body: Bytes) -> Response
where
    K: WitnessKey,
{
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now)).await;
    match result {
        Ok(Ok(line)) => ([(header::CONTENT_TYPE, TEXT)], line).into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(e) => {
            tracing::error!(error = %e, "the add-checkpoint task died");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

fn error_response(e: &WitnessError) -> Response {
    if let WitnessError::SizeMismatch { latest, .. } = e {
        return (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{latest}\n"),
        )
            .into_response();
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "add-checkpoint failed");
    } else {
        tracing::info!(status = status.as_u16(), error = %e, "add-checkpoint refused");
    }
    (status, [(header::CONTENT_TYPE, TEXT)], format!("{e}\n")).into_response()
}

async fn checkpoint<K>(State(w): State<Arc<Witness<K>>>, Path(hash): Path<String>) -> Response
where
    K: WitnessKey,
{
    let Some(origin) = w
        .logs()
        .origins()
        .find(|o| origin_hash(o) == hash)
        .map(str::to_owned)
    else {
        return (StatusCode::NOT_FOUND, "this witness follows no such log\n").into_response();
    };
    match tokio::task::spawn_blocking(move || w.latest(&origin)).await {
        Ok(Ok(Some(c))) => (
            [
                (header::CONTENT_TYPE, TEXT),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            c.note,
        )
            .into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "this witness has cosigned nothing of that log\n",
        )
            .into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
    }
}
