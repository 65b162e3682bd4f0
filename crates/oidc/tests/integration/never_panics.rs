//! Property: no input makes `verify` panic; every refusal is the token's fault (never an
//! unavailable identity provider), with a message.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::TokenVerifier;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::*;

fn check(
    rt: &tokio::runtime::Runtime,
    v: &TokenVerifier,
    token: &str,
) -> Result<(), TestCaseError> {
    if let Err(e) = rt.block_on(v.verify(token)) {
        prop_assert_ne!(
            e.kind(),
            hallmark_oidc::ErrorKind::IdpUnavailable,
            "{:?}",
            e
        );
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_.]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn verify_never_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (idp, v, gh) = rt.block_on(async {
        let idp = idp(DevAlgorithm::Rs256).await;
        let yaml = format!(
            "issuers:\n  - url: {}\n    type: email\nmeta_issuers:\n  - url: http://127.0.0.*:{}/*\n    type: kubernetes\n",
            idp.url(),
            idp.addr.port()
        );
        let v = verifier(&yaml);
        let gh = verifier_for(&idp.url(), "github-workflow", "");
        (idp, v, gh)
    });
    let keys = [
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "email",
        "email_verified",
        "kubernetes.io",
        "job_workflow_ref",
        "ref",
    ];
    let config = ProptestConfig::with_cases(48);
    proptest!(config, |(
        text in ".{0,200}",
        segments in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..5),
        overrides in prop::collection::vec((prop::sample::select(keys.to_vec()), json_value()), 0..6),
        header in json_value(),
    )| {
        check(&rt, &v, &text)?;
        let joined: Vec<String> = segments.iter().map(|s| URL_SAFE_NO_PAD.encode(s)).collect();
        check(&rt, &v, &joined.join("."))?;

        // Properly signed tokens from the trusted IdP with random claim values.
        let mut claims = DevIssuer::email_claims("alice@example.com");
        for (k, val) in &overrides {
            claims[*k] = val.clone();
        }
        let token = idp.dev.mint(claims.clone());
        check(&rt, &v, &token)?;
        check(&rt, &gh, &token)?;
        // And random headers over the same claims.
        check(&rt, &v, &idp.dev.sign_raw(&header, &claims))?;
    });
}
