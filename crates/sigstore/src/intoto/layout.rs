//! Classic in-toto v0.9 layouts, with Hallmark's keyless functionaries.
//!
//! ```json
//! {"signed": {"_type": "layout", "expires": "2030-01-01T00:00:00Z", "readme": "",
//!   "keys": {"<keyid>": {"keyid": "<keyid>", "keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
//!                         "keyval": {"public": "<PEM>"}},
//!            "<keyid>": {"keyid": "<keyid>", "keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1",
//!                         "keyval": {"issuer": "https://token.actions.githubusercontent.com",
//!                                    "identity": {"regex": "https://github.com/acme/app/.*"},
//!                                    "extensions": {"sourceRepositoryRef": "refs/heads/main"},
//!                                    "trust_root": "sha256:<hex>"}}},
//!   "steps": [{"_type": "step", "name": "build", "threshold": 1, "pubkeys": ["<keyid>"],
//!              "expected_command": ["make"],
//!              "expected_materials": [["MATCH", "*", "WITH", "PRODUCTS", "FROM", "checkout"]],
//!              "expected_products": [["CREATE", "app"], ["DISALLOW", "*"]]}],
//!   "inspect": [{"_type": "inspection", "name": "untar", "run": ["tar", "xf", "app.tar"],
//!                "expected_materials": [], "expected_products": []}]},
//!  "signatures": [{"keyid": "<keyid>", "sig": "<hex>"}]}
//! ```
//!
//! # Keyless functionaries (Hallmark's extension)
//!
//! A functionary named by OIDC identity is a key of `keytype` [`KEYTYPE_OIDC`] and `scheme`
//! [`SCHEME_OIDC`] in the layout's `keys`, listed by key id in a step's `pubkeys` like any
//! key. Its `keyval` holds:
//!
//! - `issuer`: the OIDC issuer URL the certificate carries (Fulcio extension `.8`, or `.1`);
//! - `identity`: the certificate's SAN value (email, URI, or `.7` username);
//! - `extensions` (optional): Fulcio CI-extension constraints, keyed by the names of
//!   [`CiExtension::json_name`] (`sourceRepositoryURI`, `buildSignerURI`, ...);
//! - `trust_root`: `sha256:<hex>`, the SHA-256 of the canonical JSON of the trusted root
//!   whose CAs and logs must vouch for the certificate ([`TrustRootRef`]).
//!
//! Each of `issuer`, `identity` and extension values is either a string (exact match) or
//! `{"regex": "<RE>"}`, a regular expression (Rust `regex` syntax, linear time) anchored at both
//! ends: it must match the whole value. The key id is computed as securesystemslib computes
//! every default key id: SHA-256 of the canonical JSON of `{keytype, scheme, keyval}`.
//!
//! Why a key type: in-toto-python re-serializes its model before checking a layout's
//! signature, dropping any field it does not know, so extra fields in steps or in the layout
//! would break the signature for stock tools. `keys` values are kept verbatim and resolved
//! through securesystemslib's `KEY_FOR_TYPE_AND_SCHEME` registry, so a layout with keyless
//! functionaries verifies with stock `in-toto-verify` once a plugin registering
//! `hallmark-oidc`/`hallmark-oidc-v1` is imported; without it in-toto 3.1.0 refuses to load
//! the layout (`ValueError: Unsupported public key hallmark-oidc/hallmark-oidc-v1`, checked
//! by hand), never silently accepts it. Layouts with only classic keys are plain
//! in-toto layouts.
//!
//! Thresholds: a step's `threshold` counts distinct signer identities (issuer and SAN), not
//! key ids: two links signed by the same identity count once, even when they match two
//! different keyless keys, or one regex key twice.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::key::{PublicKey, check_hex};
use super::link::Metablock;
use super::rules::ArtifactRule;
use super::{IntotoError, cjson};
use crate::oid::CiExtension;

/// `keytype` of Hallmark's keyless functionaries.
pub const KEYTYPE_OIDC: &str = "hallmark-oidc";
/// `scheme` of Hallmark's keyless functionaries.
pub const SCHEME_OIDC: &str = "hallmark-oidc-v1";

/// The longest identity or extension pattern a layout may hold.
pub const MAX_REGEX_LEN: usize = 1024;
/// The most memory one compiled pattern (and its lazy DFA) may take.
const MAX_REGEX_PROGRAM: usize = 1 << 18;

/// A regular expression matched against a whole value.
#[derive(Clone, Debug)]
pub struct AnchoredRegex {
    source: String,
    re: regex::Regex,
}

