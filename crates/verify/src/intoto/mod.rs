//! Supply-chain verification: an in-toto layout, its steps' links and its inspections, with
//! Hallmark's keyless functionaries.
//!
//! Pure like the rest of this crate: the caller reads the files, runs the inspections and
//! passes the time. The order follows in-toto-python 3.1.0's `in_toto_verify`:
//!
//! 1. **Layout signatures** ([`LayoutTrust`]): every classic layout key must have a valid
//!    signature on the layout, and every trusted identity a keyless signature (a signature
//!    carrying a Sigstore `bundle` whose DSSE envelope, of type
//!    [`hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE`], holds the layout's canonical bytes,
//!    verified as a link's is; a message-signature bundle is refused: domain separation). At least one of them must be given.
//! 2. **Expiry** at `now`.
//! 3. **Links** ([`Candidate`]s, grouped by the step name they record; links of other names
//!    are ignored with a warning). Each signature on a link is checked against the step's
//!    functionaries: a classic key's signature over the canonical link bytes (or, for
//!    in-toto-python's `--use-dsse` links, over the DSSE PAE); a keyless signature's bundle
//!    with [`crate::verify`] against the functionary's trust root (chain and validity at the
//!    log's integrated time or a timestamp, never `now`; inclusion proof; SCTs), then the
//!    certificate's identity against the [`OidcFunctionary`], then that the bundle signs *this*
//!    link (DSSE: the verified payload is the link statement; classic: the envelope's payload
//!    is these canonical bytes with Hallmark's payload type, and its signature is the `sig`). Failed signatures are set aside, as in-toto-python
//!    skips them, and reported if the threshold then fails.
//! 4. **Threshold**: the distinct signers ([`SignerId`]: issuer and SAN, or a classic key id)
//!    among a step's accepted links.
//! 5. **Command alignment**: a link's command other than `expected_command` is a warning, as
//!    in in-toto.
//! 6. **Agreement**: all accepted links of a step record the same materials and products
//!    (in-toto-python's `verify_threshold_constraints`); one of them then stands for the step.
//! 7. **Step rules** ([`hallmark_sigstore::intoto::apply_rules`]) over the steps' links.
//! 8. The caller runs the inspections ([`VerifiedSteps::inspections`]) only now, so no
//!    inspection command runs on artifacts the steps' rules refuse, and passes their links to
//!    [`VerifiedSteps::finish`], which applies the **inspection rules** over steps and
//!    inspections.
//!
//! Sublayouts are refused ([`ChainError::Sublayout`]). A success is a [`Report`]: per step,
//! the accepted signers with their log indexes and integrated times.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use hallmark_sigstore::intoto::Pattern;
use hallmark_sigstore::intoto::rules::join;
use hallmark_sigstore::intoto::{
    ArtifactRule, ArtifactSide, Artifacts, IdentityMismatch, IntotoError, Link, OidcFunctionary,
    PublicKey, RuleFailure, RuleKind, SignedLayout, TrustRootRef, apply_rules,
};

use crate::{TrustedRoot, VerifyError};

mod candidate;
mod signer;

pub use candidate::Candidate;
pub use signer::{FunctionaryMismatch, functionary_for_certificate};

use signer::{Functionaries, check_candidate, check_classic_signatures};

/// Trust roots by reference (keyless functionaries name theirs by [`TrustRootRef`]).
pub type TrustRoots = HashMap<TrustRootRef, TrustedRoot>;

/// Who must have signed the layout: every key and every identity listed.
#[derive(Clone, Debug, Default)]
pub struct LayoutTrust {
    /// Classic public keys.
    pub keys: Vec<PublicKey>,
    /// Keyless signers (identity, issuer, trust root).
    pub identities: Vec<OidcFunctionary>,
}

/// A signer as a threshold counts it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignerId {
    /// A classic key, by key id.
    Key {
        /// The key id.
        keyid: String,
    },
    /// A certificate identity.
    Identity {
        /// The OIDC issuer.
        issuer: String,
        /// The SAN that matched.
        san: String,
    },
}

