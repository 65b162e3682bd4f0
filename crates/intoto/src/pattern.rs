//! Exclude patterns: gitignore-style ("gitwildmatch") patterns with the semantics of Python's
//! `pathspec` 1.x `GitIgnoreSpec`, which in-toto-python 3.1.0 compiles its `--exclude`
//! patterns with.
//!
//! Each pattern is translated to a regular expression over a normalized relative path
//! (`a/b/c`, no leading `/` or `./`), as pathspec does:
//!
//! - a pattern without a `/` (other than a trailing one) matches at any depth
//!   (`*.pyc` = `^(?:.+/)?[^/]*\.pyc(/|$)`), one with a `/` is anchored at the start;
//! - a match also covers everything below the matched path (`(/|$)`), so excluding a
//!   directory's name excludes its files;
//! - a trailing `/` matches only below a directory (`build/` excludes `build/x`, not a file
//!   named `build`);
//! - `**` spans any number of directories, `*` and `?` stay within one name, `[...]` is a
//!   character class (`[!...]` negated), `\` escapes;
//! - `!` negates, blank patterns and `#` comments do nothing, trailing spaces are dropped
//!   unless escaped; an unterminated `[` makes the pattern a no-op (as pathspec), a trailing
//!   lone `\` is an error.
//!
//! Precedence (pathspec's default backend): the last pattern matching the path itself wins
//! over any pattern matching only as a parent directory (`dir/` forms); among those, the last
//! one wins.

use regex::Regex;

use crate::RecordError;

/// One compiled pattern.
#[derive(Clone, Debug)]
struct Compiled {
    regex: Regex,
    /// `false` for a `!` pattern.
    include: bool,
}

/// The name of the capture group marking a match through a directory separator.
const DIR_MARK: &str = "ps_d";

/// A set of exclude patterns.
#[derive(Clone, Debug, Default)]
pub struct ExcludeSet {
    patterns: Vec<Compiled>,
    sources: Vec<String>,
}

impl ExcludeSet {
    /// in-toto-python's default exclude patterns (`settings.ARTIFACT_EXCLUDE_PATTERNS`), used
    /// when no pattern is given.
    pub const IN_TOTO_DEFAULTS: [&'static str; 4] = ["*.link*", ".git", "*.pyc", "*~"];

    /// Compiles `patterns` (in order).
    ///
    /// # Errors
    ///
    /// [`RecordError::Pattern`] naming the pattern that is invalid.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, RecordError> {
        let mut set = ExcludeSet::default();
        for p in patterns {
            let p = p.as_ref();
            if let Some((regex, include)) = pattern_to_regex(p)? {
                let regex = Regex::new(&regex).map_err(|source| RecordError::Pattern {
                    pattern: p.to_owned(),
                    reason: "it does not compile (a character class such as [z-a]?)",
                    source: Some(Box::new(source)),
                })?;
                set.patterns.push(Compiled { regex, include });
            }
            set.sources.push(p.to_owned());
        }
        Ok(set)
    }

    /// in-toto-python's defaults ([`Self::IN_TOTO_DEFAULTS`]).
    #[must_use]
    pub fn in_toto_defaults() -> Self {
        // The defaults are fixed, valid patterns: compiling them cannot fail.
        Self::new(&Self::IN_TOTO_DEFAULTS).unwrap_or_default()
    }

