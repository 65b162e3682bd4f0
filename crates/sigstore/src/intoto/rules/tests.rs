//! Rule grammar and engine tests. The single-rule tables restate the cases of in-toto-python's
//! `tests/test_verifylib.py` (`TestVerifyRule`, `TestVerifyMatchRule`, `TestVerifyItemRules`) as
//! data for this engine; the supply chain is the in-toto spec's running example (write-code,
//! package, untar).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

const SHA_A: &str = "d65165279105ca6773180500688df4bdc69a2c7b771752f0a46ef120b7fd8ec3";
const SHA_B: &str = "155c693a6b7481f48626ebfc545f05236df679f0099225d6d0bc472e6dd21155";

fn arts(items: &[(&str, &str)]) -> Artifacts {
    items
        .iter()
        .map(|(p, h)| {
            (
                (*p).to_owned(),
                BTreeMap::from([("sha256".to_owned(), (*h).to_owned())]),
            )
        })
        .collect()
}

/// Paths with one digest each (for rules that only look at names).
fn names(paths: &[&str]) -> Artifacts {
    arts(&paths.iter().map(|p| (*p, SHA_A)).collect::<Vec<_>>())
}

fn link(name: &str, materials: Artifacts, products: Artifacts) -> Link {
    let mut l = Link::new(name);
    l.materials = materials;
    l.products = products;
    l
}

