//! Rekor v2 (rekor-tiles) write API: the `CreateEntryRequest` a client posts to
//! `POST /api/v2/log/entries`, its verification into the canonical body the log stores, and the
//! `TransparencyLogEntry` the log answers with.
//!
//! Specification: the [rekor-tiles protos](https://github.com/sigstore/rekor-tiles/tree/main/api/proto/rekor/v2)
//! (`rekor_service.proto`, `entry.proto`: `CreateEntryRequest`; `hashedrekord.proto`:
//! `HashedRekordRequestV002`) in the protobuf JSON mapping: field names in lowerCamelCase or as
//! declared (snake_case), bytes in standard or URL-safe base64, unknown fields refused. The
//! stored body is [`CanonicalBody`]: JCS of the protojson of the entry, which is what sigstore-go
//! recomputes from a bundle.
//!
//! Only `hashedRekordRequestV002` is accepted. `dsseRequestV002` is refused with a message that
//! says what to send instead: rekor-tiles dropped it in v2.3.0, and sigstore-python 4.5.1 and
//! sigstore-go >= 1.2 refuse to verify `dsse` v0.0.2 entries, so a log that took them would hand
//! out bundles that current verifiers reject. A DSSE envelope goes in as a hashedrekord over
//! SHA-256 of its PAE (sigstore-python >= 4.3, cosign >= 3.1); the Rekor v1 API still takes
//! `dsse` entries.

use serde::{Deserialize, Serialize};

use crate::body::v2::{CanonicalBody, HashedRekordLogEntryV002, Signature, Verifier};
use crate::bundle::{Checkpoint, InclusionProof, KindVersion, TransparencyLogEntry};
use crate::common::{HashOutput, LogId, hash_algorithm_name};
use crate::crypto::KeyAlgorithm;
use crate::entry::{EntrySigner, MAX_INDEX_KEYS, MAX_SIGNATURE_B64};
use crate::error::{EntryError, Result};
use crate::key::{KeyType, MAX_VERIFIER_BYTES, Verifier as KeyVerifier};
use crate::protojson::{Base64, Int64, decode_lenient};
use crate::{HashAlgorithm, index};

/// Largest `CreateEntryRequest` accepted, in bytes (a certificate, a signature and a digest,
/// base64-encoded, with room to spare).
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;

const DIGEST: &str = "hashedRekordRequestV002.digest";
const CONTENT: &str = "hashedRekordRequestV002.signature.content";
const VERIFIER: &str = "hashedRekordRequestV002.signature.verifier";
const KEY_DETAILS: &str = "hashedRekordRequestV002.signature.verifier.keyDetails";

/// `CreateEntryRequest`: exactly one entry of its `oneof`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    /// A signature over a digest.
    #[serde(
        default,
        rename = "hashedRekordRequestV002",
        alias = "hashed_rekord_request_v002",
        skip_serializing_if = "Option::is_none"
    )]
    hashed_rekord: Option<HashedRekordRequestV002>,
    /// A DSSE envelope (deprecated; refused, see the module documentation).
    #[serde(
        default,
        rename = "dsseRequestV002",
        alias = "dsse_request_v002",
        skip_serializing
    )]
    dsse: Option<serde::de::IgnoredAny>,
}

/// `HashedRekordRequestV002`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HashedRekordRequestV002 {
    digest: Base64,
    signature: Signature,
}

/// A request whose signature verified: what the log stores and indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedRequest {
    /// The canonical body (JCS of the entry's protojson): the log leaf.
    pub canonical_body: Vec<u8>,
    /// The entry's one verifier (the certificate, or a bare key).
    pub signer: EntrySigner,
    /// Search-index keys: the digest, the key, the certificate's email and URI SANs.
    pub index_keys: Vec<String>,
}

/// The key types and digests a `keyDetails` name stands for, as rekor-tiles checks them.
fn key_details(name: &str) -> Result<(KeyType, HashAlgorithm, Option<u16>)> {
    let unsupported = |reason: &'static str| EntryError::UnsupportedKey {
        field: KEY_DETAILS,
        algorithm: "this keyDetails",
        reason,
    };
    Ok(match name {
        "PKIX_ECDSA_P256_SHA_256" => (KeyType::EcdsaP256, HashAlgorithm::Sha256, None),
        "PKIX_ECDSA_P384_SHA_384" => (KeyType::EcdsaP384, HashAlgorithm::Sha384, None),
        "PKIX_RSA_PKCS1V15_2048_SHA256" => (KeyType::Rsa, HashAlgorithm::Sha256, Some(2048)),
        "PKIX_RSA_PKCS1V15_3072_SHA256" => (KeyType::Rsa, HashAlgorithm::Sha256, Some(3072)),
        "PKIX_RSA_PKCS1V15_4096_SHA256" => (KeyType::Rsa, HashAlgorithm::Sha256, Some(4096)),
        "PKIX_ED25519" => {
            return Err(unsupported(
                "pure Ed25519 cannot sign a prehashed digest; Rekor v2 takes Ed25519 only as \
                 PKIX_ED25519_PH",
            ));
        }
        "PKIX_ED25519_PH" => {
            return Err(unsupported(
                "Ed25519ph is not accepted by this log; sign with ECDSA P-256 or P-384",
            ));
        }
        _ => {
            return Err(unsupported(
                "not a supported PublicKeyDetails name (PKIX_ECDSA_P256_SHA_256, \
                 PKIX_ECDSA_P384_SHA_384, PKIX_RSA_PKCS1V15_{2048,3072,4096}_SHA256)",
            ));
        }
    })
}

