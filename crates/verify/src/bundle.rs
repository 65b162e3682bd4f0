//! Sigstore bundles v0.1 to v0.3 in their protobuf-JSON form
//! ([`sigstore_bundle.proto`](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto)).
//!
//! Parsing checks the structure and the per-version rules that need no keys: v0.1 needs an
//! inclusion promise, v0.2 and later an inclusion proof, v0.3 a single certificate instead of a
//! chain. Unknown fields are rejected (as protojson does by default); camelCase and the proto
//! field names are both accepted.

use hallmark_sigstore::HashAlgorithm;
use hallmark_sigstore::bundle::{
    BUNDLE_V0_1_MEDIA_TYPE, BUNDLE_V0_2_MEDIA_TYPE, BUNDLE_V0_3_LEGACY_MEDIA_TYPE,
    BUNDLE_V0_3_MEDIA_TYPE, Bundle as RawBundle, Envelope as RawEnvelope,
    InclusionProof as RawProof, MessageSignature as RawMessageSignature,
    TransparencyLogEntry as RawEntry, VerificationMaterial as RawMaterial,
};
use hallmark_sigstore::protojson::{Base64 as B64, Int64};

use crate::error::{Document, Result, VerifyError};

/// Most log entries, timestamps or DSSE signatures read from one bundle.
pub const MAX_ENTRIES: usize = 32;
/// Largest bundle accepted, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;

/// The bundle format version, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum BundleVersion {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`.
    V0_1,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`.
    V0_2,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.3` or
    /// `application/vnd.dev.sigstore.bundle.v0.3+json`.
    V0_3,
}

impl BundleVersion {
    /// The version of a bundle media type; `None` for anything else.
    #[must_use]
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            BUNDLE_V0_1_MEDIA_TYPE => Some(BundleVersion::V0_1),
            BUNDLE_V0_2_MEDIA_TYPE => Some(BundleVersion::V0_2),
            BUNDLE_V0_3_LEGACY_MEDIA_TYPE | BUNDLE_V0_3_MEDIA_TYPE => Some(BundleVersion::V0_3),
            _ => None,
        }
    }
}

/// What the bundle offers to verify the signature with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Material {
    /// A signing certificate (DER). `chain` holds the other certificates of a v0.1/v0.2
    /// `x509CertificateChain` (unused for trust: the chain comes from the trusted root).
    Certificate {
        /// The leaf certificate, DER.
        leaf: Vec<u8>,
        /// Further certificates the bundle carried, DER.
        chain: Vec<Vec<u8>>,
    },
    /// A managed key, named by an unauthenticated hint.
    PublicKey {
        /// The hint, if any.
        hint: Option<String>,
    },
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The payload type.
    pub payload_type: String,
    /// The signatures, as bytes (at least one).
    pub signatures: Vec<Vec<u8>>,
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// A signature over an artifact's digest (hashedrekord).
    MessageSignature {
        /// The digest the bundle names (an unauthenticated hint), with its algorithm.
        digest: Option<(HashAlgorithm, Vec<u8>)>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope (in-toto attestations).
    Dsse(Envelope),
}

impl Content {
    /// The signature bytes a timestamp authority timestamps: the message signature, or the
    /// envelope's (first) signature.
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::MessageSignature { signature, .. } => signature,
            Content::Dsse(env) => env.signatures.first().map_or(&[][..], Vec::as_slice),
        }
    }
}

/// A Merkle inclusion proof with its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InclusionProof {
    /// Index of the entry in the tree the proof is for.
    pub log_index: u64,
    /// Root hash of that tree.
    pub root_hash: Vec<u8>,
    /// Size of that tree.
    pub tree_size: u64,
    /// Audit path, leaf to root.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint note (required from v0.2; v0.1 proofs may lack it, and then
    /// prove nothing).
    pub checkpoint: Option<String>,
}

/// One transparency log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlogEntry {
    /// The entry's global log index.
    pub log_index: u64,
    /// The log ID (SHA-256 of the log key for Rekor v1; the C2SP key hash for Rekor v2).
    pub log_id: Vec<u8>,
    /// Entry kind (`hashedrekord`, `dsse`, `intoto`).
    pub kind: String,
    /// Entry API version (`0.0.1`, `0.0.2`).
    pub version: String,
    /// Integration time (Unix seconds); only meaningful with an inclusion promise.
    pub integrated_time: Option<i64>,
    /// The signed entry timestamp.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// The inclusion proof.
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized entry body, as the log stores it.
    pub canonicalized_body: Vec<u8>,
}

