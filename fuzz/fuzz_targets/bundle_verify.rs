//! Bundle parsing and offline verification never panic. The first byte picks a mode: the rest
//! of the input is either a whole bundle (JSON), or raw bytes placed into one field of a real
//! Rekor v2 + RFC 3161 bundle from the conformance suite, so that the DER, note and entry-body
//! parsers behind the JSON are reached too.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_verify::{Artifact, Bundle, IdentityPolicy, Policy, TrustedRoot, verify};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const TEMPLATE: &str = include_str!(
    "../../../shared/reference/testdata/sigstore-conformance/bundle-verify/rekor2-timestamp-with-embedded-cert/bundle.sigstore.json"
);
const ROOT: &[u8] = include_bytes!(
    "../../../shared/reference/testdata/sigstore-conformance/bundle-verify/rekor2-timestamp-with-embedded-cert/trusted_root.json"
);
const ARTIFACT: &[u8] =
    include_bytes!("../../../shared/reference/testdata/sigstore-conformance/bundle-verify/a.txt");
const SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// Base64 fields of the template that raw input may replace.
const B64_FIELDS: &[&str] = &[
    "/verificationMaterial/certificate/rawBytes",
    "/verificationMaterial/tlogEntries/0/canonicalizedBody",
    "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp",
    "/messageSignature/signature",
];
const CHECKPOINT: &str = "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope";

fn run(bundle_json: &[u8]) {
    let Ok(bundle) = Bundle::from_json(bundle_json) else {
        return;
    };
    let root = TrustedRoot::from_json(ROOT).expect("the conformance trusted root parses");
    let policy = Policy::Identity(IdentityPolicy::exact(SAN, ISSUER));
    let _ = verify(
        &bundle,
        Some(&Artifact::Bytes(ARTIFACT)),
        &root,
        &policy,
        1_800_000_000,
    );
    let _ = verify(&bundle, None, &root, &policy, 1_800_000_000);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = usize::from(mode);
    if mode == 0 {
        run(rest);
        let _ = TrustedRoot::from_json(rest);
        return;
    }
    let mut bundle: Value = serde_json::from_str(TEMPLATE).expect("the template parses");
    if mode <= B64_FIELDS.len() {
        if let Some(slot) = bundle.pointer_mut(B64_FIELDS[mode - 1]) {
            *slot = Value::String(STANDARD.encode(rest));
        }
    } else if let (Some(slot), Ok(text)) =
        (bundle.pointer_mut(CHECKPOINT), std::str::from_utf8(rest))
    {
        *slot = Value::String(text.to_owned());
    }
    run(bundle.to_string().as_bytes());
});
