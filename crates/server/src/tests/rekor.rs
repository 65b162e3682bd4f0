//! Rekor's v1 API: `POST /api/v1/log/entries` (hashedrekord, dsse, intoto), entries by index and
//! UUID, `entries/retrieve`, `index/retrieve` (search), the log info, its public key and
//! consistency proofs.

use sha2::Digest as _;
use signature::Verifier as _;

use super::*;

const EMAIL: &str = "signer@example.com";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const PAYLOAD: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}"#;

fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// A hashedrekord of `artifact` signed by `key`, naming `verifier` (a PEM certificate or key).
fn hashedrekord(key: &SigningKey, verifier: &str, artifact: &[u8]) -> Value {
    let sig: DerSignature = key.sign(artifact);
    json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(artifact))}},
            "signature": {"content": b64(sig.as_bytes()), "publicKey": {"content": b64(verifier.as_bytes())}},
        },
    })
}

/// A dsse entry of [`PAYLOAD`] signed by `key`, verified by `verifier`.
fn dsse(key: &SigningKey, verifier: &str) -> Value {
    let sig: DerSignature = key.sign(&hallmark_sigstore::dsse_pae(PAYLOAD_TYPE, PAYLOAD));
    let envelope = json!({
        "payload": b64(PAYLOAD), "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": "", "sig": b64(sig.as_bytes())}],
    });
    json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope.to_string(), "verifiers": [b64(verifier.as_bytes())]}},
    })
}

/// An intoto v0.0.2 entry of [`PAYLOAD`] signed by `key`, as sigstore-js builds it (payload and
/// signature base64 twice).
fn intoto(key: &SigningKey, verifier: &str) -> Value {
    let sig: DerSignature = key.sign(&hallmark_sigstore::dsse_pae(PAYLOAD_TYPE, PAYLOAD));
    json!({
        "apiVersion": "0.0.2", "kind": "intoto",
        "spec": {"content": {
            "envelope": {
                "payload": b64(b64(PAYLOAD).as_bytes()), "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": b64(b64(sig.as_bytes()).as_bytes()), "publicKey": b64(verifier.as_bytes())}],
            },
            "hash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(b"envelope"))},
        }},
    })
}

/// Posts `entry`; returns status, headers and the answer.
async fn create(h: &Harness, entry: &Value) -> (StatusCode, HeaderMap, Value) {
    h.post_json("/api/v1/log/entries", entry).await
}

