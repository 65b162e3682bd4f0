//! Key custody for Hallmark: ECDSA and Ed25519 keys held in a PKCS#11 HSM, and in-memory keys,
//! behind the RustCrypto [`signature`] traits.
//!
//! - [`KeyRef`] parses key references such as
//!   `pkcs11:token=hallmark;object=ca-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin`
//!   ([RFC 7512](https://www.rfc-editor.org/rfc/rfc7512), PKCS#11 URIs). PINs come from a file or
//!   an environment variable ([`PinSource`]), never from a URI or the command line.
//! - [`Hsm`] is one token reached through a PKCS#11 module ([cryptoki](https://docs.rs/cryptoki)):
//!   found by label, logged in, with a session pool that recovers by itself when the HSM goes away
//!   and comes back ([`KeyError::Unavailable`] in between).
//! - [`Pkcs11Key<A>`](Pkcs11Key) is a key on the token; `A` ([`HsmAlgorithm`]) is a P-256 or
//!   P-384 curve (ECDSA) or [`Ed25519`]. An ECDSA key implements [`signature::Signer`]
//!   (fixed-size and DER signatures), [`signature::Keypair`] and
//!   [`spki::SignatureAlgorithmIdentifier`], so it drops into the x509-cert certificate builder or
//!   any other RustCrypto consumer unchanged — exactly like the in-memory [`MemoryKey`]
//!   (`ecdsa::SigningKey`). An Ed25519 key implements `Signer<ed25519_dalek::Signature>` and
//!   `Keypair` like the in-memory [`MemoryEd25519Key`] (`ed25519_dalek::SigningKey`). Every
//!   algorithm shares the session pool, recovery and signature checks. There is no signer enum:
//!   code that signs is generic over the traits.
//! - [`init_token`] creates a token idempotently (used by `hallmark hsm init-token`).
//!
//! All PKCS#11 calls block. From async code use `tokio::task::spawn_blocking` or a dedicated
//! thread.
//!
//! # SoftHSM2 facts (the development and test HSM)
//!
//! - Debian package `softhsm2`, module `/usr/lib/softhsm/libsofthsm2.so`, configured only through
//!   `$SOFTHSM2_CONF`, which it reads once, at `C_Initialize`.
//! - Slot ids change between processes (a freshly initialised token moves to a slot id derived
//!   from its serial): tokens are always found by label. There is always one extra slot with an
//!   uninitialised token, where `C_InitToken` creates the next one.
//! - It has `CKM_ECDSA` but not `CKM_ECDSA_SHA256`/`SHA384`: the message is hashed on the host
//!   and the digest signed. Signatures come back as raw `r || s`; X.509 wants DER.
//! - `CKA_EC_POINT` is a DER OCTET STRING wrapping the SEC1 point (`04 41 04 x y` for P-256),
//!   or the 32-byte Ed25519 key (`04 20 ...`); bare points from other modules are accepted too.
//! - Ed25519 (SoftHSM 2.6 with OpenSSL 1.1.1 or later): `CKM_EC_EDWARDS_KEY_PAIR_GEN` with
//!   `CKA_EC_PARAMS` = the DER PrintableString `edwards25519` (2.6.1 refuses the OID
//!   1.3.101.112, which [`Hsm::generate`] tries first for other modules), and `CKM_EDDSA` without
//!   parameters (pure Ed25519) over the whole message.
//! - Login is per process and token, not per session: once one session logged in, new sessions
//!   are logged in, and another `C_Login` returns `CKR_USER_ALREADY_LOGGED_IN` (treated as
//!   success) WITHOUT checking the PIN again. Closing the last session logs out.
//! - A cryptoki `Session` is `Send` but not `Sync`: each pooled session serves one thread at a time.
//!
//! # Features
//!
//! - `testing`: [`testing`], throwaway SoftHSM tokens for tests (never for production).

mod algorithm;
mod curve;
mod error;
mod hsm;
mod key;
mod pin;
mod uri;

#[cfg(feature = "testing")]
pub mod testing;

pub use algorithm::{Ed25519, HsmAlgorithm};
pub use curve::HsmCurve;
pub use error::KeyError;
pub use hsm::{
    DEFAULT_MAX_SESSIONS, Hsm, Pkcs11Config, REINIT_BACKOFF, SESSION_WAIT, TokenInit, init_token,
};
pub use key::{
    CHECK_EVERY, MemoryEd25519Key, MemoryKey, Pkcs11Key, generate_memory_ed25519,
    generate_memory_key, generate_memory_p256, generate_memory_p384,
};
pub use pin::PinSource;
pub use uri::KeyRef;

/// Re-exported so callers can name PKCS#11 types without depending on cryptoki themselves.
pub use cryptoki;
