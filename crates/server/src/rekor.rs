//! The signature transparency log: Rekor's v1 API over the log core, with its own HSM-held P-256
//! key.
//!
//! `POST /api/v1/log/entries` verifies a hashedrekord, dsse or intoto entry (`hallmark-sigstore`):
//! the signature against the certificate or key it carries, and a certificate's chain to this CA
//! and validity at integration time. It then appends the canonical body and, once the batch is
//! durable, answers 201 with the entry, its signed entry timestamp (SET) and an inclusion proof
//! with the signed checkpoint. A duplicate answers 409 with the existing entry's location.
//!
//! The SET is signed once, by the sequencer, in the batch that appends the entry, and stored with
//! it in the same transaction ([`SetSigner`], `hallmark_log::EntrySigner`): an HSM outage fails
//! the batch, so no entry is stored or acknowledged without its SET. Reads serve the stored SET
//! and the latest checkpoint the sequencer signed; no read touches the HSM. They run on blocking
//! threads, at most `max_concurrent_reads` at once (`crate::reads`).
//!
//! Reads: `GET /api/v1/log`, `/api/v1/log/publicKey`, `/api/v1/log/proof`,
//! `/api/v1/log/entries?logIndex=`, `/api/v1/log/entries/{uuid}`,
//! `POST /api/v1/log/entries/retrieve` (at most 100 entries, none asked for twice),
//! `POST /api/v1/index/retrieve`.
//!
//! # Search (`POST /api/v1/index/retrieve`)
//!
//! The request names exactly one of `hash` (`sha256:<hex>`), `email` or `publicKey`
//! (`{"content": <base64 PEM or DER>}`), as Rekor's, and may add `limit` (1 to 10,000; default
//! 10,000) and `cursor`. The answer is Rekor's plain JSON array of entry UUIDs, **newest first**.
//! When more entries may follow, the response carries an `x-next-cursor` header; send its value
//! back as `cursor` (with the same search) for the next, older page. The last page has no such
//! header. The cursor is opaque to clients (today it is the log index the next page starts
//! below). Newest first means entries added under an identity, however many, cannot push a later
//! entry out of the first answer, and the cursor reaches every older one.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_log::EntrySigner;
use hallmark_log::store::{LogStore, NewEntry, StoredEntry};
use hallmark_tlog::{Hash, leaf_hash};
use p256::ecdsa::DerSignature;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiQuery, EntryLimit, LimitedBody, RequestLimit};
use crate::leadership::WriteLog;
use crate::state::LogKey;
use crate::store::LogSequencer;

/// Most entries one retrieve call returns.
const MAX_RETRIEVE: usize = 100;

/// Most UUIDs one search answer lists (and its default page size).
const MAX_SEARCH_PAGE: usize = 10_000;

/// The response header naming the cursor of the next search page.
const NEXT_CURSOR: &str = "x-next-cursor";

/// Signs Rekor's signed entry timestamp (SET) of each entry once, as the sequencer appends it:
/// the log key's signature over the canonical JSON of body, integrated time (seconds), log ID and
/// log index.
pub(crate) struct SetSigner {
    pub(crate) key: LogKey,
    pub(crate) log_id_hex: String,
}

impl EntrySigner for SetSigner {
    fn sign_entry(
        &self,
        index: u64,
        integrated_ms: u64,
        data: &[u8],
    ) -> Result<Vec<u8>, signature::Error> {
        let payload = hallmark_sigstore::set_payload(
            &STANDARD.encode(data),
            integrated_seconds(integrated_ms),
            &self.log_id_hex,
            index,
        );
        let set: DerSignature = self.key.try_sign(&payload)?;
        Ok(set.as_bytes().to_vec())
    }
}

/// Rekor's integrated time (Unix seconds) of an entry sequenced at `ms`.
fn integrated_seconds(ms: u64) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

/// The signature log.
pub(crate) struct RekorLog {
    pub(crate) seq: LogSequencer,
    /// SHA-256 of the log key's SPKI (Rekor's log ID).
    pub(crate) log_id: [u8; 32],
    /// Rekor's tree ID (the first eight bytes of the log ID, as a positive number).
    pub(crate) tree_id: u64,
    pub(crate) public_key_pem: String,
    /// Bounds the create path's CPU work on large bodies (parsing, signature checks; the SET is
    /// signed by the sequencer) to a few threads at a time. Without it every
    /// waiting request gets its own blocking thread, and a hundred threads contending for two
    /// cores spend more time in futex wake-ups than in work.
    pub(crate) workers: tokio::sync::Semaphore,
}

/// Create-path work on large bodies running at once, per available core.
pub(crate) const WORKERS_PER_CORE: usize = 2;

