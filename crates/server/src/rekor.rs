//! The signature transparency log: Rekor's v1 API over the log core, with its own HSM-held P-256
//! key.
//!
//! `POST /api/v1/log/entries` verifies a hashedrekord, dsse or intoto entry (`hallmark-sigstore`):
//! the signature against the certificate or key it carries, and a certificate's chain to this CA
//! and validity at integration time. It then appends the canonical body and, once the batch is
//! durable, answers 201 with the entry, its signed entry timestamp (SET) and an inclusion proof
//! with the signed checkpoint. A duplicate answers 409 with the existing entry's location.
//!
//! Reads: `GET /api/v1/log`, `/api/v1/log/publicKey`, `/api/v1/log/proof`,
//! `/api/v1/log/entries?logIndex=`, `/api/v1/log/entries/{uuid}`,
//! `POST /api/v1/log/entries/retrieve`, `POST /api/v1/index/retrieve`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_keys::Pkcs11Key;
use hallmark_log::store::{LogStore, NewEntry, StoredEntry};
use hallmark_log::{RedbStore, Sequencer};
use hallmark_tlog::{Hash, leaf_hash};
use p256::ecdsa::DerSignature;
use serde::Deserialize;
use signature::Signer;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// Most entries one retrieve call returns.
const MAX_RETRIEVE: usize = 100;

/// The signature log.
pub(crate) struct RekorLog {
    pub(crate) seq: Sequencer<RedbStore>,
    pub(crate) key: Pkcs11Key<p256::NistP256>,
    /// SHA-256 of the log key's SPKI (Rekor's log ID).
    pub(crate) log_id: [u8; 32],
    /// Rekor's tree ID (the first eight bytes of the log ID, as a positive number).
    pub(crate) tree_id: u64,
    pub(crate) public_key_pem: String,
    /// Bounds the create path's CPU and HSM work (verification, SET signing) to a few threads at
    /// a time. Without it every waiting request gets its own blocking thread, and a hundred
    /// threads contending for two cores and the HSM library's locks spend more time in futex
    /// wake-ups than in signing.
    pub(crate) workers: tokio::sync::Semaphore,
}

/// Create-path work running at once, per available core.
pub(crate) const WORKERS_PER_CORE: usize = 2;

impl std::fmt::Debug for RekorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekorLog")
            .field("tree_id", &self.tree_id)
            .finish_non_exhaustive()
    }
}

impl RekorLog {
    fn uuid(&self, leaf: &Hash) -> String {
        hallmark_sigstore::entry_uuid(self.tree_id, leaf)
    }

    /// The Rekor JSON for the entry at `index` with an inclusion proof in the latest tree. Signs a
    /// fresh SET (ECDSA is randomised; Rekor also signs on every read). Blocking: HSM.
    fn entry_json(&self, index: u64, stored: &StoredEntry) -> Result<serde_json::Value, ApiError> {
        let tree = self.seq.latest();
        let body_b64 = STANDARD.encode(&stored.data);
        let integrated = (stored.integrated_ms / 1000) as i64;
        let log_id_hex = hex::encode(self.log_id);
        let payload = hallmark_sigstore::set_payload(&body_b64, integrated, &log_id_hex, index);
        let set: DerSignature = self.key.try_sign(&payload).map_err(|e| {
            if crate::error::signer_unavailable(&e) {
                ApiError::unavailable("the log key (HSM)")
            } else {
                ApiError::internal("signing the entry timestamp", &e)
            }
        })?;
        let proof = self
            .seq
            .inclusion_proof(index, tree.size)
            .map_err(|e| ApiError::from(&e))?;
        let leaf = leaf_hash(&stored.data);
        Ok(hallmark_sigstore::log_entry_json(
            &hallmark_sigstore::LogEntryParts {
                uuid: &self.uuid(&leaf),
                body_b64: &body_b64,
                integrated_time: integrated,
                log_id_hex: &log_id_hex,
                log_index: index,
                signed_entry_timestamp_b64: &STANDARD.encode(set.as_bytes()),
                proof: hallmark_sigstore::InclusionProofParts {
                    checkpoint: &tree.checkpoint,
                    hashes: &proof,
                    root_hash: &tree.root,
                    tree_size: tree.size,
                },
            },
        ))
    }

    fn read(&self, index: u64) -> Result<StoredEntry, ApiError> {
        self.seq
            .store()
            .entry(index)
            .map_err(|e| ApiError::from(&hallmark_log::LogError::Store(e)))?
            .ok_or_else(|| ApiError::not_found(format!("no entry at log index {index}")))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("blocking task failed", &e))?
}

