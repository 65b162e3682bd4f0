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
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
}

fn sample_trust_config() -> serde_json::Value {
    let ca_chain = vec![
        b64_decode_pem(&fixture("leaf_email.pem")),
        b64_decode_pem(&fixture("leaf_uri.pem")),
    ];
    let old_chain = vec![b64_decode_pem(&fixture("leaf_uri.pem"))];
    let log_key = spki_der("leaf.pub");
    let ct_key = spki_der("other.pub");
    let root = trusted_root_json(
        &[
            CertificateAuthority {
                organization: "hallmark",
                common_name: "hallmark-old",
                uri: "http://127.0.0.1:3000",
                chain_der: &old_chain,
                valid_for: Validity {
                    start: 1_600_000_000,
                    end: Some(1_700_000_000),
                },
            },
            CertificateAuthority {
                organization: "hallmark",
                common_name: "hallmark",
                uri: "http://127.0.0.1:3000",
                chain_der: &ca_chain,
                valid_for: Validity::from(1_700_000_000),
            },
        ],
        &[TransparencyLog {
            base_url: "http://127.0.0.1:3000",
            public_key_der: &log_key,
            valid_for: Validity::from(1_700_000_000),
        }],
        &[TransparencyLog {
            base_url: "http://127.0.0.1:3000/ct",
            public_key_der: &ct_key,
            valid_for: Validity::from(1_700_000_000),
        }],
    )
    .unwrap();
    let svc = |url| Service {
        url,
        major_api_version: 1,
        valid_for: Validity::from(1_700_000_000),
        operator: "hallmark.test",
    };
    let signing = signing_config_json(
        &[svc("http://127.0.0.1:3000")],
        &[svc("http://127.0.0.1:8080")],
        &[svc("http://127.0.0.1:3000")],
    );
    client_trust_config_json(root, signing)
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
    let err = trusted_root_json(
        &[],
        &[TransparencyLog {
            base_url: "x",
            public_key_der: b"not der",
            valid_for: Validity::from(0),
        }],
        &[],
    )
    .unwrap_err();
    assert_eq!(err.status(), 400);
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
