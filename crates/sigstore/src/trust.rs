//! Sigstore trust documents: `TrustedRoot` (`trusted_root.json`), `SigningConfig` v0.2 and the
//! `ClientTrustConfig` that bundles both (sigstore-python's `--trust-config`): one typed model
//! that `hallmark trust-root` writes and `hallmark-verify` reads.
//!
//! Shapes follow the protobuf JSON mapping: bytes as standard base64, timestamps as RFC 3339
//! UTC strings, enums by name. Reading accepts camelCase or the proto field names and rejects
//! unknown fields (as protojson does); values are checked by whoever uses them (the verifier
//! names the field that is wrong). Fields are declared in alphabetical order: see
//! [`crate::common`].
//! See <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto>.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::common::{LogId, X509Certificate, X509CertificateChain};
use crate::error::{EntryError, Result};
use crate::key::KeyType;
use crate::protojson::Base64;

/// `mediaType` of a trusted root.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// `mediaType` of a trusted root in the v0.2 spelling (read, not written).
pub const TRUSTED_ROOT_V0_2_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";
/// `mediaType` of a signing config (v0.2).
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// `mediaType` of a client trust config.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A protobuf `Timestamp` as RFC 3339 text, kept as written (the reader converts it with
/// [`Timestamp::unix`] and names the field when it is wrong).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// The timestamp of Unix seconds `unix`, in UTC.
    ///
    /// # Errors
    ///
    /// [`EntryError::TimeOutOfRange`] before 1970 or after 9999.
    pub fn from_unix(unix: i64) -> Result<Self> {
        crate::time::rfc3339(unix).map(Timestamp)
    }

    /// The text as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unix seconds, or `None` when the text is not RFC 3339 (or is before 1970).
    #[must_use]
    pub fn unix(&self) -> Option<i64> {
        crate::time::parse_rfc3339(&self.0)
    }
}

/// `TimeRange`: when a key or authority is trusted (`end` open when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// End, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// Start, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
}

impl TimeRange {
    /// An open-ended window starting at Unix seconds `start`.
    ///
    /// # Errors
    ///
    /// [`EntryError::TimeOutOfRange`] for a start before 1970 or after 9999.
    pub fn from(start: i64) -> Result<Self> {
        Ok(TimeRange {
            end: None,
            start: Some(Timestamp::from_unix(start)?),
        })
    }

    /// A window from `start` to `end` (Unix seconds, both inclusive).
    ///
    /// # Errors
    ///
    /// [`EntryError::TimeOutOfRange`] for a time before 1970 or after 9999.
    pub fn between(start: i64, end: i64) -> Result<Self> {
        Ok(TimeRange {
            end: Some(Timestamp::from_unix(end)?),
            start: Some(Timestamp::from_unix(start)?),
        })
    }
}

/// `TrustedRoot`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrustedRoot {
    /// Certificate authorities (Fulcio), one per CA generation.
    #[serde(default, alias = "certificate_authorities")]
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Certificate transparency logs.
    #[serde(default)]
    pub ctlogs: Vec<TransparencyLogInstance>,
    /// [`TRUSTED_ROOT_MEDIA_TYPE`].
    #[serde(alias = "media_type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// RFC 3161 timestamp authorities.
    #[serde(default, alias = "timestamp_authorities")]
    pub timestamp_authorities: Vec<CertificateAuthority>,
    /// Signature transparency logs (Rekor).
    #[serde(default)]
    pub tlogs: Vec<TransparencyLogInstance>,
}

/// `CertificateAuthority` (also used for timestamp authorities).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateAuthority {
    /// The chain, issuing CA first and root last.
    #[serde(alias = "cert_chain", skip_serializing_if = "Option::is_none")]
    pub cert_chain: Option<X509CertificateChain>,
    /// Who operates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// A descriptive subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<DistinguishedName>,
    /// The authority's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// When it is trusted.
    #[serde(alias = "valid_for", skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
}

impl CertificateAuthority {
    /// An authority: subject, URL, chain (DER, issuing CA first) and window.
    #[must_use]
    pub fn new(
        organization: &str,
        common_name: &str,
        uri: &str,
        chain_der: &[Vec<u8>],
        valid_for: TimeRange,
    ) -> Self {
        CertificateAuthority {
            cert_chain: Some(X509CertificateChain {
                certificates: chain_der
                    .iter()
                    .map(|d| X509Certificate::from_der(d))
                    .collect(),
            }),
            operator: None,
            subject: Some(DistinguishedName {
                common_name: Some(common_name.to_owned()),
                organization: Some(organization.to_owned()),
            }),
            uri: Some(uri.to_owned()),
            valid_for: Some(valid_for),
        }
    }

