//! The certificate authority end to end: the real `hallmark serve` with SoftHSM keys and the
//! development OIDC issuer on loopback, checked with openssl, Python `cryptography` (an
//! independent SCT implementation) and pkilint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "alice@example.com";

fn email_token(stack: &Stack) -> String {
    stack
        .mint(json!({ "sub": EMAIL, "email": EMAIL, "email_verified": true }))
        .unwrap()
}

/// The chain PEMs of a successful answer.
fn chain(resp: &Value) -> Vec<String> {
    resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no chain in {resp}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

fn csr_request(csr_pem: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "certificateSigningRequest": STANDARD.encode(csr_pem) })).unwrap()
}

/// The CT log's public key, read from the HSM through `hallmark hsm keygen --if-missing`.
fn ct_public_key(stack: &Stack) -> String {
    let config = std::fs::read_to_string(stack.config()).unwrap();
    let key = config
        .lines()
        .skip_while(|l| !l.starts_with("ct_log:"))
        .find_map(|l| l.trim().strip_prefix("key: "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    run(stack
        .command()
        .args(["hsm", "keygen", "--if-missing", "--key"])
        .arg(key))
}

const CHECK_SCT: &str = r#"
import sys, hashlib
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
leaf = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
issuer = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())
ct_key = serialization.load_pem_public_key(open(sys.argv[3], 'rb').read())
scts = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
assert len(scts) == 1, len(scts)
sct = scts[0]
spki = ct_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
assert sct.log_id == hashlib.sha256(spki).digest(), "log id is not sha256 of the CT key"
ikh = hashlib.sha256(issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
tbs = leaf.tbs_precertificate_bytes
ts = int(sct.timestamp.timestamp() * 1000)
signed = bytes([0, 0]) + ts.to_bytes(8, 'big') + (1).to_bytes(2, 'big') + ikh + len(tbs).to_bytes(3, 'big') + tbs + (0).to_bytes(2, 'big')
ct_key.verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))
nb = leaf.not_valid_before_utc
na = leaf.not_valid_after_utc
assert (na - nb).total_seconds() == 600, (nb, na)
assert nb.timestamp() * 1000 <= ts + 1000, "SCT timestamp before notBefore"
san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
assert san.critical
print("SAN", san.value.get_values_for_type(x509.RFC822Name))
ext = {e.oid.dotted_string: e.value for e in leaf.extensions}
print("ISSUER1", ext['1.3.6.1.4.1.57264.1.1'].value.decode())
print("ISSUER8", ext['1.3.6.1.4.1.57264.1.8'].value.hex())
eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
assert x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in eku
print("SCT OK", ts)
"#;

fn write_chain(dir: &std::path::Path, pems: &[String]) {
    assert_eq!(pems.len(), 3, "leaf, issuing CA, root");
    for (name, pem) in ["leaf.pem", "issuing.pem", "root.pem"].iter().zip(pems) {
        std::fs::write(dir.join(name), pem).unwrap();
    }
}

fn pkilint(path: &std::path::Path) {
    let out = Command::new(venv_bin("lint_pkix_cert"))
        .arg("lint")
        .arg(path)
        .output()
        .expect("pkilint (lint_pkix_cert) is installed by scripts/test.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(ERROR)") || l.contains("(FATAL)") || l.contains("(CRITICAL)"))
        .collect();
    assert!(
        errors.is_empty(),
        "pkilint errors for {}:\n{text}",
        path.display()
    );
}

