//! The one bound CA code signs through: [`IssuingKey`], implemented for every RustCrypto ECDSA
//! signer on a [`CaCurve`] (P-256 or P-384) — HSM keys (`hallmark_keys::Pkcs11Key`) and
//! in-memory keys ([`ecdsa::SigningKey`]) alike.

use std::ops::Add;

use der::Encode;
use ecdsa::elliptic_curve::FieldBytesSize;
use ecdsa::elliptic_curve::array::ArraySize;
use signature::{Keypair, Signer};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey};

use crate::error::{CaError, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for p256::NistP256 {}
    impl Sealed for p384::NistP384 {}
}

/// An elliptic curve a CA key can be on: [`p256::NistP256`] or [`p384::NistP384`], the CA key
/// curves every Sigstore client accepts. Sealed.
pub trait CaCurve:
    sealed::Sealed
    + ecdsa::EcdsaCurve
    + ecdsa::elliptic_curve::CurveArithmetic
    + ecdsa::DigestAlgorithm
    + der::oid::AssociatedOid
    + Send
    + Sync
    + 'static
{
}

impl CaCurve for p256::NistP256 {}
impl CaCurve for p384::NistP384 {}

/// A CA signing key: anything that signs like a RustCrypto ECDSA key on P-256 or P-384.
///
/// Blanket-implemented for every `S` with [`Signer`]`<`[`ecdsa::der::Signature<C>`]`>`,
/// [`Keypair`]`<VerifyingKey = `[`ecdsa::VerifyingKey<C>`]`>` and
/// [`spki::SignatureAlgorithmIdentifier`] on a curve `C` of [`CaCurve`] — so an HSM key
/// (`hallmark_keys::Pkcs11Key`) and an in-memory [`ecdsa::SigningKey`] go through the same
/// code. It exists only to keep the where-clauses in one place; there is no signer enum.
///
/// Signing through an HSM blocks: call from a blocking thread.
pub trait IssuingKey {
    /// The key's DER `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    /// [`CaError::Encoding`] if the public key cannot be encoded.
    fn public_key_der(&self) -> Result<Vec<u8>>;

    /// The X.509 signature algorithm of this key's signatures (ecdsa-with-SHA256 for P-256,
    /// ecdsa-with-SHA384 for P-384).
    ///
    /// # Errors
    /// [`CaError::Encoding`] if the identifier cannot be built.
    fn signature_algorithm(&self) -> Result<AlgorithmIdentifierOwned>;

    /// Sign `message` (hashed with the curve's hash), returning a DER `ECDSA-Sig-Value`.
    ///
    /// # Errors
    /// [`CaError::Signer`] naming `operation`, with the key's error as its source.
    fn sign_x509(&self, operation: &'static str, message: &[u8]) -> Result<Vec<u8>>;
}

impl<S, C> IssuingKey for S
where
    C: CaCurve,
    S: Signer<ecdsa::der::Signature<C>>
        + Keypair<VerifyingKey = ecdsa::VerifyingKey<C>>
        + DynSignatureAlgorithmIdentifier,
    ecdsa::VerifyingKey<C>: EncodePublicKey,
    ecdsa::der::MaxSize<C>: ArraySize,
    <FieldBytesSize<C> as Add>::Output: Add<ecdsa::der::MaxOverhead> + ArraySize,
{
    fn public_key_der(&self) -> Result<Vec<u8>> {
        self.verifying_key()
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|e| CaError::encoding("the CA public key", e))
    }

    fn signature_algorithm(&self) -> Result<AlgorithmIdentifierOwned> {
        self.signature_algorithm_identifier()
            .map_err(|e| CaError::encoding("the CA signature algorithm", e))
    }

    fn sign_x509(&self, operation: &'static str, message: &[u8]) -> Result<Vec<u8>> {
        let sig: ecdsa::der::Signature<C> = self
            .try_sign(message)
            .map_err(|e| CaError::signer(operation, e))?;
        Ok(sig.to_bytes().to_vec())
    }
}

/// Assemble `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`
/// from an encoded TBS, signing it with `key`. Returns the certificate's DER.
pub(crate) fn sign_certificate<K: IssuingKey + ?Sized>(
    key: &K,
    operation: &'static str,
    algorithm: &AlgorithmIdentifierOwned,
    tbs_der: &[u8],
) -> Result<Vec<u8>> {
    let signature = key.sign_x509(operation, tbs_der)?;
    let tbs = der::asn1::AnyRef::try_from(tbs_der)
        .map_err(|e| CaError::encoding("the TBS certificate", e))?;
    let bits = der::asn1::BitStringRef::from_bytes(&signature)
        .map_err(|e| CaError::encoding("the certificate signature", e))?;
    let outer = SignedCertificate {
        tbs,
        algorithm: algorithm.clone(),
        signature: bits,
    };
    outer
        .to_der()
        .map_err(|e| CaError::encoding("the certificate", e))
}

/// A certificate whose TBS is already encoded.
#[derive(der::Sequence)]
struct SignedCertificate<'a> {
    tbs: der::asn1::AnyRef<'a>,
    algorithm: AlgorithmIdentifierOwned,
    signature: der::asn1::BitStringRef<'a>,
}
