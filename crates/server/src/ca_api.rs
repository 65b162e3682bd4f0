//! The Fulcio v2 API: `POST /api/v2/signingCert`, `GET /api/v2/trustBundle`,
//! `GET /api/v2/configuration`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hallmark_sigstore::fulcio::{
    CertificateChain, KeyProof, SigningCertRequest, SigningCertResponse, TrustBundle,
};

use hallmark_log::store::NewEntry;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{LimitedBody, RequestLimit};
use crate::leadership::WriteLog;

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The identity token and the key with its proof, from the body (typed by
/// [`hallmark_sigstore::fulcio`]) and the `Authorization` header.
pub(crate) fn parse_request(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, KeyProof), ApiError> {
    Ok(SigningCertRequest::parse(body)?.into_parts(bearer(headers).as_deref())?)
}

pub(crate) async fn signing_cert(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    LimitedBody { bytes: body, .. }: LimitedBody<RequestLimit>,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let result = issue(&state, &headers, &body).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(e) if e.status().is_client_error() => "rejected",
        Err(_) => "failed",
    };
    metrics::counter!("hallmark_signing_cert_requests_total", "outcome" => outcome).increment(1);
    metrics::histogram!("hallmark_signing_cert_seconds").record(started.elapsed().as_secs_f64());
    let chain = result?;
    metrics::counter!("hallmark_certificates_issued_total").increment(1);
    // 200 OK, as Fulcio's v2 API answers (grpc-gateway's default; only its legacy v1 API says
    // 201). sigstore-go, and so cosign, refuses any other status.
    Ok((StatusCode::OK, Json(SigningCertResponse::new(chain))).into_response())
}

/// The whole issuance; returns leaf, issuing CA and root PEMs.
async fn issue(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<String>, ApiError> {
    let (token, key) = parse_request(headers, body)?;
    let identity = state
        .verifier
        .verify(&token)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let proven = match key {
        KeyProof::Csr(raw) => hallmark_ca::parse_csr(&raw).map_err(ApiError::from)?,
        KeyProof::PublicKey { pem, proof } => {
            hallmark_ca::verify_proof_of_possession(pem.as_bytes(), &identity.challenge, &proof)
                .map_err(ApiError::from)?
        }
    };
    let now = SystemTime::now();
    let prepared = state
        .ca
        .issuance
        .prepare(proven.spki_der(), &identity, now)
        .map_err(ApiError::from)?;
    // The precertificate goes into the CT log, durably, before any SCT exists for it. notBefore
    // is `now` rounded down to the second, so it never follows the SCT's timestamp.
    let timestamp_ms = crate::ct::now_ms();
    let leaf = prepared
        .merkle_tree_leaf(timestamp_ms)
        .encode()
        .map_err(|e| ApiError::internal("encoding the CT leaf", &e))?;
    crate::leadership::append(state, WriteLog::Ct, NewEntry::new(leaf)).await?;
    let st = state.clone();
    let pem = tokio::task::spawn_blocking(move || st.ca.finish(prepared, timestamp_ms, &st.ct))
        .await
        .map_err(|e| ApiError::internal("signing task failed", &e))??;
    let mut chain = Vec::with_capacity(1 + state.ca.chain_pem.len());
    chain.push(pem);
    chain.extend(state.ca.chain_pem.iter().cloned());
    Ok(chain)
}

pub(crate) async fn trust_bundle(State(state): State<Arc<AppState>>) -> Json<TrustBundle> {
    Json(TrustBundle {
        chains: vec![CertificateChain {
            certificates: state.ca.chain_pem.clone(),
        }],
    })
}

pub(crate) async fn configuration(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(crate::issuers::configuration(&state.verifier))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    async fn body_text(e: ApiError) -> (StatusCode, String) {
        let resp = e.into_response();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// An identity provider on an internal host that cannot be reached: the client gets a 503
    /// that names neither the host nor the transport error; the detail stays in the log.
    #[tokio::test]
    async fn an_unreachable_idp_answers_without_internal_detail() {
        let issuer = "https://idp.corp-internal.invalid";
        let config = hallmark_oidc::IssuerConfig::from_yaml(&format!(
            "issuers:\n  - url: {issuer}\n    type: email\n"
        ))
        .unwrap();
        let verifier = hallmark_oidc::TokenVerifier::new(config).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.{}",
            part(serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
            part(serde_json::json!({
                "iss": issuer, "aud": "sigstore", "sub": "a", "email": "a@example.com",
                "email_verified": true, "iat": now, "exp": now + 600
            })),
            URL_SAFE_NO_PAD.encode([1u8; 256])
        );
        let e = verifier.verify(&token).await.unwrap_err();
        assert_eq!(
            crate::error::oidc_status(&e),
            StatusCode::SERVICE_UNAVAILABLE,
            "{e}"
        );
        assert!(e.to_string().contains("corp-internal"), "{e}");
        let (status, body) = body_text(ApiError::from(&e)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("identity provider"), "{body}");
        for leak in [
            "corp-internal",
            "request failed",
            "openid-configuration",
            "dns",
        ] {
            assert!(!body.to_lowercase().contains(leak), "{leak}: {body}");
        }
    }

    /// A library's 5xx (an HSM failure, say) is logged, not echoed; a 4xx keeps its message.
    #[tokio::test]
    async fn server_errors_from_libraries_answer_generic_messages() {
        let secret = "PKCS#11 C_Sign failed on token \"ca-token\": CKR_DEVICE_ERROR";
        let (status, body) = body_text(ApiError::from_status(503, secret)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            !body.contains("CKR_") && !body.contains("ca-token"),
            "{body}"
        );
        let (status, body) = body_text(ApiError::from_status(500, secret)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.contains("CKR_"), "{body}");
        let (status, body) = body_text(ApiError::from_status(400, "bad CSR")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("bad CSR"), "{body}");
    }
}
