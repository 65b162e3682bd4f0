//! The bundle model writes what `hallmark sign` wrote with `json!` before it existed (the
//! expected strings are that code's output: sorted keys, compact), and reads it back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_sigstore::bundle::{
    Bundle, BundleContent, Envelope, MessageSignature, TransparencyLogEntry,
};
use hallmark_sigstore::{HashAlgorithm, InclusionProofParts, LogEntry, LogEntryParts};
use hallmark_tlog::Hash;

const BODY: &str = "eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIiwic3BlYyI6e319";

fn log_entry() -> LogEntry {
    let hashes = [Hash([1; 32]), Hash([2; 32])];
    LogEntry::new(&LogEntryParts {
        uuid: "u",
        body_b64: BODY,
        integrated_time: 1_700_000_000,
        log_id_hex: &"ab".repeat(32),
        log_index: 7,
        signed_entry_timestamp_b64: "c2V0",
        proof: InclusionProofParts {
            checkpoint: "origin\n8\nroot\n\n— origin sig\n",
            hashes: &hashes,
            root_hash: &Hash([0xcd; 32]),
            tree_size: 8,
        },
    })
}

#[test]
fn a_v0_3_message_signature_bundle_is_byte_for_byte_what_sign_wrote() {
    let digest: Vec<u8> = (0..32).collect();
    let tlog = TransparencyLogEntry::from_rekor_v1(&log_entry()).unwrap();
    let bundle = Bundle::v0_3(
        b"\x30\x03\x02\x01\x01",
        BundleContent::MessageSignature(MessageSignature::new(
            HashAlgorithm::Sha256,
            &digest,
            b"\x30\x06sig",
        )),
        tlog,
    );
    let json = String::from_utf8(bundle.to_json().unwrap()).unwrap();
    let want = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},"signature":"MAZzaWc="},"verificationMaterial":{"certificate":{"rawBytes":"MAMCAQE="},"timestampVerificationData":{},"tlogEntries":[{"canonicalizedBody":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIiwic3BlYyI6e319","inclusionPromise":{"signedEntryTimestamp":"c2V0"},"inclusionProof":{"checkpoint":{"envelope":"origin\n8\nroot\n\n— origin sig\n"},"hashes":["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="],"logIndex":"7","rootHash":"zc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc0=","treeSize":"8"},"integratedTime":"1700000000","kindVersion":{"kind":"hashedrekord","version":"0.0.1"},"logId":{"keyId":"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="},"logIndex":"7"}]}}"#;
    assert_eq!(json, want);
    assert_eq!(Bundle::from_json(want.as_bytes()).unwrap(), bundle);
}

#[test]
fn a_dsse_envelope_is_written_as_before() {
    let env = Envelope::new(
        "application/vnd.in-toto+json",
        br#"{"a":1}"#,
        b"\x30\x06sig",
    );
    assert_eq!(
        serde_json::to_string(&env).unwrap(),
        r#"{"payload":"eyJhIjoxfQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAZzaWc="}]}"#
    );
    let _ = BundleContent::Dsse(env);
}

#[test]
fn protojson_forms_are_read() {
    // snake_case names, numbers for int64, absent zero values.
    let b = Bundle::from_json(
        br#"{"media_type":"m","verification_material":{"tlog_entries":[{"log_index":3,"integrated_time":"5"},{}]}}"#,
    )
    .unwrap();
    let entries = &b.verification_material.unwrap().tlog_entries;
    assert_eq!(entries[0].log_index.unwrap().0, 3);
    assert_eq!(entries[0].integrated_time.unwrap().0, 5);
    assert!(entries[1].log_index.is_none());
    assert!(Bundle::from_json(br#"{"unknown":1}"#).is_err());
}

#[test]
fn a_log_answer_that_is_not_rekor_is_an_error() {
    let mut e = log_entry();
    e.log_id = "not hex".into();
    assert!(TransparencyLogEntry::from_rekor_v1(&e).is_err());
    let mut e = log_entry();
    e.body = "e30=".into(); // {}
    assert!(TransparencyLogEntry::from_rekor_v1(&e).is_err());
    let answer = serde_json::json!({ "u": log_entry() }).to_string();
    let (uuid, entry) = LogEntry::from_response(answer.as_bytes()).unwrap();
    assert_eq!((uuid.as_str(), entry), ("u", log_entry()));
    assert!(LogEntry::from_response(b"{}").is_err());
}
