//! Sigstore bundles v0.1 to v0.3 in their protobuf JSON form
//! ([`sigstore_bundle.proto`](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto),
//! [`sigstore_rekor.proto`](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_rekor.proto)):
//! the one model `hallmark sign` writes and `hallmark-verify` reads.
//!
//! Reading accepts what protojson accepts: camelCase or the proto field names, absent fields
//! (proto3 leaves out zero values: an absent `logIndex` is 0), `int64` as strings or numbers,
//! lenient base64. Unknown fields are rejected, as protojson does by default. The structural
//! rules of each version (v0.1 needs an inclusion promise, ...) are the verifier's to check:
//! this model holds whatever parsed. Writing emits `int64` as strings and padded base64.

use serde::{Deserialize, Serialize};

use crate::HashAlgorithm;
use crate::common::{
    HashOutput, LogId, X509Certificate, X509CertificateChain, hash_algorithm_name,
};
use crate::error::{EntryError, Result};
use crate::log::LogEntry;
use crate::protojson::{Base64, Int64};

/// Media type of a v0.1 bundle.
pub const BUNDLE_V0_1_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
/// Media type of a v0.2 bundle.
pub const BUNDLE_V0_2_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
/// Media type of a v0.3 bundle (the form clients write today).
pub const BUNDLE_V0_3_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The older spelling of the v0.3 media type, still accepted.
pub const BUNDLE_V0_3_LEGACY_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// A Sigstore bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bundle {
    /// A DSSE envelope (attestations); exclusive with `message_signature`.
    #[serde(alias = "dsse_envelope", skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    /// The bundle version's media type.
    #[serde(alias = "media_type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// A signature over an artifact digest; exclusive with `dsse_envelope`.
    #[serde(alias = "message_signature", skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    /// The certificate or key, log entries and timestamps.
    #[serde(
        alias = "verification_material",
        skip_serializing_if = "Option::is_none"
    )]
    pub verification_material: Option<VerificationMaterial>,
}

impl Bundle {
    /// A v0.3 bundle: a signing certificate (DER), the signed content, one Rekor entry, no
    /// RFC 3161 timestamp (`timestampVerificationData` is written empty).
    #[must_use]
    pub fn v0_3(
        certificate_der: &[u8],
        content: BundleContent,
        tlog_entry: TransparencyLogEntry,
    ) -> Self {
        let (message_signature, dsse_envelope) = match content {
            BundleContent::MessageSignature(m) => (Some(m), None),
            BundleContent::Dsse(e) => (None, Some(e)),
        };
        Bundle {
            dsse_envelope,
            media_type: Some(BUNDLE_V0_3_MEDIA_TYPE.to_owned()),
            message_signature,
            verification_material: Some(VerificationMaterial {
                certificate: Some(X509Certificate::from_der(certificate_der)),
                public_key: None,
                timestamp_verification_data: Some(TimestampVerificationData::default()),
                tlog_entries: vec![tlog_entry],
                x509_certificate_chain: None,
            }),
        }
    }

    /// Parses bundle JSON.
    ///
    /// # Errors
    ///
    /// serde_json's error for malformed JSON, unknown fields or wrongly typed values.
    pub fn from_json(json: &[u8]) -> serde_json::Result<Bundle> {
        serde_json::from_slice(json)
    }

    /// The compact JSON of the bundle.
    ///
    /// # Errors
    ///
    /// None in practice (the model holds only strings, numbers and lists); serde_json's error
    /// type is kept rather than unwrapped.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }
}

/// What a bundle signs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleContent {
    /// A signature over an artifact digest.
    MessageSignature(MessageSignature),
    /// A DSSE envelope.
    Dsse(Envelope),
}

/// `VerificationMaterial`: exactly one of `public_key`, `x509_certificate_chain`,
/// `certificate` (checked by the verifier), and the log entries and timestamps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// The signing certificate (v0.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<X509Certificate>,
    /// A managed key, named by a hint.
    #[serde(alias = "public_key", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// RFC 3161 timestamps.
    #[serde(
        alias = "timestamp_verification_data",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
    /// Transparency log entries.
    #[serde(default, alias = "tlog_entries")]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// The signing certificate and its chain (v0.1, v0.2).
    #[serde(
        alias = "x509_certificate_chain",
        skip_serializing_if = "Option::is_none"
    )]
    pub x509_certificate_chain: Option<X509CertificateChain>,
}

/// `PublicKeyIdentifier`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyIdentifier {
    /// An unauthenticated hint naming the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `TimestampVerificationData`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimestampVerificationData {
    /// RFC 3161 signed timestamps.
    #[serde(
        default,
        alias = "rfc3161_timestamps",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rfc3161_timestamps: Vec<Rfc3161SignedTimestamp>,
}

/// `RFC3161SignedTimestamp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rfc3161SignedTimestamp {
    /// A DER `TimeStampResp`.
    #[serde(alias = "signed_timestamp", skip_serializing_if = "Option::is_none")]
    pub signed_timestamp: Option<Base64>,
}

/// `MessageSignature`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageSignature {
    /// The artifact's digest (an unauthenticated hint).
    #[serde(alias = "message_digest", skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    /// The signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Base64>,
}

impl MessageSignature {
    /// A signature (`signature`, DER for ECDSA) over the artifact digest `digest`.
    #[must_use]
    pub fn new(alg: HashAlgorithm, digest: &[u8], signature: &[u8]) -> Self {
        MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: Some(hash_algorithm_name(alg).to_owned()),
                digest: Some(Base64::encode(digest)),
            }),
            signature: Some(Base64::encode(signature)),
        }
    }
}

