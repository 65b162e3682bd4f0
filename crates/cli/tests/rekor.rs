//! The signature log's Rekor v1 API over HTTP: entries built by hand from a certificate this CA
//! issued and openssl signatures; proofs checked by `ct-merkle` (an independent implementation),
//! the SET by Python `cryptography`; every bad input a 4xx that leaves the log unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EMAIL: &str = "logger@example.com";

/// A certificate from this CA for a fresh key: (key path, leaf PEM).
fn certificate(stack: &Stack, dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let (key, mut chain) = request_certificate(stack, dir, name, EMAIL);
    (key, chain.swap_remove(0))
}

fn hashedrekord(sig: &[u8], public_pem: &str, digest_hex: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {"content": STANDARD.encode(sig), "publicKey": {"content": STANDARD.encode(public_pem)}},
            "data": {"hash": {"algorithm": "sha256", "value": digest_hex}}
        }
    }))
    .unwrap()
}

/// Signs `artifact` (openssl signs SHA-256 of it, which is what hashedrekord verifies).
fn signed_entry(key: &Path, leaf: &str, artifact: &[u8], dir: &Path) -> Vec<u8> {
    let sig = openssl_sign(key, artifact, dir);
    hashedrekord(&sig, leaf, &hex::encode(Sha256::digest(artifact)))
}

/// Posts a hashedrekord entry for `artifact` signed with `key`; asserts the 201 and returns
/// the answer.
fn create_signed(stack: &Stack, key: &Path, leaf: &str, artifact: &[u8], dir: &Path) -> Value {
    let (status, resp) = stack
        .post(
            "/api/v1/log/entries",
            &signed_entry(key, leaf, artifact, dir),
            None,
        )
        .unwrap();
    assert_eq!(status, 201, "{resp}");
    resp
}

fn the_entry(resp: &Value) -> (&String, &Value) {
    resp.as_object().unwrap().iter().next().unwrap()
}

fn log_state(stack: &Stack) -> (u64, String) {
    let (_, text) = stack.get("/api/v1/log").unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    (
        v["treeSize"].as_u64().unwrap(),
        v["rootHash"].as_str().unwrap().to_owned(),
    )
}

