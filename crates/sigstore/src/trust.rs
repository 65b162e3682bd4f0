//! Sigstore trust documents: `TrustedRoot` (`trusted_root.json`), `SigningConfig` v0.2 and the
//! `ClientTrustConfig` that bundles both (sigstore-python's `--trust-config`).
//!
//! Shapes follow the protobuf-specs JSON mapping: int64 as strings (none occur here), bytes as
//! standard base64, timestamps as RFC 3339 UTC strings, enums by name.
//! See <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto>.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::key::KeyType;

/// `mediaType` of a trusted root.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// `mediaType` of a signing config (v0.2).
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// `mediaType` of a client trust config.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A validity window in Unix seconds (`end` open when `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds, if the key or CA has been retired.
    pub end: Option<i64>,
}

impl Validity {
    /// An open-ended window starting at `start`.
    #[must_use]
    pub fn from(start: i64) -> Self {
        Validity { start, end: None }
    }

    fn json(self) -> Value {
        let mut v = json!({ "start": rfc3339(self.start) });
        if let (Some(end), Some(obj)) = (self.end, v.as_object_mut()) {
            obj.insert("end".to_owned(), Value::String(rfc3339(end)));
        }
        v
    }
}

/// One certificate authority (one entry of `certificateAuthorities`).
#[derive(Clone, Copy, Debug)]
pub struct CertificateAuthority<'a> {
    /// `subject.organization`.
    pub organization: &'a str,
    /// `subject.commonName`.
    pub common_name: &'a str,
    /// The CA's URL.
    pub uri: &'a str,
    /// Certificate chain, DER, issuing CA first and root last.
    pub chain_der: &'a [Vec<u8>],
    /// When this CA was (or is) used.
    pub valid_for: Validity,
}

/// One transparency log key (an entry of `tlogs` or `ctlogs`).
#[derive(Clone, Copy, Debug)]
pub struct TransparencyLog<'a> {
    /// The log's base URL.
    pub base_url: &'a str,
    /// The log key, DER `SubjectPublicKeyInfo`.
    pub public_key_der: &'a [u8],
    /// When this key was (or is) used.
    pub valid_for: Validity,
}

/// One service endpoint of a signing config.
#[derive(Clone, Copy, Debug)]
pub struct Service<'a> {
    /// The service URL.
    pub url: &'a str,
    /// The API major version (1 for Fulcio v2 API paths and Rekor v1, per the spec's usage).
    pub major_api_version: u32,
    /// When clients should use it.
    pub valid_for: Validity,
    /// Who operates it (a domain name, by convention).
    pub operator: &'a str,
}

/// Builds a `TrustedRoot` document (`timestampAuthorities` empty).
///
/// # Errors
///
/// [`crate::EntryError::BadPublicKey`] when a log key is not a supported DER SPKI.
pub fn trusted_root_json(
    cas: &[CertificateAuthority<'_>],
    tlogs: &[TransparencyLog<'_>],
    ctlogs: &[TransparencyLog<'_>],
) -> Result<Value> {
    let cas: Vec<Value> = cas
        .iter()
        .map(|ca| {
            let certs: Vec<Value> = ca
                .chain_der
                .iter()
                .map(|der| json!({ "rawBytes": STANDARD.encode(der) }))
                .collect();
            json!({
                "subject": { "organization": ca.organization, "commonName": ca.common_name },
                "uri": ca.uri,
                "certChain": { "certificates": certs },
                "validFor": ca.valid_for.json(),
            })
        })
        .collect();
    Ok(json!({
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": logs("tlogs[].publicKey", tlogs)?,
        "certificateAuthorities": cas,
        "ctlogs": logs("ctlogs[].publicKey", ctlogs)?,
        "timestampAuthorities": [],
    }))
}

fn logs(field: &'static str, logs: &[TransparencyLog<'_>]) -> Result<Vec<Value>> {
    logs.iter()
        .map(|log| {
            let key_type = KeyType::of_spki(field, log.public_key_der)?;
            Ok(json!({
                "baseUrl": log.base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(log.public_key_der),
                    "keyDetails": key_type.key_details(),
                    "validFor": log.valid_for.json(),
                },
                "logId": { "keyId": STANDARD.encode(Sha256::digest(log.public_key_der)) },
            }))
        })
        .collect()
}

/// Builds a `SigningConfig` v0.2 document (`tsaUrls` empty, selectors `ANY`).
#[must_use]
pub fn signing_config_json(
    ca_urls: &[Service<'_>],
    oidc_urls: &[Service<'_>],
    rekor_tlog_urls: &[Service<'_>],
) -> Value {
    let services = |s: &[Service<'_>]| -> Vec<Value> {
        s.iter()
            .map(|s| {
                json!({
                    "url": s.url,
                    "majorApiVersion": s.major_api_version,
                    "validFor": s.valid_for.json(),
                    "operator": s.operator,
                })
            })
            .collect()
    };
    json!({
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": services(ca_urls),
        "oidcUrls": services(oidc_urls),
        "rekorTlogUrls": services(rekor_tlog_urls),
        "tsaUrls": [],
        "rekorTlogConfig": { "selector": "ANY" },
        "tsaConfig": { "selector": "ANY" },
    })
}

/// Wraps a trusted root and a signing config into a `ClientTrustConfig`.
#[must_use]
pub fn client_trust_config_json(trusted_root: Value, signing_config: Value) -> Value {
    json!({
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    })
}

/// Formats Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z`), the protobuf JSON form of a
/// `Timestamp`.
#[must_use]
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
