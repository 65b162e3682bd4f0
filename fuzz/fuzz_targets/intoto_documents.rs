//! in-toto documents an attacker may write: classic links and layouts (`.link`, `.layout`,
//! parsed before any signature is checked), DSSE link payloads, and link Statements. Whatever
//! parses must re-serialize to a document that parses to the same value and signed bytes.
#![no_main]

use hallmark_sigstore::intoto::{Link, SignedLayout, SignedLink, Statement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(link) = SignedLink::parse(data) {
        let again = SignedLink::parse(&serde_json::to_vec(&link).unwrap()).unwrap();
        assert_eq!(again, link);
        assert_eq!(again.signed_bytes().unwrap(), link.signed_bytes().unwrap());
    }
    if let Ok(layout) = SignedLayout::parse(data) {
        let again = SignedLayout::parse(&serde_json::to_vec(&layout).unwrap()).unwrap();
        assert_eq!(again, layout);
        assert_eq!(again.signed_bytes().unwrap(), layout.signed_bytes().unwrap());
    }
    let _ = Link::parse_payload(data);
    if let Ok(statement) = Statement::parse(data) {
        let _ = statement.link_predicate().and_then(|s| s.to_link());
    }
});
