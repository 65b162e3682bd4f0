//! Verified claims to [`Identity`], per issuer type, following Fulcio's principals
//! (`pkg/identity/*`) and its shipped CI claim templates (`config/identity/config.yaml`).
//! Pure: runs only on claims whose signature, issuer, audience and times were already checked.

use serde_json::{Map, Value};
use url::Url;

use crate::config::{IssuerKind, IssuerPolicy, is_trust_domain};
use crate::error::{ClaimProblem, EmailVerified, OidcError, SubjectRejection};
use crate::identity::{CiExtensions, GithubV1Extensions, Identity, SubjectAltName};

type Claims = Map<String, Value>;

/// Maps verified claims to the identity they prove. `issuer` is the token's `iss`.
pub(crate) fn identity(
    policy: &IssuerPolicy,
    issuer: &str,
    claims: &Claims,
) -> Result<Identity, OidcError> {
    let subject = required_string(claims, "sub")?;
    let challenge = match optional_string(claims, "email")? {
        Some(email) => email.to_owned(),
        None => subject.clone(),
    };
    let mut id = Identity {
        issuer: issuer.to_owned(),
        san: SubjectAltName::Uri(String::new()),
        challenge,
        subject,
        extensions: CiExtensions::default(),
        github_v1: None,
    };
    match policy.kind() {
        IssuerKind::Email {
            issuer_claim,
            skip_email_verification,
        } => {
            let email = required_string(claims, "email")?;
            if !is_email(&email) {
                return Err(OidcError::invalid("email", ClaimProblem::NotAnEmail));
            }
            if !skip_email_verification {
                let found = match claims.get("email_verified") {
                    Some(Value::Bool(true)) => None,
                    Some(Value::String(s)) if s == "true" => None,
                    Some(Value::Bool(false)) => Some(EmailVerified::False),
                    Some(Value::String(s)) if s == "false" => Some(EmailVerified::False),
                    None | Some(Value::Null) => Some(EmailVerified::Missing),
                    Some(other) => Some(EmailVerified::Other(other.clone())),
                };
                if let Some(found) = found {
                    return Err(OidcError::EmailNotVerified { email, found });
                }
            }
            if let Some(path) = issuer_claim {
                let value = path
                    .get(claims)
                    .ok_or_else(|| OidcError::missing(&path.to_text()))?;
                if !is_uri_text(value) {
                    return Err(OidcError::invalid(&path.to_text(), ClaimProblem::NotAUri));
                }
                id.issuer = value.to_owned();
            }
            id.san = SubjectAltName::Email(email);
        }
        IssuerKind::Kubernetes => {
            let k8s = claims
                .get("kubernetes.io")
                .ok_or_else(|| OidcError::missing("kubernetes.io"))?;
            let name = |v: Option<&Value>, claim: &str| -> Result<String, OidcError> {
                let s = match v {
                    None | Some(Value::Null) => return Err(OidcError::missing(claim)),
                    Some(Value::String(s)) => s,
                    Some(_) => {
                        return Err(OidcError::invalid(
                            claim,
                            ClaimProblem::WrongType {
                                expected: "a string",
                            },
                        ));
                    }
                };
                if !is_kubernetes_name(s) {
                    return Err(OidcError::SubjectNotAllowed {
                        subject: s.clone(),
                        reason: SubjectRejection::NotKubernetesName,
                    });
                }
                Ok(s.clone())
            };
            let ns = name(k8s.get("namespace"), "kubernetes.io.namespace")?;
            let sa = name(
                k8s.get("serviceaccount").and_then(|s| s.get("name")),
                "kubernetes.io.serviceaccount.name",
            )?;
            id.san = SubjectAltName::Uri(format!(
                "https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}"
            ));
        }
        IssuerKind::GithubWorkflow { server_url } => github(&mut id, server_url, claims)?,
        IssuerKind::GitlabPipeline { server_url } => {
            let server = server_url
                .as_deref()
                .unwrap_or(issuer)
                .trim_end_matches('/');
            gitlab(&mut id, server, claims)?;
        }
        IssuerKind::Uri { scheme, host } => {
            let sub = &id.subject;
            if is_email(sub) {
                return Err(reject(sub, SubjectRejection::IsEmail));
            }
            if !is_uri_text(sub) {
                return Err(OidcError::invalid("sub", ClaimProblem::NotAUri));
            }
            let parsed =
                Url::parse(sub).map_err(|_| OidcError::invalid("sub", ClaimProblem::NotAUri))?;
            // The SAN is `sub` as written, so it must be exactly what the WHATWG parser read:
            // `https://idp.example.com\@evil.com/x` has host idp.example.com here (a `\` is a
            // `/` in special schemes) but evil.com for an RFC 3986 parser.
            if sub.contains('\\')
                || !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed.as_str() != sub
            {
                return Err(OidcError::invalid("sub", ClaimProblem::NotNormalisedUri));
            }
            if parsed.scheme() != scheme || parsed.host_str() != Some(host.as_str()) {
                return Err(reject(
                    sub,
                    SubjectRejection::OutsideSubjectDomain {
                        subject_domain: format!("{scheme}://{host}"),
                    },
                ));
            }
            id.san = SubjectAltName::Uri(sub.clone());
        }
        IssuerKind::Username { subject_domain } => {
            let sub = &id.subject;
            if sub.contains('!') {
                return Err(reject(sub, SubjectRejection::ContainsBang));
            }
            if is_email(sub) {
                return Err(reject(sub, SubjectRejection::IsEmail));
            }
            if sub.chars().any(char::is_control) {
                return Err(OidcError::invalid("sub", ClaimProblem::BadCharacters));
            }
            id.san = SubjectAltName::OtherName(format!("{sub}!{subject_domain}"));
        }
        IssuerKind::Spiffe { trust_domain } => {
            let sub = &id.subject;
            let Some(td) = spiffe_trust_domain(sub) else {
                return Err(reject(sub, SubjectRejection::NotSpiffeId));
            };
            if td != trust_domain {
                return Err(reject(
                    sub,
                    SubjectRejection::OutsideTrustDomain {
                        trust_domain: trust_domain.clone(),
                    },
                ));
            }
            id.san = SubjectAltName::Uri(sub.clone());
        }
    }
    Ok(id)
}

