//! Path strings as in-toto-python handles them: `posixpath.normpath`, pathspec's
//! normalization before matching, and the key an artifact is recorded under.

/// Python's `posixpath.normpath`: drops empty and `.` components, resolves `..` against a
/// preceding component (without looking at the filesystem), keeps leading `..` of a relative
/// path, keeps one leading `/` (two when the path starts with exactly `//`, as POSIX allows).
/// The empty path is `.`.
#[must_use]
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if comps.last().is_some_and(|c| *c != "..") {
                    comps.pop();
                } else if slashes == 0 {
                    comps.push("..");
                }
            }
            c => comps.push(c),
        }
    }
    let mut out = "/".repeat(slashes);
    out.push_str(&comps.join("/"));
    if out.is_empty() { ".".into() } else { out }
}

/// What pathspec matches a path as: without one leading `/`, else without one leading `./`.
#[must_use]
pub fn strip_for_match(path: &str) -> &str {
    path.strip_prefix('/')
        .or_else(|| path.strip_prefix("./"))
        .unwrap_or(path)
}

/// `os.path.join(base, name)` for a relative `name`.
#[must_use]
pub fn join(base: &str, name: &str) -> String {
    if base.is_empty() || base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// Outputs of Python 3.11's `posixpath.normpath` for these inputs.
    #[test]
    fn like_python() {
        let cases = [
            ("", "."),
            (".", "."),
            ("./", "."),
            ("./a", "a"),
            ("a/./b/", "a/b"),
            ("a//b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("/..", "/"),
            ("/../a", "/a"),
            ("//a", "//a"),
            ("///a", "/a"),
            ("a/..", "."),
            ("/", "/"),
            ("..", ".."),
        ];
        for (input, want) in cases {
            assert_eq!(normpath(input), want, "{input:?}");
        }
        assert_eq!(strip_for_match("/x/y"), "x/y");
        assert_eq!(strip_for_match("./x"), "x");
        assert_eq!(strip_for_match("x"), "x");
        assert_eq!(join(".", "a"), "./a");
        assert_eq!(join("d/", "a"), "d/a");
    }

    proptest! {
        /// normpath is idempotent, never holds `.` or empty components, and keeps whether
        /// the path is absolute.
        #[test]
        fn normpath_properties(p in "[a./]{0,16}") {
            let n = normpath(&p);
            prop_assert_eq!(normpath(&n), n.clone());
            prop_assert!(!n.is_empty());
            prop_assert_eq!(n.starts_with('/'), p.starts_with('/'));
            if n != "." {
                let body = n.trim_start_matches('/');
                prop_assert!(body.is_empty() || body.split('/').all(|c| !c.is_empty() && c != "."));
            }
            // `..` only leads, and only in relative paths.
            let comps: Vec<&str> = n.trim_start_matches('/').split('/').collect();
            let first_other = comps.iter().position(|c| *c != "..").unwrap_or(comps.len());
            prop_assert!(comps[first_other..].iter().all(|c| *c != ".."));
            if n.starts_with('/') {
                prop_assert!(!comps.contains(&".."));
            }
        }
    }
}
