//! The pages a person sees at the development issuer: the login form, the device-code form, the
//! "logged in" pages and the error pages, in one frame with one security policy.
//!
//! Every page is answered with
//!
//! - `Content-Security-Policy: default-src 'none'; style-src 'sha256-…'; form-action 'self';
//!   base-uri 'none'; frame-ancestors 'none'`: no script at all, only this module's own style
//!   sheet (pinned by its hash), forms that post only to the issuer, and no framing
//!   (clickjacking);
//! - `Cache-Control: no-store`, `Referrer-Policy: no-referrer` (the loopback URL a login returns
//!   to carries a code) and `X-Content-Type-Options: nosniff`.
//!
//! A finished browser login does not redirect the form's POST to the client's loopback
//! `redirect_uri`: browsers apply `form-action` to the redirects that follow a form submission
//! (Chromium does), and a CSP source cannot name an IPv6 loopback such as `http://[::1]:PORT`.
//! The POST answers a page ([`continue_page`]) that says who logged in and moves on to the
//! validated redirect URI with a meta refresh (and a link, for a browser that ignores it), so
//! `form-action` stays `'self'` for every client.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The one style sheet, inline and pinned by its hash in the policy.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;\
padding:0 1rem;color:#1d1d1f}h1{font-size:1.5rem}.dev{background:#fff4d6;border:1px solid #e0b44c;\
padding:.5rem .75rem;border-radius:.25rem;font-size:.9rem}.alert{background:#fde8e8;\
border:1px solid #d9534f;padding:.5rem .75rem;border-radius:.25rem}label{display:block;\
margin:.75rem 0}input{font:inherit;padding:.3rem;width:100%;box-sizing:border-box}\
button{font:inherit;padding:.4rem 1.2rem;margin-top:.5rem}code{font-size:1.1rem}";

/// The `Content-Security-Policy` of every page.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLE.as_bytes());
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'",
        STANDARD.encode(digest.as_ref())
    );
    // Base64 and ASCII punctuation only: always a valid header value.
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

/// A page: `title` (plain text) as the document title and heading, then `body` (HTML, escaped by
/// the caller), under the development-issuer warning.
pub(super) fn render(status: StatusCode, title: &str, body: &str) -> Response {
    render_with_head(status, title, "", body)
}

fn render_with_head(status: StatusCode, title: &str, head: &str, body: &str) -> Response {
    let title = escape(title);
    let page = format!(
        "<!doctype html><html lang=en><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Hallmark development login</title><style>{STYLE}</style>{head}\
         <h1>{title}</h1>{body}\
         <p class=dev><strong>Development issuer.</strong> It vouches for any address typed \
         here, so it must never be enabled where real signatures are made.</p>"
    );
    (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Html(page),
    )
        .into_response()
}

/// A problem shown above a form, or on an error page.
pub(super) fn alert(problem: &str) -> String {
    format!("<p class=alert role=alert>{}</p>", escape(problem))
}

/// An error page for a person: what went wrong and what to do next.
pub(super) fn error(status: StatusCode, title: &str, what: &str, next: &str) -> Response {
    render(
        status,
        title,
        &format!("{}<p>{}</p>", alert(what), escape(next)),
    )
}

/// The page after a successful login form: who logged in, then on to `target` (the validated
/// loopback redirect URI, with the code) by meta refresh, with a link as a fallback.
pub(super) fn continue_page(identity: &str, target: &str) -> Response {
    let target = escape(target);
    render_with_head(
        StatusCode::OK,
        "Logged in",
        &format!("<meta http-equiv=refresh content=\"0;url={target}\">"),
        &format!(
            "<p>Logged in as <strong>{}</strong>. Taking you back to hallmark…</p>\
             <p>If nothing happens, <a href=\"{target}\">continue to hallmark</a>.</p>",
            escape(identity)
        ),
    )
}

/// Escapes text for HTML content and double- or single-quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_pins_the_style_sheet_and_allows_no_script() {
        let policy = POLICY.to_str().unwrap();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(policy.contains("form-action 'self'"));
        assert!(!policy.contains("script-src"));
        assert!(!policy.contains("unsafe"));
        let hash = policy.split("'sha256-").nth(1).unwrap().split('\'').next();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLE.as_bytes());
        assert_eq!(hash, Some(STANDARD.encode(digest.as_ref()).as_str()));
    }

    #[test]
    fn markup_is_escaped_everywhere() {
        let r = continue_page("<b>x</b>", "http://localhost:1/cb?a=\"><script>");
        let headers = r.headers();
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
