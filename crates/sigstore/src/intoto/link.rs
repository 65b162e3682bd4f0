//! Classic in-toto v0.9 links and the signed wrapper (`Metablock`) shared with layouts.
//!
//! ```json
//! {"signed": {"_type": "link", "name": "build", "command": ["make"],
//!             "materials": {"src/a.c": {"sha256": "<hex>"}}, "products": {...},
//!             "byproducts": {"return-value": 0, "stdout": "", "stderr": ""},
//!             "environment": {}},
//!  "signatures": [{"keyid": "<hex>", "sig": "<hex>"}]}
//! ```
//!
//! Signatures cover [`Metablock::signed_bytes`]: the canonical JSON ([`super::cjson`]) of
//! `signed` with every field present, as in-toto-python re-serializes its model before
//! verifying. That is why parsing refuses unknown fields: in-toto-python would drop them and
//! the signature would no longer cover what the file says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::key::{PublicKey, check_hex};
use super::{IntotoError, cjson};

/// The DSSE payload type of a keyless signature on a classic link or layout
/// ([`Signature::bundle`]): the envelope's payload is the canonical `signed` bytes.
///
/// Domain separation: a plain Sigstore message signature over those bytes is exactly what a
/// generic blob signer (`hallmark sign`, `cosign sign-blob`, `sigstore sign`) makes for any
/// file, so a functionary's signature on a file whose bytes an attacker chose to be canonical
/// link or layout JSON could be lifted into a link or layout signature. A DSSE signature
/// covers the payload type too (PAE), and no generic signer or attester uses this one
/// (attesters sign `application/vnd.in-toto+json`), so such a bundle can only have been made
/// to sign in-toto metadata. Verifiers (Rust and the Python plugin) refuse anything else.
pub const SIGNED_PAYLOAD_TYPE: &str = "application/vnd.hallmark.intoto-signed+json";

/// Digests of one artifact: algorithm name (`sha256`) to lowercase hex.
pub type DigestSet = BTreeMap<String, String>;

/// Artifacts by path (materials or products), each with its digests.
pub type Artifacts = BTreeMap<String, DigestSet>;

/// The `_type` tag of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum LinkTag {
    #[default]
    #[serde(rename = "link")]
    Link,
}

/// A classic in-toto link: what one step consumed and produced, by whom it was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    #[serde(rename = "_type")]
    tag: LinkTag,
    /// The step's name (the layout's step it reports on).
    pub name: String,
    /// The command run, one argument per element.
    #[serde(default)]
    pub command: Vec<String>,
    /// Artifacts before the command ran.
    #[serde(default)]
    pub materials: Artifacts,
    /// Artifacts after it ran.
    #[serde(default)]
    pub products: Artifacts,
    /// `return-value`, `stdout`, `stderr` by in-toto-run's convention; free-form.
    #[serde(default)]
    pub byproducts: Map<String, Value>,
    /// Free-form description of the environment.
    #[serde(default)]
    pub environment: Map<String, Value>,
}

impl Link {
    /// An empty link for step `name`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Link {
            tag: LinkTag::Link,
            name: name.into(),
            command: Vec::new(),
            materials: Artifacts::new(),
            products: Artifacts::new(),
            byproducts: Map::new(),
            environment: Map::new(),
        }
    }

    /// Checks what serde cannot: artifact digests are hex, as in-toto-python requires, and the
    /// free-form `byproducts` and `environment` hold no non-integer number (canonical JSON
    /// cannot encode one, so no signature over such a link could be checked: it is refused
    /// when read rather than when verified).
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] naming the artifact, [`IntotoError::Float`].
    pub fn validate(&self) -> Result<(), IntotoError> {
        for (side, artifacts) in [("materials", &self.materials), ("products", &self.products)] {
            check_artifacts(side, artifacts)?;
        }
        cjson::to_canonical(&self.byproducts)?;
        cjson::to_canonical(&self.environment)?;
        Ok(())
    }

    /// The file name in-toto gives a link signed by `keyid`: `<step>.<keyid[:8]>.link`.
    #[must_use]
    pub fn file_name(&self, keyid: &str) -> String {
        link_file_name(&self.name, keyid)
    }
}

/// `<step>.<keyid[:8]>.link` (in-toto-python's `FILENAME_FORMAT`; a shorter key id is used
/// whole, as Python's slice does).
#[must_use]
pub fn link_file_name(step: &str, keyid: &str) -> String {
    let short = keyid.get(..8).unwrap_or(keyid);
    format!("{step}.{short}.link")
}

pub(crate) fn check_artifacts(side: &str, artifacts: &Artifacts) -> Result<(), IntotoError> {
    for (path, digests) in artifacts {
        for (alg, value) in digests {
            check_hex(|| format!("{side}.{path}.{alg}"), value)?;
        }
    }
    Ok(())
}

/// One signature of a [`Metablock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id.
    pub keyid: String,
    /// The signature, hex (ECDSA: hex of the DER signature).
    pub sig: String,
    /// A PEM certificate for the key (in-toto-golang's ITE-7 form; securesystemslib keeps it
    /// as an unrecognized field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Hallmark's keyless signatures: the Sigstore bundle (v0.3 JSON object) whose certificate
    /// made `sig`: a DSSE envelope of type [`SIGNED_PAYLOAD_TYPE`] whose payload is exactly
    /// the canonical `signed` bytes, logged as a Rekor `dsse` entry; `sig` is the envelope's
    /// signature (over the DSSE PAE). A message-signature bundle is refused (see
    /// [`SIGNED_PAYLOAD_TYPE`]). The key id is then that of a `hallmark-oidc` layout key.
    /// securesystemslib keeps it as an unrecognized field, which the Python plugin reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Value>,
}

