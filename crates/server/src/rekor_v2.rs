//! The Rekor v2 log (the rekor-tiles API): `POST /api/v2/log/entries`, and the log read as
//! [C2SP tlog-tiles](https://c2sp.org/tlog-tiles): `GET /checkpoint`, `GET /tile/<L>/<N>[.p/<W>]`,
//! `GET /tile/entries/<N>[.p/<W>]`.
//!
//! A write is a `hashedRekordRequestV002` (`hallmark_sigstore::rekor_v2`): the signature is
//! checked over the digest, the certificate must be this CA's and valid now (as for the v1 log),
//! then the canonical body is appended. The answer (201, a `TransparencyLogEntry`) is sent once
//! the entry's batch is durable and in a signed checkpoint: the sequencer commits whatever has
//! queued since its last batch as one transaction and signs one checkpoint for it, so the log key
//! signs once per batch, not once per entry, and a write waits only for the batch in flight
//! (milliseconds; sigstore-js gives up after 5 s). There is no signed entry timestamp: clients
//! take their trusted time from a timestamp authority. A duplicate answers 409 with its index in
//! `x-log-index`; a full append queue answers 503 with `Retry-After`; a frozen log 405.
//!
//! Reads never touch the key: the checkpoint is the one the sequencer signed, tiles are stored
//! hashes and entries. Full tiles never change and are served as immutable; a partial tile of
//! width `W` never changes either, but a static host may drop it once the tile is full, so it is
//! cached briefly; the checkpoint is not cached. With `log_v2.tiles_dir` the same files are also
//! written to a directory (tiles first, then the checkpoint, each atomically) for a static file
//! server or CDN ([`TileMirror`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hallmark_log::store::{LogStore, NewEntry};
use hallmark_sigstore::rekor_v2::{CreateEntryRequest, LogEntryParts, log_entry};
use hallmark_tlog::note::Checkpoint;
use hallmark_tlog::tile::{TILE_WIDTH, Tile, changed_tiles, encode_entry_bundle};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{EntryLimit, LimitedBody};
use crate::leadership::WriteLog;
use crate::store::LogSequencer;

/// The response header naming a duplicate's index.
const LOG_INDEX_HEADER: &str = "x-log-index";
/// Largest stored entry: entry bundles prefix each entry with a 16-bit length.
pub(crate) const MAX_V2_ENTRY_BYTES: usize = u16::MAX as usize;
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const PARTIAL: &str = "public, max-age=60";
const NO_CACHE: &str = "no-cache";

/// The Rekor v2 log.
pub(crate) struct RekorV2Log {
    pub(crate) seq: LogSequencer,
    /// The 32-byte hash whose first four bytes are the checkpoint key ID: SHA-256 of the DER SPKI
    /// of a P-256 key, the C2SP key hash of an Ed25519 key (the trusted root's `logId` and
    /// `checkpointKeyId`, and each entry's `logId.keyId`).
    pub(crate) key_id: [u8; 32],
    /// Writes answer 405.
    pub(crate) frozen: bool,
    /// The witnesses that cosign checkpoints before they are published (`log_v2.witnesses`).
    pub(crate) witnessing: Option<Arc<crate::witnessing::Witnessing>>,
}

impl RekorV2Log {
    /// The published checkpoint: with witnesses, the latest one the quorum cosigned (`None`
    /// before the first); without, the latest the log signed. (size, note)
    pub(crate) fn published(&self) -> Option<(u64, Arc<str>)> {
        match &self.witnessing {
            Some(w) => w.published().map(|p| (p.size, p.note.clone())),
            None => {
                let tree = self.seq.latest();
                Some((tree.size, tree.checkpoint.clone()))
            }
        }
    }
}

impl std::fmt::Debug for RekorV2Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekorV2Log")
            .field("size", &self.seq.latest().size)
            .finish_non_exhaustive()
    }
}

fn log(state: &AppState) -> Result<Arc<RekorV2Log>, ApiError> {
    state
        .rekor_v2
        .clone()
        .ok_or_else(|| ApiError::not_found("this server runs no Rekor v2 log (log_v2.enabled)"))
}

