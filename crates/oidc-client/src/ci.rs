//! Non-interactive token sources: files, GitLab CI variable names, and the GitHub Actions
//! ID-token endpoint.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{AcquireError, HttpFailure, IdentityToken, TokenSource};

/// The GitHub Actions variable holding the ID-token request URL.
pub(super) const GITHUB_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The GitHub Actions variable holding the bearer token for that URL.
pub(super) const GITHUB_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Token files and GitHub answers larger than this are refused (ID tokens are a few KiB).
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Reads a token file. `Ok(None)` when it does not exist; an existing file that cannot be read,
/// is too large or is empty is an error.
pub(super) async fn read_token_file(
    origin: TokenSource,
) -> Result<Option<(IdentityToken, TokenSource)>, AcquireError> {
    let (TokenSource::File { path } | TokenSource::Kubernetes { path }) = &origin else {
        return Ok(None);
    };
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AcquireError::ReadFile { origin, source }),
    };
    if bytes.len() > MAX_TOKEN_BYTES {
        let source = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_TOKEN_BYTES} bytes"),
        );
        return Err(AcquireError::ReadFile { origin, source });
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text");
            return Err(AcquireError::ReadFile { origin, source });
        }
    };
    let token = IdentityToken::new(text);
    if token.secret().is_empty() {
        return Err(AcquireError::Empty { origin });
    }
    Ok(Some((token, origin)))
}

/// The variable sigstore-python reads in GitLab CI for `audience`: upper-cased, every character
/// outside `A-Z0-9_` (and a leading digit) replaced by `_`, then `_ID_TOKEN`. `sigstore` gives
/// `SIGSTORE_ID_TOKEN`.
pub(super) fn gitlab_variable(audience: &str) -> String {
    let mut name: String = audience
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c == '_' || (c.is_ascii_digit() && i > 0) {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.push_str("_ID_TOKEN");
    name
}

/// The ID-token request URL for `audience`: the `audience` query parameter replaced (the URL
/// GitHub provides already has a query, `api-version=...`, but need not).
fn github_request_url(url: &str, audience: &str) -> Result<Url, AcquireError> {
    let mut url = Url::parse(url).map_err(|source| AcquireError::GitHubBadUrl { source })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(AcquireError::GitHubUrlScheme {
            scheme: url.scheme().to_owned(),
        });
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "audience")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("audience", audience);
    Ok(url)
}

#[derive(Deserialize)]
struct GitHubAnswer {
    value: String,
}

/// Asks the GitHub Actions ID-token endpoint for a token for `audience`.
pub(super) async fn github_token(
    url: &str,
    request_token: &IdentityToken,
    audience: &str,
    timeout: Duration,
) -> Result<IdentityToken, AcquireError> {
    let url = github_request_url(url, audience)?;
    let failed = |failure| AcquireError::GitHubRequest { failure };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        // The request carries a bearer token: never forward it anywhere else.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hallmark-oidc/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| AcquireError::HttpClient { source })?;
    let response = client
        .get(url)
        .bearer_auth(request_token.secret())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(HttpFailure::Transport(e)))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(failed(HttpFailure::Status {
            status: status.as_u16(),
        }));
    }
    let body = read_limited(response, MAX_TOKEN_BYTES)
        .await
        .map_err(failed)?;
    let answer: GitHubAnswer = serde_json::from_slice(&body).map_err(|e| {
        failed(HttpFailure::InvalidResponse {
            detail: format!(
                "not JSON with a string \"value\" ({:?} at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    })?;
    let token = IdentityToken::new(answer.value);
    if token.secret().is_empty() {
        return Err(AcquireError::Empty {
            origin: TokenSource::GitHubActions,
        });
    }
    Ok(token)
}

/// Reads a response body of at most `limit` bytes.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, HttpFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(HttpFailure::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(HttpFailure::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_names_follow_sigstore_python() {
        assert_eq!(gitlab_variable("sigstore"), "SIGSTORE_ID_TOKEN");
        assert_eq!(
            gitlab_variable("http://test.audience"),
            "HTTP___TEST_AUDIENCE_ID_TOKEN"
        );
        assert_eq!(gitlab_variable("1a-b"), "_A_B_ID_TOKEN");
    }

    #[test]
    fn github_url_gets_one_audience() {
        let u = github_request_url(
            "https://pipelines.example/idtoken?api-version=2.0&audience=old",
            "sigstore",
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://pipelines.example/idtoken?api-version=2.0&audience=sigstore"
        );
        let u = github_request_url("http://127.0.0.1:8/idtoken", "a b&c").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8/idtoken?audience=a+b%26c");
        assert!(github_request_url("not a url", "sigstore").is_err());
        assert!(github_request_url("file:///etc/passwd", "sigstore").is_err());
    }
}