    /// What tells two authorities apart: their chain's base64 text.
    fn identity(&self) -> Option<Vec<&str>> {
        let certs = &self.cert_chain.as_ref()?.certificates;
        certs
            .iter()
            .map(|c| c.raw_bytes.as_ref().map(Base64::as_str))
            .collect()
    }
}

/// `DistinguishedName`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DistinguishedName {
    /// Common name.
    #[serde(alias = "common_name", skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `TransparencyLogInstance`: a Rekor or CT log key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransparencyLogInstance {
    /// The log's base URL.
    #[serde(alias = "base_url", skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The checkpoint key ID, when it differs from the log ID (Rekor v2).
    #[serde(alias = "checkpoint_key_id", skip_serializing_if = "Option::is_none")]
    pub checkpoint_key_id: Option<LogId>,
    /// `SHA2_256`.
    #[serde(alias = "hash_algorithm", skip_serializing_if = "Option::is_none")]
    pub hash_algorithm: Option<String>,
    /// The log ID.
    #[serde(alias = "log_id", skip_serializing_if = "Option::is_none")]
    pub log_id: Option<LogId>,
    /// Who operates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The key and its window.
    #[serde(alias = "public_key", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
}

impl TransparencyLogInstance {
    /// A log at `base_url` with key `public_key_der` (DER SPKI): the log ID is its SHA-256.
    ///
    /// # Errors
    ///
    /// [`EntryError::BadPublicKey`] when the key is not a supported DER SPKI.
    pub fn new(base_url: &str, public_key_der: &[u8], valid_for: TimeRange) -> Result<Self> {
        let key_type = KeyType::of_spki("publicKey.rawBytes", public_key_der)?;
        Ok(TransparencyLogInstance {
            base_url: Some(base_url.to_owned()),
            checkpoint_key_id: None,
            hash_algorithm: Some("SHA2_256".to_owned()),
            log_id: Some(LogId::new(&Sha256::digest(public_key_der))),
            operator: None,
            public_key: Some(PublicKey {
                key_details: Some(key_type.key_details().to_owned()),
                raw_bytes: Some(Base64::encode(public_key_der)),
                valid_for: Some(valid_for),
            }),
        })
    }

    /// A Rekor v2 log at `base_url` with key `public_key_der` (DER SPKI) whose checkpoints are
    /// signed under `checkpoint_key_hash`, the 32-byte hash the note key ID is the start of: its
    /// `logId` and `checkpointKeyId` both. For a P-256 key that is SHA-256 of the SPKI (as for
    /// [`TransparencyLogInstance::new`]); for an Ed25519 key the C2SP key hash
    /// SHA-256(origin || `"\n"` || `0x01` || key), the `logId` Sigstore's own trusted roots give
    /// their Ed25519 Rekor v2 logs and the `logId.keyId` of each of their entries.
    ///
    /// # Errors
    ///
    /// [`EntryError::BadPublicKey`] when the key is not a supported DER SPKI.
    pub fn rekor_v2(
        base_url: &str,
        public_key_der: &[u8],
        checkpoint_key_hash: &[u8; 32],
        valid_for: TimeRange,
    ) -> Result<Self> {
        let mut log = Self::new(base_url, public_key_der, valid_for)?;
        log.log_id = Some(LogId::new(checkpoint_key_hash));
        log.checkpoint_key_id = Some(LogId::new(checkpoint_key_hash));
        Ok(log)
    }

    /// What tells two logs apart: their key's base64 text.
    fn identity(&self) -> Option<Vec<&str>> {
        let raw = self.public_key.as_ref()?.raw_bytes.as_ref()?;
        Some(vec![raw.as_str()])
    }
}

/// `PublicKey`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKey {
    /// The `PublicKeyDetails` name (`PKIX_ECDSA_P256_SHA_256`).
    #[serde(alias = "key_details", skip_serializing_if = "Option::is_none")]
    pub key_details: Option<String>,
    /// The key, DER SPKI (or PKCS#1 for the `PKCS1_RSA_*` details).
    #[serde(alias = "raw_bytes", skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<Base64>,
    /// When it is trusted.
    #[serde(alias = "valid_for", skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
}

impl TrustedRoot {
    /// A trusted root (media type [`TRUSTED_ROOT_MEDIA_TYPE`], `timestampAuthorities` empty).
    #[must_use]
    pub fn new(
        certificate_authorities: Vec<CertificateAuthority>,
        tlogs: Vec<TransparencyLogInstance>,
        ctlogs: Vec<TransparencyLogInstance>,
    ) -> Self {
        TrustedRoot {
            certificate_authorities,
            ctlogs,
            media_type: Some(TRUSTED_ROOT_MEDIA_TYPE.to_owned()),
            timestamp_authorities: Vec::new(),
            tlogs,
        }
    }