fn reject(subject: &str, reason: SubjectRejection) -> OidcError {
    OidcError::SubjectNotAllowed {
        subject: subject.to_owned(),
        reason,
    }
}

/// GitHub Actions, as Fulcio's `github-workflow` CI template.
fn github(id: &mut Identity, server: &str, claims: &Claims) -> Result<(), OidcError> {
    let c = |name| required_value(claims, name);
    let u = |name| uri_part(claims, name);
    let job_workflow_ref = u("job_workflow_ref")?;
    let repository = u("repository")?;
    let repository_owner = u("repository_owner")?;
    let workflow_ref = u("workflow_ref")?;
    let run_id = u("run_id")?;
    let run_attempt = u("run_attempt")?;
    let sha = c("sha")?;
    let event_name = c("event_name")?;
    let git_ref = c("ref")?;
    let workflow = c("workflow")?;

    let signer = format!("{server}/{job_workflow_ref}");
    id.extensions = CiExtensions {
        build_signer_uri: Some(signer.clone()),
        build_signer_digest: Some(c("job_workflow_sha")?),
        runner_environment: Some(c("runner_environment")?),
        source_repository_uri: Some(format!("{server}/{repository}")),
        source_repository_digest: Some(sha.clone()),
        source_repository_ref: Some(git_ref.clone()),
        source_repository_identifier: Some(c("repository_id")?),
        source_repository_owner_uri: Some(format!("{server}/{repository_owner}")),
        source_repository_owner_identifier: Some(c("repository_owner_id")?),
        build_config_uri: Some(format!("{server}/{workflow_ref}")),
        build_config_digest: Some(c("workflow_sha")?),
        build_trigger: Some(event_name.clone()),
        run_invocation_uri: Some(format!(
            "{server}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"
        )),
        source_repository_visibility_at_signing: Some(c("repository_visibility")?),
        deployment_environment: optional_value(claims, "environment")?,
    };
    id.github_v1 = Some(GithubV1Extensions {
        trigger: event_name,
        sha,
        name: workflow,
        repository,
        git_ref,
    });
    id.san = SubjectAltName::Uri(signer);
    Ok(())
}

/// GitLab CI, as Fulcio's `gitlab-pipeline` CI template, with the server URL taken from the
/// issuer (self-hosted GitLab issues tokens as itself) and, as Fulcio's GitLab principal did,
/// the SAN's scheme taken from the server when `ci_config_ref_uri` is on the same host.
fn gitlab(id: &mut Identity, server: &str, claims: &Claims) -> Result<(), OidcError> {
    let c = |name| required_value(claims, name);
    let u = |name| uri_part(claims, name);
    let project_path = u("project_path")?;
    let namespace_path = u("namespace_path")?;
    let job_id = u("job_id")?;
    let config_ref = u("ci_config_ref_uri")?;
    let ref_type = c("ref_type")?;
    let git_ref = c("ref")?;
    let git_ref = match ref_type.as_str() {
        "branch" => format!("refs/heads/{git_ref}"),
        "tag" => format!("refs/tags/{git_ref}"),
        _ => {
            return Err(OidcError::invalid(
                "ref_type",
                ClaimProblem::Unexpected {
                    value: ref_type,
                    allowed: "\"branch\" or \"tag\"",
                },
            ));
        }
    };

    let (scheme, authority) = match Url::parse(server) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("").to_owned();
            let authority = match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            (u.scheme().to_owned(), authority)
        }
        Err(_) => ("https".to_owned(), String::new()),
    };
    let config_host = config_ref.split('/').next().unwrap_or("");
    let san_scheme = if config_host == authority {
        scheme.as_str()
    } else {
        "https"
    };
    let config_uri = format!("{san_scheme}://{config_ref}");
    let config_sha = optional_value(claims, "ci_config_sha")?;

    id.extensions = CiExtensions {
        build_signer_uri: Some(config_uri.clone()),
        build_signer_digest: config_sha.clone(),
        runner_environment: Some(c("runner_environment")?),
        source_repository_uri: Some(format!("{server}/{project_path}")),
        source_repository_digest: Some(c("sha")?),
        source_repository_ref: Some(git_ref),
        source_repository_identifier: Some(c("project_id")?),
        source_repository_owner_uri: Some(format!("{server}/{namespace_path}")),
        source_repository_owner_identifier: Some(c("namespace_id")?),
        build_config_uri: Some(config_uri.clone()),
        build_config_digest: config_sha,
        build_trigger: Some(c("pipeline_source")?),
        run_invocation_uri: Some(format!("{server}/{project_path}/-/jobs/{job_id}")),
        source_repository_visibility_at_signing: optional_value(claims, "project_visibility")?,
        deployment_environment: optional_value(claims, "environment")?,
    };
    id.san = SubjectAltName::Uri(config_uri);
    Ok(())
}

