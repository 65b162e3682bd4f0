//! `POST /api/v2/signingCert` (both request forms), `GET /api/v2/trustBundle`,
//! `GET /api/v2/configuration`.

use super::*;

const EMAIL: &str = "alice@example.com";

/// A CSR (DER) with an empty subject, signed by `key`.
fn csr_der(key: &SigningKey) -> Vec<u8> {
    use der::Encode as _;
    use x509_cert::builder::{Builder as _, RequestBuilder};
    RequestBuilder::new(x509_cert::name::Name::default())
        .unwrap()
        .build::<_, DerSignature>(key)
        .unwrap()
        .to_der()
        .unwrap()
}

fn csr_request(csr_der: &[u8]) -> Value {
    json!({ "certificateSigningRequest": STANDARD.encode(csr_der) })
}

/// `POST /api/v2/signingCert` with the token as `Authorization: Bearer`.
async fn post_bearer(h: &Harness, token: &str, body: &Value) -> (StatusCode, Value) {
    let (status, _, body) = h
        .send(
            Request::post("/api/v2/signingCert")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    (status, json_of(&body))
}

/// The chain of a 200 answer: leaf, issuing CA, root; the leaf is issued by the issuing CA for
/// `key`, and its precertificate is in the CT log.
fn check_chain(h: &Harness, body: &Value, key: &SigningKey) {
    let chain = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(chain.len(), 3, "{body}");
    assert_eq!(chain[1], json!(h.state.ca.chain_pem[0]));
    assert_eq!(chain[2], json!(h.state.ca.chain_pem[1]));
    let leaf =
        hallmark_ca::parse_certificate("leaf", chain[0].as_str().unwrap().as_bytes()).unwrap();
    hallmark_ca::verify_issued_by("leaf", &leaf, "issuing CA", &h.issuing_cert).unwrap();
    use der::Encode as _;
    assert_eq!(
        leaf.tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap(),
        key.verifying_key().to_public_key_der().unwrap().as_bytes()
    );
    assert!(
        h.state.ct.latest().size >= 1,
        "the precertificate is logged"
    );
}

#[tokio::test]
async fn a_csr_with_a_good_bearer_token_gets_a_certificate() {
    let h = Harness::new().await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let (status, body) = post_bearer(&h, &h.idp.token(EMAIL), &csr_request(&csr_der(&key))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check_chain(&h, &body, &key);
    assert_eq!(h.state.ct.latest().size, 1);
}

#[tokio::test]
async fn a_pem_csr_is_accepted_too() {
    let h = Harness::new().await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let pem = der::pem::encode_string(
        "CERTIFICATE REQUEST",
        der::pem::LineEnding::LF,
        &csr_der(&key),
    )
    .unwrap();
    let (status, body) = post_bearer(&h, &h.idp.token(EMAIL), &csr_request(pem.as_bytes())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check_chain(&h, &body, &key);
}

#[tokio::test]
async fn a_public_key_with_proof_of_possession_gets_a_certificate() {
    let h = Harness::new().await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let body = public_key_request(&key, &h.idp.token(EMAIL), EMAIL);
    let (status, _, body) = h.post_json("/api/v2/signingCert", &body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check_chain(&h, &body, &key);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_nothing_is_logged() {
    let h = Harness::new().await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let csr = csr_request(&csr_der(&key));
    let forger = hallmark_keys::generate_memory_p256().unwrap();
    let cases = [
        // Signed by a key the IdP's JWKS does not have.
        (
            sign_jwt(&forger, &h.idp.claims(EMAIL, json!({}))),
            "signature",
        ),
        // Expired.
        (
            h.idp.token_with(
                EMAIL,
                json!({"exp": 1_000_000, "iat": 999_000, "nbf": 999_000}),
            ),
            "expired",
        ),
        // For another audience.
        (
            h.idp.token_with(EMAIL, json!({"aud": "someone-else"})),
            "audience",
        ),
    ];
    for (token, needle) in cases {
        let (status, body) = post_bearer(&h, &token, &csr).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{needle}: {body}");
        assert_eq!(body["code"], 401, "{body}");
        let message = body["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    // Not a JWT: a malformed request.
    let (status, body) = post_bearer(&h, "not.a.jwt", &csr).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed token");
    // An issuer this CA does not trust.
    let mut claims = h.idp.claims(EMAIL, json!({}));
    claims["iss"] = json!("https://accounts.example.com");
    let (status, body) = post_bearer(&h, &sign_jwt(&h.idp.key, &claims), &csr).await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_eq!(body["code"], status.as_u16(), "{body}");
    // No token at all.
    let (status, _, body) = h.post_json("/api/v2/signingCert", &csr).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "no identity token");
    assert_eq!(h.state.ct.latest().size, 0, "nothing was logged");
}

#[tokio::test]
async fn bad_csrs_and_proofs_of_possession_are_400() {
    let h = Harness::new().await;
    let token = h.idp.token(EMAIL);
    let key = hallmark_keys::generate_memory_p256().unwrap();
    // A CSR whose signature does not match its key.
    let mut tampered = csr_der(&key);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    // Proof over another challenge, and by another key.
    let wrong_challenge = public_key_request(&key, &token, "mallory@example.com");
    let other = hallmark_keys::generate_memory_p256().unwrap();
    let mut wrong_key = public_key_request(&key, &token, EMAIL);
    wrong_key["publicKeyRequest"]["proofOfPossession"] =
        public_key_request(&other, &token, EMAIL)["publicKeyRequest"]["proofOfPossession"].clone();
    let mut not_base64 = public_key_request(&key, &token, EMAIL);
    not_base64["publicKeyRequest"]["proofOfPossession"] = json!("%%%");
    let mut not_a_key = public_key_request(&key, &token, EMAIL);
    not_a_key["publicKeyRequest"]["publicKey"]["content"] = json!("not a key");
    let cases = [
        (csr_request(b"garbage"), ""),
        (csr_request(&tampered), ""),
        (json!({"certificateSigningRequest": "%%%"}), "not base64"),
        (wrong_challenge, ""),
        (wrong_key, ""),
        (not_base64, "not base64"),
        (not_a_key, ""),
        (
            json!({"certificateSigningRequest": STANDARD.encode(csr_der(&key)),
                   "publicKeyRequest": public_key_request(&key, &token, EMAIL)["publicKeyRequest"]}),
            "not both",
        ),
        (json!({}), "missing the key"),
    ];
    for (body, needle) in cases {
        let (status, body) = post_bearer(&h, &token, &body).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, needle);
    }
    let (status, _, body) = h.post("/api/v2/signingCert", "{not json").await;
    assert_error(
        status,
        &json_of(&body),
        StatusCode::BAD_REQUEST,
        "not valid JSON",
    );
    assert_eq!(h.state.ct.latest().size, 0, "nothing was logged");
}

#[tokio::test]
async fn an_oversized_request_is_413() {
    let h = Harness::with(|s| s.max_body_bytes = 1024).await;
    let big = json!({ "certificateSigningRequest": "A".repeat(2048) });
    let (status, _, body) = h.post_json("/api/v2/signingCert", &big).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than the limit of 1024 bytes",
    );
    // The same without a declared length (a chunked body).
    let stream = futures_stream(big.to_string().into_bytes());
    let (status, _, body) = h
        .send(
            Request::post("/api/v2/signingCert")
                .header(header::CONTENT_TYPE, "application/json")
                .body(stream)
                .unwrap(),
        )
        .await;
    assert_error(
        status,
        &json_of(&body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    );
}

/// A body without a declared length, in 100-byte chunks.
pub(crate) fn futures_stream(data: Vec<u8>) -> Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(100)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_415() {
    let h = Harness::new().await;
    let key = hallmark_keys::generate_memory_p256().unwrap();
    let body = public_key_request(&key, &h.idp.token(EMAIL), EMAIL).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        h.assert_not_json("/api/v2/signingCert", content_type, body.clone())
            .await;
    }
    // Without a Content-Type the body is still read as JSON, as Fulcio does.
    let (status, _, answer) = h
        .send(
            Request::post("/api/v2/signingCert")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", json_of(&answer));
}

#[tokio::test]
async fn signing_cert_answers_only_post() {
    let h = Harness::new().await;
    let (status, _, _) = h.get("/api/v2/signingCert").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_trust_bundle_is_the_issuing_chain() {
    let h = Harness::new().await;
    let (status, body) = h.get_json("/api/v2/trustBundle").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"chains": [{"certificates": h.state.ca.chain_pem}]})
    );
    let (status, _, _) = h.post("/api/v2/trustBundle", "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_configuration_lists_the_trusted_issuers() {
    let h = Harness::new().await;
    let (status, body) = h.get_json("/api/v2/configuration").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"issuers": [{
            "issuerUrl": h.idp.issuer,
            "audience": "sigstore",
            "challengeClaim": "email",
            "issuerType": "email",
        }]})
    );
    let (status, _, _) = h.post("/api/v2/configuration", "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
