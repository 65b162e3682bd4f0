//! The HTTP layer's request parsers (`hallmark_server::fuzzing`): signing-certificate requests
//! (JSON, Authorization header, CSR or proof-of-possession key), proposed log entries (parse and
//! verify), Rekor v2 `CreateEntryRequest`s (parse and verify), entry UUIDs, retrieve and index requests, index public keys. The first byte picks
//! the parser; the rest is its input. Each must answer or refuse, never panic.
#![no_main]

use hallmark_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 9 {
        0 => {
            // Authorization header up to the first NUL, body after it.
            let (auth, body) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (&b""[..], rest),
            };
            let _ = fuzzing::signing_cert_request(auth, body);
        }
        1 => {
            let _ = fuzzing::proposed_entry(rest);
        }
        2 => {
            let _ = fuzzing::entry_uuid(&String::from_utf8_lossy(rest));
        }
        3 => {
            let _ = fuzzing::retrieve_request(rest);
        }
        4 => {
            let _ = fuzzing::index_request(rest);
        }
        5 => {
            let _ = fuzzing::index_public_key(rest);
        }
        6 => {
            let _ = fuzzing::v2_entry_request(rest);
        }
        7 => {
            // A well-formed Rekor v2 request around arbitrary certificate bytes.
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(rest);
            let body = serde_json::json!({"hashedRekordRequestV002": {
                "digest": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "signature": {"content": "MEUCIQ", "verifier": {
                    "x509Certificate": {"rawBytes": b64}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}},
            }})
            .to_string();
            let _ = fuzzing::v2_entry_request(body.as_bytes());
        }
        _ => {
            // A well-formed signing request around arbitrary key material.
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(rest);
            let body = serde_json::json!({ "certificateSigningRequest": b64 }).to_string();
            let _ = fuzzing::signing_cert_request(b"Bearer t", body.as_bytes());
            let body = serde_json::json!({
                "credentials": { "oidcIdentityToken": "fuzz@example.com" },
                "publicKeyRequest": { "publicKey": { "content": String::from_utf8_lossy(rest) },
                                      "proofOfPossession": b64 }
            })
            .to_string();
            let _ = fuzzing::signing_cert_request(b"", body.as_bytes());
        }
    }
});