/// A parsed Sigstore bundle whose structure follows its version's rules. Nothing is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bundle {
    /// The format version.
    pub version: BundleVersion,
    /// The verification material.
    pub material: Material,
    /// The signed content.
    pub content: Content,
    /// The transparency log entries (at least one).
    pub tlog_entries: Vec<TlogEntry>,
    /// DER `TimeStampResp` values from RFC 3161 timestamp authorities.
    pub rfc3161_timestamps: Vec<Vec<u8>>,
}

// The protobuf JSON shapes are `hallmark_sigstore::bundle`'s model; this module checks them.

fn err(field: impl Into<String>, reason: impl std::fmt::Display) -> VerifyError {
    VerifyError::parse(Document::Bundle, field, reason)
}

fn required<T>(v: Option<T>, field: &str) -> Result<T> {
    v.ok_or_else(|| err(field, "required field is missing"))
}

/// Decodes protobuf-JSON `bytes`, naming the field when it is not base64.
pub(crate) fn decode(b64: &B64, document: Document, field: &str) -> Result<Vec<u8>> {
    b64.decode()
        .map_err(|e| VerifyError::parse(document, field, format!("invalid base64: {e}")))
}

/// A protobuf-JSON `int64` that must not be negative.
fn unsigned(v: Int64, field: &str) -> Result<u64> {
    v.unsigned()
        .ok_or_else(|| err(field, format!("{} is negative", v.0)))
}

fn bytes(v: Option<B64>, field: &str) -> Result<Vec<u8>> {
    let b = decode(&required(v, field)?, Document::Bundle, field)?;
    if b.is_empty() {
        return Err(err(field, "must not be empty"));
    }
    Ok(b)
}

/// The protobuf `HashAlgorithm` enum name.
pub(crate) fn hash_algorithm(name: &str) -> Option<HashAlgorithm> {
    hallmark_sigstore::common::hash_algorithm_from_name(name)
}

impl Bundle {
    /// Parses a bundle.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] naming the field, for malformed JSON, an unknown media type,
    /// missing or doubled content, bad base64, negative indexes, or a structure its version
    /// forbids.
    pub fn from_json(json: &[u8]) -> Result<Bundle> {
        if json.len() > MAX_BUNDLE_BYTES {
            return Err(err(
                "$",
                format!("{} bytes, more than {MAX_BUNDLE_BYTES}", json.len()),
            ));
        }
        let raw = RawBundle::from_json(json).map_err(|e| err("$", e))?;
        let media_type = required(raw.media_type, "mediaType")?;
        let version = BundleVersion::from_media_type(&media_type).ok_or_else(|| {
            err(
                "mediaType",
                format!(
                    "unsupported bundle media type {:?}",
                    media_type.chars().take(100).collect::<String>()
                ),
            )
        })?;
        let vm = required(raw.verification_material, "verificationMaterial")?;
        let material = parse_material(version, &vm)?;
        let content = match (raw.message_signature, raw.dsse_envelope) {
            (Some(ms), None) => parse_message_signature(ms)?,
            (None, Some(env)) => Content::Dsse(parse_envelope(env)?),
            (Some(_), Some(_)) => {
                return Err(err(
                    "$",
                    "both messageSignature and dsseEnvelope are present",
                ));
            }
            (None, None) => {
                return Err(err(
                    "$",
                    "neither messageSignature nor dsseEnvelope is present",
                ));
            }
        };
        if vm.tlog_entries.is_empty() {
            return Err(err(
                "verificationMaterial.tlogEntries",
                "no transparency log entry",
            ));
        }
        if vm.tlog_entries.len() > MAX_ENTRIES {
            return Err(err(
                "verificationMaterial.tlogEntries",
                format!("{} entries, more than {MAX_ENTRIES}", vm.tlog_entries.len()),
            ));
        }
        let tlog_entries = vm
            .tlog_entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| parse_entry(version, i, e))
            .collect::<Result<Vec<_>>>()?;
        let stamps = vm
            .timestamp_verification_data
            .map(|t| t.rfc3161_timestamps)
            .unwrap_or_default();
        if stamps.len() > MAX_ENTRIES {
            return Err(err(
                "verificationMaterial.timestampVerificationData.rfc3161Timestamps",
                format!("{} timestamps, more than {MAX_ENTRIES}", stamps.len()),
            ));
        }
        let rfc3161_timestamps = stamps
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                bytes(
                    t.signed_timestamp,
                    &format!(
                        "verificationMaterial.timestampVerificationData.rfc3161Timestamps[{i}].signedTimestamp"
                    ),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bundle {
            version,
            material,
            content,
            tlog_entries,
            rfc3161_timestamps,
        })
    }
}

