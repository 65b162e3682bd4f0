//! Offline verification of Sigstore bundles against a trusted root, for `hallmark verify`.
//!
//! Pure: no I/O, no async, no clock (the caller passes the current time). Parse a bundle with
//! [`Bundle::from_json`] and a trust root with [`TrustedRoot::from_json`], then call [`verify`]
//! with the artifact and a [`Policy`]. Every failure is a [`VerifyError`] naming the [`Check`]
//! that failed and why.
//!
//! # What is checked, in order
//!
//! 1. **Material vs. policy**: an identity policy needs a certificate, a key policy a managed
//!    key. A bundle's certificate chain must not carry a self-signed root (clients must take
//!    roots from the trusted root only). The leaf must be an end-entity certificate for code
//!    signing (keyUsage digitalSignature, extKeyUsage codeSigning, no unknown critical
//!    extension, no CT poison).
//! 2. **Signature**: a message signature over the artifact (or its SHA-256 digest), after
//!    comparing the bundle's digest hint; or a DSSE signature over `PAE(type, payload)`, and,
//!    when an artifact is given, an in-toto statement subject with the artifact's digest.
//! 3. **RFC 3161 timestamps**: each must verify against a trusted timestamp authority (CMS
//!    signature, ESS certificate hash, the authority's chain and window at `genTime`), over the
//!    hash of the signature.
//! 4. **Log entries**: for each entry from a log of the trusted root, the body must record the
//!    bundle's signature, key and artifact; the signed entry timestamp must verify (its
//!    integrated time then counts as a signing time and must not be in the future); the
//!    inclusion proof must lead to the root of a checkpoint signed by the log. At least one
//!    entry must come from a trusted log.
//! 5. **Signing time**: at least one verified time (SET or RFC 3161); Rekor v2 entries carry
//!    no integrated time, so they need a timestamp. The log key must be valid (trusted root
//!    `validFor`, ends inclusive) at its entry's signing times.
//! 6. **Certificate**: at every signing time the leaf is valid, chains to a certificate
//!    authority of the trusted root whose window contains that time, and every chain
//!    certificate is valid; its embedded SCTs verify against a trusted CT log.
//! 7. **Identity**: a SAN matches, the OIDC issuer (`1.3.6.1.4.1.57264.1.8`, else the legacy
//!    `.1.1`) matches, and each required CI extension has the required value.
//!
//! Specifications: [bundle](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto),
//! [trusted root](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto),
//! [client verification spec](https://github.com/sigstore/architecture-docs/blob/main/client-spec.md),
//! RFC 6962 (SCTs, Merkle proofs), RFC 3161 / RFC 5652 (timestamps), C2SP signed-note.
//!
//! Layout: [`verify()`] (`verify.rs`) runs the steps in the order above; `content.rs` checks
//! the signature over the content (step 2), `tsa.rs` the timestamps (3), `tlog.rs` the log
//! entries (4), `chain.rs` the certificate profile, chain and validity (1, 6), `sct.rs` the
//! SCTs (6), `identity.rs` the identity (7); `verified.rs` holds what a success returns. The
//! bundle and trusted-root documents are `hallmark_sigstore`'s typed models, checked in
//! `bundle.rs` and `trust.rs`.
//!
//! [`intoto`] builds on [`verify()`]: an in-toto layout's links and artifact rules, with keyless
//! functionaries whose bundles verify here (`hallmark intoto verify`).

mod asn1;
mod bundle;
mod cert;
mod chain;
mod content;
mod crypto;
mod error;
mod identity;
pub mod intoto;
mod json;
mod policy;
mod sct;
mod time;
mod tlog;
mod trust;
mod tsa;
mod verified;
mod verify;

pub use bundle::{
    Bundle, BundleVersion, Content, Envelope, InclusionProof, MAX_BUNDLE_BYTES, MAX_ENTRIES,
    Material, TlogEntry,
};
pub use crypto::PublicKey;
pub use error::{Check, Document, Result, VerifyError};
pub use hallmark_sigstore::HashAlgorithm as DigestAlgorithm;
pub use identity::CertificateIdentity;
pub use policy::{Artifact, CiExtension, IdentityPolicy, Matcher, Policy};
pub use trust::{TimeRange, TrustedRoot};
pub use verified::{Signed, Signer, SigningTime, TimeSource, Verified, VerifiedEntry};
pub use verify::verify;