/// Bodies up to this size are parsed and verified on the async worker that received them.
const IN_PLACE_BODY_BYTES: usize = 64 * 1024;

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

    /// The Rekor JSON for the entry at `index` with its stored SET and an inclusion proof in the
    /// latest tree. Signs nothing. Blocking: storage.
    fn entry_json(
        &self,
        index: u64,
        stored: &StoredEntry,
        set: &[u8],
    ) -> Result<serde_json::Value, ApiError> {
        let tree = self.seq.latest();
        let body_b64 = STANDARD.encode(&stored.data);
        let integrated = integrated_seconds(stored.integrated_ms);
        let log_id_hex = hex::encode(self.log_id);
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
                signed_entry_timestamp_b64: &STANDARD.encode(set),
                proof: hallmark_sigstore::InclusionProofParts {
                    checkpoint: &tree.checkpoint,
                    hashes: &proof,
                    root_hash: &tree.root,
                    tree_size: tree.size,
                },
            },
        ))
    }

    /// The entry at `index` and its stored SET.
    fn read(&self, index: u64) -> Result<(StoredEntry, Vec<u8>), ApiError> {
        let store = self.seq.store();
        let entry = store
            .entry(index)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("no entry at log index {index}")))?;
        // Every entry is signed as it is appended, and older ones at start-up.
        let set = store
            .entry_signature(index)
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::internal(
                    "reading an entry",
                    &format_args!("entry {index} has no stored SET"),
                )
            })?;
        Ok((entry, set))
    }

    /// The full Rekor JSON of the entry at `index`.
    fn entry_at(&self, index: u64) -> Result<serde_json::Value, ApiError> {
        let (stored, set) = self.read(index)?;
        self.entry_json(index, &stored, &set)
    }
}

fn store_error(e: hallmark_log::StoreError) -> ApiError {
    ApiError::from(&hallmark_log::LogError::Store(e))
}

/// Runs create-path CPU work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("blocking task failed", &e))?
}

