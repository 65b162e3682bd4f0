//! Parsers for key references and PIN sources: bad input is an error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use hallmark_keys::{KeyError, KeyRef, PinSource};
use proptest::prelude::*;

#[test]
fn good_references_parse() {
    let k: KeyRef = "pkcs11:token=hallmark;object=log-key".parse().unwrap();
    assert_eq!((k.token(), k.object()), ("hallmark", "log-key"));
    assert_eq!(k.module_path(), None);
    assert_eq!(k.pin_source(), None);

    let k: KeyRef = "pkcs11:object=ca%2Droot;token=hall%6Dark;type=private?pin-source=env:HSM_PIN&module-path=%2Fusr%2Flib%2Fsofthsm%2Flibsofthsm2.so"
        .parse()
        .unwrap();
    assert_eq!((k.token(), k.object()), ("hallmark", "ca-root"));
    assert_eq!(k.pin_source(), Some(&PinSource::Env("HSM_PIN".into())));
    assert_eq!(
        k.module_path(),
        Some(Path::new("/usr/lib/softhsm/libsofthsm2.so"))
    );
    assert_eq!(
        k.to_string(),
        "pkcs11:token=hallmark;object=ca-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:HSM_PIN"
    );

    // UTF-8 labels, percent-encoded or raw.
    let k: KeyRef = "pkcs11:token=t;object=cl%C3%A9".parse().unwrap();
    assert_eq!(k.object(), "clé");
    let k: KeyRef = "PKCS11:token=t;object=clé".parse().unwrap();
    assert_eq!(k.object(), "clé");
    assert_eq!(k.to_string(), "pkcs11:token=t;object=cl%C3%A9");
}

#[test]
fn config_prefers_the_uri_over_defaults() {
    let k: KeyRef = "pkcs11:token=hallmark;object=k?pin-source=file:/run/pin"
        .parse()
        .unwrap();
    let cfg = k
        .config(Path::new("/usr/lib/softhsm/libsofthsm2.so"), None)
        .unwrap();
    assert_eq!(cfg.module, Path::new("/usr/lib/softhsm/libsofthsm2.so"));
    assert_eq!(cfg.token_label, "hallmark");
    assert_eq!(cfg.pin, PinSource::File("/run/pin".into()));

    let bare: KeyRef = "pkcs11:token=hallmark;object=k".parse().unwrap();
    assert!(matches!(
        bare.config(Path::new("/m.so"), None),
        Err(KeyError::BadKeyRef { .. })
    ));
    let env = PinSource::Env("PIN".into());
    assert_eq!(
        bare.config(Path::new("/m.so"), Some(&env)).unwrap().pin,
        env
    );
}

#[test]
fn pin_value_is_refused_without_echoing_the_secret() {
    let err = "pkcs11:token=hallmark;object=k?pin-value=hunter2"
        .parse::<KeyRef>()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("pin-value is refused"), "{msg}");
    assert!(msg.contains("pin-source"), "says what to do instead: {msg}");
    assert!(!msg.contains("hunter2"), "must not echo the PIN: {msg}");
}

