//! `Pkcs11Key<A>`: an HSM-held key (ECDSA on P-256 or P-384, or Ed25519) behind the RustCrypto
//! `signature` traits, and the in-memory counterparts.

use std::fmt;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cryptoki::object::ObjectHandle;
use ecdsa::elliptic_curve::FieldBytesSize;
use ecdsa::elliptic_curve::array::ArraySize;
use ecdsa::{DigestAlgorithm, Signature, SigningKey};
use sha2::Digest;
use signature::hazmat::PrehashSigner;
use signature::{Keypair, Signer};
use spki::{AlgorithmIdentifierRef, SignatureAlgorithmIdentifier};

use crate::algorithm::{Ed25519, HsmAlgorithm};
use crate::curve::HsmCurve;
use crate::hsm::Lease;
use crate::{Hsm, KeyError};

/// After the first signature through each newly found object handle (always checked), one
/// signature in this many is verified against the key's public key before it is returned.
pub const CHECK_EVERY: u64 = 16;

/// A key pair held in a PKCS#11 token, of algorithm `A`: ECDSA on [`p256::NistP256`] or
/// [`p384::NistP384`], or [`Ed25519`].
///
/// An ECDSA key implements [`Signer`] for [`ecdsa::Signature<C>`] and
/// [`ecdsa::der::Signature<C>`], [`Keypair`] and [`SignatureAlgorithmIdentifier`], so it plugs
/// into anything that takes a RustCrypto signer — including the x509-cert certificate builder —
/// exactly like [`ecdsa::SigningKey`]. An Ed25519 key implements [`Signer`] for
/// [`ed25519_dalek::Signature`] and [`Keypair`] like [`ed25519_dalek::SigningKey`]; it signs the
/// whole message with pure EdDSA (`CKM_EDDSA`, no prehash), as RFC 8032 and C2SP signed notes
/// want.
///
/// ECDSA signing hashes the message on the host (SHA-256 for P-256, SHA-384 for P-384) and asks the
/// token for `CKM_ECDSA` over the digest: SoftHSM has no `CKM_ECDSA_SHA256`, and hashing on the
/// host keeps large messages off the PKCS#11 interface. The token's raw `r || s` is converted to
/// DER where asked.
///
/// Use `try_sign`: `Signer::sign` panics on error, and an HSM call can fail. Errors surface
/// through [`signature::Error::from_source`] wrapping a [`KeyError`]; use
/// [`Pkcs11Key::try_sign_checked`] to get the `KeyError` directly, or downcast:
/// `err.source().and_then(|e| e.downcast_ref::<KeyError>())`.
///
/// Cheap to clone (an `Arc`), `Send + Sync`. Calls block on the HSM: on an async runtime use
/// `spawn_blocking` or a dedicated thread.
pub struct Pkcs11Key<A: HsmAlgorithm> {
    inner: Arc<KeyInner<A>>,
}

struct KeyInner<A: HsmAlgorithm> {
    hsm: Hsm,
    label: String,
    verifying_key: A::VerifyingKey,
    spki_der: Vec<u8>,
    /// The public key, parsed once, to check signatures the token returns.
    check: aws_lc_rs::signature::ParsedPublicKey,
    /// The pool generation whose object handle has made a signature that verified (`u64::MAX`:
    /// none yet).
    checked_generation: AtomicU64,
    /// Signatures made so far, for sampling the checks.
    signatures: AtomicU64,
    /// The private key's handle and the pool generation it was found in.
    handle: Mutex<(u64, ObjectHandle)>,
}

