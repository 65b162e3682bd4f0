//! Artifact rules: the grammar of a layout's `expected_materials` / `expected_products` and the
//! pure engine that applies them, with in-toto's queue semantics
//! ([in-toto spec v1.0 §4.3.3](https://github.com/in-toto/docs/blob/master/in-toto-spec.md),
//! in-toto-python's `verify_item_rules`).
//!
//! Grammar (keywords case-insensitive; a rule is a JSON array of strings):
//!
//! ```text
//! MATCH <pattern> [IN <source-path-prefix>] WITH (MATERIALS|PRODUCTS) [IN <destination-path-prefix>] FROM <step>
//! CREATE <pattern> | DELETE <pattern> | MODIFY <pattern>
//! ALLOW <pattern> | DISALLOW <pattern> | REQUIRE <file>
//! ```
//!
//! Semantics: the queue starts as every path of the item's materials (for `expected_materials`)
//! or products. Rules run in order; each consumes the queued paths it applies to:
//!
//! - `ALLOW p`: every queued path matching `p`.
//! - `CREATE p` / `DELETE p` / `MODIFY p`: matching paths that are products but not materials /
//!   materials but not products / both, with different digests (always computed from the item's
//!   own materials and products, whichever side is queued).
//! - `MATCH p [IN s] WITH X [IN d] FROM step`: queued paths under prefix `s` whose remainder
//!   matches `p` and whose digests equal those of `d/<remainder>` in `step`'s materials or
//!   products. When `step` has no link, nothing is consumed.
//! - `DISALLOW p` fails if any queued path matches `p`; `REQUIRE f` fails unless the literal path
//!   `f` is still queued. Neither consumes.
//!
//! Patterns are Python `fnmatch` patterns: `*` (any run of characters, `/` included), `?` (one
//! character), `[seq]`, `[!seq]`; case-sensitive, whole path. A `[` without a closing `]` is
//! literal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::IntotoError;
use super::link::{Artifacts, Link};

/// Which artifacts of an item: its materials or its products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArtifactSide {
    /// Artifacts before the step ran.
    Materials,
    /// Artifacts after it ran.
    Products,
}

impl fmt::Display for ArtifactSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArtifactSide::Materials => "materials",
            ArtifactSide::Products => "products",
        })
    }
}

/// What a rule says, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleKind {
    /// `MATCH <pattern> [IN <source prefix>] WITH <side> [IN <destination prefix>] FROM <step>`.
    Match {
        /// The pattern, applied to paths with the source prefix removed.
        pattern: String,
        /// The source prefix (`None` when absent or empty).
        source_prefix: Option<String>,
        /// The destination step's materials or products.
        destination: ArtifactSide,
        /// The destination prefix (`None` when absent or empty).
        destination_prefix: Option<String>,
        /// The destination step or inspection.
        from: String,
    },
    /// `CREATE <pattern>`.
    Create(String),
    /// `DELETE <pattern>`.
    Delete(String),
    /// `MODIFY <pattern>`.
    Modify(String),
    /// `ALLOW <pattern>`.
    Allow(String),
    /// `DISALLOW <pattern>`.
    Disallow(String),
    /// `REQUIRE <file>` (a literal path, not a pattern).
    Require(String),
}

/// One artifact rule: its parsed meaning and the tokens as written (kept so a layout
/// re-serializes byte for byte, which its signature needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRule {
    kind: RuleKind,
    tokens: Vec<String>,
}

