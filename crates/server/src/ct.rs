//! Hallmark's certificate-transparency log: a second instance of the log core, holding RFC 6962
//! `MerkleTreeLeaf`s of precertificates, with its own HSM-held P-256 key, serving the RFC 6962
//! read API (`/ct/v1/get-sth`, `get-sth-consistency`, `get-proof-by-hash`, `get-entries`,
//! `get-roots`) so that CT monitors can audit it.
//!
//! The CA appends a precertificate leaf and waits until its batch is durable before the SCT is
//! signed: a certificate can only carry an SCT for an entry the log already holds.
//!
//! `extra_data` of an entry is the issuing chain (issuing CA, root) as an RFC 6962 `ASN.1Cert`
//! list. The precertificate is not signed on its own — that would be a third HSM signature per
//! certificate — so `extra_data` does not start with a signed precertificate as RFC 6962's
//! `PrecertChainEntry` does; the leaf's TBS and the SCT's signature over it are what a monitor
//! checks.
//!
//! `get-sth` signs an STH at most once per tree size: the first reader after the tree grew signs
//! it (single-flight: concurrent readers wait for that one signature) and everyone else gets the
//! cached one. The other reads never sign, and run on the bounded blocking read path
//! (`crate::reads`).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_log::Committed;
use hallmark_log::store::LogStore;
use hallmark_sigstore::ct;
use hallmark_tlog::Hash;
use p256::ecdsa::DerSignature;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::LogKey;
use crate::store::LogSequencer;

/// Most entries one `get-entries` call returns.
pub(crate) const MAX_GET_ENTRIES: u64 = 256;

/// A signed tree head, cached per tree size: the spec layer's type and its `get-sth` JSON.
#[derive(Clone, Debug)]
pub(crate) struct Sth {
    tree_size: u64,
    json: String,
}

/// The CT log.
pub(crate) struct CtLog {
    pub(crate) seq: LogSequencer,
    pub(crate) key: LogKey,
    /// SHA-256 of the CT key's SPKI: the log ID in SCTs.
    pub(crate) log_id: [u8; 32],
    /// DER of the issuing chain, for `get-roots`.
    pub(crate) chain_der: Vec<Vec<u8>>,
    /// `get-entries`' `extra_data` (the chain as a TLS certificate list, base64), encoded once.
    extra_data: String,
    /// The latest STH signed.
    sth: Mutex<Option<Sth>>,
    /// Held while an STH is signed, so concurrent readers of a grown tree make one signature.
    signing_sth: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CtLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtLog")
            .field("log_id", &hex::encode(self.log_id))
            .finish_non_exhaustive()
    }
}

