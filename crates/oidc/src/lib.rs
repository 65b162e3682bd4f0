//! OIDC identity-token verification for Hallmark's CA: from the bearer token a Sigstore client
//! sends to `POST /api/v2/signingCert` to the [`Identity`] its certificate will carry.
//!
//! What it implements:
//! - ID-token validation per [OpenID Connect Core 1.0 §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation):
//!   JWTs ([RFC 7519](https://www.rfc-editor.org/rfc/rfc7519)) signed as JWS
//!   ([RFC 7515](https://www.rfc-editor.org/rfc/rfc7515)), checked against the issuer's JWK Set
//!   ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517)) found by
//!   [OpenID Connect Discovery 1.0](https://openid.net/specs/openid-connect-discovery-1_0.html),
//!   with the algorithm pinned by the key, never by the token ([`TokenVerifier`]);
//! - Fulcio's issuer policy: allowed issuers and meta-issuer wildcards, audiences, per-issuer TLS
//!   roots, loaded from Hallmark's YAML or Fulcio's own config file ([`IssuerConfig`]);
//! - Fulcio's mapping of claims to certificate identities for the `email`, `kubernetes`,
//!   `github-workflow`, `gitlab-pipeline`, `uri`, `username` and `spiffe` issuer types, including
//!   the CI extensions of [Fulcio's OID registry](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md);
//! - where keys come from behind a small trait ([`KeySource`]): HTTP by default
//!   ([`HttpKeySource`]), or documents held in memory ([`MemoryKeySource`]) so tests verify real
//!   tokens with no identity provider running.
//!
//! Errors say what kind of failure they are ([`OidcError::kind`]: a malformed token, one that
//! proves no acceptable identity, an issuer not allowed, an unavailable identity provider); the
//! server maps kinds to HTTP statuses.
//!
//! Its sibling crates: `hallmark-oidc-client` gets a token as a client does (CI, Kubernetes,
//! interactive login), and `hallmark-dev-issuer` is the development issuer of tests and local
//! stacks, which production builds leave out.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use hallmark_oidc::{IssuerConfig, TokenVerifier};
//!
//! let config = IssuerConfig::from_yaml(
//!     "issuers:\n  - url: https://token.actions.githubusercontent.com\n    type: github-workflow\n",
//! )?;
//! let verifier = TokenVerifier::new(config)?;
//! let identity = verifier.verify(token).await?;
//! println!("{} from {}", identity.san.value(), identity.issuer);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
mod crypto;
pub mod error;
mod fetch;
pub mod identity;
mod jwks;
mod jwt;
mod mapping;
mod verifier;

pub use config::{IssuerConfig, IssuerKind, IssuerPolicy, IssuerType};
pub use error::{ConfigError, ErrorKind, OidcError};
pub use fetch::{FetchFuture, FetchRequest, Fetched, HttpKeySource, KeySource, MemoryKeySource};
pub use identity::{CiExtensions, GithubV1Extensions, Identity, SubjectAltName};
pub use jwt::{UnixTime, decode_payload_unverified};
pub use verifier::{TokenVerifier, VerifierOptions};
