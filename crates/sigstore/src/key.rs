//! Verifier material as Rekor receives it (base64 of a PEM certificate or PEM public key), and
//! which signatures a Rekor entry's verifier may make (the verification itself is
//! [`crate::crypto`]).

use der::oid::AssociatedOid;
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::HashAlgorithm;
// `KeyType` lives in `crypto`; re-exported for the modules that name it from here.
pub(crate) use crate::crypto::KeyType;
use crate::crypto::{KeyAlgorithm, PublicKey, Scheme, SignatureError};
use crate::error::{EntryError, Result};

/// Largest decoded PEM verifier accepted, in bytes.
pub const MAX_VERIFIER_BYTES: usize = 64 * 1024;

impl KeyType {
    /// Identifies the key type of a DER `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    ///
    /// [`EntryError::BadPublicKey`] for undecodable DER or an unsupported algorithm or curve.
    pub fn of_spki(field: &'static str, spki_der: &[u8]) -> Result<KeyType> {
        let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| bad_key(field, e))?;
        KeyAlgorithm::of_spki(&spki)
            .map(KeyAlgorithm::key_type)
            .map_err(|e| bad_key(field, e))
    }
}

/// A subject alternative name read from a verifier certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum San {
    /// An `rfc822Name` (email address).
    Email(String),
    /// A `uniformResourceIdentifier`.
    Uri(String),
}

impl San {
    /// The SAN value.
    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            San::Email(v) | San::Uri(v) => v,
        }
    }
}

/// A parsed verifier: the base64 text as received, and the key it carries.
#[derive(Clone, Debug)]
pub(crate) struct Verifier {
    /// The base64 string exactly as the client sent it (echoed into canonical bodies).
    pub(crate) b64: String,
    /// DER certificate, when the verifier is a certificate.
    pub(crate) certificate_der: Option<Vec<u8>>,
    /// DER `SubjectPublicKeyInfo`.
    pub(crate) spki_der: Vec<u8>,
    /// The key type.
    pub(crate) key_type: KeyType,
    /// The key, ready to verify.
    pub(crate) key: PublicKey,
    /// The certificate's SANs (email and URI only), in certificate order.
    pub(crate) sans: Vec<San>,
}

impl Verifier {
    /// Parses base64-of-PEM verifier text (`field` names it in errors).
    pub(crate) fn parse(field: &'static str, b64: &str) -> Result<Verifier> {
        if b64.len() > MAX_VERIFIER_BYTES * 4 / 3 + 4 {
            return Err(EntryError::TooLarge {
                field,
                size: b64.len(),
                limit: MAX_VERIFIER_BYTES * 4 / 3 + 4,
            });
        }
        let pem = crate::decode_b64(field, b64)?;
        // A certificate chain (leaf first) is accepted, as Rekor does: the leaf signs.
        let crate::pem::PemBlock {
            label,
            der: der_bytes,
        } = crate::pem::decode_first(&pem).map_err(|e| bad_key(field, e))?;
        let mut verifier = match label.as_str() {
            "CERTIFICATE" => Verifier::from_certificate_der(field, der_bytes)?,
            "PUBLIC KEY" => Verifier::from_spki_der(field, der_bytes)?,
            other => {
                return Err(bad_key(
                    field,
                    format!("PEM label {other:?} (expected CERTIFICATE or PUBLIC KEY)"),
                ));
            }
        };
        b64.clone_into(&mut verifier.b64);
        Ok(verifier)
    }