fn entry_error(e: hallmark_sigstore::EntryError) -> ApiError {
    ApiError::from_status(e.status(), e.to_string())
}

pub(crate) async fn create_entry(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let body = crate::ca_api::read_body(body, state.settings.max_entry_bytes).await?;
    let st = state.clone();
    // Parsing and signature checks are CPU work: off the async executor, a few at a time.
    let permit = state.rekor.workers.acquire().await;
    let verified = blocking(move || {
        let entry = hallmark_sigstore::ProposedEntry::parse(&body).map_err(entry_error)?;
        let verified = entry.verify().map_err(entry_error)?;
        if let Some(cert) = &verified.certificate_der {
            st.ca.check_signer_certificate(cert)?;
        }
        Ok(verified)
    })
    .await?;
    drop(permit);
    let appended = state
        .rekor
        .seq
        .append(NewEntry {
            data: verified.canonical_body.clone(),
            index_keys: verified.index_keys,
        })
        .await
        .map_err(|e| ApiError::from(e.as_ref()))?;
    let rekor = state.rekor.clone();
    let uuid = rekor.uuid(&appended.leaf_hash);
    let location = format!("/api/v1/log/entries/{uuid}");
    if appended.duplicate {
        metrics::counter!("hallmark_log_entries_total", "outcome" => "duplicate").increment(1);
        let mut resp = ApiError::new(
            StatusCode::CONFLICT,
            format!("an equivalent entry already exists in the log with UUID {uuid}"),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(resp);
    }
    let index = appended.index;
    // The stored entry is the canonical body just appended: no need to read it back.
    let stored = StoredEntry {
        integrated_ms: appended.integrated_ms,
        data: verified.canonical_body,
    };
    let permit = state.rekor.workers.acquire().await;
    let json = blocking(move || rekor.entry_json(index, &stored)).await?;
    drop(permit);
    metrics::counter!("hallmark_log_entries_total", "outcome" => "created").increment(1);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(json)).into_response())
}

pub(crate) async fn log_info(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let tree = state.rekor.seq.latest();
    Json(serde_json::json!({
        "rootHash": tree.root.to_hex(),
        "treeSize": tree.size,
        "signedTreeHead": &*tree.checkpoint,
        "treeID": state.rekor.tree_id.to_string(),
        "inactiveShards": [],
    }))
}