/// A DSSE envelope ([protocol](https://github.com/secure-systems-lab/dsse/blob/master/envelope.md)).
/// Its JSON is also what a Rekor `dsse` entry's `proposedContent.envelope` string holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// The payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Base64>,
    /// The payload type.
    #[serde(alias = "payload_type", skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<String>,
    /// The signatures.
    #[serde(default)]
    pub signatures: Vec<DsseSignature>,
}

impl Envelope {
    /// An envelope with one signature (no key ID).
    #[must_use]
    pub fn new(payload_type: &str, payload: &[u8], signature: &[u8]) -> Self {
        Envelope {
            payload: Some(Base64::encode(payload)),
            payload_type: Some(payload_type.to_owned()),
            signatures: vec![DsseSignature {
                keyid: None,
                sig: Some(Base64::encode(signature)),
            }],
        }
    }
}

/// One DSSE signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsseSignature {
    /// An unauthenticated hint naming the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// The signature over the PAE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<Base64>,
}

/// `TransparencyLogEntry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    /// The entry body as the log stores it.
    #[serde(alias = "canonicalized_body", skip_serializing_if = "Option::is_none")]
    pub canonicalized_body: Option<Base64>,
    /// The signed entry timestamp (Rekor v1).
    #[serde(alias = "inclusion_promise", skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// The inclusion proof and its checkpoint.
    #[serde(alias = "inclusion_proof", skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// Integration time, Unix seconds (0 or absent for Rekor v2).
    #[serde(alias = "integrated_time", skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<Int64>,
    /// Entry kind and version.
    #[serde(alias = "kind_version", skip_serializing_if = "Option::is_none")]
    pub kind_version: Option<KindVersion>,
    /// The log's ID.
    #[serde(alias = "log_id", skip_serializing_if = "Option::is_none")]
    pub log_id: Option<LogId>,
    /// The entry's index (absent means 0).
    #[serde(alias = "log_index", skip_serializing_if = "Option::is_none")]
    pub log_index: Option<Int64>,
}

impl TransparencyLogEntry {
    /// The bundle form of a Rekor v1 log entry (the `{uuid: entry}` answer's entry): hex log ID
    /// and hashes become bytes, the kind and version come from the body.
    ///
    /// # Errors
    ///
    /// [`EntryError::Base64`], [`EntryError::Hex`] or [`EntryError::Malformed`] when the log's
    /// answer is not what a Rekor v1 log sends.
    pub fn from_rekor_v1(entry: &LogEntry) -> Result<Self> {
        #[derive(Deserialize)]
        struct KindOnly {
            kind: String,
            #[serde(rename = "apiVersion")]
            api_version: String,
        }
        let body = crate::decode_b64("body", &entry.body)?;
        let kv: KindOnly = serde_json::from_slice(&body)
            .map_err(|e| EntryError::malformed("body", format!("not a Rekor entry body: {e}")))?;
        let hex = |field: &'static str, h: &str| -> Result<Base64> {
            hex::decode(h)
                .map(|b| Base64::encode(&b))
                .map_err(|_| EntryError::Hex {
                    field,
                    expected_len: 64,
                })
        };
        let proof = &entry.verification.inclusion_proof;
        Ok(TransparencyLogEntry {
            canonicalized_body: Some(Base64::from_text(entry.body.clone())),
            inclusion_promise: Some(InclusionPromise {
                signed_entry_timestamp: Some(Base64::from_text(
                    entry.verification.signed_entry_timestamp.clone(),
                )),
            }),
            inclusion_proof: Some(InclusionProof {
                checkpoint: Some(Checkpoint {
                    envelope: Some(proof.checkpoint.clone()),
                }),
                hashes: proof
                    .hashes
                    .iter()
                    .map(|h| hex("verification.inclusionProof.hashes", h))
                    .collect::<Result<_>>()?,
                log_index: Some(Int64::from(proof.log_index)),
                root_hash: Some(hex(
                    "verification.inclusionProof.rootHash",
                    &proof.root_hash,
                )?),
                tree_size: Some(Int64::from(proof.tree_size)),
            }),
            integrated_time: Some(Int64(entry.integrated_time)),
            kind_version: Some(KindVersion {
                kind: Some(kv.kind),
                version: Some(kv.api_version),
            }),
            log_id: Some(LogId {
                key_id: Some(hex("logID", &entry.log_id)?),
            }),
            log_index: Some(Int64::from(entry.log_index)),
        })
    }
}

/// `KindVersion`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindVersion {
    /// `hashedrekord`, `dsse`, `intoto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `0.0.1`, `0.0.2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `InclusionPromise`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InclusionPromise {
    /// The SET signature.
    #[serde(
        alias = "signed_entry_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub signed_entry_timestamp: Option<Base64>,
}

/// `InclusionProof`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InclusionProof {
    /// The signed checkpoint the proof ends in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// Audit path, leaf to root.
    #[serde(default)]
    pub hashes: Vec<Base64>,
    /// Index of the entry in the tree of the proof (absent means 0).
    #[serde(alias = "log_index", skip_serializing_if = "Option::is_none")]
    pub log_index: Option<Int64>,
    /// Root hash of that tree.
    #[serde(alias = "root_hash", skip_serializing_if = "Option::is_none")]
    pub root_hash: Option<Base64>,
    /// Size of that tree.
    #[serde(alias = "tree_size", skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<Int64>,
}

/// `Checkpoint`: a signed note.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The note text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
}