fn parse_material(version: BundleVersion, vm: &RawMaterial) -> Result<Material> {
    const VM: &str = "verificationMaterial";
    let present = [
        vm.public_key.is_some(),
        vm.x509_certificate_chain.is_some(),
        vm.certificate.is_some(),
    ];
    match present.iter().filter(|p| **p).count() {
        1 => {}
        0 => {
            return Err(err(
                VM,
                "none of publicKey, x509CertificateChain, certificate is present",
            ));
        }
        _ => {
            return Err(err(
                VM,
                "more than one of publicKey, x509CertificateChain, certificate is present",
            ));
        }
    }
    if let Some(pk) = &vm.public_key {
        return Ok(Material::PublicKey {
            hint: pk.hint.clone().filter(|h| !h.is_empty()),
        });
    }
    if let Some(cert) = &vm.certificate {
        let leaf = bytes(
            cert.raw_bytes.clone(),
            "verificationMaterial.certificate.rawBytes",
        )?;
        return Ok(Material::Certificate {
            leaf,
            chain: Vec::new(),
        });
    }
    let chain = vm
        .x509_certificate_chain
        .as_ref()
        .map(|c| &c.certificates[..])
        .unwrap_or_default();
    if version >= BundleVersion::V0_3 {
        return Err(err(
            "verificationMaterial.x509CertificateChain",
            "v0.3 bundles carry a single certificate, not a chain",
        ));
    }
    if chain.len() > MAX_ENTRIES {
        return Err(err(
            "verificationMaterial.x509CertificateChain.certificates",
            format!("{} certificates, more than {MAX_ENTRIES}", chain.len()),
        ));
    }
    let mut certs = chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            bytes(
                c.raw_bytes.clone(),
                &format!("verificationMaterial.x509CertificateChain.certificates[{i}].rawBytes"),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(err(
            "verificationMaterial.x509CertificateChain.certificates",
            "the certificate chain is empty",
        ));
    }
    let leaf = certs.remove(0);
    Ok(Material::Certificate { leaf, chain: certs })
}

fn parse_message_signature(ms: RawMessageSignature) -> Result<Content> {
    let signature = bytes(ms.signature, "messageSignature.signature")?;
    let digest = match ms.message_digest {
        None => None,
        Some(d) => {
            let name = required(d.algorithm, "messageSignature.messageDigest.algorithm")?;
            let alg = hash_algorithm(&name).ok_or_else(|| {
                err(
                    "messageSignature.messageDigest.algorithm",
                    format!("unsupported hash algorithm {name:?}"),
                )
            })?;
            let value = bytes(d.digest, "messageSignature.messageDigest.digest")?;
            if value.len() != alg.digest_len() {
                return Err(err(
                    "messageSignature.messageDigest.digest",
                    format!(
                        "{} bytes, want {} for {name}",
                        value.len(),
                        alg.digest_len()
                    ),
                ));
            }
            Some((alg, value))
        }
    };
    Ok(Content::MessageSignature { digest, signature })
}

