//! Getting an OIDC identity token for keyless signing, as a client (the `hallmark` CLI) does:
//! from the command line, the CI system, Kubernetes, or an interactive login. The server side,
//! checking such a token, is `hallmark-oidc`; this crate only uses its token vocabulary
//! ([`UnixTime`](hallmark_oidc::UnixTime), the reasons a token is malformed).
//!
//! [`acquire`] tries the sources in this order and uses the first that has a token:
//!
//! 1. an explicit token or token file ([`AcquireOptions::token`], [`AcquireOptions::token_file`]);
//! 2. environment variables: [`AcquireOptions::token_variable`] if configured (e.g. the name of a
//!    GitLab CI [`id_tokens`](https://docs.gitlab.com/ci/yaml/#id_tokens) entry), then
//!    `SIGSTORE_ID_TOKEN`, then in GitLab CI (`GITLAB_CI` set) `<AUDIENCE>_ID_TOKEN` as
//!    sigstore-python names it for other audiences;
//! 3. GitHub Actions: with `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//!    set, `GET <url>&audience=<audience>` with the request token as a bearer token, answered by
//!    `{"value": "<JWT>"}` ([GitHub's OIDC docs](https://docs.github.com/en/actions/reference/security/oidc));
//! 4. a Kubernetes projected service-account token file ([`ServiceAccountToken`]; by default
//!    [`DEFAULT_KUBERNETES_TOKEN_PATH`], if it exists);
//! 5. an interactive login ([`LoginOptions`]): the OIDC authorization-code flow with PKCE and a
//!    loopback redirect ([RFC 8252](https://www.rfc-editor.org/rfc/rfc8252)), or the device
//!    authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628),
//!    [`LoginOptions::device`]), with a timeout.
//!    Never attempted inside GitHub Actions or GitLab CI, nor wherever `CI` is set (to anything
//!    but `false` or `0`): there a missing token is an error that says how to get one.
//!
//! The token's claims are then decoded *without* verifying the signature (the CA does that) to
//! catch the common mistakes early with a clear message: an expired token, a token for another
//! audience, or something that is not a JWT. The result says where the token came from, for a log
//! line such as "using identity token from GitHub Actions".
//!
//! The environment is read through a lookup function ([`acquire_with_env`]), so tests and
//! embedders need not change the process environment.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hallmark_oidc_client::AcquireError> {
//! use hallmark_oidc_client::{AcquireOptions, LoginOptions, acquire};
//!
//! let mut options = AcquireOptions::default();
//! options.login = Some(LoginOptions::new("https://dex.example.internal"));
//! let token = acquire(&options).await?;
//! eprintln!("using identity token from {} ({})", token.source, token.claims.identity());
//! let bearer: &str = token.token.secret();
//! # let _ = bearer; Ok(()) }
//! ```

#![warn(missing_docs)]

mod ci;
mod error;
mod login;
mod token;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{AcquireError, HttpFailure};
pub use login::{DeviceCode, DevicePrompt, LoginOptions, LoginPrompt};
pub use token::{AcquiredToken, IdentityToken, TokenClaims, TokenSource};

use hallmark_oidc::config::DEFAULT_AUDIENCE;

/// Where Kubernetes projects a service-account token for Sigstore by convention (a
/// `serviceAccountToken` volume source with `path: sigstore` mounted at `/var/run/secrets/tokens`).
pub const DEFAULT_KUBERNETES_TOKEN_PATH: &str = "/var/run/secrets/tokens/sigstore";

/// The environment variable Sigstore clients read an ID token from.
pub const SIGSTORE_ID_TOKEN: &str = "SIGSTORE_ID_TOKEN";

/// Whether and where to read a Kubernetes projected service-account token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceAccountToken {
    /// Never.
    Disabled,
    /// Read the file if it exists, else go on to the next source (the default, at
    /// [`DEFAULT_KUBERNETES_TOKEN_PATH`]).
    IfPresent(PathBuf),
    /// Read the file; a missing file is an error (for a path the user named).
    Required(PathBuf),
}

impl ServiceAccountToken {
    fn path(&self) -> Option<&PathBuf> {
        match self {
            Self::Disabled => None,
            Self::IfPresent(p) | Self::Required(p) => Some(p),
        }
    }
}

impl Default for ServiceAccountToken {
    fn default() -> Self {
        Self::IfPresent(PathBuf::from(DEFAULT_KUBERNETES_TOKEN_PATH))
    }
}

/// What [`acquire`] looks for. `Default` gives audience `sigstore`, no explicit token, the
/// default Kubernetes path, and no interactive login; change fields on a default value.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AcquireOptions {
    /// The audience the CA expects (`aud`); asked of GitHub and checked in every token.
    /// Default `sigstore`.
    pub audience: String,
    /// A token given explicitly (`--identity-token`).
    pub token: Option<IdentityToken>,
    /// A file holding the token (`--identity-token-file`); surrounding white space is ignored.
    pub token_file: Option<PathBuf>,
    /// An environment variable to read before `SIGSTORE_ID_TOKEN`, e.g. the name of a GitLab CI
    /// `id_tokens` entry. When set, the variable must hold a token.
    pub token_variable: Option<String>,
    /// The Kubernetes projected service-account token.
    pub kubernetes: ServiceAccountToken,
    /// Interactive login as the last resort; `None` disables it.
    pub login: Option<LoginOptions>,
    /// Whole-request timeout for the GitHub Actions token request (default 30 s).
    pub http_timeout: Duration,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        Self {
            audience: DEFAULT_AUDIENCE.to_owned(),
            token: None,
            token_file: None,
            token_variable: None,
            kubernetes: ServiceAccountToken::default(),
            login: None,
            http_timeout: Duration::from_secs(30),
        }
    }
}

