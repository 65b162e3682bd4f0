//! A development OIDC issuer: an in-memory signing key, an axum [`Router`] serving OIDC discovery
//! and the JWKS, and helpers that mint realistic ID tokens (email, GitHub Actions, GitLab CI,
//! Kubernetes), and an interactive login that completes without a person
//! ([`DevIssuer::router_with_login`], for testing clients' authorization-code flow).
//!
//! **Development and tests only.** Anyone who can reach [`DevIssuer::router_with_token_endpoint`]
//! can mint any identity this issuer is trusted for. A server should mount it only when the
//! operator explicitly enables the dev issuer, and say so loudly in its logs. Hallmark's server
//! has it only in builds with its `dev-oidc` cargo feature (tests and `scripts/run.sh`), so a
//! production build cannot switch it on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let issuer = DevIssuer::new(format!("http://{}", listener.local_addr()?), DevAlgorithm::Rs256)?;
//! let app = issuer.router();
//! tokio::spawn(async move { axum::serve(listener, app).await });
//! let token = issuer.mint_email("alice@example.com");
//! # let _ = token; Ok(()) }
//! ```

#![warn(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RsaKeyPair,
    RsaPublicKeyComponents,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use hallmark_oidc::UnixTime;
use hallmark_oidc::config::DEFAULT_AUDIENCE;

mod login;

pub use login::{AUTHORIZE_PATH, DevLogin, OAUTH_TOKEN_PATH};

/// Lifetime of minted tokens, like the 10-minute tokens CI systems issue.
pub const TOKEN_LIFETIME_SECS: u64 = 600;

/// The signing algorithm of a [`DevIssuer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevAlgorithm {
    /// RSA-2048 with PKCS#1 v1.5 and SHA-256, what most IdPs (GitHub, GitLab, Kubernetes) use.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl DevAlgorithm {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// The crypto library could not generate a key.
#[derive(Debug, thiserror::Error)]
#[error("generating a {algorithm:?} signing key failed")]
pub struct KeyGenerationFailed {
    /// The algorithm asked for.
    pub algorithm: DevAlgorithm,
}

/// A development OIDC issuer. Cheap to clone; clones share keys and request counters.
#[derive(Clone, Debug)]
pub struct DevIssuer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    algorithm: DevAlgorithm,
    keys: RwLock<Keys>,
    discovery_requests: AtomicU64,
    jwks_requests: AtomicU64,
    token_requests: AtomicU64,
}

#[derive(Debug)]
struct Keys {
    current: Arc<DevKey>,
    /// Still published after [`DevIssuer::rotate_keeping_previous`].
    previous: Option<Arc<DevKey>>,
}

#[derive(Debug)]
struct DevKey {
    kid: String,
    material: Material,
    jwk: Value,
}

#[derive(Debug)]
enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl DevKey {
    fn generate(algorithm: DevAlgorithm) -> Result<Self, KeyGenerationFailed> {
        let failed = |_| KeyGenerationFailed { algorithm };
        let (material, mut jwk) = match algorithm {
            DevAlgorithm::Rs256 => {
                let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
                // RFC 7638 member order: e, kty, n.
                let jwk = json!({
                    "e": URL_SAFE_NO_PAD.encode(&c.e),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&c.n),
                });
                (Material::Rsa(key), jwk)
            }
            DevAlgorithm::Es256 => {
                let key =
                    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
                let point = key.public_key().as_ref();
                let (x, y) = point
                    .get(1..)
                    .unwrap_or(&[])
                    .split_at(point.len().saturating_sub(1) / 2);
                // RFC 7638 member order: crv, kty, x, y.
                let jwk = json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                });
                (Material::Ec(key), jwk)
            }
        };
        // The kid is the RFC 7638 thumbprint: serde_json writes the members above in order
        // without whitespace, which is the canonical form.
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, jwk.to_string().as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), kid.clone().into());
            m.insert("alg".into(), algorithm.name().into());
            m.insert("use".into(), "sig".into());
        }
        Ok(Self { kid, material, jwk })
    }

    /// Signs with the header's `alg` when the key can make that signature (RS*/PS* for RSA,
    /// ES256 for P-256), else with the key's own algorithm, so tests can forge mismatches.
    fn sign(&self, header_alg: Option<&str>, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(key) => {
                let padding: &'static dyn sig::RsaEncoding = match header_alg {
                    Some("RS384") => &sig::RSA_PKCS1_SHA384,
                    Some("RS512") => &sig::RSA_PKCS1_SHA512,
                    Some("PS256") => &sig::RSA_PSS_SHA256,
                    Some("PS384") => &sig::RSA_PSS_SHA384,
                    Some("PS512") => &sig::RSA_PSS_SHA512,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; key.public_modulus_len()];
                // Cannot fail: the key was generated by aws-lc and the buffer has the modulus
                // length; aws-lc reports errors here only for a wrong buffer size or a broken key.
                #[allow(clippy::expect_used)]
                key.sign(padding, &rng, message, &mut out)
                    .expect("RSA signing with a generated key");
                out
            }
            Material::Ec(key) => {
                // Cannot fail for a generated P-256 key (aws-lc errors only on internal failure).
                #[allow(clippy::expect_used)]
                let s = key
                    .sign(&rng, message)
                    .expect("ECDSA signing with a generated key");
                s.as_ref().to_vec()
            }
        }
    }
}

