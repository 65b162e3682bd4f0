//! Meta-issuer URL patterns, matched as Fulcio matches them (`pkg/config`'s `MetaRegex`).

/// A meta-issuer URL pattern: `*` matches one or more of `[-_a-zA-Z0-9]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaPattern {
    text: String,
}

impl MetaPattern {
    /// A pattern from its text (validated by the caller).
    pub(super) fn new(text: String) -> Self {
        Self { text }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `issuer` matches the whole pattern (Fulcio's `MetaRegex` semantics).
    pub fn matches(&self, issuer: &str) -> bool {
        wildcard_match(self.text.as_bytes(), issuer.as_bytes())
    }
}

fn star_class(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Anchored match where each `*` in `pattern` is `[-_a-zA-Z0-9]+`. Dynamic programming over
/// (pattern position, input position): O(|pattern| * |input|), no backtracking blow-up.
fn wildcard_match(pattern: &[u8], input: &[u8]) -> bool {
    // reach[j]: the first j pattern bytes can match the input consumed so far. For a `*` at
    // j-1, reach[j] means "inside or at the end of that star's run, having consumed >= 1 byte".
    let m = pattern.len();
    let mut reach = vec![false; m + 1];
    reach[0] = true;
    let mut next = vec![false; m + 1];
    for &c in input {
        next[0] = false;
        for j in 1..=m {
            next[j] = match pattern[j - 1] {
                b'*' => star_class(c) && (reach[j - 1] || reach[j]),
                p => p == c && reach[j - 1],
            };
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> MetaPattern {
        MetaPattern { text: p.to_owned() }
    }

    #[test]
    fn meta_patterns_match_like_fulcio() {
        let eks = pat("https://oidc.eks.*.amazonaws.com/id/*");
        assert!(eks.matches(
            "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB"
        ));
        assert!(!eks.matches("https://oidc.eks.us-west-2.amazonaws.com/id/B02C/extra"));
        assert!(!eks.matches("https://oidc.eks.us.west.amazonaws.com/id/B02C"));
        assert!(!eks.matches("https://oidc.eks..amazonaws.com/id/B02C"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com/id/"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com.evil.example/id/a"));
        assert!(!eks.matches("http://localhost:3000?https://oidc.eks.x.amazonaws.com/id/a"));
        assert!(!eks.matches("https://oidc.eks.x.amazonaws.com/id/a?x=1"));

        let gke = pat("https://container.googleapis.com/v1/projects/*/locations/*/clusters/*");
        assert!(gke.matches(
            "https://container.googleapis.com/v1/projects/mattmoor-credit/locations/us-west1-b/clusters/tenant-cluster"
        ));
        assert!(
            !gke.matches("https://container.googleapis.com/v1/projects/p/locations/l/clusters/c/x")
        );
        assert!(
            !gke.matches("https://container.googleapis.com/v1/projects/p/locations/l/clusters/")
        );

        // A star next to literal class characters still matches (DP, not greedy).
        let mixed = pat("https://*-prod.example.com/*_x");
        assert!(mixed.matches("https://eu-west-prod.example.com/a_b_x"));
        assert!(!mixed.matches("https://-prod.example.com/a_x"));
        assert!(!mixed.matches("https://eu-prod.example.com/_x"));
    }
}