impl fmt::Display for SignerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignerId::Key { keyid } => write!(f, "key {keyid}"),
            SignerId::Identity { issuer, san } => write!(f, "{san} (issuer {issuer})"),
        }
    }
}

/// A log entry that vouches for a keyless signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntryInfo {
    /// The log's base URL.
    pub log: String,
    /// The entry's index.
    pub log_index: u64,
    /// Its integrated time (Unix seconds), when a signed entry timestamp vouched for it.
    pub integrated_time: Option<i64>,
}

/// A signature accepted on a link (or the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acceptance {
    /// The link's file.
    pub source: String,
    /// Who signed.
    pub signer: SignerId,
    /// The key id of the layout key (functionary) it satisfied.
    pub functionary: String,
    /// Keyless: the verified log entries.
    pub log_entries: Vec<LogEntryInfo>,
    /// Keyless: the verified signing times (integrated times, timestamps), Unix seconds.
    pub signing_times: Vec<i64>,
}

/// Why a signature on a link was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// The key is not one of the step's functionaries.
    #[error("the key is not a functionary of this step")]
    NotAuthorized,
    /// A classic signature does not verify.
    #[error("{source}")]
    Signature {
        /// Why.
        #[source]
        source: IntotoError,
    },
    /// The link cannot be re-serialized for signature checks.
    #[error("{source}")]
    Format {
        /// Why.
        #[source]
        source: IntotoError,
    },
    /// A keyless signature, but the step has no keyless functionary.
    #[error("a keyless signature, but the step has no keyless functionary")]
    NoKeylessFunctionary,
    /// A signature's `bundle` is not a Sigstore bundle.
    #[error("its bundle does not parse: {source}")]
    BadBundle {
        /// Why.
        #[source]
        source: VerifyError,
    },
    /// No functionary's trust root was given.
    #[error("the trust root {trust_root} of functionaries {} was not given", functionaries.join(", "))]
    UnknownTrustRoot {
        /// The functionaries' key ids.
        functionaries: Vec<String>,
        /// The reference they name.
        trust_root: TrustRootRef,
    },
    /// The bundle does not verify against a functionary's trust root.
    #[error("bundle against trust root {trust_root}: {source}")]
    Bundle {
        /// The trust root.
        trust_root: TrustRootRef,
        /// Why.
        #[source]
        source: VerifyError,
    },
    /// Each trust root failed (see the reasons).
    #[error("{}", reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Keyless {
        /// One per trust root tried.
        reasons: Vec<RejectReason>,
    },
    /// The certificate's identity is none of the step's keyless functionaries.
    #[error("no keyless functionary matches: {}", mismatches.iter().map(|(k, m)| format!("{}: {m}", short(k))).collect::<Vec<_>>().join("; "))]
    Identity {
        /// Per functionary key id, why it did not match.
        mismatches: Vec<(String, IdentityMismatch)>,
    },
    /// The bundle is valid but does not sign this link.
    #[error("{reason}")]
    NotThisLink {
        /// Why.
        reason: &'static str,
    },
}

/// A key id shortened for messages (in-toto's 8 hex digits).
fn short(keyid: &str) -> &str {
    keyid.get(..8).unwrap_or(keyid)
}

/// A signature on a link that was set aside.
#[derive(Debug)]
pub struct Rejection {
    /// The link's file.
    pub source: String,
    /// The signer, when known (a classic key id, or a certificate's identity).
    pub signer: Option<SignerId>,
    /// Why.
    pub reason: RejectReason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.signer {
            Some(s) => write!(f, "{} signed by {s}: {}", self.source, self.reason),
            None => write!(f, "{}: {}", self.source, self.reason),
        }
    }
}

