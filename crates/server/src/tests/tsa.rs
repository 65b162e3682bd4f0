//! `POST /api/v1/timestamp` and `GET /api/v1/timestamp/certchain` in-process, with an in-memory
//! TSA key behind a gate (so a test can hold signing and fill the queue).

use std::sync::Mutex;

use der::Decode as _;
use hallmark_sigstore::HashAlgorithm;
use hallmark_sigstore::rfc3161::{ParsedResponse, TimestampRequest};
use signature::Verifier as _;

use super::*;

/// A P-256 key whose signing waits while its gate is held.
pub(crate) struct GatedKey {
    key: SigningKey,
    gate: Arc<Mutex<()>>,
}

impl signature::Signer<DerSignature> for GatedKey {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, signature::Error> {
        let _open = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.key.try_sign(msg)
    }
}

/// The TSA of a test server.
pub(crate) struct TsaParts {
    pub(crate) tsa: Arc<crate::tsa::Tsa>,
    pub(crate) key: SigningKey,
    pub(crate) chain_der: Vec<Vec<u8>>,
    pub(crate) gate: Arc<Mutex<()>>,
}

impl TsaParts {
    pub(crate) fn new(settings: &Settings) -> Self {
        let now = SystemTime::now() - Duration::from_secs(60);
        let year = Duration::from_secs(365 * 86_400);
        let root_key = hallmark_keys::generate_memory_p256().unwrap();
        let key = hallmark_keys::generate_memory_p256().unwrap();
        let root = hallmark_ca::root_certificate(&root_key, &subject("root"), now, year).unwrap();
        let leaf = hallmark_ca::tsa_certificate(
            &root_key,
            &root,
            &key.public_key_der().unwrap(),
            &subject("tsa"),
            now,
            year,
        )
        .unwrap();
        let chain = [&leaf, &root];
        let chain_der: Vec<Vec<u8>> = chain
            .iter()
            .map(|c| hallmark_ca::certificate_der(c).unwrap())
            .collect();
        let chain_pem = chain
            .iter()
            .map(|c| hallmark_ca::certificate_pem(c).unwrap())
            .collect();
        let gate = Arc::new(Mutex::new(()));
        let signer = Arc::new(GatedKey {
            key: key.clone(),
            gate: gate.clone(),
        });
        let tsa = crate::tsa::Tsa::new(
            &chain_der,
            chain_pem,
            signer,
            settings.tsa_policy,
            settings.tsa_max_concurrent,
            settings.tsa_max_queue,
        )
        .unwrap();
        Self {
            tsa: Arc::new(tsa),
            key,
            chain_der,
            gate,
        }
    }
}