fn hash32(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

#[test]
fn entries_proofs_search_and_bad_input() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, leaf) = certificate(&stack, &dir, "signer");
    let (_, public_pem) = stack.get("/api/v1/log/publicKey").unwrap();
    std::fs::write(dir.join("log.pem"), &public_pem).unwrap();

    let mut bodies = Vec::new();
    let mut roots: Vec<(u64, [u8; 32])> = Vec::new();
    for i in 0..5u8 {
        let artifact = format!("artifact number {i}\n").into_bytes();
        let resp = create_signed(&stack, &key, &leaf, &artifact, &dir);
        let (uuid, e) = the_entry(&resp);
        let body = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
        let index = e["logIndex"].as_u64().unwrap();
        assert_eq!(index, u64::from(i));
        assert!(
            uuid.ends_with(&hex::encode(hallmark_tlog::leaf_hash(&body).0)),
            "{uuid}"
        );
        let proof = &e["verification"]["inclusionProof"];
        let size = proof["treeSize"].as_u64().unwrap();
        let root = hash32(proof["rootHash"].as_str().unwrap());
        let hashes: Vec<u8> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect();
        // ct-merkle, not our code, checks the inclusion proof.
        RootHash::<Sha256>::new(root.into(), size)
            .verify_inclusion(&body, index, &InclusionProof::<Sha256>::from_bytes(hashes))
            .unwrap();
        assert!(
            proof["checkpoint"]
                .as_str()
                .unwrap()
                .contains(&format!("\n{size}\n"))
        );
        // The SET: the log key's signature over the canonical JSON of body, time, log ID, index.
        std::fs::write(dir.join("entry.json"), serde_json::to_vec(e).unwrap()).unwrap();
        let out = py(
            r#"
import sys, json, base64
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
e = json.load(open(sys.argv[1]))
key = serialization.load_pem_public_key(open(sys.argv[2], 'rb').read())
payload = json.dumps({"body": e["body"], "integratedTime": e["integratedTime"], "logID": e["logID"], "logIndex": e["logIndex"]}, sort_keys=True, separators=(",", ":")).encode()
key.verify(base64.b64decode(e["verification"]["signedEntryTimestamp"]), payload, ec.ECDSA(hashes.SHA256()))
print("SET OK")
"#,
            &[
                dir.join("entry.json").to_str().unwrap(),
                dir.join("log.pem").to_str().unwrap(),
            ],
        );
        assert!(out.contains("SET OK"), "{out}");
        bodies.push((uuid.clone(), body, artifact));
        roots.push((size, root));
    }

    // Consistency between every pair of served sizes, checked by ct-merkle.
    for &(m, old) in &roots {
        for &(n, new) in &roots {
            if m >= n {
                continue;
            }
            let (status, text) = stack
                .get(&format!("/api/v1/log/proof?firstSize={m}&lastSize={n}"))
                .unwrap();
            assert_eq!(status, 200, "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(hash32(v["rootHash"].as_str().unwrap()), new);
            let hashes: Vec<u8> = v["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|h| hex::decode(h.as_str().unwrap()).unwrap())
                .collect();
            RootHash::<Sha256>::new(new.into(), n)
                .verify_consistency(
                    &RootHash::<Sha256>::new(old.into(), m),
                    &ConsistencyProof::<Sha256>::try_from_bytes(hashes).unwrap(),
                )
                .unwrap_or_else(|e| panic!("consistency {m} -> {n}: {e:?}"));
        }
    }

    // Reads and search.
    let (uuid0, body0, artifact0) = &bodies[0];
    for path in [
        "/api/v1/log/entries?logIndex=0".to_owned(),
        format!("/api/v1/log/entries/{uuid0}"),
    ] {
        let (status, text) = stack.get(&path).unwrap();
        assert_eq!(status, 200, "{path}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let (_, e) = the_entry(&v);
        assert_eq!(
            STANDARD.decode(e["body"].as_str().unwrap()).unwrap(),
            *body0
        );
    }
    let (status, v) = stack
        .post(
            "/api/v1/log/entries/retrieve",
            json!({"logIndexes": [1, 3]}).to_string().as_bytes(),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 2);
    let digest = hex::encode(Sha256::digest(artifact0));
    let (status, v) = stack
        .post(
            "/api/v1/index/retrieve",
            json!({"hash": format!("sha256:{digest}")})
                .to_string()
                .as_bytes(),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!([uuid0]));
    let (_, v) = stack
        .post(
            "/api/v1/index/retrieve",
            json!({"email": EMAIL}).to_string().as_bytes(),
            None,
        )
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5, "{v}");

    // A duplicate is a 409 pointing at the existing entry.
    let (status, v) = stack
        .post(
            "/api/v1/log/entries",
            &signed_entry(&key, &leaf, artifact0, &dir),
            None,
        )
        .unwrap();
    // ECDSA signatures differ per signing, so re-post the exact same body instead.
    assert_eq!(status, 201, "{v}");
    let (uuid_dup, e) = the_entry(&v);
    let same = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
    let mut again = serde_json::to_vec(&json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": serde_json::from_slice::<Value>(&same).unwrap()["spec"].clone()
    }))
    .unwrap();
    let (status, v) = stack.post("/api/v1/log/entries", &again, None).unwrap();
    assert_eq!(status, 409, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains(uuid_dup.as_str()),
        "{v}"
    );

    // Bad input: each a 4xx with a message, and the log unchanged.
    let before = log_state(&stack);
    let (other_key, _) = openssl_key_and_csr(&dir, "other");
    let (foreign_key, foreign_csr) = openssl_key_and_csr(&dir, "foreign");
    let foreign_cert = run(std::process::Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-in"])
        .arg(&foreign_csr)
        .arg("-signkey")
        .arg(&foreign_key));
    let art = b"some artifact".to_vec();
    let digest = hex::encode(Sha256::digest(&art));
    let good_sig = openssl_sign(&key, &art, &dir);
    again.truncate(again.len() / 2);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("truncated JSON", again.clone(), 400),
        ("wrong kind", serde_json::to_vec(&json!({"apiVersion":"0.0.1","kind":"rekord","spec":{}})).unwrap(), 400),
        ("wrong version", serde_json::to_vec(&json!({"apiVersion":"9.9.9","kind":"hashedrekord","spec":{}})).unwrap(), 400),
        (
            "bad base64",
            serde_json::to_vec(&json!({"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"signature":{"content":"!!!","publicKey":{"content":STANDARD.encode(&leaf)}},"data":{"hash":{"algorithm":"sha256","value":digest}}}})).unwrap(),
            400,
        ),
        ("signature by a different key", hashedrekord(&openssl_sign(&other_key, &art, &dir), &leaf, &digest), 400),
        ("digest of something else", hashedrekord(&good_sig, &leaf, &hex::encode(Sha256::digest(b"else"))), 400),
        ("certificate from an unknown CA", signed_entry(&foreign_key, &foreign_cert, &art, &dir), 400),
        ("oversized", vec![b' '; 200 * 1024], 413),
    ];
    for (what, body, want) in cases {
        let (status, v) = stack.post("/api/v1/log/entries", &body, None).unwrap();
        assert_eq!(status, want, "{what}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {v}"
        );
    }
    assert_eq!(log_state(&stack), before, "bad input changed the log");
}

const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A dsse entry: one envelope signature per (key, verifier PEM), all over `payload`.
fn dsse_entry(signers: &[(&Path, &str)], payload: &[u8], dir: &Path) -> Vec<u8> {
    let sigs: Vec<Value> = signers
        .iter()
        .map(|(key, _)| json!({"keyid": "", "sig": STANDARD.encode(openssl_sign(key, &pae(payload), dir))}))
        .collect();
    let envelope = json!({"payload": STANDARD.encode(payload), "payloadType": PAYLOAD_TYPE, "signatures": sigs});
    let verifiers: Vec<String> = signers
        .iter()
        .map(|(_, pem)| STANDARD.encode(pem))
        .collect();
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope.to_string(), "verifiers": verifiers}}
    }))
    .unwrap()
}

