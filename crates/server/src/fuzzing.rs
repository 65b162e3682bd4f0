//! The parsers that read request data, callable without a server or keys, for the fuzz targets
//! in `fuzz/` (feature `fuzzing`; not in production builds). Each returns the HTTP status the
//! server would answer a rejection with; a panic is the bug the fuzzer looks for.

use axum::http::{HeaderMap, HeaderValue, header};
use hallmark_sigstore::fulcio::KeyProof;

use crate::error::ApiError;

fn status(e: &ApiError) -> u16 {
    e.status().as_u16()
}

/// `POST /api/v2/signingCert`: the JSON body (either form), the `Authorization` header, then
/// the CSR or the proof-of-possession key as `hallmark-ca` reads them.
///
/// # Errors
///
/// The status of the rejection.
pub fn signing_cert_request(authorization: &[u8], body: &[u8]) -> Result<(), u16> {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let (token, key) = crate::ca_api::parse_request(&headers, body).map_err(|e| status(&e))?;
    let ca = |e: hallmark_ca::CaError| crate::error::ca_status(&e).as_u16();
    match key {
        KeyProof::Csr(raw) => hallmark_ca::parse_csr(&raw).map(drop).map_err(ca),
        KeyProof::PublicKey { pem, proof } => {
            hallmark_ca::verify_proof_of_possession(pem.as_bytes(), &token, &proof)
                .map(drop)
                .map_err(ca)
        }
    }
}

/// `POST /api/v1/log/entries`: parse and verify a proposed entry.
///
/// # Errors
///
/// The status of the rejection.
pub fn proposed_entry(body: &[u8]) -> Result<(), u16> {
    hallmark_sigstore::ProposedEntry::parse(body)
        .and_then(|e| e.verify())
        .map(drop)
        .map_err(|e| status(&ApiError::from(e)))
}

/// `POST /api/v2/log/entries`: parse and verify a `CreateEntryRequest`.
///
/// # Errors
///
/// The status of the rejection.
pub fn v2_entry_request(body: &[u8]) -> Result<(), u16> {
    hallmark_sigstore::rekor_v2::CreateEntryRequest::parse(body)
        .and_then(|e| e.verify())
        .map(drop)
        .map_err(|e| status(&ApiError::from(e)))
}

/// An entry UUID (`GET /api/v1/log/entries/{uuid}`, `entryUUIDs` of a retrieve request).
///
/// # Errors
///
/// The status of the rejection.
pub fn entry_uuid(text: &str) -> Result<(), u16> {
    hallmark_sigstore::parse_entry_uuid(text)
        .map(drop)
        .map_err(|e| status(&ApiError::from(e)))
}

/// `POST /api/v1/log/entries/retrieve`: the JSON body (each UUID in it goes through
/// [`entry_uuid`]).
///
/// # Errors
///
/// The status of the rejection.
pub fn retrieve_request(body: &[u8]) -> Result<(), u16> {
    serde_json::from_slice::<crate::rekor::RetrieveRequest>(body)
        .map(drop)
        .map_err(|_| 400)
}

/// `POST /api/v1/index/retrieve`: the JSON body.
///
/// # Errors
///
/// The status of the rejection.
pub fn index_request(body: &[u8]) -> Result<(), u16> {
    serde_json::from_slice::<crate::rekor::IndexRequest>(body)
        .map(drop)
        .map_err(|_| 400)
}

/// The search key of a `publicKey.content` of an index request, once base64-decoded: a PEM
/// public key, a PEM certificate or DER SPKI.
///
/// # Errors
///
/// The status of the rejection.
pub fn index_public_key(raw: &[u8]) -> Result<(), u16> {
    crate::rekor::public_key_index_key(raw)
        .map(drop)
        .map_err(|e| status(&e))
}
