//! The protobuf JSON mapping as the Sigstore documents use it: `bytes` as base64, 64-bit
//! integers as decimal strings.
//!
//! See <https://protobuf.dev/programming-guides/json/>. Readers accept what protojson accepts
//! (standard or URL-safe base64, padded or not, line breaks skipped; an `int64` as a string or a
//! number); writers emit the canonical form (standard padded base64; `int64` as a string).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as STANDARD_PADDED;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// A protobuf `bytes` field: base64 text, kept as received so a reader can name the field
/// when it fails to decode, and so a document read and written again keeps its text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Base64(String);

impl Base64 {
    /// Standard padded base64 of `bytes` (what protojson writes).
    #[must_use]
    pub fn encode(bytes: &[u8]) -> Self {
        Base64(STANDARD_PADDED.encode(bytes))
    }

    /// Wraps base64 text as received (decoded later with [`Base64::decode`]).
    #[must_use]
    pub fn from_text(text: impl Into<String>) -> Self {
        Base64(text.into())
    }

    /// The base64 text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decodes standard or URL-safe base64, padded or not, skipping `\r` and `\n` (as Go's
    /// protojson decoder does).
    ///
    /// # Errors
    ///
    /// The decoder's complaint when the text is not base64.
    pub fn decode(&self) -> Result<Vec<u8>, base64::DecodeError> {
        decode_lenient(&self.0)
    }
}

/// Decodes protobuf-JSON `bytes` text: standard or URL-safe base64, padded or not, skipping
/// `\r` and `\n`.
///
/// # Errors
///
/// The decoder's complaint when the text is not base64.
pub fn decode_lenient(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let owned;
    let s = if s.contains(['\r', '\n']) {
        owned = s.replace(['\r', '\n'], "");
        owned.as_str()
    } else {
        s
    };
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s))
}

/// A protobuf `int64`/`uint64`: written as a decimal string, read from a decimal string or a
/// JSON number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int64(pub i64);

impl Int64 {
    /// The value, if it is not negative.
    #[must_use]
    pub fn unsigned(self) -> Option<u64> {
        u64::try_from(self.0).ok()
    }
}

impl From<u64> for Int64 {
    /// Saturates at `i64::MAX` (log indexes and sizes never come near it).
    fn from(v: u64) -> Self {
        Int64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn int64_is_written_as_a_string_and_read_from_either_form() {
        assert_eq!(serde_json::to_string(&Int64(42)).unwrap(), r#""42""#);
        assert_eq!(serde_json::from_str::<Int64>("42").unwrap(), Int64(42));
        assert_eq!(serde_json::from_str::<Int64>(r#""-7""#).unwrap(), Int64(-7));
        for bad in [r#""""#, r#""+1""#, r#""1e3""#, r#"" 1""#, "1.5"] {
            assert!(serde_json::from_str::<Int64>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_are_written_padded_and_read_leniently() {
        assert_eq!(Base64::encode(&[0xfb, 0xff]).as_str(), "+/8=");
        for text in ["+/8=", "+/8", "-_8=", "-_8", "+/\n8="] {
            assert_eq!(
                Base64::from_text(text).decode().unwrap(),
                [0xfb, 0xff],
                "{text}"
            );
        }
    }
}
