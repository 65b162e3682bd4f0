//! The verifier with keys from a [`MemoryKeySource`]: no identity provider runs, no socket is
//! opened. The development issuer only signs tokens here; its documents are copied into the
//! source, and changing the source is how an IdP rotating or losing its keys is simulated.

use std::sync::Arc;
use std::time::Duration;

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::error::FetchError;
use hallmark_oidc::{
    Fetched, IssuerConfig, MemoryKeySource, OidcError, SubjectAltName, TokenVerifier,
    VerifierOptions,
};

use crate::common::*;

const ISSUER: &str = "https://issuer.example";

fn discovery() -> String {
    MemoryKeySource::discovery_url(ISSUER)
}

fn jwks() -> String {
    MemoryKeySource::jwks_url(ISSUER)
}

/// An unserved issuer, a source serving its current keys, and a verifier using that source.
fn setup(
    alg: DevAlgorithm,
    options: VerifierOptions,
) -> (DevIssuer, MemoryKeySource, TokenVerifier) {
    let dev = DevIssuer::new(ISSUER, alg).unwrap();
    let keys = MemoryKeySource::new();
    keys.serve_issuer(ISSUER, &dev.jwks());
    let config = IssuerConfig::from_yaml(&one_issuer(ISSUER, "email", "")).unwrap();
    let verifier = TokenVerifier::with_key_source(config, options, Arc::new(keys.clone()));
    (dev, keys, verifier)
}

#[tokio::test]
async fn verifies_with_keys_from_memory_and_caches_them() {
    for alg in [DevAlgorithm::Rs256, DevAlgorithm::Es256] {
        let (dev, keys, v) = setup(alg, VerifierOptions::default());
        let id = v
            .verify(&dev.mint_email("alice@example.com"))
            .await
            .unwrap();
        assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));
        assert_eq!(id.issuer, ISSUER);
        let id = v.verify(&dev.mint_email("bob@example.com")).await.unwrap();
        assert_eq!(id.san, SubjectAltName::Email("bob@example.com".into()));
        // One discovery and one JWKS fetch served both tokens.
        assert_eq!((keys.fetches(&discovery()), keys.fetches(&jwks())), (1, 1));
    }
}

#[tokio::test]
async fn prefetch_reports_each_issuer() {
    let (_dev, keys, v) = setup(DevAlgorithm::Rs256, VerifierOptions::default());
    let report = v.prefetch().await;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].0, ISSUER);
    assert!(report[0].1.is_ok(), "{:?}", report[0].1);
    assert_eq!(keys.fetches(&jwks()), 1);
}

#[tokio::test]
async fn rotation_is_picked_up_through_an_unknown_kid() {
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, VerifierOptions::default());
    v.verify(&dev.mint_email("before@example.com"))
        .await
        .unwrap();

    let new_kid = dev.rotate().unwrap();
    keys.serve_issuer(ISSUER, &dev.jwks());
    let id = v
        .verify(&dev.mint_email("after@example.com"))
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("after@example.com".into()));
    // The unknown kid made the verifier fetch again, once.
    assert_eq!(keys.fetches(&jwks()), 2);
    assert_ne!(new_kid, "");
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_is_rate_limited() {
    let (dev, keys, v) = setup(DevAlgorithm::Es256, VerifierOptions::default());
    v.verify(&dev.mint_email("a@example.com")).await.unwrap();

    // The issuer rotates, but the source still serves the old keys.
    dev.rotate().unwrap();
    let token = dev.mint_email("a@example.com");
    let e = expect_error(v.verify(&token).await, ErrorKind::Unauthenticated, "no key");
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
    assert_eq!(keys.fetches(&jwks()), 2);

    // Within the refetch interval, the same unknown kid costs no fetch.
    let e = expect_error(v.verify(&token).await, ErrorKind::Unauthenticated, "no key");
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
    assert_eq!(keys.fetches(&jwks()), 2);
}

#[tokio::test]
async fn unknown_kid_after_the_interval_refetches_again() {
    let mut options = VerifierOptions::default();
    options.min_refetch_interval = Duration::ZERO;
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, options);
    v.verify(&dev.mint_email("a@example.com")).await.unwrap();
    dev.rotate().unwrap();
    let token = dev.mint_email("a@example.com");
    expect_error(v.verify(&token).await, ErrorKind::Unauthenticated, "no key");
    assert_eq!(keys.fetches(&jwks()), 2);
    // The source catches up; the next attempt fetches and succeeds.
    keys.serve_issuer(ISSUER, &dev.jwks());
    v.verify(&token).await.unwrap();
    assert_eq!(keys.fetches(&jwks()), 3);
}

#[tokio::test]
async fn an_issuer_without_documents_is_unavailable() {
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, VerifierOptions::default());
    keys.remove(&discovery()).unwrap();
    let e = expect_error(
        v.verify(&dev.mint_email("a@example.com")).await,
        ErrorKind::IdpUnavailable,
        "discovery document answered HTTP 404",
    );
    assert!(matches!(e, OidcError::IdpUnavailable { .. }), "{e:?}");
    assert_eq!(keys.fetches(&jwks()), 0);
}

#[tokio::test]
async fn discovery_must_name_the_issuer() {
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, VerifierOptions::default());
    let doc = serde_json::json!({ "issuer": "https://other.example", "jwks_uri": jwks() });
    keys.insert(
        &discovery(),
        Fetched::new(doc.to_string().into_bytes(), None),
    );
    let e = expect_error(
        v.verify(&dev.mint_email("a@example.com")).await,
        ErrorKind::Unauthenticated,
        "names issuer",
    );
    assert!(
        matches!(e, OidcError::DiscoveryIssuerMismatch { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn oversized_documents_are_refused() {
    let mut options = VerifierOptions::default();
    options.max_document_bytes = 200;
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, options);
    let e = expect_error(
        v.verify(&dev.mint_email("a@example.com")).await,
        ErrorKind::IdpUnavailable,
        "larger than 200 bytes",
    );
    match e {
        OidcError::IdpUnavailable { cause, url, .. } => {
            assert!(matches!(*cause, FetchError::TooLarge { limit: 200, .. }));
            assert_eq!(url, jwks());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(keys.fetches(&jwks()), 1);
}

#[tokio::test]
async fn expired_keys_are_refreshed_with_the_source_lifetime() {
    let mut options = VerifierOptions::default();
    options.jwks_min_ttl = Duration::ZERO;
    let (dev, keys, v) = setup(DevAlgorithm::Rs256, options);
    // The source says the keys may not be cached: every token fetches them again.
    keys.insert(
        &jwks(),
        Fetched::new(dev.jwks().to_string().into_bytes(), Some(Duration::ZERO)),
    );
    v.verify(&dev.mint_email("a@example.com")).await.unwrap();
    v.verify(&dev.mint_email("b@example.com")).await.unwrap();
    assert_eq!(keys.fetches(&jwks()), 2);
}
