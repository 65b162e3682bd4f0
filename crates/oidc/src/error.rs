//! Why a token was refused.
//!
//! [`OidcError`] is the one error a request can see; [`OidcError::kind`] classifies it (a
//! malformed token, one that does not prove an identity, an issuer not allowed, an identity
//! provider that is unavailable) so that the server can answer it (it maps kinds to HTTP
//! statuses). Configuration problems found at start-up are [`ConfigError`]s instead: they never
//! reach a client.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::jwt::UnixTime;

/// Why a token could not be turned into an [`Identity`](crate::Identity).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The token is larger than the configured limit (checked before any parsing).
    #[error("token is {size} bytes, over the {max}-byte limit")]
    TokenTooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// The token is not a well-formed JWS compact serialization with a JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(#[from] MalformedToken),

    /// The token's `iss` is not configured (exactly or through a meta-issuer pattern).
    #[error("issuer {issuer:?} is not allowed by this CA's configuration")]
    IssuerNotAllowed {
        /// The token's (unverified) `iss`.
        issuer: String,
    },

    /// The header names an algorithm that is never accepted (`none`, HMAC, or unknown).
    #[error("signature algorithm {alg:?} is not accepted (only RS*, PS*, ES256, ES384 and EdDSA)")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },

    /// The header's `alg` differs from the algorithm of the JWKS key it names.
    #[error("token header says alg {header_alg:?} but key {kid} of {issuer} is a {key_alg:?} key")]
    AlgorithmMismatch {
        /// The issuer.
        issuer: String,
        /// The key's `kid` (as displayed).
        kid: KeyId,
        /// The header's `alg`.
        header_alg: String,
        /// The algorithm the JWKS pins for that key.
        key_alg: jsonwebtoken::Algorithm,
    },

    /// No key in the issuer's JWKS matches the token, even after one refetch.
    #[error("no key {kid} in the JWKS of {issuer} ({keys} usable keys; refetched: {refetched})")]
    UnknownKey {
        /// The issuer.
        issuer: String,
        /// The token's `kid`.
        kid: KeyId,
        /// How many usable keys the issuer's JWKS holds.
        keys: usize,
        /// Whether the JWKS was refetched for this request (false when rate-limited).
        refetched: bool,
    },

    /// The signature does not verify under the issuer's key.
    #[error("signature does not verify under key {kid} of {issuer}")]
    BadSignature {
        /// The issuer.
        issuer: String,
        /// The key that was tried.
        kid: KeyId,
    },

    /// `exp` is in the past (beyond the leeway).
    #[error("token expired at {exp}")]
    Expired {
        /// The token's `exp`.
        exp: UnixTime,
    },

    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid before {nbf}")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: UnixTime,
    },

    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future, at {iat}")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: UnixTime,
    },

    /// `aud` does not contain the issuer's configured audience.
    #[error("audience {audience:?} does not include {expected:?}")]
    WrongAudience {
        /// The token's audiences.
        audience: Vec<String>,
        /// The configured audience.
        expected: String,
    },

    /// A claim the token must carry is absent.
    #[error("token has no {claim:?} claim")]
    MissingClaim {
        /// The claim's name.
        claim: String,
    },

    /// A claim is present but has the wrong type or an unusable value.
    #[error("claim {claim:?} is invalid: {problem}")]
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        problem: ClaimProblem,
    },

    /// An `email` issuer's token does not assert that the address was verified.
    #[error("email_verified is {found} for {email:?}")]
    EmailNotVerified {
        /// The token's `email`.
        email: String,
        /// What `email_verified` held.
        found: EmailVerified,
    },

    /// The subject is outside what the issuer's configuration allows it to vouch for.
    #[error("subject {subject:?} rejected: {reason}")]
    SubjectNotAllowed {
        /// The subject (or the claim value that makes the SAN).
        subject: String,
        /// Why.
        reason: SubjectRejection,
    },

    /// The JWT library refused the token for a reason none of the variants above describes
    /// (for example a key the crypto backend cannot load).
    #[error("token could not be verified under key {kid} of {issuer}: {source}")]
    VerificationFailed {
        /// The issuer.
        issuer: String,
        /// The key that was tried.
        kid: KeyId,
        /// The library's error.
        source: jsonwebtoken::errors::Error,
    },

    /// The issuer's discovery document names a different issuer than the token's `iss`
    /// ([OIDC Discovery §4.3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation)).
    #[error("discovery document of {issuer:?} names issuer {discovered:?}")]
    DiscoveryIssuerMismatch {
        /// The token's `iss`.
        issuer: String,
        /// The discovery document's `issuer`.
        discovered: String,
    },

    /// The identity provider could not be reached or answered with something unusable.
    #[error("identity provider {issuer} unavailable: {url}: {cause}")]
    IdpUnavailable {
        /// The issuer.
        issuer: String,
        /// The URL that failed (discovery or JWKS).
        url: String,
        /// What failed; shared because one failed fetch answers every request waiting on it.
        cause: Arc<FetchError>,
    },
}

