//! Checking a signing request's key: the PKCS#10 CSR form (sigstore-python, sigstore-rs) and the
//! public key + proof-of-possession form (sigstore-js). Both end in a [`ProvenKey`]: a public
//! key whose holder has shown they hold the private key.
//!
//! Everything here reads untrusted input: every parser returns an error, never panics, and
//! errors are the client's mistakes ([`CaError::is_request_error`]) with a message for the client.

use base64::Engine as _;
use der::asn1::AnyRef;
use der::{Decode, Encode, Sequence};

use crate::authority::{looks_like_pem, trim_start};
use crate::error::{CaError, Result};
use crate::pubkey;
use crate::x509;
use hallmark_sigstore::crypto::KeyAlgorithm;
use hallmark_sigstore::oid;

/// A request's public key, proven: the CSR's self-signature or the proof of possession verified
/// with it. The only way to get one is [`parse_csr`] or [`verify_proof_of_possession`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenKey {
    spki_der: Vec<u8>,
    algorithm: KeyAlgorithm,
}

impl ProvenKey {
    /// The key's DER `SubjectPublicKeyInfo` (what [`crate::Issuance::prepare`] takes).
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key's type.
    #[must_use]
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The DER `SubjectPublicKeyInfo`, by value.
    #[must_use]
    pub fn into_spki_der(self) -> Vec<u8> {
        self.spki_der
    }
}

/// `CertificationRequestInfo` (RFC 2986 §4) as far as Hallmark reads it: the version and the
/// key. The subject and attributes (extension requests) are ignored, as Fulcio does.
#[derive(Sequence)]
struct CsrInfo<'a> {
    version: u8,
    subject: AnyRef<'a>,
    public_key: AnyRef<'a>,
    /// `[0] IMPLICIT Attributes`; tolerated when missing, as OpenSSL does.
    attributes: Option<AnyRef<'a>>,
}

const CSR: &str = "certificate signing request";
const POP_KEY: &str = "publicKeyRequest public key";

/// Decode PEM with one of `labels`, or pass DER through.
fn pem_or_der<'a>(
    what: &'static str,
    input: &'a [u8],
    labels: &[&'static str],
) -> Result<std::borrow::Cow<'a, [u8]>> {
    if !looks_like_pem(input) {
        return Ok(std::borrow::Cow::Borrowed(input));
    }
    let (label, der) = der::pem::decode_vec(trim_start(input)).map_err(|e| CaError::BadPem {
        what,
        detail: e.to_string(),
    })?;
    if !labels.contains(&label) {
        return Err(CaError::WrongPemLabel {
            what,
            found: label.to_owned(),
            expected: labels.first().copied().unwrap_or_default(),
        });
    }
    Ok(std::borrow::Cow::Owned(der))
}

/// Parse a PKCS#10 certificate signing request (PEM `CERTIFICATE REQUEST` or DER), verify its
/// self-signature with its own key — the proof of possession of the CSR form — and return the
/// key.
///
/// Accepted keys: ECDSA P-256/P-384, Ed25519, RSA 2048–4096. Accepted signatures: ECDSA with
/// SHA-256/384/512, Ed25519, RSA PKCS#1 v1.5 with SHA-256/384/512. The CSR's subject and
/// requested extensions are ignored (the certificate's content comes from the token).
///
/// # Errors
/// [`CaError::BadPem`], [`CaError::WrongPemLabel`], [`CaError::Malformed`],
/// [`CaError::UnsupportedKey`], [`CaError::InvalidKey`],
/// [`CaError::UnsupportedSignatureAlgorithm`], [`CaError::CsrSignature`] — all request errors.
pub fn parse_csr(der_or_pem: &[u8]) -> Result<ProvenKey> {
    let der = pem_or_der(
        CSR,
        der_or_pem,
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
    )?;
    let split = x509::split_signed(&der).map_err(|e| CaError::malformed(CSR, e))?;
    let info = CsrInfo::from_der(split.tbs_der).map_err(|e| CaError::malformed(CSR, e))?;
    if info.version != 0 {
        return Err(CaError::Malformed {
            what: CSR,
            detail: format!("version {} (only v1, encoded 0, is defined)", info.version),
        });
    }
    let key_der = info
        .public_key
        .to_der()
        .map_err(|e| CaError::malformed(CSR, e))?;
    let key = pubkey::decode_public_key(CSR, &key_der)?;
    let scheme = pubkey::x509_scheme(key.algorithm(), &split.algorithm).ok_or_else(|| {
        CaError::UnsupportedSignatureAlgorithm {
            what: CSR,
            algorithm: oid::algorithm_name(&split.algorithm.oid),
            key: key.algorithm().to_string(),
        }
    })?;
    pubkey::verify(CSR, &key, scheme, split.tbs_der, split.signature, || {
        CaError::CsrSignature {
            key: key.algorithm().to_string(),
        }
    })?;
    Ok(ProvenKey {
        algorithm: key.algorithm(),
        spki_der: key_der,
    })
}

/// Verify sigstore-js's proof of possession: `signature` (already base64-decoded, see
/// [`decode_proof_of_possession`]) must be the key's signature over the bytes of `challenge`
/// (the token's `email` claim, else `sub`). `public_key` is PEM (`PUBLIC KEY`) or DER
/// `SubjectPublicKeyInfo`.
///
/// The algorithm follows from the key, as Fulcio's default verifier does: ECDSA with SHA-256
/// for P-256 and SHA-384 for P-384 (DER signature), Ed25519, RSA PKCS#1 v1.5 with SHA-256.
///
/// # Errors
/// [`CaError::ProofOfPossession`] when the signature does not verify, and the key errors of
/// [`parse_csr`] — all request errors.
pub fn verify_proof_of_possession(
    public_key: &[u8],
    challenge: &str,
    signature: &[u8],
) -> Result<ProvenKey> {
    let der = pem_or_der(POP_KEY, public_key, &["PUBLIC KEY"])?;
    let key = pubkey::decode_public_key(POP_KEY, &der)?;
    let scheme = pubkey::proof_scheme(key.algorithm()).ok_or_else(|| CaError::UnsupportedKey {
        what: POP_KEY,
        key: key.algorithm().to_string(),
    })?;
    pubkey::verify(
        POP_KEY,
        &key,
        scheme,
        challenge.as_bytes(),
        signature,
        || CaError::ProofOfPossession {
            challenge: challenge.to_owned(),
        },
    )?;
    Ok(ProvenKey {
        algorithm: key.algorithm(),
        spki_der: key.spki_der().to_vec(),
    })
}

/// Decode the base64 `proofOfPossession` of a `publicKeyRequest` (standard alphabet, padding
/// optional).
///
/// # Errors
/// [`CaError::BadBase64`] (a request error).
pub fn decode_proof_of_possession(base64: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(base64.trim())
        .map_err(|e| CaError::BadBase64 {
            what: "proofOfPossession",
            detail: e.to_string(),
        })
}
