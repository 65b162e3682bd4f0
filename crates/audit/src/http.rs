//! [`LogSource`] over HTTP for each of Hallmark's logs:
//!
//! | | latest head | consistency proof | entries | inclusion proof |
//! | --- | --- | --- | --- | --- |
//! | Rekor v1 | `GET /api/v1/log` (`signedTreeHead`) | `GET /api/v1/log/proof` | `POST /api/v1/log/entries/retrieve` (`logIndexes`, 100 a request) | `GET /api/v1/log/entries?logIndex=` (against the log's latest tree, with its checkpoint) |
//! | Rekor v2 | `GET /checkpoint` | from hash tiles ([`crate::tiles`]) | `GET /tile/entries/N[.p/W]` | from hash tiles |
//! | CT | `GET /ct/v1/get-sth` | `GET /ct/v1/get-sth-consistency` | `GET /ct/v1/get-entries` (256 a request) | `GET /ct/v1/get-proof-by-hash` |
//!
//! The answers' JSON is read into small private types here; the signed formats (checkpoints,
//! STHs, entry bundles, tile paths) are parsed by their owners in `hallmark_tlog` and
//! `hallmark_sigstore`. A partial tile a static host no longer serves is read from its full tile.
//! Every request is counted ([`HttpSource::requests`]).

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_tlog::Hash;
use hallmark_tlog::tile::{TILE_WIDTH, Tile, decode_entry_bundle};
use serde::Deserialize;

use crate::AuditError;
use crate::source::{InclusionAnswer, LogSource};
use crate::tiles::{self, TileReader};
use crate::trust::{AuditedLog, LogKind};

/// Entries per `entries/retrieve` request (the Rekor v1 API's limit).
const V1_PAGE: u64 = 100;
/// Entries per `get-entries` request (Hallmark's CT log's page).
const CT_PAGE: u64 = 256;
/// Longest answer read (a full entry bundle of large entries is under 17 MiB).
const MAX_BODY: usize = 64 << 20;

/// One log read over HTTP.
#[derive(Debug)]
pub struct HttpSource {
    kind: LogKind,
    base: String,
    name: String,
    client: reqwest::Client,
    requests: AtomicU64,
}

impl HttpSource {
    /// A source for `log` at its trust-root base URL, sharing `client`.
    pub fn new(log: &AuditedLog, client: reqwest::Client) -> Self {
        Self::at(log.kind(), log.base_url(), &log.to_string(), client)
    }

    /// A source for a log of `kind` at `base` (for messages, `name`).
    pub fn at(kind: LogKind, base: &str, name: &str, client: reqwest::Client) -> Self {
        Self {
            kind,
            base: base.trim_end_matches('/').to_owned(),
            name: name.to_owned(),
            client,
            requests: AtomicU64::new(0),
        }
    }

    /// How many HTTP requests this source has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path`; `Ok(None)` on 404 when `allow_404`.
    async fn get_inner(&self, path: &str, allow_404: bool) -> Result<Option<Vec<u8>>, AuditError> {
        let url = self.url(path);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.fetch_error(&url, e))?;
        self.read(resp, &url, allow_404).await
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, AuditError> {
        self.get_inner(path, false)
            .await?
            .ok_or_else(|| AuditError::malformed(&self.name, path, "no body"))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, AuditError> {
        let url = self.url(path);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.fetch_error(&url, e))?;
        self.read(resp, &url, false)
            .await?
            .ok_or_else(|| AuditError::malformed(&self.name, path, "no body"))
    }