impl AnchoredRegex {
    /// Compiles `source` anchored at both ends.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Regex`] when it does not compile.
    pub fn new(source: &str) -> Result<Self, IntotoError> {
        // Layouts are parsed before their signature is checked: a hostile file must not make
        // the compiler spend much (the regex crate's own default allows ~10 MiB per pattern).
        if source.len() > MAX_REGEX_LEN {
            return Err(IntotoError::RegexTooLong {
                len: source.len(),
                max: MAX_REGEX_LEN,
            });
        }
        let compile = |pattern: &str| {
            regex::RegexBuilder::new(pattern)
                .size_limit(MAX_REGEX_PROGRAM)
                .dfa_size_limit(MAX_REGEX_PROGRAM)
                .build()
                .map_err(|e| IntotoError::Regex {
                    pattern: source.to_owned(),
                    source: Box::new(e),
                })
        };
        // The expression must stand on its own before it is anchored: `a)|(.*` is refused,
        // where wrapped it would compile as `^(?:a)|(.*)$` and match anything.
        compile(source)?;
        let re = compile(&format!("^(?:{source})$"))?;
        Ok(AnchoredRegex {
            source: source.to_owned(),
            re,
        })
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it matches the whole of `value`.
    #[must_use]
    pub fn is_match(&self, value: &str) -> bool {
        self.re.is_match(value)
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for AnchoredRegex {}

/// An exact value or an anchored regular expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMatch {
    /// The value must be exactly this (JSON: a string).
    Exact(String),
    /// The whole value must match (JSON: `{"regex": "..."}`).
    Regex(AnchoredRegex),
}

impl TextMatch {
    /// Whether `value` matches.
    #[must_use]
    pub fn is_match(&self, value: &str) -> bool {
        match self {
            TextMatch::Exact(s) => s == value,
            TextMatch::Regex(r) => r.is_match(value),
        }
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextMatch::Exact(s) => write!(f, "{s:?}"),
            TextMatch::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

impl Serialize for TextMatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TextMatch::Exact(v) => v.serialize(s),
            TextMatch::Regex(r) => json!({"regex": r.as_str()}).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TextMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Unknown members of the regex form are refused: a field accepted and then dropped
        // would be outside the key id and the signed bytes alike.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RegexForm {
            regex: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Exact(String),
            Regex(RegexForm),
        }
        match Raw::deserialize(d)? {
            Raw::Exact(s) => Ok(TextMatch::Exact(s)),
            Raw::Regex(RegexForm { regex }) => AnchoredRegex::new(&regex)
                .map(TextMatch::Regex)
                .map_err(D::Error::custom),
        }
    }
}

/// Which trusted root must vouch for a keyless functionary's certificate (JSON:
/// `sha256:<hex>`): the SHA-256 of the securesystemslib canonical JSON of the `TrustedRoot`
/// object.
///
/// Canonical, so the reference does not depend on how the root was distributed: a bare
/// `trusted_root.json`, the `trustedRoot` of a ClientTrustConfig (what `hallmark sign` and
/// sigstore-python's `--trust-config` read), re-indented or with its keys reordered, all give
/// the same reference. The Python plugin computes it with securesystemslib's
/// `encode_canonical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrustRootRef(pub [u8; 32]);

/// `mediaType` prefix of a ClientTrustConfig, whose `trustedRoot` member is the root.
const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.clienttrustconfig";

impl TrustRootRef {
    /// The reference to the trusted root in `bytes`: a `TrustedRoot` JSON document, or a
    /// ClientTrustConfig holding one.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Json`] when `bytes` is not a JSON object; [`IntotoError::Float`] when it
    /// holds a non-integer number (no trusted root does).
    pub fn of_document(bytes: &[u8]) -> Result<Self, IntotoError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|source| IntotoError::Json {
            what: "trusted root",
            source,
        })?;
        let is_client_config = doc
            .get("mediaType")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with(CLIENT_TRUST_CONFIG_MEDIA_TYPE));
        let root = match doc.get("trustedRoot") {
            Some(root) if is_client_config => root,
            _ => &doc,
        };
        if !root.is_object() {
            return Err(IntotoError::Invalid {
                field: "trustedRoot".into(),
                reason: "a trusted root is a JSON object".into(),
            });
        }
        Ok(TrustRootRef(Sha256::digest(cjson::encode(root)?).into()))
    }
}

impl fmt::Display for TrustRootRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl Serialize for TrustRootRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_string().serialize(s)
    }
}

impl<'de> Deserialize<'de> for TrustRootRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| hex::decode(h).ok())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .map(TrustRootRef)
            .ok_or_else(|| {
                D::Error::custom(format!("trust_root {s:?} is not sha256:<64 hex digits>"))
            })
    }
}

