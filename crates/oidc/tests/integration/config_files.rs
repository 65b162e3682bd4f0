//! Configuration files: Hallmark's YAML and Fulcio's JSON/YAML load into the same policy; bad
//! files are refused with messages that say what is wrong.

use std::path::Path;

use hallmark_oidc::config::IssuerPattern;
use hallmark_oidc::{ConfigError, IssuerConfig, IssuerKind, IssuerType};

const CA_PEM: &str = include_str!("../testdata/private-ca.pem");

/// Hallmark's YAML for a typical private deployment.
fn native_yaml(ca_path: &Path) -> String {
    format!(
        r#"
issuers:
  - url: https://token.actions.githubusercontent.com
    type: github-workflow
  - url: https://gitlab.corp.example
    type: gitlab-pipeline
    ca_cert: {ca}
  - url: https://dex.corp.example/auth
    type: email
    issuer_claim: $.federated_claims.connector_id
  - url: https://kubernetes.default.svc.cluster.local
    type: kubernetes
  - url: https://accounts.corp.example
    type: uri
    subject_domain: https://corp.example
  - url: https://login.corp.example
    type: username
    subject_domain: corp.example
    audience: hallmark
  - url: https://spire.corp.example
    type: spiffe
    spiffe_trust_domain: corp.example
meta_issuers:
  - url: https://oidc.eks.*.amazonaws.com/id/*
    type: kubernetes
  - url: https://container.googleapis.com/v1/projects/*/locations/*/clusters/*
    type: kubernetes
  - url: https://token.actions.githubusercontent.com/*
    type: github-workflow
"#,
        ca = ca_path.display()
    )
}

/// The same policy as Fulcio's JSON config (`fulcio serve --config-path config.json`).
fn fulcio_json() -> String {
    let issuers = serde_json::json!({
        "OIDCIssuers": {
            "https://token.actions.githubusercontent.com": {
                "IssuerURL": "https://token.actions.githubusercontent.com",
                "ClientID": "sigstore",
                "Type": "ci-provider",
                "CIProvider": "github-workflow",
                "Contact": "tac@sigstore.dev",
                "Description": "GitHub Actions OIDC auth"
            },
            "https://gitlab.corp.example": {
                "IssuerURL": "https://gitlab.corp.example",
                "ClientID": "sigstore",
                "Type": "gitlab-pipeline",
                "CACert": CA_PEM
            },
            "https://dex.corp.example/auth": {
                "IssuerURL": "https://dex.corp.example/auth",
                "ClientID": "sigstore",
                "Type": "email",
                "IssuerClaim": "$.federated_claims.connector_id",
                "ChallengeClaim": "email"
            },
            "https://kubernetes.default.svc.cluster.local": {
                "IssuerURL": "https://kubernetes.default.svc.cluster.local",
                "ClientID": "sigstore",
                "Type": "kubernetes"
            },
            "https://accounts.corp.example": {
                "IssuerURL": "https://accounts.corp.example",
                "ClientID": "sigstore",
                "Type": "uri",
                "SubjectDomain": "https://corp.example"
            },
            "https://login.corp.example": {
                "IssuerURL": "https://login.corp.example",
                "ClientID": "hallmark",
                "Type": "username",
                "SubjectDomain": "corp.example"
            },
            "https://spire.corp.example": {
                "IssuerURL": "https://spire.corp.example",
                "ClientID": "sigstore",
                "Type": "spiffe",
                "SPIFFETrustDomain": "corp.example"
            }
        },
        "MetaIssuers": {
            "https://oidc.eks.*.amazonaws.com/id/*": { "ClientID": "sigstore", "Type": "kubernetes" },
            "https://container.googleapis.com/v1/projects/*/locations/*/clusters/*": {
                "ClientID": "sigstore", "Type": "kubernetes"
            },
            "https://token.actions.githubusercontent.com/*": {
                "ClientID": "sigstore", "Type": "ci-provider", "CIProvider": "github-workflow"
            }
        }
    });
    serde_json::to_string_pretty(&issuers).unwrap()
}

