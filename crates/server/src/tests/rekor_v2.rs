//! The Rekor v2 API: `POST /api/v2/log/entries`, `/checkpoint`, `/tile/...`.

use hallmark_sigstore::body::v2::CanonicalBody;
use hallmark_tlog::note::NoteVerifier;
use hallmark_tlog::proof::verify_inclusion;
use hallmark_tlog::{Hash, leaf_hash};
use sha2::Digest as _;

use super::*;

const EMAIL: &str = "signer@example.com";

fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    hallmark_sigstore::pem::decode_first(pem.as_bytes())
        .unwrap()
        .der
}

/// A `hashedRekordRequestV002` over `artifact`, signed by `key`, naming the DER certificate.
fn request(key: &SigningKey, cert_der: &[u8], artifact: &[u8]) -> Value {
    let sig: DerSignature = key.sign(artifact);
    json!({"hashedRekordRequestV002": {
        "digest": b64(&sha2::Sha256::digest(artifact)),
        "signature": {"content": b64(sig.as_bytes()), "verifier": {
            "x509Certificate": {"rawBytes": b64(cert_der)},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        }},
    }})
}

async fn create(h: &Harness, body: &Value) -> (StatusCode, HeaderMap, Value) {
    h.post_json("/api/v2/log/entries", body).await
}

/// The checkpoint note verified with the v2 log key: (size, root).
fn checked_checkpoint(h: &Harness, note: &str) -> (u64, Hash) {
    let v = NoteVerifier::ecdsa("127.0.0.1", *h.log_v2_key.verifying_key()).unwrap();
    let cp = v.verify_checkpoint(note).unwrap();
    assert_eq!(cp.origin, "127.0.0.1", "origin is the host name alone");
    (cp.size, cp.root)
}

#[tokio::test]
async fn an_entry_is_answered_with_a_proof_in_a_signed_checkpoint() {
    let h = Harness::new().await;
    let (key, cert) = h.certificate(EMAIL).await;
    let der = pem_to_der(&cert);
    let (status, headers, answer) = create(&h, &request(&key, &der, b"artifact")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    // Exactly the fields a TransparencyLogEntry has, zero values written, 64-bit ints as strings.
    let keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "canonicalizedBody",
            "inclusionProof",
            "integratedTime",
            "kindVersion",
            "logId",
            "logIndex"
        ]
    );
    assert_eq!(answer["logIndex"], "0");
    assert_eq!(answer["integratedTime"], "0");
    assert_eq!(
        answer["kindVersion"],
        json!({"kind": "hashedrekord", "version": "0.0.2"})
    );
    let key_id = sha2::Sha256::digest(
        h.log_v2_key
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes(),
    );
    assert_eq!(answer["logId"]["keyId"], b64(&key_id));

    // The body is the canonical v0.0.2 hashedrekord of the request.
    let body = STANDARD
        .decode(answer["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let CanonicalBody::HashedRekord(entry) = CanonicalBody::parse(&body).unwrap() else {
        panic!("not a hashedrekord");
    };
    assert_eq!(
        CanonicalBody::HashedRekord(entry.clone())
            .to_json()
            .unwrap(),
        body
    );
    assert_eq!(
        entry.data.digest.unwrap().decode().unwrap(),
        sha2::Sha256::digest(b"artifact").to_vec()
    );

    // The proof verifies against the signed checkpoint.
    let proof = &answer["inclusionProof"];
    let (size, root) = checked_checkpoint(&h, proof["checkpoint"]["envelope"].as_str().unwrap());
    assert_eq!(proof["treeSize"], size.to_string());
    assert_eq!(proof["rootHash"], b64(&root.0));
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            Hash(
                STANDARD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap(),
            )
        })
        .collect();
    verify_inclusion(0, size, &leaf_hash(&body).0, &hashes, &root.0).unwrap();

    // A second entry: index 1; the same entry again: 409 with its index.
    let (status, _, second) = create(&h, &request(&key, &der, b"second")).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["logIndex"], "1");
    let (status, headers, dup) = create(&h, &request(&key, &der, b"artifact")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    assert_eq!(headers["x-log-index"], "0");
}

