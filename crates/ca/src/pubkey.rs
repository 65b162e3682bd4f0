//! Which public keys and signatures the CA accepts. Decoding, classification and verification
//! are the spec layer's ([`hallmark_sigstore::crypto`]); this module adds the CA's policy (RSA
//! 2048 to 4096 bits, the X.509 signature algorithms and parameters it verifies, the scheme of a
//! proof of possession) and turns failures into [`CaError`]s.

use hallmark_sigstore::HashAlgorithm;
use hallmark_sigstore::crypto::{KeyAlgorithm, KeyError, PublicKey, Scheme, SignatureError};
use spki::AlgorithmIdentifierRef;

use crate::error::{CaError, Result};

/// Smallest RSA modulus Hallmark certifies, in bits.
pub const RSA_MIN_BITS: u16 = 2048;
/// Largest RSA modulus Hallmark certifies, in bits.
pub const RSA_MAX_BITS: u16 = 4096;

/// Decode a DER `SubjectPublicKeyInfo` from a request and check that Hallmark certifies its
/// type. `what` names the input in errors.
pub(crate) fn decode_public_key(what: &'static str, der: &[u8]) -> Result<PublicKey> {
    let key = PublicKey::from_spki_der(der).map_err(|e| match e {
        KeyError::Unsupported { key } => CaError::UnsupportedKey { what, key },
        KeyError::Invalid { key } => CaError::InvalidKey {
            what,
            key: key.to_string(),
        },
        other => CaError::malformed(what, other),
    })?;
    match key.algorithm() {
        KeyAlgorithm::Rsa { bits } if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) => {
            Err(CaError::UnsupportedKey {
                what,
                key: key.algorithm().to_string(),
            })
        }
        _ => Ok(key),
    }
}

/// The scheme of an X.509 (or PKCS#10) signature algorithm `sig_alg` by a `key` key, if
/// Hallmark accepts the combination: ECDSA with SHA-256/384/512 and Ed25519 without parameters,
/// RSA PKCS#1 v1.5 with SHA-256/384/512 with absent or NULL parameters.
pub(crate) fn x509_scheme(
    key: KeyAlgorithm,
    sig_alg: &AlgorithmIdentifierRef<'_>,
) -> Option<Scheme> {
    let scheme = Scheme::from_algorithm(sig_alg, None)?;
    let params_absent = sig_alg.parameters.is_none();
    let params_absent_or_null = sig_alg.parameters.as_ref().is_none_or(|p| p.is_null());
    let accepted = match (key, scheme) {
        (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, Scheme::Ecdsa(_))
        | (KeyAlgorithm::Ed25519, Scheme::Ed25519) => params_absent,
        (KeyAlgorithm::Rsa { .. }, Scheme::RsaPkcs1(_)) => params_absent_or_null,
        _ => false,
    };
    accepted.then_some(scheme)
}

/// The scheme of a sigstore-js style proof of possession (a signature over the challenge):
/// what Fulcio's default verifier uses for the key type — ECDSA with SHA-256 for P-256 and
/// SHA-384 for P-384 (DER signatures), Ed25519, RSA PKCS#1 v1.5 with SHA-256.
pub(crate) fn proof_scheme(key: KeyAlgorithm) -> Option<Scheme> {
    Some(match key {
        KeyAlgorithm::EcdsaP256 => Scheme::Ecdsa(HashAlgorithm::Sha256),
        KeyAlgorithm::EcdsaP384 => Scheme::Ecdsa(HashAlgorithm::Sha384),
        KeyAlgorithm::Ed25519 => Scheme::Ed25519,
        KeyAlgorithm::Rsa { .. } => Scheme::RsaPkcs1(HashAlgorithm::Sha256),
        _ => return None,
    })
}

/// Verify `sig` over `msg` by `key` (from `what`) with `scheme`; `mismatch` is the error when
/// the signature does not verify.
pub(crate) fn verify(
    what: &'static str,
    key: &PublicKey,
    scheme: Scheme,
    msg: &[u8],
    sig: &[u8],
    mismatch: impl FnOnce() -> CaError,
) -> Result<()> {
    key.verify(scheme, msg, sig).map_err(|e| match e {
        SignatureError::Mismatch => mismatch(),
        SignatureError::InvalidKey { key, .. } => CaError::InvalidKey {
            what,
            key: key.to_string(),
        },
        other => CaError::UnsupportedSignatureAlgorithm {
            what,
            algorithm: scheme.to_string(),
            key: other.to_string(),
        },
    })
}
