//! The signature algorithms an HSM key can have, behind one sealed trait so the key code
//! (generation, lookup, the session pool, signing with its checks) is written once: ECDSA on the
//! [`HsmCurve`]s, and pure Ed25519 ([RFC 8032](https://www.rfc-editor.org/rfc/rfc8032)) as
//! PKCS#11 3.0 defines it (`CKK_EC_EDWARDS`, `CKM_EC_EDWARDS_KEY_PAIR_GEN`, `CKM_EDDSA`).

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::KeyType;
use der::asn1::{ObjectIdentifier, OctetStringRef, PrintableStringRef};
use der::{Decode, Encode};
use ecdsa::{Signature, VerifyingKey};

use crate::curve::{HsmCurve, curve_name};

mod sealed {
    pub trait Sealed {}
    impl<C: crate::HsmCurve> Sealed for C {}
    impl Sealed for super::Ed25519 {}
}

/// What the token's `CKA_EC_PARAMS` says, when it is not the expected curve.
pub(crate) type ParamsMismatch = String;

/// The algorithm of a key Hallmark keeps on a token: ECDSA on [`p256::NistP256`] or
/// [`p384::NistP384`] (every [`HsmCurve`]), or [`Ed25519`].
///
/// Sealed: the PKCS#11 glue (mechanisms, `CKA_EC_PARAMS`, `CKA_EC_POINT` decoding, the check of
/// each signature the token returns) is provided here for exactly these.
pub trait HsmAlgorithm: sealed::Sealed + Send + Sync + 'static {
    /// `"P-256"`, `"P-384"` or `"Ed25519"`.
    const NAME: &'static str;

    /// The public key type ([`ecdsa::VerifyingKey`], [`ed25519_dalek::VerifyingKey`]).
    type VerifyingKey: Clone + PartialEq + Send + Sync + 'static;

    /// The signature the token's answer is parsed into ([`ecdsa::Signature`],
    /// [`ed25519_dalek::Signature`]).
    type Signature: Send + Sync + 'static;

    /// `CKA_KEY_TYPE` of the key objects.
    #[doc(hidden)]
    fn key_type() -> KeyType;

    /// The key pair generation mechanism.
    #[doc(hidden)]
    fn key_pair_gen() -> Mechanism<'static>;

    /// The signing mechanism; what it signs is the message (EdDSA) or its digest (ECDSA).
    #[doc(hidden)]
    fn sign_mechanism() -> Mechanism<'static>;

    /// The `CKA_EC_PARAMS` values to generate with, in the order to try them (modules differ in
    /// which form they take for Edwards curves).
    #[doc(hidden)]
    fn ec_params() -> Result<Vec<Vec<u8>>, der::Error>;

    /// `Ok` if `CKA_EC_PARAMS` names this algorithm's curve, else what it names.
    #[doc(hidden)]
    fn check_params(params: &[u8]) -> Result<(), ParamsMismatch>;

    /// The public key in `CKA_EC_POINT` (a DER OCTET STRING around the point, or the bare
    /// point).
    #[doc(hidden)]
    fn verifying_key_from_point(point: &[u8]) -> Option<Self::VerifyingKey>;

    /// The public key as aws-lc takes it (the uncompressed SEC1 point, the raw 32 Ed25519
    /// bytes); also what `CKA_ID` is derived from.
    #[doc(hidden)]
    fn public_bytes(key: &Self::VerifyingKey) -> Vec<u8>;

    /// The DER `SubjectPublicKeyInfo`.
    #[doc(hidden)]
    fn spki_der(key: &Self::VerifyingKey) -> Option<Vec<u8>>;

    /// aws-lc's verification algorithm, for checking what the token returns.
    #[doc(hidden)]
    fn aws_lc_verification() -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm;

    /// The token's raw answer as a signature (`r || s` for ECDSA, `R || S` for EdDSA).
    #[doc(hidden)]
    fn parse_signature(raw: &[u8]) -> Option<Self::Signature>;

    /// Whether `sig` is `key`'s signature over `input` (what was given to the token).
    #[doc(hidden)]
    fn verifies(
        check: &aws_lc_rs::signature::ParsedPublicKey,
        key: &Self::VerifyingKey,
        input: &[u8],
        sig: &Self::Signature,
    ) -> bool;
}

