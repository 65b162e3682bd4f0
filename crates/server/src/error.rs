//! The one place errors become HTTP responses: JSON `{"code": N, "message": "..."}` as Fulcio and
//! Rekor answer, with 4xx for the client's mistakes, 503 when the HSM or storage is unavailable,
//! and 500 only for our own faults (logged with their cause, never sent to the client).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hallmark_keys::KeyError;
use hallmark_log::LogError;

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with this status and message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 with a message naming the problem.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 503: a dependency (HSM, storage) is unavailable; the client may retry.
    pub(crate) fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} is unavailable; retry later"),
        )
    }

    /// 500 for our own faults: the cause is logged, the client gets a generic message.
    pub(crate) fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {context}"),
        )
    }

    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The message the client gets.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// From a status code number that a library chose (`status()` methods). A 4xx keeps the
    /// library's message (it names the client's mistake); a 5xx is logged with it and answers a
    /// generic message, since library errors for our own faults name internal hosts, tokens and
    /// HSM details.
    pub(crate) fn from_status(code: u16, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = message.into();
        if !status.is_server_error() {
            return Self::new(status, message);
        }
        tracing::warn!(status = code, %message, "request failed");
        let generic = if status == StatusCode::SERVICE_UNAVAILABLE {
            "a service this request needs is unavailable; retry later"
        } else {
            "internal error"
        };
        Self::new(status, generic)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.status.as_u16(),
            "message": self.message,
        });
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The HSM reconnects within about a second of coming back (REINIT_BACKOFF).
            return (
                self.status,
                [(axum::http::header::RETRY_AFTER, "1")],
                Json(body),
            )
                .into_response();
        }
        (self.status, Json(body)).into_response()
    }
}

/// Whether a signer's error is an unavailable (or saturated) HSM.
pub(crate) fn signer_unavailable(e: &signature::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<KeyError>())
        .is_some_and(|k| k.is_unavailable() || k.is_busy())
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        if e.is_unavailable() || e.is_busy() {
            tracing::warn!(error = %e, "HSM unavailable");
            Self::unavailable("the HSM")
        } else {
            Self::internal("key operation failed", &e)
        }
    }
}

impl From<&LogError> for ApiError {
    fn from(e: &LogError) -> Self {
        match e {
            LogError::EntryTooLarge { size, limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("entry is {size} bytes; the limit is {limit}"),
            ),
            LogError::Signing { source, .. } | LogError::EntrySigning { source, .. }
                if signer_unavailable(source) =>
            {
                tracing::warn!(error = %e, "log signing key unavailable");
                Self::unavailable("the log's signing key (HSM)")
            }
            LogError::Store(_) | LogError::Stopped => {
                tracing::error!(error = %e, "log storage failed");
                Self::unavailable("the log's storage")
            }
            LogError::Tree(t) => Self::bad_request(t.to_string()),
            other => Self::internal("log append failed", other),
        }
    }
}
