//! Property tests: parsing never panics on arbitrary input, and flipping any byte of any signed
//! part of a valid bundle makes verification fail (without panicking).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{ARTIFACT, Deployment, ISSUER, NOW, Options, SAN};
use hallmark_verify::{Artifact, Bundle, IdentityPolicy, Policy, TrustedRoot, verify};
use proptest::prelude::*;
use serde_json::Value;

/// JSON pointers of the base64 fields whose every byte is covered by a signature or a proof.
const SIGNED_B64_FIELDS: &[&str] = &[
    "/verificationMaterial/certificate/rawBytes",
    "/verificationMaterial/tlogEntries/0/canonicalizedBody",
    "/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp",
    "/verificationMaterial/tlogEntries/0/inclusionProof/rootHash",
    "/verificationMaterial/tlogEntries/0/inclusionProof/hashes/0",
    "/verificationMaterial/tlogEntries/0/logId/keyId",
    "/messageSignature/signature",
    "/messageSignature/messageDigest/digest",
];

fn setup() -> (Value, TrustedRoot) {
    let d = Deployment::new(1);
    let bundle = d.bundle(&Options::default());
    let root = TrustedRoot::from_json(d.trusted_root().to_string().as_bytes()).unwrap();
    (bundle, root)
}

fn check(bundle: &Value, root: &TrustedRoot) -> bool {
    let Ok(bundle) = Bundle::from_json(bundle.to_string().as_bytes()) else {
        return false;
    };
    let policy = Policy::Identity(IdentityPolicy::exact(SAN, ISSUER));
    verify(
        &bundle,
        Some(&Artifact::Bytes(ARTIFACT)),
        root,
        &policy,
        NOW,
    )
    .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Bundle::from_json(&data);
        let _ = TrustedRoot::from_json(&data);
    }

    #[test]
    fn any_flipped_signed_byte_is_rejected(field in 0..SIGNED_B64_FIELDS.len(), pos in any::<usize>(), bit in 0u8..8) {
        let (mut bundle, root) = setup();
        let slot = bundle.pointer_mut(SIGNED_B64_FIELDS[field]).unwrap();
        let mut bytes = STANDARD.decode(slot.as_str().unwrap()).unwrap();
        let i = pos % bytes.len();
        bytes[i] ^= 1 << bit;
        *slot = Value::String(STANDARD.encode(&bytes));
        prop_assert!(!check(&bundle, &root), "flipping bit {bit} of byte {i} of {} was accepted", SIGNED_B64_FIELDS[field]);
    }

    #[test]
    fn any_flipped_checkpoint_byte_is_rejected(pos in any::<usize>(), bit in 0u8..7) {
        let (mut bundle, root) = setup();
        let slot = bundle
            .pointer_mut("/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope")
            .unwrap();
        let mut bytes = slot.as_str().unwrap().as_bytes().to_vec();
        let i = pos % bytes.len();
        bytes[i] ^= 1 << bit;
        if let Ok(text) = String::from_utf8(bytes) {
            *slot = Value::String(text);
            prop_assert!(!check(&bundle, &root), "flipping bit {bit} of checkpoint byte {i} was accepted");
        }
    }

    #[test]
    fn truncated_json_never_panics(cut in any::<usize>()) {
        let (bundle, root) = setup();
        let text = bundle.to_string();
        let cut = cut % text.len();
        let _ = Bundle::from_json(&text.as_bytes()[..cut]).map(|b| {
            let policy = Policy::Identity(IdentityPolicy::exact(SAN, ISSUER));
            verify(&b, Some(&Artifact::Bytes(ARTIFACT)), &root, &policy, NOW)
        });
    }
}

#[test]
fn unflipped_bundle_verifies() {
    let (bundle, root) = setup();
    assert!(check(&bundle, &root));
}
