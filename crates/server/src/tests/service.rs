//! `/healthz`, `/readyz`, `/metrics`, the fallback, and the development issuer's routes.

use super::*;

#[tokio::test]
async fn healthz_answers_while_the_process_serves() {
    let h = Harness::new().await;
    let (status, _, body) = h.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"ok\n");
}

#[tokio::test]
async fn readyz_follows_the_key_custody_without_echoing_its_errors() {
    let h = Harness::new().await;
    let (status, _, body) = h.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"ready\n");
    h.custody.down.store(true, Ordering::SeqCst);
    let (status, _, body) = h.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&body[..], b"not ready: HSM unavailable\n");
    h.custody.down.store(false, Ordering::SeqCst);
    let (status, _, _) = h.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_render_the_installed_recorder() {
    let h = Harness::new().await;
    h.certificate("metrics@example.com").await;
    let (status, headers, body) = h.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4");
    let text = String::from_utf8(body.to_vec()).unwrap();
    for metric in [
        "hallmark_ct_log_tree_size",
        "hallmark_certificates_issued_total",
        "hallmark_signing_cert_requests_total",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}

#[tokio::test]
async fn routers_can_be_built_repeatedly() {
    // Each harness builds its own router over the one recorder the process installed.
    for _ in 0..3 {
        let h = Harness::new().await;
        let (status, _, _) = h.get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn unknown_paths_are_a_json_404() {
    let h = Harness::new().await;
    let (status, body) = h.get_json("/api/v3/nothing").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no such endpoint");
    // Without the development issuer, its routes do not exist.
    let (status, body) = h
        .get_json("/dev-oidc/.well-known/openid-configuration")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no such endpoint");
    let (status, _, body) = h.post_json("/dev-oidc/token", &json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no such endpoint");
}

#[tokio::test]
async fn the_development_issuer_serves_discovery_jwks_tokens_and_rotation() {
    let h = Harness::with_dev_issuer().await;
    let issuer = h.state.settings.dev_issuer_url();
    let (status, discovery) = h
        .get_json("/dev-oidc/.well-known/openid-configuration")
        .await;
    assert_eq!(status, StatusCode::OK, "{discovery}");
    assert_eq!(discovery["issuer"], json!(issuer));
    let (status, jwks) = h.get_json("/dev-oidc/jwks").await;
    assert_eq!(status, StatusCode::OK);
    let kid = jwks["keys"][0]["kid"].clone();
    assert!(kid.is_string(), "{jwks}");
    let (status, _, token) = h
        .post_json("/dev-oidc/token", &json!({"email": "dev@example.com"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let jwt = token["access_token"].as_str().unwrap();
    let claims = json_of(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    );
    assert_eq!(claims["iss"], json!(issuer));
    assert_eq!(claims["email"], "dev@example.com");
    let (status, _, rotated) = h.post_json("/dev-oidc/rotate", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["kid"], kid);
    let (_, jwks) = h.get_json("/dev-oidc/jwks").await;
    assert_eq!(jwks["keys"][0]["kid"], rotated["kid"]);
}