impl<A: HsmAlgorithm> Clone for Pkcs11Key<A> {
    fn clone(&self) -> Self {
        Pkcs11Key {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A: HsmAlgorithm> fmt::Debug for Pkcs11Key<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("algorithm", &A::NAME)
            .field("token", &self.inner.hsm.token_label())
            .field("label", &self.inner.label)
            .finish_non_exhaustive()
    }
}

impl<A: HsmAlgorithm> Pkcs11Key<A> {
    pub(crate) fn new(
        hsm: Hsm,
        label: &str,
        verifying_key: A::VerifyingKey,
        handle: ObjectHandle,
        generation: u64,
    ) -> Result<Self, KeyError> {
        let spki_der = A::spki_der(&verifying_key).ok_or_else(|| KeyError::BadPublicKey {
            label: label.to_owned(),
            reason: "cannot be encoded as a SubjectPublicKeyInfo",
        })?;
        let check = aws_lc_rs::signature::ParsedPublicKey::new(
            A::aws_lc_verification(),
            A::public_bytes(&verifying_key),
        )
        .map_err(|_| KeyError::BadPublicKey {
            label: label.to_owned(),
            reason: "not a valid point for aws-lc",
        })?;
        Ok(Pkcs11Key {
            inner: Arc::new(KeyInner {
                hsm,
                label: label.to_owned(),
                verifying_key,
                spki_der,
                check,
                checked_generation: AtomicU64::new(u64::MAX),
                signatures: AtomicU64::new(0),
                handle: Mutex::new((generation, handle)),
            }),
        })
    }

    /// The key's label (`CKA_LABEL`).
    #[must_use]
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The token this key lives on.
    #[must_use]
    pub fn hsm(&self) -> &Hsm {
        &self.inner.hsm
    }

    /// Signatures the token has made with this key (and every clone of it) since it was loaded.
    /// For metrics, and for tests that check what causes HSM work.
    #[must_use]
    pub fn signature_count(&self) -> u64 {
        self.inner.signatures.load(Ordering::Relaxed)
    }

    /// The DER `SubjectPublicKeyInfo` of the public key.
    #[must_use]
    pub fn public_key_der(&self) -> Vec<u8> {
        self.inner.spki_der.clone()
    }

    /// The private key's object handle, looked up again if the pool was reset since it was
    /// found.
    fn handle(&self, s: &Lease<'_>) -> Result<ObjectHandle, KeyError> {
        let generation = s.generation();
        {
            let cached = self
                .inner
                .handle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if cached.0 == generation {
                return Ok(cached.1);
            }
        }
        let handle = self
            .inner
            .hsm
            .refind::<A>(s, &self.inner.label, &self.inner.verifying_key)?;
        *self
            .inner
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (generation, handle);
        Ok(handle)
    }

    /// Has the token sign `input` (the digest for ECDSA, the message for EdDSA) with the
    /// algorithm's mechanism and parses its answer.
    ///
    /// The first signature made through each newly found object handle, and one in
    /// [`CHECK_EVERY`] after that, is verified with the key's public key before it is returned: a
    /// handle that names another key on the token (what a stale handle after a module
    /// re-initialisation did) or a token that signs wrongly is caught as an
    /// [`KeyError::Unavailable`] that resets the connection, never returned as a result. Checking
    /// every signature would cost a quarter of the signature log's throughput (measured: one
    /// P-256 verification is 58 µs here, against about 105 µs for SoftHSM's signature).
    fn sign_token_input(&self, input: &[u8]) -> Result<A::Signature, KeyError> {
        let hsm = &self.inner.hsm;
        hsm.with_session(|s| {
            let handle = self.handle(s)?;
            let raw = s
                .sign(&A::sign_mechanism(), handle, input)
                .map_err(|e| KeyError::from_ck(e, hsm.token_label()))?;
            let sig = A::parse_signature(&raw).ok_or_else(|| KeyError::BadSignature {
                label: self.inner.label.clone(),
                len: raw.len(),
            })?;
            let n = self.inner.signatures.fetch_add(1, Ordering::Relaxed);
            let generation = s.generation();
            let new_handle = self.inner.checked_generation.load(Ordering::Acquire) != generation;
            if new_handle || n.is_multiple_of(CHECK_EVERY) {
                if !A::verifies(&self.inner.check, &self.inner.verifying_key, input, &sig) {
                    return Err(KeyError::Unavailable {
                        token: hsm.token_label().to_owned(),
                        function: "C_Sign".to_owned(),
                        code: format!(
                            "the signature does not verify with the public key of {:?} (stale \
                             object handle or faulty token); reconnecting",
                            self.inner.label
                        ),
                    });
                }
                self.inner
                    .checked_generation
                    .store(generation, Ordering::Release);
            }
            Ok(sig)
        })
    }
}

impl<C: HsmCurve> Pkcs11Key<C> {
    /// Sign a precomputed digest with `CKM_ECDSA`, returning the fixed-size signature.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`] when the HSM went away (the next call reconnects),
    /// [`KeyError::BadSignature`] if the token returns garbage, other PKCS#11 failures. Some
    /// signatures are checked before they are returned (see [`CHECK_EVERY`]); one that does not
    /// verify is an [`KeyError::Unavailable`] that resets the connection.
    pub fn sign_prehash_checked(&self, digest: &[u8]) -> Result<Signature<C>, KeyError> {
        self.sign_token_input(digest)
    }

