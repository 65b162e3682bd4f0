//! Rekor v2 `CreateEntryRequest`s (`hallmark_sigstore::rekor_v2`): correctly signed requests
//! verify into the canonical body written here by hand from the rekor-tiles protos (JCS: keys
//! sorted, bytes as padded standard base64); any change to signed content is refused; arbitrary
//! input never panics. Signatures come from aws-lc-rs with the fixture keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::EntryError;
use hallmark_sigstore::rekor_v2::CreateEntryRequest;
use proptest::prelude::*;
use serde_json::{Value, json};

fn cert_der() -> Vec<u8> {
    let pem = String::from_utf8(fixture("leaf_email.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap()
}

fn request(digest: &[u8], sig: &[u8], verifier: Value) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": b64(digest),
        "signature": {"content": b64(sig), "verifier": verifier},
    }})
}

fn cert_verifier() -> Value {
    json!({"x509Certificate": {"rawBytes": b64(&cert_der())}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"})
}

fn key_verifier() -> Value {
    json!({"publicKey": {"rawBytes": b64(&spki_der("leaf.pub"))}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"})
}

fn verify(body: &Value) -> Result<hallmark_sigstore::rekor_v2::VerifiedRequest, EntryError> {
    CreateEntryRequest::parse(body.to_string().as_bytes())?.verify()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A signed request verifies into exactly the canonical body rekor-tiles writes.
    #[test]
    fn signed_requests_verify_into_the_canonical_body(artifact in proptest::collection::vec(any::<u8>(), 0..256), by_cert in any::<bool>()) {
        let key = P256::load("leaf.pk8");
        let digest = sha256(&artifact);
        let sig = key.sign_digest(&digest);
        let (verifier, verifier_json) = if by_cert {
            (cert_verifier(), format!(r#"{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":{{"rawBytes":"{}"}}}}"#, b64(&cert_der())))
        } else {
            (key_verifier(), format!(r#"{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}"#, b64(&spki_der("leaf.pub"))))
        };
        let v = verify(&request(&digest, &sig, verifier)).unwrap();
        let expected = format!(
            r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"{}","verifier":{}}}}}}}}}"#,
            b64(&digest), b64(&sig), verifier_json
        );
        prop_assert_eq!(String::from_utf8(v.canonical_body.clone()).unwrap(), expected);
        prop_assert_eq!(v.signer.certificate_der.is_some(), by_cert);
        prop_assert_eq!(&v.signer.public_key_der, &spki_der("leaf.pub"));
        let digest_key = format!("sha256:{}", hex::encode(&digest));
        prop_assert!(v.index_keys.contains(&digest_key));
    }

    /// Flipping any bit of the digest or the signature is refused.
    #[test]
    fn a_changed_digest_or_signature_is_refused(artifact in proptest::collection::vec(any::<u8>(), 0..64), which in any::<bool>(), bit in 0usize..256) {
        let key = P256::load("leaf.pk8");
        let mut digest = sha256(&artifact);
        let mut sig = key.sign_digest(&digest);
        if which {
            digest[bit / 8 % 32] ^= 1 << (bit % 8);
        } else {
            let i = bit % sig.len();
            sig[i] ^= 1 << (bit % 8);
        }
        let err = verify(&request(&digest, &sig, cert_verifier())).unwrap_err();
        prop_assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");
    }

    /// Arbitrary bytes, and arbitrary JSON in any field, never panic.
    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), text in ".{0,64}", field in 0usize..6) {
        let _ = CreateEntryRequest::parse(&bytes).map(|r| r.verify());
        let key = P256::load("leaf.pk8");
        let digest = sha256(b"x");
        let mut body = request(&digest, &key.sign_digest(&digest), cert_verifier());
        let pointer = [
            "/hashedRekordRequestV002/digest",
            "/hashedRekordRequestV002/signature/content",
            "/hashedRekordRequestV002/signature/verifier/keyDetails",
            "/hashedRekordRequestV002/signature/verifier/x509Certificate/rawBytes",
            "/hashedRekordRequestV002/signature/verifier",
            "/hashedRekordRequestV002",
        ][field];
        *body.pointer_mut(pointer).unwrap() = json!(text);
        prop_assert!(verify(&body).is_err());
    }
}

#[test]
fn names_keys_and_sizes_are_checked() {
    let key = P256::load("leaf.pk8");
    let digest = sha256(b"artifact");
    let sig = key.sign_digest(&digest);
    // snake_case field names (protojson parsers accept both).
    let snake = json!({"hashed_rekord_request_v002": {
        "digest": b64(&digest),
        "signature": {"content": b64(&sig), "verifier": {
            "x509_certificate": {"raw_bytes": b64(&cert_der())}, "key_details": "PKIX_ECDSA_P256_SHA_256"}},
    }});
    verify(&snake).unwrap();
    // URL-safe base64 is read too; the body writes standard base64.
    let mut url_safe = request(&digest, &sig, cert_verifier());
    url_safe["hashedRekordRequestV002"]["digest"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &digest
    ));
    let v = verify(&url_safe).unwrap();
    assert!(
        String::from_utf8(v.canonical_body)
            .unwrap()
            .contains(&b64(&digest))
    );

    let refused = |body: Value, needle: &str| {
        let err = verify(&body).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    };
    let mut extra = request(&digest, &sig, cert_verifier());
    extra["hashedRekordRequestV002"]["signature"]["extra"] = json!(1);
    refused(extra, "unknown field");
    let mut p384 = request(&digest, &sig, cert_verifier());
    p384["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        json!("PKIX_ECDSA_P384_SHA_384");
    refused(p384, "48-byte");
    let mut rsa = request(&digest, &sig, cert_verifier());
    rsa["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        json!("PKIX_RSA_PKCS1V15_2048_SHA256");
    refused(rsa, "does not describe");
    for name in [
        "PKIX_ED25519",
        "PKIX_ED25519_PH",
        "PKIX_ECDSA_P521_SHA_512",
        "junk",
    ] {
        let mut b = request(&digest, &sig, cert_verifier());
        b["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] = json!(name);
        refused(b, "keyDetails");
    }
    let mut both = request(&digest, &sig, cert_verifier());
    both["hashedRekordRequestV002"]["signature"]["verifier"]["publicKey"] =
        json!({"rawBytes": b64(&spki_der("leaf.pub"))});
    refused(both, "exactly one");
    refused(
        json!({"dsseRequestV002": {"envelope": {}, "verifiers": []}}),
        "hashedRekordRequestV002 whose digest is SHA-256 of its PAE",
    );
    refused(json!({}), "exactly one");
    let big = vec![b' '; hallmark_sigstore::rekor_v2::MAX_REQUEST_BYTES + 1];
    assert!(matches!(
        CreateEntryRequest::parse(&big),
        Err(EntryError::TooLarge { .. })
    ));
}