impl Harness {
    /// `POST /api/v1/timestamp` with this content type.
    async fn stamp(&self, content_type: &str, body: Vec<u8>) -> (StatusCode, HeaderMap, Bytes) {
        self.send(
            Request::post("/api/v1/timestamp")
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Checks a granted answer: status, imprint, nonce, signature by the TSA key.
    fn check_granted(&self, body: &[u8], digest: &[u8], nonce: Option<&der::asn1::Int>) -> usize {
        let parsed = ParsedResponse::from_der(body).unwrap();
        assert_eq!(parsed.status, 0);
        let info = parsed.tst_info.unwrap();
        assert_eq!(info.message_imprint.hashed_message.as_bytes(), digest);
        assert_eq!(info.nonce.as_ref(), nonce);
        let sig = DerSignature::try_from(parsed.signature.as_slice()).unwrap();
        self.tsa
            .key
            .verifying_key()
            .verify(&parsed.signed_attrs_der, &sig)
            .unwrap();
        parsed.certificates
    }
}

#[tokio::test]
async fn der_and_json_requests_are_stamped() {
    let h = Harness::new().await;
    let digest = [5u8; 32];
    let mut req = TimestampRequest::new(HashAlgorithm::Sha256, &digest).unwrap();
    req.nonce = Some(der::asn1::Int::new(&[0x01, 0x02, 0x03]).unwrap());
    let (status, headers, body) = h
        .stamp("application/timestamp-query", req.to_der().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/timestamp-reply");
    assert_eq!(h.check_granted(&body, &digest, req.nonce.as_ref()), 0);
    req.cert_req = true;
    let (_, _, body) = h
        .stamp("application/timestamp-query", req.to_der().unwrap())
        .await;
    assert_eq!(h.check_granted(&body, &digest, req.nonce.as_ref()), 1);

    let json = json!({"artifactHash": STANDARD.encode(digest), "hashAlgorithm": "sha256",
        "certificates": true});
    let (status, _, body) = h
        .stamp(
            "application/json; charset=utf-8",
            json.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.check_granted(&body, &digest, None), 1);

    let (status, headers, body) = h.get("/api/v1/timestamp/certchain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("pem")
    );
    let chain: Vec<Vec<u8>> = hallmark_sigstore::pem::decode_all(&body)
        .unwrap()
        .into_iter()
        .map(|b| b.der)
        .collect();
    assert_eq!(chain, h.tsa.chain_der, "leaf first, then the root");
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_reason() {
    let h = Harness::new().await;
    // DER: a 400 carrying an RFC 3161 rejection with the failure bit.
    let sha1 = {
        let r = TimestampRequest::new(HashAlgorithm::Sha256, &[1; 32]).unwrap();
        let mut t =
            hallmark_sigstore::rfc3161::TimeStampReq::from_der(&r.to_der().unwrap()).unwrap();
        t.message_imprint.hash_algorithm.oid =
            der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        der::Encode::to_der(&t).unwrap()
    };
    let mut other_policy = TimestampRequest::new(HashAlgorithm::Sha256, &[1; 32]).unwrap();
    other_policy.policy = Some(der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4"));
    for (body, bit) in [
        (b"garbage".to_vec(), 5u8),
        (sha1, 0),
        (other_policy.to_der().unwrap(), 15),
    ] {
        let (status, headers, answer) = h.stamp("application/timestamp-query", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CONTENT_TYPE], "application/timestamp-reply");
        let parsed = ParsedResponse::from_der(&answer).unwrap();
        assert_eq!((parsed.status, parsed.fail_bits), (2, vec![bit]));
    }
    // JSON: a JSON 400 naming the problem.
    let (status, _, body) = h
        .stamp(
            "application/json",
            br#"{"artifactHash":"AAAA","hashAlgorithm":"md5"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["message"].as_str().unwrap().contains("md5"));
    // Another media type: 415.
    let (status, _, _) = h.stamp("text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Beyond `max_concurrent + max_queue` requests in the TSA, the answer is an immediate 503 with
/// Retry-After; the held requests are stamped once signing resumes.
#[tokio::test]
// The held gate blocks the signing thread (a blocking-pool thread), not this task: on purpose.
#[allow(clippy::await_holding_lock)]
async fn a_full_queue_answers_503_at_once() {
    let h = Harness::with(|s| {
        s.tsa_max_concurrent = 1;
        s.tsa_max_queue = 1;
    })
    .await;
    let digest = [8u8; 32];
    let body = TimestampRequest::new(HashAlgorithm::Sha256, &digest)
        .unwrap()
        .to_der()
        .unwrap();
    let held = h.tsa.gate.lock().unwrap();
    let app = h.app.clone();
    let send = |app: Router, body: Vec<u8>| async move {
        app.oneshot(
            Request::post("/api/v1/timestamp")
                .header(header::CONTENT_TYPE, "application/timestamp-query")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
    };
    let first = tokio::spawn(send(app.clone(), body.clone()));
    let second = tokio::spawn(send(app.clone(), body.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = tokio::time::timeout(Duration::from_secs(2), send(app, body.clone()))
        .await
        .expect("the third request is answered without waiting");
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers()[header::RETRY_AFTER], "1");
    drop(held);
    for t in [first, second] {
        let resp = t.await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        h.check_granted(&bytes, &digest, None);
    }
}