/// `POST /api/v2/log/entries`.
pub(crate) async fn create_entry(
    State(state): State<Arc<AppState>>,
    LimitedBody { bytes: body, .. }: LimitedBody<EntryLimit>,
) -> Result<Response, ApiError> {
    let v2 = log(&state)?;
    if v2.frozen {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "this log is frozen: it takes no new entries (its checkpoint and tiles are still \
             served)",
        ));
    }
    let st = &state;
    // Parsing and the signature check take tens of microseconds: done in place, on the async
    // worker. Handing them to the blocking pool cost more in thread wake-ups than the work.
    let verified = {
        let request = CreateEntryRequest::parse(&body).map_err(ApiError::from)?;
        let verified = request.verify().map_err(ApiError::from)?;
        st.ca
            .check_entry_signers(std::slice::from_ref(&verified.signer))?;
        verified
    };
    let appended = crate::leadership::append(
        st,
        WriteLog::RekorV2,
        NewEntry {
            data: verified.canonical_body.clone(),
            index_keys: verified.index_keys,
        },
    )
    .await?;
    let index = appended.index;
    if appended.duplicate {
        metrics::counter!("hallmark_log_v2_entries_total", "outcome" => "duplicate").increment(1);
        let mut resp = ApiError::new(
            StatusCode::CONFLICT,
            format!("an equal entry is already in the log at index {index}"),
        )
        .into_response();
        resp.headers_mut()
            .insert(LOG_INDEX_HEADER, HeaderValue::from(index));
        return Ok(resp);
    }
    let tree = appended.tree.clone();
    // With witnesses: the witnessed checkpoint that covers the entry, if one comes in time
    // (crate::witnessing); else the one its batch was signed in.
    let witnessed = match &v2.witnessing {
        Some(w) => w.covering(tree.size).await,
        None => None,
    };
    if v2.witnessing.is_some() {
        let outcome = if witnessed.is_some() {
            "witnessed"
        } else {
            "unwitnessed"
        };
        metrics::counter!("hallmark_log_v2_entry_checkpoints_total", "checkpoint" => outcome)
            .increment(1);
    }
    let (size, root, checkpoint) = match &witnessed {
        Some(p) => (p.size, p.root, p.note.clone()),
        None => (tree.size, tree.root, tree.checkpoint.clone()),
    };
    // The proof reads O(log n) hashes the batch just wrote (in the page cache): in place too.
    let proof = v2
        .seq
        .inclusion_proof(index, size)
        .map_err(|e| ApiError::from(&e))?;
    let hashes: Vec<[u8; 32]> = proof.iter().map(|h| h.0).collect();
    let entry = log_entry(&LogEntryParts {
        log_index: index,
        key_id: &v2.key_id,
        canonical_body: &verified.canonical_body,
        hashes: &hashes,
        root_hash: &root.0,
        tree_size: size,
        checkpoint: &checkpoint,
    });
    metrics::counter!("hallmark_log_v2_entries_total", "outcome" => "created").increment(1);
    let json =
        serde_json::to_vec(&entry).map_err(|e| ApiError::internal("encoding the log entry", &e))?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        json,
    )
        .into_response())
}

/// `GET /checkpoint`: the latest signed checkpoint; with witnesses, the latest one a quorum
/// of them cosigned (503 before the first).
pub(crate) async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let v2 = log(&state)?;
    let Some((_, note)) = v2.published() else {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no checkpoint of this log has been cosigned by a quorum of its witnesses yet",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(resp);
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, NO_CACHE),
        ],
        note.to_string(),
    )
        .into_response())
}

