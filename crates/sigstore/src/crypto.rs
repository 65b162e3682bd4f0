//! Public keys and signature verification, with [aws-lc-rs](https://docs.rs/aws-lc-rs): what a
//! DER `SubjectPublicKeyInfo` holds ([`KeyAlgorithm`], [`KeyType`]), the signature schemes an
//! X.509 or CMS `AlgorithmIdentifier` names ([`Scheme`]), and checking a signature over a
//! message or a digest ([`PublicKey`]).
//!
//! This module knows which keys and schemes exist; which ones a caller accepts is the caller's
//! policy (the CA certifies RSA keys of 2048 to 4096 bits only, Rekor refuses ECDSA over a
//! digest longer than the curve, a verifier tries the schemes Sigstore clients sign with).

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as lc, ParsedPublicKey, VerificationAlgorithm};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use crate::HashAlgorithm;
use crate::oid;

/// The type of a public key, with the RSA modulus size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA with a modulus of `bits` bits.
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
    /// Whether this is a CA key type Sigstore clients accept (ECDSA P-256 or P-384).
    #[must_use]
    pub fn is_ca_key(self) -> bool {
        matches!(self, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384)
    }

    /// The key type, without the RSA size.
    #[must_use]
    pub fn key_type(self) -> KeyType {
        match self {
            KeyAlgorithm::EcdsaP256 => KeyType::EcdsaP256,
            KeyAlgorithm::EcdsaP384 => KeyType::EcdsaP384,
            KeyAlgorithm::Ed25519 => KeyType::Ed25519,
            KeyAlgorithm::Rsa { .. } => KeyType::Rsa,
        }
    }

    /// Classify a decoded `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    /// [`KeyError::Unsupported`] naming the key found (`"ECDSA P-521"`, `"ECDSA secp256k1"`,
    /// `"RSASSA-PSS-only RSA key"`, `"algorithm Ed448"`, ...).
    pub fn of_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyAlgorithm, KeyError> {
        let unsupported = |key: String| KeyError::Unsupported { key };
        let alg = &spki.algorithm;
        if alg.oid == oid::EC_PUBLIC_KEY {
            let curve = alg
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| unsupported("ECDSA key without a named curve".to_owned()))?;
            return match curve {
                c if c == oid::SECP256R1 => Ok(KeyAlgorithm::EcdsaP256),
                c if c == oid::SECP384R1 => Ok(KeyAlgorithm::EcdsaP384),
                c if c == oid::SECP521R1 => Err(unsupported("ECDSA P-521".to_owned())),
                c if c == oid::SECP256K1 => Err(unsupported("ECDSA secp256k1".to_owned())),
                c => Err(unsupported(format!("ECDSA on curve {c}"))),
            };
        }
        if alg.oid == oid::ED25519 {
            if alg.parameters.is_some() {
                return Err(unsupported(
                    "Ed25519 key with algorithm parameters".to_owned(),
                ));
            }
            return Ok(KeyAlgorithm::Ed25519);
        }
        if alg.oid == oid::RSA_ENCRYPTION {
            let bytes = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| unsupported("RSA key with a partial-byte bit string".to_owned()))?;
            let key = RsaPublicKey::from_der(bytes)
                .map_err(|_| unsupported("malformed RSA key".to_owned()))?;
            let modulus = key.modulus.as_bytes();
            let bits = match modulus.first() {
                None => 0,
                Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
            };
            if key.public_exponent.as_bytes().is_empty() {
                return Err(unsupported("RSA key with a zero exponent".to_owned()));
            }
            return u16::try_from(bits)
                .map(|bits| KeyAlgorithm::Rsa { bits })
                .map_err(|_| unsupported(format!("RSA-{bits}")));
        }
        if alg.oid == oid::RSA_PSS {
            return Err(unsupported("RSASSA-PSS-only RSA key".to_owned()));
        }
        Err(unsupported(format!(
            "algorithm {}",
            oid::algorithm_name(&alg.oid)
        )))
    }
}

/// The type of a public key as Sigstore's trust documents describe it (no RSA size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// RSA (aws-lc-rs verifies 2048 to 8192 bits).
    Rsa,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// A short name for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::EcdsaP384 => "ECDSA P-384",
            KeyType::Rsa => "RSA",
            KeyType::Ed25519 => "Ed25519",
        }
    }

    /// The sigstore protobuf `PublicKeyDetails` name for this key type, as used in trusted roots.
    /// RSA keys are described as 2048-bit PKCS#1 v1.5 with SHA-256.
    #[must_use]
    pub fn key_details(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
            KeyType::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
            KeyType::Rsa => "PKIX_RSA_PKCS1V15_2048_SHA256",
            KeyType::Ed25519 => "PKIX_ED25519",
        }
    }
}

