//! Rekor v1 entry documents as serde types: the proposed entries a client sends to
//! `POST /api/v1/log/entries` (built here, parsed field by field by [`crate::ProposedEntry::parse`])
//! and the canonical bodies the log stores (built by [`crate::ProposedEntry::verify`], parsed by
//! [`CanonicalBody::parse`] for verifiers that match a bundle against its entry).
//!
//! Canonical bodies are RFC 8785 JSON: struct fields are declared in RFC 8785 key order (keys
//! sorted by UTF-16 code units; all keys here are ASCII) and every value Hallmark writes is an
//! ASCII string without characters that need escaping, so serde_json's compact output is the JCS
//! form byte for byte. Reading, unknown fields are tolerated (the body is the log's JSON and its
//! leaf hash is what a proof covers) and duplicate fields are not (serde refuses them).
//!
//! A canonical body differs from the proposed entry it came from: `hashedrekord` only in key
//! order; `dsse` replaces `proposedContent` by the computed `envelopeHash`, `payloadHash` and the
//! verified (signature, verifier) pairs; `intoto` drops the envelope's payload and adds the
//! computed `payloadHash`, keeping `sig` and `publicKey` as sent (base64 of the DSSE base64 text:
//! see [`b64_candidates`]).
//!
//! Rekor v2's bodies (`hashedrekord` / `dsse` v0.0.2) are in [`v2`].

pub mod v2;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::bundle::Envelope;
use crate::error::{EntryError, Result};
use crate::{EntryKind, HashAlgorithm, decode_b64};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A Rekor v1 document: `{"apiVersion", "kind", "spec"}`, for a proposed entry or a canonical
/// body.
///
/// The structs of this module are the schemas' fields, all public: not `#[non_exhaustive]`, so
/// that callers and tests can write any document, including ones the log must refuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body<'a, S> {
    /// The entry type's version (`0.0.1`, `0.0.2`).
    #[serde(rename = "apiVersion")]
    pub api_version: Cow<'a, str>,
    /// The entry type (`hashedrekord`, `dsse`, `intoto`).
    pub kind: Cow<'a, str>,
    /// The type's content.
    pub spec: S,
}

impl<'a, S> Body<'a, S> {
    /// The document of an entry `kind` (with its one implemented version) holding `spec`.
    #[must_use]
    pub fn new(kind: EntryKind, spec: S) -> Self {
        Body {
            api_version: kind.api_version().into(),
            kind: kind.as_str().into(),
            spec,
        }
    }

    /// Compact JSON (the JCS form for the canonical bodies of this module).
    ///
    /// # Errors
    ///
    /// [`EntryError::Malformed`] if serde_json refuses the value (it does not for this module's
    /// types).
    pub fn to_json(&self) -> Result<Vec<u8>>
    where
        S: Serialize,
    {
        serde_json::to_vec(self).map_err(|e| EntryError::malformed("body", e.to_string()))
    }
}

impl<'a> Body<'a, HashedRekordSpec<'a>> {
    /// A `hashedrekord` v0.0.1 proposed entry: `signature` over the artifact `digest`, checked
    /// with the key of `verifier_pem` (a PEM certificate or public key).
    #[must_use]
    pub fn hashedrekord(
        signature: &[u8],
        verifier_pem: &[u8],
        algorithm: HashAlgorithm,
        digest: &[u8],
    ) -> Self {
        Body::new(
            EntryKind::HashedRekord,
            HashedRekordSpec {
                data: HashedRekordData {
                    hash: AlgValue {
                        algorithm: algorithm.name().into(),
                        value: hex::encode(digest).into(),
                    },
                },
                signature: HashedRekordSignature {
                    content: STANDARD.encode(signature).into(),
                    public_key: Content {
                        content: STANDARD.encode(verifier_pem).into(),
                    },
                },
            },
        )
    }
}

impl<'a> Body<'a, DsseProposedSpec<'a>> {
    /// A `dsse` v0.0.1 proposed entry: `envelope` and the PEM certificates or public keys
    /// (`verifiers_pem`) its signatures are checked with.
    ///
    /// # Errors
    ///
    /// [`EntryError::Malformed`] if the envelope cannot be written as JSON (it always can).
    pub fn dsse(envelope: &Envelope, verifiers_pem: &[&[u8]]) -> Result<Self> {
        let envelope = serde_json::to_string(envelope)
            .map_err(|e| EntryError::malformed("spec.proposedContent.envelope", e.to_string()))?;
        Ok(Body::new(
            EntryKind::Dsse,
            DsseProposedSpec {
                proposed_content: DsseProposedContent {
                    envelope: envelope.into(),
                    verifiers: verifiers_pem
                        .iter()
                        .map(|pem| STANDARD.encode(pem).into())
                        .collect(),
                },
            },
        ))
    }
}