impl<C: HsmCurve> HsmAlgorithm for C {
    const NAME: &'static str = C::NAME;
    type VerifyingKey = VerifyingKey<C>;
    type Signature = Signature<C>;

    fn key_type() -> KeyType {
        KeyType::EC
    }

    fn key_pair_gen() -> Mechanism<'static> {
        Mechanism::EccKeyPairGen
    }

    fn sign_mechanism() -> Mechanism<'static> {
        Mechanism::Ecdsa
    }

    fn ec_params() -> Result<Vec<Vec<u8>>, der::Error> {
        Ok(vec![C::OID.to_der()?])
    }

    fn check_params(params: &[u8]) -> Result<(), ParamsMismatch> {
        let oid = ObjectIdentifier::from_der(params)
            .map_err(|_| "an EC key with explicit or unreadable CKA_EC_PARAMS".to_owned())?;
        if oid == C::OID {
            Ok(())
        } else {
            Err(curve_name(&oid))
        }
    }

    fn verifying_key_from_point(point: &[u8]) -> Option<VerifyingKey<C>> {
        C::verifying_key_from_sec1(sec1_from_ec_point(point, C::FIELD_BYTES))
    }

    fn public_bytes(key: &VerifyingKey<C>) -> Vec<u8> {
        C::sec1_uncompressed(key)
    }

    fn spki_der(key: &VerifyingKey<C>) -> Option<Vec<u8>> {
        C::spki_der(key)
    }

    fn aws_lc_verification() -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        C::aws_lc_verification()
    }

    fn parse_signature(raw: &[u8]) -> Option<Signature<C>> {
        Signature::<C>::from_slice(raw).ok()
    }

    fn verifies(
        check: &aws_lc_rs::signature::ParsedPublicKey,
        key: &VerifyingKey<C>,
        digest: &[u8],
        sig: &Signature<C>,
    ) -> bool {
        match aws_lc_rs::digest::Digest::import_less_safe(digest, C::aws_lc_digest()) {
            Ok(d) => check.verify_digest_sig(&d, &sig.to_bytes()).is_ok(),
            // A digest of another length (ECDSA truncates or pads it): the general check.
            Err(_) => {
                use signature::hazmat::PrehashVerifier as _;
                key.verify_prehash(digest, sig).is_ok()
            }
        }
    }
}

/// Pure Ed25519 (RFC 8032, no prehash, no context), as the key algorithm of a
/// [`Pkcs11Key`](crate::Pkcs11Key): `Pkcs11Key<Ed25519>` signs whole messages with `CKM_EDDSA`
/// and returns 64-byte signatures. Its public key type is [`ed25519_dalek::VerifyingKey`], the
/// same as the in-memory [`MemoryEd25519Key`](crate::MemoryEd25519Key)'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ed25519 {}

/// id-Ed25519 (RFC 8410).
pub(crate) const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// The PKCS#11 3.0 printable-string name of the curve, the other form of `CKA_EC_PARAMS`.
const EDWARDS25519: &str = "edwards25519";

impl HsmAlgorithm for Ed25519 {
    const NAME: &'static str = "Ed25519";
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    type Signature = ed25519_dalek::Signature;

    fn key_type() -> KeyType {
        KeyType::EC_EDWARDS
    }

