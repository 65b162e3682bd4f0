//! Property tests of the in-toto parsers, which read files an attacker may write (links in a
//! link directory, layouts before their signature is checked, DSSE payloads): random bytes and
//! random mutations of real documents (made by stock in-toto 3.1.0, see `fixtures/intoto/`)
//! never panic, and whatever parses re-serializes to a document that parses to the same value
//! with the same signed bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_sigstore::intoto::{Link, SignedLayout, SignedLink, Statement};
use proptest::prelude::*;
use serde_json::Value;

const LINK: &[u8] = include_bytes!("fixtures/intoto/write-code.63d00ee3.link");
const LAYOUT: &[u8] = include_bytes!("fixtures/intoto/root.layout");

/// Every string and number position of `v`, as JSON pointers.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// Replacement values: wrong types, hostile strings, huge and fractional numbers.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!(1.5)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!({"regex": "(a+)+$"})),
        Just(serde_json::json!({"regex": "x", "extra": 1})),
        Just(serde_json::json!(["MATCH", "*", "WITH", "PRODUCTS"])),
        ".{0,12}".prop_map(Value::String),
        "[A-Z ]{0,30}".prop_map(Value::String),
    ]
}

/// Parses with `parse`; if it parses, serializing and parsing again gives the same value and the
/// same signed bytes.
fn round_trip<T, E: std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, E>,
    to_json: impl Fn(&T) -> Vec<u8>,
    signed: impl Fn(&T) -> Vec<u8>,
) where
    T: PartialEq + std::fmt::Debug,
{
    if let Ok(doc) = parse(bytes) {
        let again =
            parse(&to_json(&doc)).expect("a parsed document re-serializes to one that parses");
        assert_eq!(again, doc);
        assert_eq!(signed(&again), signed(&doc));
    }
}

fn check_link(bytes: &[u8]) {
    round_trip(
        bytes,
        SignedLink::parse,
        |l| serde_json::to_vec(l).unwrap(),
        |l| l.signed_bytes().unwrap(),
    );
    let _ = Link::parse_payload(bytes);
    if let Ok(s) = Statement::parse(bytes) {
        let _ = s.link_predicate().and_then(|p| p.to_link());
    }
}

fn check_layout(bytes: &[u8]) {
    round_trip(
        bytes,
        SignedLayout::parse,
        |l| serde_json::to_vec(l).unwrap(),
        |l| l.signed_bytes().unwrap(),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_link(&bytes);
        check_layout(&bytes);
    }

    #[test]
    fn mutated_links_never_panic(pick in any::<prop::sample::Index>(), with in replacement()) {
        let mut v: Value = serde_json::from_slice(LINK).unwrap();
        let mut at = Vec::new();
        leaves(&v, String::new(), &mut at);
        *v.pointer_mut(pick.get(&at).as_str()).unwrap() = with;
        check_link(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn mutated_layouts_never_panic(pick in any::<prop::sample::Index>(), with in replacement()) {
        let mut v: Value = serde_json::from_slice(LAYOUT).unwrap();
        let mut at = Vec::new();
        leaves(&v, String::new(), &mut at);
        *v.pointer_mut(pick.get(&at).as_str()).unwrap() = with;
        check_layout(&serde_json::to_vec(&v).unwrap());
    }

    /// Truncations of real documents (a file cut short by a crash or a full disk).
    #[test]
    fn truncated_documents_never_panic(cut in 0usize..2048) {
        check_link(&LINK[..cut.min(LINK.len())]);
        check_layout(&LAYOUT[..cut.min(LAYOUT.len())]);
    }
}

/// The fixtures themselves parse (so the mutations above start from real documents).
#[test]
fn fixtures_parse() {
    SignedLink::parse(LINK).unwrap();
    SignedLayout::parse(LAYOUT).unwrap();
}
