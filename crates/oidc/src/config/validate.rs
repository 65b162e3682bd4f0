//! Validation of a draft issuer entry (from either file format) into an [`IssuerPolicy`]: the
//! URL rules, the fields each issuer type needs or refuses, and the TLS roots.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use url::Url;

use super::{ClaimPath, IssuerKind, IssuerPattern, IssuerPolicy, IssuerType, MetaPattern};
use crate::error::{ConfigError, UrlProblem};

/// Where GitHub Actions' token service issues tokens; its jobs run on `https://github.com`.
const GITHUB_ACTIONS_ISSUER_HOST: &str = "token.actions.githubusercontent.com";

/// Either file format, normalised, before validation.
pub(super) struct Draft {
    pub(super) url: String,
    pub(super) meta: bool,
    pub(super) audience: String,
    pub(super) client_id: String,
    pub(super) issuer_type: IssuerType,
    pub(super) ca_pem: Option<Vec<u8>>,
    pub(super) subject_domain: Option<String>,
    pub(super) spiffe_trust_domain: Option<String>,
    pub(super) issuer_claim: Option<String>,
    pub(super) skip_email_verification: bool,
    pub(super) server_url: Option<String>,
    pub(super) allow_insecure_http: bool,
}

impl Draft {
    /// Checks everything and builds the policy.
    pub(super) fn validate(self) -> Result<IssuerPolicy, ConfigError> {
        let url = self.url;
        let t = self.issuer_type;
        let bad_url = |problem| ConfigError::BadIssuerUrl {
            url: url.clone(),
            problem,
        };

        if self.meta {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", &url));
            let authority = rest.split('/').next().unwrap_or("");
            let port = authority.rsplit_once(':').map_or("", |(_, p)| p);
            if scheme.contains('*') || port.contains('*') {
                return Err(bad_url(UrlProblem::WildcardPlacement));
            }
        }
        // Parse, with each `*` of a meta issuer standing in as a plain label.
        let parsed =
            Url::parse(&url.replace('*', "x")).map_err(|source| ConfigError::InvalidUrl {
                url: url.clone(),
                source,
            })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad_url(UrlProblem::Scheme {
                scheme: parsed.scheme().to_owned(),
            }));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad_url(UrlProblem::NoHost));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad_url(UrlProblem::QueryOrFragment));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad_url(UrlProblem::Credentials));
        }
        // A meta issuer's host is checked with each `*` as a digit: `http://127.0.0.*` and
        // `http://*.localhost` stay loopback, `http://*.example.com` does not. The concrete
        // issuer is checked again before anything is fetched from it.
        if parsed.scheme() == "http" && !self.allow_insecure_http {
            let loopback = Url::parse(&url.replace('*', "1")).is_ok_and(|u| is_loopback(&u));
            if !loopback {
                return Err(bad_url(UrlProblem::InsecureHttp));
            }
        }
        let pattern = if self.meta {
            if !url.contains('*') {
                return Err(bad_url(UrlProblem::NoWildcard));
            }
            IssuerPattern::Wildcard(MetaPattern::new(url.clone()))
        } else {
            if url.contains('*') {
                return Err(bad_url(UrlProblem::WildcardInIssuer));
            }
            IssuerPattern::Exact(url.clone())
        };
        let issuer_host = parsed.host_str().unwrap_or("").to_owned();

        if self.audience.is_empty() {
            return Err(ConfigError::InvalidField {
                url,
                field: "audience",
                value: String::new(),
                reason: "must not be empty",
            });
        }

        let not_allowed = |field: &'static str| ConfigError::FieldNotAllowed {
            url: url.clone(),
            issuer_type: t.as_str(),
            field,
        };
        let missing = |field: &'static str| ConfigError::MissingField {
            url: url.clone(),
            issuer_type: t.as_str(),
            field,
        };
        let invalid =
            |field: &'static str, value: &str, reason: &'static str| ConfigError::InvalidField {
                url: url.clone(),
                field,
                value: value.to_owned(),
                reason,
            };

        if self.subject_domain.is_some() && !matches!(t, IssuerType::Uri | IssuerType::Username) {
            return Err(not_allowed("subject_domain"));
        }
        if self.spiffe_trust_domain.is_some() && t != IssuerType::Spiffe {
            return Err(not_allowed("spiffe_trust_domain"));
        }
        if (self.issuer_claim.is_some() || self.skip_email_verification) && t != IssuerType::Email {
            return Err(not_allowed(if self.issuer_claim.is_some() {
                "issuer_claim"
            } else {
                "skip_email_verification"
            }));
        }
        if self.server_url.is_some()
            && !matches!(t, IssuerType::GithubWorkflow | IssuerType::GitlabPipeline)
        {
            return Err(not_allowed("server_url"));
        }
        let server_url = match &self.server_url {
            None => None,
            Some(s) => {
                let u =
                    Url::parse(s).map_err(|_| invalid("server_url", s, "not an absolute URL"))?;
                if !matches!(u.scheme(), "http" | "https")
                    || u.host_str().is_none()
                    || u.query().is_some()
                {
                    return Err(invalid(
                        "server_url",
                        s,
                        "must be an http(s) URL without query",
                    ));
                }
                Some(s.trim_end_matches('/').to_owned())
            }
        };

        let kind = match t {
            IssuerType::Email => IssuerKind::Email {
                issuer_claim: match &self.issuer_claim {
                    None => None,
                    Some(c) => Some(
                        ClaimPath::parse(c)
                            .ok_or_else(|| invalid("issuer_claim", c, "expected $.key(.key)*"))?,
                    ),
                },
                skip_email_verification: self.skip_email_verification,
            },
            IssuerType::Kubernetes => IssuerKind::Kubernetes,
            IssuerType::GithubWorkflow => IssuerKind::GithubWorkflow {
                server_url: server_url.unwrap_or_else(|| github_server_for(&parsed)),
            },
            IssuerType::GitlabPipeline => IssuerKind::GitlabPipeline { server_url },
            IssuerType::Uri => {
                let d = self
                    .subject_domain
                    .as_deref()
                    .ok_or_else(|| missing("subject_domain"))?;
                let du = Url::parse(d).map_err(|_| {
                    invalid(
                        "subject_domain",
                        d,
                        "a uri issuer's subject domain is scheme://host",
                    )
                })?;
                let host = du.host_str().unwrap_or("").to_owned();
                if host.is_empty() {
                    return Err(invalid("subject_domain", d, "has no host"));
                }
                if du.scheme() != parsed.scheme() {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "scheme differs from the issuer's",
                    ));
                }
                if !same_registered_domain(&host, &issuer_host) {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "must share its last two host labels with the issuer (Fulcio's rule)",
                    ));
                }
                IssuerKind::Uri {
                    scheme: du.scheme().to_owned(),
                    host,
                }
            }
            IssuerType::Username => {
                let d = self
                    .subject_domain
                    .as_deref()
                    .ok_or_else(|| missing("subject_domain"))?;
                if d.contains("://") {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "a username domain has no scheme",
                    ));
                }
                if !is_hostname(d) {
                    return Err(invalid("subject_domain", d, "not a host name"));
                }
                if !same_registered_domain(d, &issuer_host) {
                    return Err(invalid(
                        "subject_domain",
                        d,
                        "must share its last two labels with the issuer's host (Fulcio's rule)",
                    ));
                }
                IssuerKind::Username {
                    subject_domain: d.to_owned(),
                }
            }
            IssuerType::Spiffe => {
                if self.meta {
                    return Err(invalid(
                        "type",
                        "spiffe",
                        "a SPIFFE trust domain needs one issuer, not a meta issuer",
                    ));
                }
                let td = self
                    .spiffe_trust_domain
                    .as_deref()
                    .ok_or_else(|| missing("spiffe_trust_domain"))?;
                if !is_trust_domain(td) {
                    return Err(invalid(
                        "spiffe_trust_domain",
                        td,
                        "a trust domain is lowercase letters, digits, '.', '-' and '_'",
                    ));
                }
                IssuerKind::Spiffe {
                    trust_domain: td.to_owned(),
                }
            }
        };

        let ca_certs = match self.ca_pem {
            None => Vec::new(),
            Some(pem) => {
                let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem)
                    .map(|c| c.map(|c| c.into_owned()))
                    .collect();
                match certs {
                    // A DER certificate is a SEQUENCE; the HTTP client checks the rest.
                    Ok(c) if !c.is_empty() && c.iter().all(|c| c.first() == Some(&0x30)) => c,
                    _ => return Err(ConfigError::CaCertInvalid { url }),
                }
            }
        };

        Ok(IssuerPolicy {
            pattern,
            audience: self.audience,
            client_id: self.client_id,
            kind,
            ca_certs,
            allow_insecure_http: self.allow_insecure_http,
        })
    }
}