#[test]
fn csr_request_gets_a_chain_that_openssl_python_and_pkilint_accept() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, csr) = openssl_key_and_csr(&dir, "client");
    let token = email_token(&stack);
    let (status, resp) = stack
        .post(
            "/api/v2/signingCert",
            &csr_request(&std::fs::read_to_string(&csr).unwrap()),
            Some(&token),
        )
        .unwrap();
    assert_eq!(status, 200, "{resp}");
    let pems = chain(&resp);
    write_chain(&dir, &pems);

    // openssl: the chain validates (Debian's OpenSSL 3.0 has no codesign purpose; the Python
    // check below asserts the codeSigning EKU).
    openssl_verify_chain(&dir);

    // The leaf's public key is the CSR's.
    let csr_key = run(Command::new("openssl")
        .args(["req", "-noout", "-pubkey", "-in"])
        .arg(&csr));
    let leaf_key = run(Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(dir.join("leaf.pem")));
    assert_eq!(csr_key, leaf_key);

    // Python cryptography: the embedded SCT verifies against the CT key, the profile holds.
    std::fs::write(dir.join("ct.pem"), ct_public_key(&stack)).unwrap();
    let out = py(
        CHECK_SCT,
        &[
            dir.join("leaf.pem").to_str().unwrap(),
            dir.join("issuing.pem").to_str().unwrap(),
            dir.join("ct.pem").to_str().unwrap(),
        ],
    );
    assert!(out.contains("SCT OK"), "{out}");
    assert!(out.contains(&format!("SAN ['{EMAIL}']")), "{out}");
    assert!(
        out.contains(&format!("ISSUER1 {}", stack.issuer())),
        "{out}"
    );
    // .8 is a DER UTF8String (tag 0x0c) of the issuer.
    let want8 = format!(
        "0c{:02x}{}",
        stack.issuer().len(),
        hex::encode(stack.issuer())
    );
    assert!(out.contains(&format!("ISSUER8 {want8}")), "{out}");

    // pkilint: no errors in any certificate.
    for name in ["leaf.pem", "issuing.pem", "root.pem"] {
        pkilint(&dir.join(name));
    }

    // The trust bundle serves the same CA chain.
    let (status, bundle) = stack.get("/api/v2/trustBundle").unwrap();
    assert_eq!(status, 200);
    let bundle: Value = serde_json::from_str(&bundle).unwrap();
    let certs = bundle["chains"][0]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].as_str().unwrap().trim(), pems[1].trim());
    assert_eq!(certs[1].as_str().unwrap().trim(), pems[2].trim());
    let (status, config) = stack.get("/api/v2/configuration").unwrap();
    assert_eq!(status, 200);
    assert!(config.contains(&stack.issuer()), "{config}");
}

#[test]
fn public_key_request_with_proof_of_possession() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (key, _) = openssl_key_and_csr(&dir, "js");
    let (other, _) = openssl_key_and_csr(&dir, "other");
    let token = email_token(&stack);
    let body = |pub_pem: &str, sig: &[u8]| {
        serde_json::to_vec(&json!({
            "credentials": { "oidcIdentityToken": token },
            "publicKeyRequest": {
                "publicKey": { "algorithm": "ECDSA", "content": pub_pem },
                "proofOfPossession": STANDARD.encode(sig),
            }
        }))
        .unwrap()
    };
    let good = openssl_sign(&key, EMAIL.as_bytes(), &dir);
    let (status, resp) = stack
        .post(
            "/api/v2/signingCert",
            &body(&openssl_pubkey(&key), &good),
            None,
        )
        .unwrap();
    assert_eq!(status, 200, "{resp}");
    write_chain(&dir, &chain(&resp));
    openssl_verify_chain(&dir);

    // Proof by another key than the one submitted.
    let by_other = openssl_sign(&other, EMAIL.as_bytes(), &dir);
    let (status, resp) = stack
        .post(
            "/api/v2/signingCert",
            &body(&openssl_pubkey(&key), &by_other),
            None,
        )
        .unwrap();
    assert_eq!(status, 400, "{resp}");
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .contains("proof of possession"),
        "{resp}"
    );
    // Proof over the wrong challenge.
    let wrong = openssl_sign(&key, b"bob@example.com", &dir);
    let (status, _) = stack
        .post(
            "/api/v2/signingCert",
            &body(&openssl_pubkey(&key), &wrong),
            None,
        )
        .unwrap();
    assert_eq!(status, 400);
}