/// An intoto v0.0.2 entry (single base64 encoding): each signature with its own publicKey.
fn intoto_entry(signers: &[(&Path, &str)], payload: &[u8], dir: &Path) -> Vec<u8> {
    let sigs: Vec<Value> = signers
        .iter()
        .map(|(key, pem)| {
            json!({
                "sig": STANDARD.encode(openssl_sign(key, &pae(payload), dir)),
                "publicKey": STANDARD.encode(pem),
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.2", "kind": "intoto",
        "spec": {"content": {
            "envelope": {"payload": STANDARD.encode(payload), "payloadType": PAYLOAD_TYPE, "signatures": sigs},
            "hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}
        }}
    }))
    .unwrap()
}

/// A self-signed certificate for a fresh key, from no CA of ours: (key, PEM).
fn foreign_certificate(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let (key, csr) = openssl_key_and_csr(dir, name);
    let cert = run(std::process::Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-in"])
        .arg(&csr)
        .arg("-signkey")
        .arg(&key));
    (key, cert)
}

/// With `log.accept_any_signer: false` (the default) every verifier of every entry kind must be
/// a certificate from this CA: a bare key or a foreign certificate anywhere in an entry is a
/// 400 naming the verifier, and the log does not change.
#[test]
fn foreign_signers_are_refused_in_every_entry_kind() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, leaf) = certificate(&stack, &dir, "signer");
    let (bare_key, _) = openssl_key_and_csr(&dir, "bare");
    let bare_pem = openssl_pubkey(&bare_key);
    let (foreign_key, foreign_pem) = foreign_certificate(&dir, "foreign");
    let statement = |n: u32| format!(r#"{{"_type":"https://in-toto.io/Statement/v1","n":{n}}}"#);

    // Well-formed entries by our own certificate are logged (so the refusals below are about
    // the signers, not the shape).
    let ours: &[(&Path, &str)] = &[(&key, &leaf)];
    for (what, body) in [
        ("dsse", dsse_entry(ours, statement(0).as_bytes(), &dir)),
        ("intoto", intoto_entry(ours, statement(1).as_bytes(), &dir)),
    ] {
        let (status, v) = stack.post("/api/v1/log/entries", &body, None).unwrap();
        assert_eq!(status, 201, "{what}: {v}");
    }

    let before = log_state(&stack);
    let art = b"an artifact".to_vec();
    let bare: (&Path, &str) = (&bare_key, &bare_pem);
    let foreign: (&Path, &str) = (&foreign_key, &foreign_pem);
    let mine: (&Path, &str) = (&key, &leaf);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "hashedrekord by a bare key",
            signed_entry(&bare_key, &bare_pem, &art, &dir),
            "verifier 1 of 1 is a bare public key; this log accepts only certificates issued by its CA",
        ),
        (
            "dsse, second signature by a bare key",
            dsse_entry(&[mine, bare], statement(2).as_bytes(), &dir),
            "verifier 2 of 2 is a bare public key",
        ),
        (
            "dsse, second signature by a foreign certificate",
            dsse_entry(&[mine, foreign], statement(3).as_bytes(), &dir),
            "verifier 2 of 2: the signing certificate was not issued by this authority's CA",
        ),
        (
            "dsse, first signature by a bare key",
            dsse_entry(&[bare, mine], statement(4).as_bytes(), &dir),
            "verifier 1 of 2 is a bare public key",
        ),
        (
            "intoto, second signature by a bare key",
            intoto_entry(&[mine, bare], statement(5).as_bytes(), &dir),
            "verifier 2 of 2 is a bare public key",
        ),
        (
            "intoto, second signature by a foreign certificate",
            intoto_entry(&[mine, foreign], statement(6).as_bytes(), &dir),
            "verifier 2 of 2: the signing certificate was not issued by this authority's CA",
        ),
        (
            "intoto, three signatures, the last a bare key",
            intoto_entry(&[mine, mine, bare], statement(7).as_bytes(), &dir),
            "verifier 3 of 3 is a bare public key",
        ),
    ];
    for (what, body, want) in cases {
        let (status, v) = stack.post("/api/v1/log/entries", &body, None).unwrap();
        assert_eq!(status, 400, "{what}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{what}: {v}");
    }
    assert_eq!(
        log_state(&stack),
        before,
        "a foreign signer changed the log"
    );
}