/// PKCS#1 `RSAPublicKey`, to measure the modulus.
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1) as far as the hash goes.
#[derive(Sequence)]
struct PssParams<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierRef<'a>>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AnyRef<'a>>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<AnyRef<'a>>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<AnyRef<'a>>,
}

/// A public key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a DER `SubjectPublicKeyInfo` (or `RSAPublicKey`).
    #[error("not a DER public key: {source}")]
    Malformed {
        /// The decoder's error.
        #[source]
        source: der::Error,
    },
    /// A key of a type this module does not verify with.
    #[error("unsupported public key ({key})")]
    Unsupported {
        /// The key as found, e.g. `"ECDSA secp256k1"`.
        key: String,
    },
    /// A key of a supported type whose value is invalid (e.g. an Ed25519 key that is not 32
    /// bytes).
    #[error("invalid {key} public key")]
    Invalid {
        /// The key's type.
        key: KeyAlgorithm,
    },
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The scheme does not apply to the key (e.g. an RSA scheme for an ECDSA key, or a digest
    /// for Ed25519, which signs messages).
    #[error("{scheme} is not a signature scheme of a {key} key")]
    UnsupportedScheme {
        /// The key's type.
        key: KeyAlgorithm,
        /// The scheme.
        scheme: Scheme,
    },
    /// The key's value is rejected for this scheme (an EC point not on the curve, an RSA key
    /// outside 2048 to 8192 bits).
    #[error("the {key} public key is invalid for {scheme}")]
    InvalidKey {
        /// The key's type.
        key: KeyAlgorithm,
        /// The scheme.
        scheme: Scheme,
    },
    /// A digest of the wrong length for its algorithm.
    #[error("a {len}-byte value is not a {hash} digest", hash = hash.name())]
    DigestLength {
        /// The digest algorithm.
        hash: HashAlgorithm,
        /// The length found.
        len: usize,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Mismatch,
}

/// A signature scheme with its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// ECDSA, DER `ECDSA-Sig-Value` signatures.
    Ecdsa(HashAlgorithm),
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1(HashAlgorithm),
    /// RSASSA-PSS (MGF1 with the same hash, salt of the hash's length).
    RsaPss(HashAlgorithm),
    /// Ed25519 (pure, over the message).
    Ed25519,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Ecdsa(h) => write!(f, "ECDSA with {}", h.name()),
            Scheme::RsaPkcs1(h) => write!(f, "RSA PKCS#1 v1.5 with {}", h.name()),
            Scheme::RsaPss(h) => write!(f, "RSA-PSS with {}", h.name()),
            Scheme::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

impl Scheme {
    /// The scheme of a signature `AlgorithmIdentifier` (its DER). `digest` is a CMS
    /// `digestAlgorithm`, used when the signature algorithm names only the key type
    /// (rsaEncryption, id-ecPublicKey). `None` for an unknown algorithm, or RSA-PSS without a
    /// supported hash. Parameters are not checked except PSS's hash.
    #[must_use]
    pub fn from_algorithm_identifier(
        alg_der: &[u8],
        digest: Option<HashAlgorithm>,
    ) -> Option<Scheme> {
        let alg = AlgorithmIdentifierRef::from_der(alg_der).ok()?;
        Scheme::from_algorithm(&alg, digest)
    }

    /// [`Scheme::from_algorithm_identifier`] for a decoded identifier.
    #[must_use]
    pub fn from_algorithm(
        alg: &AlgorithmIdentifierRef<'_>,
        digest: Option<HashAlgorithm>,
    ) -> Option<Scheme> {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        Some(match alg.oid {
            oid::ECDSA_WITH_SHA256 => Scheme::Ecdsa(Sha256),
            oid::ECDSA_WITH_SHA384 => Scheme::Ecdsa(Sha384),
            oid::ECDSA_WITH_SHA512 => Scheme::Ecdsa(Sha512),
            oid::SHA256_WITH_RSA => Scheme::RsaPkcs1(Sha256),
            oid::SHA384_WITH_RSA => Scheme::RsaPkcs1(Sha384),
            oid::SHA512_WITH_RSA => Scheme::RsaPkcs1(Sha512),
            oid::ED25519 => Scheme::Ed25519,
            oid::RSA_ENCRYPTION => Scheme::RsaPkcs1(digest?),
            oid::EC_PUBLIC_KEY => Scheme::Ecdsa(digest?),
            oid::RSA_PSS => {
                // The default hash (SHA-1) is not supported.
                let params: PssParams<'_> = alg.parameters.as_ref()?.decode_as().ok()?;
                Scheme::RsaPss(hash_from_oid(&params.hash?.oid)?)
            }
            _ => return None,
        })
    }

    /// The hash this scheme signs with (`None` for Ed25519).
    #[must_use]
    pub fn hash(self) -> Option<HashAlgorithm> {
        match self {
            Scheme::Ecdsa(h) | Scheme::RsaPkcs1(h) | Scheme::RsaPss(h) => Some(h),
            Scheme::Ed25519 => None,
        }
    }
}

/// The hash algorithm named by a digest `AlgorithmIdentifier` OID.
#[must_use]
pub fn hash_from_oid(o: &ObjectIdentifier) -> Option<HashAlgorithm> {
    match *o {
        oid::SHA256 => Some(HashAlgorithm::Sha256),
        oid::SHA384 => Some(HashAlgorithm::Sha384),
        oid::SHA512 => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// The digest of `data`.
#[must_use]
pub fn hash(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    digest::digest(digest_algorithm(alg), data)
        .as_ref()
        .to_vec()
}

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

fn digest_algorithm(alg: HashAlgorithm) -> &'static digest::Algorithm {
    match alg {
        HashAlgorithm::Sha256 => &digest::SHA256,
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
    }
}

/// A public key of a supported type (ECDSA P-256/P-384, RSA, Ed25519), ready to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    spki_der: Vec<u8>,
    algorithm: KeyAlgorithm,
    /// What aws-lc-rs takes: the SPKI, except for Ed25519 (the raw 32-byte key).
    lc_bytes: Vec<u8>,
}

impl PublicKey {
    /// Parse a DER `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    /// [`KeyError::Malformed`], [`KeyError::Unsupported`], [`KeyError::Invalid`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|source| KeyError::Malformed { source })?;
        let algorithm = KeyAlgorithm::of_spki(&spki)?;
        let lc_bytes = if algorithm == KeyAlgorithm::Ed25519 {
            match spki.subject_public_key.as_bytes() {
                Some(raw) if raw.len() == 32 => raw.to_vec(),
                _ => return Err(KeyError::Invalid { key: algorithm }),
            }
        } else {
            der.to_vec()
        };
        Ok(PublicKey {
            spki_der: der.to_vec(),
            algorithm,
            lc_bytes,
        })
    }

    /// An RSA key given as a DER PKCS#1 `RSAPublicKey` (trusted roots' `PKCS1_RSA_PKCS1V5`).
    ///
    /// # Errors
    /// [`KeyError::Malformed`] and the errors of [`PublicKey::from_spki_der`].
    pub fn from_pkcs1_rsa(der: &[u8]) -> Result<Self, KeyError> {
        let malformed = |source| KeyError::Malformed { source };
        RsaPublicKey::from_der(der).map_err(malformed)?;
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            },
            subject_public_key: BitStringRef::from_bytes(der).map_err(malformed)?,
        };
        Self::from_spki_der(&spki.to_der().map_err(malformed)?)
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key's type, with the RSA size.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key's type.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.algorithm.key_type()
    }

    /// The aws-lc-rs algorithm of `scheme` for this key, parsed.
    fn parsed(&self, scheme: Scheme) -> Result<ParsedPublicKey, SignatureError> {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        let alg: &'static dyn VerificationAlgorithm = match (self.algorithm, scheme) {
            (KeyAlgorithm::EcdsaP256, Scheme::Ecdsa(Sha256)) => &lc::ECDSA_P256_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP256, Scheme::Ecdsa(Sha384)) => &lc::ECDSA_P256_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP256, Scheme::Ecdsa(Sha512)) => &lc::ECDSA_P256_SHA512_ASN1,
            (KeyAlgorithm::EcdsaP384, Scheme::Ecdsa(Sha256)) => &lc::ECDSA_P384_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP384, Scheme::Ecdsa(Sha384)) => &lc::ECDSA_P384_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP384, Scheme::Ecdsa(Sha512)) => &lc::ECDSA_P384_SHA512_ASN1,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPkcs1(Sha256)) => &lc::RSA_PKCS1_2048_8192_SHA256,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPkcs1(Sha384)) => &lc::RSA_PKCS1_2048_8192_SHA384,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPkcs1(Sha512)) => &lc::RSA_PKCS1_2048_8192_SHA512,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPss(Sha256)) => &lc::RSA_PSS_2048_8192_SHA256,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPss(Sha384)) => &lc::RSA_PSS_2048_8192_SHA384,
            (KeyAlgorithm::Rsa { .. }, Scheme::RsaPss(Sha512)) => &lc::RSA_PSS_2048_8192_SHA512,
            (KeyAlgorithm::Ed25519, Scheme::Ed25519) => &lc::ED25519,
            (key, scheme) => return Err(SignatureError::UnsupportedScheme { key, scheme }),
        };
        ParsedPublicKey::new(alg, &self.lc_bytes).map_err(|_| SignatureError::InvalidKey {
            key: self.algorithm,
            scheme,
        })
    }

    /// Verify `sig` over `msg` with `scheme`.
    ///
    /// # Errors
    /// [`SignatureError::UnsupportedScheme`], [`SignatureError::InvalidKey`],
    /// [`SignatureError::Mismatch`].
    pub fn verify(&self, scheme: Scheme, msg: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        self.parsed(scheme)?
            .verify_sig(msg, sig)
            .map_err(|_| SignatureError::Mismatch)
    }

    /// Whether `sig` verifies over `msg` with one of `schemes`.
    #[must_use]
    pub fn verifies_any(&self, schemes: &[Scheme], msg: &[u8], sig: &[u8]) -> bool {
        schemes.iter().any(|s| self.verify(*s, msg, sig).is_ok())
    }

    /// Verify `sig` over an already computed digest with `scheme` (Ed25519 cannot: it signs
    /// messages). Whether a digest longer than an ECDSA curve is acceptable is the caller's
    /// policy.
    ///
    /// # Errors
    /// [`SignatureError::UnsupportedScheme`], [`SignatureError::DigestLength`],
    /// [`SignatureError::InvalidKey`], [`SignatureError::Mismatch`].
    pub fn verify_prehashed(
        &self,
        scheme: Scheme,
        digest_bytes: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        let Some(hash) = scheme.hash() else {
            return Err(SignatureError::UnsupportedScheme {
                key: self.algorithm,
                scheme,
            });
        };
        let parsed = self.parsed(scheme)?;
        let d = digest::Digest::import_less_safe(digest_bytes, digest_algorithm(hash)).map_err(
            |_| SignatureError::DigestLength {
                hash,
                len: digest_bytes.len(),
            },
        )?;
        parsed
            .verify_digest_sig(&d, sig)
            .map_err(|_| SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names() {
        assert_eq!(KeyAlgorithm::Rsa { bits: 3072 }.to_string(), "RSA-3072");
        assert_eq!(KeyAlgorithm::EcdsaP384.to_string(), "ECDSA P-384");
        assert!(KeyAlgorithm::EcdsaP256.is_ca_key());
        assert!(!KeyAlgorithm::Ed25519.is_ca_key());
        assert_eq!(KeyAlgorithm::Rsa { bits: 2048 }.key_type(), KeyType::Rsa);
    }

    #[test]
    fn scheme_from_algorithm_identifier() {
        let ecdsa = AlgorithmIdentifierRef {
            oid: oid::ECDSA_WITH_SHA384,
            parameters: None,
        }
        .to_der()
        .unwrap();
        assert_eq!(
            Scheme::from_algorithm_identifier(&ecdsa, None),
            Some(Scheme::Ecdsa(HashAlgorithm::Sha384))
        );
        let rsa = AlgorithmIdentifierRef {
            oid: oid::RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        }
        .to_der()
        .unwrap();
        assert_eq!(Scheme::from_algorithm_identifier(&rsa, None), None);
        assert_eq!(
            Scheme::from_algorithm_identifier(&rsa, Some(HashAlgorithm::Sha512)),
            Some(Scheme::RsaPkcs1(HashAlgorithm::Sha512))
        );
        assert_eq!(Scheme::from_algorithm_identifier(b"junk", None), None);
    }
}