/// The same policy in Fulcio's YAML spelling, shaped like Fulcio's own `config/identity/config.yaml`
/// (anchors under `define`, kebab-case keys, claim templates that Hallmark does not read).
fn fulcio_yaml() -> String {
    let ca = CA_PEM
        .lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#"define:
  - &github-type "github-workflow"
  - &gitlab-type "gitlab-pipeline"
oidc-issuers:
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    client-id: sigstore
    type: ci-provider
    ci-provider: *github-type
    contact: tac@sigstore.dev
    description: "GitHub Actions OIDC auth"
  https://gitlab.corp.example:
    issuer-url: https://gitlab.corp.example
    client-id: sigstore
    type: ci-provider
    ci-provider: *gitlab-type
    ca-cert: |
{ca}
  https://dex.corp.example/auth:
    issuer-url: https://dex.corp.example/auth
    client-id: sigstore
    type: email
    issuer-claim: $.federated_claims.connector_id
    environment: production
  https://kubernetes.default.svc.cluster.local:
    issuer-url: https://kubernetes.default.svc.cluster.local
    client-id: sigstore
    type: kubernetes
  https://accounts.corp.example:
    issuer-url: https://accounts.corp.example
    client-id: sigstore
    type: uri
    subject-domain: https://corp.example
  https://login.corp.example:
    issuer-url: https://login.corp.example
    client-id: hallmark
    type: username
    subject-domain: corp.example
  https://spire.corp.example:
    issuer-url: https://spire.corp.example
    client-id: sigstore
    type: spiffe
    spiffe-trust-domain: corp.example
meta-issuers:
  https://oidc.eks.*.amazonaws.com/id/*:
    client-id: sigstore
    type: kubernetes
  https://container.googleapis.com/v1/projects/*/locations/*/clusters/*:
    client-id: sigstore
    type: kubernetes
  https://token.actions.githubusercontent.com/*:
    client-id: sigstore
    type: ci-provider
    ci-provider: *github-type
ci-issuer-metadata:
  *github-type:
    default-template-values:
      url: "https://github.com"
    extension-templates:
      build-signer-uri: "{{{{ .url }}}}/{{{{ .job_workflow_ref }}}}"
    subject-alternative-name-template: "{{{{ .url }}}}/{{{{ .job_workflow_ref }}}}"
"#
    )
}

fn ca_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/private-ca.pem")
}

#[test]
fn fulcio_files_load_into_the_same_policy() {
    let native = IssuerConfig::from_yaml(&native_yaml(&ca_path())).unwrap();
    let json = IssuerConfig::from_fulcio(&fulcio_json()).unwrap();
    let yaml = IssuerConfig::from_fulcio(&fulcio_yaml()).unwrap();
    assert_eq!(native, json);
    assert_eq!(native, yaml);

    // Spot checks of what was loaded.
    assert_eq!(native.issuers().count(), 10);
    let gitlab = native.find("https://gitlab.corp.example").unwrap();
    assert_eq!(gitlab.ca_certs().len(), 1);
    assert_eq!(gitlab.issuer_type(), IssuerType::GitlabPipeline);
    let gh = native
        .find("https://token.actions.githubusercontent.com")
        .unwrap();
    assert!(
        matches!(gh.kind(), IssuerKind::GithubWorkflow { server_url } if server_url == "https://github.com")
    );
    let eks = native
        .find("https://oidc.eks.eu-west-1.amazonaws.com/id/0123ABCD")
        .unwrap();
    assert!(matches!(eks.pattern(), IssuerPattern::Wildcard(_)));
    assert_eq!(eks.audience(), "sigstore");
    let ghe = native
        .find("https://token.actions.githubusercontent.com/octo-enterprise")
        .unwrap();
    assert_eq!(ghe.issuer_type(), IssuerType::GithubWorkflow);
    assert_eq!(
        native
            .find("https://login.corp.example")
            .unwrap()
            .audience(),
        "hallmark"
    );
    assert!(
        native
            .find("https://oidc.eks.eu-west-1.amazonaws.com/id/a/b")
            .is_none()
    );
    assert!(native.find("https://evil.example").is_none());
}

#[test]
fn load_detects_the_format_and_resolves_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(ca_path(), dir.path().join("ca.pem")).unwrap();
    let native_path = dir.path().join("issuers.yaml");
    std::fs::write(&native_path, native_yaml(Path::new("ca.pem"))).unwrap();
    let fulcio_json_path = dir.path().join("config.json");
    std::fs::write(&fulcio_json_path, fulcio_json()).unwrap();
    let fulcio_yaml_path = dir.path().join("config.yaml");
    std::fs::write(&fulcio_yaml_path, fulcio_yaml()).unwrap();

    let native = IssuerConfig::load(&native_path).unwrap();
    assert_eq!(native, IssuerConfig::load(&fulcio_json_path).unwrap());
    assert_eq!(native, IssuerConfig::load(&fulcio_yaml_path).unwrap());

    let e = IssuerConfig::load(&dir.path().join("missing.yaml")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(e.to_string().contains("missing.yaml"), "{e}");
}

