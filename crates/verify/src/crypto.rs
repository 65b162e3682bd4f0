//! Public keys and signature checks for the verifier: the spec layer's key and scheme types
//! ([`hallmark_sigstore::crypto`], aws-lc-rs) with this crate's errors, and the schemes
//! Sigstore clients sign with for each key type.

use hallmark_sigstore::HashAlgorithm;
use hallmark_sigstore::KeyType;
use hallmark_sigstore::crypto::{self as spec, KeyAlgorithm};

use crate::error::{Document, Result, VerifyError};

pub(crate) use hallmark_sigstore::crypto::{Scheme, hash, hash_from_oid, sha256};

/// A public key (DER `SubjectPublicKeyInfo`) of a supported type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(spec::PublicKey);

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (ECDSA P-256/P-384, RSA, Ed25519).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] for undecodable DER or an unsupported key type.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        Self::parse(Document::PublicKey, "$", der)
    }

    /// Parses a PEM `PUBLIC KEY` (what `key.pub` files hold) or `RSA PUBLIC KEY` block.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] for bad PEM, another label, or what [`PublicKey::from_spki_der`]
    /// rejects.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let blocks = hallmark_sigstore::pem::decode_all(pem.as_bytes())
            .map_err(|e| VerifyError::parse(Document::PublicKey, "$", e))?;
        let [hallmark_sigstore::pem::PemBlock { label, der }] = blocks.as_slice() else {
            return Err(VerifyError::parse(
                Document::PublicKey,
                "$",
                format!("{} PEM blocks, expected one", blocks.len()),
            ));
        };
        let der = der.as_slice();
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa(Document::PublicKey, "$", der),
            other => Err(VerifyError::parse(
                Document::PublicKey,
                "$",
                format!("PEM label {other:?}, expected PUBLIC KEY"),
            )),
        }
    }

    pub(crate) fn parse(document: Document, field: &str, der: &[u8]) -> Result<Self> {
        spec::PublicKey::from_spki_der(der)
            .map(PublicKey)
            .map_err(|e| {
                VerifyError::parse(document, field, format!("not a supported public key: {e}"))
            })
    }

    /// An RSA key given as a PKCS#1 `RSAPublicKey` (trusted roots' `PKCS1_RSA_PKCS1V5`).
    pub(crate) fn from_pkcs1_rsa(document: Document, field: &str, der: &[u8]) -> Result<Self> {
        spec::PublicKey::from_pkcs1_rsa(der)
            .map(PublicKey)
            .map_err(|e| {
                VerifyError::parse(document, field, format!("not a DER RSAPublicKey: {e}"))
            })
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        self.0.spki_der()
    }

    /// The key type.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.0.key_type()
    }

    /// The spec layer's key.
    pub(crate) fn inner(&self) -> &spec::PublicKey {
        &self.0
    }

    /// Verifies `sig` over `msg` with an explicit scheme.
    pub(crate) fn verify_scheme(&self, scheme: Scheme, msg: &[u8], sig: &[u8]) -> bool {
        self.0.verify(scheme, msg, sig).is_ok()
    }

    /// The schemes a key of this type signs messages with, in the order to try them: what
    /// Sigstore clients use for DSSE, SETs, checkpoints and artifacts.
    fn default_schemes(&self) -> &'static [Scheme] {
        match self.0.algorithm() {
            KeyAlgorithm::EcdsaP256 => &[Scheme::Ecdsa(HashAlgorithm::Sha256)],
            KeyAlgorithm::EcdsaP384 => &[
                Scheme::Ecdsa(HashAlgorithm::Sha384),
                Scheme::Ecdsa(HashAlgorithm::Sha256),
            ],
            KeyAlgorithm::Rsa { .. } => &[
                Scheme::RsaPkcs1(HashAlgorithm::Sha256),
                Scheme::RsaPss(HashAlgorithm::Sha256),
            ],
            _ => &[Scheme::Ed25519],
        }
    }

    /// Verifies `sig` over `msg` with the key type's usual schemes.
    pub(crate) fn verify_message(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.0.verifies_any(self.default_schemes(), msg, sig)
    }

    /// Verifies `sig` over an already computed digest (RSA keys: PKCS#1 v1.5, else PSS).
    /// Ed25519 cannot (it signs messages).
    pub(crate) fn verify_prehashed(
        &self,
        alg: HashAlgorithm,
        digest_bytes: &[u8],
        sig: &[u8],
    ) -> bool {
        let schemes = match self.0.algorithm() {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => [Some(Scheme::Ecdsa(alg)), None],
            KeyAlgorithm::Rsa { .. } => [Some(Scheme::RsaPkcs1(alg)), Some(Scheme::RsaPss(alg))],
            _ => [None, None],
        };
        schemes
            .into_iter()
            .flatten()
            .any(|s| self.0.verify_prehashed(s, digest_bytes, sig).is_ok())
    }
}
