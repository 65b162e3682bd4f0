//! `/healthz` (the process serves), `/readyz` (the keys' custody, the HSM, answers) and
//! Prometheus `/metrics` (of the recorder the binary installed).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AppState;

/// Liveness: answers as long as the process serves requests.
pub(crate) async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Readiness: 200 only when the HSM answers within two seconds and, with several replicas on
/// PostgreSQL, this replica is the logs' sequencer or knows which replica is (it hands its verified
/// entries there). The answer names the role.
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let role = match &state.leadership {
        None => "",
        Some(l) if l.is_leader() => " (sequencer)",
        Some(l) if l.leader_url().is_some() => {
            " (standby, handing verified entries to the sequencer)"
        }
        Some(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: no replica is the logs' sequencer yet\n".to_owned(),
            );
        }
    };
    let custody = state.custody.clone();
    let check = tokio::task::spawn_blocking(move || custody.health());
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(Ok(()))) => (StatusCode::OK, format!("ready{role}\n")),
        Ok(Ok(Err(e))) => hsm_not_ready(&e),
        Ok(Err(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: HSM check failed\n".to_owned(),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: HSM did not answer within 2 s\n".to_owned(),
        ),
    }
}

/// The HSM's error goes to the log, not to whoever can reach the probe (it names tokens,
/// PKCS#11 functions and return codes).
fn hsm_not_ready(e: &hallmark_keys::KeyError) -> (StatusCode, String) {
    tracing::warn!(error = %e, "readiness: HSM check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: HSM unavailable\n".to_owned(),
    )
}

/// Prometheus text exposition.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let size = state.ct.latest().size;
    metrics::gauge!("hallmark_ct_log_tree_size").set(size as f64);
    state.custody.record_metrics();
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsm_errors_are_not_echoed() {
        let e = hallmark_keys::KeyError::Pkcs11 {
            token: "ca-secret-token".into(),
            function: "C_GetSessionInfo".into(),
            code: "CKR_DEVICE_REMOVED".into(),
        };
        let (status, body) = hsm_not_ready(&e);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "not ready: HSM unavailable\n");
    }
}