/// `{"algorithm", "value"}`: a digest, its value in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgValue<'a> {
    /// The hash algorithm's Rekor name (`sha256`, ...).
    pub algorithm: Cow<'a, str>,
    /// The digest, hex.
    pub value: Cow<'a, str>,
}

impl<'a> AlgValue<'a> {
    /// A digest from its parts.
    #[must_use]
    pub fn new(algorithm: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        AlgValue {
            algorithm: algorithm.into(),
            value: value.into(),
        }
    }

    /// The algorithm and digest bytes.
    ///
    /// # Errors
    ///
    /// [`EntryError::UnsupportedHash`] or [`EntryError::Hex`] (the value has the wrong length or
    /// is not hex), naming `field`.
    pub fn digest(&self, field: &'static str) -> Result<(HashAlgorithm, Vec<u8>)> {
        let alg = HashAlgorithm::from_name(&self.algorithm).ok_or_else(|| {
            EntryError::UnsupportedHash {
                field,
                algorithm: self.algorithm.chars().take(32).collect(),
            }
        })?;
        let bad = || EntryError::Hex {
            field,
            expected_len: alg.digest_len() * 2,
        };
        let v = hex::decode(self.value.as_bytes()).map_err(|_| bad())?;
        if v.len() != alg.digest_len() {
            return Err(bad());
        }
        Ok((alg, v))
    }
}

/// `{"content"}`: a verifier, base64 of PEM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content<'a> {
    /// Base64 of a PEM certificate or public key.
    pub content: Cow<'a, str>,
}

/// `hashedrekord` v0.0.1 spec: the same fields in the proposed entry and the canonical body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedRekordSpec<'a> {
    /// The artifact.
    pub data: HashedRekordData<'a>,
    /// Its signature and verifier.
    pub signature: HashedRekordSignature<'a>,
}

/// `hashedrekord` `spec.data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedRekordData<'a> {
    /// The artifact digest.
    pub hash: AlgValue<'a>,
}

/// `hashedrekord` `spec.signature`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedRekordSignature<'a> {
    /// The signature over the digest, base64.
    pub content: Cow<'a, str>,
    /// The verifier.
    #[serde(rename = "publicKey")]
    pub public_key: Content<'a>,
}

/// `dsse` v0.0.1 spec of a proposed entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsseProposedSpec<'a> {
    /// The envelope and its verifiers.
    #[serde(rename = "proposedContent")]
    pub proposed_content: DsseProposedContent<'a>,
}

/// `dsse` `spec.proposedContent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsseProposedContent<'a> {
    /// The DSSE envelope's JSON text (hashed as sent for `envelopeHash`).
    pub envelope: Cow<'a, str>,
    /// Base64 of each PEM certificate or public key.
    pub verifiers: Vec<Cow<'a, str>>,
}

/// `dsse` v0.0.1 spec of a canonical body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsseSpec<'a> {
    /// SHA-256 of the envelope JSON as proposed (Hallmark always writes it).
    #[serde(
        rename = "envelopeHash",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub envelope_hash: Option<AlgValue<'a>>,
    /// SHA-256 of the envelope's payload.
    #[serde(rename = "payloadHash")]
    pub payload_hash: AlgValue<'a>,
    /// The distinct signatures, each with the verifier that verified it.
    pub signatures: Vec<DsseSignature<'a>>,
}

/// One signature of a canonical `dsse` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsseSignature<'a> {
    /// The signature as in the envelope (base64).
    pub signature: Cow<'a, str>,
    /// Base64 of the PEM certificate or public key that verified it.
    pub verifier: Cow<'a, str>,
}

/// `intoto` v0.0.2 spec of a canonical body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntotoSpec<'a> {
    /// The envelope and its hashes.
    pub content: IntotoContent<'a>,
}

/// `intoto` `spec.content` of a canonical body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntotoContent<'a> {
    /// The envelope without its payload.
    pub envelope: IntotoEnvelope<'a>,
    /// The client's digest of its serialized envelope, echoed (Hallmark always writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<AlgValue<'a>>,
    /// SHA-256 of the payload, computed by the log.
    #[serde(rename = "payloadHash")]
    pub payload_hash: AlgValue<'a>,
}