/// Why a certificate's identity is not the one a keyless functionary names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityMismatch {
    /// The issuer differs.
    #[error("issuer {actual:?} does not match {expected}")]
    Issuer {
        /// The functionary's constraint.
        expected: String,
        /// The certificate's issuer.
        actual: String,
    },
    /// The SAN differs.
    #[error("identity {actual:?} does not match {expected}")]
    Identity {
        /// The functionary's constraint.
        expected: String,
        /// The certificate's SAN.
        actual: String,
    },
    /// A CI extension is absent or differs.
    #[error(
        "certificate extension {extension} ({oid}) is {actual:?}, which does not match {expected}"
    )]
    Extension {
        /// The extension's JSON name.
        extension: &'static str,
        /// Its OID.
        oid: String,
        /// The functionary's constraint.
        expected: String,
        /// The certificate's value, `None` when absent.
        actual: Option<String>,
    },
}

/// A functionary named by OIDC identity (see the module docs for the JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcFunctionary {
    /// The OIDC issuer.
    pub issuer: TextMatch,
    /// The certificate's SAN value.
    pub identity: TextMatch,
    /// Required CI extensions.
    pub extensions: BTreeMap<CiExtension, TextMatch>,
    /// The trusted root that must vouch for the certificate.
    pub trust_root: TrustRootRef,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcKeyVal {
    issuer: TextMatch,
    identity: TextMatch,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extensions: BTreeMap<String, TextMatch>,
    trust_root: TrustRootRef,
}

impl OidcFunctionary {
    fn keyval(&self) -> OidcKeyVal {
        OidcKeyVal {
            issuer: self.issuer.clone(),
            identity: self.identity.clone(),
            extensions: self
                .extensions
                .iter()
                .map(|(e, m)| (e.json_name().to_owned(), m.clone()))
                .collect(),
            trust_root: self.trust_root,
        }
    }

    fn from_keyval(kv: OidcKeyVal) -> Result<Self, IntotoError> {
        let mut extensions = BTreeMap::new();
        for (name, m) in kv.extensions {
            // Only the JSON name: an OID or arc-number alias would be rewritten to the name
            // on re-serialization, changing the signed bytes and the key id (and two aliases
            // of one extension would silently overwrite each other).
            let e = CiExtension::from_name(&name)
                .filter(|e| e.json_name() == name)
                .ok_or(IntotoError::UnknownExtension { name })?;
            extensions.insert(e, m);
        }
        Ok(OidcFunctionary {
            issuer: kv.issuer,
            identity: kv.identity,
            extensions,
            trust_root: kv.trust_root,
        })
    }

    /// The key id: SHA-256 of the canonical `{keytype, scheme, keyval}`, as securesystemslib's
    /// `compute_default_keyid`.
    ///
    /// # Errors
    ///
    /// None in practice (the dict holds only strings); the canonical encoder's is passed on.
    pub fn compute_keyid(&self) -> Result<String, IntotoError> {
        let dict = json!({"keytype": KEYTYPE_OIDC, "scheme": SCHEME_OIDC, "keyval": self.keyval()});
        Ok(hex::encode(Sha256::digest(cjson::encode(&dict)?)))
    }

    /// Checks a certificate's identity: its issuer, its SAN value, and the CI extensions it
    /// carries (`extension` returns a value by extension, `None` when absent).
    ///
    /// # Errors
    ///
    /// The first [`IdentityMismatch`].
    pub fn check<'a>(
        &self,
        issuer: &str,
        identity: &str,
        extension: impl Fn(CiExtension) -> Option<&'a str>,
    ) -> Result<(), IdentityMismatch> {
        if !self.issuer.is_match(issuer) {
            return Err(IdentityMismatch::Issuer {
                expected: self.issuer.to_string(),
                actual: issuer.to_owned(),
            });
        }
        if !self.identity.is_match(identity) {
            return Err(IdentityMismatch::Identity {
                expected: self.identity.to_string(),
                actual: identity.to_owned(),
            });
        }
        for (e, m) in &self.extensions {
            let actual = extension(*e);
            if !actual.is_some_and(|v| m.is_match(v)) {
                return Err(IdentityMismatch::Extension {
                    extension: e.json_name(),
                    oid: e.oid().to_string(),
                    expected: m.to_string(),
                    actual: actual.map(str::to_owned),
                });
            }
        }
        Ok(())
    }
}

/// A functionary key in a layout's `keys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutKey {
    /// A classic securesystemslib public key.
    Classic(PublicKey),
    /// A keyless functionary, with the `keyid` its dict repeats.
    Oidc {
        /// The `keyid` field inside the dict.
        keyid: Option<String>,
        /// The identity constraints.
        functionary: OidcFunctionary,
    },
}