/// `log.accept_any_signer: true` logs entries signed by bare keys, alone or next to a
/// certificate of this CA.
#[test]
fn accept_any_signer_logs_bare_keys() {
    let stack = Stack::start_with(&bin(), "log:\n  accept_any_signer: true\n").unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, leaf) = certificate(&stack, &dir, "signer");
    let (bare_key, _) = openssl_key_and_csr(&dir, "bare");
    let bare_pem = openssl_pubkey(&bare_key);
    let (status, v) = stack
        .post(
            "/api/v1/log/entries",
            &signed_entry(&bare_key, &bare_pem, b"an artifact", &dir),
            None,
        )
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let (status, v) = stack
        .post(
            "/api/v1/log/entries",
            &dsse_entry(&[(&key, &leaf), (&bare_key, &bare_pem)], b"{}", &dir),
            None,
        )
        .unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(log_state(&stack).0, 2);
}

/// The value of `hallmark_hsm_signatures_total{key="<key>"}` in `/metrics`.
fn hsm_signatures(stack: &Stack, key: &str) -> u64 {
    let (status, text) = stack.get("/metrics").unwrap();
    assert_eq!(status, 200, "{text}");
    let prefix = format!("hallmark_hsm_signatures_total{{key=\"{key}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

fn post_json(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    stack.post(path, body.to_string().as_bytes(), None).unwrap()
}

/// Anonymous reads make the HSM sign nothing: each entry's SET was signed once, as it was
/// appended, and every read serves that stored SET (ECDSA is randomised, so a SET signed per read
/// would differ each time); CT tree heads are signed once per tree size, even for many readers
/// at once. `retrieve` refuses to fetch an entry twice.
#[test]
fn reads_never_make_the_hsm_sign() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, leaf) = certificate(&stack, &dir, "reader-test");
    let mut created = Vec::new();
    for i in 0..4u8 {
        let artifact = format!("read me {i}\n").into_bytes();
        let resp = create_signed(&stack, &key, &leaf, &artifact, &dir);
        let (uuid, e) = the_entry(&resp);
        created.push((
            uuid.clone(),
            e["verification"]["signedEntryTimestamp"].clone(),
        ));
    }
    let (status, _) = stack.get("/ct/v1/get-sth").unwrap();
    assert_eq!(status, 200);
    let log_before = hsm_signatures(&stack, "log");
    let ct_before = hsm_signatures(&stack, "ct_log");
    // One signature per entry (its SET) and one checkpoint per batch: at least five in all.
    assert!(log_before >= 5, "{log_before}");

    for round in 0..10 {
        for (i, (uuid, set)) in created.iter().enumerate() {
            for path in [
                format!("/api/v1/log/entries?logIndex={i}"),
                format!("/api/v1/log/entries/{uuid}"),
            ] {
                let (status, text) = stack.get(&path).unwrap();
                assert_eq!(status, 200, "{path}: {text}");
                let v: Value = serde_json::from_str(&text).unwrap();
                let (_, e) = the_entry(&v);
                assert_eq!(
                    &e["verification"]["signedEntryTimestamp"], set,
                    "round {round}: {path} served another SET than the one made at append"
                );
            }
        }
        let (status, v) = post_json(
            &stack,
            "/api/v1/log/entries/retrieve",
            json!({"logIndexes": [0, 1, 2, 3]}),
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v.as_array().unwrap().len(), 4);
        for path in ["/ct/v1/get-sth", "/api/v1/log"] {
            assert_eq!(stack.get(path).unwrap().0, 200, "{path}");
        }
    }
    assert_eq!(
        hsm_signatures(&stack, "log"),
        log_before,
        "reads made the log key sign"
    );
    assert_eq!(
        hsm_signatures(&stack, "ct_log"),
        ct_before,
        "reads made the CT key sign"
    );

    // The same entry twice in one retrieve, by index or by UUID: refused.
    for body in [
        json!({"logIndexes": [1, 1]}),
        json!({"logIndexes": [0], "entryUUIDs": [created[0].0]}),
    ] {
        let (status, v) = post_json(&stack, "/api/v1/log/entries/retrieve", body.clone());
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("more than once"),
            "{v}"
        );
    }

    // A new certificate grows the CT tree; then many readers at once get one new STH between
    // them.
    certificate(&stack, &dir, "grows-the-ct-log");
    let ct_grown = hsm_signatures(&stack, "ct_log");
    let url = stack.url.clone();
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let out = std::process::Command::new("curl")
                    .args(["-sS", "--fail", &format!("{url}/ct/v1/get-sth")])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let sth: Value = serde_json::from_slice(&out.stdout).unwrap();
                sth["tree_size"].as_u64().unwrap()
            })
        })
        .collect();
    let sizes: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
    assert_eq!(
        hsm_signatures(&stack, "ct_log"),
        ct_grown + 1,
        "16 concurrent get-sth of one new tree size made other than one signature"
    );
}

