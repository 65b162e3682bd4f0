//! Property tests of [`SignedTreeHead`], the `get-sth` answer an auditor reads from an untrusted
//! CT log: well-formed heads signed with a RustCrypto P-256 key (independent of the aws-lc-rs
//! verifier) round-trip and verify; any change to a signed field is refused by the signature
//! check; arbitrary bytes and mangled JSON give an error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_sigstore::crypto::PublicKey;
use hallmark_sigstore::ct::{CtError, DigitallySigned, SignedTreeHead, sth_signed_data};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use proptest::prelude::*;
use serde_json::{Value, json};

fn key(seed: u8) -> (SigningKey, PublicKey) {
    let k = SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
    let der = k.verifying_key().to_public_key_der().unwrap();
    (k, PublicKey::from_spki_der(der.as_bytes()).unwrap())
}

fn signed(k: &SigningKey, size: u64, ts: u64, root: [u8; 32]) -> SignedTreeHead {
    let sig: DerSignature = k.sign(&sth_signed_data(ts, size, &root));
    SignedTreeHead {
        tree_size: size,
        timestamp_ms: ts,
        root_hash: root,
        signature: DigitallySigned::ecdsa_sha256(sig.as_bytes().to_vec()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn signed_heads_round_trip_and_verify(size in any::<u64>(), ts in any::<u64>(), root in any::<[u8; 32]>()) {
        let (k, public) = key(7);
        let sth = signed(&k, size, ts, root);
        let json = sth.to_json().unwrap();
        let back = SignedTreeHead::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&back, &sth);
        back.verify(&public).unwrap();
        // Another key does not verify it.
        let (_, other) = key(8);
        let refused = matches!(back.verify(&other), Err(CtError::SthSignature { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn a_changed_signed_field_is_refused(size in 1..u64::MAX, ts in any::<u64>(), root in any::<[u8; 32]>(), which in 0..3u8, bit in 0..256usize) {
        let (k, public) = key(9);
        let mut sth = signed(&k, size, ts, root);
        match which {
            0 => sth.tree_size ^= 1 << (bit % 64),
            1 => sth.timestamp_ms ^= 1 << (bit % 64),
            _ => sth.root_hash[bit / 8] ^= 1 << (bit % 8),
        }
        let back = SignedTreeHead::from_json(sth.to_json().unwrap().as_bytes()).unwrap();
        prop_assert!(back.verify(&public).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = SignedTreeHead::from_json(&bytes);
    }

    #[test]
    fn mangled_members_are_errors(field in 0..4usize, junk in "[A-Za-z0-9+/=]{0,60}", number in any::<i64>()) {
        let (k, _) = key(3);
        let sth = signed(&k, 5, 6, [1; 32]);
        let mut v: Value = serde_json::from_str(&sth.to_json().unwrap()).unwrap();
        let names = ["tree_size", "timestamp", "sha256_root_hash", "tree_head_signature"];
        let name = names[field];
        v[name] = if field < 2 { json!(junk) } else { json!(number) };
        prop_assert!(SignedTreeHead::from_json(v.to_string().as_bytes()).is_err());
        // A base64 member of the wrong content is an error too.
        if field >= 2 {
            v[name] = json!(junk);
            let r = SignedTreeHead::from_json(v.to_string().as_bytes());
            if let Ok(parsed) = r {
                // Only a value that really decodes to the right shape may parse.
                prop_assert_eq!(field, 3);
                prop_assert!(parsed.signature.encode().unwrap() == STANDARD.decode(&junk).unwrap());
            }
        }
    }
}

#[test]
fn missing_members_and_trailing_signature_bytes_are_errors() {
    let (k, _) = key(4);
    let sth = signed(&k, 5, 6, [1; 32]);
    let v: Value = serde_json::from_str(&sth.to_json().unwrap()).unwrap();
    for name in [
        "tree_size",
        "timestamp",
        "sha256_root_hash",
        "tree_head_signature",
    ] {
        let mut w = v.clone();
        w.as_object_mut().unwrap().remove(name);
        assert!(SignedTreeHead::from_json(w.to_string().as_bytes()).is_err());
    }
    let mut sig = sth.signature.encode().unwrap();
    sig.push(0);
    let mut w = v.clone();
    w["tree_head_signature"] = json!(STANDARD.encode(sig));
    assert!(SignedTreeHead::from_json(w.to_string().as_bytes()).is_err());
    let mut w = v;
    w["sha256_root_hash"] = json!(STANDARD.encode([0u8; 31]));
    assert!(SignedTreeHead::from_json(w.to_string().as_bytes()).is_err());
}