    /// The patterns as given.
    #[must_use]
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether `path` (as in-toto passes it: `normpath`'d, relative or absolute) is excluded.
    #[must_use]
    pub fn is_excluded(&self, path: &str) -> bool {
        let file = crate::path::strip_for_match(path);
        // Scan from the last pattern: the first match of the path itself decides; a match
        // only through a directory marker decides unless such a match comes earlier.
        let mut result: Option<bool> = None;
        for p in self.patterns.iter().rev() {
            // Most paths match no pattern: the plain test is cheaper than capturing.
            if !p.regex.is_match(file) {
                continue;
            }
            let Some(caps) = p.regex.captures(file) else {
                continue;
            };
            let through_dir = caps.name(DIR_MARK).is_some();
            if !through_dir {
                return p.include;
            }
            if result.is_none() {
                result = Some(p.include);
            }
        }
        result.unwrap_or(false)
    }
}

/// Translates one pattern into a regular expression and whether it excludes (`true`) or
/// re-includes (`false`); `None` for a pattern that does nothing.
fn pattern_to_regex(pattern: &str) -> Result<Option<(String, bool)>, RecordError> {
    let invalid = |reason: &'static str| RecordError::Pattern {
        pattern: pattern.to_owned(),
        reason,
        source: None,
    };
    // Trailing whitespace goes unless escaped (Python's str.rstrip: any whitespace).
    let text = if pattern.ends_with("\\ ") {
        pattern
    } else {
        pattern.trim_end()
    };
    if text.is_empty() || text.starts_with('#') || text == "/" {
        return Ok(None);
    }
    let (include, text) = match text.strip_prefix('!') {
        Some(rest) => (false, rest),
        None => (true, text),
    };
    let mut segs: Vec<&str> = text.split('/').collect();
    let is_dir = segs.last().is_some_and(|s| s.is_empty());
    // Normalize the segments.
    if segs.first().is_some_and(|s| s.is_empty()) {
        segs.remove(0);
    } else if (segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty())) && segs[0] != "**" {
        segs.insert(0, "**");
    }
    if segs.is_empty() {
        return Err(invalid("it normalizes to nothing"));
    }
    if let Some(last) = segs.last_mut()
        && last.is_empty()
    {
        *last = "**";
    }
    segs.dedup_by(|b, a| *a == "**" && *b == "**");
    let dir_mark = format!("(?P<{DIR_MARK}>/)");
    let special = match segs.as_slice() {
        ["**"] => Some(if is_dir { dir_mark.clone() } else { ".".into() }),
        ["**", "*"] => Some(".".into()),
        ["**", "*", "**"] => Some(if is_dir { dir_mark.clone() } else { "/".into() }),
        _ => None,
    };
    if let Some(regex) = special {
        return Ok(Some((regex, include)));
    }
    let mut out = String::new();
    let mut need_slash = false;
    let end = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        if *seg == "**" {
            if i == 0 {
                out.push_str("^(?:.+/)?");
            } else if i < end {
                out.push_str("(?:/.+)?");
                need_slash = true;
            } else if is_dir {
                out.push_str(&dir_mark);
            } else {
                out.push('/');
            }
        } else {
            if i == 0 {
                out.push('^');
            }
            if need_slash {
                out.push('/');
            }
            if *seg == "*" {
                out.push_str("[^/]+");
            } else {
                match translate_glob(seg) {
                    Ok(r) => out.push_str(&r),
                    Err(GlobError::Range) => return Ok(None),
                    Err(GlobError::TrailingEscape) => {
                        return Err(invalid("it ends with an escape character (\\)"));
                    }
                }
            }
            if i == end {
                out.push_str(&format!("(?:{dir_mark}|$)"));
            }
            need_slash = true;
        }
    }
    Ok(Some((out, include)))
}

enum GlobError {
    /// An unterminated `[`: pathspec drops the pattern.
    Range,
    /// A `\` with nothing after it.
    TrailingEscape,
}

