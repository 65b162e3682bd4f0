//! Negative paths: each asserts the variant, the HTTP status and a message naming the problem.

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::error::{ClaimProblem, EmailVerified, MalformedToken, SubjectRejection};
use hallmark_oidc::{OidcError, UnixTime};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn time_claims() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let email = |extra: serde_json::Value| {
        let mut c = DevIssuer::email_claims("alice@example.com");
        for (k, val) in extra.as_object().unwrap() {
            c[k] = val.clone();
        }
        idp.dev.mint(c)
    };
    let t = now();

    let exp = t - 3600;
    let e = expect_error(
        v.verify(&email(
            json!({"exp": exp, "iat": t - 4000, "nbf": t - 4000}),
        ))
        .await,
        ErrorKind::Unauthenticated,
        &format!("token expired at {}", UnixTime(exp)),
    );
    assert!(matches!(e, OidcError::Expired { exp: UnixTime(x) } if x == exp));

    // Within the 60 s leeway is fine.
    v.verify(&email(json!({"exp": t - 30}))).await.unwrap();

    let nbf = t + 3600;
    let e = expect_error(
        v.verify(&email(json!({"nbf": nbf, "exp": t + 7200}))).await,
        ErrorKind::Unauthenticated,
        &format!("not valid before {}", UnixTime(nbf)),
    );
    assert!(matches!(e, OidcError::NotYetValid { .. }));

    let iat = t + 3600;
    let e = expect_error(
        v.verify(&email(json!({"iat": iat, "exp": t + 7200}))).await,
        ErrorKind::Unauthenticated,
        &format!("issued in the future, at {}", UnixTime(iat)),
    );
    assert!(matches!(e, OidcError::IssuedInFuture { .. }));

    let e = expect_error(
        v.verify(&email(json!({"exp": null}))).await,
        ErrorKind::Unauthenticated,
        "\"exp\"",
    );
    assert!(matches!(e, OidcError::MissingClaim { .. }));
    let e = expect_error(
        v.verify(&email(json!({"exp": "tomorrow"}))).await,
        ErrorKind::Unauthenticated,
        "\"exp\"",
    );
    assert!(matches!(e, OidcError::InvalidClaim { .. }));
}

#[tokio::test]
async fn audience() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let mint = |aud: serde_json::Value| {
        let mut c = DevIssuer::email_claims("alice@example.com");
        c["aud"] = aud;
        idp.dev.mint(c)
    };
    let e = expect_error(
        v.verify(&mint(json!("foo"))).await,
        ErrorKind::Unauthenticated,
        r#"audience ["foo"] does not include "sigstore""#,
    );
    assert!(
        matches!(e, OidcError::WrongAudience { ref audience, ref expected }
        if audience == &["foo"] && expected == "sigstore")
    );
    expect_error(
        v.verify(&mint(json!(["api", "vault"]))).await,
        ErrorKind::Unauthenticated,
        r#"audience ["api", "vault"] does not include "sigstore""#,
    );
    let e = expect_error(
        v.verify(&mint(json!(null))).await,
        ErrorKind::Unauthenticated,
        "\"aud\"",
    );
    assert!(matches!(e, OidcError::MissingClaim { ref claim } if claim == "aud"));
}

#[tokio::test]
async fn issuers() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");

    // Not configured: 403, and the IdP named in the token is never contacted.
    let other = DevIssuer::new("https://idp.attacker.example", DevAlgorithm::Rs256).unwrap();
    let e = expect_error(
        v.verify(&other.mint_email("alice@example.com")).await,
        ErrorKind::IssuerNotAllowed,
        "\"https://idp.attacker.example\" is not allowed",
    );
    assert!(matches!(e, OidcError::IssuerNotAllowed { .. }));
    let trailing = idp.dev.mint(json!({"iss": format!("{}/", idp.url())}));
    expect_error(
        v.verify(&trailing).await,
        ErrorKind::IssuerNotAllowed,
        "not allowed",
    );
    assert_eq!(idp.dev.discovery_requests(), 0);

    // The token's iss is configured, but the discovery document there names another issuer.
    let (l, addr) = listener().await;
    let served_as = format!("http://{addr}");
    let liar = DevIssuer::new(format!("{served_as}/elsewhere"), DevAlgorithm::Rs256).unwrap();
    serve(l, liar.router());
    let v = verifier_for(&served_as, "email", "");
    let mut claims = DevIssuer::email_claims("alice@example.com");
    claims["iss"] = json!(served_as);
    let e = expect_error(
        v.verify(&liar.mint(claims)).await,
        ErrorKind::Unauthenticated,
        &format!("names issuer \"{served_as}/elsewhere\""),
    );
    assert!(matches!(e, OidcError::DiscoveryIssuerMismatch { .. }));
    assert_eq!(
        liar.jwks_requests(),
        0,
        "keys are not fetched from an issuer that disowns the URL"
    );
}