fn rule_error(tokens: &[String], reason: &'static str) -> IntotoError {
    IntotoError::Rule {
        rule: display_tokens(tokens),
        reason,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl ArtifactRule {
    /// Parses a rule from its tokens (the JSON array form).
    ///
    /// # Errors
    ///
    /// [`IntotoError::Rule`] naming the rule and what is wrong with it.
    pub fn from_tokens(tokens: Vec<String>) -> Result<Self, IntotoError> {
        let lower: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();
        let kw: Vec<&str> = lower.iter().map(String::as_str).collect();
        if tokens.len() < 2 {
            return Err(rule_error(
                &tokens,
                "a rule is a keyword and a pattern at least",
            ));
        }
        let pattern = tokens[1].clone();
        let generic = |make: fn(String) -> RuleKind| {
            if tokens.len() == 2 {
                Ok(make(pattern.clone()))
            } else {
                Err(rule_error(
                    &tokens,
                    "CREATE, DELETE, MODIFY, ALLOW, DISALLOW and REQUIRE take exactly one pattern",
                ))
            }
        };
        let kind = match kw[0] {
            "create" => generic(RuleKind::Create)?,
            "delete" => generic(RuleKind::Delete)?,
            "modify" => generic(RuleKind::Modify)?,
            "allow" => generic(RuleKind::Allow)?,
            "disallow" => generic(RuleKind::Disallow)?,
            "require" => generic(RuleKind::Require)?,
            "match" => {
                let (src, side, dst, from) = match kw[2..] {
                    ["in", _, "with", _, "in", _, "from", _] => (3, 5, Some(7), 9),
                    ["in", _, "with", _, "from", _] => (3, 5, None, 7),
                    ["with", _, "in", _, "from", _] => (0, 3, Some(5), 7),
                    ["with", _, "from", _] => (0, 3, None, 5),
                    _ => {
                        return Err(rule_error(
                            &tokens,
                            "MATCH rules read MATCH <pattern> [IN <prefix>] WITH (MATERIALS|PRODUCTS) [IN <prefix>] FROM <step>",
                        ));
                    }
                };
                let destination = match kw[side] {
                    "materials" => ArtifactSide::Materials,
                    "products" => ArtifactSide::Products,
                    _ => {
                        return Err(rule_error(
                            &tokens,
                            "MATCH ... WITH takes MATERIALS or PRODUCTS",
                        ));
                    }
                };
                RuleKind::Match {
                    pattern,
                    source_prefix: if src == 0 {
                        None
                    } else {
                        non_empty(&tokens[src])
                    },
                    destination,
                    destination_prefix: dst.and_then(|i| non_empty(&tokens[i])),
                    from: tokens[from].clone(),
                }
            }
            _ => {
                return Err(rule_error(
                    &tokens,
                    "a rule starts with MATCH, CREATE, DELETE, MODIFY, ALLOW, DISALLOW or REQUIRE",
                ));
            }
        };
        Ok(ArtifactRule { kind, tokens })
    }

    /// A rule from its meaning, written with upper-case keywords.
    #[must_use]
    pub fn new(kind: RuleKind) -> Self {
        let t = |s: &str| s.to_owned();
        let tokens = match &kind {
            RuleKind::Create(p) => vec![t("CREATE"), p.clone()],
            RuleKind::Delete(p) => vec![t("DELETE"), p.clone()],
            RuleKind::Modify(p) => vec![t("MODIFY"), p.clone()],
            RuleKind::Allow(p) => vec![t("ALLOW"), p.clone()],
            RuleKind::Disallow(p) => vec![t("DISALLOW"), p.clone()],
            RuleKind::Require(p) => vec![t("REQUIRE"), p.clone()],
            RuleKind::Match {
                pattern,
                source_prefix,
                destination,
                destination_prefix,
                from,
            } => {
                let mut v = vec![t("MATCH"), pattern.clone()];
                if let Some(s) = source_prefix {
                    v.extend([t("IN"), s.clone()]);
                }
                v.extend([t("WITH"), destination.to_string().to_uppercase()]);
                if let Some(d) = destination_prefix {
                    v.extend([t("IN"), d.clone()]);
                }
                v.extend([t("FROM"), from.clone()]);
                v
            }
        };
        ArtifactRule { kind, tokens }
    }

    /// The rule's meaning.
    #[must_use]
    pub fn kind(&self) -> &RuleKind {
        &self.kind
    }

    /// The tokens as written.
    #[must_use]
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

fn display_tokens(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| {
            if t.is_empty() || t.contains(char::is_whitespace) || t.contains(['"', '\'']) {
                format!("{t:?}")
            } else {
                t.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for ArtifactRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_tokens(&self.tokens))
    }
}

/// Splits a rule written as one line, as in-toto-python's `shlex.split` does for the forms a
/// rule needs: whitespace separates, `'...'` and `"..."` quote, `\` escapes outside single
/// quotes.
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => cur.push(c),
                            c => {
                                cur.push('\\');
                                cur.push(c);
                            }
                        },
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

impl FromStr for ArtifactRule {
    type Err = IntotoError;

    /// Parses a rule written as one line (`MATCH * WITH PRODUCTS FROM build`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let tokens = split_words(s).ok_or_else(|| IntotoError::Rule {
            rule: s.to_owned(),
            reason: "unclosed quote or trailing backslash",
        })?;
        ArtifactRule::from_tokens(tokens)
    }
}

