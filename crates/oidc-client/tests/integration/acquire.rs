//! Identity-token acquisition from non-interactive sources, against local stand-ins of each CI
//! system's token source, with real tokens from a served `DevIssuer`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hallmark_dev_issuer::DevIssuer;
use hallmark_oidc::SubjectAltName;
use hallmark_oidc_client::{
    AcquireError, AcquireOptions, AcquiredToken, HttpFailure, IdentityToken, ServiceAccountToken,
    TokenSource, acquire_with_env,
};
use serde_json::json;

use crate::common::*;

const REQUEST_TOKEN: &str = "ghs_request-token-for-this-job";

/// An environment made of the given variables only.
struct Env(HashMap<String, String>);

impl Env {
    fn new(vars: &[(&str, &str)]) -> Self {
        Self(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn lookup(&self) -> impl Fn(&str) -> Option<String> + Sync + '_ {
        |name| self.0.get(name).cloned()
    }
}

/// Options that look at nothing on this machine: no Kubernetes file, no login.
fn options() -> AcquireOptions {
    let mut o = AcquireOptions::default();
    o.kubernetes = ServiceAccountToken::Disabled;
    o
}

async fn acquire(options: &AcquireOptions, env: &Env) -> Result<AcquiredToken, AcquireError> {
    acquire_with_env(options, &env.lookup()).await
}

/// How the GitHub stand-in answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Token,
    Status(StatusCode),
    NotJson,
    ValueNotString,
}

/// A stand-in for the GitHub Actions ID-token endpoint (`/idtoken?api-version=2.0`): it checks
/// the bearer request token and mints a GitHub-shaped token for the `audience` parameter.
struct GitHub {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
    url: String,
    requests: Arc<AtomicU64>,
}

#[derive(Clone)]
struct GitHubState {
    dev: DevIssuer,
    answer: Answer,
    requests: Arc<AtomicU64>,
}

async fn serve_github_token(
    State(s): State<GitHubState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {REQUEST_TOKEN}"))
    {
        return (StatusCode::UNAUTHORIZED, "bad request token").into_response();
    }
    if query.get("api-version").map(String::as_str) != Some("2.0") {
        return (StatusCode::BAD_REQUEST, "api-version missing").into_response();
    }
    let Some(audience) = query.get("audience") else {
        return (StatusCode::BAD_REQUEST, "audience missing").into_response();
    };
    match s.answer {
        Answer::Token => {
            let mut claims = DevIssuer::github_claims("octo/repo", "refs/heads/main", "r.yml");
            claims["aud"] = json!(audience);
            axum::Json(json!({"count": 1, "value": s.dev.mint(claims)})).into_response()
        }
        Answer::Status(status) => (status, "{\"message\":\"nope\"}").into_response(),
        Answer::NotJson => "<html>proxy error page</html>".into_response(),
        Answer::ValueNotString => axum::Json(json!({"value": 42})).into_response(),
    }
}

async fn github(dev: &DevIssuer, answer: Answer) -> GitHub {
    let (l, addr) = listener().await;
    let requests = Arc::new(AtomicU64::new(0));
    let state = GitHubState {
        dev: dev.clone(),
        answer,
        requests: Arc::clone(&requests),
    };
    serve(
        l,
        Router::new()
            .route("/idtoken", get(serve_github_token))
            .with_state(state),
    );
    GitHub {
        url: format!("http://{addr}/idtoken?api-version=2.0"),
        requests,
    }
}

