//! JWK Sets ([RFC 7517](https://www.rfc-editor.org/rfc/rfc7517)) turned into ready-to-use
//! verification keys. Pure: no I/O.
//!
//! Each key's algorithm comes from the JWK itself (`alg`, else its type and curve), never from a
//! token. Keys this verifier cannot or must not use (`use: enc`, symmetric `oct` keys, unknown
//! types and curves, RSA moduli under 2048 bits) are skipped rather than failing the whole set,
//! as IdPs publish encryption keys next to signing keys.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::jwt::asymmetric_algorithm;

/// At most this many keys are read from one JWKS.
const MAX_KEYS: usize = 64;

/// One usable verification key, parsed once and shared by every request.
#[derive(Debug)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
    /// The `jsonwebtoken` validation for this key's algorithm, issuer and audience.
    pub(crate) validation: Validation,
}

/// The usable keys of one issuer's JWKS.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Vec<Arc<VerifyKey>>>,
    all: Vec<Arc<VerifyKey>>,
}

/// The outcome of looking a token's key up.
#[derive(Debug)]
pub(crate) enum KeyLookup {
    /// The key, whose algorithm equals the header's.
    Found(Arc<VerifyKey>),
    /// Keys with this `kid` exist, but none for the header's algorithm.
    WrongAlgorithm(Algorithm),
    /// No key with this `kid` (or no `kid` and not exactly one key).
    Missing,
}

impl KeySet {
    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// Finds the key for a token. Without a `kid`, only a set holding exactly one key answers.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> KeyLookup {
        let candidates: &[Arc<VerifyKey>] = match kid {
            Some(kid) => self.by_kid.get(kid).map_or(&[], Vec::as_slice),
            None if self.all.len() == 1 => &self.all,
            None => &[],
        };
        if let Some(k) = candidates.iter().find(|k| k.alg == alg) {
            return KeyLookup::Found(Arc::clone(k));
        }
        match candidates.first() {
            Some(k) => KeyLookup::WrongAlgorithm(k.alg),
            None => KeyLookup::Missing,
        }
    }

    /// Parses a JWKS document. `validation` builds the per-key claim checks. Returns the set and
    /// how many keys the document held.
    pub(crate) fn from_json(
        body: &[u8],
        validation: impl Fn(Algorithm) -> Validation,
    ) -> Result<(Self, usize), serde_json::Error> {
        #[derive(Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(body)?;
        let total = doc.keys.len();
        let mut set = Self::default();
        for value in doc.keys.into_iter().take(MAX_KEYS) {
            let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else {
                continue;
            };
            let Some((alg, key)) = jwk.decoding_key() else {
                tracing::debug!(kid = ?jwk.kid, kty = %jwk.kty, "skipping unusable JWK");
                continue;
            };
            let key = Arc::new(VerifyKey {
                kid: jwk.kid.clone(),
                alg,
                key,
                validation: validation(alg),
            });
            if let Some(kid) = jwk.kid {
                set.by_kid.entry(kid).or_default().push(Arc::clone(&key));
            }
            set.all.push(key);
        }
        Ok((set, total))
    }
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(field: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field?).ok()
}

impl RawJwk {
    /// The key and its algorithm, or `None` if it is not a usable signature-verification key.
    fn decoding_key(&self) -> Option<(Algorithm, DecodingKey)> {
        if self.key_use.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
        {
            return None;
        }
        let declared = match &self.alg {
            Some(a) => Some(asymmetric_algorithm(a)?),
            None => None,
        };
        match self.kty.as_str() {
            "RSA" => {
                let alg = declared.unwrap_or(Algorithm::RS256);
                if !matches!(
                    alg,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                ) {
                    return None;
                }
                let n = b64(self.n.as_ref())?;
                let e = b64(self.e.as_ref())?;
                let bits = n.iter().skip_while(|&&b| b == 0).count() * 8;
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                    return None;
                }
                Some((alg, DecodingKey::from_rsa_raw_components(&n, &e)))
            }
            "EC" => {
                let (alg, len) = match self.crv.as_deref()? {
                    "P-256" => (Algorithm::ES256, 32),
                    "P-384" => (Algorithm::ES384, 48),
                    _ => return None,
                };
                if declared.is_some_and(|d| d != alg) {
                    return None;
                }
                let x = b64(self.x.as_ref())?;
                let y = b64(self.y.as_ref())?;
                if x.len() != len || y.len() != len {
                    return None;
                }
                let key =
                    DecodingKey::from_ec_components(self.x.as_deref()?, self.y.as_deref()?).ok()?;
                Some((alg, key))
            }
            "OKP" => {
                if self.crv.as_deref()? != "Ed25519"
                    || declared.is_some_and(|d| d != Algorithm::EdDSA)
                {
                    return None;
                }
                if b64(self.x.as_ref())?.len() != 32 {
                    return None;
                }
                Some((
                    Algorithm::EdDSA,
                    DecodingKey::from_ed_components(self.x.as_deref()?).ok()?,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: serde_json::Value) -> (KeySet, usize) {
        KeySet::from_json(doc.to_string().as_bytes(), Validation::new).unwrap()
    }

    fn rsa_n(bits: usize) -> String {
        URL_SAFE_NO_PAD.encode(vec![0xc5; bits / 8])
    }

    #[test]
    fn algorithms_come_from_the_jwk() {
        let p256 = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let p384 = URL_SAFE_NO_PAD.encode([7u8; 48]);
        let (set, total) = parse(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "p", "alg": "PS256", "n": rsa_n(3072), "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": p256, "y": p256},
            {"kty": "EC", "kid": "e3", "crv": "P-384", "x": p384, "y": p384},
            {"kty": "OKP", "kid": "d", "crv": "Ed25519", "x": p256},
        ]}));
        assert_eq!((set.len(), total), (5, 5));
        let alg = |kid, a| match set.lookup(Some(kid), a) {
            KeyLookup::Found(k) => k.alg,
            other => panic!("{kid}: {other:?}"),
        };
        assert_eq!(alg("r", Algorithm::RS256), Algorithm::RS256);
        assert_eq!(alg("p", Algorithm::PS256), Algorithm::PS256);
        assert_eq!(alg("e", Algorithm::ES256), Algorithm::ES256);
        assert_eq!(alg("e3", Algorithm::ES384), Algorithm::ES384);
        assert_eq!(alg("d", Algorithm::EdDSA), Algorithm::EdDSA);
        assert!(matches!(
            set.lookup(Some("r"), Algorithm::RS512),
            KeyLookup::WrongAlgorithm(Algorithm::RS256)
        ));
        assert!(matches!(
            set.lookup(Some("zz"), Algorithm::RS256),
            KeyLookup::Missing
        ));
        assert!(matches!(
            set.lookup(None, Algorithm::RS256),
            KeyLookup::Missing
        ));
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let p256 = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let (set, total) = parse(serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0", "alg": "HS256"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": rsa_n(2048), "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": rsa_n(1024), "e": "AQAB"},
            {"kty": "EC", "kid": "mismatch", "alg": "ES384", "crv": "P-256", "x": p256, "y": p256},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": p256, "y": p256},
            {"kty": "EC", "kid": "short", "crv": "P-256", "x": "AA", "y": p256},
            {"kty": "RSA", "kid": "only", "n": rsa_n(2048), "e": "AQAB"},
            "not an object",
        ]}));
        assert_eq!((set.len(), total), (1, 10));
        // With one key, a token without kid may use it.
        assert!(matches!(
            set.lookup(None, Algorithm::RS256),
            KeyLookup::Found(_)
        ));
    }
}