    async fn read(
        &self,
        mut resp: reqwest::Response,
        url: &str,
        allow_404: bool,
    ) -> Result<Option<Vec<u8>>, AuditError> {
        let status = resp.status();
        if allow_404 && status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(AuditError::malformed(&self.name, url, "answer too large"));
        }
        // Read piece by piece and stop at the limit: a log that streams an endless answer
        // (no Content-Length) must not exhaust the auditor's memory.
        let mut bytes = Vec::new();
        while let Some(piece) = resp.chunk().await.map_err(|e| self.fetch_error(url, e))? {
            if bytes.len() + piece.len() > MAX_BODY {
                return Err(AuditError::malformed(&self.name, url, "answer too large"));
            }
            bytes.extend_from_slice(&piece);
        }
        if !status.is_success() {
            return Err(AuditError::Status {
                log: self.name.clone(),
                url: url.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
            });
        }
        Ok(Some(bytes))
    }

    fn fetch_error(&self, url: &str, e: reqwest::Error) -> AuditError {
        AuditError::Fetch {
            log: self.name.clone(),
            url: url.to_owned(),
            source: Box::new(e),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, AuditError> {
        serde_json::from_slice(bytes).map_err(|e| AuditError::malformed(&self.name, what, e))
    }

    fn b64_hashes(&self, what: &str, list: &[String]) -> Result<Vec<Hash>, AuditError> {
        list.iter()
            .map(|h| Hash::from_base64(h).map_err(|e| AuditError::malformed(&self.name, what, e)))
            .collect()
    }

    fn hex_hashes(&self, what: &str, list: &[String]) -> Result<Vec<Hash>, AuditError> {
        list.iter()
            .map(|h| Hash::from_hex(h).map_err(|e| AuditError::malformed(&self.name, what, e)))
            .collect()
    }

    /// A Rekor v1 entry by UUID: its log index and body (the leaf's data).
    pub async fn v1_entry_by_uuid(&self, uuid: &str) -> Result<(u64, Vec<u8>), AuditError> {
        let bytes = self.get(&format!("/api/v1/log/entries/{uuid}")).await?;
        let entries = self.v1_entries(&bytes)?;
        entries
            .into_iter()
            .next()
            .ok_or_else(|| AuditError::malformed(&self.name, "log entry", "empty answer"))
    }

    /// The Rekor v1 entries (UUIDs) whose artifact digest is `digest` (`sha256:<hex>`), by the
    /// search index.
    pub async fn v1_search_digest(&self, digest: &str) -> Result<Vec<String>, AuditError> {
        let body = serde_json::to_vec(&serde_json::json!({ "hash": digest }))
            .map_err(|e| AuditError::malformed(&self.name, "search request", e))?;
        let bytes = self.post("/api/v1/index/retrieve", body).await?;
        self.json("search answer", &bytes)
    }

    /// The `(logIndex, body)` of each entry of a Rekor v1 answer (an object of UUID to entry,
    /// or a list of those).
    fn v1_entries(&self, bytes: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, AuditError> {
        let value: serde_json::Value = self.json("log entries", bytes)?;
        let objects = match value {
            serde_json::Value::Array(a) => a,
            v => vec![v],
        };
        let mut out = Vec::new();
        for o in objects {
            let map: std::collections::BTreeMap<String, V1Entry> = serde_json::from_value(o)
                .map_err(|e| AuditError::malformed(&self.name, "log entry", e))?;
            for (_, e) in map {
                let body = STANDARD
                    .decode(&e.body)
                    .map_err(|e| AuditError::malformed(&self.name, "log entry body", e))?;
                out.push((e.log_index, body));
            }
        }
        Ok(out)
    }

    async fn v2_tile(&self, tile: &Tile) -> Result<Vec<u8>, AuditError> {
        let path = format!("/{}", tile.path());
        if let Some(b) = self.get_inner(&path, true).await? {
            return Ok(b);
        }
        // A partial tile a static host dropped once the tile filled: read the full one.
        if u64::from(tile.width) < TILE_WIDTH {
            let full = Tile {
                width: TILE_WIDTH as u16,
                ..*tile
            };
            let mut bytes = self.get(&format!("/{}", full.path())).await?;
            if tile.level.is_some() {
                bytes.truncate(usize::from(tile.width) * 32);
            } else {
                let entries = decode_entry_bundle(&bytes)
                    .map_err(|e| AuditError::malformed(&self.name, &full.path(), e))?;
                let keep = entries
                    .iter()
                    .take(usize::from(tile.width))
                    .map(|e| 2 + e.len())
                    .sum();
                bytes.truncate(keep);
            }
            return Ok(bytes);
        }
        Err(AuditError::Status {
            log: self.name.clone(),
            url: self.url(&path),
            status: 404,
            body: String::new(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Entry {
    body: String,
    log_index: u64,
    verification: Option<V1Verification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Verification {
    inclusion_proof: Option<V1InclusionProof>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1InclusionProof {
    log_index: u64,
    tree_size: u64,
    hashes: Vec<String>,
    checkpoint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1LogInfo {
    signed_tree_head: String,
}

#[derive(Deserialize)]
struct V1Proof {
    hashes: Vec<String>,
}

#[derive(Deserialize)]
struct CtConsistency {
    consistency: Vec<String>,
}

#[derive(Deserialize)]
struct CtEntries {
    entries: Vec<CtEntry>,
}

#[derive(Deserialize)]
struct CtEntry {
    leaf_input: String,
}

#[derive(Deserialize)]
struct CtProof {
    leaf_index: u64,
    audit_path: Vec<String>,
}

impl TileReader for HttpSource {
    async fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, AuditError> {
        self.v2_tile(tile).await
    }
}

impl LogSource for HttpSource {
    async fn latest(&self) -> Result<Vec<u8>, AuditError> {
        match self.kind {
            LogKind::RekorV1 => {
                let bytes = self.get("/api/v1/log").await?;
                let info: V1LogInfo = self.json("log info", &bytes)?;
                Ok(info.signed_tree_head.into_bytes())
            }
            LogKind::RekorV2 => self.get("/checkpoint").await,
            LogKind::Ct => self.get("/ct/v1/get-sth").await,
        }
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, AuditError> {
        match self.kind {
            LogKind::RekorV1 => {
                let bytes = self
                    .get(&format!(
                        "/api/v1/log/proof?firstSize={first}&lastSize={second}"
                    ))
                    .await?;
                let p: V1Proof = self.json("consistency proof", &bytes)?;
                self.hex_hashes("consistency proof", &p.hashes)
            }
            LogKind::RekorV2 => tiles::consistency_proof(self, first, second).await,
            LogKind::Ct => {
                let bytes = self
                    .get(&format!(
                        "/ct/v1/get-sth-consistency?first={first}&second={second}"
                    ))
                    .await?;
                let p: CtConsistency = self.json("consistency proof", &bytes)?;
                self.b64_hashes("consistency proof", &p.consistency)
            }
        }
    }

    async fn inclusion_proof(
        &self,
        index: u64,
        leaf: Hash,
        size: u64,
    ) -> Result<InclusionAnswer, AuditError> {
        match self.kind {
            LogKind::RekorV1 => {
                let bytes = self
                    .get(&format!("/api/v1/log/entries?logIndex={index}"))
                    .await?;
                let value: std::collections::BTreeMap<String, V1Entry> =
                    self.json("log entry", &bytes)?;
                let entry = value
                    .into_values()
                    .next()
                    .ok_or_else(|| AuditError::malformed(&self.name, "log entry", "empty"))?;
                let proof = entry
                    .verification
                    .and_then(|v| v.inclusion_proof)
                    .ok_or_else(|| {
                        AuditError::malformed(&self.name, "log entry", "no inclusion proof")
                    })?;
                if proof.log_index != index || entry.log_index != index {
                    return Err(AuditError::malformed(
                        &self.name,
                        "log entry",
                        format!("asked for index {index}, got {}", proof.log_index),
                    ));
                }
                Ok(InclusionAnswer {
                    proof: self.hex_hashes("inclusion proof", &proof.hashes)?,
                    size: proof.tree_size,
                    signed_head: Some(proof.checkpoint.into_bytes()),
                })
            }
            LogKind::RekorV2 => Ok(InclusionAnswer {
                proof: tiles::inclusion_proof(self, index, size).await?,
                size,
                signed_head: None,
            }),
            LogKind::Ct => {
                let hash = STANDARD.encode(leaf.0);
                let mut q = String::with_capacity(hash.len() * 3);
                for c in hash.chars() {
                    match c {
                        '+' => q.push_str("%2B"),
                        '/' => q.push_str("%2F"),
                        '=' => q.push_str("%3D"),
                        c => q.push(c),
                    }
                }
                let bytes = self
                    .get(&format!(
                        "/ct/v1/get-proof-by-hash?hash={q}&tree_size={size}"
                    ))
                    .await?;
                let p: CtProof = self.json("inclusion proof", &bytes)?;
                if p.leaf_index != index {
                    return Err(AuditError::malformed(
                        &self.name,
                        "inclusion proof",
                        format!("the leaf is at index {}, not {index}", p.leaf_index),
                    ));
                }
                Ok(InclusionAnswer {
                    proof: self.b64_hashes("inclusion proof", &p.audit_path)?,
                    size,
                    signed_head: None,
                })
            }
        }
    }

    async fn entries(&self, start: u64, end: u64, size: u64) -> Result<Vec<Vec<u8>>, AuditError> {
        if start >= end {
            return Ok(Vec::new());
        }
        match self.kind {
            LogKind::RekorV1 => {
                let end = end.min(start + V1_PAGE);
                let indexes: Vec<u64> = (start..end).collect();
                let body = serde_json::to_vec(&serde_json::json!({ "logIndexes": indexes }))
                    .map_err(|e| AuditError::malformed(&self.name, "retrieve request", e))?;
                let bytes = self.post("/api/v1/log/entries/retrieve", body).await?;
                let got = self.v1_entries(&bytes)?;
                let mut out = Vec::with_capacity(got.len());
                for (i, (index, body)) in got.into_iter().enumerate() {
                    if index != start + i as u64 {
                        return Err(AuditError::malformed(
                            &self.name,
                            "log entries",
                            format!("entry {} came back as index {index}", start + i as u64),
                        ));
                    }
                    out.push(body);
                }
                Ok(out)
            }
            LogKind::RekorV2 => {
                let n = start / TILE_WIDTH;
                let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
                let tile = Tile {
                    level: None,
                    index: n,
                    width: width as u16,
                };
                let bytes = self.v2_tile(&tile).await?;
                let entries = decode_entry_bundle(&bytes)
                    .map_err(|e| AuditError::malformed(&self.name, &tile.path(), e))?;
                if entries.len() as u64 != width {
                    return Err(AuditError::malformed(
                        &self.name,
                        &tile.path(),
                        format!("{} entries, want {width}", entries.len()),
                    ));
                }
                let from = (start - n * TILE_WIDTH) as usize;
                let to = (end.min((n + 1) * TILE_WIDTH) - n * TILE_WIDTH) as usize;
                Ok(entries[from..to].iter().map(|e| e.to_vec()).collect())
            }
            LogKind::Ct => {
                let last = end.min(start + CT_PAGE) - 1;
                let bytes = self
                    .get(&format!("/ct/v1/get-entries?start={start}&end={last}"))
                    .await?;
                let got: CtEntries = self.json("entries", &bytes)?;
                got.entries
                    .iter()
                    .map(|e| {
                        let leaf = STANDARD
                            .decode(&e.leaf_input)
                            .map_err(|e| AuditError::malformed(&self.name, "leaf_input", e))?;
                        hallmark_sigstore::ct::MerkleTreeLeaf::decode(&leaf).map_err(|e| {
                            AuditError::malformed(&self.name, "leaf_input MerkleTreeLeaf", e)
                        })?;
                        Ok(leaf)
                    })
                    .collect()
            }
        }
    }

    fn page(&self) -> u64 {
        match self.kind {
            LogKind::RekorV1 => V1_PAGE,
            LogKind::RekorV2 => TILE_WIDTH,
            LogKind::Ct => CT_PAGE,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A log that streams an endless chunked answer is cut off at the limit, with an error,
    /// instead of filling the auditor's memory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_answer_is_cut_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = conn.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let piece = vec![b'a'; 1 << 20];
            let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
            chunk.extend_from_slice(&piece);
            chunk.extend_from_slice(b"\r\n");
            // Far more than the limit, unless the auditor hangs up first.
            for _ in 0..((2 * MAX_BODY) >> 20) {
                if conn.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        let source = HttpSource::at(
            LogKind::RekorV2,
            &format!("http://{addr}"),
            "endless",
            reqwest::Client::new(),
        );
        let e = source.latest().await.unwrap_err();
        assert!(e.to_string().contains("answer too large"), "{e}");
    }
}