/// A string claim, absent as `None`.
fn optional_string<'a>(claims: &'a Claims, name: &str) -> Result<Option<&'a str>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OidcError::invalid(
            name,
            ClaimProblem::WrongType {
                expected: "a string",
            },
        )),
    }
}

/// A non-empty string claim.
fn required_string(claims: &Claims, name: &str) -> Result<String, OidcError> {
    match optional_string(claims, name)? {
        None => Err(OidcError::missing(name)),
        Some("") => Err(OidcError::invalid(name, ClaimProblem::Empty)),
        Some(s) => Ok(s.to_owned()),
    }
}

/// A claim as text: a string, or an integer written in decimal (Fulcio stringifies numeric
/// claims the same way). Absent or empty is `None`.
fn optional_value(claims: &Claims, name: &str) -> Result<Option<String>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(_) => Err(OidcError::invalid(
            name,
            ClaimProblem::WrongType {
                expected: "a string or an integer",
            },
        )),
    }
}

fn required_value(claims: &Claims, name: &str) -> Result<String, OidcError> {
    match claims.get(name) {
        Some(Value::String(s)) if s.is_empty() => {
            Err(OidcError::invalid(name, ClaimProblem::Empty))
        }
        _ => optional_value(claims, name)?.ok_or_else(|| OidcError::missing(name)),
    }
}

/// A required claim that becomes part of a URI: printable ASCII without spaces.
fn uri_part(claims: &Claims, name: &str) -> Result<String, OidcError> {
    let v = required_value(claims, name)?;
    if !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(OidcError::invalid(name, ClaimProblem::BadCharacters));
    }
    Ok(v)
}

fn is_uri_text(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic()) && Url::parse(s).is_ok()
}

/// An address an rfc822Name SAN can carry: `local@domain`, printable ASCII.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@()<>[]:;,\\\"".contains(&b))
        && !domain.is_empty()
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// A DNS-1123 subdomain, which both namespace and service-account names are.
fn is_kubernetes_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

/// The trust domain of a valid SPIFFE ID (SPIFFE-ID §2), or `None`.
fn spiffe_trust_domain(id: &str) -> Option<&str> {
    if id.len() > 2048 {
        return None;
    }
    let rest = id.strip_prefix("spiffe://")?;
    let (td, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !is_trust_domain(td) {
        return None;
    }
    if !path.is_empty() {
        let segments_ok = path[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        });
        if !segments_ok {
            return None;
        }
    }
    Some(td)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("alice@example.com"));
        assert!(is_email("a.b+c@sub.example.co"));
        assert!(!is_email("alice"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("alice@"));
        assert!(!is_email("al ice@example.com"));
        assert!(!is_email("alice@exa_mple.com"));
        assert!(!is_email("alice@@example.com"));
        assert!(!is_email("https://example.com/a@b"));
    }

    #[test]
    fn spiffe_ids() {
        assert_eq!(
            spiffe_trust_domain("spiffe://example.org/ns/prod/sa/api"),
            Some("example.org")
        );
        assert_eq!(
            spiffe_trust_domain("spiffe://example.org"),
            Some("example.org")
        );
        for bad in [
            "spiffe://Example.org/a",
            "spiffe://example.org/",
            "spiffe://example.org//a",
            "spiffe://example.org/a/../b",
            "spiffe://example.org/a?b",
            "https://example.org/a",
            "spiffe:///a",
        ] {
            assert_eq!(spiffe_trust_domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn kubernetes_names() {
        assert!(is_kubernetes_name("kube-system"));
        assert!(is_kubernetes_name("build.bot"));
        assert!(!is_kubernetes_name("a/b"));
        assert!(!is_kubernetes_name("-a"));
        assert!(!is_kubernetes_name("A"));
        assert!(!is_kubernetes_name(""));
    }
}
