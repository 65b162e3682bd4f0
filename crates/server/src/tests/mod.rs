//! In-process handler tests: the router over an [`AppState`] with in-memory keys
//! (`p256::ecdsa::SigningKey`) and stores (`hallmark_log::MemoryStore`), driven with
//! `tower::ServiceExt::oneshot`. Tokens are real ES256 JWTs, verified against a JWKS that a
//! small identity provider serves over HTTP on loopback. The HSM path (SoftHSM, the spawned
//! binary) is covered by `crates/cli/tests`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ca;
mod ct;
mod rekor;
mod rekor_v2;
mod service;
mod tsa;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hallmark_ca::{CaSubject, Issuance, IssuingKey as _};
use hallmark_keys::KeyError;
use hallmark_log::MemoryStore;
use hallmark_log::store::LogStore as _;
use metrics_exporter_prometheus::PrometheusHandle;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{Value, json};
use signature::Signer as _;
use spki::EncodePublicKey as _;
use tower::ServiceExt as _;
use x509_cert::Certificate;

use crate::ca_service::CaService;
use crate::state::{AppState, KeyCustody};
use crate::store::SharedStore;
use crate::{Settings, router};

/// The process-wide recorder, installed once for all tests (as the binary does at start-up);
/// every test's router renders through a clone of its handle.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .unwrap()
        })
        .clone()
}

/// Keys in memory; readiness follows a switch.
#[derive(Default)]
struct MemoryCustody {
    down: AtomicBool,
}

impl KeyCustody for MemoryCustody {
    fn health(&self) -> Result<(), KeyError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(KeyError::Pkcs11 {
                token: "secret-token".into(),
                function: "C_GetSessionInfo".into(),
                code: "CKR_DEVICE_REMOVED".into(),
            });
        }
        Ok(())
    }

    fn record_metrics(&self) {}
}

/// An OpenID provider on loopback: discovery and a JWKS with one ES256 key, served over HTTP.
pub(crate) struct Idp {
    pub(crate) issuer: String,
    key: SigningKey,
}

const KID: &str = "test-key-1";

impl Idp {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = hallmark_keys::generate_memory_p256().unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": KID,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, key }
    }

    /// A token for `email` with these claims changed (a `null` removes one).
    pub(crate) fn token_with(&self, email: &str, changes: Value) -> String {
        sign_jwt(&self.key, &self.claims(email, changes))
    }

    /// A valid token for `email`.
    pub(crate) fn token(&self, email: &str) -> String {
        self.token_with(email, json!({}))
    }

    /// The claims of a valid token for `email`, with `changes` merged over them.
    pub(crate) fn claims(&self, email: &str, changes: Value) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "iss": self.issuer, "aud": "sigstore", "sub": email, "email": email,
            "email_verified": true, "iat": now, "nbf": now, "exp": now + 600,
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }
}