pub(crate) async fn public_key(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.rekor.public_key_pem.clone(),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProofQuery {
    first_size: Option<u64>,
    last_size: u64,
}

pub(crate) async fn proof(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let first = q.first_size.unwrap_or(1);
    let size = state.rekor.seq.latest().size;
    if first < 1 || first > q.last_size || q.last_size > size {
        return Err(ApiError::bad_request(format!(
            "need 1 <= firstSize <= lastSize <= {size} (the current tree size)"
        )));
    }
    let st = state.clone();
    let last = q.last_size;
    let (hashes, root) = blocking(move || {
        let seq = &st.rekor.seq;
        let proof = seq
            .consistency_proof(first, last)
            .map_err(|e| ApiError::from(&e))?;
        let root = seq.root_at(last).map_err(|e| ApiError::from(&e))?;
        Ok((proof, root))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "rootHash": root.to_hex(),
        "hashes": hashes.iter().map(Hash::to_hex).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexQuery {
    log_index: u64,
}

pub(crate) async fn entry_by_index(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<IndexQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rekor = state.rekor.clone();
    Ok(Json(
        blocking(move || {
            let stored = rekor.read(q.log_index)?;
            rekor.entry_json(q.log_index, &stored)
        })
        .await?,
    ))
}

/// The log index of a UUID (`<16 hex tree id><64 hex leaf hash>`, or the bare leaf hash).
fn index_of_uuid(rekor: &RekorLog, uuid: &str) -> Result<u64, ApiError> {
    let hash_hex = match uuid.len() {
        80 => &uuid[16..],
        64 => uuid,
        _ => {
            return Err(ApiError::bad_request(format!(
                "{uuid:?} is not an entry UUID (80 hex digits, or the 64-digit leaf hash)"
            )));
        }
    };
    let leaf = Hash::from_hex(hash_hex)
        .map_err(|_| ApiError::bad_request(format!("{uuid:?} is not hex")))?;
    let found = rekor
        .seq
        .store()
        .find_leaves(&[leaf])
        .map_err(|e| ApiError::from(&hallmark_log::LogError::Store(e)))?;
    found
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| ApiError::not_found(format!("no entry with UUID {uuid}")))
}

pub(crate) async fn entry_by_uuid(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rekor = state.rekor.clone();
    Ok(Json(
        blocking(move || {
            let index = index_of_uuid(&rekor, &uuid)?;
            let stored = rekor.read(index)?;
            rekor.entry_json(index, &stored)
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RetrieveRequest {
    #[serde(default)]
    entry_uuids: Vec<String>,
    #[serde(default)]
    log_indexes: Vec<u64>,
}

pub(crate) async fn retrieve(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = crate::ca_api::read_body(body, state.settings.max_body_bytes).await?;
    let req: RetrieveRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"entryUUIDs\":[...]}} or {{\"logIndexes\":[...]}}: {e}"
        ))
    })?;
    if req.entry_uuids.len() + req.log_indexes.len() > MAX_RETRIEVE {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_RETRIEVE} entries per request"
        )));
    }
    let rekor = state.rekor.clone();
    let out = blocking(move || {
        let mut indexes = req.log_indexes;
        for u in &req.entry_uuids {
            indexes.push(index_of_uuid(&rekor, u)?);
        }
        indexes
            .into_iter()
            .map(|i| rekor.read(i).and_then(|s| rekor.entry_json(i, &s)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(serde_json::Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexRequest {
    hash: Option<String>,
    email: Option<String>,
    public_key: Option<IndexPublicKey>,
}

#[derive(Deserialize)]
struct IndexPublicKey {
    #[allow(
        dead_code,
        reason = "accepted for compatibility; the key itself says its format"
    )]
    format: Option<String>,
    content: Option<String>,
}

pub(crate) async fn index_retrieve(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = crate::ca_api::read_body(body, state.settings.max_body_bytes).await?;
    let req: IndexRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"hash\":\"sha256:<hex>\"}}, {{\"email\":...}} or {{\"publicKey\":{{\"content\":...}}}}: {e}"
        ))
    })?;
    let key = match (req.hash, req.email, req.public_key) {
        (Some(h), None, None) => {
            let h = h.to_ascii_lowercase();
            let hex = h.strip_prefix("sha256:").unwrap_or(&h);
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::bad_request("hash must be sha256:<64 hex digits>"));
            }
            format!("sha256:{hex}")
        }
        (None, Some(e), None) => format!("email:{}", e.to_ascii_lowercase()),
        (None, None, Some(k)) => {
            let content = k
                .content
                .ok_or_else(|| ApiError::bad_request("publicKey.content is missing"))?;
            let raw = STANDARD
                .decode(content.trim())
                .map_err(|_| ApiError::bad_request("publicKey.content is not base64"))?;
            public_key_index_key(&raw)?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of hash, email or publicKey",
            ));
        }
    };
    let rekor = state.rekor.clone();
    let uuids = blocking(move || {
        let indexes = rekor
            .seq
            .store()
            .search(&key, None, 10_000)
            .map_err(|e| ApiError::from(&hallmark_log::LogError::Store(e)))?;
        indexes
            .into_iter()
            .map(|i| rekor.read(i).map(|s| rekor.uuid(&leaf_hash(&s.data))))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(serde_json::json!(uuids)))
}

/// The search key of a public key given as PEM (public key or certificate) or DER SPKI:
/// `key:<hex SHA-256 of the DER SPKI>`, as entries are indexed.
fn public_key_index_key(raw: &[u8]) -> Result<String, ApiError> {
    use der::{Decode as _, DecodePem as _, Encode as _};
    use sha2::Digest as _;
    let bad = || {
        ApiError::bad_request(
            "publicKey.content is not a PEM public key, PEM certificate or DER SPKI",
        )
    };
    let text = std::str::from_utf8(raw).unwrap_or_default().trim_start();
    let spki = if text.starts_with("-----BEGIN CERTIFICATE") {
        x509_cert::Certificate::from_pem(text)
            .map_err(|_| bad())?
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
    } else if text.starts_with("-----BEGIN PUBLIC KEY") {
        spki::SubjectPublicKeyInfoOwned::from_pem(text)
            .map_err(|_| bad())?
            .to_der()
    } else {
        spki::SubjectPublicKeyInfoOwned::from_der(raw)
            .map_err(|_| bad())?
            .to_der()
    }
    .map_err(|_| bad())?;
    Ok(format!("key:{}", hex::encode(sha2::Sha256::digest(&spki))))
}