/// `GET /tile/{*path}`: a hash tile or an entry bundle of the latest tree.
pub(crate) async fn tile(
    State(state): State<Arc<AppState>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    match tile_response(&state, &path).await {
        Ok(resp) => resp,
        Err(e) => {
            // A tile the tree does not have yet will exist later: a cache in front must not keep
            // the 404 (nor any other error).
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
    }
}

async fn tile_response(state: &Arc<AppState>, path: &str) -> Result<Response, ApiError> {
    let v2 = log(state)?;
    let tile = Tile::parse(&format!("tile/{path}"))
        .map_err(|e| ApiError::not_found(format!("not a tile path: {e}")))?;
    let size = v2.seq.latest().size;
    let store = v2.seq.store().clone();
    let bytes =
        crate::reads::blocking_read(state, move || tile_bytes(store.as_ref(), &tile, size)).await?;
    let cache = if u64::from(tile.width) == TILE_WIDTH {
        IMMUTABLE
    } else {
        PARTIAL
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok((headers, Body::from(bytes)).into_response())
}

/// The bytes of `tile` in the tree of `size` entries: 404 when the tree does not have it (yet).
/// Blocking: storage.
pub(crate) fn tile_bytes(
    store: &impl LogStore,
    tile: &Tile,
    size: u64,
) -> Result<Vec<u8>, ApiError> {
    if !tile.in_tree_of(size) {
        return Err(ApiError::not_found(format!(
            "the log (size {size}) has no tile {}",
            tile.path()
        )));
    }
    let store_err = |e: hallmark_log::StoreError| ApiError::from(&hallmark_log::LogError::Store(e));
    match (tile.level, tile.entry_range()) {
        (None, Some((start, end))) => {
            let entries = store.entries(start, end).map_err(store_err)?;
            encode_entry_bundle(entries.iter().map(|e| e.data.as_slice()))
                .map_err(|e| ApiError::internal("serving an entry bundle", &e))
        }
        _ => {
            let positions = tile
                .stored_indexes()
                .ok_or_else(|| ApiError::not_found(format!("no tree has tile {}", tile.path())))?;
            let hashes = store.read_hashes(&positions).map_err(store_err)?;
            Ok(hashes.iter().flat_map(|h| h.0).collect())
        }
    }
}

/// Keeps a directory in step with the log: after each new tree size, the tiles it completes or
/// extends, then the checkpoint, each written to a temporary file and renamed into place, so a
/// static server never serves a checkpoint whose tiles are missing, nor a torn file. Partial
/// tiles a full tile replaces are deleted.
pub(crate) struct TileMirror {
    dir: PathBuf,
    log: Arc<RekorV2Log>,
    written: u64,
}

impl TileMirror {
    /// A mirror into `dir` (created if missing), resuming from the checkpoint already there.
    /// A checkpoint of another log (another origin), or of a larger tree than this log has, is
    /// an error: the directory is not this log's.
    pub(crate) fn new(dir: PathBuf, log: Arc<RekorV2Log>) -> anyhow::Result<Self> {
        let seq = &log.seq;
        std::fs::create_dir_all(dir.join("tile"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("checkpoint");
        let written = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            Ok(note) => {
                let theirs = checkpoint_of(&note)
                    .with_context(|| format!("{} is not a checkpoint", path.display()))?;
                let ours = checkpoint_of(&seq.latest().checkpoint)?;
                anyhow::ensure!(
                    theirs.origin == ours.origin && theirs.size <= ours.size,
                    "{} is the checkpoint of {:?} at size {}, not of this log ({:?}, size {}): \
                     log_v2.tiles_dir must be this log's own directory",
                    path.display(),
                    theirs.origin,
                    theirs.size,
                    ours.origin,
                    ours.size
                );
                theirs.size
            }
        };
        Ok(Self { dir, log, written })
    }

    /// Writes what changed since the last call: up to the published checkpoint (with
    /// witnesses, the latest witnessed one). Blocking: storage and files.
    pub(crate) fn sync(&mut self) -> anyhow::Result<()> {
        let Some((size, checkpoint)) = self.log.published() else {
            return Ok(());
        };
        if size <= self.written {
            return Ok(());
        }
        let store = self.log.seq.store();
        let tiles = changed_tiles(self.written, size);
        let mut dirs = std::collections::BTreeSet::new();
        for tile in &tiles {
            let bytes = tile_bytes(store.as_ref(), tile, size)
                .map_err(|e| anyhow::anyhow!("reading tile {}: {e:?}", tile.path()))?;
            let path = self.dir.join(tile.path());
            write_atomic(&path, &bytes)?;
            if let Some(d) = path.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        // The tiles' directory entries are durable before the checkpoint that needs them is.
        for d in &dirs {
            sync_dir(d)?;
        }
        write_atomic(&self.dir.join("checkpoint"), checkpoint.as_bytes())?;
        sync_dir(&self.dir)?;
        // Only now may the partial versions of tiles that became full go: readers of the
        // previous checkpoint could still ask for them until it was replaced.
        for tile in tiles.iter().filter(|t| u64::from(t.width) == TILE_WIDTH) {
            let _ = std::fs::remove_dir_all(self.dir.join(format!("{}.p", tile.path())));
        }
        self.written = size;
        Ok(())
    }

    /// Runs [`TileMirror::sync`] every `period` until the process ends; failures are logged
    /// and retried.
    pub(crate) fn spawn(mut self, period: Duration) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let (m, result) = match tokio::task::spawn_blocking(move || {
                    let r = self.sync();
                    (self, r)
                })
                .await
                {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::error!(error = %e, "the tile mirror task died");
                        return;
                    }
                };
                self = m;
                if let Err(e) = result {
                    tracing::warn!(error = %format!("{e:#}"), "writing tiles to log_v2.tiles_dir");
                }
            }
        });
    }
}

/// The checkpoint of a signed note (its signatures are not checked: the note is our own).
fn checkpoint_of(note: &str) -> anyhow::Result<Checkpoint> {
    let text = note.split_once("\n\n").map(|(t, _)| t).unwrap_or_default();
    Ok(Checkpoint::parse(&format!("{text}\n"))?)
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("tile")
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_data()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
