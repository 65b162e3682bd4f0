//! `hallmark trust-root`: the `trusted_root.json` and the `ClientTrustConfig` (trusted root plus
//! signing config) that Sigstore clients take, from this authority's configuration: the CA chain,
//! the CT log key, the signature log key, the URLs.

use anyhow::{Context, Result};
use hallmark_sigstore::{
    CertificateAuthority, Service, TransparencyLog, Validity, client_trust_config_json,
    signing_config_json, trusted_root_json,
};

use crate::Settings;

/// The trusted root and the client trust config for clients reaching this server at `url`.
pub fn trust_root(
    settings: &Settings,
    url: &str,
) -> Result<(serde_json::Value, serde_json::Value)> {
    let url = url.trim_end_matches('/');
    let read = |path: std::path::PathBuf| -> Result<x509_cert::Certificate> {
        let bytes = std::fs::read(&path).with_context(|| {
            format!("reading {} (run `hallmark ca init` first)", path.display())
        })?;
        Ok(hallmark_ca::parse_certificate("CA certificate", &bytes)?)
    };
    let root = read(settings.root_cert_path())?;
    let issuing = read(settings.issuing_cert_path())?;
    let chain_der = vec![
        hallmark_ca::certificate_der(&issuing)?,
        hallmark_ca::certificate_der(&root)?,
    ];
    let start = issuing
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration()
        .as_secs() as i64;
    let valid = Validity::from(start);
    let key_der = |key: &hallmark_keys::KeyRef| -> Result<Vec<u8>> {
        let config = key.config(&settings.module, settings.pin.as_ref())?;
        let hsm = hallmark_keys::Hsm::open(config)?;
        Ok(hsm
            .load_p256(key.object())
            .with_context(|| format!("loading {key} (run `hallmark ca init`?)"))?
            .public_key_der())
    };
    let ct_key = key_der(&settings.ct_key)?;
    let log_key = key_der(&settings.log_key)?;
    let trusted_root = trusted_root_json(
        &[CertificateAuthority {
            organization: &settings.organization,
            common_name: &settings.common_name,
            uri: url,
            chain_der: &chain_der,
            valid_for: valid,
        }],
        &[TransparencyLog {
            base_url: url,
            public_key_der: &log_key,
            valid_for: valid,
        }],
        &[TransparencyLog {
            base_url: url,
            public_key_der: &ct_key,
            valid_for: valid,
        }],
    )?;
    let operator = settings.public_host();
    let dev_issuer = format!("{url}/dev-oidc");
    let service = |u| Service {
        url: u,
        major_api_version: 1,
        valid_for: valid,
        operator: &operator,
    };
    let oidc = if settings.dev_oidc {
        vec![service(&dev_issuer)]
    } else {
        Vec::new()
    };
    let signing = signing_config_json(&[service(url)], &oidc, &[service(url)]);
    let client = client_trust_config_json(trusted_root.clone(), signing);
    Ok((trusted_root, client))
}
