//! `hallmark trust-root`: the `trusted_root.json` and the `ClientTrustConfig` (trusted root plus
//! signing config) that Sigstore clients take, from this authority's configuration: the CA chain,
//! the CT log key, the signature log key, the URLs. The documents are
//! `hallmark_sigstore::trust`'s typed models.

use anyhow::{Context, Result};
use hallmark_sigstore::trust::{
    CertificateAuthority, ClientTrustConfig, Service, SigningConfig, TimeRange, Timestamp,
    TransparencyLogInstance, TrustedRoot,
};

use crate::Settings;
use crate::config::LogV2KeyType;
use hallmark_tlog::note::NoteKeyId;
use signature::Keypair as _;

/// The trusted root and the client trust config for clients reaching this server at `url`.
pub fn trust_root(settings: &Settings, url: &str) -> Result<(TrustedRoot, ClientTrustConfig)> {
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
    let valid = TimeRange::from(start)?;
    let open = |key: &hallmark_keys::KeyRef| -> Result<hallmark_keys::Hsm> {
        let config = key.config(&settings.module, settings.pin.as_ref())?;
        Ok(hallmark_keys::Hsm::open(config)?)
    };
    let key_der = |key: &hallmark_keys::KeyRef| -> Result<Vec<u8>> {
        Ok(open(key)?
            .load_p256(key.object())
            .with_context(|| format!("loading {key} (run `hallmark ca init`?)"))?
            .public_key_der())
    };
    let ct_key = key_der(&settings.ct_key)?;
    let log_key = key_der(&settings.log_key)?;
    let mut tlogs = vec![TransparencyLogInstance::new(url, &log_key, valid.clone())?];
    let log_v2 = if settings.log_v2.enabled {
        let key = &settings.log_v2.key;
        let (der, key_hash) = match settings.log_v2.key_type {
            // Checkpoints are signed under the ECDSA key's ID, SHA-256 of its SPKI, which is
            // also its log ID.
            LogV2KeyType::P256 => {
                let der = key_der(key)?;
                let hash = hallmark_sigstore::rekor_log_id(&der);
                (der, hash)
            }
            // The C2SP key hash of the origin and the key, as Sigstore's trusted roots name
            // their Ed25519 Rekor v2 logs (`logId`; sigstore-python finds the checkpoint's
            // signature by the first four bytes of each entry's `logId`).
            LogV2KeyType::Ed25519 => {
                let k = open(key)?.load_ed25519(key.object()).with_context(|| {
                    format!("loading {key} (Ed25519, log_v2.key_type; run `hallmark ca upgrade`?)")
                })?;
                let id = NoteKeyId::ed25519(&settings.public_host_name(), &k.verifying_key())
                    .context("the v2 log's checkpoint key name")?;
                (k.public_key_der(), id.key_hash())
            }
        };
        Some(TransparencyLogInstance::rekor_v2(
            url,
            &der,
            &key_hash,
            valid.clone(),
        )?)
    } else {
        None
    };
    let has_log_v2 = log_v2.is_some();
    tlogs.extend(log_v2);
    let mut trusted_root = TrustedRoot::new(
        vec![CertificateAuthority::new(
            &settings.organization,
            &settings.common_name,
            url,
            &chain_der,
            valid.clone(),
        )],
        tlogs,
        vec![TransparencyLogInstance::new(url, &ct_key, valid.clone())?],
    );
    let operator = settings.public_host();
    let dev_issuer = format!("{url}/dev-oidc");
    let service = |u: &str| Service::new(u, 1, valid.clone(), &operator);
    let oidc = if settings.dev_oidc {
        vec![service(&dev_issuer)]
    } else {
        Vec::new()
    };
    let mut signing = SigningConfig::new(vec![service(url)], oidc, vec![service(url)]);
    let mut has_tsa = false;
    // The timestamp authority, once `ca init` / `ca init-tsa` made its certificate.
    if settings.tsa_cert_path().exists() {
        let leaf = read(settings.tsa_cert_path())?;
        let chain = [
            hallmark_ca::certificate_der(&leaf)?,
            hallmark_ca::certificate_der(&root)?,
        ];
        let start = leaf
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs() as i64;
        let tsa_url = format!("{url}/api/v1/timestamp");
        trusted_root
            .timestamp_authorities
            .push(CertificateAuthority::new(
                &settings.organization,
                &format!("{} timestamp authority", settings.common_name),
                &tsa_url,
                &chain,
                TimeRange::from(start)?,
            ));
        signing.tsa_urls.push(Service::new(
            &tsa_url,
            1,
            TimeRange::from(start)?,
            &operator,
        ));
        has_tsa = true;
    }
    // Rekor v2 only with a timestamp authority: v2 entries carry no signed entry timestamp, and
    // clients that pick the v2 log from the signing config need a TSA for the signing time.
    if has_log_v2 && has_tsa {
        signing
            .rekor_tlog_urls
            .push(Service::new(url, 2, valid.clone(), &operator));
    }
    let client = ClientTrustConfig::new(trusted_root.clone(), signing);
    Ok((trusted_root, client))
}