impl CtLog {
    pub(crate) fn new(
        seq: LogSequencer,
        key: LogKey,
        log_id: [u8; 32],
        chain_der: Vec<Vec<u8>>,
    ) -> Result<Self, hallmark_sigstore::ct::CtError> {
        let extra_data = STANDARD.encode(ct::encode_certificate_chain(&chain_der)?);
        Ok(Self {
            seq,
            key,
            log_id,
            chain_der,
            extra_data,
            sth: Mutex::new(None),
            signing_sth: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn latest(&self) -> Arc<Committed> {
        self.seq.latest()
    }

    /// The STH signed for `size`, if that is the latest one signed.
    fn cached_sth(&self, size: u64) -> Option<Sth> {
        self.sth
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|s| s.tree_size == size)
    }

    /// The STH for the latest tree, signing one (on a blocking thread) when the tree grew: once
    /// per tree size, however many readers ask at once.
    async fn sth(self: &Arc<Self>) -> Result<Sth, ApiError> {
        if let Some(s) = self.cached_sth(self.latest().size) {
            return Ok(s);
        }
        // Single flight: one reader signs, the others wait and take its STH.
        let _signing = self.signing_sth.lock().await;
        let latest = self.latest();
        if let Some(s) = self.cached_sth(latest.size) {
            return Ok(s);
        }
        let this = self.clone();
        let sth = tokio::task::spawn_blocking(move || this.sign_sth(&latest))
            .await
            .map_err(|e| ApiError::internal("STH signing task failed", &e))??;
        if let Ok(mut g) = self.sth.lock()
            && g.as_ref().is_none_or(|s| s.tree_size < sth.tree_size)
        {
            *g = Some(sth.clone());
        }
        Ok(sth)
    }

    fn sign_sth(&self, tree: &Committed) -> Result<Sth, ApiError> {
        let timestamp = now_ms();
        let signed = ct::sth_signed_data(timestamp, tree.size, &tree.root.0);
        let sig: DerSignature = self.key.try_sign(&signed).map_err(|e| {
            if crate::error::signer_unavailable(&e) {
                ApiError::unavailable("the CT log key (HSM)")
            } else {
                ApiError::internal("STH signing failed", &e)
            }
        })?;
        let sth = ct::SignedTreeHead {
            tree_size: tree.size,
            timestamp_ms: timestamp,
            root_hash: tree.root.0,
            signature: ct::DigitallySigned::ecdsa_sha256(sig.as_bytes().to_vec()),
        };
        let json = sth
            .to_json()
            .map_err(|e| ApiError::internal("encoding the STH", &e))?;
        Ok(Sth {
            tree_size: tree.size,
            json,
        })
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) async fn get_sth(
    State(state): State<Arc<AppState>>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let sth = state.ct.sth().await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        sth.json,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    first: u64,
    second: u64,
}

pub(crate) async fn get_sth_consistency(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let size = state.ct.latest().size;
    if q.first > q.second || q.second > size {
        return Err(ApiError::bad_request(format!(
            "need 0 <= first <= second <= {size} (the current tree size); got first={} second={}",
            q.first, q.second
        )));
    }
    let proof = if q.first == 0 || q.first == q.second {
        Vec::new()
    } else {
        blocking_proof(&state, move |seq| seq.consistency_proof(q.first, q.second)).await?
    };
    Ok(Json(serde_json::json!({ "consistency": b64_list(&proof) })))
}

#[derive(Deserialize)]
pub(crate) struct ProofByHashQuery {
    hash: String,
    tree_size: u64,
}

pub(crate) async fn get_proof_by_hash(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ProofByHashQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hash = Hash::from_base64(&q.hash)
        .map_err(|_| ApiError::bad_request("hash must be a base64 SHA-256 leaf hash"))?;
    let size = state.ct.latest().size;
    if q.tree_size == 0 || q.tree_size > size {
        return Err(ApiError::bad_request(format!(
            "tree_size must be between 1 and {size} (the current tree size)"
        )));
    }
    let tree_size = q.tree_size;
    let st = state.clone();
    let (index, proof) = crate::reads::blocking_read(&state, move || {
        let seq = &st.ct.seq;
        let found = seq
            .store()
            .lookup_leaves(&[hash])
            .map_err(|e| ApiError::from(&hallmark_log::LogError::Store(e)))?;
        let index = match found.first().copied().flatten() {
            Some(i) if i < tree_size => i,
            _ => {
                return Err(ApiError::not_found(format!(
                    "no entry with leaf hash {} in the tree of size {tree_size}",
                    q.hash
                )));
            }
        };
        let proof = seq
            .inclusion_proof(index, tree_size)
            .map_err(|e| ApiError::from(&e))?;
        Ok((index, proof))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "leaf_index": index,
        "audit_path": b64_list(&proof),
    })))
}

#[derive(Deserialize)]
pub(crate) struct EntriesQuery {
    start: u64,
    end: u64,
}

pub(crate) async fn get_entries(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let size = state.ct.latest().size;
    if q.start > q.end || q.start >= size {
        return Err(ApiError::bad_request(format!(
            "need start <= end and start < {size} (the current tree size)"
        )));
    }
    // Inclusive end, as RFC 6962 has it; clamp to the tree and the page size.
    let end = q.end.min(size - 1).min(q.start + MAX_GET_ENTRIES - 1) + 1;
    let st = state.clone();
    let entries = crate::reads::blocking_read(&state, move || {
        st.ct
            .seq
            .store()
            .entries(q.start, end)
            .map_err(|e| ApiError::from(&hallmark_log::LogError::Store(e)))
    })
    .await?;
    let extra = &state.ct.extra_data;
    let list: Vec<_> = entries
        .iter()
        .map(|e| serde_json::json!({ "leaf_input": STANDARD.encode(&e.data), "extra_data": extra }))
        .collect();
    Ok(Json(serde_json::json!({ "entries": list })))
}

pub(crate) async fn get_roots(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let certs: Vec<String> = state
        .ct
        .chain_der
        .iter()
        .map(|c| STANDARD.encode(c))
        .collect();
    Json(serde_json::json!({ "certificates": certs }))
}

fn b64_list(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h.0)).collect()
}

async fn blocking_proof(
    state: &Arc<AppState>,
    f: impl FnOnce(&LogSequencer) -> Result<Vec<Hash>, hallmark_log::LogError> + Send + 'static,
) -> Result<Vec<Hash>, ApiError> {
    let st = state.clone();
    crate::reads::blocking_read(state, move || f(&st.ct.seq).map_err(|e| ApiError::from(&e))).await
}