impl LayoutKey {
    /// A keyless key with its `keyid` field set, and that key id.
    ///
    /// # Errors
    ///
    /// As [`OidcFunctionary::compute_keyid`].
    pub fn oidc(functionary: OidcFunctionary) -> Result<(String, Self), IntotoError> {
        let keyid = functionary.compute_keyid()?;
        Ok((
            keyid.clone(),
            LayoutKey::Oidc {
                keyid: Some(keyid),
                functionary,
            },
        ))
    }

    /// A classic key with its `keyid` field set, and that key id.
    ///
    /// # Errors
    ///
    /// As [`PublicKey::compute_keyid`].
    pub fn classic(key: PublicKey) -> Result<(String, Self), IntotoError> {
        let key = key.with_keyid()?;
        let keyid = key.compute_keyid()?;
        Ok((keyid, LayoutKey::Classic(key)))
    }

    fn inner_keyid(&self) -> Option<&str> {
        match self {
            LayoutKey::Classic(k) => k.keyid.as_deref(),
            LayoutKey::Oidc { keyid, .. } => keyid.as_deref(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcKeyDict {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    keytype: String,
    scheme: String,
    keyval: OidcKeyVal,
}

impl Serialize for LayoutKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LayoutKey::Classic(k) => k.serialize(s),
            LayoutKey::Oidc { keyid, functionary } => OidcKeyDict {
                keyid: keyid.clone(),
                keytype: KEYTYPE_OIDC.to_owned(),
                scheme: SCHEME_OIDC.to_owned(),
                keyval: functionary.keyval(),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for LayoutKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if v.get("keytype").and_then(Value::as_str) == Some(KEYTYPE_OIDC) {
            let dict = OidcKeyDict::deserialize(v).map_err(D::Error::custom)?;
            if dict.scheme != SCHEME_OIDC {
                return Err(D::Error::custom(format!(
                    "{KEYTYPE_OIDC} key with scheme {:?} (expected {SCHEME_OIDC})",
                    dict.scheme
                )));
            }
            let functionary =
                OidcFunctionary::from_keyval(dict.keyval).map_err(D::Error::custom)?;
            Ok(LayoutKey::Oidc {
                keyid: dict.keyid,
                functionary,
            })
        } else {
            PublicKey::deserialize(v)
                .map(LayoutKey::Classic)
                .map_err(D::Error::custom)
        }
    }
}

/// A layout's expiry: `YYYY-MM-DDTHH:MM:SSZ`, the only form in-toto-python accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expires {
    text: String,
    unix: i64,
}

impl Expires {
    /// Parses `YYYY-MM-DDTHH:MM:SSZ`.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] for any other form or an impossible date.
    pub fn parse(text: &str) -> Result<Self, IntotoError> {
        let b = text.as_bytes();
        let shape = b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        let unix = shape.then(|| crate::time::parse_rfc3339(text)).flatten();
        let unix = unix.ok_or_else(|| IntotoError::Invalid {
            field: "expires".into(),
            reason: format!("{text:?} is not a YYYY-MM-DDTHH:MM:SSZ time"),
        })?;
        Ok(Expires {
            text: text.to_owned(),
            unix,
        })
    }

    /// The expiry from Unix seconds.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Time`] outside the years 1970 to 9999.
    pub fn from_unix(unix: i64) -> Result<Self, IntotoError> {
        let text = crate::time::rfc3339(unix).map_err(|source| IntotoError::Time { source })?;
        Ok(Expires { text, unix })
    }

    /// Unix seconds.
    #[must_use]
    pub fn unix(&self) -> i64 {
        self.unix
    }

    /// Whether the layout has expired at `now` (Unix seconds).
    #[must_use]
    pub fn is_expired_at(&self, now: i64) -> bool {
        now >= self.unix
    }
}

impl fmt::Display for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Expires {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Expires::parse(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

macro_rules! tag {
    ($name:ident, $value:literal) => {
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        enum $name {
            #[default]
            #[serde(rename = $value)]
            Tag,
        }
    };
}
tag!(LayoutTag, "layout");
tag!(StepTag, "step");
tag!(InspectionTag, "inspection");

fn one() -> u32 {
    1
}

/// A step of the supply chain: who may perform it, and what it may consume and produce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(rename = "_type")]
    tag: StepTag,
    /// The step's name (links carry it).
    pub name: String,
    /// Rules for its materials.
    #[serde(default)]
    pub expected_materials: Vec<ArtifactRule>,
    /// Rules for its products.
    #[serde(default)]
    pub expected_products: Vec<ArtifactRule>,
    /// Key ids (of `keys`) of the functionaries allowed to perform it.
    #[serde(default)]
    pub pubkeys: Vec<String>,
    /// The command expected (a mismatch is a warning in in-toto, not a failure).
    #[serde(default)]
    pub expected_command: Vec<String>,
    /// How many distinct functionaries must have performed it.
    #[serde(default = "one")]
    pub threshold: u32,
}

impl Step {
    /// A step with no rules, no functionaries, threshold 1.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Step {
            tag: StepTag::Tag,
            name: name.into(),
            expected_materials: Vec::new(),
            expected_products: Vec::new(),
            pubkeys: Vec::new(),
            expected_command: Vec::new(),
            threshold: 1,
        }
    }
}

/// An inspection: a command the verifier runs, whose artifacts rules check too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspection {
    #[serde(rename = "_type")]
    tag: InspectionTag,
    /// The inspection's name.
    pub name: String,
    /// Rules for its materials.
    #[serde(default)]
    pub expected_materials: Vec<ArtifactRule>,
    /// Rules for its products.
    #[serde(default)]
    pub expected_products: Vec<ArtifactRule>,
    /// The command to run.
    #[serde(default)]
    pub run: Vec<String>,
}