/// Every client mistake gets its 4xx and a JSON message naming the problem.
#[test]
fn bad_requests_get_clear_errors() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, csr) = openssl_key_and_csr(&dir, "c");
    let csr_pem = std::fs::read_to_string(&csr).unwrap();
    let req = csr_request(&csr_pem);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // (what, token, body, expected status, a word the message must contain)
    type Case = (&'static str, Option<String>, Vec<u8>, u16, &'static str);
    let mut cases: Vec<Case> = vec![
        ("no token", None, req.clone(), 401, "token"),
        (
            "expired token",
            Some(stack.mint(json!({"email": EMAIL, "email_verified": true, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})).unwrap()),
            req.clone(),
            401,
            "expired",
        ),
        (
            "wrong audience",
            Some(stack.mint(json!({"email": EMAIL, "email_verified": true, "aud": "not-sigstore"})).unwrap()),
            req.clone(),
            401,
            "audience",
        ),
        (
            "issuer not allowed",
            Some(stack.mint(json!({"email": EMAIL, "email_verified": true, "iss": "https://evil.example.com"})).unwrap()),
            req.clone(),
            403,
            "evil.example.com",
        ),
        (
            "email not verified",
            Some(stack.mint(json!({"email": EMAIL, "email_verified": false})).unwrap()),
            req.clone(),
            401,
            "email_verified",
        ),
        (
            "bad signature",
            Some({
                let t = email_token(&stack);
                let (head, sig) = t.rsplit_once('.').unwrap();
                let mut sig = sig.as_bytes().to_vec();
                sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
                format!("{head}.{}", String::from_utf8(sig).unwrap())
            }),
            req.clone(),
            401,
            "signature",
        ),
        ("garbage token", Some("not.a.jwt".into()), req.clone(), 400, "token"),
        ("garbage JSON", Some(email_token(&stack)), b"{not json".to_vec(), 400, "JSON"),
        ("truncated JSON", Some(email_token(&stack)), req[..req.len() / 2].to_vec(), 400, "JSON"),
        (
            "CSR not base64",
            Some(email_token(&stack)),
            br#"{"certificateSigningRequest":"!!!"}"#.to_vec(),
            400,
            "certificateSigningRequest",
        ),
        (
            "CSR with a tampered key",
            Some(email_token(&stack)),
            {
                // Flip a byte inside the public key: the self-signature no longer verifies.
                let der = STANDARD
                    .decode(csr_pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>())
                    .unwrap();
                let mut der = der;
                let at = der.len() / 2;
                der[at] ^= 1;
                let b64 = STANDARD.encode(der);
                let lines: Vec<&str> = b64
                    .as_bytes()
                    .chunks(64)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                let pem = format!(
                    "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
                    lines.join("\n")
                );
                csr_request(&pem)
            },
            400,
            "signature",
        ),
        (
            "neither form",
            Some(email_token(&stack)),
            br#"{"hello":"world"}"#.to_vec(),
            400,
            "certificateSigningRequest",
        ),
        (
            "oversized body",
            Some(email_token(&stack)),
            {
                let mut v = br#"{"certificateSigningRequest":""#.to_vec();
                v.extend(std::iter::repeat_n(b'A', 200_000));
                v.extend(br#""}"#);
                v
            },
            413,
            "",
        ),
    ];
    // An oversized body is read to its end before the 413, so the client sees the JSON error
    // rather than a reset while it is still sending (this raced before: "broken pipe").
    for size in [70_000, 200_000, 1 << 20, 3 << 20] {
        for _ in 0..5 {
            let mut v = br#"{"certificateSigningRequest":""#.to_vec();
            v.extend(std::iter::repeat_n(b'A', size));
            v.extend(br#""}"#);
            cases.push((
                "oversized body, drained",
                Some(email_token(&stack)),
                v,
                413,
                "larger than the limit",
            ));
        }
    }
    for (what, token, body, want, needle) in cases {
        let (status, resp) = stack
            .post("/api/v2/signingCert", &body, token.as_deref())
            .unwrap();
        assert_eq!(status, want, "{what}: {resp}");
        let msg = resp["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no JSON message in {resp}"));
        assert!(
            msg.to_lowercase().contains(&needle.to_lowercase()),
            "{what}: message {msg:?} does not mention {needle:?}"
        );
        assert_eq!(resp["code"], want, "{what}: {resp}");
    }
    // A body that is not JSON gets a JSON 415 — also when it is large: the body is read before
    // the answer, so the client sees the error, not a reset while it is still sending.
    for size in [10, 60_000, 1 << 20] {
        for _ in 0..3 {
            let body = vec![b'x'; size];
            let (status, resp) = stack
                .post_as(
                    "/api/v2/signingCert",
                    &body,
                    Some(&email_token(&stack)),
                    "text/plain",
                )
                .unwrap();
            let (want, needle) = if size > 64 << 10 {
                (413, "larger than the limit")
            } else {
                (415, "must be JSON")
            };
            assert_eq!(status, want, "text/plain, {size} bytes: {resp}");
            let msg = resp["message"].as_str().unwrap_or_default();
            assert!(msg.contains(needle), "text/plain, {size} bytes: {msg:?}");
        }
    }
    // Nothing above reached the CT log.
    let (_, sth) = stack.get("/ct/v1/get-sth").unwrap();
    let sth: Value = serde_json::from_str(&sth).unwrap();
    assert_eq!(sth["tree_size"], 0, "{sth}");
}

#[test]
fn unknown_kid_after_rotation_is_refetched() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, csr) = openssl_key_and_csr(&dir, "c");
    let req = csr_request(&std::fs::read_to_string(&csr).unwrap());
    let (status, _) = stack
        .post("/api/v2/signingCert", &req, Some(&email_token(&stack)))
        .unwrap();
    assert_eq!(status, 200);
    // The issuer rotates its key: the CA has the old JWKS cached and must fetch the new one.
    let (status, _) = stack.post("/dev-oidc/rotate", b"{}", None).unwrap();
    assert_eq!(status, 200);
    let (status, resp) = stack
        .post("/api/v2/signingCert", &req, Some(&email_token(&stack)))
        .unwrap();
    assert_eq!(status, 200, "{resp}");
}

