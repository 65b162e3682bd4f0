//! Arbitrary text in the parameters a client controls (entry UUIDs in paths and retrieve
//! requests, log indexes, search keys) gets an answer below 500 from a real `hallmark serve`:
//! never a panic (which the server turns into a 500).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `s` everywhere a client puts an identifier; returns the first answer of 500 or more.
fn probe(stack: &Stack, s: &str) -> Option<(String, u16, String)> {
    let gets = [
        format!("/api/v1/log/entries/{}", pct(s)),
        format!("/api/v1/log/entries?logIndex={}", pct(s)),
    ];
    for path in gets {
        let (status, text) = stack.get(&path).unwrap();
        if status >= 500 {
            return Some((path, status, text));
        }
    }
    let posts = [
        ("/api/v1/log/entries/retrieve", json!({"entryUUIDs": [s]})),
        ("/api/v1/index/retrieve", json!({"hash": s})),
        ("/api/v1/index/retrieve", json!({"email": s})),
        (
            "/api/v1/index/retrieve",
            json!({"publicKey": {"content": s}}),
        ),
    ];
    for (path, body) in posts {
        let (status, v) = stack.post(path, body.to_string().as_bytes(), None).unwrap();
        if status >= 500 {
            return Some((format!("{path} {body}"), status, v.to_string()));
        }
    }
    let (status, v) = stack
        .post("/api/v1/log/entries", s.as_bytes(), None)
        .unwrap();
    (status >= 500).then(|| ("/api/v1/log/entries".to_owned(), status, v.to_string()))
}

#[test]
fn identifiers_never_get_a_5xx() {
    let stack = Stack::start(&bin()).unwrap();

    // Known shapes first: a multi-byte character across byte 16 of an 80-byte UUID (which once
    // sliced inside the character and panicked), and across the hex of a 64-byte one.
    let regressions = [
        format!("{}é{}", "a".repeat(15), "b".repeat(63)),
        format!("{}€{}", "a".repeat(14), "b".repeat(63)),
        format!("{}é", "c".repeat(62)),
        "0".repeat(80),
        "sha256:".to_owned() + &"é".repeat(32),
    ];
    for s in &regressions {
        assert_eq!(probe(&stack, s), None, "{s:?}");
    }
    let (status, text) = stack
        .get(&format!(
            "/api/v1/log/entries/{}",
            pct(&format!("{}é{}", "a".repeat(15), "b".repeat(63)))
        ))
        .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not an entry UUID"), "{text}");

    // Then arbitrary text, biased towards UUID lengths.
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let text = prop_oneof![
        "\\PC{0,100}",
        "[0-9a-fA-F]{15}\\PC[0-9a-fA-F]{63}",
        "[0-9a-f]{60,66}\\PC{0,3}",
    ];
    runner
        .run(&text, |s| {
            prop_assert_eq!(probe(&stack, &s), None, "{:?}", s);
            Ok(())
        })
        .unwrap();
}