#[track_caller]
fn refused(yaml: &str, needle: &str) -> ConfigError {
    let e = IssuerConfig::from_yaml(yaml).expect_err(yaml);
    assert!(
        e.to_string().contains(needle),
        "{:?} does not contain {needle:?}",
        e.to_string()
    );
    e
}

#[track_caller]
fn refused_fulcio(json: serde_json::Value, needle: &str) -> ConfigError {
    let e = IssuerConfig::from_fulcio(&json.to_string()).expect_err("accepted");
    assert!(
        e.to_string().contains(needle),
        "{:?} does not contain {needle:?}",
        e.to_string()
    );
    e
}

#[test]
fn bad_native_files() {
    let one = |extra: &str| format!("issuers:\n  - url: https://idp.example.com\n{extra}");
    refused("issuers: []\n", "no issuers configured");
    refused("", "no issuers configured");
    refused(
        &one("    type: email\n    audiance: x\n"),
        "unknown field `audiance`",
    );
    refused(&one("    type: github\n"), "unknown variant `github`");
    refused(&one("    audience: x\n"), "missing field `type`");
    refused(
        "issuers:\n  - url: https://idp.example.com\n    type: email\nextra: 1\n",
        "unknown field `extra`",
    );
    refused(&one("    type: uri\n"), "type uri requires subject_domain");
    refused(
        &one("    type: username\n"),
        "type username requires subject_domain",
    );
    refused(
        &one("    type: spiffe\n"),
        "type spiffe requires spiffe_trust_domain",
    );
    refused(
        &one("    type: spiffe\n    spiffe_trust_domain: Corp.Example\n"),
        "trust domain is lowercase",
    );
    refused(
        &one("    type: email\n    subject_domain: example.com\n"),
        "subject_domain does not apply to type email",
    );
    refused(
        &one("    type: kubernetes\n    issuer_claim: $.x\n"),
        "issuer_claim does not apply",
    );
    refused(
        &one("    type: email\n    issuer_claim: federated.id\n"),
        "expected $.key",
    );
    refused(
        &one("    type: email\n    server_url: https://github.com\n"),
        "server_url does not apply",
    );
    refused(
        &one("    type: email\n    audience: ''\n"),
        "audience \"\" is invalid",
    );
    refused(
        &one("    type: uri\n    subject_domain: https://example.org\n"),
        "last two host labels",
    );
    refused(
        &one("    type: uri\n    subject_domain: http://example.com\n"),
        "scheme differs",
    );
    refused(
        &one("    type: username\n    subject_domain: https://example.com\n"),
        "has no scheme",
    );
    refused(
        &one("    type: username\n    subject_domain: other.org\n"),
        "last two labels",
    );
    refused(
        "issuers:\n  - url: https://idp.example.com\n    type: email\n  - url: https://idp.example.com\n    type: kubernetes\n",
        "configured twice",
    );
    refused(
        "issuers:\n  - url: not a url\n    type: email\n",
        "not a valid URL",
    );
    refused(
        "issuers:\n  - url: ftp://idp.example.com\n    type: email\n",
        "scheme \"ftp\"",
    );
    refused(
        "issuers:\n  - url: https://idp.example.com/?tenant=1\n    type: email\n",
        "no query or fragment",
    );
    refused(
        "issuers:\n  - url: https://user:pw@idp.example.com\n    type: email\n",
        "user name or password",
    );
    refused(
        "issuers:\n  - url: https://*.example.com\n    type: email\n",
        "only allowed in meta issuers",
    );
    refused(
        "meta_issuers:\n  - url: https://idp.example.com\n    type: kubernetes\n",
        "needs at least one '*'",
    );
    refused(
        "meta_issuers:\n  - url: https://idp.example.com:*/x\n    type: kubernetes\n",
        "scheme or port",
    );
    refused(
        "meta_issuers:\n  - url: https://*.example.com\n    type: spiffe\n    spiffe_trust_domain: example.com\n",
        "not a meta issuer",
    );
    let dir = tempfile::tempdir().unwrap();
    let bad_pem = dir.path().join("bad.pem");
    std::fs::write(
        &bad_pem,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    refused(
        &one(&format!(
            "    type: email\n    ca_cert: {}\n",
            bad_pem.display()
        )),
        "no valid PEM CERTIFICATE",
    );
    let empty_pem = dir.path().join("empty.pem");
    std::fs::write(&empty_pem, "just text\n").unwrap();
    refused(
        &one(&format!(
            "    type: email\n    ca_cert: {}\n",
            empty_pem.display()
        )),
        "no valid PEM CERTIFICATE",
    );
    let e = refused(
        &one("    type: email\n    ca_cert: /nonexistent/ca.pem\n"),
        "cannot read ca_cert /nonexistent/ca.pem",
    );
    assert!(matches!(e, ConfigError::CaCertRead { .. }));
}

#[test]
fn bad_fulcio_files() {
    use serde_json::json;
    let one =
        |issuer: serde_json::Value| json!({ "OIDCIssuers": { "https://idp.example.com": issuer } });
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "chainguard-identity"})),
        "unsupported issuer type \"chainguard-identity\"",
    );
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "ci-provider", "CIProvider": "buildkite-job"})),
        "\"ci-provider/buildkite-job\"",
    );
    refused_fulcio(one(json!({"Type": "email"})), "requires ClientID");
    refused_fulcio(
        one(
            json!({"IssuerURL": "https://other.example.com", "ClientID": "sigstore", "Type": "email"}),
        ),
        "differs from its IssuerURL",
    );
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "kubernetes", "ChallengeClaim": "email"})),
        "ChallengeClaim",
    );
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "email", "CACert": "garbage"})),
        "no valid PEM CERTIFICATE",
    );
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "email", "Bogus": 1})),
        "unknown field `Bogus`",
    );
    refused_fulcio(
        one(json!({"ClientID": "sigstore", "Type": "kubernetes", "IssuerClaim": "$.x"})),
        "issuer_claim does not apply",
    );
    refused_fulcio(json!({"OIDCIssuers": {}}), "no issuers configured");
    let e = IssuerConfig::from_fulcio("{ not json").unwrap_err();
    assert!(matches!(e, ConfigError::Json(_)), "{e:?}");
    let e = IssuerConfig::from_fulcio("oidc-issuers: [").unwrap_err();
    assert!(matches!(e, ConfigError::Yaml(_)), "{e:?}");
}

