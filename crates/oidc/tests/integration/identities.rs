//! Happy paths: every issuer type, realistic claim sets, exact SANs, challenges and extensions.

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::{CiExtensions, GithubV1Extensions, SubjectAltName};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn email_rs256_and_es256() {
    for alg in [DevAlgorithm::Rs256, DevAlgorithm::Es256] {
        let idp = idp(alg).await;
        let v = verifier_for(&idp.url(), "email", "");
        let id = v
            .verify(&idp.dev.mint_email("alice@example.com"))
            .await
            .unwrap();
        assert_eq!(id.issuer, idp.url());
        assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));
        assert_eq!(id.challenge, "alice@example.com");
        assert_eq!(
            id.subject,
            DevIssuer::email_claims("alice@example.com")["sub"]
        );
        assert_eq!(id.extensions, CiExtensions::default());
        assert_eq!(id.github_v1, None);
    }
}

#[tokio::test]
async fn email_with_federated_issuer_claim() {
    // Dex-style federation: the certificate names the upstream connector, as Fulcio's
    // IssuerClaim `$.federated_claims.connector_id` does for oauth2.sigstore.dev.
    let idp = rsa_idp().await;
    let v = verifier_for(
        &idp.url(),
        "email",
        "issuer_claim: $.federated_claims.connector_id",
    );
    let mut claims = DevIssuer::email_claims("bob@example.org");
    claims["federated_claims"] =
        json!({"connector_id": "https://github.com/login/oauth", "user_id": "1234"});
    let id = v.verify(&idp.dev.mint(claims)).await.unwrap();
    assert_eq!(id.issuer, "https://github.com/login/oauth");
    assert_eq!(id.san, SubjectAltName::Email("bob@example.org".into()));

    // The claim must be there.
    let e = expect_error(
        v.verify(&idp.dev.mint_email("bob@example.org")).await,
        ErrorKind::Unauthenticated,
        "federated_claims",
    );
    assert!(matches!(e, hallmark_oidc::OidcError::MissingClaim { .. }));
}

#[tokio::test]
async fn email_verified_as_string_true_is_accepted() {
    // Some IdPs (AWS Cognito) send booleans as strings; Fulcio accepts "true".
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "");
    let mut claims = DevIssuer::email_claims("carol@example.com");
    claims["email_verified"] = json!("true");
    v.verify(&idp.dev.mint(claims)).await.unwrap();
}

#[tokio::test]
async fn kubernetes_service_account() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "kubernetes", "");
    let token = idp.dev.mint_kubernetes("build", "release-bot");
    let id = v.verify(&token).await.unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri(
            "https://kubernetes.io/namespaces/build/serviceaccounts/release-bot".into()
        )
    );
    assert_eq!(id.challenge, "system:serviceaccount:build:release-bot");
    assert_eq!(id.subject, "system:serviceaccount:build:release-bot");
    assert_eq!(id.issuer, idp.url());
    assert_eq!(id.extensions, CiExtensions::default());
}

#[tokio::test]
async fn github_workflow_with_reusable_workflow() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "github-workflow", "");
    // A release of octo-org/octo-repo built by a reusable workflow in another repository,
    // deploying to the "production" environment.
    let mut claims =
        DevIssuer::github_claims("octo-org/octo-repo", "refs/tags/v1.2.3", "release.yml");
    claims["sub"] = json!("repo:octo-org/octo-repo:environment:production");
    claims["environment"] = json!("production");
    claims["job_workflow_ref"] =
        json!("octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main");
    claims["job_workflow_sha"] = json!("b1e2d3c4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0");
    claims["event_name"] = json!("release");
    claims["repository_visibility"] = json!("internal");
    let id = v.verify(&idp.dev.mint(claims)).await.unwrap();

    let signer =
        "https://github.com/octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main";
    assert_eq!(id.san, SubjectAltName::Uri(signer.into()));
    assert_eq!(
        id.challenge,
        "repo:octo-org/octo-repo:environment:production"
    );
    assert_eq!(id.issuer, idp.url());
    let sha = "3f786850e387550fdab836ed7e6dc881de23001b";
    assert_eq!(
        id.extensions,
        CiExtensions {
            build_signer_uri: Some(signer.into()),
            build_signer_digest: Some("b1e2d3c4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0".into()),
            runner_environment: Some("github-hosted".into()),
            source_repository_uri: Some("https://github.com/octo-org/octo-repo".into()),
            source_repository_digest: Some(sha.into()),
            source_repository_ref: Some("refs/tags/v1.2.3".into()),
            source_repository_identifier: Some("74".into()),
            source_repository_owner_uri: Some("https://github.com/octo-org".into()),
            source_repository_owner_identifier: Some("65".into()),
            build_config_uri: Some(
                "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.2.3"
                    .into()
            ),
            build_config_digest: Some(sha.into()),
            build_trigger: Some("release".into()),
            run_invocation_uri: Some(
                "https://github.com/octo-org/octo-repo/actions/runs/5110000000/attempts/2".into()
            ),
            source_repository_visibility_at_signing: Some("internal".into()),
            deployment_environment: Some("production".into()),
        }
    );
    assert_eq!(
        id.github_v1,
        Some(GithubV1Extensions {
            trigger: "release".into(),
            sha: sha.into(),
            name: "Release".into(),
            repository: "octo-org/octo-repo".into(),
            git_ref: "refs/tags/v1.2.3".into(),
        })
    );
}