/// The CT log's RFC 6962 API: the signed tree head verifies, the issued certificate's leaf is in
/// the tree with a verifying audit path, and consistency proofs between sizes verify.
#[test]
fn ct_log_serves_verifiable_proofs() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, csr) = openssl_key_and_csr(&dir, "c");
    let req = csr_request(&std::fs::read_to_string(&csr).unwrap());
    for _ in 0..5 {
        let (status, _) = stack
            .post("/api/v2/signingCert", &req, Some(&email_token(&stack)))
            .unwrap();
        assert_eq!(status, 200);
    }
    let (_, sth_text) = stack.get("/ct/v1/get-sth").unwrap();
    let sth: Value = serde_json::from_str(&sth_text).unwrap();
    assert_eq!(sth["tree_size"], 5, "{sth}");
    std::fs::write(dir.join("ct.pem"), ct_public_key(&stack)).unwrap();
    std::fs::write(dir.join("sth.json"), &sth_text).unwrap();
    // The STH signature, checked by Python cryptography.
    let out = py(
        r#"
import sys, json, base64
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
sth = json.load(open(sys.argv[1]))
key = serialization.load_pem_public_key(open(sys.argv[2], 'rb').read())
sig = base64.b64decode(sth['tree_head_signature'])
assert sig[0] == 4 and sig[1] == 3, sig[:2]
n = int.from_bytes(sig[2:4], 'big')
signed = bytes([0, 1]) + sth['timestamp'].to_bytes(8, 'big') + sth['tree_size'].to_bytes(8, 'big') + base64.b64decode(sth['sha256_root_hash'])
key.verify(sig[4:4+n], signed, ec.ECDSA(hashes.SHA256()))
print("STH OK")
"#,
        &[
            dir.join("sth.json").to_str().unwrap(),
            dir.join("ct.pem").to_str().unwrap(),
        ],
    );
    assert!(out.contains("STH OK"), "{out}");

    // Every entry: leaf hash -> proof by hash -> verifies against the STH root.
    let (_, entries) = stack.get("/ct/v1/get-entries?start=0&end=4").unwrap();
    let entries: Value = serde_json::from_str(&entries).unwrap();
    let entries = entries["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    let root = STANDARD
        .decode(sth["sha256_root_hash"].as_str().unwrap())
        .unwrap();
    for (i, e) in entries.iter().enumerate() {
        let leaf = STANDARD.decode(e["leaf_input"].as_str().unwrap()).unwrap();
        // MerkleTreeLeaf v1, timestamped_entry, precert_entry.
        assert_eq!(&leaf[..2], &[0, 0]);
        assert_eq!(&leaf[10..12], &[0, 1]);
        let lh = hallmark_tlog::leaf_hash(&leaf);
        let (status, proof) = stack
            .get(&format!(
                "/ct/v1/get-proof-by-hash?tree_size=5&hash={}",
                url_escape(&STANDARD.encode(lh.0))
            ))
            .unwrap();
        assert_eq!(status, 200, "{proof}");
        let proof: Value = serde_json::from_str(&proof).unwrap();
        assert_eq!(proof["leaf_index"], i);
        let path: Vec<Vec<u8>> = proof["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap())
            .collect();
        hallmark_tlog::proof::verify_inclusion(i as u64, 5, &lh.0, &path, &root).unwrap();
    }
    // Consistency from 2 to 5 verifies with the root at size 2 (recomputed from the leaves).
    let leaves: Vec<_> = entries
        .iter()
        .map(|e| {
            hallmark_tlog::leaf_hash(&STANDARD.decode(e["leaf_input"].as_str().unwrap()).unwrap())
        })
        .collect();
    let root2 = hallmark_tlog::node_hash(&leaves[0], &leaves[1]);
    let (_, cons) = stack
        .get("/ct/v1/get-sth-consistency?first=2&second=5")
        .unwrap();
    let cons: Value = serde_json::from_str(&cons).unwrap();
    let proof: Vec<Vec<u8>> = cons["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap())
        .collect();
    hallmark_tlog::proof::verify_consistency(2, 5, &root2.0, &root, &proof).unwrap();
    // Bad queries are 400s, not 500s.
    for q in [
        "/ct/v1/get-sth-consistency?first=5&second=2",
        "/ct/v1/get-sth-consistency?first=1&second=99",
        "/ct/v1/get-entries?start=9&end=10",
        "/ct/v1/get-proof-by-hash?tree_size=5&hash=notbase64",
        "/ct/v1/get-entries?start=x",
    ] {
        let (status, body) = stack.get(q).unwrap();
        assert_eq!(status, 400, "{q}: {body}");
    }
    // Health endpoints.
    assert_eq!(stack.get("/healthz").unwrap().0, 200);
    assert_eq!(stack.get("/readyz").unwrap().0, 200);
    let (_, metrics) = stack.get("/metrics").unwrap();
    assert!(
        metrics.contains("hallmark_certificates_issued_total"),
        "{metrics}"
    );
}

fn url_escape(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