/// What kind of failure an [`OidcError`] is, for whoever answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token is not a JWT (or is too large): the request is malformed.
    Malformed,
    /// The token does not verify, or does not prove an acceptable identity.
    Unauthenticated,
    /// The token's issuer is not one this verifier is configured to trust.
    IssuerNotAllowed,
    /// The identity provider could not be reached or answered with something unusable: the
    /// token may be fine, retrying later may succeed.
    IdpUnavailable,
}

impl OidcError {
    /// The kind of failure: the caller's mistake ([`ErrorKind::Malformed`],
    /// [`ErrorKind::Unauthenticated`], [`ErrorKind::IssuerNotAllowed`]) or an unavailable
    /// identity provider.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::TokenTooLarge { .. } | Self::Malformed(_) => ErrorKind::Malformed,
            Self::IssuerNotAllowed { .. } => ErrorKind::IssuerNotAllowed,
            Self::IdpUnavailable { .. } => ErrorKind::IdpUnavailable,
            Self::AlgorithmNotAllowed { .. }
            | Self::AlgorithmMismatch { .. }
            | Self::UnknownKey { .. }
            | Self::BadSignature { .. }
            | Self::Expired { .. }
            | Self::NotYetValid { .. }
            | Self::IssuedInFuture { .. }
            | Self::WrongAudience { .. }
            | Self::MissingClaim { .. }
            | Self::InvalidClaim { .. }
            | Self::EmailNotVerified { .. }
            | Self::SubjectNotAllowed { .. }
            | Self::VerificationFailed { .. }
            | Self::DiscoveryIssuerMismatch { .. } => ErrorKind::Unauthenticated,
        }
    }

    pub(crate) fn missing(claim: &str) -> Self {
        Self::MissingClaim {
            claim: claim.to_owned(),
        }
    }

    pub(crate) fn invalid(claim: &str, problem: ClaimProblem) -> Self {
        Self::InvalidClaim {
            claim: claim.to_owned(),
            problem,
        }
    }
}

/// A JWS `kid` as it appears in messages: quoted, or `(none)` when the token has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyId(pub Option<String>);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(kid) => write!(f, "{kid:?}"),
            None => f.write_str("(no kid)"),
        }
    }
}

/// The part of a JWS compact serialization a problem was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPart {
    /// The protected header.
    Header,
    /// The claims.
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// How a token string fails to be a JWT ([RFC 7519 §7.2](https://www.rfc-editor.org/rfc/rfc7519#section-7.2)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedToken {
    /// The token is the empty string.
    #[error("token is empty")]
    Empty,
    /// A byte outside base64url and `.`.
    #[error("byte {position} is {byte:#04x}, not base64url or '.'")]
    InvalidCharacter {
        /// Offset of the first offending byte.
        position: usize,
        /// The byte.
        byte: u8,
    },
    /// Not three `.`-separated segments.
    #[error("expected 3 '.'-separated segments (JWS compact serialization), found {found}")]
    SegmentCount {
        /// How many segments the token has.
        found: usize,
    },
    /// A segment is empty.
    #[error("{part} segment is empty")]
    EmptySegment {
        /// Which segment.
        part: TokenPart,
    },
    /// A segment is not unpadded base64url.
    #[error("{part} is not valid base64url")]
    Base64 {
        /// Which segment.
        part: TokenPart,
    },
    /// The header or payload is not a JSON object of the expected shape.
    #[error("{part} is not a valid JSON object: {source}")]
    Json {
        /// Which segment.
        part: TokenPart,
        /// The parser's complaint (shared with `jsonwebtoken`'s error when it found it).
        source: Arc<serde_json::Error>,
    },
    /// The header has no `alg`.
    #[error("header has no \"alg\"")]
    MissingAlgorithm,
    /// The header carries `crit` extensions, which this verifier does not implement
    /// ([RFC 7515 §4.1.11](https://www.rfc-editor.org/rfc/rfc7515#section-4.1.11)).
    #[error("header has critical extensions (\"crit\"), which are not supported")]
    CriticalHeader,
    /// The payload has no string `iss`, so no issuer can be chosen.
    #[error("payload has no string \"iss\" claim")]
    MissingIssuer,
}

/// What is wrong with a claim value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimProblem {
    /// Wrong JSON type.
    WrongType {
        /// What was expected, e.g. "a string".
        expected: &'static str,
    },
    /// An empty string where a value is required.
    Empty,
    /// Characters a certificate field cannot carry (non-ASCII, spaces, control characters).
    BadCharacters,
    /// Not an email address.
    NotAnEmail,
    /// Not a URI.
    NotAUri,
    /// A URI that parsers may read differently: it contains `\` or userinfo, or differs from
    /// its normalised (WHATWG) form. Another parser could see a different host in it.
    NotNormalisedUri,
    /// Not a value from the allowed set.
    Unexpected {
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
}