/// GitHub Enterprise Server issues tokens at `https://<host>/_services/token`; everything else
/// (github.com's token service, its enterprise-slug meta issuer, test issuers) is github.com,
/// which is what Fulcio assumes for every GitHub issuer.
fn github_server_for(issuer: &Url) -> String {
    let host = issuer.host_str().unwrap_or("");
    if host != GITHUB_ACTIONS_ISSUER_HOST
        && issuer.path().trim_end_matches('/') == "/_services/token"
    {
        let mut origin = format!("{}://{host}", issuer.scheme());
        if let Some(port) = issuer.port() {
            origin.push_str(&format!(":{port}"));
        }
        return origin;
    }
    "https://github.com".to_owned()
}

/// Whether a URL's host is loopback: `localhost` (and names under it), `127.0.0.0/8`, `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Fulcio's `validateAllowedDomain`: equal, or the same last two labels.
fn same_registered_domain(subject_host: &str, issuer_host: &str) -> bool {
    if subject_host == issuer_host {
        return true;
    }
    let s: Vec<&str> = subject_host.split('.').collect();
    let i: Vec<&str> = issuer_host.split('.').collect();
    s.len() >= 2 && i.len() >= 2 && s[s.len() - 2..] == i[i.len() - 2..]
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A SPIFFE trust domain name (SPIFFE-ID §2.1).
pub(crate) fn is_trust_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_server_urls() {
        let u = |s: &str| github_server_for(&Url::parse(s).unwrap());
        assert_eq!(
            u("https://token.actions.githubusercontent.com"),
            "https://github.com"
        );
        assert_eq!(
            u("https://ghe.corp.example/_services/token"),
            "https://ghe.corp.example"
        );
        assert_eq!(u("http://127.0.0.1:8080"), "https://github.com");
    }

    #[test]
    fn registered_domains() {
        assert!(same_registered_domain(
            "example.com",
            "accounts.example.com"
        ));
        assert!(same_registered_domain(
            "users.example.com",
            "accounts.example.com"
        ));
        assert!(!same_registered_domain(
            "example.org",
            "accounts.example.com"
        ));
        assert!(!same_registered_domain("com", "example.com"));
        assert!(same_registered_domain("127.0.0.1", "127.0.0.1"));
    }
}
