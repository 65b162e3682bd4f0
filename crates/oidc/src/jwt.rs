//! Pure JWS compact-serialization parsing ([RFC 7515 §7.1](https://www.rfc-editor.org/rfc/rfc7515#section-7.1)):
//! enough of the header and payload to choose an issuer and a key, before any signature check.
//! Nothing read here is trusted; it only routes the token.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::error::{MalformedToken, OidcError, TokenPart};

/// Seconds since the Unix epoch, displayed as RFC 3339 UTC (`2026-11-22T05:00:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The current time (the epoch if the clock is set before it).
    pub fn now() -> Self {
        Self(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match der::DateTime::from_unix_duration(std::time::Duration::from_secs(self.0)) {
            Ok(time) => fmt::Display::fmt(&time, f),
            // Past 9999-12-31T23:59:59Z RFC 3339 has no form; say what the number is.
            Err(_) => write!(f, "unix time {}", self.0),
        }
    }
}

/// The JWS algorithms a token may use: asymmetric only. `none` and HMAC are never accepted,
/// whatever a JWKS says, because an HMAC "key" derived from a public key is public.
pub(crate) fn asymmetric_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawRouting {
    iss: Option<serde_json::Value>,
}

/// What routing needs from an unverified token.
#[derive(Debug)]
pub(crate) struct Unverified {
    /// The header's algorithm, already restricted to [`asymmetric_algorithm`]s.
    pub(crate) alg: Algorithm,
    /// The header's `alg` as written.
    pub(crate) alg_name: String,
    /// The header's `kid`.
    pub(crate) kid: Option<String>,
    /// The payload's `iss`.
    pub(crate) issuer: String,
}

/// Splits and decodes a token far enough to route it. Checks, in order: size, characters,
/// segment count, header JSON and algorithm, payload JSON and `iss`, signature encoding.
pub(crate) fn parse_unverified(token: &str, max_bytes: usize) -> Result<Unverified, OidcError> {
    if token.len() > max_bytes {
        return Err(OidcError::TokenTooLarge {
            size: token.len(),
            max: max_bytes,
        });
    }
    let [header, payload, signature] = split(token)?;

    let header: RawHeader = decode_json(header, TokenPart::Header)?;
    let alg_name = header.alg.ok_or(MalformedToken::MissingAlgorithm)?;
    let alg = asymmetric_algorithm(&alg_name).ok_or_else(|| OidcError::AlgorithmNotAllowed {
        alg: alg_name.clone(),
    })?;
    if header.crit.is_some() {
        return Err(MalformedToken::CriticalHeader.into());
    }

    let routing: RawRouting = decode_json(payload, TokenPart::Payload)?;
    let Some(serde_json::Value::String(issuer)) = routing.iss else {
        return Err(MalformedToken::MissingIssuer.into());
    };

    if signature.is_empty() {
        return Err(MalformedToken::EmptySegment {
            part: TokenPart::Signature,
        }
        .into());
    }
    // Decoded again by the signature check; decoding here only turns garbage into a 400.
    if URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(MalformedToken::Base64 {
            part: TokenPart::Signature,
        }
        .into());
    }

    Ok(Unverified {
        alg,
        alg_name,
        kid: header.kid,
        issuer,
    })
}

/// The three segments of a JWS compact serialization, after checking that the token is not
/// empty and holds only base64url characters and dots.
fn split(token: &str) -> Result<[&str; 3], MalformedToken> {
    if token.is_empty() {
        return Err(MalformedToken::Empty);
    }
    if let Some((position, &byte)) = token
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, b)| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err(MalformedToken::InvalidCharacter { position, byte });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MalformedToken::SegmentCount {
            found: token.split('.').count(),
        });
    };
    Ok([header, payload, signature])
}