#[tokio::test]
async fn github_enterprise_server_url_comes_from_the_issuer() {
    // GHES issues tokens at https://<host>/_services/token; SANs then name that host.
    let idp = idp_at(DevAlgorithm::Rs256, "/_services/token").await;
    let v = verifier_for(&idp.url(), "github-workflow", "");
    let id = v
        .verify(
            &idp.dev
                .mint_github("platform/api", "refs/heads/main", "ci.yml"),
        )
        .await
        .unwrap();
    let server = &idp.base;
    assert_eq!(
        id.san,
        SubjectAltName::Uri(format!(
            "{server}/platform/api/.github/workflows/ci.yml@refs/heads/main"
        ))
    );
    assert_eq!(
        id.extensions.source_repository_uri,
        Some(format!("{server}/platform/api"))
    );
    assert_eq!(id.extensions.deployment_environment, None);

    // And an explicit server_url wins.
    let v = verifier_for(
        &idp.url(),
        "github-workflow",
        "server_url: https://ghe.corp.example/",
    );
    let id = v
        .verify(
            &idp.dev
                .mint_github("platform/api", "refs/heads/main", "ci.yml"),
        )
        .await
        .unwrap();
    assert_eq!(
        id.extensions.source_repository_owner_uri.as_deref(),
        Some("https://ghe.corp.example/platform")
    );
}

#[tokio::test]
async fn gitlab_self_hosted_pipeline() {
    // The dev issuer plays a self-hosted GitLab at http://127.0.0.1:PORT.
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "gitlab-pipeline", "");
    let gitlab = idp.url();
    let host = gitlab.trim_start_matches("http://");
    let mut claims = idp.dev.gitlab_claims("my-group/my-project", "main");
    claims["environment"] = json!("staging");
    let id = v.verify(&idp.dev.mint(claims)).await.unwrap();

    let config_uri = format!("http://{host}/my-group/my-project//.gitlab-ci.yml@refs/heads/main");
    assert_eq!(id.san, SubjectAltName::Uri(config_uri.clone()));
    assert_eq!(
        id.challenge,
        "project_path:my-group/my-project:ref_type:branch:ref:main"
    );
    let sha = "714a629c0b401fdce83e847fc9589983fc6f46bc";
    assert_eq!(
        id.extensions,
        CiExtensions {
            build_signer_uri: Some(config_uri.clone()),
            build_signer_digest: Some(sha.into()),
            runner_environment: Some("self-hosted".into()),
            source_repository_uri: Some(format!("{gitlab}/my-group/my-project")),
            source_repository_digest: Some(sha.into()),
            source_repository_ref: Some("refs/heads/main".into()),
            source_repository_identifier: Some("20".into()),
            source_repository_owner_uri: Some(format!("{gitlab}/my-group")),
            source_repository_owner_identifier: Some("72".into()),
            build_config_uri: Some(config_uri),
            build_config_digest: Some(sha.into()),
            build_trigger: Some("push".into()),
            run_invocation_uri: Some(format!("{gitlab}/my-group/my-project/-/jobs/302")),
            source_repository_visibility_at_signing: Some("internal".into()),
            deployment_environment: Some("staging".into()),
        }
    );
    assert_eq!(id.github_v1, None);
}

#[tokio::test]
async fn gitlab_tag_pipeline_with_numeric_ids_and_foreign_config() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "gitlab-pipeline", "");
    let mut claims = idp.dev.gitlab_claims("grp/sub/proj", "v2.0.0");
    claims["ref_type"] = json!("tag");
    claims["project_id"] = json!(4242);
    claims["job_id"] = json!(9001);
    // The pipeline definition lives on another GitLab: its URI defaults to https.
    claims["ci_config_ref_uri"] = json!("gitlab.com/templates/ci//release.yml@refs/tags/v3");
    claims.as_object_mut().unwrap().remove("ci_config_sha");
    let id = v.verify(&idp.dev.mint(claims)).await.unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri("https://gitlab.com/templates/ci//release.yml@refs/tags/v3".into())
    );
    assert_eq!(
        id.extensions.source_repository_ref.as_deref(),
        Some("refs/tags/v2.0.0")
    );
    assert_eq!(
        id.extensions.source_repository_identifier.as_deref(),
        Some("4242")
    );
    assert_eq!(
        id.extensions.source_repository_owner_uri,
        Some(format!("{}/grp/sub", idp.url()))
    );
    assert_eq!(
        id.extensions.run_invocation_uri,
        Some(format!("{}/grp/sub/proj/-/jobs/9001", idp.url()))
    );
    assert_eq!(id.extensions.build_signer_digest, None);
}