    /// A verifier from a DER certificate (Rekor v2 sends DER, not PEM). `b64` is left empty.
    pub(crate) fn from_certificate_der(
        field: &'static str,
        der_bytes: Vec<u8>,
    ) -> Result<Verifier> {
        let cert = Certificate::from_der(&der_bytes).map_err(|e| bad_key(field, e))?;
        let spki_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| bad_key(field, e))?;
        let sans = certificate_sans(field, &cert)?;
        let key = PublicKey::from_spki_der(&spki_der).map_err(|e| bad_key(field, e))?;
        Ok(Verifier {
            b64: String::new(),
            certificate_der: Some(der_bytes),
            spki_der,
            key_type: key.key_type(),
            key,
            sans,
        })
    }

    /// A verifier from a DER `SubjectPublicKeyInfo`. `b64` is left empty.
    pub(crate) fn from_spki_der(field: &'static str, spki_der: Vec<u8>) -> Result<Verifier> {
        let key = PublicKey::from_spki_der(&spki_der).map_err(|e| bad_key(field, e))?;
        Ok(Verifier {
            b64: String::new(),
            certificate_der: None,
            spki_der,
            key_type: key.key_type(),
            key,
            sans: Vec::new(),
        })
    }

    /// Verifies `sig` over the already-hashed `digest` (hashedrekord). Errors name the key by
    /// `field`, the digest by `fields.0` and the signature by `fields.1`.
    pub(crate) fn verify_digest(
        &self,
        field: &'static str,
        hash: HashAlgorithm,
        digest_bytes: &[u8],
        sig: &[u8],
        fields: (&'static str, &'static str),
    ) -> Result<()> {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        let scheme = match (self.key_type, hash) {
            (KeyType::EcdsaP256, Sha256) | (KeyType::EcdsaP384, Sha256 | Sha384) => {
                Scheme::Ecdsa(hash)
            }
            // ECDSA signs only the leftmost curve-size bits of a longer digest (FIPS 186-5
            // 6.4.1), so the rest of the claimed `spec.data.hash` would be unsigned: anyone
            // could log the signer's signature under digests that differ in those bytes.
            (KeyType::EcdsaP256, Sha384 | Sha512) | (KeyType::EcdsaP384, Sha512) => {
                return Err(EntryError::UnsupportedKey {
                    field,
                    algorithm: self.key_type.name(),
                    reason: "the digest is longer than the curve order, so ECDSA would sign only \
                             part of it; use a digest no longer than the curve (sha256 for \
                             P-256, sha256 or sha384 for P-384)",
                });
            }
            (KeyType::Rsa, _) => Scheme::RsaPkcs1(hash),
            (KeyType::Ed25519, _) => {
                return Err(EntryError::UnsupportedKey {
                    field,
                    algorithm: KeyType::Ed25519.name(),
                    reason: "pure Ed25519 cannot verify a prehashed digest; use a dsse entry",
                });
            }
        };
        match self.key.verify_prehashed(scheme, digest_bytes, sig) {
            Ok(()) => Ok(()),
            Err(SignatureError::DigestLength { .. }) => {
                Err(EntryError::malformed(fields.0, "wrong digest length"))
            }
            Err(_) => Err(EntryError::BadSignature {
                what: format!("{} over {}", fields.1, fields.0),
            }),
        }
    }

    /// Whether `sig` verifies over `message` (DSSE PAE). ECDSA P-384 keys are tried with
    /// SHA-384 (what clients use) and SHA-256 (what Rekor's DSSE verifier uses).
    pub(crate) fn verifies_message(&self, message: &[u8], sig: &[u8]) -> bool {
        use HashAlgorithm::{Sha256, Sha384};
        let schemes: &[Scheme] = match self.key_type {
            KeyType::EcdsaP256 => &[Scheme::Ecdsa(Sha256)],
            KeyType::EcdsaP384 => &[Scheme::Ecdsa(Sha384), Scheme::Ecdsa(Sha256)],
            KeyType::Rsa => &[Scheme::RsaPkcs1(Sha256)],
            KeyType::Ed25519 => &[Scheme::Ed25519],
        };
        self.key.verifies_any(schemes, message, sig)
    }
}

fn certificate_sans(field: &'static str, cert: &Certificate) -> Result<Vec<San>> {
    let mut sans = Vec::new();
    let Some(exts) = cert.tbs_certificate().extensions() else {
        return Ok(sans);
    };
    for ext in exts.iter().filter(|e| e.extn_id == SubjectAltName::OID) {
        let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
            .map_err(|e| bad_key(field, format!("malformed subjectAltName: {e}")))?;
        for name in san.0 {
            match name {
                GeneralName::Rfc822Name(v) => sans.push(San::Email(v.to_string())),
                GeneralName::UniformResourceIdentifier(v) => sans.push(San::Uri(v.to_string())),
                _ => {}
            }
        }
    }
    Ok(sans)
}

fn bad_key(field: &'static str, reason: impl ToString) -> EntryError {
    EntryError::BadPublicKey {
        field,
        reason: reason.to_string(),
    }
}