impl Serialize for ArtifactRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.tokens.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ArtifactRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tokens = Vec::<String>::deserialize(d)?;
        ArtifactRule::from_tokens(tokens).map_err(serde::de::Error::custom)
    }
}

/// A compiled `fnmatch` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Token>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Pattern {
    /// Compiles a pattern (every string is a pattern; a lone `[` is literal).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        let p: Vec<char> = pattern.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < p.len() {
            let c = p[i];
            i += 1;
            match c {
                '*' => {
                    if out.last() != Some(&Token::Star) {
                        out.push(Token::Star);
                    }
                }
                '?' => out.push(Token::Any),
                '[' => {
                    let mut j = i;
                    if p.get(j) == Some(&'!') {
                        j += 1;
                    }
                    if p.get(j) == Some(&']') {
                        j += 1;
                    }
                    while j < p.len() && p[j] != ']' {
                        j += 1;
                    }
                    if j >= p.len() {
                        out.push(Token::Char('['));
                        continue;
                    }
                    let mut stuff = &p[i..j];
                    i = j + 1;
                    let negated = stuff.first() == Some(&'!');
                    if negated {
                        stuff = &stuff[1..];
                    }
                    let mut ranges = Vec::new();
                    let mut k = 0;
                    while k < stuff.len() {
                        if k + 2 < stuff.len() && stuff[k + 1] == '-' {
                            ranges.push((stuff[k], stuff[k + 2]));
                            k += 3;
                        } else {
                            ranges.push((stuff[k], stuff[k]));
                            k += 1;
                        }
                    }
                    out.push(Token::Class { negated, ranges });
                }
                c => out.push(Token::Char(c)),
            }
        }
        Pattern(out)
    }

    /// Whether the whole of `name` matches.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        let p = &self.0;
        let one = |t: &Token, c: char| match t {
            Token::Char(x) => *x == c,
            Token::Any => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
            Token::Star => false,
        };
        // Linear backtracking over the last star (each star only ever extends).
        let (mut pi, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            if pi < p.len() && p[pi] == Token::Star {
                star = Some((pi, si));
                pi += 1;
            } else if pi < p.len() && one(&p[pi], s[si]) {
                pi += 1;
                si += 1;
            } else if let Some((sp, ss)) = star {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == Token::Star {
            pi += 1;
        }
        pi == p.len()
    }
}

/// Where the engine finds each step's or inspection's artifacts (its one link, after
/// signature and threshold checks).
pub trait LinkSet {
    /// The link of step or inspection `name`, if there is one.
    fn link(&self, name: &str) -> Option<&Link>;
}

impl LinkSet for BTreeMap<String, Link> {
    fn link(&self, name: &str) -> Option<&Link> {
        self.get(name)
    }
}

impl LinkSet for HashMap<String, Link> {
    fn link(&self, name: &str) -> Option<&Link> {
        self.get(name)
    }
}

/// Why an item's artifacts do not satisfy its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleFailureReason {
    /// A `DISALLOW` rule found these artifacts still queued.
    Disallowed {
        /// The artifacts, sorted.
        artifacts: Vec<String>,
    },
    /// A `REQUIRE` rule did not find this artifact in the queue.
    Required {
        /// The required path.
        artifact: String,
    },
    /// The item whose rules are checked has no link.
    MissingLink,
}

/// A failed artifact rule, naming the step (or inspection), the rule and the artifacts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{item}: expected_{side} rule #{index} '{rule}': {reason}")]
pub struct RuleFailure {
    /// The step or inspection.
    pub item: String,
    /// Whose rules: `expected_materials` or `expected_products`.
    pub side: ArtifactSide,
    /// The rule's position in its list, from 1 (0 for [`RuleFailureReason::MissingLink`]).
    pub index: usize,
    /// The rule as written.
    pub rule: String,
    /// What failed.
    pub reason: RuleFailureReason,
}

impl fmt::Display for RuleFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleFailureReason::Disallowed { artifacts } => {
                write!(f, "disallowed artifacts: {}", artifacts.join(", "))
            }
            RuleFailureReason::Required { artifact } => {
                write!(
                    f,
                    "required artifact {artifact} is not among the unconsumed artifacts"
                )
            }
            RuleFailureReason::MissingLink => f.write_str("no link for this item"),
        }
    }
}