    fn key_pair_gen() -> Mechanism<'static> {
        Mechanism::EccEdwardsKeyPairGen
    }

    fn sign_mechanism() -> Mechanism<'static> {
        Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure))
    }

    fn ec_params() -> Result<Vec<Vec<u8>>, der::Error> {
        Ok(vec![
            ED25519_OID.to_der()?,
            PrintableStringRef::new(EDWARDS25519)?.to_der()?,
        ])
    }

    fn check_params(params: &[u8]) -> Result<(), ParamsMismatch> {
        if let Ok(oid) = ObjectIdentifier::from_der(params) {
            return if oid == ED25519_OID {
                Ok(())
            } else {
                Err(format!("the curve with OID {oid}"))
            };
        }
        match PrintableStringRef::from_der(params) {
            Ok(name) if name.as_str() == EDWARDS25519 => Ok(()),
            Ok(name) => Err(format!("the curve {:?}", name.as_str())),
            Err(_) => Err("an Edwards key with unreadable CKA_EC_PARAMS".to_owned()),
        }
    }

    fn verifying_key_from_point(point: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
        let raw: &[u8] = if point.len() == ed25519_dalek::PUBLIC_KEY_LENGTH {
            point
        } else {
            <&OctetStringRef>::from_der(point).ok()?.as_bytes()
        };
        ed25519_dalek::VerifyingKey::from_bytes(raw.try_into().ok()?).ok()
    }

    fn public_bytes(key: &ed25519_dalek::VerifyingKey) -> Vec<u8> {
        key.as_bytes().to_vec()
    }

    fn spki_der(key: &ed25519_dalek::VerifyingKey) -> Option<Vec<u8>> {
        let spki = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: ED25519_OID,
                parameters: None,
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(key.as_bytes()).ok()?,
        };
        spki.to_der().ok()
    }

    fn aws_lc_verification() -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        &aws_lc_rs::signature::ED25519
    }

    fn parse_signature(raw: &[u8]) -> Option<ed25519_dalek::Signature> {
        ed25519_dalek::Signature::from_slice(raw).ok()
    }

    fn verifies(
        check: &aws_lc_rs::signature::ParsedPublicKey,
        _key: &ed25519_dalek::VerifyingKey,
        message: &[u8],
        sig: &ed25519_dalek::Signature,
    ) -> bool {
        check.verify_sig(message, &sig.to_bytes()).is_ok()
    }
}

/// `CKA_EC_POINT` is specified as a DER OCTET STRING wrapping the SEC1 point (SoftHSM does this:
/// `04 41 04 x y` for P-256); some modules return the bare point. Decide by length: a bare
/// uncompressed point is exactly `1 + 2 * field_bytes` long.
pub(crate) fn sec1_from_ec_point(raw: &[u8], field_bytes: usize) -> &[u8] {
    if raw.len() == 1 + 2 * field_bytes {
        return raw;
    }
    match <&OctetStringRef>::from_der(raw) {
        Ok(inner) => inner.as_bytes(),
        Err(_) => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_params_in_both_forms() {
        let params = Ed25519::ec_params().unwrap();
        assert_eq!(params[0], [0x06, 0x03, 0x2b, 0x65, 0x70]);
        assert_eq!(&params[1][..2], [0x13, 12]);
        for p in &params {
            assert_eq!(Ed25519::check_params(p), Ok(()));
        }
        let p256 = p256::NistP256::ec_params().unwrap();
        assert!(Ed25519::check_params(&p256[0]).is_err());
        assert!(p256::NistP256::check_params(&params[0]).is_err());
    }

    #[test]
    fn ed25519_point_wrapped_or_bare() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        // RFC 8410: a 12-byte header, then the key.
        let spki = Ed25519::spki_der(&key).unwrap();
        assert_eq!(
            spki[..12],
            [
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
            ]
        );
        assert_eq!(&spki[12..], key.as_bytes());
        let bare = key.as_bytes().to_vec();
        let mut wrapped = vec![0x04, 32];
        wrapped.extend(&bare);
        assert_eq!(Ed25519::verifying_key_from_point(&bare), Some(key));
        assert_eq!(Ed25519::verifying_key_from_point(&wrapped), Some(key));
        assert_eq!(Ed25519::verifying_key_from_point(&bare[1..]), None);
    }
}
