//! Extractors whose rejections are our JSON errors rather than axum's plain text: the query
//! string ([`ApiQuery`]) and the size-limited JSON body of every POST route ([`LimitedBody`]).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Like `axum::extract::Query`, but a bad query string is a JSON 400 naming the problem.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(q)
            .map(ApiQuery)
            .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
    }
}

/// Which configured limit a [`LimitedBody`] is held to.
pub(crate) trait BodyLimit {
    /// The most bytes a body may have.
    fn limit(state: &AppState) -> usize;
}

/// `max_body_bytes`: requests (a certificate request, a retrieve or search).
#[derive(Debug)]
pub(crate) struct RequestLimit;

impl BodyLimit for RequestLimit {
    fn limit(state: &AppState) -> usize {
        state.settings.max_body_bytes
    }
}

/// `log.max_entry_bytes`: a proposed log entry.
#[derive(Debug)]
pub(crate) struct EntryLimit;

impl BodyLimit for EntryLimit {
    fn limit(state: &AppState) -> usize {
        state.settings.max_entry_bytes
    }
}

/// The body of a POST request, at most `L`'s limit of bytes (larger is a JSON 413, see
/// [`read_body`]). A `Content-Type` other than JSON (`application/json`, `*/*+json`) is a JSON
/// 415; none at all is accepted, as Fulcio and Rekor do.
#[derive(Debug)]
pub(crate) struct LimitedBody<L> {
    /// The body.
    pub(crate) bytes: Bytes,
    limit: PhantomData<L>,
}

impl<L: BodyLimit> FromRequest<Arc<AppState>> for LimitedBody<L> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        // The body is read (and an oversized one drained) before the content type is judged:
        // answering while the client is still sending resets the connection, and the client
        // would see "broken pipe" instead of the 415.
        let bytes = read_body(req.into_body(), L::limit(state)).await?;
        if let Some(v) = content_type
            && !is_json(v.as_bytes())
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the request body must be JSON (Content-Type: application/json), not {:?}",
                    String::from_utf8_lossy(v.as_bytes())
                ),
            ));
        }
        Ok(Self {
            bytes,
            limit: PhantomData,
        })
    }
}

/// Whether a `Content-Type` value names JSON: `application/json` or a `+json` type, with any
/// parameters.
fn is_json(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub.as_bytes()[sub.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// How much of an oversized body the server still reads (and discards) before it answers 413.
///
/// Answering while the client is still sending makes the server close a socket with unread
/// data, which the kernel turns into a reset: the client sees "broken pipe" or "connection
/// reset" instead of the JSON error. Reading the rest of a moderately oversized body first
/// (Apache's and nginx's "lingering close") lets the 413 arrive; bodies declared or found to be
/// larger than this are cut off at once.
const DRAIN_LIMIT: usize = 4 << 20;

/// How long the server keeps draining an oversized body before giving up on it.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads a request body up to `limit` bytes; larger is a JSON 413, delivered after the rest of
/// the body has been drained (up to [`DRAIN_LIMIT`] bytes and [`DRAIN_TIME`]).
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use axum::body::HttpBody as _;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64 && n > DRAIN_LIMIT as u64) {
        return Err(too_large());
    }
    if declared.is_some_and(|n| n <= limit as u64) {
        // Within the limit by its own declaration: hyper enforces Content-Length.
        return axum::body::to_bytes(body, limit)
            .await
            .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")));
    }
    let mut body = body;
    let mut buf = Vec::new();
    let mut over = false;
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let next = if over {
            match tokio::time::timeout_at(deadline, next_chunk(&mut body)).await {
                Ok(next) => next,
                Err(_) => return Err(too_large()),
            }
        } else {
            next_chunk(&mut body).await
        };
        let Some(chunk) = next else { break };
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        seen = seen.saturating_add(chunk.len());
        if over {
            if seen > DRAIN_LIMIT {
                return Err(too_large());
            }
        } else if seen > limit {
            over = true;
            buf = Vec::new();
        } else {
            buf.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// The next data chunk of a body (trailers are skipped), or `None` at its end.
async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    use axum::body::HttpBody as _;
    loop {
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            }
            Err(e) => return Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// A limit above the drain limit (a large `log.max_entry_bytes`) is the limit: a body
    /// under it is read whole (it used to be a 413 once its declared length passed 4 MiB).
    #[tokio::test]
    async fn limits_above_the_drain_limit_are_honoured() {
        let limit = DRAIN_LIMIT + (2 << 20);
        let data = vec![b'x'; DRAIN_LIMIT + (1 << 20)];
        let got = read_body(Body::from(data.clone()), limit).await.unwrap();
        assert_eq!(got.len(), data.len());
        let e = read_body(Body::from(vec![b'x'; limit + 1]), limit)
            .await
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Under the drain limit, over a small limit: still a 413.
        let e = read_body(Body::from(vec![b'x'; 2048]), 1024)
            .await
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.in-toto+json",
        ] {
            assert!(is_json(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "json",
            "application/+json",
            "",
        ] {
            assert!(!is_json(bad.as_bytes()), "{bad}");
        }
    }
}