    /// Hash `msg` with the curve's hash and sign it, keeping the [`KeyError`] (unlike
    /// [`Signer::try_sign`], which wraps it in a [`signature::Error`]).
    ///
    /// # Errors
    /// As [`Pkcs11Key::sign_prehash_checked`].
    pub fn try_sign_checked(&self, msg: &[u8]) -> Result<Signature<C>, KeyError> {
        let digest = <C as DigestAlgorithm>::Digest::digest(msg);
        self.sign_prehash_checked(&digest)
    }
}

impl Pkcs11Key<Ed25519> {
    /// Sign `msg` with pure Ed25519 (`CKM_EDDSA`), keeping the [`KeyError`] (unlike
    /// [`Signer::try_sign`], which wraps it in a [`signature::Error`]).
    ///
    /// # Errors
    /// [`KeyError::Unavailable`] when the HSM went away (the next call reconnects),
    /// [`KeyError::BadSignature`] if the token returns something other than 64 bytes, other
    /// PKCS#11 failures. Some signatures are checked before they are returned (see
    /// [`CHECK_EVERY`]); one that does not verify is an [`KeyError::Unavailable`] that resets the
    /// connection.
    pub fn try_sign_ed25519(&self, msg: &[u8]) -> Result<ed25519_dalek::Signature, KeyError> {
        self.sign_token_input(msg)
    }
}

impl Signer<ed25519_dalek::Signature> for Pkcs11Key<Ed25519> {
    fn try_sign(&self, msg: &[u8]) -> Result<ed25519_dalek::Signature, signature::Error> {
        self.try_sign_ed25519(msg)
            .map_err(signature::Error::from_source)
    }
}

impl<A: HsmAlgorithm> Keypair for Pkcs11Key<A> {
    type VerifyingKey = A::VerifyingKey;

    fn verifying_key(&self) -> A::VerifyingKey {
        self.inner.verifying_key.clone()
    }
}

impl<A: HsmAlgorithm> AsRef<A::VerifyingKey> for Pkcs11Key<A> {
    fn as_ref(&self) -> &A::VerifyingKey {
        &self.inner.verifying_key
    }
}

impl<C: HsmCurve> Signer<Signature<C>> for Pkcs11Key<C> {
    fn try_sign(&self, msg: &[u8]) -> Result<Signature<C>, signature::Error> {
        self.try_sign_checked(msg)
            .map_err(signature::Error::from_source)
    }
}

impl<C: HsmCurve> PrehashSigner<Signature<C>> for Pkcs11Key<C> {
    fn sign_prehash(&self, prehash: &[u8]) -> Result<Signature<C>, signature::Error> {
        self.sign_prehash_checked(prehash)
            .map_err(signature::Error::from_source)
    }
}

impl<C> Signer<ecdsa::der::Signature<C>> for Pkcs11Key<C>
where
    C: HsmCurve,
    ecdsa::der::MaxSize<C>: ArraySize,
    <FieldBytesSize<C> as Add>::Output: Add<ecdsa::der::MaxOverhead> + ArraySize,
{
    fn try_sign(&self, msg: &[u8]) -> Result<ecdsa::der::Signature<C>, signature::Error> {
        Signer::<Signature<C>>::try_sign(self, msg).map(|sig| sig.to_der())
    }
}

impl<C> PrehashSigner<ecdsa::der::Signature<C>> for Pkcs11Key<C>
where
    C: HsmCurve,
    ecdsa::der::MaxSize<C>: ArraySize,
    <FieldBytesSize<C> as Add>::Output: Add<ecdsa::der::MaxOverhead> + ArraySize,
{
    fn sign_prehash(&self, prehash: &[u8]) -> Result<ecdsa::der::Signature<C>, signature::Error> {
        PrehashSigner::<Signature<C>>::sign_prehash(self, prehash).map(|sig| sig.to_der())
    }
}

/// ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384 (gives
/// [`spki::DynSignatureAlgorithmIdentifier`] through spki's blanket impl).
impl<C: HsmCurve> SignatureAlgorithmIdentifier for Pkcs11Key<C> {
    type Params = der::AnyRef<'static>;