/// Search answers newest first and pages with a cursor (`x-next-cursor`), so nothing under an
/// identity can be hidden; a request without paging fields still gets Rekor's plain array.
#[test]
fn search_pages_newest_first() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, leaf) = certificate(&stack, &dir, "pager");
    let mut uuids = Vec::new();
    for i in 0..5u8 {
        let artifact = format!("page me {i}\n").into_bytes();
        let resp = create_signed(&stack, &key, &leaf, &artifact, &dir);
        uuids.push(the_entry(&resp).0.clone());
    }
    let newest_first: Vec<Value> = uuids.iter().rev().map(|u| json!(u)).collect();

    let (status, next, v) = stack
        .post_header(
            "/api/v1/index/retrieve",
            json!({"email": EMAIL}).to_string().as_bytes(),
            "x-next-cursor",
        )
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, Value::Array(newest_first.clone()));
    assert_eq!(next, None, "one page holds everything");

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = json!({"email": EMAIL, "limit": 2});
        if let Some(c) = &cursor {
            req["cursor"] = json!(c);
        }
        let (status, next, v) = stack
            .post_header(
                "/api/v1/index/retrieve",
                req.to_string().as_bytes(),
                "x-next-cursor",
            )
            .unwrap();
        assert_eq!(status, 200, "{v}");
        pages.push(v.as_array().unwrap().clone());
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    assert_eq!(pages.concat(), newest_first);

    for (req, what) in [
        (json!({"email": EMAIL, "limit": 0}), "limit"),
        (json!({"email": EMAIL, "limit": 10_001}), "limit"),
        (json!({"email": EMAIL, "cursor": "not a cursor"}), "cursor"),
        (json!({"email": EMAIL, "page": 2}), "page"),
    ] {
        let (status, v) = post_json(&stack, "/api/v1/index/retrieve", req.clone());
        assert_eq!(status, 400, "{req}: {v}");
        assert!(v["message"].as_str().unwrap().contains(what), "{req}: {v}");
    }
}
