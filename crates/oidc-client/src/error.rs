//! Why no usable identity token could be had. Every message names where the token was looked for
//! and what to do about it; none contains a token or a request token.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use hallmark_oidc::UnixTime;
use hallmark_oidc::error::{ClaimProblem, MalformedToken, error_chain};

use super::TokenSource;

/// Why [`acquire`](super::acquire) found no usable identity token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcquireError {
    /// Both an explicit token and an explicit token file were given.
    #[error("both an identity token and an identity-token file were given; pass only one")]
    ConflictingExplicitTokens,

    /// A token file (explicit, or the Kubernetes one) exists but cannot be read.
    #[error("cannot read the identity token from {origin}: {source}")]
    ReadFile {
        /// Which source the file belongs to.
        origin: TokenSource,
        /// The I/O error.
        source: std::io::Error,
    },

    /// An explicitly named token file, or a required Kubernetes token file, does not exist.
    #[error("{origin} does not exist{}", missing_file_fix(.origin))]
    FileNotFound {
        /// The file's source.
        origin: TokenSource,
    },

    /// The source holds nothing but white space.
    #[error("{origin} is empty{}", empty_fix(.origin))]
    Empty {
        /// The source.
        origin: TokenSource,
    },

    /// The token is not a JWT (three base64url segments with JSON header and claims).
    #[error("the identity token from {origin} is not a JWT: {problem}")]
    Malformed {
        /// The source.
        origin: TokenSource,
        /// What is wrong with it.
        problem: MalformedToken,
    },

    /// The token lacks a claim every OIDC ID token has.
    #[error("the identity token from {origin} has no {claim:?} claim")]
    MissingClaim {
        /// The source.
        origin: TokenSource,
        /// The claim.
        claim: &'static str,
    },

    /// A claim has the wrong type or value.
    #[error("the identity token from {origin} has an invalid {claim:?} claim: {problem}")]
    InvalidClaim {
        /// The source.
        origin: TokenSource,
        /// The claim.
        claim: &'static str,
        /// What is wrong with it.
        problem: ClaimProblem,
    },

    /// The token's `exp` has passed.
    #[error("the identity token from {origin} expired at {expired_at}; request a fresh one")]
    Expired {
        /// The source.
        origin: TokenSource,
        /// The token's `exp`.
        expired_at: UnixTime,
    },

    /// The token's `aud` does not include the audience the CA expects, so the CA would refuse it.
    #[error(
        "the identity token from {origin} is for audience {audience:?}, not {expected:?}{}",
        audience_fix(.origin, .expected)
    )]
    WrongAudience {
        /// The source.
        origin: TokenSource,
        /// The token's audiences.
        audience: Vec<String>,
        /// The audience asked for.
        expected: String,
    },

    /// A configured environment variable (for example the name of a GitLab `id_tokens` entry) is
    /// unset or empty.
    #[error(
        "environment variable {name} is not set or empty; in GitLab CI, declare it in the job: \
         `id_tokens: {{ {name}: {{ aud: {audience} }} }}`"
    )]
    VariableNotSet {
        /// The variable's name.
        name: String,
        /// The audience the token must be for.
        audience: String,
    },

    /// Exactly one of `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` is set.
    #[error(
        "{present} is set but {missing} is not: add `permissions: id-token: write` to the workflow \
         or job"
    )]
    GitHubIncomplete {
        /// The variable that is set.
        present: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },

    /// The job runs in GitHub Actions (`GITHUB_ACTIONS=true`) but may not request ID tokens.
    #[error(
        "running in GitHub Actions without ACTIONS_ID_TOKEN_REQUEST_URL: add `permissions: \
         id-token: write` to the workflow or job (pull requests from forks never get ID tokens)"
    )]
    GitHubNoPermission,

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is not a URL.
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL is not a valid URL: {source}")]
    GitHubBadUrl {
        /// The parser's complaint.
        source: url::ParseError,
    },

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` is not http(s).
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL has scheme {scheme:?}, not https")]
    GitHubUrlScheme {
        /// The scheme found.
        scheme: String,
    },

    /// The GitHub Actions ID-token request failed.
    #[error("GitHub Actions ID-token request failed: {failure}{}", github_fix(.failure))]
    GitHubRequest {
        /// What failed.
        failure: HttpFailure,
    },

    /// The job runs in GitLab CI but has no ID token in the expected variable.
    #[error(
        "running in GitLab CI but {variable} is not set: add to the job \
         `id_tokens: {{ {variable}: {{ aud: {audience} }} }}`"
    )]
    GitLabNoToken {
        /// The variable looked for.
        variable: String,
        /// The audience the token must be for.
        audience: String,
    },

    /// No source had a token and interactive login is not enabled.
    #[error(
        "no identity token found: pass one (--identity-token or --identity-token-file), set \
         SIGSTORE_ID_TOKEN, run in a CI job that can issue ID tokens (GitHub Actions with \
         `permissions: id-token: write`, GitLab CI `id_tokens`){}, or log in interactively",
        kubernetes_hint(.kubernetes_path)
    )]
    NoToken {
        /// The Kubernetes token file that was looked for, if any.
        kubernetes_path: Option<PathBuf>,
    },

    /// No source had a token, and `CI` is set, so no interactive login is tried (nobody would
    /// be there to finish it; it would wait for its timeout instead).
    #[error(
        "no identity token found, and this looks like a CI job (CI={ci}), where no interactive \
         login is tried: pass one (--identity-token-file), set SIGSTORE_ID_TOKEN, or let the CI \
         system issue one (GitHub Actions with `permissions: id-token: write`, GitLab CI \
         `id_tokens`){}",
        kubernetes_hint(.kubernetes_path)
    )]
    CiNoToken {
        /// The value of `CI`.
        ci: String,
        /// The Kubernetes token file that was looked for, if any.
        kubernetes_path: Option<PathBuf>,
    },

    /// The interactive login's issuer URL is unusable.
    #[error("login issuer {issuer:?} is not a valid URL: {source}")]
    LoginIssuerUrl {
        /// The issuer as given.
        issuer: String,
        /// The parser's complaint.
        source: url::ParseError,
    },

    /// The redirect URI built from [`LoginOptions::redirect_host`](super::LoginOptions::redirect_host)
    /// is not a URL.
    #[error("login redirect URI {uri:?} is not a valid URL: {source}")]
    LoginRedirectUri {
        /// The URI.
        uri: String,
        /// The parser's complaint.
        source: url::ParseError,
    },

    /// The issuer's discovery document lacks what the login needs (a token endpoint).
    #[error("{issuer} cannot be used for an interactive login: {source}")]
    LoginMisconfigured {
        /// The issuer.
        issuer: String,
        /// What is missing.
        source: openidconnect::ConfigurationError,
    },

    /// A device login was asked for, but the issuer advertises no device authorization endpoint.
    #[error(
        "{issuer} offers no device login (its discovery document has no \
         device_authorization_endpoint): log in with the browser flow instead, or pass an \
         identity token"
    )]
    NoDeviceLogin {
        /// The issuer.
        issuer: String,
    },

    /// The device authorization request (RFC 8628 §3.1) failed.
    #[error("starting a device login at {issuer} failed: {failure}")]
    DeviceAuthorization {
        /// The issuer.
        issuer: String,
        /// What failed.
        failure: HttpFailure,
    },

    /// The loopback listener for the login redirect could not be opened.
    #[error("cannot listen on {address} for the login redirect: {source}")]
    CallbackListener {
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The login issuer's discovery document or JWK set could not be fetched or is unusable.
    #[error("OIDC discovery for {issuer} failed: {failure}")]
    LoginDiscovery {
        /// The issuer.
        issuer: String,
        /// What failed.
        failure: HttpFailure,
    },

    /// No login completed in time.
    #[error(
        "no login completed at {issuer} within {} s; run again and finish the login in the \
         browser, or pass an identity token",
        .timeout.as_secs()
    )]
    LoginTimedOut {
        /// The issuer.
        issuer: String,
        /// The time allowed.
        timeout: Duration,
    },

    /// The issuer redirected back with an error (the person refused, or the request was bad).
    #[error("login at {issuer} failed: {error}{}", description_suffix(.description))]
    LoginRefused {
        /// The issuer.
        issuer: String,
        /// The OAuth `error` code, e.g. `access_denied`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },

    /// Exchanging the authorization code at the token endpoint failed.
    #[error("exchanging the login code at {issuer} failed: {failure}")]
    CodeExchange {
        /// The issuer.
        issuer: String,
        /// What failed.
        failure: HttpFailure,
    },

    /// The token response has no `id_token`.
    #[error("the token endpoint of {issuer} answered without an ID token (is `openid` a scope?)")]
    NoIdToken {
        /// The issuer.
        issuer: String,
    },

    /// The ID token from the login does not verify (signature, issuer, audience, nonce, expiry).
    #[error("the ID token from {issuer} does not verify: {source}")]
    LoginTokenRejected {
        /// The issuer.
        issuer: String,
        /// The verifier's complaint.
        source: openidconnect::ClaimsVerificationError,
    },

    /// The HTTP client could not be built (TLS roots).
    #[error("cannot build the HTTP client: {}", error_chain(.source))]
    HttpClient {
        /// The builder's error.
        source: reqwest::Error,
    },
}

/// Why an HTTP exchange with a token source failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpFailure {
    /// Connection, TLS, timeout or protocol failure.
    #[error("{}", error_chain(.0))]
    Transport(#[source] reqwest::Error),
    /// An unexpected HTTP status.
    #[error("HTTP {status}")]
    Status {
        /// The status.
        status: u16,
    },
    /// The body exceeded the size limit.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not what the protocol says it is.
    #[error("unexpected response: {detail}")]
    InvalidResponse {
        /// What is wrong (never contains the body).
        detail: String,
    },
    /// An OAuth 2.0 error response ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
    #[error("{error}{}", description_suffix(.description))]
    OAuth {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
}

fn description_suffix(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

fn missing_file_fix(origin: &TokenSource) -> &'static str {
    match origin {
        TokenSource::Kubernetes { .. } => {
            "; mount a projected service-account token there (a `serviceAccountToken` volume \
             source with `audience: sigstore`)"
        }
        _ => "",
    }
}

fn empty_fix(origin: &TokenSource) -> &'static str {
    match origin {
        TokenSource::GitHubActions => {
            "; the ID-token request answered an empty value: check the workflow's `id-token: \
             write` permission"
        }
        _ => "; it must hold an OIDC ID token (a JWT)",
    }
}

fn audience_fix(origin: &TokenSource, expected: &str) -> String {
    match origin {
        TokenSource::EnvironmentVariable { name } => format!(
            ": request it for audience {expected:?} (GitLab CI: `id_tokens: {{ {name}: {{ aud: \
             {expected} }} }}`)"
        ),
        TokenSource::Kubernetes { .. } => format!(
            ": set `audience: {expected}` on the projected serviceAccountToken volume source"
        ),
        TokenSource::Interactive { .. } => format!(
            ": the login's client id must be {expected:?}, or configure the CA for this audience"
        ),
        _ => format!(": request a token for audience {expected:?}"),
    }
}

fn github_fix(failure: &HttpFailure) -> &'static str {
    match failure {
        HttpFailure::Status {
            status: 401 | 403, ..
        } => {
            "; the request token was refused: use this job's ACTIONS_ID_TOKEN_REQUEST_TOKEN \
             and `permissions: id-token: write`"
        }
        _ => "",
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("the explicitly given token"),
            Self::File { path } => write!(f, "file {}", path.display()),
            Self::EnvironmentVariable { name } => write!(f, "environment variable {name}"),
            Self::GitHubActions => f.write_str("GitHub Actions"),
            Self::Kubernetes { path } => {
                write!(f, "Kubernetes service-account token {}", path.display())
            }
            Self::Interactive { issuer } => write!(f, "interactive login at {issuer}"),
        }
    }
}

fn kubernetes_hint(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| {
            format!(
                ", mount a Kubernetes service-account token at {}",
                p.display()
            )
        })
        .unwrap_or_default()
}
