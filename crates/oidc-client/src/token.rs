//! The acquired token, where it came from, and what it claims (read without verification).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use hallmark_oidc::error::ClaimProblem;
use hallmark_oidc::{UnixTime, decode_payload_unverified};

use super::AcquireError;

/// An identity token (or a GitHub request token): a bearer credential. `Debug` does not show it,
/// there is no `Display`, and [`Self::secret`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityToken(Arc<str>);

impl IdentityToken {
    /// Wraps a token; surrounding white space (a file's final newline) is removed.
    pub fn new(token: impl AsRef<str>) -> Self {
        Self(Arc::from(token.as_ref().trim()))
    }

    /// The token itself, to send to the CA. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityToken(<{} bytes>)", self.0.len())
    }
}

/// Where a token came from. `Display` is written for a log line: "using identity token from
/// {source}".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// Given explicitly ([`AcquireOptions::token`](super::AcquireOptions::token)).
    Explicit,
    /// Read from an explicitly named file.
    File {
        /// The file.
        path: PathBuf,
    },
    /// Read from an environment variable (`SIGSTORE_ID_TOKEN`, a GitLab `id_tokens` variable).
    EnvironmentVariable {
        /// The variable's name.
        name: String,
    },
    /// Requested from the GitHub Actions ID-token endpoint.
    GitHubActions,
    /// Read from a Kubernetes projected service-account token file.
    Kubernetes {
        /// The file.
        path: PathBuf,
    },
    /// Obtained through an interactive login.
    Interactive {
        /// The issuer logged in at.
        issuer: String,
    },
}

/// What a token claims, decoded without verifying its signature: for display and early checks
/// only. The CA verifies the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, if present.
    pub email: Option<String>,
    /// `aud` (a single string becomes a one-element list).
    pub audience: Vec<String>,
    /// `exp`.
    pub expires_at: UnixTime,
    /// `iat`, if present.
    pub issued_at: Option<UnixTime>,
}

impl TokenClaims {
    /// The identity a person would recognise: the email address if there is one, else the subject.
    pub fn identity(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// Decodes `token`'s claims and checks that it is a JWT with `iss`, `sub` and `exp`, that it
    /// has not expired, and that its `aud` includes `audience`.
    pub fn check(
        token: &IdentityToken,
        origin: &TokenSource,
        audience: &str,
    ) -> Result<Self, AcquireError> {
        Self::check_at(token, origin, audience, UnixTime::now())
    }

    fn check_at(
        token: &IdentityToken,
        origin: &TokenSource,
        audience: &str,
        now: UnixTime,
    ) -> Result<Self, AcquireError> {
        if token.secret().is_empty() {
            return Err(AcquireError::Empty {
                origin: origin.clone(),
            });
        }
        let raw: RawClaims = decode_payload_unverified(token.secret()).map_err(|problem| {
            AcquireError::Malformed {
                origin: origin.clone(),
                problem,
            }
        })?;
        let missing = |claim| AcquireError::MissingClaim {
            origin: origin.clone(),
            claim,
        };
        let invalid = |claim, problem| AcquireError::InvalidClaim {
            origin: origin.clone(),
            claim,
            problem,
        };
        let string = |claim, value: Option<Value>| match value {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(invalid(claim, ClaimProblem::Empty)),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(
                claim,
                ClaimProblem::WrongType {
                    expected: "a string",
                },
            )),
        };
        let time = |claim, value: Option<Value>| match value {
            None => Ok(None),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(secs), _) => Ok(Some(UnixTime(secs))),
                // NumericDate may have a fraction (RFC 7519 §2); whole seconds are enough here.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                (None, Some(f)) if f.is_finite() && f >= 0.0 => Ok(Some(UnixTime(f as u64))),
                _ => Err(invalid(
                    claim,
                    ClaimProblem::WrongType {
                        expected: "a non-negative number of seconds",
                    },
                )),
            },
            Some(_) => Err(invalid(
                claim,
                ClaimProblem::WrongType {
                    expected: "a number",
                },
            )),
        };

        let issuer = string("iss", raw.iss)?.ok_or_else(|| missing("iss"))?;
        let subject = string("sub", raw.sub)?.ok_or_else(|| missing("sub"))?;
        let email = string("email", raw.email)?;
        let expires_at = time("exp", raw.exp)?.ok_or_else(|| missing("exp"))?;
        let issued_at = time("iat", raw.iat)?;
        let audience_list = match raw.aud {
            None => return Err(missing("aud")),
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid(
                        "aud",
                        ClaimProblem::WrongType {
                            expected: "a string or a list of strings",
                        },
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    "aud",
                    ClaimProblem::WrongType {
                        expected: "a string or a list of strings",
                    },
                ));
            }
        };

        if expires_at <= now {
            return Err(AcquireError::Expired {
                origin: origin.clone(),
                expired_at: expires_at,
            });
        }
        if !audience_list.iter().any(|a| a == audience) {
            return Err(AcquireError::WrongAudience {
                origin: origin.clone(),
                audience: audience_list,
                expected: audience.to_owned(),
            });
        }
        Ok(Self {
            issuer,
            subject,
            email,
            audience: audience_list,
            expires_at,
            issued_at,
        })
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<Value>,
    sub: Option<Value>,
    email: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    iat: Option<Value>,
}

