//! The one place errors become HTTP responses: JSON `{"code": N, "message": "..."}` as Fulcio and
//! Rekor answer, with 4xx for the client's mistakes, 503 when the HSM or storage is unavailable,
//! and 500 only for our own faults (logged with their cause, never sent to the client).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hallmark_ca::CaError;
use hallmark_keys::KeyError;
use hallmark_log::LogError;
use hallmark_oidc::{ErrorKind as OidcErrorKind, OidcError};
use hallmark_sigstore::EntryError;
use hallmark_sigstore::fulcio::RequestError;

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

/// The HTTP status of a CA error: 400 for the request's mistakes (malformed or unsupported
/// CSR/key/PEM/base64, a failed proof of possession, an identity that cannot be encoded), 503
/// when a signing key's HSM is unavailable or saturated (retry later), 500 for anything else.
pub(crate) fn ca_status(e: &CaError) -> StatusCode {
    match e {
        _ if e.is_request_error() => StatusCode::BAD_REQUEST,
        CaError::Signer { source, .. } if signer_unavailable(source) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<CaError> for ApiError {
    /// A 4xx names the client's mistake; a 5xx is logged and answers a generic message.
    fn from(e: CaError) -> Self {
        Self::from_status(ca_status(&e).as_u16(), e.to_string())
    }
}

/// The HTTP status of a token that does not verify, as Fulcio answers: 400 for a malformed
/// token, 401 for one that does not prove an acceptable identity, 403 for an issuer that is not
/// allowed, 503 when the identity provider cannot be reached.
pub(crate) fn oidc_status(e: &OidcError) -> StatusCode {
    match e.kind() {
        OidcErrorKind::Malformed => StatusCode::BAD_REQUEST,
        OidcErrorKind::IssuerNotAllowed => StatusCode::FORBIDDEN,
        OidcErrorKind::IdpUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Unauthenticated, and any kind added later: the token is refused.
        _ => StatusCode::UNAUTHORIZED,
    }
}

impl From<&OidcError> for ApiError {
    /// A token that does not verify: the reason for the client's mistakes (4xx); for an
    /// identity provider that cannot be reached (5xx) a generic answer, the detail (transport
    /// errors naming internal hosts, the JWKS URL) only in the log.
    fn from(e: &OidcError) -> Self {
        let status = oidc_status(e);
        if status.is_server_error() {
            tracing::warn!(error = %e, "token verification: identity provider unavailable");
            return Self::new(
                status,
                "the identity provider that issued this token is unavailable; retry later",
            );
        }
        Self::new(status, e.to_string())
    }
}

impl From<EntryError> for ApiError {
    /// 400: every [`EntryError`] is the request's mistake (a malformed or unverifiable proposed
    /// entry, an entry UUID that is not one).
    fn from(e: EntryError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<RequestError> for ApiError {
    /// A malformed `signingCert` request: 401 without an identity token, 400 otherwise.
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::NoToken => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            _ => Self::bad_request(e.to_string()),
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
            LogError::Overloaded => {
                metrics::counter!("hallmark_log_pushback_total").increment(1);
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the log is busy (its append queue is full); retry later",
                )
            }
            other => Self::internal("log append failed", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_hsm_is_503_other_signer_errors_500() {
        let away = KeyError::Unavailable {
            token: "t".into(),
            function: "C_Sign".into(),
            code: "CKR_DEVICE_REMOVED".into(),
        };
        let err = CaError::Signer {
            operation: "signing",
            source: signature::Error::from_source(away),
        };
        assert_eq!(ca_status(&err), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            err.to_string()
                .starts_with("signing: the signing key failed: HSM token \"t\" unavailable"),
            "{err}"
        );
        assert_eq!(
            ApiError::from(err).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );

        let other = KeyError::Pkcs11 {
            token: "t".into(),
            function: "C_Sign".into(),
            code: "CKR_FUNCTION_FAILED".into(),
        };
        let err = CaError::Signer {
            operation: "signing",
            source: signature::Error::from_source(other),
        };
        assert_eq!(ca_status(&err), StatusCode::INTERNAL_SERVER_ERROR);

        let bare = CaError::Signer {
            operation: "signing",
            source: signature::Error::new(),
        };
        assert_eq!(ca_status(&bare), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn client_mistakes_are_400() {
        let err = CaError::ProofOfPossession {
            challenge: "alice@example.com".into(),
        };
        assert_eq!(ca_status(&err), StatusCode::BAD_REQUEST);
        let api = ApiError::from(err);
        assert_eq!(api.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            api.message(),
            "proof of possession does not verify: the signature over \"alice@example.com\" was \
             not made by the key in publicKeyRequest"
        );
        for err in [
            CaError::UnsupportedKey {
                what: "k",
                key: "RSA-1024".into(),
            },
            CaError::BadBase64 {
                what: "proofOfPossession",
                detail: "x".into(),
            },
            CaError::UnencodableIdentity {
                field: "issuer",
                value: String::new(),
                reason: "it is empty",
            },
        ] {
            assert_eq!(ca_status(&err), StatusCode::BAD_REQUEST, "{err}");
        }
        assert_eq!(
            ca_status(&CaError::Ct(hallmark_sigstore::ct::CtError::NoEmbeddedScts)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    /// Token errors answer Fulcio's statuses: 400 malformed, 401 not proving an identity, 403
    /// issuer not allowed, 503 identity provider unavailable (the statuses `OidcError::status`
    /// gave when the mapping lived in hallmark-oidc, and that its tests asserted).
    #[test]
    fn token_errors_answer_fulcios_statuses() {
        use hallmark_oidc::UnixTime;
        use hallmark_oidc::error::{
            ClaimProblem, Document, EmailVerified, FetchError, KeyId, MalformedToken,
            SubjectRejection,
        };
        let kid = || KeyId(Some("k1".into()));
        let cases = [
            (OidcError::TokenTooLarge { size: 9, max: 8 }, 400),
            (OidcError::Malformed(MalformedToken::Empty), 400),
            (
                OidcError::Malformed(MalformedToken::SegmentCount { found: 2 }),
                400,
            ),
            (
                OidcError::IssuerNotAllowed {
                    issuer: "https://other".into(),
                },
                403,
            ),
            (
                OidcError::IdpUnavailable {
                    issuer: "https://idp".into(),
                    url: "https://idp/jwks".into(),
                    cause: std::sync::Arc::new(FetchError::Status {
                        document: Document::Jwks,
                        status: 404,
                    }),
                },
                503,
            ),
            (OidcError::AlgorithmNotAllowed { alg: "none".into() }, 401),
            (
                OidcError::UnknownKey {
                    issuer: "https://idp".into(),
                    kid: kid(),
                    keys: 1,
                    refetched: true,
                },
                401,
            ),
            (
                OidcError::BadSignature {
                    issuer: "https://idp".into(),
                    kid: kid(),
                },
                401,
            ),
            (OidcError::Expired { exp: UnixTime(1) }, 401),
            (OidcError::NotYetValid { nbf: UnixTime(1) }, 401),
            (OidcError::IssuedInFuture { iat: UnixTime(1) }, 401),
            (
                OidcError::WrongAudience {
                    audience: vec!["x".into()],
                    expected: "sigstore".into(),
                },
                401,
            ),
            (
                OidcError::MissingClaim {
                    claim: "email".into(),
                },
                401,
            ),
            (
                OidcError::InvalidClaim {
                    claim: "email".into(),
                    problem: ClaimProblem::NotAnEmail,
                },
                401,
            ),
            (
                OidcError::EmailNotVerified {
                    email: "a@example.com".into(),
                    found: EmailVerified::False,
                },
                401,
            ),
            (
                OidcError::SubjectNotAllowed {
                    subject: "a".into(),
                    reason: SubjectRejection::IsEmail,
                },
                401,
            ),
            (
                OidcError::DiscoveryIssuerMismatch {
                    issuer: "https://idp".into(),
                    discovered: "https://other".into(),
                },
                401,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(oidc_status(&err).as_u16(), status, "{err:?}");
            let api = ApiError::from(&err);
            assert_eq!(api.status().as_u16(), status, "{err:?}");
            if status < 500 {
                assert_eq!(api.message(), err.to_string());
            } else {
                assert!(!api.message().contains("idp/jwks"), "{}", api.message());
            }
        }
    }

    #[test]
    fn entry_errors_are_400_with_their_message() {
        let errors = [
            hallmark_sigstore::ProposedEntry::parse(b"not json").unwrap_err(),
            hallmark_sigstore::ProposedEntry::parse(
                br#"{"apiVersion":"0.0.1","kind":"rekord","spec":{}}"#,
            )
            .unwrap_err(),
            hallmark_sigstore::parse_entry_uuid("not a uuid").unwrap_err(),
        ];
        for err in errors {
            let message = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status(), StatusCode::BAD_REQUEST, "{message}");
            assert_eq!(api.message(), message);
        }
    }
}