#[test]
fn bad_references_are_errors() {
    let long_token = format!("pkcs11:token={};object=k", "x".repeat(33));
    let cases: &[(&str, &str)] = &[
        ("", "pkcs11: URI"),
        ("token=hallmark;object=k", "pkcs11: URI"),
        ("pkcs11", "pkcs11: URI"),
        ("pkcs11:", "stray ';'"),
        ("pkcs11:token", "has no '='"),
        ("pkcs11:token=hallmark", "object= is required"),
        ("pkcs11:object=k", "token= is required"),
        ("pkcs11:token=;object=k", "token= is empty"),
        ("pkcs11:token=t;object=", "object= is empty"),
        ("pkcs11:token=t;token=u;object=k", "more than once"),
        ("pkcs11:token=t;object=k;", "stray ';'"),
        ("pkcs11:token=t;;object=k", "stray ';'"),
        (
            "pkcs11:token=t;object=k;type=public",
            "type=public is not supported",
        ),
        ("pkcs11:token=t;object=k;type=cert", "not supported"),
        ("pkcs11:token=t;object=k;id=%01%02", "id= is not supported"),
        (
            "pkcs11:token=t;object=k;serial=1234",
            "serial= is not supported",
        ),
        (
            "pkcs11:token=t;object=k;slot-id=0",
            "slot-id= is not supported",
        ),
        (
            "pkcs11:token=t;object=k;x-vendor=1",
            "unknown path attribute",
        ),
        ("pkcs11:token=t;object=k?", "stray"),
        (
            "pkcs11:token=t;object=k?module-name=softhsm2",
            "module-name is not supported",
        ),
        (
            "pkcs11:token=t;object=k?module-path=relative.so",
            "absolute path",
        ),
        (
            "pkcs11:token=t;object=k?pin-source=/run/pin",
            "pin-source: expected file:",
        ),
        ("pkcs11:token=t;object=k?pin-source=file:", "needs a path"),
        (
            "pkcs11:token=t;object=k?pin-source=env:",
            "not an environment variable name",
        ),
        (
            "pkcs11:token=t;object=k?pin-source=env:1X",
            "not an environment variable name",
        ),
        (
            "pkcs11:token=t;object=k?pin-source=file://host/pin",
            "with a host",
        ),
        (
            "pkcs11:token=t;object=k?pin-source=|/bin/cat",
            "expected file:",
        ),
        ("pkcs11:token=t;object=k?foo=bar", "unknown query attribute"),
        (
            "pkcs11:token=t;object=k?module-path=/a&module-path=/b",
            "more than once",
        ),
        ("pkcs11:token=t%;object=k", "two hex digits"),
        ("pkcs11:token=t%4;object=k", "two hex digits"),
        ("pkcs11:token=t%zz;object=k", "two hex digits"),
        ("pkcs11:token=t;object=%FF", "not UTF-8"),
        ("pkcs11:token=t;object=%00", "NUL"),
        ("pkcs11:token=t;object=a b", "percent-encoded"),
        ("pkcs11:token=t;object=a\nb", "percent-encoded"),
        ("pkcs11:token=t;object=k#frag", "percent-encoded"),
        (&long_token, "at most 32"),
    ];
    for (input, expected) in cases {
        match input.parse::<KeyRef>() {
            Err(KeyError::BadKeyRef { reason }) => assert!(
                reason.contains(expected),
                "{input:?}: reason {reason:?} should mention {expected:?}"
            ),
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }
}

#[test]
fn bad_pin_sources_are_errors() {
    for input in [
        "",
        "file:",
        "file://host/x",
        "env:",
        "env:A-B",
        "env:1ABC",
        "1234",
        "pin:1234",
        "FILE:/x",
    ] {
        assert!(
            matches!(
                input.parse::<PinSource>(),
                Err(KeyError::BadPinSource { .. })
            ),
            "{input:?} should be rejected"
        );
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(s in ".*") {
        let _ = s.parse::<KeyRef>();
        let _ = s.parse::<PinSource>();
        let _ = format!("pkcs11:{s}").parse::<KeyRef>();
    }

    #[test]
    fn structured_garbage_never_panics(
        attrs in proptest::collection::vec("(token|object|type|id|module-path|pin-source|pin-value|[a-z-]{0,8})=[%0-9A-Za-z:/;?&=é]{0,12}", 0..5),
        query in proptest::option::of("[%0-9A-Za-z:/;?&=-]{0,30}"),
    ) {
        let mut uri = format!("pkcs11:{}", attrs.join(";"));
        if let Some(q) = query {
            uri.push('?');
            uri.push_str(&q);
        }
        let _ = uri.parse::<KeyRef>();
    }

    #[test]
    fn display_round_trips(
        token in "[^\u{0}]{1,8}",
        object in "[^\u{0}]{1,24}",
        module in proptest::option::of("/[^\u{0}]{1,20}"),
        pin_file in proptest::option::of("/[^\u{0}]{1,20}"),
    ) {
        prop_assume!(token.len() <= 32 && !token.ends_with(' '));
        let mut key = KeyRef::new(token, object).unwrap();
        if let Some(m) = module {
            key = key.with_module_path(m);
        }
        if let Some(p) = pin_file {
            key = key.with_pin_source(PinSource::File(p.into()));
        }
        let printed = key.to_string();
        let parsed: KeyRef = printed.parse().unwrap();
        prop_assert_eq!(parsed, key);
    }
}
