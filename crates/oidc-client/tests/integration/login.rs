//! The interactive login end to end: `acquire` runs the authorization-code flow with PKCE against
//! a `DevIssuer` served over HTTP with `router_with_login`; the "browser" is an HTTP client that
//! follows the redirects, as a person already logged in at their IdP would see happen.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer, DevLogin};
use hallmark_oidc::SubjectAltName;
use hallmark_oidc_client::{
    AcquireError, AcquireOptions, AcquiredToken, HttpFailure, LoginOptions, LoginPrompt,
    ServiceAccountToken, TokenSource, acquire_with_env,
};
use serde_json::{Map, json};

use crate::common::*;

/// Pages the headless browser ended on: (status, body).
type Pages = Arc<Mutex<Vec<(u16, String)>>>;

/// A browser that visits the authorization URL (after first visiting `detour`, if given, with
/// the authorization URL) and follows every redirect.
fn browser_with(detour: Option<fn(&str) -> String>) -> (LoginPrompt, Pages) {
    let pages: Pages = Arc::default();
    let seen = Arc::clone(&pages);
    let prompt: LoginPrompt = Arc::new(move |url: &str| {
        let url = url.to_owned();
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut visits = vec![];
            if let Some(detour) = detour {
                visits.push(detour(&url));
            }
            visits.push(url);
            for visit in visits {
                let response = http.get(&visit).send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                seen.lock().unwrap().push((status, body));
            }
        });
    });
    (prompt, pages)
}

fn browser() -> (LoginPrompt, Pages) {
    browser_with(None)
}

/// The pages the "browser" has loaded once there are `n` of them (the last page of a login
/// answers only once the login ended, so it may arrive just after `acquire` returns).
async fn pages_seen(pages: &Pages, n: usize) -> Vec<(u16, String)> {
    for _ in 0..100 {
        if pages.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pages.lock().unwrap().clone()
}

/// A development issuer with the login endpoints, served on loopback.
async fn login_idp(alg: DevAlgorithm, login: DevLogin) -> DevIssuer {
    let (l, addr) = listener().await;
    let dev = DevIssuer::new(format!("http://{addr}"), alg).unwrap();
    serve(l, dev.router_with_login(login));
    dev
}

fn login_options(issuer: &str, prompt: LoginPrompt) -> AcquireOptions {
    let mut login = LoginOptions::new(issuer);
    login.prompt = prompt;
    login.timeout = Duration::from_secs(20);
    login.http_timeout = Duration::from_secs(5);
    let mut options = AcquireOptions::default();
    options.kubernetes = ServiceAccountToken::Disabled;
    options.login = Some(login);
    options
}

async fn acquire(options: &AcquireOptions) -> Result<AcquiredToken, AcquireError> {
    acquire_with_env(options, &|_: &str| None).await
}

#[tokio::test]
async fn interactive_login_yields_a_token_the_ca_accepts() {
    for alg in [DevAlgorithm::Rs256, DevAlgorithm::Es256] {
        let dev = login_idp(alg, DevLogin::email("alice@example.com")).await;
        let (prompt, pages) = browser();
        let got = acquire(&login_options(dev.issuer(), prompt)).await.unwrap();

        assert_eq!(
            got.source,
            TokenSource::Interactive {
                issuer: dev.issuer().to_owned()
            }
        );
        assert_eq!(
            got.source.to_string(),
            format!("interactive login at {}", dev.issuer())
        );
        assert_eq!(got.claims.identity(), "alice@example.com");
        assert_eq!(got.claims.audience, ["sigstore"]);
        let id = verifier_for(dev.issuer(), "email", "")
            .verify(got.token.secret())
            .await
            .unwrap();
        assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));

        let pages = pages_seen(&pages, 1).await;
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].0, 200);
        assert!(pages[0].1.contains("Login complete"), "{}", pages[0].1);
        // The page waited for the code exchange, so it says who is logged in.
        assert!(
            pages[0].1.contains("<strong>alice@example.com</strong>"),
            "{}",
            pages[0].1
        );
    }
}