/// The signed wrapper of links and layouts: `{"signed": ..., "signatures": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metablock<T> {
    /// The signed document.
    pub signed: T,
    /// Its signatures.
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

impl<T: Serialize> Metablock<T> {
    /// Wraps `signed` with no signatures yet.
    pub fn new(signed: T) -> Self {
        Metablock {
            signed,
            signatures: Vec::new(),
        }
    }

    /// The bytes every signature covers: canonical JSON of `signed`.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Float`] when a free-form field holds a non-integer number.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, IntotoError> {
        cjson::to_canonical(&self.signed)
    }

    /// The signature made by `keyid`, if any (in-toto-python uses the first).
    #[must_use]
    pub fn signature_by(&self, keyid: &str) -> Option<&Signature> {
        self.signatures.iter().find(|s| s.keyid == keyid)
    }

    /// Verifies the (first) signature by `keyid` with the classic key `key`, as
    /// in-toto-python's `Metablock.verify_signature` does.
    ///
    /// # Errors
    ///
    /// [`IntotoError::NoSignature`], [`IntotoError::BadSignature`], or the key's errors from
    /// [`PublicKey::verifier`].
    pub fn verify_signature(&self, keyid: &str, key: &PublicKey) -> Result<(), IntotoError> {
        let sig = self
            .signature_by(keyid)
            .ok_or_else(|| IntotoError::NoSignature {
                keyid: keyid.to_owned(),
            })?;
        let bytes = hex::decode(&sig.sig).map_err(|_| IntotoError::Invalid {
            field: format!("signatures[{keyid}].sig"),
            reason: "not hex".into(),
        })?;
        let (verifier, scheme) = key.verifier()?;
        verifier
            .verify(scheme, &self.signed_bytes()?, &bytes)
            .map_err(|source| IntotoError::BadSignature {
                keyid: keyid.to_owned(),
                source,
            })
    }
}

/// A signed classic link.
pub type SignedLink = Metablock<Link>;

impl Link {
    /// Parses the payload of a DSSE envelope of type [`super::statement::PAYLOAD_TYPE`] that
    /// holds a classic link (in-toto-python's `--use-dsse`), not a Statement.
    ///
    /// # Errors
    ///
    /// As [`SignedLink::parse`].
    pub fn parse_payload(bytes: &[u8]) -> Result<Self, IntotoError> {
        let link: Link = serde_json::from_slice(bytes).map_err(|source| IntotoError::Json {
            what: "link",
            source,
        })?;
        link.validate()?;
        Ok(link)
    }
}

impl SignedLink {
    /// Parses a `.link` file.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Json`] for JSON that is not a link (unknown fields included),
    /// [`IntotoError::Invalid`] for a non-hex digest.
    pub fn parse(bytes: &[u8]) -> Result<Self, IntotoError> {
        let link: SignedLink =
            serde_json::from_slice(bytes).map_err(|source| IntotoError::Json {
                what: "link",
                source,
            })?;
        link.signed.validate()?;
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A link in in-toto-python's shape (`in-toto-run --step-name build -- true`).
    const LINK: &str = r#"{"signatures": [{"keyid": "55445b6b43db73c0371eac481a6ca1d12d6a0fe792c4883ee7f8eccf960ebdd5", "sig": "3045"}],
      "signed": {"_type": "link", "byproducts": {"return-value": 0, "stderr": "", "stdout": ""},
        "command": ["true"], "environment": {}, "materials": {"a.txt": {"sha256": "ab"}},
        "name": "build", "products": {"b.txt": {"sha256": "cd"}}}}"#;

    #[test]
    fn parse_and_rebuild() {
        let l = SignedLink::parse(LINK.as_bytes()).unwrap();
        assert_eq!(l.signed.name, "build");
        assert_eq!(
            l.signed.file_name(&l.signatures[0].keyid),
            "build.55445b6b.link"
        );
        assert_eq!(
            String::from_utf8(l.signed_bytes().unwrap()).unwrap(),
            r#"{"_type":"link","byproducts":{"return-value":0,"stderr":"","stdout":""},"command":["true"],"environment":{},"materials":{"a.txt":{"sha256":"ab"}},"name":"build","products":{"b.txt":{"sha256":"cd"}}}"#
        );
        let mut built = Link::new("build");
        built.command = vec!["true".into()];
        built.materials = l.signed.materials.clone();
        built.products = l.signed.products.clone();
        built.byproducts = l.signed.byproducts.clone();
        assert_eq!(built, l.signed);
        let back = serde_json::to_vec(&l).unwrap();
        assert_eq!(SignedLink::parse(&back).unwrap(), l);
    }

    #[test]
    fn refuses_what_in_toto_python_would_drop_or_reject() {
        let unknown = LINK.replace(r#""name": "build""#, r#""name": "build", "extra": 1"#);
        assert!(SignedLink::parse(unknown.as_bytes()).is_err());
        let layout = LINK.replace(r#""_type": "link""#, r#""_type": "layout""#);
        assert!(SignedLink::parse(layout.as_bytes()).is_err());
        let bad_hex = LINK.replace(r#""sha256": "ab""#, r#""sha256": "xyz""#);
        let err = SignedLink::parse(bad_hex.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("materials.a.txt.sha256"), "{err}");
        assert_eq!(link_file_name("s", "abc"), "s.abc.link");
    }
}