    const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifierRef<'static> = C::SIGNATURE_ALGORITHM;
}

/// An in-memory ECDSA key: the RustCrypto type itself, which implements the same traits as
/// [`Pkcs11Key`]. For tests and development only — its private key lives in process memory.
pub type MemoryKey<C> = SigningKey<C>;

/// An in-memory Ed25519 key: the RustCrypto type itself, which implements the same traits as
/// `Pkcs11Key<Ed25519>`. For tests and development only.
pub type MemoryEd25519Key = ed25519_dalek::SigningKey;

/// Generate an in-memory Ed25519 key from the operating system's RNG.
///
/// # Errors
/// [`KeyError::Rng`] if the OS RNG fails.
pub fn generate_memory_ed25519() -> Result<MemoryEd25519Key, KeyError> {
    let mut seed = secrecy::zeroize::Zeroizing::new([0u8; ed25519_dalek::SECRET_KEY_LENGTH]);
    aws_lc_rs::rand::fill(seed.as_mut()).map_err(|e| KeyError::Rng {
        detail: e.to_string(),
    })?;
    Ok(MemoryEd25519Key::from_bytes(&seed))
}

/// Generate an in-memory key from the operating system's RNG.
///
/// # Errors
/// [`KeyError::Rng`] if the OS RNG fails.
pub fn generate_memory_key<C: HsmCurve>() -> Result<MemoryKey<C>, KeyError> {
    use ecdsa::elliptic_curve::Generate;
    MemoryKey::<C>::try_generate().map_err(|e| KeyError::Rng {
        detail: e.to_string(),
    })
}

/// [`generate_memory_key`] for P-256.
///
/// # Errors
/// [`KeyError::Rng`] if the OS RNG fails.
pub fn generate_memory_p256() -> Result<MemoryKey<p256::NistP256>, KeyError> {
    generate_memory_key()
}

/// [`generate_memory_key`] for P-384.
///
/// # Errors
/// [`KeyError::Rng`] if the OS RNG fails.
pub fn generate_memory_p384() -> Result<MemoryKey<p384::NistP384>, KeyError> {
    generate_memory_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync_clone_debug() {
        fn check<T: Send + Sync + Clone + fmt::Debug + 'static>() {}
        check::<Hsm>();
        check::<Pkcs11Key<p256::NistP256>>();
        check::<Pkcs11Key<p384::NistP384>>();
        check::<Pkcs11Key<Ed25519>>();
        check::<crate::KeyRef>();
        check::<crate::PinSource>();
        fn error<E: std::error::Error + Send + Sync + 'static>() {}
        error::<KeyError>();
    }

    /// A key whose cached handle names another key on the token (what a stale handle after a
    /// module re-initialisation looked like) signs nothing: the check against its own public
    /// key turns the token's answer into `Unavailable`, and the connection is reset.
    #[test]
    fn a_signature_by_another_key_is_never_returned() {
        let hsm = crate::testing::TestToken::shared().open();
        let a = hsm
            .generate_p256(&crate::testing::unique_label("check-a"))
            .unwrap();
        let b = hsm
            .generate_p256(&crate::testing::unique_label("check-b"))
            .unwrap();
        let (generation, a_handle) = *a.inner.handle.lock().unwrap();
        let confused = Pkcs11Key::new(
            hsm.clone(),
            b.label(),
            b.verifying_key(),
            a_handle,
            generation,
        )
        .unwrap();
        let before = hsm.generation();
        let err = confused.try_sign_checked(b"message").unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(err.to_string().contains("does not verify"), "{err}");
        assert_eq!(hsm.generation(), before + 1, "the connection was not reset");
        // After the reset the key finds its own object again by label and public key.
        let sig = confused.try_sign_checked(b"message").unwrap();
        use signature::Verifier as _;
        b.verifying_key().verify(b"message", &sig).unwrap();
    }
}