fn parse_envelope(env: RawEnvelope) -> Result<Envelope> {
    let payload = decode(
        &required(env.payload, "dsseEnvelope.payload")?,
        Document::Bundle,
        "dsseEnvelope.payload",
    )?;
    let payload_type = required(env.payload_type, "dsseEnvelope.payloadType")?;
    if env.signatures.is_empty() {
        return Err(err(
            "dsseEnvelope.signatures",
            "the envelope has no signature",
        ));
    }
    if env.signatures.len() > MAX_ENTRIES {
        return Err(err(
            "dsseEnvelope.signatures",
            format!(
                "{} signatures, more than {MAX_ENTRIES}",
                env.signatures.len()
            ),
        ));
    }
    let signatures = env
        .signatures
        .into_iter()
        .enumerate()
        .map(|(i, s)| bytes(s.sig, &format!("dsseEnvelope.signatures[{i}].sig")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Envelope {
        payload,
        payload_type,
        signatures,
    })
}

fn parse_entry(version: BundleVersion, i: usize, e: RawEntry) -> Result<TlogEntry> {
    let f = |name: &str| format!("verificationMaterial.tlogEntries[{i}].{name}");
    // Proto3 JSON leaves out fields at their default: the first entry of a log has no
    // `logIndex` in the bundles sigstore-js writes.
    let log_index = e
        .log_index
        .map(|v| unsigned(v, &f("logIndex")))
        .transpose()?
        .unwrap_or(0);
    let log_id = bytes(required(e.log_id, &f("logId"))?.key_id, &f("logId.keyId"))?;
    let kv = required(e.kind_version, &f("kindVersion"))?;
    let kind = required(kv.kind, &f("kindVersion.kind"))?;
    let kind_version = required(kv.version, &f("kindVersion.version"))?;
    let integrated_time = match e.integrated_time {
        None | Some(Int64(0)) => None,
        Some(t) => Some(i64::try_from(unsigned(t, &f("integratedTime"))?).unwrap_or(i64::MAX)),
    };
    let signed_entry_timestamp = e
        .inclusion_promise
        .map(|p| {
            bytes(
                p.signed_entry_timestamp,
                &f("inclusionPromise.signedEntryTimestamp"),
            )
        })
        .transpose()?;
    let inclusion_proof = e
        .inclusion_proof
        .map(|p| parse_proof(version, i, p))
        .transpose()?;
    let canonicalized_body = bytes(e.canonicalized_body, &f("canonicalizedBody"))?;
    if version == BundleVersion::V0_1 && signed_entry_timestamp.is_none() {
        return Err(err(
            f("inclusionPromise"),
            "v0.1 bundles need an inclusion promise",
        ));
    }
    if version >= BundleVersion::V0_2 && inclusion_proof.is_none() {
        return Err(err(
            f("inclusionProof"),
            "v0.2 and later bundles need an inclusion proof",
        ));
    }
    Ok(TlogEntry {
        log_index,
        log_id,
        kind,
        version: kind_version,
        integrated_time,
        signed_entry_timestamp,
        inclusion_proof,
        canonicalized_body,
    })
}

fn parse_proof(version: BundleVersion, i: usize, p: RawProof) -> Result<InclusionProof> {
    let f = |name: &str| format!("verificationMaterial.tlogEntries[{i}].inclusionProof.{name}");
    // Absent means 0 (proto3 JSON), as for the entry's own index.
    let log_index = p
        .log_index
        .map(|v| unsigned(v, &f("logIndex")))
        .transpose()?
        .unwrap_or(0);
    let tree_size = unsigned(required(p.tree_size, &f("treeSize"))?, &f("treeSize"))?;
    let root_hash = bytes(p.root_hash, &f("rootHash"))?;
    if p.hashes.len() > 64 {
        return Err(err(
            f("hashes"),
            format!("{} hashes, more than 64", p.hashes.len()),
        ));
    }
    let hashes = p
        .hashes
        .iter()
        .enumerate()
        .map(|(j, h)| decode(h, Document::Bundle, &f(&format!("hashes[{j}]"))))
        .collect::<Result<Vec<_>>>()?;
    let checkpoint = p
        .checkpoint
        .and_then(|c| c.envelope)
        .filter(|c| !c.is_empty());
    if checkpoint.is_none() && version >= BundleVersion::V0_2 {
        return Err(err(
            f("checkpoint"),
            "v0.2 and later bundles need a checkpoint with the inclusion proof",
        ));
    }
    Ok(InclusionProof {
        log_index,
        root_hash,
        tree_size,
        hashes,
        checkpoint,
    })
}