/// The text of [`ChainError::Threshold`]: what was found, what counted, and why the rest
/// did not.
fn threshold_text(e: &ChainError) -> String {
    let ChainError::Threshold {
        step,
        threshold,
        links,
        accepted_signatures,
        accepted,
        rejected,
    } = e
    else {
        return String::new();
    };
    if *links == 0 {
        return format!(
            "step '{step}' (threshold {threshold}): no link names this step (is a step missing?)"
        );
    }
    let signers = if accepted.is_empty() {
        "none".to_owned()
    } else {
        accepted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let once = if *accepted_signatures > accepted.len() {
        format!(
            "; {accepted_signatures} accepted signatures came from {} distinct signer(s), and \
             links by one signer count once",
            accepted.len()
        )
    } else {
        String::new()
    };
    format!(
        "step '{step}' needs links signed by {threshold} distinct functionaries (threshold); \
         {links} link(s) name it, {} distinct signer(s) accepted ({signers}){once}; rejected: {}",
        accepted.len(),
        list(rejected)
    )
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a supply chain does not verify. Each names the step, rule, artifact and signer involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A link file cannot be read as any supported form.
    #[error("{file}: {reason}")]
    Candidate {
        /// The file.
        file: String,
        /// What it is not.
        reason: &'static str,
        /// The parser's complaint.
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A layout was given as a link.
    #[error("{file} is a layout: sublayouts are not supported by hallmark intoto verify")]
    Sublayout {
        /// The file.
        file: String,
    },
    /// Nothing to trust the layout by.
    #[error("no layout key or layout identity given: the layout's signature cannot be checked")]
    NoLayoutTrust,
    /// A layout key has no valid signature.
    #[error("layout signature by key {keyid}: {source}")]
    LayoutKey {
        /// The key id.
        keyid: String,
        /// Why.
        #[source]
        source: IntotoError,
    },
    /// No keyless layout signature by a trusted identity.
    #[error("no valid layout signature by {expected}: {}", list(rejections))]
    LayoutIdentity {
        /// The identity expected.
        expected: String,
        /// The keyless signatures tried.
        rejections: Vec<Rejection>,
    },
    /// The layout has expired.
    #[error("the layout expired at {expires} (verification time {now})")]
    LayoutExpired {
        /// Its expiry.
        expires: String,
        /// The time of verification (RFC 3339).
        now: String,
    },
    /// Too few distinct functionaries signed links of a step.
    #[error("{}", threshold_text(self))]
    Threshold {
        /// The step.
        step: String,
        /// Its threshold.
        threshold: u32,
        /// How many link files name the step.
        links: usize,
        /// How many signatures on them were accepted (by the distinct signers below).
        accepted_signatures: usize,
        /// The distinct signers accepted.
        accepted: Vec<SignerId>,
        /// The signatures set aside.
        rejected: Vec<Rejection>,
    },
    /// Two accepted links of a step record different artifacts.
    #[error(
        "step '{step}': links {} (by {}) and {} (by {}) disagree on {side} artifact {artifact}",
        links[0].0, links[0].1, links[1].0, links[1].1
    )]
    Disagreement {
        /// The step.
        step: String,
        /// Materials or products.
        side: ArtifactSide,
        /// The artifact that differs.
        artifact: String,
        /// The two links (file, signer).
        links: Box<[(String, SignerId); 2]>,
    },
    /// An artifact rule failed.
    #[error("{failure}{}{}", signed_by(signers), hints.iter().map(|h| format!("; {h}")).collect::<String>())]
    Rule {
        /// The failure (item, side, rule number and text, artifacts).
        failure: Box<RuleFailure>,
        /// Who signed the item's link (empty for inspections).
        signers: Vec<SignerId>,
        /// Which earlier MATCH rules could have consumed the artifacts, and why they did not.
        hints: Vec<String>,
    },
}

