//! The RFC 6962 read API: `get-sth`, `get-sth-consistency`, `get-proof-by-hash`, `get-entries`,
//! `get-roots`.

use signature::Verifier as _;

use super::*;

/// A harness whose CT log holds `n` precertificates (one per issued certificate).
async fn with_entries(n: usize) -> Harness {
    let h = Harness::new().await;
    for i in 0..n {
        h.certificate(&format!("user{i}@example.com")).await;
    }
    assert_eq!(h.state.ct.latest().size, n as u64);
    h
}

/// Checks an STH's signature (RFC 6962 §3.5, `DigitallySigned` SHA-256/ECDSA) with `key`.
fn check_sth(sth: &Value, key: &SigningKey) {
    let sig = STANDARD
        .decode(sth["tree_head_signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(&sig[..2], &[4, 3], "SHA-256 with ECDSA");
    let len = u16::from_be_bytes([sig[2], sig[3]]) as usize;
    assert_eq!(sig.len(), 4 + len);
    let mut signed = vec![0, 1];
    signed.extend_from_slice(&sth["timestamp"].as_u64().unwrap().to_be_bytes());
    signed.extend_from_slice(&sth["tree_size"].as_u64().unwrap().to_be_bytes());
    signed.extend_from_slice(
        &STANDARD
            .decode(sth["sha256_root_hash"].as_str().unwrap())
            .unwrap(),
    );
    let der = DerSignature::from_bytes(&sig[4..]).unwrap();
    key.verifying_key().verify(&signed, &der).unwrap();
}

#[tokio::test]
async fn get_sth_is_signed_by_the_ct_key_and_follows_the_tree() {
    let h = Harness::new().await;
    let (status, sth) = h.get_json("/ct/v1/get-sth").await;
    assert_eq!(status, StatusCode::OK, "{sth}");
    assert_eq!(sth["tree_size"], 0);
    check_sth(&sth, &h.ct_key);
    h.certificate(EMAIL).await;
    let (status, sth) = h.get_json("/ct/v1/get-sth").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sth["tree_size"], 1);
    assert_eq!(
        sth["sha256_root_hash"],
        json!(STANDARD.encode(h.state.ct.latest().root.0))
    );
    check_sth(&sth, &h.ct_key);
    // Signed once per tree size: a second read is the same STH.
    let (_, again) = h.get_json("/ct/v1/get-sth").await;
    assert_eq!(again, sth);
}

const EMAIL: &str = "ct@example.com";

#[tokio::test]
async fn get_sth_consistency_proves_and_refuses_bad_ranges() {
    let h = with_entries(3).await;
    let (status, body) = h
        .get_json("/ct/v1/get-sth-consistency?first=1&second=3")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let proof: Vec<hallmark_tlog::Hash> = body["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hallmark_tlog::Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(proof, h.state.ct.seq.consistency_proof(1, 3).unwrap());
    assert!(!proof.is_empty());
    let (status, body) = h
        .get_json("/ct/v1/get-sth-consistency?first=0&second=3")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["consistency"], json!([]));
    for (query, needle) in [
        ("first=2&second=1", "first <= second"),
        ("first=1&second=4", "current tree size"),
        ("first=1", "bad query string"),
        ("first=x&second=1", "bad query string"),
    ] {
        let (status, body) = h
            .get_json(&format!("/ct/v1/get-sth-consistency?{query}"))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn get_proof_by_hash_finds_logged_leaves() {
    let h = with_entries(2).await;
    let entry = h.state.ct.seq.store().entry(1).unwrap().unwrap();
    let leaf = hallmark_tlog::leaf_hash(&entry.data);
    let hash = url::form_urlencoded::byte_serialize(STANDARD.encode(leaf.0).as_bytes())
        .collect::<String>();
    let (status, body) = h
        .get_json(&format!("/ct/v1/get-proof-by-hash?hash={hash}&tree_size=2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["leaf_index"], 1);
    let path: Vec<Value> = h
        .state
        .ct
        .seq
        .inclusion_proof(1, 2)
        .unwrap()
        .iter()
        .map(|x| json!(STANDARD.encode(x.0)))
        .collect();
    assert_eq!(body["audit_path"], json!(path));
    // Not in the tree of size 1.
    let (status, body) = h
        .get_json(&format!("/ct/v1/get-proof-by-hash?hash={hash}&tree_size=1"))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "no entry with leaf hash",
    );
    let unknown = STANDARD.encode([7u8; 32]);
    let unknown = url::form_urlencoded::byte_serialize(unknown.as_bytes()).collect::<String>();
    let (status, body) = h
        .get_json(&format!(
            "/ct/v1/get-proof-by-hash?hash={unknown}&tree_size=2"
        ))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no entry");
    for (query, needle) in [
        (
            format!("hash={hash}&tree_size=0"),
            "tree_size must be between 1 and 2",
        ),
        (
            format!("hash={hash}&tree_size=3"),
            "tree_size must be between 1 and 2",
        ),
        ("hash=AAAA&tree_size=1".to_owned(), "base64 SHA-256"),
        ("tree_size=1".to_owned(), "bad query string"),
    ] {
        let (status, body) = h
            .get_json(&format!("/ct/v1/get-proof-by-hash?{query}"))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn get_entries_serves_leaves_with_the_chain_and_refuses_bad_ranges() {
    let h = with_entries(3).await;
    let (status, body) = h.get_json("/ct/v1/get-entries?start=1&end=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "clamped to the tree");
    for (i, e) in entries.iter().enumerate() {
        let stored = h.state.ct.seq.store().entry(1 + i as u64).unwrap().unwrap();
        assert_eq!(e["leaf_input"], json!(STANDARD.encode(&stored.data)));
        // extra_data: the chain as an RFC 6962 ASN.1Cert list (u24 lengths).
        let extra = STANDARD.decode(e["extra_data"].as_str().unwrap()).unwrap();
        let chain = &h.state.ct.chain_der;
        let body_len: usize = chain.iter().map(|c| 3 + c.len()).sum();
        assert_eq!(extra.len(), 3 + body_len);
        assert_eq!(&extra[6..6 + chain[0].len()], chain[0].as_slice());
    }
    for (query, needle) in [
        ("start=2&end=1", "start <= end"),
        ("start=3&end=3", "start < 3"),
        ("start=1", "bad query string"),
    ] {
        let (status, body) = h.get_json(&format!("/ct/v1/get-entries?{query}")).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn get_roots_is_the_issuing_chain() {
    let h = Harness::new().await;
    let (status, body) = h.get_json("/ct/v1/get-roots").await;
    assert_eq!(status, StatusCode::OK);
    let want: Vec<String> = h
        .state
        .ct
        .chain_der
        .iter()
        .map(|c| STANDARD.encode(c))
        .collect();
    assert_eq!(body, json!({"certificates": want}));
    let (status, _, _) = h.post("/ct/v1/get-roots", "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
