//! Watching the logs for identities (`hallmark audit watch`): every certificate in the CT log
//! and every entry in the signature log (Rekor v1 and v2) whose certificate names a watched
//! identity is a [`Finding`]; findings that no expectation of their rule covers are unexpected,
//! and make the command exit non-zero.
//!
//! This module is pure: it reads one entry's bytes as the log stored them (the RFC 6962
//! `MerkleTreeLeaf` of the CT log, the canonical body of the signature log) and decides. What
//! it reads is only what the Merkle tree commits to: a CT entry's identity comes from the
//! precertificate TBS in the leaf, not from the unauthenticated `extra_data` beside it.
//!
//! A rule matches like `hallmark verify`'s identity policy (the same [`IdentityPolicy`]): one SAN
//! matches, the issuer matches, exactly or by an anchored regular expression. Its expectations
//! say which of its findings are expected, by CI extension values (for example: the release
//! identity signs only from this repository, on a push): a finding is expected when every
//! constraint of one expectation holds. A rule without expectations expects nothing: any use of
//! the identity is reported as unexpected, which is what watching a release identity means.

use std::collections::BTreeMap;

use hallmark_sigstore::body::{CanonicalBody, Signing, v2};
use hallmark_sigstore::ct::{LogEntry, MerkleTreeLeaf};
use hallmark_verify::{CertificateIdentity, CiExtension, IdentityPolicy, Matcher};
use serde::{Deserialize, Serialize};

use crate::error::AuditError;

/// How a log stores its entries, so a watcher knows how to read one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryFormat {
    /// The CT log: RFC 6962 `MerkleTreeLeaf`.
    Ct,
    /// The Rekor v1 log: v0.0.1/v0.0.2 canonical bodies.
    RekorV1,
    /// The Rekor v2 log: v0.0.2 canonical bodies.
    RekorV2,
}

/// One watched identity (or set of identities) and what is expected of it.
#[derive(Clone, Debug)]
pub struct Rule {
    /// A name for reports (the config's, or one made from the flags).
    pub name: String,
    /// Any of these policies makes a certificate this rule's.
    pub identities: Vec<IdentityPolicy>,
    /// A finding is expected when it satisfies one of these; none: nothing is expected.
    pub expected: Vec<Expectation>,
}

/// CI extension values a finding must have to be expected (every one of them).
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    /// Extension and the matcher its value must satisfy.
    pub extensions: Vec<(CiExtension, Matcher)>,
}

impl Expectation {
    fn covers(&self, identity: &CertificateIdentity) -> bool {
        self.extensions
            .iter()
            .all(|(ext, m)| identity.extension(*ext).is_some_and(|v| m.matches(v)))
    }
}

/// A certificate of a watched identity, found in a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Which log: `ct`, `rekor-v1`, `rekor-v2`.
    pub log: EntryFormat,
    /// The log's base URL.
    pub log_url: String,
    /// The entry's index in the log.
    pub index: u64,
    /// The entry type: `precert` / `x509` in the CT log, `hashedrekord`, `dsse`, `intoto` in the
    /// signature log.
    pub kind: String,
    /// When: the CT entry's timestamp; for a signature log entry, the start of its
    /// certificate's validity (entries carry no time of their own in the tree), RFC 3339.
    pub time: String,
    /// The rule that matched.
    pub rule: String,
    /// The certificate's SANs.
    pub identity: Vec<String>,
    /// The certificate's OIDC issuer.
    pub issuer: Option<String>,
    /// The certificate's serial number, hex.
    pub serial: String,
    /// The signed digest (`sha256:<hex>`), for signature log entries.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest: Option<String>,
    /// The certificate's CI extensions, by their JSON names (`sourceRepositoryURI`, ...).
    pub extensions: BTreeMap<String, String>,
    /// Whether an expectation of the rule covers it.
    pub expected: bool,
}

/// Decides which entries are findings.
#[derive(Clone, Debug)]
pub struct Watcher {
    rules: Vec<Rule>,
}

impl Watcher {
    /// A watcher for `rules` (at least one).
    ///
    /// # Errors
    /// [`AuditError::WatchConfig`] without rules.
    pub fn new(rules: Vec<Rule>) -> Result<Self, AuditError> {
        if rules.is_empty() || rules.iter().any(|r| r.identities.is_empty()) {
            return Err(AuditError::WatchConfig {
                problem: "nothing to watch: give at least one identity and issuer".to_owned(),
            });
        }
        Ok(Watcher { rules })
    }