    /// Reads a trusted root, or the `trustedRoot` of a document that holds one (a
    /// `ClientTrustConfig`; its other members are not read). The media type is not checked
    /// (see [`TrustedRoot::check_media_type`]).
    ///
    /// # Errors
    ///
    /// serde_json's error for malformed JSON, unknown fields or wrongly typed values.
    pub fn from_json_or_client_config(json: &[u8]) -> serde_json::Result<TrustedRoot> {
        let doc: serde_json::Value = serde_json::from_slice(json)?;
        match doc {
            serde_json::Value::Object(mut map) if map.contains_key("trustedRoot") => {
                let root = map.remove("trustedRoot").unwrap_or_default();
                serde_json::from_value(root)
            }
            doc => serde_json::from_value(doc),
        }
    }

    /// Checks the media type: a trusted root, v0.1 or v0.2.
    ///
    /// # Errors
    ///
    /// [`EntryError::UnsupportedMediaType`] for anything else, or none.
    pub fn check_media_type(&self) -> Result<()> {
        match self.media_type.as_deref() {
            Some(TRUSTED_ROOT_MEDIA_TYPE | TRUSTED_ROOT_V0_2_MEDIA_TYPE) => Ok(()),
            other => Err(EntryError::UnsupportedMediaType {
                document: "trusted root",
                media_type: other.unwrap_or_default().chars().take(100).collect(),
            }),
        }
    }

    /// Key rotation: adds every CA, log key and TSA of `previous` (an earlier trusted root)
    /// that this one no longer has, so bundles signed before the rotation still verify. A
    /// retired entry without a `validFor.end` gets `retired_at` (the new keys' start): it
    /// verifies what was signed while it was in use and nothing after. An entry present in
    /// both keeps the earlier start. Returns how many retired entries were carried over.
    ///
    /// # Errors
    ///
    /// [`EntryError::MissingField`] when an entry of `previous` has no key or chain to tell it
    /// by.
    pub fn merge_previous(
        &mut self,
        previous: &TrustedRoot,
        retired_at: &Timestamp,
    ) -> Result<usize> {
        fn log_window(log: &mut TransparencyLogInstance) -> &mut Option<TimeRange> {
            &mut log
                .public_key
                .get_or_insert_with(PublicKey::default)
                .valid_for
        }
        fn ca_window(ca: &mut CertificateAuthority) -> &mut Option<TimeRange> {
            &mut ca.valid_for
        }
        let cas = Merge {
            field: "certificateAuthorities[].certChain.certificates[].rawBytes",
            identity: CertificateAuthority::identity,
            window: ca_window,
            retired_at,
        };
        let logs = |field| Merge {
            field,
            identity: TransparencyLogInstance::identity,
            window: log_window,
            retired_at,
        };
        let tsas = Merge {
            field: "timestampAuthorities[].certChain.certificates[].rawBytes",
            identity: CertificateAuthority::identity,
            window: ca_window,
            retired_at,
        };
        Ok(cas.run(
            &mut self.certificate_authorities,
            &previous.certificate_authorities,
        )? + logs("tlogs[].publicKey.rawBytes").run(&mut self.tlogs, &previous.tlogs)?
            + logs("ctlogs[].publicKey.rawBytes").run(&mut self.ctlogs, &previous.ctlogs)?
            + tsas.run(
                &mut self.timestamp_authorities,
                &previous.timestamp_authorities,
            )?)
    }
}

/// How one list of a trusted root is merged with its earlier version.
struct Merge<'a, T> {
    /// The field that tells entries apart, for errors.
    field: &'static str,
    /// What tells one entry from another (its key or its chain).
    identity: for<'t> fn(&'t T) -> Option<Vec<&'t str>>,
    /// The entry's `validFor`.
    window: fn(&mut T) -> &mut Option<TimeRange>,
    /// The end given to retired entries that have none.
    retired_at: &'a Timestamp,
}

impl<T: Clone> Merge<'_, T> {
    fn run(&self, current: &mut Vec<T>, previous: &[T]) -> Result<usize> {
        let mut carried = 0;
        for old in previous {
            let id = (self.identity)(old).ok_or(EntryError::MissingField { field: self.field })?;
            let mut old = old.clone();
            let old_start = (self.window)(&mut old)
                .as_ref()
                .and_then(|w| w.start.clone());
            if let Some(same) = current
                .iter_mut()
                .find(|e| (self.identity)(e).as_ref() == Some(&id))
            {
                // Still in use: keep the earliest start, so older bundles still verify.
                if let (Some(old_start), Some(window)) = (old_start, (self.window)(same).as_mut())
                    && let (Some(old_t), Some(new_t)) = (
                        old_start.unix(),
                        window.start.as_ref().and_then(Timestamp::unix),
                    )
                    && old_t < new_t
                {
                    window.start = Some(old_start);
                }
                continue;
            }
            if let Some(window) = (self.window)(&mut old).as_mut()
                && window.end.is_none()
            {
                window.end = Some(self.retired_at.clone());
            }
            current.push(old);
            carried += 1;
        }
        Ok(carried)
    }
}

