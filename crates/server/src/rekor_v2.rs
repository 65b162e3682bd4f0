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
use hallmark_tlog::tile::{TILE_HEIGHT, TILE_WIDTH, Tile};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{EntryLimit, LimitedBody};
use crate::rekor::blocking;
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
    /// Bounds the create path's CPU work, as for the v1 log.
    pub(crate) workers: tokio::sync::Semaphore,
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
    let st = state.clone();
    let permit = v2.workers.acquire().await;
    let verified = blocking(move || {
        let request = CreateEntryRequest::parse(&body).map_err(ApiError::from)?;
        let verified = request.verify().map_err(ApiError::from)?;
        st.ca
            .check_entry_signers(std::slice::from_ref(&verified.signer))?;
        Ok(verified)
    })
    .await?;
    drop(permit);
    let appended = v2
        .seq
        .try_append(NewEntry {
            data: verified.canonical_body.clone(),
            index_keys: verified.index_keys,
        })
        .await
        .map_err(|e| ApiError::from(e.as_ref()))?;
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
    let seq = v2.seq.clone();
    let permit = v2.workers.acquire().await;
    let proof = blocking(move || {
        seq.inclusion_proof(index, tree.size)
            .map_err(|e| ApiError::from(&e))
    })
    .await?;
    drop(permit);
    let hashes: Vec<[u8; 32]> = proof.iter().map(|h| h.0).collect();
    let entry = log_entry(&LogEntryParts {
        log_index: index,
        key_id: &v2.key_id,
        canonical_body: &verified.canonical_body,
        hashes: &hashes,
        root_hash: &appended.tree.root.0,
        tree_size: appended.tree.size,
        checkpoint: &appended.tree.checkpoint,
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

/// `GET /checkpoint`: the latest signed checkpoint.
pub(crate) async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let v2 = log(&state)?;
    let tree = v2.seq.latest();
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, NO_CACHE),
        ],
        tree.checkpoint.to_string(),
    )
        .into_response())
}

