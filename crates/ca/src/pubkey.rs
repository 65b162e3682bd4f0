//! Public keys from requests and certificates: what type they are, whether Hallmark accepts
//! them, and signature verification (aws-lc-rs).

use std::fmt;

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, VerificationAlgorithm};
use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode, Sequence};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use crate::error::{CaError, Result};
use crate::oid;

/// Smallest RSA modulus Hallmark certifies, in bits.
pub const RSA_MIN_BITS: u16 = 2048;
/// Largest RSA modulus Hallmark certifies, in bits.
pub const RSA_MAX_BITS: u16 = 4096;

/// The type of a public key Hallmark certifies (leaf keys) or uses (CA keys: ECDSA only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with a modulus of `bits` bits ([`RSA_MIN_BITS`] to [`RSA_MAX_BITS`]).
    Rsa {
        /// Modulus size in bits.
        bits: u16,
    },
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyAlgorithm::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
        }
    }
}

impl KeyAlgorithm {
    /// Whether this is a CA key type (ECDSA P-256 or P-384).
    #[must_use]
    pub fn is_ca_key(self) -> bool {
        matches!(self, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384)
    }
}

/// PKCS#1 `RSAPublicKey`, to measure the modulus.
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// What a key is, or a description of the unsupported key it is (for error messages).
fn classify(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyAlgorithm, String> {
    let alg = &spki.algorithm;
    if alg.oid == oid::EC_PUBLIC_KEY {
        let curve = alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| "ECDSA key without a named curve".to_owned())?;
        return match curve {
            c if c == oid::SECP256R1 => Ok(KeyAlgorithm::EcdsaP256),
            c if c == oid::SECP384R1 => Ok(KeyAlgorithm::EcdsaP384),
            c if c == oid::SECP521R1 => Err("ECDSA P-521".to_owned()),
            c if c == oid::SECP256K1 => Err("ECDSA secp256k1".to_owned()),
            c => Err(format!("ECDSA on curve {c}")),
        };
    }
    if alg.oid == oid::ED25519 {
        if alg.parameters.is_some() {
            return Err("Ed25519 key with algorithm parameters".to_owned());
        }
        return Ok(KeyAlgorithm::Ed25519);
    }
    if alg.oid == oid::RSA_ENCRYPTION {
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| "RSA key with a partial-byte bit string".to_owned())?;
        let key = RsaPublicKey::from_der(bytes).map_err(|_| "malformed RSA key".to_owned())?;
        let modulus = key.modulus.as_bytes();
        let bits = match modulus.first() {
            None => 0,
            Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        };
        return match u16::try_from(bits) {
            Ok(bits) if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) => {
                if key.public_exponent.as_bytes().is_empty() {
                    Err("RSA key with a zero exponent".to_owned())
                } else {
                    Ok(KeyAlgorithm::Rsa { bits })
                }
            }
            _ => Err(format!("RSA-{bits}")),
        };
    }
    if alg.oid == oid::RSA_PSS {
        return Err("RSASSA-PSS-only RSA key".to_owned());
    }
    Err(format!("algorithm {}", oid::algorithm_name(&alg.oid)))
}

/// A decoded, supported public key.
#[derive(Debug)]
pub(crate) struct PublicKey<'a> {
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) spki: SubjectPublicKeyInfoRef<'a>,
    /// The key's canonical DER `SubjectPublicKeyInfo`.
    pub(crate) der: &'a [u8],
}

/// Decode a DER `SubjectPublicKeyInfo` from a request and check its type. `what` names the
/// input in errors.
pub(crate) fn decode_public_key<'a>(what: &'static str, der: &'a [u8]) -> Result<PublicKey<'a>> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| CaError::malformed(what, e))?;
    let algorithm = classify(&spki).map_err(|key| CaError::UnsupportedKey { what, key })?;
    Ok(PublicKey {
        algorithm,
        spki,
        der,
    })
}

/// The aws-lc-rs algorithm verifying an X.509 (or PKCS#10) signature `sig_alg` by `key`, if
/// Hallmark accepts the combination.
pub(crate) fn x509_algorithm(
    key: KeyAlgorithm,
    sig_alg: &AlgorithmIdentifierRef<'_>,
) -> Option<&'static dyn VerificationAlgorithm> {
    let params_absent = sig_alg.parameters.is_none();
    let params_absent_or_null = sig_alg.parameters.as_ref().is_none_or(|p| p.is_null());
    let o = sig_alg.oid;
    let alg: &'static dyn VerificationAlgorithm = match key {
        KeyAlgorithm::EcdsaP256 if params_absent => match o {
            _ if o == oid::ECDSA_WITH_SHA256 => &lc::ECDSA_P256_SHA256_ASN1,
            _ if o == oid::ECDSA_WITH_SHA384 => &lc::ECDSA_P256_SHA384_ASN1,
            _ if o == oid::ECDSA_WITH_SHA512 => &lc::ECDSA_P256_SHA512_ASN1,
            _ => return None,
        },
        KeyAlgorithm::EcdsaP384 if params_absent => match o {
            _ if o == oid::ECDSA_WITH_SHA256 => &lc::ECDSA_P384_SHA256_ASN1,
            _ if o == oid::ECDSA_WITH_SHA384 => &lc::ECDSA_P384_SHA384_ASN1,
            _ if o == oid::ECDSA_WITH_SHA512 => &lc::ECDSA_P384_SHA512_ASN1,
            _ => return None,
        },
        KeyAlgorithm::Ed25519 if params_absent && o == oid::ED25519 => &lc::ED25519,
        KeyAlgorithm::Rsa { .. } if params_absent_or_null => match o {
            _ if o == oid::SHA256_WITH_RSA => &lc::RSA_PKCS1_2048_8192_SHA256,
            _ if o == oid::SHA384_WITH_RSA => &lc::RSA_PKCS1_2048_8192_SHA384,
            _ if o == oid::SHA512_WITH_RSA => &lc::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        },
        _ => return None,
    };
    Some(alg)
}

/// The algorithm of a sigstore-js style proof of possession (a signature over the challenge):
/// what Fulcio's default verifier uses for the key type — ECDSA with SHA-256 for P-256 and
/// SHA-384 for P-384 (DER signatures), Ed25519, RSA PKCS#1 v1.5 with SHA-256.
pub(crate) fn proof_algorithm(key: KeyAlgorithm) -> &'static dyn VerificationAlgorithm {
    match key {
        KeyAlgorithm::EcdsaP256 => &lc::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::EcdsaP384 => &lc::ECDSA_P384_SHA384_ASN1,
        KeyAlgorithm::Ed25519 => &lc::ED25519,
        KeyAlgorithm::Rsa { .. } => &lc::RSA_PKCS1_2048_8192_SHA256,
    }
}

/// Parse (and so validate: point on curve, sane RSA) `key` for `alg`.
pub(crate) fn parse_for(
    what: &'static str,
    key: &PublicKey<'_>,
    alg: &'static dyn VerificationAlgorithm,
) -> Result<ParsedPublicKey> {
    ParsedPublicKey::new(alg, key.der).map_err(|_| CaError::InvalidKey {
        what,
        key: key.algorithm.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(KeyAlgorithm::Rsa { bits: 3072 }.to_string(), "RSA-3072");
        assert_eq!(KeyAlgorithm::EcdsaP384.to_string(), "ECDSA P-384");
        assert!(KeyAlgorithm::EcdsaP256.is_ca_key());
        assert!(!KeyAlgorithm::Ed25519.is_ca_key());
    }
}