/// `SigningConfig` v0.2: where clients sign.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SigningConfig {
    /// Certificate authorities (Fulcio API).
    #[serde(default, alias = "ca_urls")]
    pub ca_urls: Vec<Service>,
    /// [`SIGNING_CONFIG_MEDIA_TYPE`].
    #[serde(alias = "media_type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OIDC issuers.
    #[serde(default, alias = "oidc_urls")]
    pub oidc_urls: Vec<Service>,
    /// How many signature logs to use.
    #[serde(alias = "rekor_tlog_config", skip_serializing_if = "Option::is_none")]
    pub rekor_tlog_config: Option<ServiceConfiguration>,
    /// Signature logs (Rekor API).
    #[serde(default, alias = "rekor_tlog_urls")]
    pub rekor_tlog_urls: Vec<Service>,
    /// How many timestamp authorities to use.
    #[serde(alias = "tsa_config", skip_serializing_if = "Option::is_none")]
    pub tsa_config: Option<ServiceConfiguration>,
    /// Timestamp authorities.
    #[serde(default, alias = "tsa_urls")]
    pub tsa_urls: Vec<Service>,
}

impl SigningConfig {
    /// A signing config (`tsaUrls` empty, selectors `ANY`).
    #[must_use]
    pub fn new(
        ca_urls: Vec<Service>,
        oidc_urls: Vec<Service>,
        rekor_tlog_urls: Vec<Service>,
    ) -> Self {
        SigningConfig {
            ca_urls,
            media_type: Some(SIGNING_CONFIG_MEDIA_TYPE.to_owned()),
            oidc_urls,
            rekor_tlog_config: Some(ServiceConfiguration::any()),
            rekor_tlog_urls,
            tsa_config: Some(ServiceConfiguration::any()),
            tsa_urls: Vec::new(),
        }
    }

    /// The URL of the first service of `services` whose window has no end (signing configs
    /// list the current one first), without a trailing `/`.
    #[must_use]
    pub fn current_url(services: &[Service]) -> Option<String> {
        services
            .iter()
            .find(|s| s.valid_for.as_ref().is_none_or(|w| w.end.is_none()))
            .and_then(|s| s.url.as_deref())
            .map(|u| u.trim_end_matches('/').to_owned())
    }
}

/// `Service`: one endpoint of a signing config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// The API major version (1 for the Fulcio v2 API paths and Rekor v1, per the spec's
    /// usage).
    #[serde(alias = "major_api_version", skip_serializing_if = "Option::is_none")]
    pub major_api_version: Option<u32>,
    /// Who operates it (a domain name, by convention).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The service URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When clients should use it.
    #[serde(alias = "valid_for", skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
}

impl Service {
    /// A service endpoint.
    #[must_use]
    pub fn new(url: &str, major_api_version: u32, valid_for: TimeRange, operator: &str) -> Self {
        Service {
            major_api_version: Some(major_api_version),
            operator: Some(operator.to_owned()),
            url: Some(url.to_owned()),
            valid_for: Some(valid_for),
        }
    }
}

/// `ServiceConfiguration`: which of the listed services a client uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfiguration {
    /// For `EXACT`: how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `ALL`, `ANY` or `EXACT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

impl ServiceConfiguration {
    /// Selector `ANY`.
    #[must_use]
    pub fn any() -> Self {
        ServiceConfiguration {
            count: None,
            selector: Some("ANY".to_owned()),
        }
    }
}

/// `ClientTrustConfig`: a trusted root and a signing config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientTrustConfig {
    /// [`CLIENT_TRUST_CONFIG_MEDIA_TYPE`].
    #[serde(alias = "media_type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Where to sign.
    #[serde(alias = "signing_config", skip_serializing_if = "Option::is_none")]
    pub signing_config: Option<SigningConfig>,
    /// What to trust.
    #[serde(alias = "trusted_root", skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<TrustedRoot>,
}

impl ClientTrustConfig {
    /// Wraps a trusted root and a signing config.
    #[must_use]
    pub fn new(trusted_root: TrustedRoot, signing_config: SigningConfig) -> Self {
        ClientTrustConfig {
            media_type: Some(CLIENT_TRUST_CONFIG_MEDIA_TYPE.to_owned()),
            signing_config: Some(signing_config),
            trusted_root: Some(trusted_root),
        }
    }
}
