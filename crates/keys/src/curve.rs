//! The curves an HSM key can be on, behind one sealed trait so the key code is written once.

use ecdsa::{DigestAlgorithm, EcdsaCurve, VerifyingKey};
use p256::elliptic_curve::CurveArithmetic;
use spki::{
    AlgorithmIdentifierRef, EncodePublicKey, ObjectIdentifier, SignatureAlgorithmIdentifier,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for p256::NistP256 {}
    impl Sealed for p384::NistP384 {}
}

/// An elliptic curve Hallmark keeps keys on: [`p256::NistP256`] or [`p384::NistP384`].
///
/// Sealed: the curve-specific glue (point decoding, SPKI encoding, algorithm identifiers) is
/// provided here for exactly these two curves, the CA key curves every Sigstore client accepts.
pub trait HsmCurve:
    sealed::Sealed
    + EcdsaCurve
    + CurveArithmetic
    + DigestAlgorithm
    + der::oid::AssociatedOid
    + Send
    + Sync
    + 'static
{
    /// `"P-256"` or `"P-384"`.
    const NAME: &'static str;

    /// Size of one field element (and of `r` and of `s`) in bytes.
    const FIELD_BYTES: usize;

    /// The X.509 signature algorithm: ecdsa-with-SHA256 (P-256) or ecdsa-with-SHA384 (P-384).
    const SIGNATURE_ALGORITHM: AlgorithmIdentifierRef<'static>;

    /// Decode a SEC1 point (`04 || x || y`) into a verifying key.
    #[doc(hidden)]
    fn verifying_key_from_sec1(bytes: &[u8]) -> Option<VerifyingKey<Self>>;

    /// The uncompressed SEC1 encoding of a verifying key.
    #[doc(hidden)]
    fn sec1_uncompressed(key: &VerifyingKey<Self>) -> Vec<u8>;

    /// The DER `SubjectPublicKeyInfo` of a verifying key.
    #[doc(hidden)]
    fn spki_der(key: &VerifyingKey<Self>) -> Option<Vec<u8>>;

    /// aws-lc's fixed-size (`r || s`) ECDSA verification for this curve and its hash.
    #[doc(hidden)]
    fn aws_lc_verification() -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm;

    /// aws-lc's digest algorithm for this curve's hash.
    #[doc(hidden)]
    fn aws_lc_digest() -> &'static aws_lc_rs::digest::Algorithm;
}

macro_rules! hsm_curve {
    ($curve:ty, $name:literal, $field:literal, $verify:ident, $digest:ident) => {
        impl HsmCurve for $curve {
            const NAME: &'static str = $name;
            const FIELD_BYTES: usize = $field;
            const SIGNATURE_ALGORITHM: AlgorithmIdentifierRef<'static> =
                <VerifyingKey<$curve> as SignatureAlgorithmIdentifier>::SIGNATURE_ALGORITHM_IDENTIFIER;

            fn verifying_key_from_sec1(bytes: &[u8]) -> Option<VerifyingKey<Self>> {
                VerifyingKey::<Self>::from_sec1_bytes(bytes).ok()
            }

            fn sec1_uncompressed(key: &VerifyingKey<Self>) -> Vec<u8> {
                key.to_sec1_point(false).as_bytes().to_vec()
            }

            fn spki_der(key: &VerifyingKey<Self>) -> Option<Vec<u8>> {
                key.to_public_key_der().ok().map(|doc| doc.as_bytes().to_vec())
            }

            fn aws_lc_verification() -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
                &aws_lc_rs::signature::$verify
            }

            fn aws_lc_digest() -> &'static aws_lc_rs::digest::Algorithm {
                &aws_lc_rs::digest::$digest
            }
        }
    };
}

hsm_curve!(p256::NistP256, "P-256", 32, ECDSA_P256_SHA256_FIXED, SHA256);
hsm_curve!(p384::NistP384, "P-384", 48, ECDSA_P384_SHA384_FIXED, SHA384);

/// Name a curve OID found in `CKA_EC_PARAMS`, for error messages.
pub(crate) fn curve_name(oid: &ObjectIdentifier) -> String {
    use der::oid::AssociatedOid;
    if *oid == p256::NistP256::OID {
        "P-256".to_owned()
    } else if *oid == p384::NistP384::OID {
        "P-384".to_owned()
    } else {
        format!("the curve with OID {oid}")
    }
}