#[test]
fn plain_http_issuers_only_on_loopback_unless_they_opt_in() {
    // Loopback hosts: development IdPs, test stand-ins.
    for url in [
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:1234/realms/dev",
        "http://[::1]:9000",
    ] {
        let c = IssuerConfig::from_yaml(&format!("issuers:\n  - url: {url}\n    type: email\n"))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!c.find(url).unwrap().allow_insecure_http());
    }
    // Anywhere else: refused, naming the way out.
    for url in ["http://idp.example.com", "http://10.0.0.7:5556/dex"] {
        refused(
            &format!("issuers:\n  - url: {url}\n    type: email\n"),
            "only on a loopback host",
        );
    }
    refused(
        "meta_issuers:\n  - url: http://*.example.com\n    type: kubernetes\n",
        "allow_insecure_http",
    );
    refused_fulcio(
        serde_json::json!({"OIDCIssuers": {"http://idp.example.com": {"ClientID": "sigstore", "Type": "email"}}}),
        "only on a loopback host",
    );

    // An explicit opt-in, in either format.
    let c = IssuerConfig::from_yaml(
        "issuers:\n  - url: http://idp.example.com\n    type: email\n    allow_insecure_http: true\n",
    )
    .unwrap();
    let p = c.find("http://idp.example.com").unwrap();
    assert!(p.allow_insecure_http());
    assert!(p.may_fetch_from(&url::Url::parse("http://keys.example.com/jwks").unwrap()));
    let c = IssuerConfig::from_fulcio(
        &serde_json::json!({"OIDCIssuers": {"http://idp.example.com": {
            "ClientID": "sigstore", "Type": "email", "AllowInsecureHTTP": true}}})
        .to_string(),
    )
    .unwrap();
    assert!(
        c.find("http://idp.example.com")
            .unwrap()
            .allow_insecure_http()
    );
    let c = IssuerConfig::from_fulcio(
        "oidc-issuers:\n  http://idp.example.com:\n    client-id: sigstore\n    type: email\n    allow-insecure-http: true\n",
    )
    .unwrap();
    assert!(
        c.find("http://idp.example.com")
            .unwrap()
            .allow_insecure_http()
    );

    // Keys are fetched under the same rule: a loopback issuer's jwks_uri may not send us to a
    // plaintext host elsewhere.
    let c = IssuerConfig::from_yaml("issuers:\n  - url: http://127.0.0.1:5556\n    type: email\n")
        .unwrap();
    let p = c.find("http://127.0.0.1:5556").unwrap();
    let u = |s: &str| url::Url::parse(s).unwrap();
    assert!(p.may_fetch_from(&u("http://127.0.0.1:5556/keys")));
    assert!(p.may_fetch_from(&u("https://keys.example.com/jwks")));
    assert!(!p.may_fetch_from(&u("http://keys.example.com/jwks")));
    assert!(!p.may_fetch_from(&u("ftp://127.0.0.1/keys")));
}