#[tokio::test]
async fn snake_case_names_are_accepted() {
    let h = Harness::new().await;
    let (key, cert) = h.certificate(EMAIL).await;
    let der = pem_to_der(&cert);
    let sig: DerSignature = key.sign(b"a");
    let body = json!({"hashed_rekord_request_v002": {
        "digest": b64(&sha2::Sha256::digest(b"a")),
        "signature": {"content": b64(sig.as_bytes()), "verifier": {
            "x509_certificate": {"raw_bytes": b64(&der)}, "key_details": "PKIX_ECDSA_P256_SHA_256",
        }},
    }});
    let (status, _, answer) = create(&h, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn bad_requests_are_refused_and_store_nothing() {
    let h = Harness::new().await;
    let (key, cert) = h.certificate(EMAIL).await;
    let der = pem_to_der(&cert);
    let good = request(&key, &der, b"artifact");
    let mut cases: Vec<(Value, StatusCode, &str)> = Vec::new();
    let mut wrong_sig = good.clone();
    wrong_sig["hashedRekordRequestV002"]["digest"] = json!(b64(&sha2::Sha256::digest(b"other")));
    cases.push((wrong_sig, StatusCode::BAD_REQUEST, "signature"));
    let mut short = good.clone();
    short["hashedRekordRequestV002"]["digest"] = json!(b64(&[1; 20]));
    cases.push((short, StatusCode::BAD_REQUEST, "digest"));
    let mut p384 = good.clone();
    p384["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        json!("PKIX_ECDSA_P384_SHA_384");
    cases.push((p384, StatusCode::BAD_REQUEST, "digest"));
    let mut ed = good.clone();
    ed["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] = json!("PKIX_ED25519");
    cases.push((ed, StatusCode::BAD_REQUEST, "Ed25519"));
    let mut unknown = good.clone();
    unknown["hashedRekordRequestV002"]["extra"] = json!(1);
    cases.push((unknown, StatusCode::BAD_REQUEST, "extra"));
    // A bare key: only this CA's certificates may write.
    let spki = key.verifying_key().to_public_key_der().unwrap();
    let mut bare = good.clone();
    bare["hashedRekordRequestV002"]["signature"]["verifier"] = json!({
        "publicKey": {"rawBytes": b64(spki.as_bytes())}, "keyDetails": "PKIX_ECDSA_P256_SHA_256",
    });
    cases.push((bare, StatusCode::BAD_REQUEST, "bare public key"));
    // Another CA's certificate.
    let other = Harness::new().await;
    let (other_key, foreign) = other.certificate(EMAIL).await;
    cases.push((
        request(&other_key, &pem_to_der(&foreign), b"artifact"),
        StatusCode::BAD_REQUEST,
        "not issued by this authority",
    ));
    cases.push((
        json!({"dsseRequestV002": {"envelope": {}, "verifiers": []}}),
        StatusCode::BAD_REQUEST,
        "dsseRequestV002",
    ));
    cases.push((json!({}), StatusCode::BAD_REQUEST, "exactly one"));
    cases.push((json!([1]), StatusCode::BAD_REQUEST, ""));
    for (body, want, needle) in cases {
        let (status, _, answer) = create(&h, &body).await;
        assert_error(status, &answer, want, needle);
    }
    assert_eq!(h.state.rekor_v2.as_ref().unwrap().seq.latest().size, 0);
}

#[tokio::test]
async fn a_frozen_log_refuses_writes_and_serves_reads() {
    let h = Harness::with(|s| s.log_v2.frozen = true).await;
    let (key, cert) = h.certificate(EMAIL).await;
    let (status, _, answer) = create(&h, &request(&key, &pem_to_der(&cert), b"a")).await;
    assert_error(status, &answer, StatusCode::METHOD_NOT_ALLOWED, "frozen");
    let (status, _, body) = h.get("/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        checked_checkpoint(&h, std::str::from_utf8(&body).unwrap()).0,
        0
    );
}

#[tokio::test]
async fn a_disabled_log_is_not_served() {
    let h = Harness::with(|s| s.log_v2.enabled = false).await;
    let (status, _, _) = h.get("/checkpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = create(&h, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tiles_hold_the_tree_and_its_entries() {
    let h = Harness::new().await;
    let (key, cert) = h.certificate(EMAIL).await;
    let der = pem_to_der(&cert);
    let mut bodies = Vec::new();
    for i in 0..3u8 {
        let (status, _, answer) = create(&h, &request(&key, &der, &[i])).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        bodies.push(
            STANDARD
                .decode(answer["canonicalizedBody"].as_str().unwrap())
                .unwrap(),
        );
    }
    let (status, _, note) = h.get("/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    let (size, root) = checked_checkpoint(&h, std::str::from_utf8(&note).unwrap());
    assert_eq!(size, 3);

    // The level-0 tile holds the leaf hashes; their tree is the checkpoint's root.
    let (status, headers, tile) = h.get("/tile/0/000.p/3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
    let leaves: Vec<Hash> = tile
        .chunks(32)
        .map(|c| Hash(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        leaves,
        bodies.iter().map(|b| leaf_hash(b)).collect::<Vec<_>>()
    );
    let mut tree = hallmark_tlog::tree::MemoryHashes::new();
    for l in &leaves {
        tree.append(*l);
    }
    assert_eq!(tree.root(), root);

    // The entry bundle: 16-bit big-endian lengths, then the bodies.
    let (status, _, bundle) = h.get("/tile/entries/000.p/3").await;
    assert_eq!(status, StatusCode::OK);
    let entries = hallmark_tlog::tile::decode_entry_bundle(&bundle).unwrap();
    assert_eq!(
        entries,
        bodies.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );

    // Narrower partial tiles are prefixes; wider ones and full ones do not exist yet; junk is 404.
    let (status, _, two) = h.get("/tile/0/000.p/2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&two[..], &tile[..64]);
    for path in [
        "/tile/0/000.p/4",
        "/tile/0/000",
        "/tile/entries/000",
        "/tile/1/000.p/1",
        "/tile/0/001.p/1",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/x/000",
        "/tile/0/1",
        "/tile/99/000",
    ] {
        let (status, headers, _) = h.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
    }
}

/// With `log_v2.key_type: ed25519` checkpoints carry a C2SP Ed25519 signature (key ID from the
/// origin and key, 64-byte signature) and entries name the log by the full C2SP key hash, as
/// Sigstore's Ed25519 Rekor v2 logs do; the proof verifies against the checkpoint.
#[tokio::test]
async fn an_ed25519_log_signs_c2sp_checkpoints_and_names_itself_by_the_key_hash() {
    let h = Harness::with(|s| s.log_v2.key_type = crate::config::LogV2KeyType::Ed25519).await;
    let (key, cert) = h.certificate(EMAIL).await;
    let (status, _, answer) = create(&h, &request(&key, &pem_to_der(&cert), b"artifact")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let public = h.log_v2_ed25519_key.verifying_key();
    let v = NoteVerifier::ed25519("127.0.0.1", public).unwrap();
    let mut c2sp = b"127.0.0.1\n\x01".to_vec();
    c2sp.extend_from_slice(public.as_bytes());
    let key_hash = sha2::Sha256::digest(&c2sp);
    assert_eq!(v.key_id().key_hash(), key_hash.as_slice());
    assert_eq!(answer["logId"]["keyId"], b64(&key_hash));

    let proof = &answer["inclusionProof"];
    let note = proof["checkpoint"]["envelope"].as_str().unwrap();
    let cp = v.verify_checkpoint(note).unwrap();
    assert_eq!(cp.origin, "127.0.0.1");
    assert_eq!(proof["rootHash"], b64(&cp.root.0));
    // One signature line: key ID (4 bytes) and a 64-byte Ed25519 signature.
    let parsed = hallmark_tlog::note::Note::parse(note).unwrap();
    assert_eq!(parsed.signatures.len(), 1);
    assert_eq!(parsed.signatures[0].key_id, key_hash[..4]);
    assert_eq!(parsed.signatures[0].signature.len(), 64);
    let body = STANDARD
        .decode(answer["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    verify_inclusion::<Hash>(0, cp.size, &leaf_hash(&body).0, &[], &cp.root.0).unwrap();

    // The published checkpoint is the same note.
    let (status, _, served) = h.get("/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v.verify_checkpoint(std::str::from_utf8(&served).unwrap())
            .unwrap(),
        cp
    );
}