impl fmt::Display for ClaimProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { expected } => write!(f, "expected {expected}"),
            Self::Empty => f.write_str("empty"),
            Self::BadCharacters => {
                f.write_str("contains characters other than printable ASCII without spaces")
            }
            Self::NotAnEmail => f.write_str("not an email address"),
            Self::NotAUri => f.write_str("not an absolute URI"),
            Self::NotNormalisedUri => f.write_str(
                "not a normalised URI (it must equal its normalised form, with no '\\' and no \
                 userinfo)",
            ),
            Self::Unexpected { value, allowed } => write!(f, "{value:?} is not {allowed}"),
        }
    }
}

/// What an `email` issuer's token said in `email_verified`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailVerified {
    /// `false` (or the string `"false"`).
    False,
    /// Absent.
    Missing,
    /// Some other value, shown as JSON.
    Other(serde_json::Value),
}

impl fmt::Display for EmailVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::False => f.write_str("false"),
            Self::Missing => f.write_str("missing"),
            Self::Other(v) => write!(f, "{v} (not true)"),
        }
    }
}

/// Why an issuer may not vouch for a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectRejection {
    /// `uri` issuers: the subject's scheme and host must equal the configured subject domain's.
    OutsideSubjectDomain {
        /// The configured subject domain.
        subject_domain: String,
    },
    /// `uri` and `username` issuers: the subject is an email address.
    IsEmail,
    /// `username` issuers: `!` separates username and domain in the SAN, so it may not appear.
    ContainsBang,
    /// `spiffe` issuers: not a SPIFFE ID.
    NotSpiffeId,
    /// `spiffe` issuers: the SPIFFE ID's trust domain is not the configured one.
    OutsideTrustDomain {
        /// The configured trust domain.
        trust_domain: String,
    },
    /// `kubernetes` issuers: a namespace or service-account name that is not a DNS name.
    NotKubernetesName,
}

impl fmt::Display for SubjectRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutsideSubjectDomain { subject_domain } => {
                write!(
                    f,
                    "scheme and host must be those of subject domain {subject_domain:?}"
                )
            }
            Self::IsEmail => f.write_str("an email address cannot be a uri or username subject"),
            Self::ContainsBang => f.write_str("a username may not contain '!'"),
            Self::NotSpiffeId => f.write_str("not a valid spiffe:// ID"),
            Self::OutsideTrustDomain { trust_domain } => {
                write!(f, "not in SPIFFE trust domain {trust_domain:?}")
            }
            Self::NotKubernetesName => f.write_str("not a valid Kubernetes name"),
        }
    }
}

/// Which identity-provider document a fetch was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Document {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The JWK Set at the discovery document's `jwks_uri`.
    Jwks,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Discovery => "discovery document",
            Self::Jwks => "JWK set",
        })
    }
}

/// Why fetching an identity provider's discovery document or JWKS failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Connection, TLS, timeout or protocol failure.
    #[error("request failed: {}", error_chain(.0))]
    Transport(#[source] reqwest::Error),
    /// A status other than 200.
    #[error("{document} answered HTTP {status}")]
    Status {
        /// The document requested.
        document: Document,
        /// The HTTP status.
        status: u16,
    },
    /// The body exceeded the size limit.
    #[error("{document} is larger than {limit} bytes")]
    TooLarge {
        /// The document requested.
        document: Document,
        /// The limit.
        limit: usize,
    },
    /// The body is not the expected JSON.
    #[error("{document} is not valid: {source}")]
    Json {
        /// The document requested.
        document: Document,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// `jwks_uri` is not an http(s) URL, or is plain http for an https issuer, or on a host that
    /// is not loopback for an issuer without `allow_insecure_http`.
    #[error(
        "jwks_uri {uri:?} is not an acceptable URL (https, or http only for an http issuer and \
         only on a loopback host unless the issuer allows insecure http)"
    )]
    BadJwksUri {
        /// The discovery document's `jwks_uri`.
        uri: String,
    },
    /// A plain `http://` URL on a host that is not loopback, for an issuer without
    /// `allow_insecure_http` (a meta issuer's concrete host).
    #[error("{uri:?} is plain http on a host that is not loopback")]
    InsecureUrl {
        /// The URL.
        uri: String,
    },
    /// The JWKS holds no key this verifier can use.
    #[error("JWK set has no usable signing key ({total} keys, all skipped)")]
    NoUsableKeys {
        /// How many keys it held.
        total: usize,
    },
}

