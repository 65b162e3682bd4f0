//! securesystemslib's canonical JSON (the [OLPC dialect](http://wiki.laptop.org/go/Canonical_JSON)
//! as `securesystemslib.formats.encode_canonical` writes it): what classic in-toto signatures and
//! key ids are computed over.
//!
//! Rules: object keys sorted (by code point, which is UTF-8 byte order), no whitespace, only
//! strings, integers, booleans, `null`, arrays and objects; floats are refused. Strings escape
//! only `"` and `\`; every other character, control characters and non-ASCII included, is
//! written as its raw UTF-8 bytes. This is not RFC 8785 (JCS), which escapes control characters
//! and sorts keys by UTF-16 code units.

use serde::Serialize;
use serde_json::Value;

use super::IntotoError;

/// The canonical JSON bytes of `value`.
///
/// # Errors
///
/// [`IntotoError::Float`] when the value holds a number that is not an integer.
pub fn encode(value: &Value) -> Result<Vec<u8>, IntotoError> {
    let mut out = Vec::new();
    write(value, &mut out, &mut String::from("$"))?;
    Ok(out)
}

/// The canonical JSON bytes of any serializable value (through [`serde_json::Value`]).
///
/// # Errors
///
/// [`IntotoError::Json`] when the value does not serialize to JSON (a map with non-string
/// keys), [`IntotoError::Float`] when it holds a non-integer number.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, IntotoError> {
    let value = serde_json::to_value(value).map_err(|source| IntotoError::Json {
        what: "canonical JSON input",
        source,
    })?;
    encode(&value)
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn write(value: &Value, out: &mut Vec<u8>, path: &mut String) -> Result<(), IntotoError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(IntotoError::Float {
                    path: path.clone(),
                    number: n.to_string(),
                });
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write(item, out, path)?;
                path.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                let len = path.len();
                path.push('.');
                path.push_str(key);
                write(&map[key.as_str()], out, path)?;
                path.truncate(len);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Produced with securesystemslib 1.6.0 (PyPI) in a scratch venv:
    /// `encode_canonical({"b": [1, -2, True, False, None, ""], "a": "quote\" back\\ nl\n tab\t
    /// ctl\x01 uni é \u2028 😀", "é": {}, "A": 0, "_": {"z": [], "y": 18446744073709551615,
    /// "x": -9223372036854775808}}).encode("utf-8").hex()`.
    const SSLIB_VECTOR: &str = "7b2241223a302c225f223a7b2278223a2d393232333337323033363835343737353830382c2279223a31383434363734343037333730393535313631352c227a223a5b5d7d2c2261223a2271756f74655c22206261636b5c5c206e6c0a20746162092063746c0120756e6920c3a920e280a820f09f9880222c2262223a5b312c2d322c747275652c66616c73652c6e756c6c2c22225d2c22c3a9223a7b7d7d";

    #[test]
    fn matches_securesystemslib() {
        let v = json!({"b": [1, -2, true, false, null, ""],
            "a": "quote\" back\\ nl\n tab\t ctl\u{1} uni é \u{2028} 😀",
            "é": {}, "A": 0,
            "_": {"z": [], "y": 18_446_744_073_709_551_615_u64, "x": i64::MIN}});
        assert_eq!(hex::encode(encode(&v).unwrap()), SSLIB_VECTOR);
    }

    #[test]
    fn small_cases() {
        assert_eq!(encode(&json!("")).unwrap(), b"\"\"");
        assert_eq!(encode(&json!([1, 2, 3])).unwrap(), b"[1,2,3]");
        assert_eq!(
            encode(&json!({"y": 2, "x": 3})).unwrap(),
            b"{\"x\":3,\"y\":2}"
        );
        assert_eq!(encode(&json!({})).unwrap(), b"{}");
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let err = encode(&json!({"a": [1, {"b": 1.5}]})).unwrap_err();
        match err {
            IntotoError::Float { path, number } => {
                assert_eq!(path, "$.a[1].b");
                assert_eq!(number, "1.5");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The output is JSON that reads back as the same value, and encoding is idempotent.
        #[test]
        fn round_trips(v in arb_value()) {
            let bytes = encode(&v).unwrap();
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(encode(&back).unwrap(), bytes);
        }

        /// Key order in the input does not matter, and no byte outside strings is whitespace.
        #[test]
        fn order_independent(m in prop::collection::btree_map("[a-z]{0,4}", any::<i32>(), 0..10)) {
            let forward: serde_json::Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect();
            let reverse: serde_json::Map<String, Value> =
                m.iter().rev().map(|(k, v)| (k.clone(), Value::from(*v))).collect();
            let a = encode(&Value::Object(forward)).unwrap();
            prop_assert_eq!(&a, &encode(&Value::Object(reverse)).unwrap());
            prop_assert!(!a.contains(&b' ') && !a.contains(&b'\n'));
        }
    }
}