#[tokio::test]
async fn refused_login_is_reported_with_the_issuers_reason() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::denied()).await;
    let (prompt, pages) = browser();
    let e = acquire(&login_options(dev.issuer(), prompt))
        .await
        .unwrap_err();
    match &e {
        AcquireError::LoginRefused { error, .. } => assert_eq!(error, "access_denied"),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .contains("the development login is set to refuse")
    );
    assert!(pages_seen(&pages, 1).await[0].1.contains("Login failed"));
}

#[tokio::test]
async fn a_login_nobody_finishes_times_out() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::email("a@example.com")).await;
    let shown: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&shown);
    let mut options = login_options(
        dev.issuer(),
        Arc::new(move |url: &str| record.lock().unwrap().push(url.to_owned())),
    );
    if let Some(login) = options.login.as_mut() {
        login.timeout = Duration::from_millis(300);
    }
    let e = acquire(&options).await.unwrap_err();
    assert!(matches!(e, AcquireError::LoginTimedOut { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("run again and finish the login in the browser")
    );

    // The URL shown is a complete authorization request.
    let url = url::Url::parse(&shown.lock().unwrap()[0]).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/authorize");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "sigstore");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(q["scope"].split(' ').any(|s| s == "email"));
    assert!(q["redirect_uri"].starts_with("http://localhost:"));
    assert!(q["redirect_uri"].ends_with("/auth/callback"));
    assert!(!q["state"].is_empty() && !q["nonce"].is_empty());
}

/// The redirect URI of an authorization URL, with a code and a state of someone else's login.
fn forged_callback(authorization_url: &str) -> String {
    let url = url::Url::parse(authorization_url).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    format!("{redirect}?code=attacker-code&state=not-the-state")
}

#[tokio::test]
async fn redirects_for_another_login_are_ignored() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::email("alice@example.com")).await;
    let (prompt, pages) = browser_with(Some(forged_callback));
    let got = acquire(&login_options(dev.issuer(), prompt)).await.unwrap();
    assert_eq!(got.claims.identity(), "alice@example.com");
    let pages = pages_seen(&pages, 2).await;
    assert_eq!(pages[0].0, 400);
    assert!(pages[0].1.contains("state mismatch"));
    assert_eq!(pages[1].0, 200);
}

#[tokio::test]
async fn the_id_token_is_verified_before_it_is_returned() {
    // An issuer that puts another audience in the ID token than the client id.
    let mut claims = Map::new();
    claims.insert("aud".into(), json!("someone-else"));
    claims.insert("email".into(), json!("alice@example.com"));
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::with_claims(claims)).await;
    let (prompt, _) = browser();
    let e = acquire(&login_options(dev.issuer(), prompt))
        .await
        .unwrap_err();
    assert!(matches!(e, AcquireError::LoginTokenRejected { .. }), "{e}");
    assert!(e.to_string().contains("does not verify"), "{e}");
}

#[tokio::test]
async fn client_id_is_the_audience() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::email("alice@example.com")).await;
    let (prompt, _) = browser();
    let mut options = login_options(dev.issuer(), prompt);
    if let Some(login) = options.login.as_mut() {
        login.client_id = "hallmark-cli".into();
        login.redirect_host = "127.0.0.1".into();
    }
    let got = acquire(&options).await.unwrap();
    assert_eq!(got.claims.audience, ["hallmark-cli"]);
}

#[tokio::test]
async fn issuers_that_cannot_log_in_are_named() {
    // The plain dev router publishes no authorization endpoint.
    let idp = rsa_idp().await;
    let (prompt, _) = browser();
    let e = acquire(&login_options(&idp.url(), prompt))
        .await
        .unwrap_err();
    match &e {
        AcquireError::LoginDiscovery {
            issuer,
            failure: HttpFailure::InvalidResponse { detail },
        } => {
            assert_eq!(issuer, &idp.url());
            assert!(detail.contains("authorization_endpoint"), "{detail}");
        }
        other => panic!("{other:?}"),
    }

    // Nothing listening.
    let (l, addr) = listener().await;
    drop(l);
    let (prompt, _) = browser();
    let e = acquire(&login_options(&format!("http://{addr}"), prompt))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AcquireError::LoginDiscovery {
                failure: HttpFailure::Transport(_),
                ..
            }
        ),
        "{e}"
    );

    let (prompt, _) = browser();
    let e = acquire(&login_options("not a url", prompt))
        .await
        .unwrap_err();
    assert!(matches!(e, AcquireError::LoginIssuerUrl { .. }), "{e}");
}