/// `intoto` `spec.content.envelope` of a canonical body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntotoEnvelope<'a> {
    /// The payload, when a log keeps it (Hallmark does not); see [`b64_candidates`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Cow<'a, str>>,
    /// The payload type.
    #[serde(rename = "payloadType")]
    pub payload_type: Cow<'a, str>,
    /// The signatures.
    pub signatures: Vec<IntotoSignature<'a>>,
}

/// One signature of an `intoto` envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntotoSignature<'a> {
    /// An unauthenticated key hint (omitted when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<Cow<'a, str>>,
    /// Base64 of the PEM certificate or public key.
    #[serde(rename = "publicKey")]
    pub public_key: Cow<'a, str>,
    /// The signature as sent; see [`b64_candidates`].
    pub sig: Cow<'a, str>,
}

/// A parsed canonical body of one of the entry types Hallmark implements.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalBody {
    /// `hashedrekord` v0.0.1.
    HashedRekord(HashedRekordSpec<'static>),
    /// `dsse` v0.0.1.
    Dsse(DsseSpec<'static>),
    /// `intoto` v0.0.2.
    Intoto(IntotoSpec<'static>),
}

impl CanonicalBody {
    /// Parses a Rekor v1 canonical body (a log leaf, a bundle's `canonicalizedBody`).
    ///
    /// # Errors
    ///
    /// [`EntryError::Malformed`] for JSON that is not such a body,
    /// [`EntryError::UnsupportedKind`] / [`EntryError::UnsupportedVersion`] for other types.
    pub fn parse(body: &[u8]) -> Result<CanonicalBody> {
        let head: Body<'static, serde::de::IgnoredAny> = from_json(body)?;
        let kind = EntryKind::from_wire(&head.kind, &head.api_version)?;
        Ok(match kind {
            EntryKind::HashedRekord => {
                CanonicalBody::HashedRekord(from_json::<Body<_>>(body)?.spec)
            }
            EntryKind::Dsse => CanonicalBody::Dsse(from_json::<Body<_>>(body)?.spec),
            EntryKind::Intoto => CanonicalBody::Intoto(from_json::<Body<_>>(body)?.spec),
        })
    }

    /// The entry type.
    #[must_use]
    pub fn kind(&self) -> EntryKind {
        match self {
            CanonicalBody::HashedRekord(_) => EntryKind::HashedRekord,
            CanonicalBody::Dsse(_) => EntryKind::Dsse,
            CanonicalBody::Intoto(_) => EntryKind::Intoto,
        }
    }
}

/// What a logged body says about who signed what: the signers' certificates and the signed
/// digest, as an auditor watching the log for an identity reads it. Bodies of both log APIs give
/// one ([`CanonicalBody::signing`], [`v2::CanonicalBody::signing`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signing {
    /// The entry type (`hashedrekord`, `dsse`, `intoto`).
    pub kind: &'static str,
    /// Each verifier that is a certificate, DER (bare public keys are not listed).
    pub certificates: Vec<Vec<u8>>,
    /// The signed digest: the artifact's for `hashedrekord` (of a DSSE envelope's PAE when it
    /// holds an attestation), the payload's for `dsse` and `intoto`.
    pub digest: (HashAlgorithm, Vec<u8>),
}

impl CanonicalBody {
    /// Who signed what, by this body.
    ///
    /// # Errors
    /// [`EntryError::Base64`], [`EntryError::BadPublicKey`] (a verifier that is not base64 of
    /// PEM), [`EntryError::Hex`] / [`EntryError::UnsupportedHash`] (a digest).
    pub fn signing(&self) -> Result<Signing> {
        let (kind, verifiers, digest): (_, Vec<&str>, _) = match self {
            CanonicalBody::HashedRekord(h) => (
                "hashedrekord",
                vec![h.signature.public_key.content.as_ref()],
                h.data.hash.digest("spec.data.hash")?,
            ),
            CanonicalBody::Dsse(d) => (
                "dsse",
                d.signatures.iter().map(|s| s.verifier.as_ref()).collect(),
                d.payload_hash.digest("spec.payloadHash")?,
            ),
            CanonicalBody::Intoto(i) => (
                "intoto",
                i.content
                    .envelope
                    .signatures
                    .iter()
                    .map(|s| s.public_key.as_ref())
                    .collect(),
                i.content.payload_hash.digest("spec.content.payloadHash")?,
            ),
        };
        let mut certificates = Vec::new();
        for v in verifiers {
            let pem = pem_verifier(v)?;
            let blocks = crate::pem::decode_all(&pem).map_err(|e| EntryError::BadPublicKey {
                field: "verifier",
                reason: e.to_string(),
            })?;
            certificates.extend(
                blocks
                    .into_iter()
                    .filter(|b| b.label == "CERTIFICATE")
                    .take(1)
                    .map(|b| b.der),
            );
        }
        Ok(Signing {
            kind,
            certificates,
            digest,
        })
    }
}

/// The PEM text of a verifier field: base64 of PEM, or (intoto, as sigstore-js writes it) base64
/// of the base64 of PEM.
fn pem_verifier(field: &str) -> Result<Vec<u8>> {
    let once = decode_b64("verifier", field)?;
    if once.starts_with(b"-----") {
        return Ok(once);
    }
    let text = std::str::from_utf8(&once).map_err(|_| EntryError::BadPublicKey {
        field: "verifier",
        reason: "neither PEM nor base64 of PEM".to_owned(),
    })?;
    crate::decode_b64_lenient("verifier", text.trim())
}

fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| EntryError::malformed("body", e.to_string()))
}

