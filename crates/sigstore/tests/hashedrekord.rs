//! Rekor v1 `hashedrekord` entries: parsing, signature checks and canonical bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::{EntryError, EntryKind, HashAlgorithm, ProposedEntry};

fn artifact_digest() -> Vec<u8> {
    sha256(&fixture("artifact.txt"))
}

#[test]
fn certificate_verifier_verifies_and_canonicalises() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let cert_pem = fixture("leaf_email.pem");
    let pk = b64(&cert_pem);
    let hex = hex::encode(&digest);
    let body = hashedrekord(&sig, &pk, "sha256", &hex);

    let proposed = ProposedEntry::parse(body.as_bytes()).unwrap();
    assert_eq!(proposed.kind(), EntryKind::HashedRekord);
    let v = proposed.verify().unwrap();
    assert_eq!(v.kind, EntryKind::HashedRekord);
    assert_eq!(
        String::from_utf8(v.canonical_body.clone()).unwrap(),
        hashedrekord_canonical(&sig, &pk, "sha256", &hex)
    );
    assert!(v.certificate_der.is_some());
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].certificate_der, v.certificate_der);
    assert_eq!(v.public_key_der, spki_der("leaf.pub"));
    assert_eq!(
        v.artifact_digest,
        Some((HashAlgorithm::Sha256, hex.clone()))
    );
    assert_eq!(v.san.as_deref(), Some("alice@example.com"));
    let key_fp = hex::encode(sha256(&spki_der("leaf.pub")));
    let mut expected = vec![
        format!("sha256:{hex}"),
        format!("key:{key_fp}"),
        "email:alice@example.com".to_owned(),
    ];
    expected.sort();
    assert_eq!(v.index_keys, expected);
}

#[test]
fn canonical_body_is_stable_and_independent_of_input_key_order() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let pk = b64(&fixture("leaf.pub"));
    let hex = hex::encode(&digest);
    let reordered = format!(
        r#"{{ "spec": {{ "data": {{"hash": {{"value": "{hex}", "algorithm": "sha256"}}}},
            "signature": {{"publicKey": {{"content": "{pk}"}}, "content": "{sig}"}} }},
            "kind": "hashedrekord", "apiVersion": "0.0.1" }}"#
    );
    let a = ProposedEntry::parse(reordered.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    let b = ProposedEntry::parse(hashedrekord(&sig, &pk, "sha256", &hex).as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(a.canonical_body, b.canonical_body);
    assert_eq!(
        a.canonical_body,
        hashedrekord_canonical(&sig, &pk, "sha256", &hex).into_bytes()
    );
}

#[test]
fn public_key_verifier() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let body = hashedrekord(
        &sig,
        &b64(&fixture("leaf.pub")),
        "sha256",
        &hex::encode(&digest),
    );
    let v = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.certificate_der, None);
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].certificate_der, None);
    assert_eq!(v.san, None);
    assert_eq!(v.public_key_der, spki_der("leaf.pub"));
    assert_eq!(v.index_keys.len(), 2);
}

#[test]
fn certificate_chain_verifier_uses_the_leaf() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let mut chain = fixture("leaf_email.pem");
    chain.extend(fixture("leaf_uri.pem"));
    let pk = b64(&chain);
    let hex = hex::encode(&digest);
    let v = ProposedEntry::parse(hashedrekord(&sig, &pk, "sha256", &hex).as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.san.as_deref(), Some("alice@example.com"));
    // The chain is echoed as received.
    assert_eq!(
        v.canonical_body,
        hashedrekord_canonical(&sig, &pk, "sha256", &hex).into_bytes()
    );
}

#[test]
fn uri_san_is_indexed() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let body = hashedrekord(
        &sig,
        &b64(&fixture("leaf_uri.pem")),
        "sha256",
        &hex::encode(&digest),
    );
    let v = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    let uri = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main";
    assert_eq!(v.san.as_deref(), Some(uri));
    assert!(v.index_keys.contains(&format!("uri:{uri}")));
}

#[test]
fn rsa_and_p384_signatures_from_openssl() {
    let data = fixture("artifact.txt");
    let rsa = hashedrekord(
        &b64(&fixture("artifact.rsa.sig")),
        &b64(&fixture("rsa.pub")),
        "sha256",
        &hex::encode(sha256(&data)),
    );
    ProposedEntry::parse(rsa.as_bytes())
        .unwrap()
        .verify()
        .unwrap();

    let d384 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, &data);
    let p384 = hashedrekord(
        &b64(&fixture("artifact.p384.sig")),
        &b64(&fixture("p384.pub")),
        "sha384",
        &hex::encode(d384.as_ref()),
    );
    let v = ProposedEntry::parse(p384.as_bytes())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(v.artifact_digest.unwrap().0, HashAlgorithm::Sha384);

    // The same RSA signature claimed as sha512 of a different digest fails.
    let wrong = hashedrekord(
        &b64(&fixture("artifact.rsa.sig")),
        &b64(&fixture("rsa.pub")),
        "sha256",
        &hex::encode(sha256(b"other")),
    );
    assert!(matches!(
        ProposedEntry::parse(wrong.as_bytes()).unwrap().verify(),
        Err(EntryError::BadSignature { .. })
    ));
}