fn signed_by(signers: &[SignerId]) -> String {
    if signers.is_empty() {
        String::new()
    } else {
        format!(
            " (link signed by {})",
            signers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// One step's outcome.
#[derive(Debug)]
pub struct StepReport {
    /// The step.
    pub name: String,
    /// Its threshold.
    pub threshold: u32,
    /// The accepted signatures.
    pub accepted: Vec<Acceptance>,
    /// Signatures set aside (the threshold was met without them).
    pub rejected: Vec<Rejection>,
    /// The verified link the step's rules used (its accepted links all agree with it), `None`
    /// for a step with threshold 0 and no link.
    pub link: Option<Link>,
}

/// What a successful verification found.
#[derive(Debug)]
pub struct Report {
    /// The layout's accepted signatures.
    pub layout_signers: Vec<Acceptance>,
    /// The layout's expiry.
    pub expires: String,
    /// Per step, in layout order.
    pub steps: Vec<StepReport>,
    /// The inspections whose rules held.
    pub inspections: Vec<String>,
    /// Non-fatal findings: command mismatches, links for no step.
    pub warnings: Vec<String>,
}

/// Steps verified; inspections to run.
#[derive(Debug)]
pub struct VerifiedSteps<'a> {
    layout: &'a SignedLayout,
    links: BTreeMap<String, Link>,
    report: Report,
}

/// What [`verify_steps`] checks.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The signed layout.
    pub layout: &'a SignedLayout,
    /// Who must have signed it.
    pub trust: &'a LayoutTrust,
    /// The trust roots keyless functionaries (and layout identities) name.
    pub roots: &'a TrustRoots,
    /// Candidate links, any form, any step.
    pub links: &'a [Candidate],
    /// The time of verification (Unix seconds): layout expiry, and no future log times.
    pub now: i64,
}

/// Verifies the layout, the links of every step and the steps' artifact rules (checks 1-7 of
/// the [module docs](self)).
///
/// # Errors
///
/// The first [`ChainError`].
pub fn verify_steps<'a>(input: &Input<'a>) -> Result<VerifiedSteps<'a>, ChainError> {
    let layout = &input.layout.signed;
    let layout_signers = check_layout(input)?;
    if layout.expires.is_expired_at(input.now) {
        return Err(ChainError::LayoutExpired {
            expires: layout.expires.to_string(),
            now: hallmark_sigstore::time::rfc3339(input.now)
                .unwrap_or_else(|_| input.now.to_string()),
        });
    }
    let mut warnings = Vec::new();
    let step_names: BTreeSet<&str> = layout.steps.iter().map(|s| s.name.as_str()).collect();
    for c in input.links {
        if !step_names.contains(c.step()) {
            warnings.push(format!(
                "{}: its link names step '{}', which the layout does not have; ignored",
                c.source,
                c.step()
            ));
        }
    }
    let mut reports = Vec::new();
    let mut reduced: BTreeMap<String, Link> = BTreeMap::new();
    let mut signers_of: BTreeMap<String, Vec<SignerId>> = BTreeMap::new();
    for step in &layout.steps {
        let fs = Functionaries::from_keys(layout.functionaries(step));
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        let mut links: Vec<(&Candidate, &Acceptance)> = Vec::new();
        for c in input.links.iter().filter(|c| c.step() == step.name) {
            let (ok, bad) = check_candidate(c, &fs, input.roots, input.now);
            accepted.extend(ok.into_iter().map(|a| (c, a)));
            rejected.extend(bad);
        }
        let distinct: BTreeSet<&SignerId> = accepted.iter().map(|(_, a)| &a.signer).collect();
        if distinct.len() < step.threshold as usize {
            return Err(ChainError::Threshold {
                step: step.name.clone(),
                threshold: step.threshold,
                links: input.links.iter().filter(|c| c.step() == step.name).count(),
                accepted_signatures: accepted.len(),
                accepted: distinct.into_iter().cloned().collect(),
                rejected,
            });
        }
        links.extend(accepted.iter().map(|(c, a)| (*c, a)));
        for (c, a) in &links {
            if c.link().command != step.expected_command {
                warnings.push(format!(
                    "step '{}': {} (by {}) ran {:?}, the layout expects {:?}",
                    step.name,
                    c.source,
                    a.signer,
                    c.link().command,
                    step.expected_command
                ));
            }
        }
        if let Some(((first, fa), rest)) = links.split_first() {
            for (other, oa) in rest {
                if let Some((side, artifact)) = difference(first.link(), other.link()) {
                    return Err(ChainError::Disagreement {
                        step: step.name.clone(),
                        side,
                        artifact,
                        links: Box::new([
                            (first.source.clone(), fa.signer.clone()),
                            (other.source.clone(), oa.signer.clone()),
                        ]),
                    });
                }
            }
            reduced.insert(step.name.clone(), first.link().clone());
        }
        signers_of.insert(
            step.name.clone(),
            distinct.into_iter().cloned().collect::<Vec<_>>(),
        );
        reports.push(StepReport {
            name: step.name.clone(),
            threshold: step.threshold,
            accepted: accepted.into_iter().map(|(_, a)| a).collect(),
            rejected,
            link: reduced.get(&step.name).cloned(),
        });
    }
    for step in &layout.steps {
        let signers = signers_of.remove(&step.name).unwrap_or_default();
        check_rules(
            &step.name,
            &step.expected_materials,
            &step.expected_products,
            &reduced,
            &signers,
        )?;
    }
    Ok(VerifiedSteps {
        layout: input.layout,
        links: reduced,
        report: Report {
            layout_signers,
            expires: layout.expires.to_string(),
            steps: reports,
            inspections: Vec::new(),
            warnings,
        },
    })
}