/// A device login: the options for `issuer` with `device` on and `on_code` called with what the
/// person is shown.
fn device_options(
    issuer: &str,
    on_code: impl Fn(hallmark_oidc_client::DeviceCode) + Send + Sync + 'static,
) -> AcquireOptions {
    let mut options = login_options(issuer, Arc::new(|_: &str| panic!("not a browser login")));
    let login = options.login.as_mut().unwrap();
    login.device = true;
    login.device_prompt = Arc::new(move |code| on_code(code.clone()));
    options
}

#[tokio::test]
async fn device_login_with_a_fixed_identity_needs_no_person() {
    let dev = login_idp(DevAlgorithm::Es256, DevLogin::email("alice@example.com")).await;
    let shown: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&shown);
    let got = acquire(&device_options(dev.issuer(), move |code| {
        record.lock().unwrap().push(code.user_code);
    }))
    .await
    .unwrap();
    assert_eq!(got.claims.identity(), "alice@example.com");
    let code = shown.lock().unwrap()[0].clone();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-", "{code}");
    let id = verifier_for(dev.issuer(), "email", "")
        .verify(got.token.secret())
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));
}

#[tokio::test]
async fn device_login_waits_for_the_person_to_enter_the_code() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::ask()).await;
    let issuer = dev.issuer().to_owned();
    let pages: Pages = Arc::default();
    let seen = Arc::clone(&pages);
    let options = device_options(dev.issuer(), move |code| {
        let (issuer, seen) = (issuer.clone(), Arc::clone(&seen));
        tokio::spawn(async move {
            // The person takes a moment: the client polls and hears authorization_pending.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let http = reqwest::Client::new();
            let form = |email: &str| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("user_code", &code.user_code.to_lowercase())
                    .append_pair("email", email)
                    .finish()
            };
            for (url, body) in [
                // The prefilled page, a wrong code, then the right one.
                (code.verification_uri_complete.clone().unwrap(), None),
                (
                    format!("{issuer}/device"),
                    Some("user_code=BBBB-BBBB&email=bob%40example.com".to_owned()),
                ),
                (format!("{issuer}/device"), Some(form("bob@example.com"))),
            ] {
                let response = match body {
                    None => http.get(&url).send().await.unwrap(),
                    Some(body) => http
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await
                        .unwrap(),
                };
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                seen.lock().unwrap().push((status, text));
            }
        });
    });
    let got = acquire(&options).await.unwrap();
    assert_eq!(got.claims.identity(), "bob@example.com");
    let pages = pages.lock().unwrap();
    assert!(
        pages[0].1.contains("name=user_code value=\""),
        "{}",
        pages[0].1
    );
    assert!(pages[1].1.contains("No login is waiting"), "{}", pages[1].1);
    assert!(pages[2].1.contains("Approved"), "{}", pages[2].1);
}

#[tokio::test]
async fn device_login_refused_or_unsupported_says_so() {
    let dev = login_idp(DevAlgorithm::Rs256, DevLogin::denied()).await;
    let e = acquire(&device_options(dev.issuer(), |_| {}))
        .await
        .unwrap_err();
    match &e {
        AcquireError::LoginRefused { error, .. } => assert_eq!(error, "access_denied"),
        other => panic!("{other:?}"),
    }

    // An issuer with a browser login but no device endpoint in its discovery document.
    let (l, addr) = listener().await;
    let plain = DevIssuer::new(format!("http://{addr}"), DevAlgorithm::Rs256).unwrap();
    let mut doc = plain.login_discovery_document();
    doc.as_object_mut()
        .unwrap()
        .remove("device_authorization_endpoint");
    let jwks = plain.jwks();
    serve(
        l,
        axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(doc) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            ),
    );
    let e = acquire(&device_options(plain.issuer(), |_| {}))
        .await
        .unwrap_err();
    assert!(matches!(e, AcquireError::NoDeviceLogin { .. }), "{e:?}");
    assert!(e.to_string().contains("offers no device login"), "{e}");
}
