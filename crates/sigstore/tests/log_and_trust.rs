//! Checkpoints, signed entry timestamps and the trusted root of the signature log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hallmark_sigstore::*;
use hallmark_tlog::Hash;
use serde_json::json;

#[test]
fn set_payload_is_jcs() {
    let p = set_payload("eyJhIjoxfQ==", 1_700_000_000, "c0ffee", 42);
    assert_eq!(
        String::from_utf8(p).unwrap(),
        r#"{"body":"eyJhIjoxfQ==","integratedTime":1700000000,"logID":"c0ffee","logIndex":42}"#
    );
    // Escaping as RFC 8785 section 3.2.2.2 requires.
    let p = set_payload("a\"\\\n\u{1}é", -1, "", 0);
    assert_eq!(
        String::from_utf8(p).unwrap(),
        "{\"body\":\"a\\\"\\\\\\n\\u0001é\",\"integratedTime\":-1,\"logID\":\"\",\"logIndex\":0}"
    );
}

#[test]
fn uuid_is_tree_id_then_leaf_hash() {
    let leaf = Hash([0xab; 32]);
    let uuid = entry_uuid(0x1234, &leaf);
    assert_eq!(uuid, format!("0000000000001234{}", "ab".repeat(32)));
    assert_eq!(uuid.len(), 80);
}

#[test]
fn log_entry_response_shape() {
    let hashes = [Hash([1; 32]), Hash([2; 32])];
    let root = Hash([3; 32]);
    let v = log_entry_json(&LogEntryParts {
        uuid: "u",
        body_b64: "Ym9keQ==",
        integrated_time: 1_700_000_000,
        log_id_hex: "ff",
        log_index: 7,
        signed_entry_timestamp_b64: "c2V0",
        proof: InclusionProofParts {
            checkpoint: "origin\n8\nroot\n\n— origin sig\n",
            hashes: &hashes,
            root_hash: &root,
            tree_size: 8,
        },
    });
    assert_eq!(
        v,
        json!({"u": {
            "body": "Ym9keQ==",
            "integratedTime": 1_700_000_000,
            "logID": "ff",
            "logIndex": 7,
            "verification": {
                "signedEntryTimestamp": "c2V0",
                "inclusionProof": {
                    "checkpoint": "origin\n8\nroot\n\n— origin sig\n",
                    "hashes": ["01".repeat(32), "02".repeat(32)],
                    "logIndex": 7,
                    "rootHash": "03".repeat(32),
                    "treeSize": 8,
                }
            }
        }})
    );
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
    // der::DateTime covers 1970 to 9999, as do the Sigstore documents; earlier is an error,
    // never a silently wrong date.
    assert!(rfc3339(-1).is_err());
}

fn sample_trust_config() -> serde_json::Value {
    serde_json::to_value(sample_client_trust_config()).unwrap()
}

fn sample_client_trust_config() -> ClientTrustConfig {
    use hallmark_sigstore::trust::{
        CertificateAuthority, Service, TimeRange, TransparencyLogInstance,
    };
    let ca_chain = vec![
        b64_decode_pem(&fixture("leaf_email.pem")),
        b64_decode_pem(&fixture("leaf_uri.pem")),
    ];
    let old_chain = vec![b64_decode_pem(&fixture("leaf_uri.pem"))];
    let log_key = spki_der("leaf.pub");
    let ct_key = spki_der("other.pub");
    let root = TrustedRoot::new(
        vec![
            CertificateAuthority::new(
                "hallmark",
                "hallmark-old",
                "http://127.0.0.1:3000",
                &old_chain,
                TimeRange::between(1_600_000_000, 1_700_000_000).unwrap(),
            ),
            CertificateAuthority::new(
                "hallmark",
                "hallmark",
                "http://127.0.0.1:3000",
                &ca_chain,
                TimeRange::from(1_700_000_000).unwrap(),
            ),
        ],
        vec![
            TransparencyLogInstance::new(
                "http://127.0.0.1:3000",
                &log_key,
                TimeRange::from(1_700_000_000).unwrap(),
            )
            .unwrap(),
        ],
        vec![
            TransparencyLogInstance::new(
                "http://127.0.0.1:3000/ct",
                &ct_key,
                TimeRange::from(1_700_000_000).unwrap(),
            )
            .unwrap(),
        ],
    );
    let svc = |url| {
        Service::new(
            url,
            1,
            TimeRange::from(1_700_000_000).unwrap(),
            "hallmark.test",
        )
    };
    let signing = SigningConfig::new(
        vec![svc("http://127.0.0.1:3000")],
        vec![svc("http://127.0.0.1:8080")],
        vec![svc("http://127.0.0.1:3000")],
    );
    ClientTrustConfig::new(root, signing)
}

