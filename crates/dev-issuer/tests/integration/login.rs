//! The development issuer's login endpoints, spoken to directly: PKCE is enforced, codes are
//! single-use and bound to their client and redirect URI, and only loopback redirects are made.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hallmark_dev_issuer::{DevAlgorithm, DevIssuer, DevLogin};
use hallmark_oidc::SubjectAltName;
use serde_json::Value;

use crate::common::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";

/// RFC 7636 appendix B: the S256 challenge of [`VERIFIER`].
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Login {
    dev: DevIssuer,
    http: reqwest::Client,
}

impl Login {
    async fn new() -> Self {
        Self::with(DevLogin::email("alice@example.com")).await
    }

    async fn with(login: DevLogin) -> Self {
        let (l, addr) = listener().await;
        let dev = DevIssuer::new(format!("http://{addr}"), DevAlgorithm::Rs256).unwrap();
        serve(l, dev.router_with_login_and_token_endpoint(login));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { dev, http }
    }

    /// Sends an authorization request and returns (status, Location query or JSON error).
    async fn authorize(&self, params: &[(&str, &str)]) -> (u16, HashMap<String, String>) {
        let mut url = url::Url::parse(&format!("{}/authorize", self.dev.issuer())).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        let response = self.http.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let map = match response.headers().get("location") {
            Some(location) => {
                let url = url::Url::parse(location.to_str().unwrap()).unwrap();
                assert_eq!(url.path(), "/auth/callback");
                url.query_pairs().into_owned().collect()
            }
            None => json_map(body_json(response).await),
        };
        (status, map)
    }

    /// A code for the standard request (client `sigstore`, [`CHALLENGE`], nonce `n-1`).
    async fn code(&self) -> String {
        let (status, q) = self.authorize(&standard()).await;
        assert_eq!(status, 303, "{q:?}");
        assert_eq!(q["state"], "st");
        q["code"].clone()
    }

    async fn exchange(
        &self,
        form: &[(&str, &str)],
        basic: Option<&str>,
    ) -> (u16, HashMap<String, String>) {
        let mut request = self
            .http
            .post(format!("{}/oauth2/token", self.dev.issuer()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        if let Some(credentials) = basic {
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, json_map(body_json(response).await))
    }
}

async fn body_json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn json_map(v: Value) -> HashMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect()
}

fn standard() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "sigstore"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn without(key: &str) -> Vec<(&'static str, &'static str)> {
    standard().into_iter().filter(|(k, _)| *k != key).collect()
}

fn with(key: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut params = without(key);
    params.push((key, value));
    params
}

fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "sigstore"),
        ("code_verifier", verifier),
    ]
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn code_and_verifier_buy_a_verifiable_id_token() {
    let login = Login::new().await;
    let code = login.code().await;
    let (status, answer) = login.exchange(&exchange_form(&code, VERIFIER), None).await;
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(answer["token_type"], "Bearer");
    let id_token = &answer["id_token"];
    let c = claims(id_token);
    assert_eq!(c["aud"], "sigstore");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["iss"], login.dev.issuer());
    let id = verifier_for(login.dev.issuer(), "email", "")
        .verify(id_token)
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));

    // Client authentication by HTTP Basic works too.
    let code = login.code().await;
    let form: Vec<_> = exchange_form(&code, VERIFIER)
        .into_iter()
        .filter(|(k, _)| *k != "client_id")
        .collect();
    let (status, answer) = login.exchange(&form, Some("sigstore:")).await;
    assert_eq!(status, 200, "{answer:?}");
}

