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

/// What tells one entry of a trusted-root list apart from another (its key or its chain).
type Identity = fn(&serde_json::Value) -> Option<String>;

/// The four key lists of a trusted root, each with how one entry is told apart from another.
const TRUST_LISTS: [(&str, Identity); 4] = [
    ("certificateAuthorities", ca_identity),
    ("tlogs", log_identity),
    ("ctlogs", log_identity),
    ("timestampAuthorities", ca_identity),
];

fn ca_identity(v: &serde_json::Value) -> Option<String> {
    let certs = v.pointer("/certChain/certificates")?.as_array()?;
    let raw: Vec<&str> = certs
        .iter()
        .map(|c| c.get("rawBytes").and_then(serde_json::Value::as_str))
        .collect::<Option<_>>()?;
    Some(raw.join(","))
}

fn log_identity(v: &serde_json::Value) -> Option<String> {
    v.pointer("/publicKey/rawBytes")?
        .as_str()
        .map(str::to_owned)
}

/// The `validFor` object of a trusted-root entry (CAs hold it at the top, logs in `publicKey`).
fn valid_for_mut(
    entry: &mut serde_json::Value,
) -> Option<&mut serde_json::Map<String, serde_json::Value>> {
    if entry.get("validFor").is_some() {
        entry.get_mut("validFor")?.as_object_mut()
    } else {
        entry.pointer_mut("/publicKey/validFor")?.as_object_mut()
    }
}

/// Key rotation: adds to `current` (a trusted root this configuration produced) every CA, log
/// key and TSA of `previous` (an earlier trusted root, or a ClientTrustConfig holding one) that
/// the current configuration no longer has, so bundles signed before the rotation still verify.
/// A retired entry without a `validFor.end` gets `retired_at` (the new keys' start): it verifies
/// what was signed while it was in use and nothing after. An entry present in both keeps the
/// earlier start. Returns how many retired entries were carried over.
///
/// # Errors
/// When `previous` is not a trusted root (wrong media type, a list that is not an array, an
/// entry whose key or chain cannot be read).
pub fn merge_previous(
    current: &mut serde_json::Value,
    previous: &serde_json::Value,
    retired_at: &str,
) -> Result<usize> {
    let previous = previous.get("trustedRoot").unwrap_or(previous);
    let media = previous
        .get("mediaType")
        .and_then(serde_json::Value::as_str);
    anyhow::ensure!(
        media.is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.trustedroot")),
        "the previous trust root is not a trusted_root.json or ClientTrustConfig (mediaType {media:?})"
    );
    let mut carried = 0;
    for (list, identity) in TRUST_LISTS {
        let Some(old) = previous.get(list) else {
            continue;
        };
        let old = old
            .as_array()
            .with_context(|| format!("the previous trust root's {list} is not a list"))?;
        let Some(new) = current
            .get_mut(list)
            .and_then(serde_json::Value::as_array_mut)
        else {
            anyhow::bail!("the current trust root has no {list} list");
        };
        for entry in old {
            let id = identity(entry).with_context(|| {
                format!("an entry of the previous trust root's {list} has no readable key or chain")
            })?;
            if let Some(same) = new.iter_mut().find(|e| identity(e).as_deref() == Some(&id)) {
                // Still in use: keep the earliest start, so older bundles still verify.
                // (RFC 3339 UTC timestamps order as strings.)
                let old_start = entry
                    .pointer("/validFor/start")
                    .or_else(|| entry.pointer("/publicKey/validFor/start"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
                if let (Some(old_start), Some(window)) = (old_start, valid_for_mut(same))
                    && window
                        .get("start")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|start| old_start.as_str() < start)
                {
                    window.insert("start".to_owned(), old_start.into());
                }
                continue;
            }
            let mut retired = entry.clone();
            if let Some(window) = valid_for_mut(&mut retired)
                && !window.contains_key("end")
            {
                window.insert("end".to_owned(), retired_at.into());
            }
            new.push(retired);
            carried += 1;
        }
    }
    Ok(carried)
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

    #[test]
    fn rotated_keys_are_kept_with_an_end_and_unchanged_ones_keep_their_start() {
        let old = root("ca1", "log1", "2025-01-01T00:00:00Z");
        let mut new = root("ca2", "log1", "2026-06-01T00:00:00Z");
        let carried = merge_previous(&mut new, &old, "2026-06-01T00:00:00Z").unwrap();
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
        let carried = merge_previous(&mut third, &new, "2027-01-01T00:00:00Z").unwrap();
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
        assert_eq!(
            merge_previous(&mut new, &old, "2026-01-01T00:00:00Z").unwrap(),
            1
        );
        let err = merge_previous(&mut new, &json!({"mediaType": "application/json"}), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a trusted_root.json"), "{err}");
        let mut broken = root("ca1", "log1", "2025-01-01T00:00:00Z");
        broken["tlogs"] = json!([{"publicKey": {}}]);
        let err = merge_previous(&mut new, &broken, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tlogs"), "{err}");
    }
}