/// A token and what is known about it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AcquiredToken {
    /// The token, to send to the CA.
    pub token: IdentityToken,
    /// Where it came from.
    pub source: TokenSource,
    /// Its claims (unverified).
    pub claims: TokenClaims,
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;

    fn token(claims: &Value) -> IdentityToken {
        let b = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        IdentityToken::new(format!(
            "{}.{}.c2ln",
            b(&json!({"alg": "RS256"})),
            b(claims)
        ))
    }

    fn check(claims: Value) -> Result<TokenClaims, AcquireError> {
        TokenClaims::check_at(
            &token(&claims),
            &TokenSource::Explicit,
            "sigstore",
            UnixTime(1000),
        )
    }

    #[test]
    fn decodes_the_claims_a_client_shows() {
        let c = check(json!({
            "iss": "https://i", "sub": "s", "aud": ["x", "sigstore"], "exp": 1001, "iat": 900.5,
            "email": "a@example.com",
        }))
        .unwrap();
        assert_eq!(c.identity(), "a@example.com");
        assert_eq!(c.audience, ["x", "sigstore"]);
        assert_eq!(c.issued_at, Some(UnixTime(900)));
        let c =
            check(json!({"iss": "https://i", "sub": "s", "aud": "sigstore", "exp": 2000})).unwrap();
        assert_eq!(c.identity(), "s");
    }

    #[test]
    fn names_what_is_wrong() {
        let base = json!({"iss": "https://i", "sub": "s", "aud": "sigstore", "exp": 2000});
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v;
            }
            check(c).unwrap_err().to_string()
        };
        assert!(
            with("exp", json!(1000))
                .contains("expired at 1970-01-01T00:16:40Z; request a fresh one")
        );
        assert!(with("exp", Value::Null).contains("no \"exp\" claim"));
        assert!(with("exp", json!("soon")).contains("invalid \"exp\" claim: expected a number"));
        assert!(with("sub", json!("")).contains("invalid \"sub\" claim: empty"));
        assert!(with("aud", json!([1])).contains("a string or a list of strings"));
        let e = with("aud", json!("other"));
        assert!(
            e.contains("for audience [\"other\"], not \"sigstore\""),
            "{e}"
        );
        let e = TokenClaims::check(
            &IdentityToken::new("a.b"),
            &TokenSource::Explicit,
            "sigstore",
        )
        .unwrap_err();
        assert!(matches!(e, AcquireError::Malformed { .. }), "{e}");
        let e = TokenClaims::check(
            &IdentityToken::new("  \n"),
            &TokenSource::Explicit,
            "sigstore",
        )
        .unwrap_err();
        assert!(matches!(e, AcquireError::Empty { .. }), "{e}");
    }

    #[test]
    fn debug_hides_the_token() {
        let t = IdentityToken::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n");
        assert_eq!(format!("{t:?}"), "IdentityToken(<29 bytes>)");
        assert_eq!(t.secret(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    }
}