/// `GET /tile/{*path}`: a hash tile or an entry bundle of the latest tree.
pub(crate) async fn tile(
    State(state): State<Arc<AppState>>,
    UrlPath(path): UrlPath<String>,
) -> Result<Response, ApiError> {
    let v2 = log(&state)?;
    let tile = Tile::parse(&format!("tile/{path}"))
        .map_err(|e| ApiError::not_found(format!("not a tile path: {e}")))?;
    let size = v2.seq.latest().size;
    let store = v2.seq.store().clone();
    let bytes =
        crate::reads::blocking_read(&state, move || tile_bytes(store.as_ref(), &tile, size))
            .await?;
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

/// How many items (hashes of the tile's level, or entries) a tree of `size` has for `tile`'s
/// level.
fn items_at_level(tile: &Tile, size: u64) -> u64 {
    match tile.level {
        None => size,
        Some(l) => size
            .checked_shr(u32::from(l) * u32::from(TILE_HEIGHT))
            .unwrap_or(0),
    }
}

/// The bytes of `tile` in the tree of `size` entries: 404 when the tree does not have it (yet).
/// Blocking: storage.
pub(crate) fn tile_bytes(
    store: &impl LogStore,
    tile: &Tile,
    size: u64,
) -> Result<Vec<u8>, ApiError> {
    let end = tile
        .index
        .checked_mul(TILE_WIDTH)
        .and_then(|first| first.checked_add(u64::from(tile.width)));
    let Some(end) = end.filter(|&e| e <= items_at_level(tile, size)) else {
        return Err(ApiError::not_found(format!(
            "the log (size {size}) has no tile {}",
            tile.path()
        )));
    };
    let start = end - u64::from(tile.width);
    let store_err = |e: hallmark_log::StoreError| ApiError::from(&hallmark_log::LogError::Store(e));
    match tile.level {
        Some(_) => {
            let positions = tile
                .stored_indexes()
                .ok_or_else(|| ApiError::not_found(format!("no tree has tile {}", tile.path())))?;
            let hashes = store.read_hashes(&positions).map_err(store_err)?;
            Ok(hashes.iter().flat_map(|h| h.0).collect())
        }
        None => {
            let entries = store.entries(start, end).map_err(store_err)?;
            let mut out = Vec::with_capacity(entries.iter().map(|e| e.data.len() + 2).sum());
            for e in &entries {
                let len = u16::try_from(e.data.len()).map_err(|_| {
                    ApiError::internal(
                        "serving an entry bundle",
                        &format_args!("an entry of {} bytes is stored", e.data.len()),
                    )
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&e.data);
            }
            Ok(out)
        }
    }
}

/// Keeps a directory in step with the log: after each new tree size, the tiles it completes or
/// extends, then the checkpoint, each written to a temporary file and renamed into place, so a
/// static server never serves a checkpoint whose tiles are missing, nor a torn file. Partial
/// tiles a full tile replaces are deleted.
pub(crate) struct TileMirror {
    dir: PathBuf,
    seq: LogSequencer,
    written: u64,
}

impl TileMirror {
    /// A mirror into `dir` (created if missing), resuming from the checkpoint already there.
    pub(crate) fn new(dir: PathBuf, seq: LogSequencer) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("tile"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let written = std::fs::read_to_string(dir.join("checkpoint"))
            .ok()
            .and_then(|c| c.lines().nth(1).and_then(|l| l.parse().ok()))
            .unwrap_or(0);
        Ok(Self { dir, seq, written })
    }

    /// Writes what changed since the last call. Blocking: storage and files.
    pub(crate) fn sync(&mut self) -> anyhow::Result<()> {
        let tree = self.seq.latest();
        if tree.size == self.written {
            return Ok(());
        }
        let store = self.seq.store();
        for tile in changed_tiles(self.written, tree.size) {
            let bytes = tile_bytes(store.as_ref(), &tile, tree.size)
                .map_err(|e| anyhow::anyhow!("reading tile {}: {e:?}", tile.path()))?;
            write_atomic(&self.dir.join(tile.path()), &bytes)?;
            if u64::from(tile.width) == TILE_WIDTH {
                // The partial versions of a now full tile are not needed any more.
                let _ = std::fs::remove_dir_all(self.dir.join(format!("{}.p", tile.path())));
            }
        }
        write_atomic(&self.dir.join("checkpoint"), tree.checkpoint.as_bytes())?;
        self.written = tree.size;
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

/// The tiles (hash tiles at every level, and entry bundles) that differ between a tree of
/// `old` and one of `new` entries: at each level, from the tile holding the first new item to
/// the last, the last one partial when not full.
pub(crate) fn changed_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut push_level = |level: Option<u8>, old_items: u64, new_items: u64| {
        if new_items <= old_items {
            return;
        }
        for index in old_items / TILE_WIDTH..new_items.div_ceil(TILE_WIDTH) {
            let width = (new_items - index * TILE_WIDTH).min(TILE_WIDTH);
            out.push(Tile {
                level,
                index,
                width: u16::try_from(width).unwrap_or(u16::MAX),
            });
        }
    };
    push_level(None, old, new);
    let mut level = 0u8;
    while let Some(shift) = u32::from(level).checked_mul(u32::from(TILE_HEIGHT)) {
        let (o, n) = (
            old.checked_shr(shift).unwrap_or(0),
            new.checked_shr(shift).unwrap_or(0),
        );
        if n == 0 {
            break;
        }
        push_level(Some(level), o, n);
        level += 1;
    }
    out
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn changed_tiles_cover_new_items_at_every_level() {
        let paths = |o, n| {
            changed_tiles(o, n)
                .iter()
                .map(Tile::path)
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(0, 3), ["tile/entries/000.p/3", "tile/0/000.p/3"]);
        assert_eq!(
            paths(3, 300),
            [
                "tile/entries/000",
                "tile/entries/001.p/44",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1"
            ]
        );
        // Nothing new at level 1 between 300 and 310 (still one level-8 hash).
        assert_eq!(
            paths(300, 310),
            ["tile/entries/001.p/54", "tile/0/001.p/54"]
        );
        assert!(paths(5, 5).is_empty());
        // A big tree: level 2 appears at 65,536 entries.
        assert!(paths(0, 65_536).contains(&"tile/2/000.p/1".to_owned()));
    }
}
