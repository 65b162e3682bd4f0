//! The development issuer's HTTP surface, as people running the dev stack use it.

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::SubjectAltName;
use serde_json::{Value, json};

use crate::common::*;

/// Sends a request and returns the JSON body of its successful response.
async fn body(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap().error_for_status().unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn token_endpoint_mints_verifiable_tokens() {
    let (l, addr) = listener().await;
    let url = format!("http://{addr}");
    let dev = DevIssuer::new(url.clone(), DevAlgorithm::Rs256).unwrap();
    serve(l, dev.router_with_token_endpoint());
    let v = verifier_for(&url, "email", "");
    let http = reqwest::Client::new();

    let claims = json!({"sub": "alice", "email": "alice@example.com", "email_verified": true});
    let answer = body(http.post(format!("{url}/token")).body(claims.to_string())).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 600);
    let id = v
        .verify(answer["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));
    assert_eq!(id.subject, "alice");

    // An empty body gets the defaults (which an email issuer refuses: no email claim).
    let answer = body(http.post(format!("{url}/token"))).await;
    let e = expect_error(
        v.verify(answer["id_token"].as_str().unwrap()).await,
        ErrorKind::Unauthenticated,
        "\"email\"",
    );
    assert!(matches!(e, hallmark_oidc::OidcError::MissingClaim { .. }));

    let status = http
        .post(format!("{url}/token"))
        .body("[1]")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
    assert_eq!(dev.token_requests(), 3);

    let doc = body(http.get(format!("{url}/.well-known/openid-configuration"))).await;
    assert_eq!(doc["issuer"], url);
    assert_eq!(doc["jwks_uri"], format!("{url}/jwks"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

#[tokio::test]
async fn plain_router_has_no_token_endpoint() {
    let idp = rsa_idp().await;
    let status = reqwest::Client::new()
        .post(format!("{}/token", idp.url()))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn jwks_shape_and_rotation() {
    for alg in [DevAlgorithm::Rs256, DevAlgorithm::Es256] {
        let dev = DevIssuer::new("http://127.0.0.1:1", alg).unwrap();
        let first = dev.kid();
        let jwks = dev.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(key["kid"], first);
        assert_eq!(key["alg"], alg.name());
        assert_eq!(key["use"], "sig");
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let second = dev.rotate_keeping_previous().unwrap();
        assert_eq!(dev.jwks()["keys"].as_array().unwrap().len(), 2);
        let third = dev.rotate().unwrap();
        assert_eq!(dev.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(dev.jwks()["keys"][0]["kid"], third);
        assert!(first != second && second != third);
    }
}