#[tokio::test]
async fn signatures_and_algorithms() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let claims = serde_json::Value::Object(idp.dev.default_claims());
    let mut claims = claims;
    claims["email"] = json!("alice@example.com");
    claims["email_verified"] = json!(true);
    let kid = idp.dev.kid();
    v.verify(&idp.dev.mint(claims.clone())).await.unwrap();

    // Another key, same kid: the signature does not verify.
    let impostor = DevIssuer::new(idp.url(), DevAlgorithm::Rs256).unwrap();
    let forged = impostor.sign_raw(&json!({"alg": "RS256", "kid": kid}), &claims);
    let e = expect_error(
        v.verify(&forged).await,
        ErrorKind::Unauthenticated,
        "signature does not verify",
    );
    assert!(matches!(e, OidcError::BadSignature { .. }));

    // A tampered payload under a genuine signature.
    let genuine = idp.dev.mint(claims.clone());
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut evil = claims.clone();
    evil["email"] = json!("mallory@example.com");
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil.to_string()), parts[2]);
    expect_error(
        v.verify(&tampered).await,
        ErrorKind::Unauthenticated,
        "signature does not verify",
    );

    // alg: none, with and without a signature.
    let none_header = b64(&json!({"alg": "none", "kid": kid}).to_string());
    let payload = b64(&claims.to_string());
    for token in [
        format!("{none_header}.{payload}."),
        format!("{none_header}.{payload}.{}", parts[2]),
    ] {
        let e = expect_error(
            v.verify(&token).await,
            ErrorKind::Unauthenticated,
            "\"none\" is not accepted",
        );
        assert!(matches!(e, OidcError::AlgorithmNotAllowed { .. }));
    }

    // HS256 with the issuer's public key as the HMAC secret (the classic key-confusion attack).
    let public_key = idp.dev.jwks().to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap();
    let e = expect_error(
        v.verify(&hs).await,
        ErrorKind::Unauthenticated,
        "\"HS256\" is not accepted",
    );
    assert!(matches!(e, OidcError::AlgorithmNotAllowed { .. }));

    // A header alg that differs from the JWK's (RS256), even when the signature itself is
    // valid for the header's algorithm under the same RSA key.
    for alg in ["RS512", "PS256", "ES256"] {
        let token = idp.dev.sign_raw(&json!({"alg": alg, "kid": kid}), &claims);
        let e = expect_error(
            v.verify(&token).await,
            ErrorKind::Unauthenticated,
            &format!("alg \"{alg}\""),
        );
        assert!(
            matches!(
                e,
                OidcError::AlgorithmMismatch {
                    key_alg: jsonwebtoken::Algorithm::RS256,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn email_rules() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let with = |k: &str, val: serde_json::Value| {
        let mut c = DevIssuer::email_claims("alice@example.com");
        c[k] = val;
        idp.dev.mint(c)
    };
    let e = expect_error(
        v.verify(&with("email_verified", json!(false))).await,
        ErrorKind::Unauthenticated,
        "email_verified is false",
    );
    assert!(matches!(
        e,
        OidcError::EmailNotVerified {
            found: EmailVerified::False,
            ..
        }
    ));
    let e = expect_error(
        v.verify(&with("email_verified", json!(null))).await,
        ErrorKind::Unauthenticated,
        "email_verified is missing",
    );
    assert!(matches!(
        e,
        OidcError::EmailNotVerified {
            found: EmailVerified::Missing,
            ..
        }
    ));
    expect_error(
        v.verify(&with("email_verified", json!("false"))).await,
        ErrorKind::Unauthenticated,
        "email_verified is false",
    );
    expect_error(
        v.verify(&with("email_verified", json!(1))).await,
        ErrorKind::Unauthenticated,
        "email_verified is 1",
    );
    let e = expect_error(
        v.verify(&with("email", json!(null))).await,
        ErrorKind::Unauthenticated,
        "no \"email\" claim",
    );
    assert!(matches!(e, OidcError::MissingClaim { .. }));
    expect_error(
        v.verify(&with("email", json!("not-an-address"))).await,
        ErrorKind::Unauthenticated,
        "not an email address",
    );
    expect_error(
        v.verify(&with("email", json!(["a@b.c"]))).await,
        ErrorKind::Unauthenticated,
        "expected a string",
    );

    // skip_email_verification turns the check off for IdPs that never send the claim.
    let lax = verifier_for(&idp.url(), "email", "skip_email_verification: true");
    lax.verify(&with("email_verified", json!(null)))
        .await
        .unwrap();
}

#[tokio::test]
async fn subject_rules() {
    let idp = rsa_idp().await;
    let sub = |s: &str| idp.dev.mint(json!({ "sub": s }));

    let username = verifier_for(&idp.url(), "username", "subject_domain: 127.0.0.1");
    let e = expect_error(
        username.verify(&sub("alice!evil.example")).await,
        ErrorKind::Unauthenticated,
        "may not contain '!'",
    );
    assert!(matches!(
        e,
        OidcError::SubjectNotAllowed {
            reason: SubjectRejection::ContainsBang,
            ..
        }
    ));
    expect_error(
        username.verify(&sub("alice@example.com")).await,
        ErrorKind::Unauthenticated,
        "email address",
    );
    expect_error(
        username.verify(&idp.dev.mint(json!({ "sub": null }))).await,
        ErrorKind::Unauthenticated,
        "no \"sub\" claim",
    );
    expect_error(
        username.verify(&sub("")).await,
        ErrorKind::Unauthenticated,
        "\"sub\" is invalid: empty",
    );

    let uri = verifier_for(&idp.url(), "uri", "subject_domain: http://127.0.0.1");
    let e = expect_error(
        uri.verify(&sub("http://evil.example/users/alice")).await,
        ErrorKind::Unauthenticated,
        "subject domain \"http://127.0.0.1\"",
    );
    assert!(matches!(
        e,
        OidcError::SubjectNotAllowed {
            reason: SubjectRejection::OutsideSubjectDomain { .. },
            ..
        }
    ));
    expect_error(
        uri.verify(&sub("https://127.0.0.1/users/alice")).await,
        ErrorKind::Unauthenticated,
        "subject domain",
    );
    expect_error(
        uri.verify(&sub("http://127.0.0.1.evil.example/a")).await,
        ErrorKind::Unauthenticated,
        "subject domain",
    );
    expect_error(
        uri.verify(&sub("not a uri")).await,
        ErrorKind::Unauthenticated,
        "not an absolute URI",
    );
    // Subjects another URI parser could read with another host, or that are not in normal
    // form, are refused even when the WHATWG parser sees the subject domain's host.
    for bad in [
        "http://127.0.0.1\\@evil.example/x",
        "http://127.0.0.1\\users\\alice",
        "http://alice@127.0.0.1/x",
        "http://alice:pw@127.0.0.1/x",
        "http://127.0.0.1/a/../users/alice",
        "HTTP://127.0.0.1/users/alice",
        "http://127.0.0.1:80/users/alice",
        "http://127.0.0.1",
    ] {
        let e = expect_error(
            uri.verify(&sub(bad)).await,
            ErrorKind::Unauthenticated,
            "not a normalised URI",
        );
        assert!(
            matches!(
                e,
                OidcError::InvalidClaim {
                    problem: ClaimProblem::NotNormalisedUri,
                    ..
                }
            ),
            "{bad}: {e}"
        );
    }

    let spiffe = verifier_for(&idp.url(), "spiffe", "spiffe_trust_domain: example.org");
    expect_error(
        spiffe.verify(&sub("spiffe://evil.org/ns/a")).await,
        ErrorKind::Unauthenticated,
        "trust domain \"example.org\"",
    );
    expect_error(
        spiffe.verify(&sub("spiffe://example.org/../x")).await,
        ErrorKind::Unauthenticated,
        "not a valid spiffe:// ID",
    );

    let k8s = verifier_for(&idp.url(), "kubernetes", "");
    let mut claims = DevIssuer::kubernetes_claims("build", "bot");
    claims["kubernetes.io"]["namespace"] = json!(null);
    expect_error(
        k8s.verify(&idp.dev.mint(claims)).await,
        ErrorKind::Unauthenticated,
        "kubernetes.io.namespace",
    );
    expect_error(
        k8s.verify(&idp.dev.mint_kubernetes("a/../b", "bot")).await,
        ErrorKind::Unauthenticated,
        "Kubernetes name",
    );
    expect_error(
        k8s.verify(&idp.dev.mint_email("x@example.com")).await,
        ErrorKind::Unauthenticated,
        "\"kubernetes.io\"",
    );
}

#[tokio::test]
async fn ci_claims() {
    let idp = rsa_idp().await;
    let gh = verifier_for(&idp.url(), "github-workflow", "");
    for claim in [
        "job_workflow_ref",
        "repository",
        "sha",
        "workflow_sha",
        "run_attempt",
        "repository_visibility",
    ] {
        let mut c = DevIssuer::github_claims("o/r", "refs/heads/main", "ci.yml");
        c.as_object_mut().unwrap().remove(claim);
        let e = expect_error(
            gh.verify(&idp.dev.mint(c)).await,
            ErrorKind::Unauthenticated,
            &format!("no \"{claim}\" claim"),
        );
        assert!(matches!(e, OidcError::MissingClaim { .. }));
    }
    let mut c = DevIssuer::github_claims("o/r", "refs/heads/main", "ci.yml");
    c["job_workflow_ref"] = json!("o/r/.github/workflows/x y.yml@refs/heads/main");
    expect_error(
        gh.verify(&idp.dev.mint(c)).await,
        ErrorKind::Unauthenticated,
        "printable ASCII",
    );

    let gl = verifier_for(&idp.url(), "gitlab-pipeline", "");
    let mut c = idp.dev.gitlab_claims("g/p", "main");
    c["ref_type"] = json!("commit");
    let e = expect_error(
        gl.verify(&idp.dev.mint(c)).await,
        ErrorKind::Unauthenticated,
        r#""commit" is not "branch" or "tag""#,
    );
    assert!(matches!(e, OidcError::InvalidClaim { .. }));
    let mut c = idp.dev.gitlab_claims("g/p", "main");
    c["project_path"] = json!({"nested": true});
    expect_error(
        gl.verify(&idp.dev.mint(c)).await,
        ErrorKind::Unauthenticated,
        "expected a string or an integer",
    );
}

#[tokio::test]
async fn malformed_tokens() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let good = idp.dev.mint_email("alice@example.com");
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        (String::new(), "token is empty"),
        (format!("{}.{}", parts[0], parts[1]), "found 2"),
        (format!("{good}.x"), "found 4"),
        (
            format!("{}.{}.{}", "a", parts[1], parts[2]),
            "header is not valid base64url",
        ),
        (
            format!("{}.{}.{}", parts[0], b64("not json"), parts[2]),
            "payload is not a valid JSON object",
        ),
        (
            format!("{}.{}.{}", b64("{\"alg\""), parts[1], parts[2]),
            "header is not a valid JSON object",
        ),
        (
            format!("{}.{}.{}", parts[0], b64("{\"sub\":\"x\"}"), parts[2]),
            "no string \"iss\"",
        ),
        (
            format!("{}.{}.{}", parts[0], parts[1], "a"),
            "signature is not valid base64url",
        ),
        (format!("Bearer {good}"), "not base64url or '.'"),
        (format!("{good}\n"), "not base64url or '.'"),
    ];
    for (token, needle) in cases {
        let e = expect_error(v.verify(&token).await, ErrorKind::Malformed, needle);
        assert!(matches!(e, OidcError::Malformed(_)), "{e:?}");
    }
    let e = expect_error(
        v.verify(&"a".repeat(16 * 1024 + 1)).await,
        ErrorKind::Malformed,
        "16385 bytes, over the 16384-byte limit",
    );
    assert!(matches!(
        e,
        OidcError::TokenTooLarge {
            size: 16385,
            max: 16384
        }
    ));
    assert!(matches!(
        v.verify("").await,
        Err(OidcError::Malformed(MalformedToken::Empty))
    ));
    assert_eq!(
        idp.dev.discovery_requests(),
        0,
        "malformed tokens never reach the IdP"
    );
}

/// Discovery and JWKS fetches follow redirects only within the origin first asked (scheme,
/// host and port): an issuer whose documents redirect to another port of the same host is
/// unavailable, not trusted through the other server.
#[tokio::test]
async fn redirects_leave_no_origin() {
    // The real documents and keys sit on one port; the issuer's own port only redirects there.
    let (front, front_addr) = listener().await;
    let (back, back_addr) = listener().await;
    let issuer = format!("http://{front_addr}");
    let dev = DevIssuer::new(issuer.clone(), DevAlgorithm::Es256).unwrap();
    serve(back, dev.router());
    let redirect = axum::Router::new().fallback(move |uri: axum::http::Uri| async move {
        axum::response::Redirect::temporary(&format!("http://{back_addr}{uri}"))
    });
    serve(front, redirect);
    let v = verifier_for(&issuer, "email", "");
    let token = dev.mint(DevIssuer::email_claims("alice@example.com"));
    let e = v.verify(&token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdpUnavailable, "{e}");
}