/// An ES256 JWT of `claims`, signed by `key` under [`KID`].
pub(crate) fn sign_jwt(key: &SigningKey, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!(
        "{}.{}",
        part(&json!({"alg": "ES256", "kid": KID, "typ": "JWT"})),
        part(claims)
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// An in-memory CA: root and issuing CA valid for a year from `now`, behind a [`CaService`].
pub(crate) struct MemoryCa {
    pub(crate) service: CaService,
    pub(crate) issuing_key: Arc<hallmark_keys::MemoryKey<p256::NistP256>>,
    pub(crate) issuing_cert: Certificate,
    /// Issuing CA, then root.
    pub(crate) chain_der: Vec<Vec<u8>>,
}

/// A fresh [`MemoryCa`] whose log accepts only its own signers unless `accept_any_signer`.
pub(crate) fn memory_ca(now: SystemTime, accept_any_signer: bool) -> MemoryCa {
    let year = Duration::from_secs(365 * 86_400);
    let root_key = hallmark_keys::generate_memory_p256().unwrap();
    let issuing_key = Arc::new(hallmark_keys::generate_memory_p256().unwrap());
    let root = hallmark_ca::root_certificate(&root_key, &subject("root"), now, year).unwrap();
    let issuing_cert = hallmark_ca::intermediate_certificate(
        &root_key,
        &root,
        &issuing_key.public_key_der().unwrap(),
        &subject("issuing"),
        now,
        year,
    )
    .unwrap();
    let chain_pem = vec![
        hallmark_ca::certificate_pem(&issuing_cert).unwrap(),
        hallmark_ca::certificate_pem(&root).unwrap(),
    ];
    let chain_der = vec![
        hallmark_ca::certificate_der(&issuing_cert).unwrap(),
        hallmark_ca::certificate_der(&root).unwrap(),
    ];
    let service = CaService::new(
        chain_pem,
        Issuance::new(&issuing_cert, issuing_key.as_ref()).unwrap(),
        issuing_key.clone(),
        issuing_cert.clone(),
        accept_any_signer,
    );
    MemoryCa {
        service,
        issuing_key,
        issuing_cert,
        chain_der,
    }
}

/// A router over in-memory keys and stores, the certificates it issues from, and the IdP it
/// trusts.
pub(crate) struct Harness {
    pub(crate) app: Router,
    pub(crate) state: Arc<AppState>,
    pub(crate) idp: Idp,
    pub(crate) issuing_cert: Certificate,
    pub(crate) ct_key: SigningKey,
    pub(crate) log_key: SigningKey,
    pub(crate) log_v2_key: SigningKey,
    /// The v2 log's key when `log_v2.key_type` is `ed25519` (`log_v2_key` is then unused).
    pub(crate) log_v2_ed25519_key: hallmark_keys::MemoryEd25519Key,
    /// The timestamp authority's chain (leaf, root), key and signing gate.
    pub(crate) tsa: tsa::TsaParts,
    custody: Arc<MemoryCustody>,
}

/// Settings as the server would load them (development issuer on, so no issuers file is
/// needed), changed by `tweak`.
fn settings(tweak: impl FnOnce(&mut Settings)) -> Settings {
    let mut s =
        crate::config::load(None, |k| (k == "HALLMARK_DEV_OIDC").then(|| "true".into())).unwrap();
    tweak(&mut s);
    s
}

fn subject(cn: &str) -> CaSubject {
    CaSubject {
        organization: "Hallmark test".into(),
        common_name: cn.into(),
    }
}

impl Harness {
    /// The default configuration: only this CA's certificates may sign log entries.
    pub(crate) async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// With the settings changed by `tweak`.
    pub(crate) async fn with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::build(tweak, false).await
    }

    /// With the development issuer mounted at `/dev-oidc`.
    pub(crate) async fn with_dev_issuer() -> Self {
        Self::build(|_| {}, true).await
    }

    async fn build(tweak: impl FnOnce(&mut Settings), dev: bool) -> Self {
        let settings = settings(tweak);
        let idp = Idp::start().await;
        let MemoryCa {
            service: ca,
            issuing_cert,
            chain_der,
            ..
        } = memory_ca(
            SystemTime::now() - Duration::from_secs(60),
            settings.accept_any_signer,
        );
        let ct_key = hallmark_keys::generate_memory_p256().unwrap();
        let log_key = hallmark_keys::generate_memory_p256().unwrap();
        let ct = crate::logs::ct_log(
            SharedStore::new(MemoryStore::new()),
            ct_key.clone(),
            chain_der,
            &settings.public_host(),
        )
        .unwrap();
        let rekor = crate::logs::rekor_log(
            SharedStore::new(MemoryStore::new()),
            log_key.clone(),
            &settings,
        )
        .unwrap();
        let log_v2_key = hallmark_keys::generate_memory_p256().unwrap();
        let log_v2_ed25519_key = hallmark_keys::generate_memory_ed25519().unwrap();
        let rekor_v2 = settings.log_v2.enabled.then(|| {
            let store = SharedStore::new(MemoryStore::new());
            let log = match settings.log_v2.key_type {
                crate::config::LogV2KeyType::P256 => {
                    crate::logs::rekor_v2_log(store, log_v2_key.clone(), &settings)
                }
                crate::config::LogV2KeyType::Ed25519 => crate::logs::rekor_v2_log(
                    store,
                    hallmark_tlog::note::Ed25519NoteSigner(log_v2_ed25519_key.clone()),
                    &settings,
                ),
            };
            Arc::new(log.unwrap())
        });
        let config = hallmark_oidc::IssuerConfig::from_yaml(&format!(
            "issuers:\n  - url: {}\n    type: email\n",
            idp.issuer
        ))
        .unwrap();
        let custody = Arc::new(MemoryCustody::default());
        let dev_issuer = if dev {
            crate::dev::issuer(&settings).unwrap()
        } else {
            None
        };
        let tsa_harness = tsa::TsaParts::new(&settings);
        let state = Arc::new(AppState {
            tsa: Some(tsa_harness.tsa.clone()),
            reads: tokio::sync::Semaphore::new(settings.max_concurrent_reads),
            leadership: None,
            settings,
            custody: custody.clone(),
            ct: Arc::new(ct),
            rekor: Arc::new(rekor),
            rekor_v2,
            ca,
            verifier: hallmark_oidc::TokenVerifier::new(config).unwrap(),
            dev_issuer,
            root_key_reachable: false,
            metrics: metrics_handle(),
        });
        Self {
            app: router(state.clone()),
            state,
            idp,
            issuing_cert,
            ct_key,
            log_key,
            log_v2_key,
            log_v2_ed25519_key,
            tsa: tsa_harness,
            custody,
        }
    }

    /// Sends a request; returns status, headers and body.
    pub(crate) async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap();
        (status, headers, body)
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Bytes) {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// `GET path`, expecting JSON.
    pub(crate) async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.get(path).await;
        (status, json_of(&body))
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        self.send(
            Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    /// Asserts that `POST path` with `body` as `content_type` is a JSON 415.
    pub(crate) async fn assert_not_json(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) {
        let (status, answer) = self.post_as(path, content_type, body).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "must be JSON",
        );
    }

    /// `POST path` with this `Content-Type`, expecting a JSON answer.
    pub(crate) async fn post_as(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self
            .send(
                Request::post(path)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body.into())
                    .unwrap(),
            )
            .await;
        (status, json_of(&body))
    }

    /// `POST path` with a JSON value, expecting JSON.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> (StatusCode, HeaderMap, Value) {
        let (status, headers, body) = self.post(path, body.to_string()).await;
        (status, headers, json_of(&body))
    }

    /// A certificate for a fresh key, for `email`, through `POST /api/v2/signingCert`.
    pub(crate) async fn certificate(&self, email: &str) -> (SigningKey, String) {
        let key = hallmark_keys::generate_memory_p256().unwrap();
        let (status, _, body) = self
            .post_json(
                "/api/v2/signingCert",
                &public_key_request(&key, &self.idp.token(email), email),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let leaf = body["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
            .as_str()
            .unwrap()
            .to_owned();
        (key, leaf)
    }
}

/// A body's JSON.
pub(crate) fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// Asserts a JSON error answer: its status, the same `code` in the body, and a message
/// containing `needle`.
#[track_caller]
pub(crate) fn assert_error(status: StatusCode, body: &Value, want: StatusCode, needle: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"], want.as_u16(), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

/// The `publicKeyRequest` form: `key`'s PEM and its signature over `challenge`.
pub(crate) fn public_key_request(key: &SigningKey, token: &str, challenge: &str) -> Value {
    let pem = key
        .verifying_key()
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .unwrap();
    let proof: DerSignature = key.sign(challenge.as_bytes());
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem},
            "proofOfPossession": STANDARD.encode(proof.as_bytes()),
        },
    })
}