/// Rekor's intoto v0.0.2 fields `payload` and `sig` are `strfmt.Base64` holding the DSSE base64
/// text, so clients (sigstore-js) encode them twice. Returns the candidate decodings: the
/// double-encoded reading first (when the once-decoded bytes are themselves base64), then the
/// single one.
///
/// # Errors
///
/// [`EntryError::Base64`] (naming `field`) when `s` is not standard base64.
pub fn b64_candidates(field: &'static str, s: &str) -> Result<Vec<Vec<u8>>> {
    let once = decode_b64(field, s)?;
    let mut out = Vec::with_capacity(2);
    if let Ok(text) = std::str::from_utf8(&once)
        && let Ok(twice) = crate::decode_b64_lenient(field, text)
    {
        out.push(twice);
    }
    out.push(once);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const CERT_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
    const KEY_PEM: &[u8] = b"-----BEGIN PUBLIC KEY-----\nBAUG\n-----END PUBLIC KEY-----\n";

    #[test]
    fn hashedrekord_signing_names_the_certificate_and_digest() {
        let json = Body::hashedrekord(b"sig", CERT_PEM, HashAlgorithm::Sha256, &[7; 32])
            .to_json()
            .unwrap();
        let signing = CanonicalBody::parse(&json).unwrap().signing().unwrap();
        assert_eq!(signing.kind, "hashedrekord");
        assert_eq!(signing.certificates, vec![vec![1, 2, 3]]);
        assert_eq!(signing.digest, (HashAlgorithm::Sha256, vec![7; 32]));
    }

    #[test]
    fn bare_keys_are_not_certificates() {
        let json = Body::hashedrekord(b"sig", KEY_PEM, HashAlgorithm::Sha256, &[7; 32])
            .to_json()
            .unwrap();
        let signing = CanonicalBody::parse(&json).unwrap().signing().unwrap();
        assert!(signing.certificates.is_empty());
    }

    #[test]
    fn intoto_verifiers_encoded_twice_are_read() {
        let twice = STANDARD.encode(STANDARD.encode(CERT_PEM));
        let body = CanonicalBody::Intoto(IntotoSpec {
            content: IntotoContent {
                envelope: IntotoEnvelope {
                    payload: None,
                    payload_type: "application/vnd.in-toto+json".into(),
                    signatures: vec![IntotoSignature {
                        keyid: None,
                        public_key: twice.into(),
                        sig: "c2ln".into(),
                    }],
                },
                hash: None,
                payload_hash: AlgValue::new("sha256", hex::encode([9u8; 32])),
            },
        });
        let signing = body.signing().unwrap();
        assert_eq!(signing.kind, "intoto");
        assert_eq!(signing.certificates, vec![vec![1, 2, 3]]);
        assert_eq!(signing.digest.1, vec![9; 32]);
    }

    #[test]
    fn a_verifier_that_is_not_pem_is_an_error() {
        let json = Body::hashedrekord(b"sig", b"not pem at all", HashAlgorithm::Sha256, &[7; 32])
            .to_json()
            .unwrap();
        assert!(CanonicalBody::parse(&json).unwrap().signing().is_err());
    }
}