impl VerifiedSteps<'_> {
    /// The inspections the caller must run now (in order), each giving a link.
    #[must_use]
    pub fn inspections(&self) -> &[hallmark_sigstore::intoto::Inspection] {
        &self.layout.signed.inspect
    }

    /// Applies the inspections' rules over the steps' and the inspections' links
    /// (`inspection_links` by inspection name) and returns the report.
    ///
    /// # Errors
    ///
    /// [`ChainError::Rule`] for the first failing rule (or a missing inspection link).
    pub fn finish(
        mut self,
        inspection_links: BTreeMap<String, Link>,
    ) -> Result<Report, ChainError> {
        let mut all = std::mem::take(&mut self.links);
        all.extend(inspection_links);
        for i in &self.layout.signed.inspect {
            check_rules(
                &i.name,
                &i.expected_materials,
                &i.expected_products,
                &all,
                &[],
            )?;
            self.report.inspections.push(i.name.clone());
        }
        Ok(self.report)
    }
}

/// [`verify_steps`], then [`VerifiedSteps::finish`] with inspection links run beforehand.
///
/// # Errors
///
/// As both.
pub fn verify(
    input: &Input<'_>,
    inspection_links: BTreeMap<String, Link>,
) -> Result<Report, ChainError> {
    verify_steps(input)?.finish(inspection_links)
}

fn check_layout(input: &Input<'_>) -> Result<Vec<Acceptance>, ChainError> {
    let trust = input.trust;
    if trust.keys.is_empty() && trust.identities.is_empty() {
        return Err(ChainError::NoLayoutTrust);
    }
    let mut accepted = Vec::new();
    for key in &trust.keys {
        let keyid = key
            .compute_keyid()
            .map_err(|source| ChainError::LayoutKey {
                keyid: String::new(),
                source,
            })?;
        input
            .layout
            .verify_signature(&keyid, key)
            .map_err(|source| ChainError::LayoutKey {
                keyid: keyid.clone(),
                source,
            })?;
        accepted.push(Acceptance {
            source: "layout".into(),
            signer: SignerId::Key {
                keyid: keyid.clone(),
            },
            functionary: keyid,
            log_entries: Vec::new(),
            signing_times: Vec::new(),
        });
    }
    if trust.identities.is_empty() {
        return Ok(accepted);
    }
    let signed_bytes = input
        .layout
        .signed_bytes()
        .map_err(|source| ChainError::LayoutKey {
            keyid: String::new(),
            source,
        })?;
    let keyless: Vec<_> = input
        .layout
        .signatures
        .iter()
        .filter(|s| s.bundle.is_some())
        .cloned()
        .collect();
    for identity in &trust.identities {
        let fs = Functionaries {
            classic: BTreeMap::new(),
            oidc: vec![("layout-identity", identity)],
        };
        let (mut ok, bad) = (Vec::new(), Vec::new());
        let mut bad = bad;
        check_classic_signatures(
            "layout",
            &keyless,
            &signed_bytes,
            &fs,
            input.roots,
            input.now,
            &mut ok,
            &mut bad,
        );
        if ok.is_empty() {
            return Err(ChainError::LayoutIdentity {
                expected: format!("identity {} issuer {}", identity.identity, identity.issuer),
                rejections: bad,
            });
        }
        accepted.append(&mut ok);
    }
    Ok(accepted)
}