    /// The rules.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The findings in entry `index` of a log of `format` at `log_url`, stored as `data`.
    ///
    /// # Errors
    /// [`AuditError::Entry`] when the entry cannot be read as its log's format: the log holds
    /// something it should not, which an auditor reports rather than skips.
    pub fn examine(
        &self,
        format: EntryFormat,
        log_url: &str,
        index: u64,
        data: &[u8],
    ) -> Result<Vec<Finding>, AuditError> {
        let bad = |problem: String| AuditError::entry(log_url, index, problem);
        let mut out = Vec::new();
        match format {
            EntryFormat::Ct => {
                let leaf = MerkleTreeLeaf::decode(data).map_err(|e| bad(e.to_string()))?;
                let (kind, identity) = match &leaf.entry {
                    LogEntry::Precert {
                        tbs_certificate, ..
                    } => (
                        "precert",
                        CertificateIdentity::from_tbs_der(tbs_certificate),
                    ),
                    LogEntry::X509 { certificate } => (
                        "x509",
                        CertificateIdentity::from_certificate_der(certificate),
                    ),
                    _ => return Err(bad("an entry type this auditor does not know".to_owned())),
                };
                let identity = identity.map_err(|e| bad(e.to_string()))?;
                let time = unix_ms_rfc3339(leaf.timestamp_ms);
                self.match_identity(&identity, &mut out, |rule, expected| Finding {
                    log: format,
                    log_url: log_url.to_owned(),
                    index,
                    kind: kind.to_owned(),
                    time: time.clone(),
                    rule: rule.to_owned(),
                    identity: identity.sans.clone(),
                    issuer: identity.issuer.clone(),
                    serial: identity.serial.clone(),
                    digest: None,
                    extensions: extension_map(&identity),
                    expected,
                });
            }
            EntryFormat::RekorV1 | EntryFormat::RekorV2 => {
                let signing = signing_of(format, data).map_err(&bad)?;
                let digest = format!(
                    "{}:{}",
                    signing.digest.0.name(),
                    hex::encode(&signing.digest.1)
                );
                for der in &signing.certificates {
                    let identity = CertificateIdentity::from_certificate_der(der)
                        .map_err(|e| bad(e.to_string()))?;
                    let time = unix_ms_rfc3339(
                        u64::try_from(identity.not_before)
                            .unwrap_or(0)
                            .saturating_mul(1000),
                    );
                    self.match_identity(&identity, &mut out, |rule, expected| Finding {
                        log: format,
                        log_url: log_url.to_owned(),
                        index,
                        kind: signing.kind.to_owned(),
                        time: time.clone(),
                        rule: rule.to_owned(),
                        identity: identity.sans.clone(),
                        issuer: identity.issuer.clone(),
                        serial: identity.serial.clone(),
                        digest: Some(digest.clone()),
                        extensions: extension_map(&identity),
                        expected,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Pushes one finding per rule whose identities match.
    fn match_identity(
        &self,
        identity: &CertificateIdentity,
        out: &mut Vec<Finding>,
        finding: impl Fn(&str, bool) -> Finding,
    ) {
        for rule in &self.rules {
            if rule.identities.iter().any(|p| p.matches(identity)) {
                let expected = rule.expected.iter().any(|e| e.covers(identity));
                out.push(finding(&rule.name, expected));
            }
        }
    }
}

fn signing_of(format: EntryFormat, data: &[u8]) -> Result<Signing, String> {
    let signing = if format == EntryFormat::RekorV2 {
        v2::CanonicalBody::parse(data).and_then(|b| b.signing())
    } else {
        CanonicalBody::parse(data).and_then(|b| b.signing())
    };
    signing.map_err(|e| e.to_string())
}

fn extension_map(identity: &CertificateIdentity) -> BTreeMap<String, String> {
    identity
        .extensions
        .iter()
        .map(|(e, v)| (e.json_name().to_owned(), v.clone()))
        .collect()
}

fn unix_ms_rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    hallmark_sigstore::rfc3339(secs).unwrap_or_else(|_| format!("unix {secs}"))
}

/// The watch configuration file (`--config`): YAML.
///
/// ```yaml
/// watch:
///   - name: release
///     identity: https://ci.example/org/repo/.ci/release.yml@refs/heads/main
///     issuer: https://token.example
///     expected:
///       - sourceRepositoryURI: https://git.example/org/repo
///         buildTrigger: push
///   - name: any-admin
///     identity_regex: ".*@admins\\.example\\.com"
///     issuer: https://accounts.example.com
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The rules.
    pub watch: Vec<RuleConfig>,
}

/// One rule of a [`WatchConfig`]: exactly one of `identity` / `identity_regex`, exactly one of
/// `issuer` / `issuer_regex`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A name for reports (default: the identity).
    #[serde(default)]
    pub name: Option<String>,
    /// The SAN, exactly.
    #[serde(default)]
    pub identity: Option<String>,
    /// The SAN, as a regular expression over the whole value.
    #[serde(default)]
    pub identity_regex: Option<String>,
    /// The OIDC issuer, exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The OIDC issuer, as a regular expression over the whole value.
    #[serde(default)]
    pub issuer_regex: Option<String>,
    /// Expectations: maps of CI extension (JSON name, e.g. `sourceRepositoryURI`, or OID arc)
    /// to the exact value; a value written `/.../` is a regular expression.
    #[serde(default)]
    pub expected: Vec<BTreeMap<String, String>>,
}

impl WatchConfig {
    /// Parses and checks a configuration file's text.
    ///
    /// # Errors
    /// [`AuditError::WatchConfig`] naming the rule and what is wrong with it.
    pub fn parse(yaml: &str) -> Result<Vec<Rule>, AuditError> {
        let config: WatchConfig =
            serde_norway::from_str(yaml).map_err(|e| AuditError::WatchConfig {
                problem: e.to_string(),
            })?;
        config
            .watch
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.into_rule(i))
            .collect()
    }
}

impl RuleConfig {
    fn into_rule(self, i: usize) -> Result<Rule, AuditError> {
        let which = self
            .name
            .clone()
            .unwrap_or_else(|| format!("rule {}", i + 1));
        let err = |problem: String| AuditError::WatchConfig {
            problem: format!("{which}: {problem}"),
        };
        let san = one_matcher(self.identity.as_deref(), self.identity_regex.as_deref())
            .map_err(|p| err(format!("identity: {p}")))?;
        let issuer = one_matcher(self.issuer.as_deref(), self.issuer_regex.as_deref())
            .map_err(|p| err(format!("issuer: {p}")))?;
        let mut expected = Vec::new();
        for e in self.expected {
            let mut exp = Expectation::default();
            for (name, value) in e {
                let ext = CiExtension::from_name(&name)
                    .ok_or_else(|| err(format!("{name:?} is not a Fulcio CI extension")))?;
                exp.extensions
                    .push((ext, value_matcher(&value).map_err(&err)?));
            }
            expected.push(exp);
        }
        let name = self
            .name
            .or(self.identity)
            .or(self.identity_regex)
            .unwrap_or(which);
        Ok(Rule {
            name,
            identities: vec![IdentityPolicy {
                san,
                issuer,
                extensions: Vec::new(),
            }],
            expected,
        })
    }
}

/// Exactly one of an exact value and a regular expression.
fn one_matcher(exact: Option<&str>, regex: Option<&str>) -> Result<Matcher, String> {
    match (exact, regex) {
        (Some(v), None) => Ok(Matcher::exact(v)),
        (None, Some(r)) => Matcher::regex(r).map_err(|e| e.to_string()),
        (Some(_), Some(_)) => Err("give the exact value or the regex, not both".to_owned()),
        (None, None) => Err("missing".to_owned()),
    }
}

/// An expectation's value: `/regex/` or an exact value.
fn value_matcher(value: &str) -> Result<Matcher, String> {
    match value
        .strip_prefix('/')
        .and_then(|v| v.strip_suffix('/'))
        .filter(|_| value.len() >= 2)
    {
        Some(re) => Matcher::regex(re).map_err(|e| e.to_string()),
        None => Ok(Matcher::exact(value)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn config_rules_are_checked() {
        let rules = WatchConfig::parse(
            "watch:\n  - name: release\n    identity: a@example.com\n    issuer: https://i\n    expected:\n      - sourceRepositoryURI: https://git/r\n        buildTrigger: /push|tag/\n  - identity_regex: \".*@b\\\\.example\"\n    issuer_regex: https://.*\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].name, "release");
        assert_eq!(rules[0].expected[0].extensions.len(), 2);
        assert_eq!(rules[1].name, ".*@b\\.example");
        for bad in [
            "watch:\n  - identity: a\n",
            "watch:\n  - identity: a\n    identity_regex: b\n    issuer: c\n",
            "watch:\n  - identity: a\n    issuer: c\n    expected:\n      - noSuchExtension: x\n",
            "watch:\n  - identity_regex: \"a)|(.*\"\n    issuer: c\n",
            "watch:\n  - identity: a\n    issuer: c\n    surprise: 1\n",
            "not yaml: [",
        ] {
            assert!(WatchConfig::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Watcher::new(Vec::new()).is_err());
    }

    #[test]
    fn entries_that_are_not_their_logs_format_are_errors_not_panics() {
        let w =
            Watcher::new(WatchConfig::parse("watch:\n  - identity: a\n    issuer: b\n").unwrap())
                .unwrap();
        for format in [EntryFormat::Ct, EntryFormat::RekorV1, EntryFormat::RekorV2] {
            for data in [&b""[..], b"{}", b"\x00\x00garbage", b"{\"kind\":\"x\"}"] {
                assert!(w.examine(format, "http://log", 3, data).is_err());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_entries_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let w = Watcher::new(WatchConfig::parse("watch:\n  - identity: a\n    issuer: b\n").unwrap()).unwrap();
            for format in [EntryFormat::Ct, EntryFormat::RekorV1, EntryFormat::RekorV2] {
                let _ = w.examine(format, "http://log", 0, &data);
            }
        }
    }
}
