//! Messages the bundle and the trust documents share
//! ([`sigstore_common.proto`](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_common.proto)).
//!
//! Every model of this crate declares its fields in alphabetical order of their JSON names: a
//! document is then written with its keys sorted, byte for byte what the `serde_json::Value`
//! builders it replaced wrote (serde_json maps are sorted), and a written document is easy to
//! compare against a fixture.

use serde::{Deserialize, Serialize};

use crate::protojson::Base64;

/// `X509Certificate`: one DER certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct X509Certificate {
    /// The DER certificate.
    #[serde(alias = "raw_bytes", skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<Base64>,
}

impl X509Certificate {
    /// A certificate from its DER bytes.
    #[must_use]
    pub fn from_der(der: &[u8]) -> Self {
        X509Certificate {
            raw_bytes: Some(Base64::encode(der)),
        }
    }
}

/// `X509CertificateChain`: certificates, leaf (or issuing CA) first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X509CertificateChain {
    /// The certificates.
    #[serde(default)]
    pub certificates: Vec<X509Certificate>,
}

/// `LogId`: a log's key ID (SHA-256 of its DER SPKI for Rekor v1 and CT logs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogId {
    /// The key ID bytes.
    #[serde(alias = "key_id", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<Base64>,
}

impl LogId {
    /// A log ID from its bytes.
    #[must_use]
    pub fn new(key_id: &[u8]) -> Self {
        LogId {
            key_id: Some(Base64::encode(key_id)),
        }
    }
}

/// `HashOutput`: a digest and its algorithm (protobuf `HashAlgorithm` name, `SHA2_256`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashOutput {
    /// `SHA2_256`, `SHA2_384` or `SHA2_512`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// The digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Base64>,
}

/// The protobuf `HashAlgorithm` enum name of `alg` (`SHA2_256`).
#[must_use]
pub fn hash_algorithm_name(alg: crate::HashAlgorithm) -> &'static str {
    match alg {
        crate::HashAlgorithm::Sha256 => "SHA2_256",
        crate::HashAlgorithm::Sha384 => "SHA2_384",
        crate::HashAlgorithm::Sha512 => "SHA2_512",
    }
}

/// The algorithm a protobuf `HashAlgorithm` enum name stands for; `None` for others.
#[must_use]
pub fn hash_algorithm_from_name(name: &str) -> Option<crate::HashAlgorithm> {
    match name {
        "SHA2_256" => Some(crate::HashAlgorithm::Sha256),
        "SHA2_384" => Some(crate::HashAlgorithm::Sha384),
        "SHA2_512" => Some(crate::HashAlgorithm::Sha512),
        _ => None,
    }
}
