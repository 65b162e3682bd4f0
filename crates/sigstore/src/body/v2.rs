//! Rekor v2 (rekor-tiles) canonical entry bodies: `hashedrekord` v0.0.2 and the deprecated `dsse`
//! v0.0.2, as a bundle's `canonicalizedBody` holds them and a Rekor v2 log writes them.
//!
//! Specification: the [rekor-tiles protos](https://github.com/sigstore/rekor-tiles/tree/main/api/proto/rekor/v2)
//! (`entry.proto`: `Entry`, `Spec`; `hashedrekord.proto`: `HashedRekordLogEntryV002`;
//! `dsse.proto`: `DSSELogEntryV002`; `verifier.proto`: `Signature`, `Verifier`, `PublicKey`), in
//! the protobuf JSON mapping. The log writes a body as JCS (RFC 8785) of that JSON: the structs
//! here declare their fields in JCS key order, so [`Body::to_json`] is the canonical form byte for
//! byte. Reading is strict (unknown fields are refused), as the clients' models are.

use serde::{Deserialize, Serialize};

use super::Body;
use crate::KeyType;
use crate::common::{HashOutput, X509Certificate, hash_algorithm_name};
use crate::error::{EntryError, Result};
use crate::protojson::Base64;

/// The `apiVersion` of both Rekor v2 entry types.
pub const API_VERSION: &str = "0.0.2";

/// `Spec`: the one entry of the body's `oneof`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A `dsse` v0.0.2 entry (deprecated: rekor-tiles v2.3.0 no longer accepts new ones).
    #[serde(rename = "dsseV002", skip_serializing_if = "Option::is_none")]
    pub dsse: Option<DsseLogEntryV002>,
    /// A `hashedrekord` v0.0.2 entry.
    #[serde(rename = "hashedRekordV002", skip_serializing_if = "Option::is_none")]
    pub hashed_rekord: Option<HashedRekordLogEntryV002>,
}

/// `HashedRekordLogEntryV002`: a signature over a digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashedRekordLogEntryV002 {
    /// The signed digest (of the artifact, or of a DSSE envelope's PAE).
    pub data: HashOutput,
    /// The signature and its verifier.
    pub signature: Signature,
}

/// `DSSELogEntryV002`: a DSSE envelope's payload digest and signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsseLogEntryV002 {
    /// The digest of the envelope's payload.
    #[serde(rename = "payloadHash")]
    pub payload_hash: HashOutput,
    /// The envelope's signatures, each with its verifier.
    pub signatures: Vec<Signature>,
}

/// `Signature`: signature bytes and what verifies them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signature.
    pub content: Base64,
    /// The key or certificate that verifies it.
    pub verifier: Verifier,
}

/// `Verifier`: a certificate or a public key (one of them), and the key's `PublicKeyDetails`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Verifier {
    /// The `PublicKeyDetails` name (`PKIX_ECDSA_P256_SHA_256`).
    #[serde(alias = "key_details")]
    pub key_details: String,
    /// A DER SubjectPublicKeyInfo, when the signer has no certificate.
    #[serde(alias = "public_key", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKey>,
    /// The signer's DER certificate.
    #[serde(alias = "x509_certificate", skip_serializing_if = "Option::is_none")]
    pub x509_certificate: Option<X509Certificate>,
}

/// `PublicKey` (rekor v2): a DER SubjectPublicKeyInfo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicKey {
    /// The DER SubjectPublicKeyInfo.
    #[serde(alias = "raw_bytes")]
    pub raw_bytes: Base64,
}

impl Verifier {
    /// A certificate verifier: the DER certificate and its key's type.
    #[must_use]
    pub fn certificate(der: &[u8], key_type: KeyType) -> Self {
        Verifier {
            key_details: key_type.key_details().to_owned(),
            public_key: None,
            x509_certificate: Some(X509Certificate::from_der(der)),
        }
    }

    /// A public-key verifier: the DER SubjectPublicKeyInfo and its type.
    #[must_use]
    pub fn public_key(spki_der: &[u8], key_type: KeyType) -> Self {
        Verifier {
            key_details: key_type.key_details().to_owned(),
            public_key: Some(PublicKey {
                raw_bytes: Base64::encode(spki_der),
            }),
            x509_certificate: None,
        }
    }
}