#[tokio::test]
async fn uri_subject() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "uri", "subject_domain: http://127.0.0.1");
    let token = idp
        .dev
        .mint(json!({"sub": "http://127.0.0.1/users/alice", "email": null}));
    let id = v.verify(&token).await.unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri("http://127.0.0.1/users/alice".into())
    );
    assert_eq!(id.challenge, "http://127.0.0.1/users/alice");
}

#[tokio::test]
async fn username_subject() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "username", "subject_domain: 127.0.0.1");
    let id = v
        .verify(&idp.dev.mint(json!({"sub": "alice"})))
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::OtherName("alice!127.0.0.1".into()));
    assert_eq!(id.challenge, "alice");
    // With an email claim present, the proof of possession is over the email (what clients sign).
    let id = v
        .verify(
            &idp.dev
                .mint(json!({"sub": "alice", "email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(id.challenge, "alice@example.com");
    assert_eq!(id.san, SubjectAltName::OtherName("alice!127.0.0.1".into()));
}

#[tokio::test]
async fn spiffe_subject() {
    let idp = idp(DevAlgorithm::Es256).await;
    let v = verifier_for(&idp.url(), "spiffe", "spiffe_trust_domain: example.org");
    let sub = "spiffe://example.org/ns/prod/sa/api";
    let id = v.verify(&idp.dev.mint(json!({"sub": sub}))).await.unwrap();
    assert_eq!(id.san, SubjectAltName::Uri(sub.into()));
    assert_eq!(id.challenge, sub);
}

#[tokio::test]
async fn custom_audience() {
    let idp = rsa_idp().await;
    let v = verifier_for(&idp.url(), "email", "audience: hallmark-prod");
    let mut claims = DevIssuer::email_claims("dana@example.com");
    claims["aud"] = json!(["other", "hallmark-prod"]);
    v.verify(&idp.dev.mint(claims)).await.unwrap();
}

#[tokio::test]
async fn meta_issuer_wildcards() {
    // `*` in a host label and in a path segment, like the EKS pattern
    // https://oidc.eks.*.amazonaws.com/id/*; two clusters served on one loopback port.
    let (l, addr) = listener().await;
    let port = addr.port();
    let a = DevIssuer::new(
        format!("http://127.0.0.1:{port}/id/cluster-a"),
        DevAlgorithm::Rs256,
    )
    .unwrap();
    let b = DevIssuer::new(
        format!("http://127.0.0.1:{port}/id/cluster_b-2"),
        DevAlgorithm::Es256,
    )
    .unwrap();
    let deep = DevIssuer::new(
        format!("http://127.0.0.1:{port}/id/c/extra"),
        DevAlgorithm::Rs256,
    )
    .unwrap();
    serve(
        l,
        axum::Router::new()
            .nest("/id/cluster-a", a.router())
            .nest("/id/cluster_b-2", b.router())
            .nest("/id/c/extra", deep.router()),
    );
    let v = verifier(&format!(
        "meta_issuers:\n  - url: http://127.0.0.*:{port}/id/*\n    type: kubernetes\n"
    ));

    let id = v.verify(&a.mint_kubernetes("ns-a", "sa-a")).await.unwrap();
    assert_eq!(
        id.issuer,
        a.issuer(),
        "the certified issuer is the concrete one"
    );
    assert_eq!(
        id.san.value(),
        "https://kubernetes.io/namespaces/ns-a/serviceaccounts/sa-a"
    );
    let id = v.verify(&b.mint_kubernetes("ns-b", "sa-b")).await.unwrap();
    assert_eq!(id.issuer, b.issuer());
    // Each concrete issuer has its own discovery and keys.
    assert_eq!((a.discovery_requests(), b.discovery_requests()), (1, 1));

    // An extra path segment does not match, even though that issuer is served and valid.
    let e = expect_error(
        v.verify(&deep.mint_kubernetes("x", "y")).await,
        ErrorKind::IssuerNotAllowed,
        "not allowed",
    );
    assert!(matches!(
        e,
        hallmark_oidc::OidcError::IssuerNotAllowed { .. }
    ));
    assert_eq!(deep.discovery_requests(), 0);
    // Another host does not match.
    let other_host = a.mint(json!({"iss": format!("http://localhost:{port}/id/cluster-a")}));
    expect_error(
        v.verify(&other_host).await,
        ErrorKind::IssuerNotAllowed,
        "localhost",
    );
    // An empty segment does not match.
    let empty = a.mint(json!({"iss": format!("http://127.0.0.1:{port}/id/")}));
    expect_error(
        v.verify(&empty).await,
        ErrorKind::IssuerNotAllowed,
        "not allowed",
    );
}

#[tokio::test]
async fn exact_issuer_wins_over_meta_issuer() {
    let idp = rsa_idp().await;
    let port = idp.addr.port();
    let yaml = format!(
        "issuers:\n  - url: {}\n    type: email\nmeta_issuers:\n  - url: http://127.0.0.*:{port}\n    type: kubernetes\n",
        idp.url()
    );
    let v = verifier(&yaml);
    let id = v
        .verify(&idp.dev.mint_email("erin@example.com"))
        .await
        .unwrap();
    assert_eq!(id.san, SubjectAltName::Email("erin@example.com".into()));
}