/// Translates one path segment's glob into a regular expression.
fn translate_glob(seg: &str) -> Result<String, GlobError> {
    let chars: Vec<char> = seg.chars().collect();
    let mut out = String::new();
    let mut escape = false;
    let mut i = 0;
    let end = chars.len();
    while i < end {
        let c = chars[i];
        i += 1;
        if escape {
            escape = false;
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        } else if c == '\\' {
            escape = true;
        } else if c == '*' {
            out.push_str("[^/]*");
        } else if c == '?' {
            out.push_str("[^/]");
        } else if c == '[' {
            let mut j = i;
            if j < end && (chars[j] == '!' || chars[j] == '^') {
                j += 1;
            }
            if j < end && chars[j] == ']' {
                j += 1;
            }
            while j < end && chars[j] != ']' {
                j += 1;
            }
            if j >= end {
                return Err(GlobError::Range);
            }
            out.push('[');
            if chars[i] == '!' || chars[i] == '^' {
                out.push('^');
                i += 1;
            }
            // The class body as Python's `re` reads it: every character literal except `-`
            // ranges (a backslash is doubled by pathspec, so it is literal too). Rust's
            // classes also give meaning to `[`, `&&`, `--` and `~~`: escape them.
            for &k in &chars[i..j] {
                match k {
                    '\\' | '[' | ']' | '^' | '&' | '~' => {
                        out.push('\\');
                        out.push(k);
                    }
                    _ => out.push(k),
                }
            }
            out.push(']');
            i = j + 1;
        } else {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    if escape {
        return Err(GlobError::TrailingEscape);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn set(p: &[&str]) -> ExcludeSet {
        ExcludeSet::new(p).unwrap()
    }

    /// Regular expressions as pathspec 1.1.1 writes them
    /// (`GitIgnoreSpecPattern.pattern_to_regex(p)`), checked by hand in the test venv.
    #[test]
    fn translations() {
        let cases = [
            ("*.pyc", r"^(?:.+/)?[^/]*\.pyc(?:(?P<ps_d>/)|$)"),
            (".git", r"^(?:.+/)?\.git(?:(?P<ps_d>/)|$)"),
            ("build/", r"^(?:.+/)?build(?P<ps_d>/)"),
            ("/a/b", r"^a/b(?:(?P<ps_d>/)|$)"),
            ("a/**/b", r"^a(?:/.+)?/b(?:(?P<ps_d>/)|$)"),
            ("**", "."),
            ("*", "."),
            ("**/", "(?P<ps_d>/)"),
        ];
        for (p, want) in cases {
            assert_eq!(pattern_to_regex(p).unwrap().unwrap().0, want, "{p}");
        }
        assert!(pattern_to_regex("# comment").unwrap().is_none());
        assert!(pattern_to_regex("a[b").unwrap().is_none());
        assert!(pattern_to_regex("a\\").is_err());
        assert!(pattern_to_regex("!").is_err());
        assert!(ExcludeSet::new(&["[z-a]"]).is_err());
    }

    #[test]
    fn matching() {
        let d = ExcludeSet::in_toto_defaults();
        assert!(d.is_excluded("x/y.link"));
        assert!(d.is_excluded("step.abcd1234.link-unfinished"));
        assert!(d.is_excluded(".git"));
        assert!(d.is_excluded("./.git/config"));
        assert!(d.is_excluded("a/b.pyc"));
        assert!(d.is_excluded("notes~"));
        assert!(!d.is_excluded("src/main.rs"));
        let s = set(&["build/", "/top.txt", "a/**/z"]);
        assert!(s.is_excluded("build/x"));
        assert!(!s.is_excluded("build"));
        assert!(s.is_excluded("sub/build/x"));
        assert!(s.is_excluded("top.txt"));
        assert!(!s.is_excluded("sub/top.txt"));
        assert!(s.is_excluded("a/z") && s.is_excluded("a/b/c/z"));
        // Negation: the last match of the path itself wins.
        let n = set(&["*.txt", "!keep.txt"]);
        assert!(n.is_excluded("a.txt"));
        assert!(!n.is_excluded("keep.txt"));
        // A directory-only match loses to a match of the path itself.
        let m = set(&["!x", "dir/"]);
        assert!(!m.is_excluded("dir/x"));
        assert!(set(&["[!a]b"]).is_excluded("cb") && !set(&["[!a]b"]).is_excluded("ab"));
        assert!(set(&["[[]x"]).is_excluded("[x"));
        assert!(set(&["\\*"]).is_excluded("*") && !set(&["\\*"]).is_excluded("a"));
    }

    proptest! {
        /// Any pattern compiles or is refused with a message; none panics.
        #[test]
        fn never_panics(p in "[a-z*?!\\[\\]/\\\\#. ^&~-]{0,12}", path in "[a-z./]{0,12}") {
            if let Ok(s) = ExcludeSet::new(&[p.as_str()]) {
                let _ = s.is_excluded(&path);
            }
        }

        /// A literal name (no glob characters) excludes exactly itself and what is below it,
        /// at any depth.
        #[test]
        fn literal_names(name in "[a-z0-9_.]{1,8}", parent in "[a-z]{1,5}", child in "[a-z]{1,5}") {
            prop_assume!(name != "." && name != "..");
            let s = ExcludeSet::new(&[name.as_str()]).unwrap();
            prop_assert!(s.is_excluded(&name));
            let (below, inside) = (format!("{parent}/{name}"), format!("{name}/{child}"));
            let (longer, prefixed) = (format!("{name}x"), format!("x{name}"));
            prop_assert!(s.is_excluded(&below));
            prop_assert!(s.is_excluded(&inside));
            prop_assert!(!s.is_excluded(&longer));
            prop_assert!(!s.is_excluded(&prefixed));
        }

        /// `*.ext` excludes exactly the paths whose last component ends with `.ext` (or lie
        /// below such a directory).
        #[test]
        fn star_suffix(ext in "[a-z]{1,4}", path in prop::collection::vec("[a-z.]{1,6}", 1..4)) {
            let s = ExcludeSet::new(&[format!("*.{ext}")]).unwrap();
            let joined = path.join("/");
            let suffix = format!(".{ext}");
            let want = path.iter().any(|c| c.ends_with(&suffix));
            prop_assert_eq!(s.is_excluded(&joined), want);
        }
    }
}