/// A parsed Rekor v2 canonical body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonicalBody {
    /// `hashedrekord` v0.0.2.
    HashedRekord(HashedRekordLogEntryV002),
    /// `dsse` v0.0.2.
    Dsse(DsseLogEntryV002),
}

impl CanonicalBody {
    /// A `hashedrekord` v0.0.2 body: `signature` over `digest` (an `algorithm` digest), checked
    /// with `verifier`.
    #[must_use]
    pub fn hashedrekord(
        algorithm: crate::HashAlgorithm,
        digest: &[u8],
        signature: &[u8],
        verifier: Verifier,
    ) -> Self {
        CanonicalBody::HashedRekord(HashedRekordLogEntryV002 {
            data: HashOutput {
                algorithm: Some(hash_algorithm_name(algorithm).to_owned()),
                digest: Some(Base64::encode(digest)),
            },
            signature: Signature {
                content: Base64::encode(signature),
                verifier,
            },
        })
    }

    /// The entry type's name (`hashedrekord`, `dsse`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            CanonicalBody::HashedRekord(_) => "hashedrekord",
            CanonicalBody::Dsse(_) => "dsse",
        }
    }

    /// The document `{"apiVersion": "0.0.2", "kind", "spec"}`.
    #[must_use]
    pub fn to_body(&self) -> Body<'static, Spec> {
        let spec = match self {
            CanonicalBody::HashedRekord(h) => Spec {
                hashed_rekord: Some(h.clone()),
                dsse: None,
            },
            CanonicalBody::Dsse(d) => Spec {
                hashed_rekord: None,
                dsse: Some(d.clone()),
            },
        };
        Body {
            api_version: API_VERSION.into(),
            kind: self.kind().into(),
            spec,
        }
    }

    /// The canonical (JCS) bytes the log stores and hashes.
    ///
    /// # Errors
    /// [`EntryError::Malformed`] if serde_json refuses the value (it does not for these types).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        self.to_body().to_json()
    }

    /// Parses a Rekor v2 canonical body (a bundle's `canonicalizedBody`).
    ///
    /// # Errors
    /// [`EntryError::Malformed`] for JSON that is not such a body (unknown fields included) or
    /// whose spec is not the one its `kind` names, [`EntryError::UnsupportedKind`] /
    /// [`EntryError::UnsupportedVersion`] for other types.
    pub fn parse(body: &[u8]) -> Result<CanonicalBody> {
        let doc: Body<'static, Spec> = serde_json::from_slice(body)
            .map_err(|e| EntryError::malformed("body", e.to_string()))?;
        let kind = match doc.kind.as_ref() {
            "hashedrekord" => "hashedrekord",
            "dsse" => "dsse",
            other => {
                return Err(EntryError::UnsupportedKind {
                    kind: other.to_owned(),
                });
            }
        };
        if doc.api_version != API_VERSION {
            return Err(EntryError::UnsupportedVersion {
                kind,
                version: doc.api_version.into_owned(),
                expected: API_VERSION,
            });
        }
        match (doc.spec.hashed_rekord, doc.spec.dsse, kind) {
            (Some(h), None, "hashedrekord") => Ok(CanonicalBody::HashedRekord(h)),
            (None, Some(d), "dsse") => Ok(CanonicalBody::Dsse(d)),
            _ => Err(EntryError::malformed(
                "spec",
                "the body's spec does not match its kind",
            )),
        }
    }
}

