#![allow(dead_code, unreachable_pub)]

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as lc, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A P-256 test key loaded from a PKCS#8 fixture.
pub struct P256(pub EcdsaKeyPair);

impl P256 {
    pub fn load(name: &str) -> Self {
        P256(EcdsaKeyPair::from_pkcs8(&lc::ECDSA_P256_SHA256_ASN1_SIGNING, &fixture(name)).unwrap())
    }

    /// Signs a SHA-256 digest (prehashed).
    pub fn sign_digest(&self, d: &[u8]) -> Vec<u8> {
        let d = digest::Digest::import_less_safe(d, &digest::SHA256).unwrap();
        self.0.sign_digest(&d).unwrap().as_ref().to_vec()
    }

    /// Signs a message (hashing it with SHA-256).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    pub fn public_point(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Builds a hashedrekord proposed entry by hand.
pub fn hashedrekord(sig_b64: &str, pk_b64: &str, alg: &str, hex: &str) -> String {
    format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"signature":{{"content":"{sig_b64}","publicKey":{{"content":"{pk_b64}"}}}},"data":{{"hash":{{"algorithm":"{alg}","value":"{hex}"}}}}}}}}"#
    )
}

/// The canonical hashedrekord body, written by hand from the Rekor schema.
pub fn hashedrekord_canonical(sig_b64: &str, pk_b64: &str, alg: &str, hex: &str) -> String {
    format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"{alg}","value":"{hex}"}}}},"signature":{{"content":"{sig_b64}","publicKey":{{"content":"{pk_b64}"}}}}}}}}"#
    )
}

/// DER SPKI of a PEM public key fixture.
pub fn spki_der(pem_name: &str) -> Vec<u8> {
    let pem = String::from_utf8(fixture(pem_name)).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// A fresh P-256 key and its public key as base64 of PEM (a verifier string).
pub fn fresh_p256() -> (P256, String) {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&lc::ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
            .unwrap();
    let key = P256(
        EcdsaKeyPair::from_pkcs8(&lc::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap(),
    );
    // SubjectPublicKeyInfo of an uncompressed P-256 point: a fixed prefix, then the point.
    let mut spki = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    spki.extend_from_slice(&key.public_point());
    let body = STANDARD.encode(&spki);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    (key, b64(pem.as_bytes()))
}