/// Decodes the payload of a JWS compact serialization without checking the signature (which
/// must not be empty). For clients that want to show or pre-check what a token claims; nothing
/// decoded here is trusted.
pub fn decode_payload_unverified<T: serde::de::DeserializeOwned>(
    token: &str,
) -> Result<T, MalformedToken> {
    let [header, payload, signature] = split(token)?;
    decode_json::<serde::de::IgnoredAny>(header, TokenPart::Header)?;
    let claims = decode_json(payload, TokenPart::Payload)?;
    if signature.is_empty() {
        return Err(MalformedToken::EmptySegment {
            part: TokenPart::Signature,
        });
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(
    segment: &str,
    part: TokenPart,
) -> Result<T, MalformedToken> {
    if segment.is_empty() {
        return Err(MalformedToken::EmptySegment { part });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| MalformedToken::Base64 { part })?;
    // serde maps JSON arrays onto structs too; a JOSE header or JWT claims set is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let source =
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
                Err(e) => e,
                // Unreachable in practice: a value that starts with something other than `{` is
                // not a map. Report it as a type error all the same.
                Ok(_) => <serde_json::Error as serde::de::Error>::custom("not a JSON object"),
            };
        return Err(MalformedToken::Json {
            part,
            source: Arc::new(source),
        });
    }
    serde_json::from_slice(&bytes).map_err(|source| MalformedToken::Json {
        part,
        source: Arc::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(UnixTime(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(UnixTime(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(UnixTime(1_795_323_600).to_string(), "2026-11-22T05:00:00Z");
        assert_eq!(
            UnixTime(253_402_300_799).to_string(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(
            UnixTime(u64::MAX).to_string(),
            format!("unix time {}", u64::MAX)
        );
    }

    #[test]
    fn routes_a_token() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
            b64(r#"{"iss":"https://issuer.example","sub":"x"}"#),
            b64("sig")
        );
        let u = parse_unverified(&t, 16384).unwrap();
        assert_eq!(u.alg, Algorithm::RS256);
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert_eq!(u.issuer, "https://issuer.example");
    }

    #[test]
    fn rejects_shapes() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64(r#"{"iss":"https://i"}"#);
        let cases = [
            (String::new(), "token is empty"),
            ("a.b".to_owned(), "found 2"),
            ("a.b.c.d".to_owned(), "found 4"),
            ("a b.c.d".to_owned(), "byte 1 is 0x20"),
            (format!("{h}.{p}."), "signature segment is empty"),
            (format!("!{h}.{p}.x"), "byte 0"),
            (format!("{h}.{p}.a"), "signature is not valid base64url"),
            (
                format!("{}.{p}.AA", b64("[1]")),
                "header is not a valid JSON object",
            ),
            (
                format!("{h}.{}.AA", b64("\"x\"")),
                "payload is not a valid JSON object",
            ),
            (
                format!("{h}.{}.AA", b64("{\"iss\":3}")),
                "no string \"iss\"",
            ),
            (format!("{}.{p}.AA", b64("{}")), "no \"alg\""),
            (
                format!("{}.{p}.AA", b64(r#"{"alg":"ES256","crit":["b64"]}"#)),
                "critical",
            ),
        ];
        for (token, needle) in cases {
            let e = parse_unverified(&token, 16384).unwrap_err();
            assert!(e.to_string().contains(needle), "{token:?}: {e}");
            assert_eq!(e.kind(), crate::ErrorKind::Malformed, "{token:?}");
        }
    }

    #[test]
    fn refuses_symmetric_and_none() {
        for alg in ["none", "HS256", "HS512", "RSA-OAEP", "rs256"] {
            let t = format!(
                "{}.{}.AA",
                b64(&format!(r#"{{"alg":"{alg}"}}"#)),
                b64(r#"{"iss":"https://i"}"#)
            );
            match parse_unverified(&t, 16384) {
                Err(OidcError::AlgorithmNotAllowed { alg: a }) => assert_eq!(a, alg),
                other => panic!("{alg}: {other:?}"),
            }
        }
    }
}