/// An error and its sources as one line, each cause once (`reqwest` errors put the useful part,
/// "connection refused", in their source chain). For messages that must stand alone; the error
/// still keeps its sources.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Why an issuer configuration was refused at load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// YAML syntax or shape (unknown field, wrong type, unknown issuer type).
    #[error("invalid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// JSON syntax or shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// No issuers at all: every token would be refused.
    #[error("no issuers configured")]
    NoIssuers,
    /// An issuer URL does not parse.
    #[error("issuer {url:?}: not a valid URL: {source}")]
    InvalidUrl {
        /// The URL as written.
        url: String,
        /// The parser's complaint.
        source: url::ParseError,
    },
    /// An issuer URL that cannot be an OIDC issuer identifier.
    #[error("issuer {url:?}: {problem}")]
    BadIssuerUrl {
        /// The URL as written.
        url: String,
        /// What is wrong.
        problem: UrlProblem,
    },
    /// Two entries for one issuer URL or pattern.
    #[error("issuer {url:?} is configured twice")]
    DuplicateIssuer {
        /// The URL or pattern.
        url: String,
    },
    /// A field that the issuer's type requires is missing.
    #[error("issuer {url:?}: type {issuer_type} requires {field}")]
    MissingField {
        /// The issuer.
        url: String,
        /// Its type.
        issuer_type: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A field that the issuer's type does not use (a likely mistake).
    #[error("issuer {url:?}: {field} does not apply to type {issuer_type}")]
    FieldNotAllowed {
        /// The issuer.
        url: String,
        /// Its type.
        issuer_type: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field value is unusable.
    #[error("issuer {url:?}: {field} {value:?} is invalid: {reason}")]
    InvalidField {
        /// The issuer.
        url: String,
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The `ca_cert` file could not be read.
    #[error("issuer {url:?}: cannot read ca_cert {path}: {source}")]
    CaCertRead {
        /// The issuer.
        url: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA certificate PEM holds no certificate, or a malformed one.
    #[error("issuer {url:?}: ca_cert holds no valid PEM CERTIFICATE block")]
    CaCertInvalid {
        /// The issuer.
        url: String,
    },
    /// A Fulcio issuer type (or `CIProvider`) that Hallmark does not implement.
    #[error("issuer {url:?}: unsupported issuer type {issuer_type:?} (supported: {supported})")]
    UnsupportedType {
        /// The issuer.
        url: String,
        /// The type as written.
        issuer_type: String,
        /// The supported types.
        supported: &'static str,
    },
    /// A Fulcio `OIDCIssuers` entry whose key differs from its `IssuerURL`.
    #[error("Fulcio issuer key {key:?} differs from its IssuerURL {issuer_url:?}")]
    FulcioKeyMismatch {
        /// The map key.
        key: String,
        /// The entry's `IssuerURL`.
        issuer_url: String,
    },
    /// Building the issuer's HTTP client failed (TLS roots).
    #[error("issuer {url:?}: cannot build HTTP client: {source}")]
    HttpClient {
        /// The issuer.
        url: String,
        /// The client builder's error.
        source: reqwest::Error,
    },
}

/// What makes a URL unusable as an issuer identifier or pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// Not http or https.
    Scheme {
        /// The scheme found.
        scheme: String,
    },
    /// Has a query or fragment ([OIDC Core §2](https://openid.net/specs/openid-connect-core-1_0.html#IDToken)).
    QueryOrFragment,
    /// Has a user name or password.
    Credentials,
    /// Has no host.
    NoHost,
    /// A `*` in an exact issuer (wildcards belong in meta issuers).
    WildcardInIssuer,
    /// A meta issuer without `*`.
    NoWildcard,
    /// A `*` in the scheme or port of a meta issuer.
    WildcardPlacement,
    /// Plain `http://` on a host that is not loopback, without `allow_insecure_http`.
    InsecureHttp,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme { scheme } => write!(f, "scheme {scheme:?} is not http or https"),
            Self::QueryOrFragment => f.write_str("an issuer URL has no query or fragment"),
            Self::Credentials => f.write_str("an issuer URL has no user name or password"),
            Self::NoHost => f.write_str("no host"),
            Self::WildcardInIssuer => {
                f.write_str("'*' is only allowed in meta issuers (meta_issuers / MetaIssuers)")
            }
            Self::NoWildcard => f.write_str("a meta issuer needs at least one '*'"),
            Self::WildcardPlacement => f.write_str("'*' may not appear in the scheme or port"),
            Self::InsecureHttp => f.write_str(
                "plain http:// is accepted only on a loopback host (its keys would travel \
                 unauthenticated); use https://, or set allow_insecure_http: true \
                 (AllowInsecureHTTP in Fulcio's format) if you must",
            ),
        }
    }
}