/// An environment lookup: the value of a variable, or `None` when unset (or not UTF-8).
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// [`acquire_with_env`] with the process environment.
pub async fn acquire(options: &AcquireOptions) -> Result<AcquiredToken, AcquireError> {
    acquire_with_env(options, &|name| std::env::var(name).ok()).await
}

/// Finds an identity token in the sources described in [the module docs](self), reading
/// environment variables through `env` (empty values count as unset), and pre-checks its claims.
pub async fn acquire_with_env(
    options: &AcquireOptions,
    env: EnvLookup<'_>,
) -> Result<AcquiredToken, AcquireError> {
    let (token, source) = find(options, env).await?;
    let expected = match (&source, &options.login) {
        (TokenSource::Interactive { .. }, Some(login)) => login.client_id.as_str(),
        _ => options.audience.as_str(),
    };
    let claims = TokenClaims::check(&token, &source, expected)?;
    Ok(AcquiredToken {
        token,
        source,
        claims,
    })
}

async fn find(
    options: &AcquireOptions,
    env: EnvLookup<'_>,
) -> Result<(IdentityToken, TokenSource), AcquireError> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());

    // 1. Explicit.
    match (&options.token, &options.token_file) {
        (Some(_), Some(_)) => return Err(AcquireError::ConflictingExplicitTokens),
        (Some(token), None) => return Ok((token.clone(), TokenSource::Explicit)),
        (None, Some(path)) => {
            let origin = TokenSource::File { path: path.clone() };
            return ci::read_token_file(origin.clone())
                .await?
                .ok_or(AcquireError::FileNotFound { origin });
        }
        (None, None) => {}
    }

    // 2. Environment variables.
    if let Some(name) = &options.token_variable {
        return match var(name) {
            Some(value) => Ok((
                IdentityToken::new(value),
                TokenSource::EnvironmentVariable { name: name.clone() },
            )),
            None => Err(AcquireError::VariableNotSet {
                name: name.clone(),
                audience: options.audience.clone(),
            }),
        };
    }
    let gitlab_variable = ci::gitlab_variable(&options.audience);
    let in_gitlab = var("GITLAB_CI").is_some();
    let mut names = vec![SIGSTORE_ID_TOKEN.to_owned()];
    if in_gitlab && gitlab_variable != SIGSTORE_ID_TOKEN {
        names.push(gitlab_variable.clone());
    }
    for name in names {
        if let Some(value) = var(&name) {
            return Ok((
                IdentityToken::new(value),
                TokenSource::EnvironmentVariable { name },
            ));
        }
    }

    // 3. GitHub Actions.
    match (
        var(ci::GITHUB_REQUEST_URL),
        var(ci::GITHUB_REQUEST_TOKEN).map(IdentityToken::new),
    ) {
        (Some(url), Some(request_token)) => {
            let token = ci::github_token(
                &url,
                &request_token,
                &options.audience,
                options.http_timeout,
            )
            .await?;
            return Ok((token, TokenSource::GitHubActions));
        }
        (Some(_), None) => {
            return Err(AcquireError::GitHubIncomplete {
                present: ci::GITHUB_REQUEST_URL,
                missing: ci::GITHUB_REQUEST_TOKEN,
            });
        }
        (None, Some(_)) => {
            return Err(AcquireError::GitHubIncomplete {
                present: ci::GITHUB_REQUEST_TOKEN,
                missing: ci::GITHUB_REQUEST_URL,
            });
        }
        (None, None) => {}
    }

    // 4. Kubernetes.
    if let Some(path) = options.kubernetes.path() {
        let origin = TokenSource::Kubernetes { path: path.clone() };
        match ci::read_token_file(origin.clone()).await? {
            Some(found) => return Ok(found),
            None if matches!(options.kubernetes, ServiceAccountToken::Required(_)) => {
                return Err(AcquireError::FileNotFound { origin });
            }
            None => {}
        }
    }

    // 5. Interactive, outside CI only.
    if var("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        return Err(AcquireError::GitHubNoPermission);
    }
    if in_gitlab {
        return Err(AcquireError::GitLabNoToken {
            variable: gitlab_variable,
            audience: options.audience.clone(),
        });
    }
    if let Some(ci) = var("CI").filter(|v| !matches!(v.as_str(), "false" | "0")) {
        return Err(AcquireError::CiNoToken {
            ci,
            kubernetes_path: options.kubernetes.path().cloned(),
        });
    }
    match &options.login {
        Some(login) => {
            let token = login::login(login).await?;
            Ok((
                token,
                TokenSource::Interactive {
                    issuer: login.issuer.clone(),
                },
            ))
        }
        None => Err(AcquireError::NoToken {
            kubernetes_path: options.kubernetes.path().cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI may run acquisition on a multi-threaded runtime or spawn it.
    #[test]
    fn acquisition_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let options = AcquireOptions::default();
        let env = |_: &str| None;
        let future = acquire_with_env(&options, &env);
        assert_send(&future);
        let future = acquire(&options);
        assert_send(&future);
    }
}