/// Key rotation: adds to `current` (a trusted root this configuration produced) every CA, log
/// key and TSA of `previous` (the JSON of an earlier trusted root, or of a ClientTrustConfig
/// holding one) that the current configuration no longer has, so bundles signed before the
/// rotation still verify ([`TrustedRoot::merge_previous`]: a retired entry's window ends at
/// `retired_at`; an entry present in both keeps the earlier start). Returns how many retired
/// entries were carried over.
///
/// # Errors
/// When `previous` is not a trusted root (not one by its JSON or media type, or an entry whose
/// key or chain cannot be read).
pub fn merge_previous(
    current: &mut TrustedRoot,
    previous: &[u8],
    retired_at: &Timestamp,
) -> Result<usize> {
    const NOT_A_ROOT: &str =
        "the previous trust root is not a trusted_root.json or ClientTrustConfig";
    let previous = TrustedRoot::from_json_or_client_config(previous).context(NOT_A_ROOT)?;
    previous.check_media_type().context(NOT_A_ROOT)?;
    Ok(current.merge_previous(&previous, retired_at)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn root(ca: &str, tlog: &str, start: &str) -> serde_json::Value {
        json!({
            "mediaType": hallmark_sigstore::TRUSTED_ROOT_MEDIA_TYPE,
            "certificateAuthorities": [{
                "certChain": {"certificates": [{"rawBytes": ca}]},
                "validFor": {"start": start},
            }],
            "tlogs": [{"publicKey": {"rawBytes": tlog, "validFor": {"start": start}}}],
            "ctlogs": [{"publicKey": {"rawBytes": "ct", "validFor": {"start": start}}}],
            "timestampAuthorities": [],
        })
    }

    /// [`merge_previous`] on JSON values: `current` is read into the typed model, merged, and
    /// written back.
    fn merge(
        current: &mut serde_json::Value,
        previous: &serde_json::Value,
        retired_at: &str,
    ) -> Result<usize> {
        let mut root: TrustedRoot = serde_json::from_value(current.clone()).unwrap();
        let retired_at: Timestamp = serde_json::from_value(json!(retired_at)).unwrap();
        let n = merge_previous(&mut root, previous.to_string().as_bytes(), &retired_at)?;
        *current = serde_json::to_value(root).unwrap();
        Ok(n)
    }

    #[test]
    fn rotated_keys_are_kept_with_an_end_and_unchanged_ones_keep_their_start() {
        let old = root("ca1", "log1", "2025-01-01T00:00:00Z");
        let mut new = root("ca2", "log1", "2026-06-01T00:00:00Z");
        let carried = merge(&mut new, &old, "2026-06-01T00:00:00Z").unwrap();
        assert_eq!(carried, 1);
        let cas = new["certificateAuthorities"].as_array().unwrap();
        assert_eq!(cas.len(), 2);
        assert_eq!(cas[1]["certChain"]["certificates"][0]["rawBytes"], "ca1");
        assert_eq!(cas[1]["validFor"]["end"], "2026-06-01T00:00:00Z");
        assert!(
            cas[0]["validFor"].get("end").is_none(),
            "the current CA stays open"
        );
        // The log key did not change: one entry, with the earlier start.
        let tlogs = new["tlogs"].as_array().unwrap();
        assert_eq!(tlogs.len(), 1);
        assert_eq!(
            tlogs[0]["publicKey"]["validFor"]["start"],
            "2025-01-01T00:00:00Z"
        );

        // Rotating again keeps both retired generations; an existing end is not moved.
        let mut third = root("ca3", "log2", "2027-01-01T00:00:00Z");
        let carried = merge(&mut third, &new, "2027-01-01T00:00:00Z").unwrap();
        assert_eq!(carried, 3, "ca2, ca1 and log1 are retired");
        let cas = third["certificateAuthorities"].as_array().unwrap();
        assert_eq!(cas[2]["validFor"]["end"], "2026-06-01T00:00:00Z");
        assert_eq!(cas[1]["validFor"]["end"], "2027-01-01T00:00:00Z");
        assert_eq!(
            third["tlogs"][1]["publicKey"]["validFor"]["end"],
            "2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_client_trust_config_is_accepted_and_other_documents_are_refused() {
        let old =
            json!({"mediaType": "x", "trustedRoot": root("ca1", "log1", "2025-01-01T00:00:00Z")});
        let mut new = root("ca2", "log1", "2026-01-01T00:00:00Z");
        assert_eq!(merge(&mut new, &old, "2026-01-01T00:00:00Z").unwrap(), 1);
        let err = merge(&mut new, &json!({"mediaType": "application/json"}), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a trusted_root.json"), "{err}");
        let mut broken = root("ca1", "log1", "2025-01-01T00:00:00Z");
        broken["tlogs"] = json!([{"publicKey": {}}]);
        let err = merge(&mut new, &broken, "x").unwrap_err().to_string();
        assert!(err.contains("tlogs"), "{err}");
    }
}