/// The typed model writes what the `serde_json::Value` builders it replaced wrote, byte for
/// byte (the fixture is their output for this configuration), and reads it back unchanged.
#[test]
fn trust_config_bytes_are_unchanged_and_round_trip() {
    let tc = sample_client_trust_config();
    let pretty = serde_json::to_string_pretty(&tc).unwrap();
    let want = String::from_utf8(fixture("trust_config.json")).unwrap();
    assert_eq!(pretty, want.trim_end());
    let back: ClientTrustConfig = serde_json::from_str(&want).unwrap();
    assert_eq!(back, tc);
}

fn b64_decode_pem(pem: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let pem = std::str::from_utf8(pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn trust_config_shape() {
    let tc = sample_trust_config();
    assert_eq!(tc["mediaType"], CLIENT_TRUST_CONFIG_MEDIA_TYPE);
    let root = &tc["trustedRoot"];
    assert_eq!(
        root["mediaType"],
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    );
    assert_eq!(root["timestampAuthorities"], json!([]));

    let log_key = spki_der("leaf.pub");
    let tlog = &root["tlogs"][0];
    assert_eq!(tlog["baseUrl"], "http://127.0.0.1:3000");
    assert_eq!(tlog["hashAlgorithm"], "SHA2_256");
    assert_eq!(tlog["publicKey"]["rawBytes"], b64(&log_key));
    assert_eq!(tlog["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    assert_eq!(
        tlog["publicKey"]["validFor"],
        json!({"start": "2023-11-14T22:13:20Z"})
    );
    assert_eq!(tlog["logId"], json!({"keyId": b64(&sha256(&log_key))}));
    assert_eq!(
        root["ctlogs"][0]["logId"]["keyId"],
        b64(&sha256(&spki_der("other.pub")))
    );

    let cas = root["certificateAuthorities"].as_array().unwrap();
    assert_eq!(cas.len(), 2);
    assert_eq!(
        cas[0]["validFor"],
        json!({"start": "2020-09-13T12:26:40Z", "end": "2023-11-14T22:13:20Z"})
    );
    assert_eq!(
        cas[1]["subject"],
        json!({"organization": "hallmark", "commonName": "hallmark"})
    );
    assert_eq!(cas[1]["uri"], "http://127.0.0.1:3000");
    let certs = cas[1]["certChain"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(
        certs[0],
        json!({"rawBytes": b64(&b64_decode_pem(&fixture("leaf_email.pem")))})
    );

    let sc = &tc["signingConfig"];
    assert_eq!(
        sc["mediaType"],
        "application/vnd.dev.sigstore.signingconfig.v0.2+json"
    );
    for key in ["caUrls", "oidcUrls", "rekorTlogUrls"] {
        assert_eq!(
            sc[key][0],
            json!({
                "url": sc[key][0]["url"].clone(),
                "majorApiVersion": 1,
                "validFor": {"start": "2023-11-14T22:13:20Z"},
                "operator": "hallmark.test",
            })
        );
    }
    assert_eq!(sc["tsaUrls"], json!([]));
    assert_eq!(sc["rekorTlogConfig"], json!({"selector": "ANY"}));
    assert_eq!(sc["tsaConfig"], json!({"selector": "ANY"}));
}

#[test]
fn unsupported_log_key_is_an_error() {
    let err = hallmark_sigstore::trust::TransparencyLogInstance::new(
        "x",
        b"not der",
        hallmark_sigstore::trust::TimeRange::from(0).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(err, hallmark_sigstore::EntryError::BadPublicKey { .. }),
        "{err}"
    );
}

/// Cross-check with sigstore-python's own models (the project venv must exist).
#[test]
fn sigstore_python_accepts_the_trust_config() {
    // scripts/test.sh makes the venv and exports HALLMARK_PYTHON; a missing venv is a failure
    // that says how to make it, never a silent pass.
    let python = std::env::var("HALLMARK_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python").to_owned()
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "no {python}: run ./scripts/test.sh (it installs sigstore-python into .venv and sets \
         HALLMARK_PYTHON)"
    );
    let dir = std::env::temp_dir().join(format!("hallmark-sigstore-tc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tc.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&sample_trust_config()).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(
            "import sys\n\
             from sigstore.models import ClientTrustConfig\n\
             from sigstore.sign import SigningContext\n\
             tc = ClientTrustConfig.from_json(open(sys.argv[1]).read())\n\
             SigningContext.from_trust_config(tc)\n\
             from sigstore._internal.trust import KeyringPurpose\n\
             tr = tc.trusted_root\n\
             tr.rekor_keyring(KeyringPurpose.VERIFY)\n\
             tr.ct_keyring(KeyringPurpose.VERIFY)\n\
             assert len(tr.get_fulcio_certs()) == 3\n\
             sc = tc.signing_config\n\
             assert sc.get_oidc_url() == 'http://127.0.0.1:8080'\n\
             assert len(sc.get_tlogs()) == 1\n\
             sc.get_fulcio()\n",
        )
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "sigstore-python rejected the trust config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
