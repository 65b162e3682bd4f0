//! in-toto formats: what Hallmark's `intoto run` records and `intoto verify` checks.
//!
//! | module | format |
//! | --- | --- |
//! | [`statement`] | in-toto Statement v1 and the link predicate v0.3 (products are the subjects), and their conversion to and from classic links |
//! | [`cjson`] | securesystemslib canonical JSON (OLPC), what classic signatures and key ids cover |
//! | [`key`] | classic public key dicts and their key ids |
//! | [`link`] | classic v0.9 links, the `{signed, signatures}` wrapper, `<step>.<keyid8>.link` |
//! | [`layout`] | classic v0.9 layouts, with Hallmark's keyless (OIDC identity) functionaries |
//! | [`rules`] | the artifact-rule grammar and the pure rule engine |
//!
//! Pure: no I/O. Specifications:
//! [in-toto spec v1.0](https://github.com/in-toto/docs/blob/master/in-toto-spec.md) (links,
//! layouts, artifact rules), the [attestation framework](https://github.com/in-toto/attestation)
//! (`spec/v1`, `spec/predicates/link.md`), securesystemslib's `formats.encode_canonical` and
//! `signer._utils.compute_default_keyid`; in-toto-python 3.1.0 is the reference implementation
//! (its `models/` for field details, `verifylib.py` for rule semantics).
//!
//! Design notes:
//! - Classic documents are parsed with unknown fields refused and re-serialized with every field
//!   present: in-toto-python verifies a signature over its re-serialized model, so a field it
//!   would drop must not be accepted here either.
//! - Rules keep their tokens as written (keywords are case-insensitive), so a parsed layout
//!   re-serializes to the bytes its signature covers.
//! - Keyless functionaries are keys of type `hallmark-oidc` (see [`layout`] for why and for the
//!   format); a step's threshold counts distinct identities.

pub mod cjson;
pub mod key;
pub mod layout;
pub mod link;
pub mod rules;
pub mod statement;

pub use key::PublicKey;
pub use layout::{
    AnchoredRegex, Expires, IdentityMismatch, Inspection, Layout, LayoutKey, OidcFunctionary,
    SignedLayout, Step, TextMatch, TrustRootRef,
};
pub use link::{
    Artifacts, DigestSet, Link, Metablock, SIGNED_PAYLOAD_TYPE, Signature, SignedLink,
    link_file_name,
};
pub use rules::{
    ArtifactRule, ArtifactSide, LinkSet, Pattern, RuleFailure, RuleFailureReason, RuleKind,
    apply_rules,
};
pub use statement::{LinkPredicate, ResourceDescriptor, Statement};

/// Why an in-toto document, rule or key was rejected.
///
/// (A separate enum from [`crate::EntryError`]: in-toto documents name their faults by
/// dynamic paths, rule text and step names, which that enum's `&'static str` fields cannot
/// hold. Rule *verification* failures are [`RuleFailure`], a result, not a format error.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntotoError {
    /// Not JSON, or JSON that is not the document expected.
    #[error("malformed {what}: {source}")]
    Json {
        /// The document expected (`"link"`, `"layout"`, ...).
        what: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// Canonical JSON has no floats.
    #[error("canonical JSON cannot hold the non-integer number {number} at {path}")]
    Float {
        /// Where (`$.a[1].b`).
        path: String,
        /// The number.
        number: String,
    },
    /// A field breaks a rule of its format.
    #[error("{field}: {reason}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An artifact rule does not parse.
    #[error("artifact rule '{rule}': {reason}")]
    Rule {
        /// The rule as written.
        rule: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A layout's regular expression is longer than [`layout::MAX_REGEX_LEN`].
    #[error("a regular expression of {len} bytes is longer than the {max} a layout may hold")]
    RegexTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A functionary's regular expression does not compile.
    #[error("regular expression {pattern:?}: {source}")]
    Regex {
        /// The expression.
        pattern: String,
        /// The compiler's complaint.
        #[source]
        source: Box<regex::Error>,
    },
    /// A keyless functionary constrains a certificate extension Hallmark does not know.
    #[error(
        "unknown certificate extension {name:?} (name it as sigstore-go does, e.g. sourceRepositoryURI; OIDs are not accepted)"
    )]
    UnknownExtension {
        /// The name as written.
        name: String,
    },
    /// A classic key of a type or scheme Hallmark does not verify with.
    #[error("unsupported key: keytype {keytype:?} with scheme {scheme:?}")]
    UnsupportedKey {
        /// The key's `keytype`.
        keytype: String,
        /// The key's `scheme`.
        scheme: String,
    },
    /// A classic key's value does not parse.
    #[error("{keytype} key: {reason}")]
    BadKey {
        /// The key's `keytype`.
        keytype: String,
        /// What is wrong with it.
        reason: &'static str,
        /// The decoder's error, if one failed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The document has no signature by this key.
    #[error("no signature by key {keyid}")]
    NoSignature {
        /// The key id looked for.
        keyid: String,
    },
    /// The signature by this key does not verify.
    #[error("signature by key {keyid}: {source}")]
    BadSignature {
        /// The key id.
        keyid: String,
        /// Why it was not accepted.
        #[source]
        source: crate::crypto::SignatureError,
    },
    /// A time cannot be written in a layout.
    #[error("layout expiry: {source}")]
    Time {
        /// The cause.
        #[source]
        source: crate::EntryError,
    },
}
