//! Hallmark's certificate authority core: the certificate profiles of a private
//! [Fulcio](https://github.com/sigstore/fulcio)-compatible CA, checks of signing requests, and
//! the SCT that ties each certificate to Hallmark's CT log. Pure and sans-I/O: no async, no
//! HTTP, no files, no key backend. Keys come in through the RustCrypto [`signature`] traits
//! ([`IssuingKey`]), so an HSM key (`hallmark_keys::Pkcs11Key`) and an in-memory key take the
//! same code path. Wire formats (RFC 6962 structures, the Fulcio OID registry, the [`Identity`]
//! a token proves, key classification and signature verification) come from the spec layer,
//! [`hallmark_sigstore`].
//!
//! [`Identity`]: hallmark_sigstore::identity::Identity
//!
//! # What it implements
//!
//! - **CA certificates** ([`root_certificate`], [`intermediate_certificate`]): a self-signed
//!   root (pathLen 1) and an intermediate that issues leaves (pathLen 0, extKeyUsage
//!   codeSigning, as Fulcio's intermediate), ECDSA P-256 or P-384; [`check_key_matches`] and
//!   [`check_ca_chain`] check existing ones. The timestamp authority's leaf
//!   ([`tsa_certificate`]): issued by the root, timeStamping only.
//! - **Requests** ([`parse_csr`], [`verify_proof_of_possession`]): a PKCS#10 CSR's
//!   self-signature, or sigstore-js's signature over the token's `email`/`sub`. Leaf keys:
//!   ECDSA P-256/P-384, Ed25519, RSA 2048–4096.
//! - **Leaf issuance** ([`Issuance::prepare`] then [`Prepared::finish`]): the precertificate is
//!   built without signing, the caller logs it to its CT log and gets an SCT, then one signature
//!   makes the final certificate with the SCT embedded.
//! - **SCTs** ([`ct::sign_sct`]): the CT log's signature over the precertificate entry. The
//!   structures themselves (SCT, `MerkleTreeLeaf`, the SCT list extension, verification) are
//!   [`hallmark_sigstore::ct`].
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
//! One [`CaError`]; [`CaError::is_request_error`] tells the client's mistakes from the CA's own
//! failures (the server maps errors to HTTP statuses).
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ecdsa::elliptic_curve::Generate as _;
//! use hallmark_ca::{CaSubject, Issuance};
//! use hallmark_sigstore::ct;
//! use hallmark_sigstore::identity::{CiExtensions, Identity, SubjectAltName};
//! use p256::ecdsa::SigningKey;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root_key = SigningKey::try_generate()?;
//! let issuing_key = SigningKey::try_generate()?;
//! let ct_key = SigningKey::try_generate()?;
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
//! let client = SigningKey::try_generate()?;
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
//! let sct = hallmark_ca::ct::sign_sct(&ct_key, ct::log_id(&ct_spki), ts,
//!     prepared.issuer_key_hash(), prepared.precert_tbs_der())?;
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
mod pubkey;
mod request;
mod signer;
mod x509;

pub use authority::{
    CaSubject, certificate_der, certificate_der_to_pem, certificate_key_algorithm, certificate_pem,
    check_ca_chain, check_key_matches, intermediate_certificate, parse_certificate,
    root_certificate, tsa_certificate, verify_issued_by,
};
pub use error::{CaError, Result};
pub use hallmark_sigstore::crypto::KeyAlgorithm;
pub use issuance::{Issuance, LEAF_VALIDITY, Prepared};
pub use pubkey::{RSA_MAX_BITS, RSA_MIN_BITS};
pub use request::{ProvenKey, decode_proof_of_possession, parse_csr, verify_proof_of_possession};
pub use signer::{CaCurve, IssuingKey};

/// Re-exported: the certificate type this crate returns.
pub use x509_cert::Certificate;