impl DevIssuer {
    /// An issuer whose `iss` (and discovery base URL) is `issuer`, e.g. `http://127.0.0.1:8080`.
    /// Serve [`Self::router`] at that URL (nest it under the URL's path if it has one).
    pub fn new(
        issuer: impl Into<String>,
        algorithm: DevAlgorithm,
    ) -> Result<Self, KeyGenerationFailed> {
        let current = Arc::new(DevKey::generate(algorithm)?);
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: issuer.into(),
                algorithm,
                keys: RwLock::new(Keys {
                    current,
                    previous: None,
                }),
                discovery_requests: AtomicU64::new(0),
                jwks_requests: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
        })
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> DevAlgorithm {
        self.inner.algorithm
    }

    /// The current key's `kid` (its RFC 7638 thumbprint).
    pub fn kid(&self) -> String {
        self.current().kid.clone()
    }

    fn current(&self) -> Arc<DevKey> {
        Arc::clone(
            &self
                .inner
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .current,
        )
    }

    /// Replaces the signing key with a new one (new `kid`); the JWKS then serves only the new key.
    pub fn rotate(&self) -> Result<String, KeyGenerationFailed> {
        self.rotate_inner(false)
    }

    /// Like [`Self::rotate`], but the JWKS keeps serving the previous key too.
    pub fn rotate_keeping_previous(&self) -> Result<String, KeyGenerationFailed> {
        self.rotate_inner(true)
    }

    fn rotate_inner(&self, keep: bool) -> Result<String, KeyGenerationFailed> {
        let new = Arc::new(DevKey::generate(self.inner.algorithm)?);
        let kid = new.kid.clone();
        let mut keys = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut keys.current, new);
        keys.previous = keep.then_some(old);
        Ok(kid)
    }

    /// The JWK Set this issuer publishes.
    pub fn jwks(&self) -> Value {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut list = vec![keys.current.jwk.clone()];
        list.extend(keys.previous.as_ref().map(|k| k.jwk.clone()));
        json!({ "keys": list })
    }

    /// The OIDC discovery document this issuer publishes.
    pub fn discovery_document(&self) -> Value {
        let base = self.inner.issuer.trim_end_matches('/');
        json!({
            "issuer": self.inner.issuer,
            "jwks_uri": format!("{base}/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.inner.algorithm.name()],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "email", "email_verified"],
        })
    }

    /// `GET /.well-known/openid-configuration` and `GET /jwks`.
    pub fn router(&self) -> Router {
        self.build_router(false)
    }

    /// [`Self::router`] plus `POST /token`: a JSON object of claims, merged over the defaults
    /// (a `null` removes a default), answered with `{"access_token": "<JWT>", ...}`.
    ///
    /// **Development only:** this endpoint hands out tokens for any identity to anyone who can
    /// reach it.
    pub fn router_with_token_endpoint(&self) -> Router {
        self.build_router(true)
    }

    fn build_router(&self, token_endpoint: bool) -> Router {
        let mut router = Router::new()
            .route("/.well-known/openid-configuration", get(serve_discovery))
            .route("/jwks", get(serve_jwks));
        if token_endpoint {
            router = router.route("/token", post(serve_token));
        }
        router.with_state(self.clone())
    }

    /// Requests served to `/.well-known/openid-configuration` so far.
    pub fn discovery_requests(&self) -> u64 {
        self.inner.discovery_requests.load(Ordering::SeqCst)
    }

    /// Requests served to `/jwks` so far.
    pub fn jwks_requests(&self) -> u64 {
        self.inner.jwks_requests.load(Ordering::SeqCst)
    }

    /// Requests served to `/token`, and to `/oauth2/token` of [`Self::router_with_login`], so far.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// The claims every minted token starts from: `iss`, `aud` = `sigstore`, `sub`, and
    /// `iat` = `nbf` = now, `exp` = now + 10 min.
    pub fn default_claims(&self) -> Map<String, Value> {
        let now = UnixTime::now().0;
        let mut m = Map::new();
        m.insert("iss".into(), self.inner.issuer.clone().into());
        m.insert("aud".into(), DEFAULT_AUDIENCE.into());
        m.insert("sub".into(), "dev-subject".into());
        m.insert("iat".into(), now.into());
        m.insert("nbf".into(), now.into());
        m.insert("exp".into(), (now + TOKEN_LIFETIME_SECS).into());
        m
    }

    /// Mints a token. An object is merged over [`Self::default_claims`] (a `null` value
    /// removes that claim); any other JSON value becomes the payload as it is.
    pub fn mint(&self, claims: Value) -> String {
        let payload = match claims {
            Value::Object(overrides) => {
                let mut m = self.default_claims();
                for (k, v) in overrides {
                    if v.is_null() {
                        m.remove(&k);
                    } else {
                        m.insert(k, v);
                    }
                }
                Value::Object(m)
            }
            other => other,
        };
        let key = self.current();
        let header = json!({ "alg": self.inner.algorithm.name(), "kid": key.kid, "typ": "JWT" });
        sign_with(&key, &header, &payload)
    }

    /// Signs exactly `header` and `claims` with the current key (no defaults): for tests that
    /// need odd headers. The signature uses the header's `alg` when the key can produce it.
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        sign_with(&self.current(), header, claims)
    }

    /// Claims of a person at an email IdP (Dex-like): `sub`, `email`, `email_verified: true`.
    pub fn email_claims(email: &str) -> Value {
        json!({
            "sub": format!("Cg{}", URL_SAFE_NO_PAD.encode(email)),
            "email": email,
            "email_verified": true,
            "name": email.split('@').next().unwrap_or(email),
        })
    }

    /// Mints [`Self::email_claims`].
    pub fn mint_email(&self, email: &str) -> String {
        self.mint(Self::email_claims(email))
    }

    /// Claims of a projected Kubernetes service-account token (audience as a list, as the
    /// kubelet writes it).
    pub fn kubernetes_claims(namespace: &str, service_account: &str) -> Value {
        json!({
            "aud": [DEFAULT_AUDIENCE],
            "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
            "jti": "0b9e6a3e-5a44-4c2f-9d2e-6f1f0f3c2a10",
            "kubernetes.io": {
                "namespace": namespace,
                "node": { "name": "worker-1", "uid": "6f0d1c2b-8a39-4c9e-9a51-7f3e2b1d0c4a" },
                "pod": { "name": format!("{service_account}-7d9f8c6b5-x2x7q"), "uid": "49ad3572-b3dd-43a6-8d77-5858d3660275" },
                "serviceaccount": { "name": service_account, "uid": "f5720c1d-e152-4356-a897-11b07aff165d" },
            },
        })
    }

    /// Mints [`Self::kubernetes_claims`].
    pub fn mint_kubernetes(&self, namespace: &str, service_account: &str) -> String {
        self.mint(Self::kubernetes_claims(namespace, service_account))
    }

    /// Claims shaped like a GitHub Actions ID token for a push to `git_ref` of `repository`
    /// (`owner/name`) running `.github/workflows/<workflow_file>`.
    pub fn github_claims(repository: &str, git_ref: &str, workflow_file: &str) -> Value {
        let owner = repository.split('/').next().unwrap_or(repository);
        let workflow_ref = format!("{repository}/.github/workflows/{workflow_file}@{git_ref}");
        let sha = "3f786850e387550fdab836ed7e6dc881de23001b";
        json!({
            "jti": "8ea8373e-0f3d-4e4c-8cd4-1f2a3c9b5e77",
            "sub": format!("repo:{repository}:ref:{git_ref}"),
            "ref": git_ref,
            "sha": sha,
            "repository": repository,
            "repository_owner": owner,
            "repository_owner_id": "65",
            "repository_visibility": "private",
            "repository_id": "74",
            "user_id": "12",
            "actor_id": "12",
            "actor": "octocat",
            "run_id": "5110000000",
            "run_number": "10",
            "run_attempt": "2",
            "runner_environment": "github-hosted",
            "workflow": "Release",
            "head_ref": "",
            "base_ref": "",
            "event_name": "push",
            "ref_type": if git_ref.starts_with("refs/tags/") { "tag" } else { "branch" },
            "ref_protected": "true",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": sha,
        })
    }

    /// Mints [`Self::github_claims`].
    pub fn mint_github(&self, repository: &str, git_ref: &str, workflow_file: &str) -> String {
        self.mint(Self::github_claims(repository, git_ref, workflow_file))
    }

    /// Claims shaped like a GitLab CI ID token from this issuer acting as the GitLab server,
    /// for a branch pipeline of `project_path` (`group/project`) on `branch`.
    pub fn gitlab_claims(&self, project_path: &str, branch: &str) -> Value {
        let host = self
            .inner
            .issuer
            .split_once("://")
            .map_or(self.inner.issuer.as_str(), |(_, rest)| rest)
            .trim_end_matches('/');
        let namespace = project_path
            .rsplit_once('/')
            .map_or(project_path, |(ns, _)| ns);
        let sha = "714a629c0b401fdce83e847fc9589983fc6f46bc";
        json!({
            "namespace_id": "72",
            "namespace_path": namespace,
            "project_id": "20",
            "project_path": project_path,
            "user_id": "1",
            "user_login": "sample-user",
            "user_email": "sample-user@example.com",
            "user_access_level": "developer",
            "pipeline_id": "574",
            "pipeline_source": "push",
            "job_id": "302",
            "ref": branch,
            "ref_type": "branch",
            "ref_path": format!("refs/heads/{branch}"),
            "ref_protected": "true",
            "runner_id": 1,
            "runner_environment": "self-hosted",
            "sha": sha,
            "project_visibility": "internal",
            "ci_config_ref_uri": format!("{host}/{project_path}//.gitlab-ci.yml@refs/heads/{branch}"),
            "ci_config_sha": sha,
            "jti": "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
            "sub": format!("project_path:{project_path}:ref_type:branch:ref:{branch}"),
        })
    }

    /// Mints [`Self::gitlab_claims`].
    pub fn mint_gitlab(&self, project_path: &str, branch: &str) -> String {
        self.mint(self.gitlab_claims(project_path, branch))
    }
}

fn sign_with(key: &DevKey, header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let alg = header.get("alg").and_then(Value::as_str);
    let signature = key.sign(alg, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn serve_discovery(State(issuer): State<DevIssuer>) -> Response {
    issuer
        .inner
        .discovery_requests
        .fetch_add(1, Ordering::SeqCst);
    axum::Json(issuer.discovery_document()).into_response()
}

async fn serve_jwks(State(issuer): State<DevIssuer>) -> Response {
    issuer.inner.jwks_requests.fetch_add(1, Ordering::SeqCst);
    axum::Json(issuer.jwks()).into_response()
}

async fn serve_token(State(issuer): State<DevIssuer>, body: Bytes) -> Response {
    issuer.inner.token_requests.fetch_add(1, Ordering::SeqCst);
    let overrides = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let error = json!({ "error": "invalid_request", "error_description": "body must be a JSON object of claims" });
                return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
            }
        }
    };
    let token = issuer.mint(overrides);
    axum::Json(json!({
        "access_token": token,
        "id_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
    }))
    .into_response()
}
