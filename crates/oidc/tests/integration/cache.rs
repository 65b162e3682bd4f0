//! The JWKS cache: rotation, rate-limited refetches, shared fetches, outages.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::{OidcError, VerifierOptions};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn rotation_triggers_one_refetch() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let old = idp.dev.mint_email("alice@example.com");
    v.verify(&old).await.unwrap();
    v.verify(&old).await.unwrap();
    assert_eq!(
        (idp.dev.discovery_requests(), idp.dev.jwks_requests()),
        (1, 1),
        "cached"
    );

    let old_kid = idp.dev.kid();
    let new_kid = idp.dev.rotate().unwrap();
    assert_ne!(old_kid, new_kid);
    let new = idp.dev.mint_email("alice@example.com");
    v.verify(&new).await.unwrap();
    assert_eq!(idp.dev.jwks_requests(), 2, "one refetch for the new kid");
    v.verify(&new).await.unwrap();
    assert_eq!(idp.dev.jwks_requests(), 2);

    // The old key is gone from the refetched set.
    let e = expect_error(
        v.verify(&old).await,
        ErrorKind::Unauthenticated,
        &format!("no key \"{old_kid}\""),
    );
    assert!(
        matches!(
            e,
            OidcError::UnknownKey {
                refetched: false,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn rotation_keeping_the_previous_key() {
    let idp = idp(DevAlgorithm::Es256).await;
    let v = verifier_for(&idp.url(), "email", "");
    let old = idp.dev.mint_email("alice@example.com");
    idp.dev.rotate_keeping_previous().unwrap();
    let new = idp.dev.mint_email("alice@example.com");
    v.verify(&new).await.unwrap();
    v.verify(&old).await.unwrap();
    assert_eq!(idp.dev.jwks_requests(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    v.verify(&idp.dev.mint_email("alice@example.com"))
        .await
        .unwrap();
    assert_eq!(idp.dev.jwks_requests(), 1);

    let mut claims = DevIssuer::email_claims("alice@example.com");
    claims["iss"] = json!(idp.url());
    let garbage = idp
        .dev
        .sign_raw(&json!({"alg": "RS256", "kid": "no-such-key"}), &claims);

    let e = expect_error(
        v.verify(&garbage).await,
        ErrorKind::Unauthenticated,
        "no key \"no-such-key\"",
    );
    assert!(
        matches!(
            e,
            OidcError::UnknownKey {
                refetched: true,
                keys: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(idp.dev.jwks_requests(), 2, "one refetch");

    for _ in 0..5 {
        let e = expect_error(
            v.verify(&garbage).await,
            ErrorKind::Unauthenticated,
            "refetched: false",
        );
        assert!(matches!(
            e,
            OidcError::UnknownKey {
                refetched: false,
                ..
            }
        ));
    }
    assert_eq!(
        idp.dev.jwks_requests(),
        2,
        "no further refetch within the interval"
    );
    assert_eq!(idp.dev.discovery_requests(), 2);

    // Known keys keep working meanwhile, without fetching.
    v.verify(&idp.dev.mint_email("alice@example.com"))
        .await
        .unwrap();
    assert_eq!(idp.dev.jwks_requests(), 2);
}

#[tokio::test]
async fn unknown_kid_refetch_again_after_the_interval() {
    let idp = rsa_idp().await;
    let mut o = VerifierOptions::default();
    o.min_refetch_interval = Duration::from_millis(200);
    let v = verifier_with(&one_issuer(&idp.url(), "email", ""), o);
    let mut claims = DevIssuer::email_claims("alice@example.com");
    claims["iss"] = json!(idp.url());
    let garbage = idp
        .dev
        .sign_raw(&json!({"alg": "RS256", "kid": "later"}), &claims);
    // Cold: the first fetch already searched fresh keys for the kid, and counts as its refetch.
    expect_error(
        v.verify(&garbage).await,
        ErrorKind::Unauthenticated,
        "refetched: true",
    );
    assert_eq!(idp.dev.jwks_requests(), 1);
    expect_error(
        v.verify(&garbage).await,
        ErrorKind::Unauthenticated,
        "refetched: false",
    );
    assert_eq!(idp.dev.jwks_requests(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    expect_error(
        v.verify(&garbage).await,
        ErrorKind::Unauthenticated,
        "refetched: true",
    );
    assert_eq!(idp.dev.jwks_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_share_one_fetch() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let token = Arc::new(idp.dev.mint_email("alice@example.com"));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let v = v.clone();
        let token = Arc::clone(&token);
        tasks.push(tokio::spawn(async move { v.verify(&token).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        (idp.dev.discovery_requests(), idp.dev.jwks_requests()),
        (1, 1)
    );
}

#[tokio::test]
async fn idp_down_then_back() {
    // Reserve a port, then leave it closed: connections are refused.
    let (l, addr) = listener().await;
    drop(l);
    let url = format!("http://{addr}");
    let dev = DevIssuer::new(url.clone(), DevAlgorithm::Rs256).unwrap();
    let mut o = VerifierOptions::default();
    o.min_refetch_interval = Duration::from_millis(300);
    let v = verifier_with(&one_issuer(&url, "email", ""), o);
    let token = dev.mint_email("alice@example.com");

    let e = expect_error(
        v.verify(&token).await,
        ErrorKind::IdpUnavailable,
        "unavailable",
    );
    assert!(matches!(e, OidcError::IdpUnavailable { .. }));
    assert!(
        e.to_string().contains("/.well-known/openid-configuration"),
        "{e}"
    );

    // The IdP comes back on the same port.
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    serve(l, dev.router());
    // Within the retry interval the failure is remembered, so the IdP is not hammered.
    expect_error(
        v.verify(&token).await,
        ErrorKind::IdpUnavailable,
        "unavailable",
    );
    assert_eq!(dev.discovery_requests(), 0);
    tokio::time::sleep(Duration::from_millis(350)).await;
    v.verify(&token).await.unwrap();
    assert_eq!(dev.discovery_requests(), 1);
}

#[tokio::test]
async fn idp_errors_are_503() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    idp.down.store(true, Ordering::SeqCst);
    let e = expect_error(
        v.verify(&idp.dev.mint_email("a@example.com")).await,
        ErrorKind::IdpUnavailable,
        "answered HTTP 503",
    );
    assert!(matches!(e, OidcError::IdpUnavailable { .. }));

    // A discovery document whose JWKS is missing.
    let (l, addr) = listener().await;
    let url = format!("http://{addr}");
    let dev = DevIssuer::new(url.clone(), DevAlgorithm::Rs256).unwrap();
    let doc = dev.discovery_document();
    serve(
        l,
        axum::Router::new().route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        ),
    );
    let v = verifier_for(&url, "email", "");
    let e = expect_error(
        v.verify(&dev.mint_email("a@example.com")).await,
        ErrorKind::IdpUnavailable,
        "JWK set answered HTTP 404",
    );
    assert!(e.to_string().contains(&format!("{url}/jwks")), "{e}");
}

#[tokio::test]
async fn expired_keys_are_used_while_the_idp_is_down() {
    let idp = rsa_idp().await;
    let mut o = VerifierOptions::default();
    // Keys expire at once, so every request wants a refresh.
    o.jwks_default_ttl = Duration::ZERO;
    o.jwks_min_ttl = Duration::ZERO;
    let v = verifier_with(&one_issuer(&idp.url(), "email", ""), o.clone());
    let token = idp.dev.mint_email("alice@example.com");
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    assert_eq!(idp.dev.jwks_requests(), 2, "expired keys are refreshed");

    idp.down.store(true, Ordering::SeqCst);
    v.verify(&token).await.unwrap();
    v.verify(&token).await.unwrap();
    assert_eq!(
        idp.refused.load(Ordering::SeqCst),
        1,
        "one failed refresh, then the failure is remembered"
    );

    // Without a grace period the outage shows.
    o.stale_if_error = Duration::ZERO;
    idp.down.store(false, Ordering::SeqCst);
    let strict = verifier_with(&one_issuer(&idp.url(), "email", ""), o);
    strict.verify(&token).await.unwrap();
    idp.down.store(true, Ordering::SeqCst);
    expect_error(
        strict.verify(&token).await,
        ErrorKind::IdpUnavailable,
        "unavailable",
    );
}

#[tokio::test]
async fn prefetch_reports_each_issuer() {
    let up = rsa_idp().await;
    let (l, addr) = listener().await;
    drop(l);
    let down = format!("http://{addr}");
    let v = verifier(&format!(
        "issuers:\n  - url: {}\n    type: email\n  - url: {down}\n    type: email\n",
        up.url()
    ));
    let mut report = v.prefetch().await;
    report.sort_by(|a, b| a.0.cmp(&b.0));
    let by_url = |u: &str| {
        report
            .iter()
            .find(|(url, _)| url == u)
            .map(|(_, r)| r.is_ok())
    };
    assert_eq!(by_url(&up.url()), Some(true));
    assert_eq!(by_url(&down), Some(false));
    v.verify(&up.dev.mint_email("a@example.com")).await.unwrap();
    assert_eq!(up.dev.jwks_requests(), 1, "the prefetched keys were used");
}