fn github_env(gh: &GitHub, extra: &[(&str, &str)]) -> Env {
    let mut vars = vec![
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", gh.url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ];
    vars.extend_from_slice(extra);
    Env::new(&vars)
}

fn write_token(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[track_caller]
fn assert_message(e: &AcquireError, needles: &[&str]) {
    let text = e.to_string();
    for needle in needles {
        assert!(
            text.contains(needle),
            "{text:?} does not contain {needle:?}"
        );
    }
}

#[tokio::test]
async fn github_actions_token_verifies_at_the_ca() {
    let idp = rsa_idp().await;
    let gh = github(&idp.dev, Answer::Token).await;
    let got = acquire(&options(), &github_env(&gh, &[])).await.unwrap();
    assert_eq!(got.source, TokenSource::GitHubActions);
    assert_eq!(got.source.to_string(), "GitHub Actions");
    assert_eq!(got.claims.issuer, idp.url());
    assert_eq!(got.claims.subject, "repo:octo/repo:ref:refs/heads/main");
    assert_eq!(got.claims.audience, ["sigstore"]);
    assert!(got.claims.expires_at.0 > now());

    let id = verifier_for(&idp.url(), "github-workflow", "")
        .verify(got.token.secret())
        .await
        .unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri(
            "https://github.com/octo/repo/.github/workflows/r.yml@refs/heads/main".into()
        )
    );
}

#[tokio::test]
async fn github_audience_is_configurable_and_url_may_lack_a_query() {
    let idp = rsa_idp().await;
    let gh = github(&idp.dev, Answer::Token).await;
    let mut o = options();
    o.audience = "hallmark".into();
    let got = acquire(&o, &github_env(&gh, &[])).await.unwrap();
    assert_eq!(got.claims.audience, ["hallmark"]);

    // Without `?api-version=2.0` the stand-in refuses, proving the audience was appended with
    // `?` and reached it as a parameter of its own.
    let bare = gh.url.split('?').next().unwrap().to_owned();
    let env = Env::new(&[
        ("ACTIONS_ID_TOKEN_REQUEST_URL", &bare),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ]);
    let e = acquire(&o, &env).await.unwrap_err();
    assert!(
        matches!(
            e,
            AcquireError::GitHubRequest {
                failure: HttpFailure::Status { status: 400 }
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn github_failures_name_the_fix_and_hide_the_request_token() {
    let idp = rsa_idp().await;

    let gh = github(&idp.dev, Answer::Token).await;
    let env = Env::new(&[
        ("ACTIONS_ID_TOKEN_REQUEST_URL", gh.url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "stolen"),
    ]);
    let e = acquire(&options(), &env).await.unwrap_err();
    assert_message(&e, &["HTTP 401", "id-token: write"]);

    for (answer, needles) in [
        (
            Answer::Status(StatusCode::INTERNAL_SERVER_ERROR),
            &["GitHub Actions ID-token request failed: HTTP 500"][..],
        ),
        (Answer::NotJson, &["not JSON with a string \"value\""][..]),
        (
            Answer::ValueNotString,
            &["not JSON with a string \"value\""][..],
        ),
    ] {
        let gh = github(&idp.dev, answer).await;
        let e = acquire(&options(), &github_env(&gh, &[]))
            .await
            .unwrap_err();
        assert!(matches!(e, AcquireError::GitHubRequest { .. }), "{e:?}");
        assert_message(&e, needles);
        assert!(!format!("{e} {e:?}").contains(REQUEST_TOKEN), "{e:?}");
        assert_eq!(gh.requests.load(Ordering::SeqCst), 1);
    }

    // Nothing listening.
    let (l, addr) = listener().await;
    drop(l);
    let url = format!("http://{addr}/idtoken?api-version=2.0");
    let env = Env::new(&[
        ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ]);
    let e = acquire(&options(), &env).await.unwrap_err();
    assert!(
        matches!(
            e,
            AcquireError::GitHubRequest {
                failure: HttpFailure::Transport(_)
            }
        ),
        "{e}"
    );

    let env = Env::new(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "not a url")]);
    let e = acquire(&options(), &env).await.unwrap_err();
    assert_message(
        &e,
        &[
            "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not",
            "add `permissions: id-token: write` to the workflow",
        ],
    );
    let env = Env::new(&[
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "not a url"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ]);
    let e = acquire(&options(), &env).await.unwrap_err();
    assert!(matches!(e, AcquireError::GitHubBadUrl { .. }), "{e}");
    let env = Env::new(&[("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)]);
    let e = acquire(&options(), &env).await.unwrap_err();
    assert_message(
        &e,
        &["ACTIONS_ID_TOKEN_REQUEST_TOKEN is set but ACTIONS_ID_TOKEN_REQUEST_URL is not"],
    );
    assert!(!format!("{e:?}").contains(REQUEST_TOKEN));

    // In GitHub Actions without the permission: no interactive login, a fix instead.
    let env = Env::new(&[("GITHUB_ACTIONS", "true")]);
    let mut o = options();
    o.login = Some(hallmark_oidc_client::LoginOptions::new(
        "http://127.0.0.1:1",
    ));
    let e = acquire(&o, &env).await.unwrap_err();
    assert!(matches!(e, AcquireError::GitHubNoPermission), "{e}");
    assert_message(&e, &["permissions: id-token: write"]);

    // Any other CI (`CI` set): no interactive login either (nobody would finish it); a login
    // at an unreachable issuer would otherwise be the error.
    for ci in ["true", "1", "yes"] {
        let e = acquire(&o, &Env::new(&[("CI", ci)])).await.unwrap_err();
        assert!(matches!(e, AcquireError::CiNoToken { .. }), "{e}");
        assert_message(&e, &["looks like a CI job", "SIGSTORE_ID_TOKEN"]);
    }
    // `CI=false` is not CI: the login is tried (and fails to reach the issuer).
    let e = acquire(&o, &Env::new(&[("CI", "false")]))
        .await
        .unwrap_err();
    assert!(matches!(e, AcquireError::LoginDiscovery { .. }), "{e}");
}

#[tokio::test]
async fn sigstore_id_token_and_gitlab_variables() {
    let idp = rsa_idp().await;
    let token = idp.dev.mint_gitlab("group/project", "main");

    let got = acquire(&options(), &Env::new(&[("SIGSTORE_ID_TOKEN", &token)]))
        .await
        .unwrap();
    assert_eq!(
        got.source,
        TokenSource::EnvironmentVariable {
            name: "SIGSTORE_ID_TOKEN".into()
        }
    );
    assert_eq!(
        got.source.to_string(),
        "environment variable SIGSTORE_ID_TOKEN"
    );
    let id = verifier_for(&idp.url(), "gitlab-pipeline", "")
        .verify(got.token.secret())
        .await
        .unwrap();
    assert_eq!(
        id.subject,
        "project_path:group/project:ref_type:branch:ref:main"
    );

    // A configured variable (a GitLab `id_tokens` entry with another name) comes first...
    let mut o = options();
    o.token_variable = Some("HALLMARK_ID_TOKEN".into());
    let other = idp.dev.mint_email("first@example.com");
    let env = Env::new(&[("HALLMARK_ID_TOKEN", &other), ("SIGSTORE_ID_TOKEN", &token)]);
    let got = acquire(&o, &env).await.unwrap();
    assert_eq!(got.claims.email.as_deref(), Some("first@example.com"));
    // ...and must be set.
    let e = acquire(
        &o,
        &Env::new(&[("SIGSTORE_ID_TOKEN", &token), ("HALLMARK_ID_TOKEN", " ")]),
    )
    .await
    .unwrap_err();
    assert_message(
        &e,
        &[
            "environment variable HALLMARK_ID_TOKEN is not set or empty",
            "id_tokens: { HALLMARK_ID_TOKEN: { aud: sigstore } }",
        ],
    );

    // In GitLab CI with another audience, `<AUD>_ID_TOKEN` as sigstore-python names it.
    let mut o = options();
    o.audience = "hallmark.internal".into();
    let mut claims = idp.dev.gitlab_claims("group/project", "main");
    claims["aud"] = json!("hallmark.internal");
    let token = idp.dev.mint(claims);
    let env = Env::new(&[
        ("GITLAB_CI", "true"),
        ("HALLMARK_INTERNAL_ID_TOKEN", &token),
    ]);
    let got = acquire(&o, &env).await.unwrap();
    assert_eq!(
        got.source,
        TokenSource::EnvironmentVariable {
            name: "HALLMARK_INTERNAL_ID_TOKEN".into()
        }
    );

    // In GitLab CI without one: the fix, not an interactive login.
    let mut o = options();
    o.login = Some(hallmark_oidc_client::LoginOptions::new(
        "http://127.0.0.1:1",
    ));
    let e = acquire(&o, &Env::new(&[("GITLAB_CI", "true")]))
        .await
        .unwrap_err();
    assert_message(
        &e,
        &[
            "running in GitLab CI but SIGSTORE_ID_TOKEN is not set",
            "id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }",
        ],
    );
}

#[tokio::test]
async fn kubernetes_service_account_token() {
    let idp = rsa_idp().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_token(
        &dir,
        "sigstore",
        &format!("{}\n", idp.dev.mint_kubernetes("ci", "builder")),
    );

    let mut o = options();
    o.kubernetes = ServiceAccountToken::IfPresent(path.clone());
    let got = acquire(&o, &Env::new(&[])).await.unwrap();
    assert_eq!(got.source, TokenSource::Kubernetes { path: path.clone() });
    assert!(
        got.source
            .to_string()
            .starts_with("Kubernetes service-account token /")
    );
    let id = verifier_for(&idp.url(), "kubernetes", "")
        .verify(got.token.secret())
        .await
        .unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri("https://kubernetes.io/namespaces/ci/serviceaccounts/builder".into())
    );

    // A missing default file is skipped; a missing required one is an error.
    o.kubernetes = ServiceAccountToken::IfPresent(dir.path().join("absent"));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert!(matches!(e, AcquireError::NoToken { .. }), "{e}");
    assert_message(&e, &["no identity token found", "SIGSTORE_ID_TOKEN"]);
    o.kubernetes = ServiceAccountToken::Required(dir.path().join("absent"));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert!(matches!(e, AcquireError::FileNotFound { .. }), "{e}");
    assert_message(
        &e,
        &[
            "does not exist",
            "serviceAccountToken",
            "audience: sigstore",
        ],
    );

    // A token for another audience says how to fix the volume.
    let mut claims = DevIssuer::kubernetes_claims("ci", "builder");
    claims["aud"] = json!(["https://kubernetes.default.svc"]);
    let path = write_token(&dir, "api", &idp.dev.mint(claims));
    o.kubernetes = ServiceAccountToken::IfPresent(path);
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert_message(
        &e,
        &[
            "is for audience [\"https://kubernetes.default.svc\"], not \"sigstore\"",
            "set `audience: sigstore` on the projected serviceAccountToken volume source",
        ],
    );
}

#[tokio::test]
async fn explicit_tokens_and_files() {
    let idp = rsa_idp().await;
    let token = idp.dev.mint_email("alice@example.com");
    let dir = tempfile::tempdir().unwrap();

    let mut o = options();
    o.token = Some(IdentityToken::new(&token));
    let got = acquire(&o, &Env::new(&[])).await.unwrap();
    assert_eq!(got.source, TokenSource::Explicit);
    assert_eq!(got.claims.identity(), "alice@example.com");
    verifier_for(&idp.url(), "email", "")
        .verify(got.token.secret())
        .await
        .unwrap();

    let path = write_token(&dir, "token", &format!("  {token}\r\n"));
    let mut o = options();
    o.token_file = Some(path.clone());
    let got = acquire(&o, &Env::new(&[])).await.unwrap();
    assert_eq!(got.source, TokenSource::File { path: path.clone() });
    assert_eq!(got.token.secret(), token);

    o.token = Some(IdentityToken::new(&token));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert!(matches!(e, AcquireError::ConflictingExplicitTokens), "{e}");

    let mut o = options();
    o.token_file = Some(dir.path().join("absent"));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert!(matches!(e, AcquireError::FileNotFound { .. }), "{e}");
    o.token_file = Some(write_token(&dir, "empty", "\n"));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert_message(&e, &["is empty", "OIDC ID token (a JWT)"]);
    o.token_file = Some(dir.path().to_owned());
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert!(matches!(e, AcquireError::ReadFile { .. }), "{e}");
    o.token_file = Some(write_token(&dir, "garbage", "not-a-jwt"));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert_message(&e, &["is not a JWT", "expected 3 '.'-separated segments"]);
}

#[tokio::test]
async fn expired_tokens_are_refused_with_the_time_and_no_secret() {
    let idp = rsa_idp().await;
    let expired = idp
        .dev
        .mint(json!({"exp": 1_700_000_000, "iat": 1_699_999_400}));
    let mut o = options();
    o.token = Some(IdentityToken::new(&expired));
    let e = acquire(&o, &Env::new(&[])).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the identity token from the explicitly given token expired at 2023-11-14T22:13:20Z; \
         request a fresh one"
    );
    assert!(!format!("{e:?}").contains(&expired));
}

#[tokio::test]
async fn sources_are_tried_in_order() {
    let idp = rsa_idp().await;
    let gh = github(&idp.dev, Answer::Token).await;
    let dir = tempfile::tempdir().unwrap();
    let k8s = write_token(&dir, "sigstore", &idp.dev.mint_kubernetes("ci", "builder"));
    let env_token = idp.dev.mint_email("env@example.com");
    let explicit = idp.dev.mint_email("explicit@example.com");

    let mut o = options();
    o.kubernetes = ServiceAccountToken::IfPresent(k8s.clone());
    o.token = Some(IdentityToken::new(&explicit));
    let everything = github_env(&gh, &[("SIGSTORE_ID_TOKEN", &env_token)]);

    let got = acquire(&o, &everything).await.unwrap();
    assert_eq!(got.source, TokenSource::Explicit);

    o.token = None;
    let got = acquire(&o, &everything).await.unwrap();
    assert_eq!(got.claims.email.as_deref(), Some("env@example.com"));
    assert_eq!(gh.requests.load(Ordering::SeqCst), 0);

    let got = acquire(&o, &github_env(&gh, &[])).await.unwrap();
    assert_eq!(got.source, TokenSource::GitHubActions);
    assert_eq!(gh.requests.load(Ordering::SeqCst), 1);

    let got = acquire(&o, &Env::new(&[("GITHUB_ACTIONS", "true")]))
        .await
        .unwrap();
    assert_eq!(got.source, TokenSource::Kubernetes { path: k8s });

    // An empty variable counts as unset.
    let got = acquire(&o, &Env::new(&[("SIGSTORE_ID_TOKEN", "")]))
        .await
        .unwrap();
    assert!(matches!(got.source, TokenSource::Kubernetes { .. }));
}
