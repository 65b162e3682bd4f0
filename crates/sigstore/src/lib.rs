//! Hallmark's spec layer: the one place every wire format Hallmark builds or parses lives, so
//! the CA, the verifier, the server and the CLI call it and never re-encode a format themselves
//! (as `static_ct_api` is in cloudflare/azul).
//!
//! | module | format |
//! | --- | --- |
//! | [`ct`], [`tls`] | RFC 6962: SCTs, `digitally-signed` inputs of SCTs and STHs, the SCT list extension, `MerkleTreeLeaf`, `PrecertChainEntry`, precertificate TBS rebuilding; the TLS length-prefixed codec |
//! | [`oid`] | the OID registry: Fulcio's extensions (and [`oid::CiExtension`]), RFC 6962's, X.509 and algorithm OIDs |
//! | [`fulcio`] | Fulcio's v2 API documents: the `signingCert` request (CSR or public key with proof of possession) and answer, the trust bundle |
//! | [`identity`] | the identity a verified OIDC token proves and a Fulcio certificate carries |
//! | [`crypto`] | key classification and signature verification (aws-lc-rs) |
//! | [`index`] | the signature log's search-index keys (digests, public keys, identities) |
//! | [`bundle`], [`common`] | Sigstore bundles v0.1-v0.3 (message signature or DSSE, Rekor v1/v2 entries, timestamps), built and parsed by the same types |
//! | [`trust`] | `TrustedRoot`, `SigningConfig`, `ClientTrustConfig`, built and parsed, with key rotation windows |
//! | [`pem`] | PEM texts (RFC 7468), one block or a chain, through `pem-rfc7468` |
//! | [`rfc3161`] | RFC 3161 timestamps, the authority's side: `TimeStampReq` (DER) and the Sigstore TSA's JSON request, `TSTInfo`, the CMS `SignedData` token, `TimeStampResp` (granted or rejection) |
//! | [`protojson`], [`time`] | the protobuf JSON mapping (64-bit integers as strings, base64 bytes) and RFC 3339 times |
//! | [`intoto`] | in-toto: Statement v1 and link predicate v0.3, securesystemslib canonical JSON and key ids, classic v0.9 links and layouts (with keyless OIDC functionaries), artifact rules and their engine |
//! | [`body`] | Rekor v1 entry documents as serde types: proposed entries (built by clients), canonical bodies (built by [`ProposedEntry::verify`], parsed by [`body::CanonicalBody::parse`]); Rekor v2 canonical bodies (`hashedrekord` / `dsse` v0.0.2) in [`body::v2`], built and parsed |
//! | crate root | Rekor v1 entries (parse, verify), entry UUIDs, SETs, log entries |
//!
//! Pure: no I/O, no async, no key backend. The server parses a `POST /api/v1/log/entries` body with
//! [`ProposedEntry::parse`], checks it with [`ProposedEntry::verify`], appends
//! [`VerifiedEntry::canonical_body`] to the log (leaf hash = SHA-256 of `0x00 || body`), signs
//! [`set_payload`] and answers with [`log_entry_json`].
//!
//! Specifications:
//! - Rekor entry types: [`hashedrekord` v0.0.1](https://github.com/sigstore/rekor/tree/main/pkg/types/hashedrekord/v0.0.1),
//!   [`dsse` v0.0.1](https://github.com/sigstore/rekor/tree/main/pkg/types/dsse/v0.0.1)
//!   and [`intoto` v0.0.2](https://github.com/sigstore/rekor/tree/main/pkg/types/intoto/v0.0.2)
//!   (the OpenAPI schemas live in `pkg/types/*/v0.0.1/*_v0_0_1_schema.json`).
//! - [DSSE envelope and PAE](https://github.com/secure-systems-lab/dsse/blob/master/protocol.md).
//! - [RFC 8785](https://www.rfc-editor.org/rfc/rfc8785) JSON canonicalization (bodies, SET payload).
//! - Trust documents ([`trust`]) and bundles ([`bundle`]):
//!   [sigstore protobuf-specs](https://github.com/sigstore/protobuf-specs)
//!   (`sigstore_trustroot.proto`: `TrustedRoot`, `SigningConfig`, `ClientTrustConfig`;
//!   `sigstore_bundle.proto`: `Bundle`), in the protobuf JSON mapping ([`protojson`]). One typed
//!   model each, which the server and CLI write and the verifier reads.
//!
//! Design notes:
//! - Canonical bodies echo the client's base64 strings (signature, PEM verifier) as received
//!   instead of re-encoding them, so the body a client re-derives from its own request matches.
//!   (Rekor itself re-encodes verifiers as its canonical PEM; for PEM written by the usual
//!   libraries, 64-column lines with a trailing newline, the two are identical.)
//! - Search-index keys ([`index`]) use Hallmark's own scheme (`sha256:`, `key:`, `email:`, `uri:`), not
//!   Rekor's exact key strings; email addresses are lowercased.
//! - Canonical JSON comes from structs whose fields are declared in RFC 8785 key order and hold
//!   only ASCII strings and integers; serde_json's compact output is then JCS byte for byte,
//!   without depending on serde_json's map ordering features.
//! - `intoto` v0.0.2 follows Rekor: `payload` and `sig` are base64 of the DSSE base64 text
//!   (double-encoded); single encoding is accepted too. `content.hash` (the envelope digest) is
//!   the client's and is echoed; `payloadHash` is computed here.

pub mod body;
pub mod bundle;
pub mod common;
pub mod crypto;
pub mod ct;
mod entry;
mod error;
pub mod fulcio;
pub mod identity;
pub mod index;
pub mod intoto;
mod key;
mod log;
pub mod oid;
pub mod pem;
pub mod protojson;
pub mod rekor_v2;
pub mod rfc3161;
pub mod time;
pub mod tls;
pub mod trust;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

pub use crypto::KeyType;
pub use entry::{
    EntryKind, EntrySigner, MAX_ENTRY_BYTES, MAX_INDEX_KEYS, MAX_SIGNATURE_B64, MAX_SIGNATURES,
    ProposedEntry, VerifiedEntry, dsse_pae,
};
pub use error::{EntryError, Result};
pub use key::{MAX_VERIFIER_BYTES, San};
pub use log::{
    EntryUuid, InclusionProofParts, LogEntry, LogEntryParts, entry_uuid, log_entry_json,
    parse_entry_uuid, rekor_log_id, set_payload, tree_id,
};
pub use time::rfc3339;
pub use trust::{
    CLIENT_TRUST_CONFIG_MEDIA_TYPE, ClientTrustConfig, SIGNING_CONFIG_MEDIA_TYPE, SigningConfig,
    TRUSTED_ROOT_MEDIA_TYPE, TrustedRoot,
};

/// A digest algorithm named in `spec.data.hash.algorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Parses the Rekor name (`sha256`, `sha384`, `sha512`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The Rekor name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// Strict standard base64 (what Rekor's `strfmt.Base64` fields accept).
pub(crate) fn decode_b64(field: &'static str, s: &str) -> Result<Vec<u8>> {
    STANDARD.decode(s).map_err(|e| EntryError::Base64 {
        field,
        reason: e.to_string(),
    })
}

/// DSSE fields: the DSSE spec allows standard or URL-safe base64, padded or not.
pub(crate) fn decode_b64_lenient(field: &'static str, s: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .map_err(|e| EntryError::Base64 {
            field,
            reason: e.to_string(),
        })
}