/// The first artifact on which two links differ.
fn difference(a: &Link, b: &Link) -> Option<(ArtifactSide, String)> {
    let diff = |x: &Artifacts, y: &Artifacts| {
        x.iter()
            .find(|(p, d)| y.get(*p) != Some(d))
            .map(|(p, _)| p.clone())
            .or_else(|| y.keys().find(|p| !x.contains_key(*p)).cloned())
    };
    diff(&a.materials, &b.materials)
        .map(|p| (ArtifactSide::Materials, p))
        .or_else(|| diff(&a.products, &b.products).map(|p| (ArtifactSide::Products, p)))
}

fn check_rules(
    item: &str,
    materials: &[ArtifactRule],
    products: &[ArtifactRule],
    links: &BTreeMap<String, Link>,
    signers: &[SignerId],
) -> Result<(), ChainError> {
    for (side, rules) in [
        (ArtifactSide::Materials, materials),
        (ArtifactSide::Products, products),
    ] {
        apply_rules(item, side, rules, links).map_err(|failure| {
            let hints = hints(&failure, rules, links);
            ChainError::Rule {
                failure: Box::new(failure),
                signers: signers.to_vec(),
                hints,
            }
        })?;
    }
    Ok(())
}

/// For a DISALLOW failure: which earlier MATCH rules apply to each disallowed artifact, and
/// why they did not consume it (the usual cause: an artifact changed between steps).
fn hints(
    failure: &RuleFailure,
    rules: &[ArtifactRule],
    links: &BTreeMap<String, Link>,
) -> Vec<String> {
    use hallmark_sigstore::intoto::RuleFailureReason;
    const MAX_HINTS: usize = 5;
    let RuleFailureReason::Disallowed { artifacts } = &failure.reason else {
        return Vec::new();
    };
    let Some(item) = links.get(&failure.item) else {
        return Vec::new();
    };
    let source = match failure.side {
        ArtifactSide::Materials => &item.materials,
        ArtifactSide::Products => &item.products,
    };
    let mut out = Vec::new();
    for artifact in artifacts {
        for (i, rule) in rules
            .iter()
            .enumerate()
            .take(failure.index.saturating_sub(1))
        {
            let RuleKind::Match {
                pattern,
                source_prefix,
                destination,
                destination_prefix,
                from,
            } = rule.kind()
            else {
                continue;
            };
            let rest = match source_prefix {
                Some(pre) => match artifact.strip_prefix(join(pre, "").as_str()) {
                    Some(r) => r,
                    None => continue,
                },
                None => artifact.as_str(),
            };
            if !Pattern::new(pattern).matches(rest) {
                continue;
            }
            let dst = destination_prefix
                .as_deref()
                .map_or_else(|| rest.to_owned(), |d| join(d, rest));
            let why = match links.get(from) {
                None => format!("'{from}' has no link"),
                Some(l) => {
                    let side = match destination {
                        ArtifactSide::Materials => &l.materials,
                        ArtifactSide::Products => &l.products,
                    };
                    match (source.get(artifact), side.get(&dst)) {
                        (_, None) => format!("{dst} is not among the {destination} of '{from}'"),
                        (Some(here), Some(there)) => format!(
                            "its digest {} differs from {} in the {destination} of '{from}'",
                            digest_text(here),
                            digest_text(there)
                        ),
                        (None, Some(_)) => continue,
                    }
                }
            };
            out.push(format!(
                "{artifact}: rule #{} '{rule}' did not match it: {why}",
                i + 1
            ));
            if out.len() >= MAX_HINTS {
                return out;
            }
        }
    }
    out
}

fn digest_text(d: &hallmark_sigstore::intoto::DigestSet) -> String {
    d.iter()
        .map(|(alg, v)| format!("{alg}:{}", v.get(..16).unwrap_or(v)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests;