impl Inspection {
    /// An inspection running `run`, with no rules.
    #[must_use]
    pub fn new(name: impl Into<String>, run: Vec<String>) -> Self {
        Inspection {
            tag: InspectionTag::Tag,
            name: name.into(),
            expected_materials: Vec::new(),
            expected_products: Vec::new(),
            run,
        }
    }
}

/// A classic in-toto layout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    #[serde(rename = "_type")]
    tag: LayoutTag,
    /// When the layout stops being valid.
    pub expires: Expires,
    /// Free text.
    #[serde(default)]
    pub readme: String,
    /// Functionary keys by key id.
    #[serde(default)]
    pub keys: BTreeMap<String, LayoutKey>,
    /// The steps.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The inspections.
    #[serde(default)]
    pub inspect: Vec<Inspection>,
}

impl Layout {
    /// An empty layout expiring at `expires`.
    #[must_use]
    pub fn new(expires: Expires) -> Self {
        Layout {
            tag: LayoutTag::Tag,
            expires,
            readme: String::new(),
            keys: BTreeMap::new(),
            steps: Vec::new(),
            inspect: Vec::new(),
        }
    }

    /// Checks what serde cannot: hex key ids, each key's inner `keyid` equal to its map key,
    /// step and inspection names unique, every `pubkeys` entry present in `keys`.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), IntotoError> {
        for (id, key) in &self.keys {
            check_hex(|| format!("keys.{id}"), id)?;
            if let Some(inner) = key.inner_keyid().filter(|inner| inner != id) {
                return Err(IntotoError::Invalid {
                    field: format!("keys.{id}.keyid"),
                    reason: format!("is {inner}, not the key's map key"),
                });
            }
        }
        let mut names = BTreeSet::new();
        let all = self
            .steps
            .iter()
            .map(|s| &s.name)
            .chain(self.inspect.iter().map(|i| &i.name));
        for name in all {
            if !names.insert(name) {
                return Err(IntotoError::Invalid {
                    field: format!("steps.{name}"),
                    reason: "step and inspection names must be unique".into(),
                });
            }
        }
        for step in &self.steps {
            for id in &step.pubkeys {
                if !self.keys.contains_key(id) {
                    return Err(IntotoError::Invalid {
                        field: format!("steps.{}.pubkeys", step.name),
                        reason: format!("key {id} is not in the layout's keys"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The functionary keys of `step`, by key id.
    pub fn functionaries<'a>(
        &'a self,
        step: &'a Step,
    ) -> impl Iterator<Item = (&'a str, &'a LayoutKey)> {
        step.pubkeys
            .iter()
            .filter_map(|id| self.keys.get(id).map(|k| (id.as_str(), k)))
    }
}

/// A signed layout.
pub type SignedLayout = Metablock<Layout>;

impl SignedLayout {
    /// Parses a `.layout` file.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Json`] for JSON that is not a layout (bad rules, keys, expiry and unknown
    /// fields included), [`IntotoError::Invalid`] from [`Layout::validate`].
    pub fn parse(bytes: &[u8]) -> Result<Self, IntotoError> {
        let layout: SignedLayout =
            serde_json::from_slice(bytes).map_err(|source| IntotoError::Json {
                what: "layout",
                source,
            })?;
        layout.signed.validate()?;
        Ok(layout)
    }
}