fn bytes(field: &'static str, b: &Base64) -> Result<Vec<u8>> {
    decode_lenient(b.as_str()).map_err(|e| EntryError::Base64 {
        field,
        reason: e.to_string(),
    })
}

impl CreateEntryRequest {
    /// A `hashedRekordRequestV002`: `signature` over `digest`, checked with `verifier` (for a
    /// DSSE envelope: the digest of its PAE and the envelope's signature).
    #[must_use]
    pub fn hashed_rekord(digest: &[u8], signature: &[u8], verifier: Verifier) -> Self {
        CreateEntryRequest {
            hashed_rekord: Some(HashedRekordRequestV002 {
                digest: Base64::encode(digest),
                signature: Signature {
                    content: Base64::encode(signature),
                    verifier,
                },
            }),
            dsse: None,
        }
    }

    /// The request's JSON.
    ///
    /// # Errors
    /// [`EntryError::Malformed`] if serde_json refuses the value (it does not for this type).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| EntryError::malformed("request", e.to_string()))
    }

    /// Parses the JSON body of `POST /api/v2/log/entries`.
    ///
    /// # Errors
    /// [`EntryError::TooLarge`] above [`MAX_REQUEST_BYTES`], [`EntryError::Malformed`] for JSON
    /// that is not a `CreateEntryRequest` (unknown fields included), and
    /// [`EntryError::UnsupportedKind`] for `dsseRequestV002` or an empty request.
    pub fn parse(body: &[u8]) -> Result<CreateEntryRequest> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(EntryError::TooLarge {
                field: "body",
                size: body.len(),
                limit: MAX_REQUEST_BYTES,
            });
        }
        let req: CreateEntryRequest = serde_json::from_slice(body)
            .map_err(|e| EntryError::malformed("body", e.to_string()))?;
        match (&req.hashed_rekord, &req.dsse) {
            (Some(_), None) => Ok(req),
            (None, Some(_)) => Err(EntryError::UnsupportedKind {
                kind: "dsseRequestV002 (deprecated: rekor-tiles v2.3.0 dropped it and current \
                       verifiers refuse dsse v0.0.2 entries; send the envelope as a \
                       hashedRekordRequestV002 whose digest is SHA-256 of its PAE, as \
                       sigstore-python >= 4.3 and cosign >= 3.1 do, or use the Rekor v1 API)"
                    .to_owned(),
            }),
            _ => Err(EntryError::malformed(
                "body",
                "exactly one of hashedRekordRequestV002 and dsseRequestV002 must be set",
            )),
        }
    }

    /// Checks the request as rekor-tiles does (the digest's length against `keyDetails`, the
    /// verifier's key against `keyDetails`, the signature over the digest) and builds the
    /// canonical body.
    ///
    /// # Errors
    /// [`EntryError::UnsupportedKey`] for key types this log does not take,
    /// [`EntryError::BadPublicKey`] for an unreadable certificate or key,
    /// [`EntryError::Malformed`] for a digest of the wrong length or a verifier that is neither
    /// or both of a certificate and a key, [`EntryError::BadSignature`] when it does not verify.
    pub fn verify(&self) -> Result<VerifiedRequest> {
        let Some(h) = &self.hashed_rekord else {
            return Err(EntryError::MissingField {
                field: "hashedRekordRequestV002",
            });
        };
        let v = &h.signature.verifier;
        let (key_type, hash, rsa_bits) = key_details(&v.key_details)?;
        let digest = bytes(DIGEST, &h.digest)?;
        if digest.len() != hash.digest_len() {
            return Err(EntryError::malformed(
                DIGEST,
                format!(
                    "{} bytes, but {} calls for a {}-byte {} digest",
                    digest.len(),
                    v.key_details,
                    hash.digest_len(),
                    hash.name()
                ),
            ));
        }
        if h.signature.content.as_str().len() > MAX_SIGNATURE_B64 {
            return Err(EntryError::TooLarge {
                field: CONTENT,
                size: h.signature.content.as_str().len(),
                limit: MAX_SIGNATURE_B64,
            });
        }
        let signature = bytes(CONTENT, &h.signature.content)?;
        let raw = |b: &Base64, field: &'static str| -> Result<Vec<u8>> {
            if b.as_str().len() > MAX_VERIFIER_BYTES * 4 / 3 + 4 {
                return Err(EntryError::TooLarge {
                    field,
                    size: b.as_str().len(),
                    limit: MAX_VERIFIER_BYTES * 4 / 3 + 4,
                });
            }
            bytes(field, b)
        };
        let verifier = match (&v.x509_certificate, &v.public_key) {
            (Some(cert), None) => {
                const F: &str = "hashedRekordRequestV002.signature.verifier.x509Certificate";
                let der = cert
                    .raw_bytes
                    .as_ref()
                    .ok_or(EntryError::MissingField { field: F })?;
                KeyVerifier::from_certificate_der(F, raw(der, F)?)?
            }
            (None, Some(pk)) => {
                const F: &str = "hashedRekordRequestV002.signature.verifier.publicKey";
                KeyVerifier::from_spki_der(F, raw(&pk.raw_bytes, F)?)?
            }
            _ => {
                return Err(EntryError::malformed(
                    VERIFIER,
                    "exactly one of x509Certificate and publicKey must be set",
                ));
            }
        };
        let algorithm = verifier.key.algorithm();
        let matches = verifier.key_type == key_type
            && match (algorithm, rsa_bits) {
                (KeyAlgorithm::Rsa { bits }, Some(want)) => bits == want,
                _ => true,
            };
        if !matches {
            return Err(EntryError::malformed(
                KEY_DETAILS,
                format!(
                    "{} does not describe the verifier's {algorithm} key",
                    v.key_details
                ),
            ));
        }
        verifier.verify_digest(VERIFIER, hash, &digest, &signature, (DIGEST, CONTENT))?;

        // The stored entry, as rekor-tiles writes it: the digest with its algorithm, the
        // signature and verifier as sent (re-encoded canonically).
        let body = CanonicalBody::HashedRekord(HashedRekordLogEntryV002 {
            data: HashOutput {
                algorithm: Some(hash_algorithm_name(hash).to_owned()),
                digest: Some(Base64::encode(&digest)),
            },
            signature: Signature {
                content: Base64::encode(&signature),
                verifier: match &verifier.certificate_der {
                    Some(der) => Verifier {
                        key_details: v.key_details.clone(),
                        public_key: None,
                        x509_certificate: Some(crate::common::X509Certificate::from_der(der)),
                    },
                    None => Verifier {
                        key_details: v.key_details.clone(),
                        public_key: Some(crate::body::v2::PublicKey {
                            raw_bytes: Base64::encode(&verifier.spki_der),
                        }),
                        x509_certificate: None,
                    },
                },
            },
        });
        let mut index_keys = vec![index::digest_key(hash, &hex::encode(&digest))];
        index::verifier_keys(&verifier, &mut index_keys);
        index_keys.sort();
        index_keys.dedup();
        if index_keys.len() > MAX_INDEX_KEYS {
            return Err(EntryError::TooManyIndexKeys {
                count: index_keys.len(),
                limit: MAX_INDEX_KEYS,
            });
        }
        Ok(VerifiedRequest {
            canonical_body: body.to_json()?,
            signer: EntrySigner::new(verifier.certificate_der.clone(), verifier.spki_der.clone()),
            index_keys,
        })
    }
}