/// ECDSA signs only the leftmost curve-size bits of a longer digest: a P-256 signature over a
/// SHA-384 digest binds its first 32 bytes, so the same signature would verify under any digest
/// sharing them. Such key and digest pairs are refused, the honest entry as well as the
/// tampered one (found by `proptest_parse`).
#[test]
fn ecdsa_digest_longer_than_the_curve_is_refused() {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha384};
    let key = p256::ecdsa::SigningKey::from_pkcs8_der(&fixture("leaf.pk8")).unwrap();
    let honest = Sha384::digest(fixture("artifact.txt"));
    let sig: p256::ecdsa::DerSignature = key.sign_prehash(&honest).unwrap();
    let sig = b64(sig.as_bytes());
    let mut tampered = honest.to_vec();
    tampered[40] ^= 1;
    for d in [honest.to_vec(), tampered] {
        let body = hashedrekord(&sig, &b64(&fixture("leaf.pub")), "sha384", &hex::encode(&d));
        let err = ProposedEntry::parse(body.as_bytes())
            .unwrap()
            .verify()
            .unwrap_err();
        assert!(matches!(err, EntryError::UnsupportedKey { .. }), "{err}");
        assert!(err.to_string().contains("longer than the curve"), "{err}");
    }
}

#[test]
fn ed25519_is_rejected_for_digests() {
    let digest = artifact_digest();
    let body = hashedrekord(
        &b64(&[0u8; 64]),
        &b64(&fixture("ed25519.pub")),
        "sha256",
        &hex::encode(&digest),
    );
    let err = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::UnsupportedKey { .. }), "{err}");
}

#[test]
fn signature_by_another_key_fails() {
    let other = P256::load("other.pk8");
    let digest = artifact_digest();
    let sig = b64(&other.sign_digest(&digest));
    let body = hashedrekord(
        &sig,
        &b64(&fixture("leaf_email.pem")),
        "sha256",
        &hex::encode(&digest),
    );
    let err = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");
}

#[test]
fn digest_mismatch_fails() {
    let key = P256::load("leaf.pk8");
    let sig = b64(&key.sign_digest(&artifact_digest()));
    let body = hashedrekord(
        &sig,
        &b64(&fixture("leaf.pub")),
        "sha256",
        &hex::encode(sha256(b"not it")),
    );
    let err = ProposedEntry::parse(body.as_bytes())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, EntryError::BadSignature { .. }), "{err}");
}

/// Every malformed body is a 400 error whose message names the field.
#[test]
fn malformed_bodies() {
    let key = P256::load("leaf.pk8");
    let digest = artifact_digest();
    let sig = b64(&key.sign_digest(&digest));
    let pk = b64(&fixture("leaf.pub"));
    let hex = hex::encode(&digest);
    let good = hashedrekord(&sig, &pk, "sha256", &hex);
    let huge_sig = "A".repeat(10_000);
    let cases: Vec<(String, &str)> = vec![
        (good[..good.len() - 5].to_owned(), "body"),
        ("[]".to_owned(), "body"),
        ("null".to_owned(), "body"),
        (good.replace("hashedrekord", "rekord"), "rekord"),
        (good.replace("hashedrekord", "cose"), "cose"),
        (good.replace("\"0.0.1\"", "\"0.0.2\""), "apiVersion"),
        (good.replace("\"apiVersion\":\"0.0.1\",", ""), "apiVersion"),
        (good.replace("\"kind\":\"hashedrekord\",", ""), "kind"),
        (
            good.replace("\"kind\":\"hashedrekord\"", "\"kind\":7"),
            "kind",
        ),
        (good.replace(&sig, "not base64!"), "spec.signature.content"),
        (good.replace(&sig, &huge_sig), "spec.signature.content"),
        (good.replace(&pk, "@@@"), "spec.signature.publicKey.content"),
        (
            good.replace(&pk, &b64(b"just text")),
            "spec.signature.publicKey.content",
        ),
        (
            good.replace(
                &pk,
                &b64(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            ),
            "spec.signature.publicKey.content",
        ),
        (
            good.replace(&pk, &b64(&vec![b'A'; 200_000])),
            "spec.signature.publicKey.content",
        ),
        (good.replace(&hex, "zz"), "spec.data.hash.value"),
        (good.replace(&hex, &hex[..62]), "spec.data.hash.value"),
        (
            good.replace(&hex, &format!("{}g", &hex[..63])),
            "spec.data.hash.value",
        ),
        (good.replace("sha256", "md5"), "spec.data.hash.algorithm"),
        (good.replace("sha256", "sha384"), "spec.data.hash.value"),
        (good.replace("\"data\":", "\"notdata\":"), "spec.data"),
        (
            good.replace(&format!("\"content\":\"{sig}\""), "\"content\":null"),
            "spec.signature.content",
        ),
        (
            good.replace(&format!("\"content\":\"{sig}\""), "\"content\":5"),
            "spec.signature.content",
        ),
        (
            r#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":"x"}"#.to_owned(),
            "spec",
        ),
        (
            r#"{"apiVersion":"0.0.1","kind":"hashedrekord"}"#.to_owned(),
            "spec",
        ),
    ];
    for (body, field) in cases {
        let err = match ProposedEntry::parse(body.as_bytes()) {
            Err(e) => e,
            Ok(p) => p.verify().expect_err(&format!("accepted: {body:.200}")),
        };
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[test]
fn oversized_body_is_refused_before_parsing() {
    let body = vec![b' '; hallmark_sigstore::MAX_ENTRY_BYTES + 1];
    assert!(matches!(
        ProposedEntry::parse(&body),
        Err(EntryError::TooLarge { field: "body", .. })
    ));
}