#[tokio::test]
async fn pkce_is_checked_and_codes_are_single_use() {
    let login = Login::new().await;
    let code = login.code().await;
    let wrong = "x".repeat(43);
    let (status, answer) = login.exchange(&exchange_form(&code, &wrong), None).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_grant");
    assert!(answer["error_description"].contains("PKCE verification failed"));
    // The failed attempt used the code up.
    let (status, answer) = login.exchange(&exchange_form(&code, VERIFIER), None).await;
    assert_eq!(status, 400);
    assert!(
        answer["error_description"].contains("already used"),
        "{answer:?}"
    );

    let code = login.code().await;
    let (_, answer) = login.exchange(&exchange_form(&code, "short"), None).await;
    assert!(answer["error_description"].contains("code_verifier is required"));

    let code = login.code().await;
    let mut form = exchange_form(&code, VERIFIER);
    form[3] = ("client_id", "other-client");
    let (_, answer) = login.exchange(&form, None).await;
    assert!(
        answer["error_description"].contains("another client_id"),
        "{answer:?}"
    );

    let code = login.code().await;
    let mut form = exchange_form(&code, VERIFIER);
    form[2] = ("redirect_uri", "http://127.0.0.1:10/auth/callback");
    let (_, answer) = login.exchange(&form, None).await;
    assert!(answer["error_description"].contains("redirect_uri differs"));

    let (status, answer) = login
        .exchange(&[("grant_type", "password"), ("username", "u")], None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn authorization_requests_must_use_s256_pkce_and_loopback_redirects() {
    let login = Login::new().await;
    for (params, error) in [
        (without("code_challenge"), "invalid_request"),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (without("code_challenge_method"), "invalid_request"),
        (with("response_type", "token"), "unsupported_response_type"),
        (with("scope", "email"), "invalid_scope"),
        (without("client_id"), "invalid_request"),
    ] {
        let (status, q) = login.authorize(&params).await;
        assert_eq!(status, 303, "{params:?}");
        assert_eq!(q["error"], error, "{params:?}: {q:?}");
        assert_eq!(q["state"], "st");
        assert!(!q.contains_key("code"));
    }
    for redirect in [
        "https://attacker.example/cb",
        "http://10.0.0.1/cb",
        "not a url",
    ] {
        let (status, answer) = login.authorize(&with("redirect_uri", redirect)).await;
        assert_eq!(status, 400, "{redirect}");
        assert_eq!(answer["error"], "invalid_request");
    }
    let (status, _) = login.authorize(&without("redirect_uri")).await;
    assert_eq!(status, 400);
    for loopback in [
        "http://localhost:1/auth/callback",
        "http://[::1]:1/auth/callback",
    ] {
        let (status, q) = login.authorize(&with("redirect_uri", loopback)).await;
        assert_eq!(status, 303);
        assert!(q.contains_key("code"));
    }
}

#[tokio::test]
async fn discovery_names_the_login_endpoints_only_on_the_login_router() {
    let login = Login::new().await;
    let url = format!("{}/.well-known/openid-configuration", login.dev.issuer());
    let doc = body_json(login.http.get(url).send().await.unwrap()).await;
    let base = login.dev.issuer();
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(doc["code_challenge_methods_supported"][0], "S256");
    assert_eq!(doc["jwks_uri"], format!("{base}/jwks"));
    assert_eq!(login.dev.discovery_requests(), 1);

    // The plain router and the JSON minting router are unchanged.
    let plain = login.dev.discovery_document();
    assert!(plain.get("authorization_endpoint").is_none());
    assert_eq!(plain["response_types_supported"][0], "id_token");
    let idp = rsa_idp().await;
    let status = login
        .http
        .get(format!("{}/authorize", idp.url()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

/// The `value` of each hidden `<input>` of a form page, HTML entities decoded.
fn hidden_fields(page: &str) -> HashMap<String, String> {
    let unescape = |v: &str| {
        v.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    page.split("<input type=hidden ")
        .skip(1)
        .map(|tag| {
            let name = tag
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = tag
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (name.to_owned(), unescape(value))
        })
        .collect()
}

#[tokio::test]
async fn ask_mode_shows_a_form_and_logs_in_whoever_types_an_address() {
    let login = Login::with(DevLogin::ask()).await;
    // A state with markup in it comes back escaped in the form, and intact in the redirect.
    let state = "st\"><script>alert(1)</script>";
    let mut url = url::Url::parse(&format!("{}/authorize", login.dev.issuer())).unwrap();
    url.query_pairs_mut()
        .extend_pairs(
            with("state", "placeholder")
                .iter()
                .filter(|(k, _)| *k != "state"),
        )
        .append_pair("state", state);
    let response = login.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("name=email"), "{page}");
    assert!(!page.contains("<script>"), "unescaped markup in {page}");
    // The form carries only the id of the request kept at the issuer: nothing of the request
    // round-trips through the browser, so nothing of it can be tampered with.
    let mut fields = hidden_fields(&page);
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["request"], "{page}");

    let post = |fields: &HashMap<String, String>| {
        login
            .http
            .post(format!("{}/authorize", login.dev.issuer()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish(),
            )
            .send()
    };
    // Not an address: the form again, saying why, and no code.
    fields.insert("email".into(), "not an address".into());
    let response = post(&fields).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Type an email address")
    );

    // A request id the issuer does not hold: an error page saying what to do, no code.
    let mut forged = fields.clone();
    forged.insert("request".into(), "forged".into());
    forged.insert("email".into(), "bob@example.com".into());
    let response = post(&forged).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let text = response.text().await.unwrap();
    assert!(text.contains("expired or was already used"), "{text}");
    assert!(text.contains("run the hallmark command again"), "{text}");

    // An address: a page that says who logged in and moves on (meta refresh) to the validated
    // redirect URI with a code; no cross-origin redirect of the form's POST.
    fields.insert("email".into(), "bob@example.com".into());
    let response = post(&fields).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let text = response.text().await.unwrap();
    assert!(
        text.contains("Logged in as <strong>bob@example.com</strong>"),
        "{text}"
    );
    let target = text
        .split("content=\"0;url=")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&quot;", "\"");
    let location = url::Url::parse(&target).unwrap();
    assert_eq!(
        location.as_str().split('?').next(),
        Some(REDIRECT),
        "{location}"
    );
    let q: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], state);

    // The same form again (a replay, or the back button): the error page, no second code.
    let response = post(&fields).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );

    let (status, answer) = login
        .exchange(&exchange_form(&q["code"], VERIFIER), None)
        .await;
    assert_eq!(status, 200, "{answer:?}");
    let id = verifier_for(login.dev.issuer(), "email", "")
        .verify(&answer["id_token"])
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("bob@example.com".into()));
    assert_eq!(claims(&answer["id_token"])["nonce"], "n-1");

    // A person whose link is broken (no loopback redirect URI) gets a page saying what to do;
    // a program gets the OAuth JSON error (above).
    let response = login
        .http
        .get(format!(
            "{}/authorize?response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            login.dev.issuer()
        ))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("This login link is not valid"), "{text}");
    assert!(text.contains("only redirects to http loopback"), "{text}");

    // The JSON minting endpoint is mounted beside the login.
    let minted = login
        .http
        .post(format!("{}/token", login.dev.issuer()))
        .header("content-type", "application/json")
        .body(r#"{"email": "carol@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 200);
}