/// The one `{uuid: entry}` of a Rekor answer, with its SET checked against the log key.
fn check_entry(h: &Harness, answer: &Value, index: u64) -> (String, Value) {
    let map = answer.as_object().unwrap();
    assert_eq!(map.len(), 1, "{answer}");
    let (uuid, entry) = map.iter().next().unwrap();
    assert_eq!(entry["logIndex"], index, "{entry}");
    assert_eq!(entry["logID"], json!(hex::encode(h.state.rekor.log_id)));
    let payload = hallmark_sigstore::set_payload(
        entry["body"].as_str().unwrap(),
        entry["integratedTime"].as_i64().unwrap(),
        entry["logID"].as_str().unwrap(),
        index,
    );
    let set = STANDARD
        .decode(
            entry["verification"]["signedEntryTimestamp"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    h.log_key
        .verifying_key()
        .verify(&payload, &DerSignature::from_bytes(&set).unwrap())
        .unwrap();
    let proof = &entry["verification"]["inclusionProof"];
    assert_eq!(proof["logIndex"], index);
    assert!(
        proof["checkpoint"].as_str().unwrap().contains(" - "),
        "{proof}"
    );
    (uuid.clone(), entry.clone())
}

/// A harness with `n` hashedrekord entries of `EMAIL`'s certificate; their UUIDs.
async fn with_entries(n: usize) -> (Harness, SigningKey, String, Vec<String>) {
    let h = Harness::new().await;
    let (key, leaf) = h.certificate(EMAIL).await;
    let mut uuids = Vec::new();
    for i in 0..n {
        let (status, _, answer) = create(
            &h,
            &hashedrekord(&key, &leaf, format!("artifact {i}").as_bytes()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        uuids.push(check_entry(&h, &answer, i as u64).0);
    }
    (h, key, leaf, uuids)
}

#[tokio::test]
async fn a_hashedrekord_signed_with_a_certificate_of_this_ca_is_logged() {
    let h = Harness::new().await;
    let (key, leaf) = h.certificate(EMAIL).await;
    let entry = hashedrekord(&key, &leaf, b"hello");
    let (status, headers, answer) = create(&h, &entry).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (uuid, logged) = check_entry(&h, &answer, 0);
    assert_eq!(
        headers[header::LOCATION],
        format!("/api/v1/log/entries/{uuid}").as_str()
    );
    // Rekor's Go client looks the entry up by the ETag: the UUID, bare.
    assert_eq!(headers[header::ETAG], uuid.as_str());
    let body = json_of(&STANDARD.decode(logged["body"].as_str().unwrap()).unwrap());
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(h.state.rekor.seq.latest().size, 1);

    // The same entry again: 409 naming the existing one.
    let (status, headers, answer) = create(&h, &entry).await;
    assert_error(status, &answer, StatusCode::CONFLICT, &uuid);
    assert_eq!(
        headers[header::LOCATION],
        format!("/api/v1/log/entries/{uuid}").as_str()
    );
    assert_eq!(h.state.rekor.seq.latest().size, 1);
}

#[tokio::test]
async fn dsse_and_intoto_entries_are_logged() {
    let h = Harness::new().await;
    let (key, leaf) = h.certificate(EMAIL).await;
    for (i, entry) in [dsse(&key, &leaf), intoto(&key, &leaf)].iter().enumerate() {
        let (status, _, answer) = create(&h, entry).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let (_, logged) = check_entry(&h, &answer, i as u64);
        let body = json_of(&STANDARD.decode(logged["body"].as_str().unwrap()).unwrap());
        assert_eq!(body["kind"], entry["kind"]);
    }
}

#[tokio::test]
async fn entries_not_signed_by_this_cas_certificates_are_refused() {
    let h = Harness::new().await;
    let (key, leaf) = h.certificate(EMAIL).await;
    let bare = hallmark_keys::generate_memory_p256().unwrap();
    let bare_pem = bare
        .verifying_key()
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .unwrap();
    let (status, _, answer) = create(&h, &hashedrekord(&bare, &bare_pem, b"x")).await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "bare public key");
    // Another CA's certificate.
    let other = Harness::new().await;
    let (other_key, other_leaf) = other.certificate(EMAIL).await;
    let (status, _, answer) = create(&h, &hashedrekord(&other_key, &other_leaf, b"x")).await;
    assert_error(
        status,
        &answer,
        StatusCode::BAD_REQUEST,
        "not issued by this authority",
    );
    // A signature that does not verify: signed by another key than the certificate's.
    let (status, _, answer) = create(&h, &hashedrekord(&bare, &leaf, b"x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Over another artifact than the digest names.
    let mut wrong = hashedrekord(&key, &leaf, b"x");
    wrong["spec"]["data"]["hash"]["value"] = json!(hex::encode([0u8; 32]));
    let (status, _, answer) = create(&h, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Not an entry at all.
    let (status, _, body) = h.post("/api/v1/log/entries", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", json_of(&body));
    let (status, _, answer) = create(
        &h,
        &json!({"apiVersion": "0.0.1", "kind": "rekord", "spec": {}}),
    )
    .await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert_eq!(h.state.rekor.seq.latest().size, 0, "nothing was logged");
}

#[tokio::test]
async fn with_accept_any_signer_a_bare_key_may_sign() {
    let h = Harness::with(|s| s.accept_any_signer = true).await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .unwrap();
    for (i, entry) in [
        hashedrekord(&key, &pem, b"a"),
        dsse(&key, &pem),
        intoto(&key, &pem),
    ]
    .iter()
    .enumerate()
    {
        let (status, _, answer) = create(&h, entry).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        check_entry(&h, &answer, i as u64);
    }
}

#[tokio::test]
async fn an_oversized_entry_is_413_and_a_non_json_one_415() {
    let h = Harness::with(|s| s.max_entry_bytes = 2048).await;
    let (key, leaf) = h.certificate(EMAIL).await;
    let mut entry = hashedrekord(&key, &leaf, b"x");
    entry["padding"] = json!("p".repeat(4096));
    let (status, _, answer) = create(&h, &entry).await;
    assert_error(
        status,
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit of 2048 bytes",
    );
    h.assert_not_json(
        "/api/v1/log/entries",
        "text/plain",
        hashedrekord(&key, &leaf, b"x").to_string(),
    )
    .await;
}

#[tokio::test]
async fn entries_by_index() {
    let (h, _, _, uuids) = with_entries(2).await;
    let (status, answer) = h.get_json("/api/v1/log/entries?logIndex=1").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(check_entry(&h, &answer, 1).0, uuids[1]);
    let (status, answer) = h.get_json("/api/v1/log/entries?logIndex=2").await;
    assert_error(
        status,
        &answer,
        StatusCode::NOT_FOUND,
        "no entry at log index 2",
    );
    for query in ["", "?logIndex=-1", "?logIndex=x"] {
        let (status, answer) = h.get_json(&format!("/api/v1/log/entries{query}")).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "bad query string");
    }
}

#[tokio::test]
async fn entries_by_uuid() {
    let (h, _, _, uuids) = with_entries(2).await;
    for (i, uuid) in uuids.iter().enumerate() {
        let (status, answer) = h.get_json(&format!("/api/v1/log/entries/{uuid}")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(&check_entry(&h, &answer, i as u64).0, uuid);
        // The bare leaf hash finds it too.
        let (status, answer) = h
            .get_json(&format!("/api/v1/log/entries/{}", &uuid[16..]))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let unknown = format!("{}{}", &uuids[0][..16], "ab".repeat(32));
    let (status, answer) = h.get_json(&format!("/api/v1/log/entries/{unknown}")).await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "no entry with UUID");
    for bad in ["xyz", "0123", &"g".repeat(80)] {
        let (status, answer) = h.get_json(&format!("/api/v1/log/entries/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }
}

#[tokio::test]
async fn retrieve_by_uuids_and_indexes() {
    let (h, _, _, uuids) = with_entries(3).await;
    let (status, _, answer) = h
        .post_json(
            "/api/v1/log/entries/retrieve",
            &json!({"entryUUIDs": [uuids[2]], "logIndexes": [0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let list = answer.as_array().unwrap();
    assert_eq!(list.len(), 2);
    // Indexes first, then UUIDs.
    assert_eq!(check_entry(&h, &list[0], 0).0, uuids[0]);
    assert_eq!(check_entry(&h, &list[1], 2).0, uuids[2]);
    for (body, want, needle) in [
        (
            json!({"logIndexes": [1], "entryUUIDs": [uuids[1]]}),
            StatusCode::BAD_REQUEST,
            "more than once",
        ),
        (
            json!({"logIndexes": (0..101).collect::<Vec<u64>>()}),
            StatusCode::BAD_REQUEST,
            "at most 100",
        ),
        (
            json!({"logIndexes": [7]}),
            StatusCode::NOT_FOUND,
            "no entry at log index 7",
        ),
        (json!({"entryUUIDs": ["zz"]}), StatusCode::BAD_REQUEST, ""),
        (
            json!({"somethingElse": []}),
            StatusCode::BAD_REQUEST,
            "expected",
        ),
    ] {
        let (status, _, answer) = h.post_json("/api/v1/log/entries/retrieve", &body).await;
        assert_error(status, &answer, want, needle);
    }
    let (status, _, body) = h.post("/api/v1/log/entries/retrieve", "[").await;
    assert_error(status, &json_of(&body), StatusCode::BAD_REQUEST, "expected");
}

#[tokio::test]
async fn retrieve_bodies_are_limited() {
    let h = Harness::with(|s| s.max_body_bytes = 256).await;
    let big = json!({"logIndexes": [], "entryUUIDs": ["a".repeat(300)]});
    for path in ["/api/v1/log/entries/retrieve", "/api/v1/index/retrieve"] {
        let (status, _, answer) = h.post_json(path, &big).await;
        assert_error(
            status,
            &answer,
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit of 256 bytes",
        );
        h.assert_not_json(path, "text/plain", "{}").await;
    }
}

#[tokio::test]
async fn search_by_email_hash_and_public_key_newest_first_with_a_cursor() {
    let (h, _, leaf, uuids) = with_entries(3).await;
    let newest_first: Vec<String> = uuids.iter().rev().cloned().collect();
    let search = |body: Value| {
        let h = &h;
        async move { h.post_json("/api/v1/index/retrieve", &body).await }
    };
    let (status, headers, answer) = search(json!({"email": EMAIL.to_uppercase()})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!(newest_first));
    assert!(headers.get("x-next-cursor").is_none(), "one page");
    let digest = hex::encode(sha2::Sha256::digest(b"artifact 1"));
    let (status, _, answer) = search(json!({"hash": format!("sha256:{digest}")})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!([uuids[1]]));
    let (_, _, answer) = search(json!({"hash": digest})).await;
    assert_eq!(answer, json!([uuids[1]]), "the sha256: prefix is optional");
    let (status, _, answer) =
        search(json!({"publicKey": {"format": "x509", "content": b64(leaf.as_bytes())}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!(newest_first));
    let (_, _, answer) = search(json!({"email": "nobody@example.com"})).await;
    assert_eq!(answer, json!([]));

    // Pages of two: the cursor reaches the oldest.
    let (_, headers, page) = search(json!({"email": EMAIL, "limit": 2})).await;
    assert_eq!(page, json!(newest_first[..2]));
    let cursor = headers["x-next-cursor"].to_str().unwrap().to_owned();
    let (_, headers, page) = search(json!({"email": EMAIL, "limit": 2, "cursor": cursor})).await;
    assert_eq!(page, json!(newest_first[2..]));
    assert!(headers.get("x-next-cursor").is_none());

    for (body, needle) in [
        (json!({}), "exactly one of"),
        (
            json!({"email": EMAIL, "hash": format!("sha256:{digest}")}),
            "exactly one of",
        ),
        (json!({"hash": "sha256:abc"}), "64 hex digits"),
        (json!({"publicKey": {}}), "publicKey.content is missing"),
        (json!({"publicKey": {"content": "%%"}}), "not base64"),
        (
            json!({"publicKey": {"content": b64(b"junk")}}),
            "not a PEM public key",
        ),
        (
            json!({"email": EMAIL, "limit": 0}),
            "limit must be between 1 and 10000",
        ),
        (
            json!({"email": EMAIL, "limit": 10_001}),
            "limit must be between",
        ),
        (json!({"email": EMAIL, "cursor": "later"}), "cursor"),
        (json!({"email": EMAIL, "unknown": 1}), "expected"),
    ] {
        let (status, _, answer) = search(body.clone()).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn log_info_and_public_key() {
    let (h, _, _, _) = with_entries(2).await;
    let (status, info) = h.get_json("/api/v1/log").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let tree = h.state.rekor.seq.latest();
    assert_eq!(info["treeSize"], 2);
    assert_eq!(info["rootHash"], json!(tree.root.to_hex()));
    assert_eq!(info["signedTreeHead"], json!(&*tree.checkpoint));
    assert_eq!(info["treeID"], json!(h.state.rekor.tree_id.to_string()));
    assert_eq!(info["inactiveShards"], json!([]));

    let (status, headers, pem) = h.get("/api/v1/log/publicKey").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-pem-file");
    assert_eq!(
        std::str::from_utf8(&pem).unwrap(),
        h.log_key
            .verifying_key()
            .to_public_key_pem(spki::der::pem::LineEnding::LF)
            .unwrap()
    );
}

#[tokio::test]
async fn consistency_proofs() {
    let (h, _, _, _) = with_entries(3).await;
    let (status, proof) = h.get_json("/api/v1/log/proof?firstSize=1&lastSize=3").await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let want: Vec<String> = h
        .state
        .rekor
        .seq
        .consistency_proof(1, 3)
        .unwrap()
        .iter()
        .map(hallmark_tlog::Hash::to_hex)
        .collect();
    assert_eq!(proof["hashes"], json!(want));
    assert_eq!(
        proof["rootHash"],
        json!(h.state.rekor.seq.root_at(3).unwrap().to_hex())
    );
    // firstSize defaults to 1.
    let (status, same) = h.get_json("/api/v1/log/proof?lastSize=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, proof);
    for (query, needle) in [
        ("firstSize=0&lastSize=2", "1 <= firstSize"),
        ("firstSize=3&lastSize=2", "1 <= firstSize"),
        ("firstSize=1&lastSize=4", "current tree size"),
        ("firstSize=1", "bad query string"),
    ] {
        let (status, answer) = h.get_json(&format!("/api/v1/log/proof?{query}")).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, needle);
    }
}