/// `os.path.join(prefix, path)` for `/`-separated paths.
pub fn join(prefix: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}/{path}")
    }
}

/// Applies `rules` to the materials or products (`side`) of item `item`, in order, with
/// in-toto's queue semantics (see the module docs). Returns the artifacts no rule consumed.
///
/// # Errors
///
/// [`RuleFailure`] for the first `DISALLOW` or `REQUIRE` rule that fails, or when `item` has
/// no link in `links`.
pub fn apply_rules(
    item: &str,
    side: ArtifactSide,
    rules: &[ArtifactRule],
    links: &impl LinkSet,
) -> Result<BTreeSet<String>, RuleFailure> {
    let fail = |index: usize, rule: String, reason| RuleFailure {
        item: item.to_owned(),
        side,
        index,
        rule,
        reason,
    };
    let link = links
        .link(item)
        .ok_or_else(|| fail(0, String::new(), RuleFailureReason::MissingLink))?;
    let source: &Artifacts = match side {
        ArtifactSide::Materials => &link.materials,
        ArtifactSide::Products => &link.products,
    };
    let mut queue: BTreeSet<&str> = source.keys().map(String::as_str).collect();
    for (i, rule) in rules.iter().enumerate() {
        let consumed = consume(&rule.kind, &queue, link, source, links)
            .map_err(|reason| fail(i + 1, rule.to_string(), reason))?;
        for a in &consumed {
            queue.remove(a.as_str());
        }
    }
    Ok(queue.into_iter().map(str::to_owned).collect())
}

/// The queued paths one rule consumes, or why it fails. `item` is the link whose rules run
/// (CREATE, DELETE and MODIFY compare its materials and products); `source` is the queued
/// side's artifacts (MATCH compares their digests).
fn consume(
    kind: &RuleKind,
    queue: &BTreeSet<&str>,
    item: &Link,
    source: &Artifacts,
    links: &impl LinkSet,
) -> Result<Vec<String>, RuleFailureReason> {
    let (materials, products) = (&item.materials, &item.products);
    let filter = |pattern: &str| -> Vec<String> {
        let pat = Pattern::new(pattern);
        queue
            .iter()
            .filter(|p| pat.matches(p))
            .map(|p| (*p).to_owned())
            .collect()
    };
    Ok(match kind {
        RuleKind::Allow(p) => filter(p),
        RuleKind::Create(p) => filter(p)
            .into_iter()
            .filter(|a| products.contains_key(a) && !materials.contains_key(a))
            .collect(),
        RuleKind::Delete(p) => filter(p)
            .into_iter()
            .filter(|a| materials.contains_key(a) && !products.contains_key(a))
            .collect(),
        RuleKind::Modify(p) => filter(p)
            .into_iter()
            .filter(|a| matches!((materials.get(a), products.get(a)), (Some(m), Some(p)) if m != p))
            .collect(),
        RuleKind::Disallow(p) => {
            let found = filter(p);
            if !found.is_empty() {
                return Err(RuleFailureReason::Disallowed { artifacts: found });
            }
            Vec::new()
        }
        RuleKind::Require(f) => {
            if !queue.contains(f.as_str()) {
                return Err(RuleFailureReason::Required {
                    artifact: f.clone(),
                });
            }
            Vec::new()
        }
        RuleKind::Match {
            pattern,
            source_prefix,
            destination,
            destination_prefix,
            from,
        } => {
            let Some(dest) = links.link(from) else {
                return Ok(Vec::new());
            };
            let dest_artifacts = match destination {
                ArtifactSide::Materials => &dest.materials,
                ArtifactSide::Products => &dest.products,
            };
            let pat = Pattern::new(pattern);
            let normalized = source_prefix.as_deref().map(|s| join(s, ""));
            queue
                .iter()
                .filter_map(|path| match &normalized {
                    Some(pre) => path.strip_prefix(pre.as_str()),
                    None => Some(*path),
                })
                .filter(|rest| pat.matches(rest))
                .filter_map(|rest| {
                    let src = match source_prefix {
                        Some(s) => join(s, rest),
                        None => rest.to_owned(),
                    };
                    let dst = match destination_prefix {
                        Some(d) => join(d, rest),
                        None => rest.to_owned(),
                    };
                    let same = matches!(
                        (source.get(&src), dest_artifacts.get(&dst)),
                        (Some(a), Some(b)) if a == b
                    );
                    same.then_some(src)
                })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests;