pub(crate) async fn create_entry(
    State(state): State<Arc<AppState>>,
    LimitedBody { bytes: body, .. }: LimitedBody<EntryLimit>,
) -> Result<Response, ApiError> {
    // Parsing and the signature checks of a typical entry take tens of microseconds: done in
    // place, on the async worker, as the v2 path does (handing them to the blocking pool cost more
    // in thread wake-ups and context switches than the work). A large body (an attestation
    // envelope) goes to the blocking pool, a few at a time, so it cannot stall the executor.
    let in_place = body.len() <= IN_PLACE_BODY_BYTES;
    let check = move |st: &AppState| -> Result<_, ApiError> {
        let entry = hallmark_sigstore::ProposedEntry::parse(&body).map_err(ApiError::from)?;
        let verified = entry.verify().map_err(ApiError::from)?;
        // Every verifier, not only the first: a second signature by a bare key or another CA's
        // certificate would otherwise put its identities in the index.
        st.ca.check_entry_signers(&verified.signers)?;
        Ok(verified)
    };
    let verified = if in_place {
        check(&state)?
    } else {
        let st = state.clone();
        let _permit = state.rekor.workers.acquire().await;
        blocking(move || check(&st)).await?
    };
    let appended = crate::leadership::append(
        &state,
        WriteLog::Rekor,
        NewEntry {
            data: verified.canonical_body.clone(),
            index_keys: verified.index_keys,
        },
    )
    .await?;
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
    // The stored entry is the canonical body just appended, and its SET was signed and stored
    // with it: no need to read either back.
    let stored = StoredEntry {
        integrated_ms: appended.integrated_ms,
        data: verified.canonical_body,
    };
    let set = appended.entry_signature.ok_or_else(|| {
        ApiError::internal(
            "appending an entry",
            &format_args!("the sequencer returned entry {index} without its SET"),
        )
    })?;
    // The proof reads O(log n) hashes the batch just wrote (in the page cache): in place too.
    let json = rekor.entry_json(index, &stored, &set)?;
    metrics::counter!("hallmark_log_entries_total", "outcome" => "created").increment(1);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    // Rekor sends the entry's UUID (the key of the answer's one-entry map) as a bare `ETag`;
    // its generated Go client, and so sigstore-go and cosign, finds the entry by that header.
    if let Ok(v) = HeaderValue::from_str(&uuid) {
        headers.insert(header::ETAG, v);
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
    let (hashes, root) = crate::reads::blocking_read(&state, move || {
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
        crate::reads::blocking_read(&state, move || rekor.entry_at(q.log_index)).await?,
    ))
}

/// The log index of a UUID (`<16 hex tree id><64 hex leaf hash>`, or the bare leaf hash).
fn index_of_uuid(rekor: &RekorLog, uuid: &str) -> Result<u64, ApiError> {
    // Parsed by the spec layer, which checks for ASCII hex before it splits anything.
    let leaf = hallmark_sigstore::parse_entry_uuid(uuid)
        .map_err(ApiError::from)?
        .leaf_hash;
    let found = rekor
        .seq
        .store()
        .lookup_leaves(&[leaf])
        .map_err(store_error)?;
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
        crate::reads::blocking_read(&state, move || {
            let index = index_of_uuid(&rekor, &uuid)?;
            rekor.entry_at(index)
        })
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RetrieveRequest {
    /// Rekor spells it `entryUUIDs` (camelCase alone would make it `entryUuids`, which is kept as
    /// an alias for anything written against that spelling).
    #[serde(default, rename = "entryUUIDs", alias = "entryUuids")]
    entry_uuids: Vec<String>,
    #[serde(default)]
    log_indexes: Vec<u64>,
}

pub(crate) async fn retrieve(
    State(state): State<Arc<AppState>>,
    LimitedBody { bytes: body, .. }: LimitedBody<RequestLimit>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let out = crate::reads::blocking_read(&state, move || {
        let mut indexes = req.log_indexes;
        for u in &req.entry_uuids {
            indexes.push(index_of_uuid(&rekor, u)?);
        }
        // Each entry once: a request cannot multiply its own cost.
        let mut seen = std::collections::HashSet::with_capacity(indexes.len());
        if let Some(dup) = indexes.iter().find(|i| !seen.insert(**i)) {
            return Err(ApiError::bad_request(format!(
                "log index {dup} is asked for more than once (by index or UUID)"
            )));
        }
        indexes
            .into_iter()
            .map(|i| rekor.entry_at(i))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(Json(serde_json::Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct IndexRequest {
    hash: Option<String>,
    email: Option<String>,
    public_key: Option<IndexPublicKey>,
    /// Most UUIDs in the answer (default and maximum [`MAX_SEARCH_PAGE`]).
    limit: Option<usize>,
    /// From a previous answer's `x-next-cursor`: continue below it.
    cursor: Option<String>,
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
    LimitedBody { bytes: body, .. }: LimitedBody<RequestLimit>,
) -> Result<Response, ApiError> {
    let req: IndexRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"hash\":\"sha256:<hex>\"}}, {{\"email\":...}} or {{\"publicKey\":{{\"content\":...}}}}, optionally with \"limit\" and \"cursor\": {e}"
        ))
    })?;
    let limit = req.limit.unwrap_or(MAX_SEARCH_PAGE);
    if !(1..=MAX_SEARCH_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_SEARCH_PAGE}"
        )));
    }
    let before = match &req.cursor {
        None => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            ApiError::bad_request("cursor is not one this server gave out (x-next-cursor)")
        })?),
    };
    let key = match (req.hash, req.email, req.public_key) {
        (Some(h), None, None) => hallmark_sigstore::index::search_digest_key(&h)
            .map_err(|_| ApiError::bad_request("hash must be sha256:<64 hex digits>"))?,
        (None, Some(e), None) => hallmark_sigstore::index::email_key(&e),
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
    let (uuids, next) = crate::reads::blocking_read(&state, move || {
        let store = rekor.seq.store();
        // One more than asked for tells whether another page follows.
        let mut indexes = store.search(&key, before, limit + 1).map_err(store_error)?;
        let next = if indexes.len() > limit {
            indexes.truncate(limit);
            indexes.last().copied()
        } else {
            None
        };
        // The UUID is the tree ID and the leaf hash, which the tree stores at level 0.
        let positions: Vec<u64> = indexes
            .iter()
            .map(|&i| hallmark_tlog::tree::stored_index(0, i))
            .collect();
        let leaves = store.read_hashes(&positions).map_err(store_error)?;
        let uuids: Vec<String> = leaves.iter().map(|l| rekor.uuid(l)).collect();
        Ok((uuids, next))
    })
    .await?;
    let mut resp = Json(serde_json::json!(uuids)).into_response();
    if let Some(next) = next {
        resp.headers_mut()
            .insert(NEXT_CURSOR, HeaderValue::from(next));
    }
    Ok(resp)
}

/// The search key of a public key given as PEM (public key or certificate) or DER SPKI, as
/// entries are indexed (`hallmark_sigstore::index`).
pub(crate) fn public_key_index_key(raw: &[u8]) -> Result<String, ApiError> {
    hallmark_sigstore::index::search_public_key_key(raw).map_err(|_| {
        ApiError::bad_request(
            "publicKey.content is not a PEM public key, PEM certificate or DER SPKI",
        )
    })
}
