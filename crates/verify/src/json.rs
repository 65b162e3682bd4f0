//! Protobuf-JSON helpers shared by the bundle and trusted-root parsers: `bytes` as base64
//! (standard or URL-safe, padded or not, as protojson accepts), 64-bit integers as strings (or
//! numbers), and errors that name the field.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer};

use crate::error::{Document, Result, VerifyError};

const CONFIG: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// Decodes protobuf-JSON `bytes`. Line breaks are skipped, as Go's decoder (protojson) does.
pub(crate) fn decode_bytes(document: Document, field: &str, s: &str) -> Result<Vec<u8>> {
    decode_base64(s)
        .map_err(|e| VerifyError::parse(document, field, format!("invalid base64: {e}")))
}

/// Standard or URL-safe base64, padded or not, skipping `\r` and `\n`.
fn decode_base64(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    let owned;
    let s = if s.contains(['\r', '\n']) {
        owned = s.replace(['\r', '\n'], "");
        owned.as_str()
    } else {
        s
    };
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s))
}

/// The blocks of a PEM text, as (label, DER). Lenient about line lengths and whitespace
/// inside a block (some signers write the base64 on one line); strict about base64 itself.
pub(crate) fn pem_blocks(text: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or("unterminated PEM header")?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let footer = format!("-----END {label}-----");
        let end = body
            .find(&footer)
            .ok_or_else(|| format!("no PEM footer for {label}"))?;
        let b64: String = body[..end].split_whitespace().collect();
        let der = STANDARD
            .decode(&b64)
            .map_err(|e| format!("PEM {label} block: invalid base64: {e}"))?;
        out.push((label.to_owned(), der));
        rest = &body[end + footer.len()..];
    }
    if out.is_empty() {
        return Err("no PEM block".into());
    }
    Ok(out)
}

/// A base64 string as received; decoded with [`decode_bytes`] where the field name is known.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub(crate) struct B64(pub(crate) String);

impl B64 {
    pub(crate) fn decode(&self, document: Document, field: &str) -> Result<Vec<u8>> {
        decode_bytes(document, field, &self.0)
    }
}

/// A protobuf-JSON `int64`/`uint64`: a decimal string or a JSON number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Int64(pub(crate) i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(i64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Number(n) => Ok(Int64(n)),
            Repr::Text(s) => {
                let valid = !s.is_empty()
                    && s.strip_prefix('-')
                        .unwrap_or(&s)
                        .bytes()
                        .all(|b| b.is_ascii_digit());
                s.parse()
                    .ok()
                    .filter(|_| valid)
                    .map(Int64)
                    .ok_or_else(|| serde::de::Error::custom("not a 64-bit decimal integer"))
            }
        }
    }
}

impl Int64 {
    /// The value, which must not be negative.
    pub(crate) fn unsigned(self, document: Document, field: &str) -> Result<u64> {
        u64::try_from(self.0)
            .map_err(|_| VerifyError::parse(document, field, format!("{} is negative", self.0)))
    }
}

/// Parses JSON into `T`, naming the document in errors.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(document: Document, json: &'a [u8]) -> Result<T> {
    serde_json::from_slice(json).map_err(|e| VerifyError::parse(document, "$", e))
}

/// `X509CertificateChain`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChain {
    #[serde(default)]
    pub(crate) certificates: Vec<RawCert>,
}

/// `X509Certificate`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawCert {
    #[serde(alias = "raw_bytes")]
    pub(crate) raw_bytes: Option<B64>,
}

/// `LogId`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawLogId {
    #[serde(alias = "key_id")]
    pub(crate) key_id: Option<B64>,
}