fn rule(s: &str) -> ArtifactRule {
    s.parse().unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// One rule against an explicit queue, with the item's materials and products; the queued
/// side's artifacts are `source`.
fn one(
    r: &str,
    queue: &[&str],
    item: &Link,
    source: &Artifacts,
    links: &BTreeMap<String, Link>,
) -> Result<BTreeSet<String>, RuleFailureReason> {
    let queue: BTreeSet<&str> = queue.iter().copied().collect();
    consume(rule(r).kind(), &queue, item, source, links).map(|v| v.into_iter().collect())
}

fn generic(r: &str, queue: &[&str], materials: Artifacts, products: Artifacts) -> BTreeSet<String> {
    let item = link("item", materials, products);
    one(r, queue, &item, &Artifacts::new(), &BTreeMap::new()).unwrap()
}

#[test]
fn delete_rule() {
    let none = Artifacts::new;
    assert_eq!(
        generic("DELETE foo", &["foo"], names(&["foo"]), none()),
        set(&["foo"])
    );
    assert_eq!(
        generic("DELETE *", &["foo", "bar"], names(&["foo", "bar"]), none()),
        set(&["foo", "bar"])
    );
    assert_eq!(
        generic("DELETE foo", &["foo"], none(), names(&["foo"])),
        set(&[])
    );
    assert_eq!(generic("DELETE foo", &["foo"], none(), none()), set(&[]));
    assert_eq!(
        generic("DELETE foo", &[], names(&["foo"]), none()),
        set(&[])
    );
    assert_eq!(
        generic("DELETE bar", &["foo"], names(&["foo"]), none()),
        set(&[])
    );
}

#[test]
fn create_rule() {
    let none = Artifacts::new;
    assert_eq!(
        generic("CREATE foo", &["foo"], none(), names(&["foo"])),
        set(&["foo"])
    );
    assert_eq!(
        generic("CREATE *", &["foo", "bar"], none(), names(&["foo", "bar"])),
        set(&["foo", "bar"])
    );
    assert_eq!(
        generic("CREATE foo", &["foo"], names(&["foo"]), none()),
        set(&[])
    );
    assert_eq!(generic("CREATE foo", &["foo"], none(), none()), set(&[]));
    assert_eq!(
        generic("CREATE foo", &[], none(), names(&["foo"])),
        set(&[])
    );
    assert_eq!(
        generic("CREATE bar", &["foo"], none(), names(&["foo"])),
        set(&[])
    );
}

#[test]
fn modify_rule() {
    let a = |p: &[&str]| arts(&p.iter().map(|p| (*p, SHA_A)).collect::<Vec<_>>());
    let b = |p: &[&str]| arts(&p.iter().map(|p| (*p, SHA_B)).collect::<Vec<_>>());
    assert_eq!(
        generic("MODIFY foo", &["foo"], a(&["foo"]), b(&["foo"])),
        set(&["foo"])
    );
    assert_eq!(
        generic(
            "MODIFY *",
            &["foo", "bar"],
            a(&["foo", "bar"]),
            b(&["foo", "bar"])
        ),
        set(&["foo", "bar"])
    );
    assert_eq!(
        generic("MODIFY foo", &["foo"], a(&["foo"]), a(&["foo"])),
        set(&[])
    );
    assert_eq!(
        generic("MODIFY foo", &["foo"], Artifacts::new(), Artifacts::new()),
        set(&[])
    );
    assert_eq!(
        generic("MODIFY foo", &[], a(&["foo"]), b(&["foo"])),
        set(&[])
    );
    assert_eq!(
        generic("MODIFY bar", &["foo"], a(&["foo"]), b(&["foo"])),
        set(&[])
    );
}

#[test]
fn allow_rule() {
    let none = Artifacts::new;
    assert_eq!(
        generic("ALLOW foo", &["foo"], none(), none()),
        set(&["foo"])
    );
    assert_eq!(
        generic("ALLOW *", &["foo", "bar"], none(), none()),
        set(&["foo", "bar"])
    );
    assert_eq!(
        generic("ALLOW foo*", &["foo", "foobar", "bar"], none(), none()),
        set(&["foo", "foobar"])
    );
    assert_eq!(generic("ALLOW bar", &["foo"], none(), none()), set(&[]));
    assert_eq!(generic("ALLOW foo", &[], none(), none()), set(&[]));
}

#[test]
fn disallow_rule() {
    let item = link("item", Artifacts::new(), Artifacts::new());
    let run = |r: &str, q: &[&str]| one(r, q, &item, &Artifacts::new(), &BTreeMap::new());
    assert_eq!(
        run("DISALLOW foo", &["foo"]),
        Err(RuleFailureReason::Disallowed {
            artifacts: vec!["foo".into()]
        })
    );
    assert_eq!(
        run("DISALLOW *", &["foo", "bar"]),
        Err(RuleFailureReason::Disallowed {
            artifacts: vec!["bar".into(), "foo".into()]
        })
    );
    assert_eq!(run("DISALLOW foo", &["bar"]), Ok(set(&[])));
    assert_eq!(run("DISALLOW *", &[]), Ok(set(&[])));
}

#[test]
fn require_rule_is_literal() {
    let item = link("item", Artifacts::new(), Artifacts::new());
    let run = |r: &str, q: &[&str]| one(r, q, &item, &Artifacts::new(), &BTreeMap::new());
    assert_eq!(run("REQUIRE foo", &["foo"]), Ok(set(&[])));
    assert_eq!(
        run("REQUIRE foo", &["bar"]),
        Err(RuleFailureReason::Required {
            artifact: "foo".into()
        })
    );
    assert_eq!(run("REQUIRE *", &["*"]), Ok(set(&[])));
    assert!(run("REQUIRE *", &["foo"]).is_err());
}

#[test]
fn match_rule() {
    let sha_foo = SHA_A;
    let sha_foobar = SHA_B;
    let sha_bar = "cfdaaf1ab2e4661952a9dec5e8fa3c360c1b06b1a073e8493a7c46d2af8c504b";
    let sha_barfoo = "2036784917e49b7685c7c17e03ddcae4a063979aa296ee5090b5bb8f8aeafc5d";
    let materials = arts(&[
        ("foo", sha_foo),
        ("foobar", sha_foobar),
        ("sub/foo", sha_foo),
        ("sub/foobar", sha_foobar),
        ("lib/foo", sha_foo),
        ("lib/foobar", sha_foobar),
        ("lib/build/foo", sha_foo),
        ("lib/build/foobar", sha_foobar),
    ]);
    let products = arts(&[
        ("bar", sha_bar),
        ("barfoo", sha_barfoo),
        ("sub/bar", sha_bar),
        ("sub/barfoo", sha_barfoo),
        ("sub/lib/bar", sha_bar),
        ("sub/lib/barfoo", sha_barfoo),
        ("build/bar", sha_bar),
        ("build/barfoo", sha_barfoo),
    ]);
    let links = BTreeMap::from([(
        "dest-item".to_owned(),
        link("dest-item", materials.clone(), products.clone()),
    )]);
    let mq: Vec<&str> = materials.keys().map(String::as_str).collect();
    let pq: Vec<&str> = products.keys().map(String::as_str).collect();
    let item = link("item", Artifacts::new(), Artifacts::new());
    let on_materials = |r: &str| one(r, &mq, &item, &materials, &links).unwrap();
    let on_products = |r: &str| one(r, &pq, &item, &products, &links).unwrap();
    let cases_m: &[(&str, &[&str])] = &[
        ("MATCH foo WITH MATERIALS FROM dest-item", &["foo"]),
        (
            "MATCH foo IN sub WITH MATERIALS FROM dest-item",
            &["sub/foo"],
        ),
        (
            "MATCH foo IN sub/ WITH MATERIALS FROM dest-item",
            &["sub/foo"],
        ),
        ("MATCH foo WITH MATERIALS IN sub FROM dest-item", &["foo"]),
        (
            "MATCH foo* WITH MATERIALS FROM dest-item",
            &["foo", "foobar"],
        ),
        (
            "MATCH foo* IN sub WITH MATERIALS FROM dest-item",
            &["sub/foo", "sub/foobar"],
        ),
        ("MATCH foo WITH PRODUCTS FROM dest-item", &[]),
        ("MATCH foo WITH MATERIALS FROM dest-item-missing-link", &[]),
        (
            "MATCH foo IN sub WITH MATERIALS IN lib FROM dest-item",
            &["sub/foo"],
        ),
        (
            "MATCH foo* IN sub WITH MATERIALS IN lib/ FROM dest-item",
            &["sub/foo", "sub/foobar"],
        ),
        (
            "MATCH foo IN sub WITH MATERIALS IN lib/build FROM dest-item",
            &["sub/foo"],
        ),
        (
            "MATCH foo* IN sub WITH MATERIALS IN lib/build FROM dest-item",
            &["sub/foo", "sub/foobar"],
        ),
    ];
    for (r, expected) in cases_m {
        assert_eq!(on_materials(r), set(expected), "{r}");
    }
    let cases_p: &[(&str, &[&str])] = &[
        ("MATCH bar WITH PRODUCTS FROM dest-item", &["bar"]),
        (
            "MATCH bar IN sub WITH PRODUCTS FROM dest-item",
            &["sub/bar"],
        ),
        ("MATCH bar WITH PRODUCTS IN sub FROM dest-item", &["bar"]),
        ("MATCH bar WITH PRODUCTS IN sub/ FROM dest-item", &["bar"]),
        (
            "MATCH bar* WITH PRODUCTS FROM dest-item",
            &["bar", "barfoo"],
        ),
        (
            "MATCH bar* WITH PRODUCTS IN sub FROM dest-item",
            &["bar", "barfoo"],
        ),
        (
            "MATCH bar IN sub WITH PRODUCTS IN sub FROM dest-item",
            &["sub/bar"],
        ),
        (
            "MATCH bar* IN sub WITH PRODUCTS IN sub/ FROM dest-item",
            &["sub/bar", "sub/barfoo"],
        ),
        (
            "MATCH bar IN sub WITH PRODUCTS IN sub/lib FROM dest-item",
            &["sub/bar"],
        ),
        (
            "MATCH bar IN sub WITH PRODUCTS IN sub FROM dest-item-missing-link",
            &[],
        ),
    ];
    for (r, expected) in cases_p {
        assert_eq!(on_products(r), set(expected), "{r}");
    }
    // Empty queue; differing digests.
    assert_eq!(
        one(
            "MATCH foo WITH MATERIALS FROM dest-item",
            &[],
            &item,
            &materials,
            &links
        )
        .unwrap(),
        set(&[])
    );
    let other = arts(&[("foo", "deadbeef")]);
    assert_eq!(
        one(
            "MATCH foo WITH MATERIALS FROM dest-item",
            &["foo"],
            &item,
            &other,
            &links
        )
        .unwrap(),
        set(&[])
    );
}

fn item_links() -> BTreeMap<String, Link> {
    let one = "d65165279105ca6773180500688df4bdc69a2c7b771752f0a46ef120b7fd8ec3";
    let two = "cfdaaf1ab2e4661952a9dec5e8fa3c360c1b06b1a073e8493a7c46d2af8c504b";
    BTreeMap::from([(
        "item".to_owned(),
        link(
            "item",
            arts(&[
                ("foo", one),
                ("foobar", one),
                ("bar", one),
                ("foobarbaz", one),
            ]),
            arts(&[("baz", one), ("foo", one), ("bar", two), ("foobarbaz", one)]),
        ),
    )])
}

#[test]
fn every_rule_type_in_one_list_passes_on_both_sides() {
    let rules: Vec<ArtifactRule> = [
        "DELETE foobar",
        "REQUIRE foobarbaz",
        "CREATE baz",
        "MODIFY bar",
        "MATCH foo WITH MATERIALS FROM item",
        "ALLOW foobarbaz",
        "DISALLOW *",
    ]
    .iter()
    .map(|r| rule(r))
    .collect();
    let links = item_links();
    for side in [ArtifactSide::Materials, ArtifactSide::Products] {
        assert_eq!(
            apply_rules("item", side, &rules, &links).unwrap(),
            set(&[]),
            "{side}"
        );
    }
}

#[test]
fn failures_name_item_rule_and_artifacts() {
    let links = item_links();
    let err = apply_rules(
        "item",
        ArtifactSide::Materials,
        &[rule("ALLOW foo"), rule("DISALLOW *")],
        &links,
    )
    .unwrap_err();
    assert_eq!(err.item, "item");
    assert_eq!(err.index, 2);
    assert_eq!(err.rule, "DISALLOW *");
    assert_eq!(
        err.reason,
        RuleFailureReason::Disallowed {
            artifacts: vec!["bar".into(), "foobar".into(), "foobarbaz".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "item: expected_materials rule #2 'DISALLOW *': disallowed artifacts: bar, foobar, foobarbaz"
    );
    // REQUIRE after the artifact was consumed.
    let err = apply_rules(
        "item",
        ArtifactSide::Products,
        &[rule("ALLOW baz"), rule("REQUIRE baz")],
        &links,
    )
    .unwrap_err();
    assert_eq!(
        err.reason,
        RuleFailureReason::Required {
            artifact: "baz".into()
        }
    );
    assert!(
        err.to_string()
            .contains("expected_products rule #2 'REQUIRE baz'"),
        "{err}"
    );
    let err = apply_rules("nope", ArtifactSide::Products, &[], &links).unwrap_err();
    assert_eq!(err.reason, RuleFailureReason::MissingLink);
}

#[test]
fn no_rules_leave_everything_unconsumed() {
    let left = apply_rules("item", ArtifactSide::Materials, &[], &item_links()).unwrap();
    assert_eq!(left, set(&["bar", "foo", "foobar", "foobarbaz"]));
}

/// The spec's running example: Alice writes foo.py, Bob packages it into foo.tar.gz, the
/// client's inspection untars it and checks foo.py came from write-code unchanged.
#[test]
fn spec_supply_chain() {
    let py = "aa".repeat(32);
    let tar = "bb".repeat(32);
    let mut links = BTreeMap::from([
        (
            "write-code".to_owned(),
            link("write-code", Artifacts::new(), arts(&[("foo.py", &py)])),
        ),
        (
            "package".to_owned(),
            link(
                "package",
                arts(&[("foo.py", &py)]),
                arts(&[("foo.py", &py), ("foo.tar.gz", &tar)]),
            ),
        ),
        (
            "untar".to_owned(),
            link(
                "untar",
                arts(&[("foo.tar.gz", &tar)]),
                arts(&[("foo.py", &py), ("foo.tar.gz", &tar)]),
            ),
        ),
    ]);
    let r = |v: &[&str]| v.iter().map(|s| rule(s)).collect::<Vec<_>>();
    let checks: Vec<(&str, ArtifactSide, Vec<ArtifactRule>)> = vec![
        (
            "write-code",
            ArtifactSide::Products,
            r(&["CREATE foo.py", "DISALLOW *"]),
        ),
        (
            "package",
            ArtifactSide::Materials,
            r(&["MATCH foo.py WITH PRODUCTS FROM write-code", "DISALLOW *"]),
        ),
        (
            "package",
            ArtifactSide::Products,
            r(&["CREATE foo.tar.gz", "ALLOW foo.py", "DISALLOW *"]),
        ),
        (
            "untar",
            ArtifactSide::Materials,
            r(&["MATCH foo.tar.gz WITH PRODUCTS FROM package", "DISALLOW *"]),
        ),
        (
            "untar",
            ArtifactSide::Products,
            r(&[
                "MATCH foo.py WITH PRODUCTS FROM write-code",
                "ALLOW foo.tar.gz",
                "DISALLOW *",
            ]),
        ),
    ];
    for (item, side, rules) in &checks {
        apply_rules(item, *side, rules, &links).unwrap();
    }
    // foo.py changed between write-code and package: package's materials fail.
    links.get_mut("package").unwrap().materials = arts(&[("foo.py", &tar)]);
    let err = apply_rules("package", ArtifactSide::Materials, &checks[1].2, &links).unwrap_err();
    assert_eq!(
        err.reason,
        RuleFailureReason::Disallowed {
            artifacts: vec!["foo.py".into()]
        }
    );
    assert!(
        err.to_string()
            .starts_with("package: expected_materials rule #2 'DISALLOW *'")
    );
}

#[test]
fn grammar() {
    let m = rule("match foo* in src with Products in out from build");
    assert_eq!(
        m.kind(),
        &RuleKind::Match {
            pattern: "foo*".into(),
            source_prefix: Some("src".into()),
            destination: ArtifactSide::Products,
            destination_prefix: Some("out".into()),
            from: "build".into(),
        }
    );
    // Tokens are kept as written; `new` writes upper case.
    assert_eq!(m.tokens()[0], "match");
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        r#"["match","foo*","in","src","with","Products","in","out","from","build"]"#
    );
    let n = ArtifactRule::new(m.kind().clone());
    assert_eq!(
        n.to_string(),
        "MATCH foo* IN src WITH PRODUCTS IN out FROM build"
    );
    assert_eq!(
        ArtifactRule::from_tokens(n.tokens().to_vec())
            .unwrap()
            .kind(),
        m.kind()
    );
    // An empty prefix is no prefix, as in in-toto-python.
    let e = ArtifactRule::from_tokens(
        ["MATCH", "*", "IN", "", "WITH", "MATERIALS", "FROM", "s"]
            .map(String::from)
            .to_vec(),
    )
    .unwrap();
    assert!(matches!(
        e.kind(),
        RuleKind::Match {
            source_prefix: None,
            ..
        }
    ));
    assert_eq!(
        rule("REQUIRE 'a file'").kind(),
        &RuleKind::Require("a file".into())
    );
    assert_eq!(rule("ALLOW \"x y\"").to_string(), "ALLOW \"x y\"");
    let back: ArtifactRule = serde_json::from_str(r#"["DISALLOW", "*"]"#).unwrap();
    assert_eq!(back.kind(), &RuleKind::Disallow("*".into()));
}

#[test]
fn grammar_errors_name_the_rule() {
    for (text, needle) in [
        ("", "keyword and a pattern"),
        ("ALLOW", "keyword and a pattern"),
        ("PERMIT *", "starts with MATCH"),
        ("ALLOW a b", "exactly one pattern"),
        ("MATCH * WITH ARTIFACTS FROM s", "MATERIALS or PRODUCTS"),
        ("MATCH * FROM s", "MATCH rules read"),
        ("MATCH * IN a WITH PRODUCTS IN b FROM", "MATCH rules read"),
        ("ALLOW 'open", "unclosed quote"),
    ] {
        let err = text.parse::<ArtifactRule>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{text:?}: {msg}");
        assert!(
            msg.starts_with(&format!(
                "artifact rule '{}",
                text.split(' ').next().unwrap_or("")
            )),
            "{msg}"
        );
    }
    assert!(serde_json::from_str::<ArtifactRule>(r#"["ALLOW"]"#).is_err());
}

#[test]
fn fnmatch_patterns() {
    let m = |p: &str, s: &str| Pattern::new(p).matches(s);
    assert!(m("*", ""));
    assert!(m("*", "a/b/c"));
    assert!(m("src/*.c", "src/x/y.c"));
    assert!(m("?", "é"));
    assert!(!m("?", ""));
    assert!(m("[abc]x", "bx"));
    assert!(!m("[!abc]x", "bx"));
    assert!(m("[a-c]", "b"));
    assert!(m("[]]", "]"));
    assert!(m("[!]]", "a"));
    assert!(m("[-a]", "-"));
    assert!(m("[", "["));
    assert!(m("a[", "a["));
    assert!(!m("foo", "Foo"));
    assert!(m("*a*b*", "xxaxxbxx"));
    assert!(!m("*a*b", "xxaxxbxx"));
    assert!(m("**", "x"));
}

/// Python's fnmatch.translate, restated as a regex for the pattern alphabet below.
fn reference(pattern: &str) -> regex::Regex {
    let mut re = String::from("^(?s:");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    regex::Regex::new(&re).unwrap()
}

proptest! {
    #[test]
    fn parsers_never_panic(tokens in prop::collection::vec(".{0,6}", 0..12), line in ".{0,60}") {
        let _ = ArtifactRule::from_tokens(tokens);
        let _ = line.parse::<ArtifactRule>();
        let p = Pattern::new(&line);
        let _ = p.matches(&line);
    }

    #[test]
    fn keyword_soup_never_panics(
        tokens in prop::collection::vec(prop::sample::select(vec!["MATCH", "in", "WITH", "from", "PRODUCTS", "materials", "x", ""]), 0..12)
    ) {
        let _ = ArtifactRule::from_tokens(tokens.into_iter().map(String::from).collect());
    }

    /// `new` writes tokens that parse back to the same rule.
    #[test]
    fn new_round_trips(
        pattern in "[a-z*?/]{1,8}", src in proptest::option::of("[a-z/]{1,6}"),
        dst in proptest::option::of("[a-z/]{1,6}"), products in any::<bool>(), from in "[a-z-]{1,8}",
    ) {
        let kind = RuleKind::Match {
            pattern, source_prefix: src, destination_prefix: dst, from,
            destination: if products { ArtifactSide::Products } else { ArtifactSide::Materials },
        };
        let r = ArtifactRule::new(kind.clone());
        let parsed = ArtifactRule::from_tokens(r.tokens().to_vec()).unwrap();
        prop_assert_eq!(parsed.kind(), &kind);
        let reparsed: ArtifactRule = r.to_string().parse().unwrap();
        prop_assert_eq!(reparsed.kind(), &kind);
    }

    /// Without brackets, the matcher agrees with fnmatch's regex translation.
    #[test]
    fn matches_like_fnmatch(pattern in "[ab*?/.]{0,8}", name in "[ab/.]{0,10}") {
        prop_assert_eq!(Pattern::new(&pattern).matches(&name), reference(&pattern).is_match(&name));
    }
}
