//! Hallmark's certificate authority core: the certificate profiles of a private
//! [Fulcio](https://github.com/sigstore/fulcio)-compatible CA, checks of signing requests, and
//! the [RFC 6962](https://www.rfc-editor.org/rfc/rfc6962) Certificate Transparency structures
//! that tie each certificate to Hallmark's CT log. Pure and sans-I/O: no async, no HTTP, no
//! files. Keys come in through the RustCrypto [`signature`] traits ([`IssuingKey`]), so an HSM
//! key ([`hallmark_keys::Pkcs11Key`]) and an in-memory key take the same code path.
//!
//! # What it implements
//!
//! - **CA certificates** ([`root_certificate`], [`intermediate_certificate`]): a self-signed
//!   root (pathLen 1) and an intermediate that issues leaves (pathLen 0, extKeyUsage
//!   codeSigning, as Fulcio's intermediate), ECDSA P-256 or P-384; [`check_key_matches`] and
//!   [`check_ca_chain`] check existing ones.
//! - **Requests** ([`parse_csr`], [`verify_proof_of_possession`]): a PKCS#10 CSR's
//!   self-signature, or sigstore-js's signature over the token's `email`/`sub`. Leaf keys:
//!   ECDSA P-256/P-384, Ed25519, RSA 2048–4096.
//! - **Leaf issuance** ([`Issuance::prepare`] then [`Prepared::finish`]): the precertificate is
//!   built without signing, the caller logs it to its CT log and gets an SCT, then one signature
//!   makes the final certificate with the SCT embedded.
//! - **CT** ([`ct`]): SCTs (sign, verify, TLS encode/decode), the `MerkleTreeLeaf` a CT log
//!   stores, `PrecertChainEntry` extra data, and for verifiers the reconstruction of the
//!   precertificate TBS from a final certificate.
//!
//! # The leaf profile
//!
//! What Fulcio issues and what sigstore-python, sigstore-js and sigstore-rs accept: an empty
//! subject; a critical SAN (email → rfc822Name, URI, or otherName 1.3.6.1.4.1.57264.1.7 for
//! usernames); validity exactly 10 minutes from the request; keyUsage digitalSignature
//! (critical); extKeyUsage codeSigning; SKI and AKI; the OIDC issuer in 1.3.6.1.4.1.57264.1.1
//! (bare UTF-8) and .1.8 (UTF8String); CI identity values in .1.9–.1.23 and the token subject
//! in .1.24 (UTF8String); the
//! deprecated GitHub values .1.2–.1.6 (bare UTF-8) when the identity carries them; one embedded
//! SCT (1.3.6.1.4.1.11129.2.4.2). See [`issuance`] for the table and
//! [Fulcio's OID directory](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
//!
//! # Errors
//!
//! One [`CaError`]; [`CaError::status`] maps it to HTTP: 400 for the client's mistakes, 503 when
//! the HSM is away, 500 otherwise.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use hallmark_ca::{CaSubject, Issuance, ct};
//! use hallmark_oidc::{CiExtensions, Identity, SubjectAltName};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root_key = hallmark_keys::generate_memory_p256()?;
//! let issuing_key = hallmark_keys::generate_memory_p256()?;
//! let ct_key = hallmark_keys::generate_memory_p256()?;
//! let subject = |cn: &str| CaSubject { organization: "Example".into(), common_name: cn.into() };
//! let now = SystemTime::now();
//! let year = Duration::from_secs(365 * 86400);
//!
//! let root = hallmark_ca::root_certificate(&root_key, &subject("root"), now, 10 * year)?;
//! let issuing_spki = hallmark_ca::IssuingKey::public_key_der(&issuing_key)?;
//! let inter = hallmark_ca::intermediate_certificate(
//!     &root_key, &root, &issuing_spki, &subject("intermediate"), now, year)?;
//! hallmark_ca::check_ca_chain(&root, &inter)?;
//!
//! // Per request: the client's key (here a proof of possession over the challenge).
//! let client = hallmark_keys::generate_memory_p256()?;
//! let sig: p256::ecdsa::DerSignature = signature::Signer::sign(&client, b"alice@example.com");
//! let client_spki = hallmark_ca::IssuingKey::public_key_der(&client)?;
//! let key = hallmark_ca::verify_proof_of_possession(
//!     &client_spki, "alice@example.com", sig.as_bytes())?;
//!
//! let identity = Identity {
//!     issuer: "https://accounts.example.com".into(),
//!     san: SubjectAltName::Email("alice@example.com".into()),
//!     challenge: "alice@example.com".into(),
//!     subject: "alice@example.com".into(),
//!     extensions: CiExtensions::default(),
//!     github_v1: None,
//! };
//! let issuance = Issuance::new(&inter, &issuing_key)?;
//! let prepared = issuance.prepare(key.spki_der(), &identity, now)?;
//! // The CT log appends `prepared.merkle_tree_leaf(ts)` and signs the SCT:
//! let ct_spki = hallmark_ca::IssuingKey::public_key_der(&ct_key)?;
//! let ts = 1_700_000_000_000;
//! let sct = ct::sign_sct(&ct_key, ct::log_id(&ct_spki), ts, prepared.issuer_key_hash(),
//!     prepared.precert_tbs_der())?;
//! let leaf = prepared.finish(&sct, &issuing_key)?;
//!
//! let leaf_der = hallmark_ca::certificate_der(&leaf)?;
//! ct::verify_embedded_scts(&leaf_der, &issuing_spki, &ct_spki)?;
//! hallmark_ca::verify_issued_by("leaf", &leaf, "intermediate", &inter)?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod authority;
pub mod ct;
mod error;
pub mod issuance;
pub mod oid;
mod pubkey;
mod request;
mod signer;
mod x509;

pub use authority::{
    CaSubject, certificate_der, certificate_key_algorithm, certificate_pem, check_ca_chain,
    check_key_matches, intermediate_certificate, parse_certificate, root_certificate,
    verify_issued_by,
};
pub use error::{CaError, Result};
pub use issuance::{Issuance, LEAF_VALIDITY, Prepared};
pub use pubkey::{KeyAlgorithm, RSA_MAX_BITS, RSA_MIN_BITS};
pub use request::{ProvenKey, decode_proof_of_possession, parse_csr, verify_proof_of_possession};
pub use signer::IssuingKey;

/// Re-exported: the certificate type this crate returns.
pub use x509_cert::Certificate;