/// The parts of a Rekor v2 answer.
#[derive(Clone, Copy, Debug)]
pub struct LogEntryParts<'a> {
    /// The entry's index.
    pub log_index: u64,
    /// The log's key ID: SHA-256 of its DER SPKI (ECDSA), the full 32 bytes.
    pub key_id: &'a [u8],
    /// The stored canonical body.
    pub canonical_body: &'a [u8],
    /// Inclusion proof hashes, leaf to root.
    pub hashes: &'a [[u8; 32]],
    /// Root of the tree the proof ends in.
    pub root_hash: &'a [u8; 32],
    /// Size of that tree.
    pub tree_size: u64,
    /// The signed checkpoint for that tree.
    pub checkpoint: &'a str,
}

/// The `TransparencyLogEntry` a Rekor v2 log answers with: every field set (zero values
/// included, as protojson with `EmitUnpopulated` writes them: `integratedTime` `"0"`), no
/// inclusion promise.
#[must_use]
pub fn log_entry(p: &LogEntryParts<'_>) -> TransparencyLogEntry {
    TransparencyLogEntry {
        canonicalized_body: Some(Base64::encode(p.canonical_body)),
        inclusion_promise: None,
        inclusion_proof: Some(InclusionProof {
            checkpoint: Some(Checkpoint {
                envelope: Some(p.checkpoint.to_owned()),
            }),
            hashes: p.hashes.iter().map(|h| Base64::encode(h)).collect(),
            log_index: Some(Int64::from(p.log_index)),
            root_hash: Some(Base64::encode(p.root_hash)),
            tree_size: Some(Int64::from(p.tree_size)),
        }),
        integrated_time: Some(Int64(0)),
        kind_version: Some(KindVersion {
            kind: Some("hashedrekord".to_owned()),
            version: Some(crate::body::v2::API_VERSION.to_owned()),
        }),
        log_id: Some(LogId::new(p.key_id)),
        log_index: Some(Int64::from(p.log_index)),
    }
}