impl CanonicalBody {
    /// Who signed what, by this body (see [`super::Signing`]).
    ///
    /// # Errors
    /// [`EntryError::Base64`] for a certificate or digest that is not base64,
    /// [`EntryError::UnsupportedHash`] / [`EntryError::MissingField`] for the digest.
    pub fn signing(&self) -> Result<super::Signing> {
        let (kind, signatures, digest) = match self {
            CanonicalBody::HashedRekord(h) => (
                "hashedrekord",
                std::slice::from_ref(&h.signature),
                (&h.data, "spec.hashedRekordV002.data"),
            ),
            CanonicalBody::Dsse(d) => (
                "dsse",
                d.signatures.as_slice(),
                (&d.payload_hash, "spec.dsseV002.payloadHash"),
            ),
        };
        let mut certificates = Vec::new();
        for sig in signatures {
            if let Some(raw) = sig
                .verifier
                .x509_certificate
                .as_ref()
                .and_then(|c| c.raw_bytes.as_ref())
            {
                certificates.push(raw.decode().map_err(|e| EntryError::Base64 {
                    field: "verifier.x509Certificate.rawBytes",
                    reason: e.to_string(),
                })?);
            }
        }
        let (output, field) = digest;
        let algorithm = output
            .algorithm
            .as_deref()
            .ok_or(EntryError::MissingField { field })?;
        let alg = crate::common::hash_algorithm_from_name(algorithm).ok_or_else(|| {
            EntryError::UnsupportedHash {
                field,
                algorithm: algorithm.chars().take(32).collect(),
            }
        })?;
        let value = output
            .digest
            .as_ref()
            .ok_or(EntryError::MissingField { field })?
            .decode()
            .map_err(|e| EntryError::Base64 {
                field,
                reason: e.to_string(),
            })?;
        Ok(super::Signing {
            kind,
            certificates,
            digest: (alg, value),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::HashAlgorithm;

    #[test]
    fn signing_names_the_certificate_and_digest() {
        let body = CanonicalBody::hashedrekord(
            HashAlgorithm::Sha384,
            &[0xbb; 48],
            b"sig",
            Verifier::certificate(b"cert", KeyType::EcdsaP256),
        );
        let signing = CanonicalBody::parse(&body.to_json().unwrap())
            .unwrap()
            .signing()
            .unwrap();
        assert_eq!(signing.kind, "hashedrekord");
        assert_eq!(signing.certificates, vec![b"cert".to_vec()]);
        assert_eq!(signing.digest, (HashAlgorithm::Sha384, vec![0xbb; 48]));
        let keyed = CanonicalBody::hashedrekord(
            HashAlgorithm::Sha256,
            &[1; 32],
            b"sig",
            Verifier::public_key(b"spki", KeyType::EcdsaP256),
        );
        assert!(keyed.signing().unwrap().certificates.is_empty());
    }

    /// The JCS bytes rekor-tiles writes for a hashedrekord v0.0.2 entry, built from the types and
    /// parsed back.
    #[test]
    fn hashedrekord_round_trips_in_canonical_form() {
        let body = CanonicalBody::hashedrekord(
            HashAlgorithm::Sha256,
            &[0xaa; 32],
            b"sig",
            Verifier::certificate(b"cert", KeyType::EcdsaP256),
        );
        let json = body.to_json().unwrap();
        let digest = Base64::encode(&[0xaa; 32]);
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            format!(
                r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"c2ln","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{{"rawBytes":"Y2VydA=="}}}}}}}}}}}}"#,
                digest.as_str()
            )
        );
        assert_eq!(CanonicalBody::parse(&json).unwrap(), body);
    }

    #[test]
    fn dsse_round_trips_and_mismatches_are_refused() {
        let body = CanonicalBody::Dsse(DsseLogEntryV002 {
            payload_hash: HashOutput {
                algorithm: Some("SHA2_256".into()),
                digest: Some(Base64::encode(&[1; 32])),
            },
            signatures: vec![Signature {
                content: Base64::encode(b"sig"),
                verifier: Verifier::public_key(b"spki", KeyType::Ed25519),
            }],
        });
        let json = body.to_json().unwrap();
        assert!(String::from_utf8(json.clone()).unwrap().starts_with(
            r#"{"apiVersion":"0.0.2","kind":"dsse","spec":{"dsseV002":{"payloadHash""#
        ));
        assert_eq!(CanonicalBody::parse(&json).unwrap(), body);

        // A dsse spec under kind hashedrekord, an unknown field, a v1 version.
        let mut doc = body.to_body();
        doc.kind = "hashedrekord".into();
        assert!(matches!(
            CanonicalBody::parse(&doc.to_json().unwrap()),
            Err(EntryError::Malformed { field: "spec", .. })
        ));
        let extra = String::from_utf8(json.clone())
            .unwrap()
            .replace(r#""payloadHash""#, r#""extra":1,"payloadHash""#);
        assert!(CanonicalBody::parse(extra.as_bytes()).is_err());
        let mut doc = body.to_body();
        doc.api_version = "0.0.1".into();
        assert!(matches!(
            CanonicalBody::parse(&doc.to_json().unwrap()),
            Err(EntryError::UnsupportedVersion { .. })
        ));
    }
}
