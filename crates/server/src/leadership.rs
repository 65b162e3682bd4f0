//! Which replica writes, when several share one PostgreSQL database (`storage.backend:
//! postgres`).
//!
//! Every replica opens the three logs' stores and starts their sequencers, but its stores are
//! fenced: an append fails ([`hallmark_log::StoreError::Fenced`]) unless this replica holds each
//! log's sequencer lease (a session-level advisory lock in the database, see
//! [`PgStore::acquire_sequencer`]) and the epoch that came with it. One thread per replica takes
//! the leases, in one fixed order so that two replicas never hold half each, recording its
//! advertised URL as the holder; then it tells each store its epoch and has each sequencer
//! [`reload`](hallmark_log::Sequencer::reload) the tree from the database (another replica may
//! have written since this one started). It then checks the lease connections every
//! [`CHECK_EVERY`]; if one is lost (the database restarted, the network failed), it fences the
//! stores again and goes back to standing by.
//!
//! Every replica, standby or not, does the CPU-heavy part of every write itself, so that part
//! scales with replicas: it parses and verifies new log entries (every signer checked against the
//! CA), and for certificate requests verifies the token and the proof of possession, builds the
//! certificate and signs it (the HSM keys are the same on every replica). Only the append itself
//! needs the sequencer: a standby hands the verified entry ([`append`]) to the lease holder's
//! advertised URL (`POST /internal/v1/append/{log}`, [`internal_append`]), which appends it
//! without verifying it again and answers with the index, SET and checkpoint. Both the entry and
//! the answer carry an HMAC-SHA256 under a key every replica reads from the database
//! ([`PgStore::replica_key`]), mixed with a secret every replica reads from a file outside the
//! database (`storage.postgres.replica_key_file`, [`replicas_mac_key`]): only a replica can hand
//! the sequencer an entry, and a standby takes no answer that did not come from one. Without
//! that file the key is the database's alone: whoever can read the `hallmark_replica_key` table
//! (a read-only role, a dump, a backup) can then hand the sequencer entries that were never
//! verified, and the server warns at start-up. A replay of a handed entry is answered as a
//! duplicate. A standby serves reads from the database, refreshing its view of each log every
//! [`CHECK_EVERY`] and at once from each answer the sequencer gives it, so a load balancer may
//! send anything to any ready replica.
//!
//! Safety does not depend on this thread being quick: the epoch is checked under the log row's
//! lock in every append transaction, and the first index of every batch must be the stored size,
//! so a replica that lost its lease can never commit, and no index is ever assigned twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_log::store::NewEntry;
use hallmark_log::{Appended, Committed, LogError, PgStore, SequencerLease};
use hallmark_tlog::Hash;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::store::LogSequencer;

/// The route a standby hands verified entries to the sequencer on (`/{log}` follows).
pub(crate) const INTERNAL_APPEND: &str = "/internal/v1/append";

/// The header with the hex HMAC-SHA256, under the replicas' key, of a handed entry or its answer.
const MAC_HEADER: &str = "x-hallmark-replica-mac";

/// What a handed entry's MAC covers first, and what its answer's does: neither verifies as the
/// other.
const TO_SEQUENCER: &str = "hallmark entry for the sequencer";
const FROM_SEQUENCER: &str = "hallmark answer of the sequencer";

/// How often a standby tries to take the leases, and the leader checks it still holds them.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(500);

/// The epoch a standby's stores are told: never a real one, so every append is refused.
const FENCED: u64 = u64::MAX;

/// One log under leadership: its store, and how to make its sequencer reload.
pub(crate) struct LeaderLog {
    pub(crate) name: &'static str,
    pub(crate) store: Arc<PgStore>,
    pub(crate) reload: Box<dyn Fn() -> Result<(), LogError> + Send + Sync>,
}

/// This replica's part in the election.
pub(crate) struct Leadership {
    logs: Vec<LeaderLog>,
    /// This replica's advertised URL: its name in the lease.
    replica: String,
    leader: AtomicBool,
    /// The sequencer's URL, as its lease records it, while this replica stands by.
    leader_url: std::sync::RwLock<Option<String>>,
    client: reqwest::Client,
    /// The replicas' shared key ([`PgStore::replica_key`]): authenticates handed entries.
    key: hmac::Key,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("replica", &self.replica)
            .field("leader", &self.is_leader())
            .finish_non_exhaustive()
    }
}

/// Fences a store until this replica is told otherwise.
pub(crate) fn fence(store: &PgStore) {
    store.set_epoch(FENCED);
}

impl Leadership {
    /// Starts the election thread for `logs` (their stores fenced), as `replica`. `secret` is
    /// the replicas' shared secret from outside the database (`storage.postgres.replica_key_file`),
    /// mixed into the database's key ([`replicas_mac_key`]).
    pub(crate) fn start(
        logs: Vec<LeaderLog>,
        replica: String,
        secret: Option<&[u8]>,
    ) -> anyhow::Result<Arc<Self>> {
        for log in &logs {
            fence(&log.store);
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let stored = logs
            .first()
            .context("no log to lead")?
            .store
            .replica_key(&fresh)
            .context("reading the replicas' key from the database")?;
        if secret.is_none() {
            tracing::warn!(
                "storage.postgres.replica_key_file is not set: the key that authenticates the \
                 entries standbys hand the sequencer is only the database's, so whoever can read \
                 the database (a dump, a backup) and reach this port can append entries nobody \
                 verified; give every replica the same secret file"
            );
        }
        let key = replicas_mac_key(&stored, secret);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let me = Arc::new(Self {
            logs,
            replica,
            leader: AtomicBool::new(false),
            leader_url: std::sync::RwLock::new(None),
            client,
            key,
        });
        let run = me.clone();
        std::thread::Builder::new()
            .name("log-leadership".into())
            .spawn(move || run.run())?;
        Ok(me)
    }

    /// Whether this replica holds every lease and writes.
    pub(crate) fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// The sequencer's URL, when another replica is the sequencer.
    pub(crate) fn leader_url(&self) -> Option<String> {
        self.leader_url.read().ok().and_then(|g| g.clone())
    }

    /// While standing by: who leads (for forwarding), and the logs as the database has them now.
    fn follow(&self) {
        let holder = self
            .logs
            .first()
            .and_then(|l| l.store.epoch_holder().ok())
            .and_then(|(_, holder)| holder)
            .filter(|h| h.starts_with("http://") || h.starts_with("https://"));
        if let Ok(mut g) = self.leader_url.write() {
            *g = holder;
        }
        for log in &self.logs {
            if let Err(e) = (log.reload)() {
                tracing::warn!(log = log.name, error = %e, "standby could not refresh the log");
            }
        }
    }

    fn run(&self) {
        let mut waiting_logged = false;
        loop {
            match self.acquire() {
                Ok(Some(mut leases)) => {
                    waiting_logged = false;
                    if let Err(e) = self.take_over(&leases) {
                        tracing::error!(error = %e, "could not take over the logs; retrying");
                        self.step_down();
                        drop(leases);
                        std::thread::sleep(CHECK_EVERY);
                        continue;
                    }
                    while leases.iter_mut().all(SequencerLease::is_held) {
                        std::thread::sleep(CHECK_EVERY);
                    }
                    tracing::warn!(
                        replica = %self.replica,
                        "lost a sequencer lease: this replica stops writing until it holds them again"
                    );
                    self.step_down();
                }
                Ok(None) => {
                    self.follow();
                    if !waiting_logged {
                        tracing::info!(
                            replica = %self.replica,
                            "another replica is the logs' sequencer: standing by"
                        );
                        waiting_logged = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the database for the sequencer lease")
                }
            }
            std::thread::sleep(CHECK_EVERY);
        }
    }

    /// Every log's lease, taken in order, or none.
    fn acquire(&self) -> Result<Option<Vec<SequencerLease>>, hallmark_log::StoreError> {
        let mut leases = Vec::with_capacity(self.logs.len());
        for log in &self.logs {
            match log.store.acquire_sequencer(&self.replica)? {
                Some(lease) => leases.push(lease),
                None => return Ok(None),
            }
        }
        Ok(Some(leases))
    }

    fn take_over(&self, leases: &[SequencerLease]) -> Result<(), LogError> {
        for (log, lease) in self.logs.iter().zip(leases) {
            log.store.set_epoch(lease.epoch());
            (log.reload)()?;
            tracing::info!(
                log = log.name,
                epoch = lease.epoch(),
                replica = %self.replica,
                "this replica is now the log's sequencer"
            );
        }
        self.leader.store(true, Ordering::Release);
        if let Ok(mut g) = self.leader_url.write() {
            *g = None;
        }
        Ok(())
    }

    fn step_down(&self) {
        self.leader.store(false, Ordering::Release);
        for log in &self.logs {
            fence(&log.store);
        }
    }
}

/// The logs a standby hands entries to the sequencer for, by their name in the internal route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteLog {
    /// The Rekor v1 log.
    Rekor,
    /// The CT log (precertificates of issued certificates).
    Ct,
    /// The Rekor v2 log; it pushes back (503) when its queue is full.
    RekorV2,
}

impl WriteLog {
    fn name(self) -> &'static str {
        match self {
            Self::Rekor => "rekor",
            Self::Ct => "ct",
            Self::RekorV2 => "rekor-v2",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [Self::Rekor, Self::Ct, Self::RekorV2]
            .into_iter()
            .find(|l| l.name() == name)
    }

    fn sequencer(self, state: &AppState) -> Result<&LogSequencer, ApiError> {
        match self {
            Self::Rekor => Ok(&state.rekor.seq),
            Self::Ct => Ok(&state.ct.seq),
            Self::RekorV2 => state
                .rekor_v2
                .as_ref()
                .map(|v2| &v2.seq)
                .ok_or_else(|| ApiError::not_found("this server runs no Rekor v2 log")),
        }
    }
}

/// Appends an entry this replica has verified (every signer checked) and waits until it is
/// durable: with the local sequencer, or — on a standby — by handing it to the sequencer replica
/// ([`internal_append`]), which appends it without verifying it again. The answer is the
/// sequencer's: the same index, SET and checkpoint on every replica.
pub(crate) async fn append(
    state: &AppState,
    log: WriteLog,
    entry: NewEntry,
) -> Result<Appended, ApiError> {
    let seq = log.sequencer(state)?;
    match &state.leadership {
        Some(l) if !l.is_leader() => {
            let appended = l.hand_over(log, entry).await?;
            // Reads on this replica (the new entry's inclusion proof) see the tree at once.
            seq.observe(appended.tree.clone());
            Ok(appended)
        }
        _ => append_here(seq, log, entry).await,
    }
}

async fn append_here(
    seq: &LogSequencer,
    log: WriteLog,
    entry: NewEntry,
) -> Result<Appended, ApiError> {
    let appended = if log == WriteLog::RekorV2 {
        seq.try_append(entry).await
    } else {
        seq.append(entry).await
    };
    appended.map_err(|e| ApiError::from(e.as_ref()))
}

/// An entry a standby hands to the sequencer.
#[derive(Serialize, Deserialize)]
struct HandedEntry {
    /// The leaf data, base64.
    data: String,
    index_keys: Vec<String>,
}

/// The sequencer's answer: [`Appended`] on the wire.
#[derive(Serialize, Deserialize)]
struct HandedBack {
    index: u64,
    /// Hex.
    leaf_hash: String,
    integrated_ms: u64,
    duplicate: bool,
    /// Base64.
    entry_signature: Option<String>,
    size: u64,
    /// Hex.
    root: String,
    checkpoint: String,
}

impl HandedBack {
    fn new(a: &Appended) -> Self {
        Self {
            index: a.index,
            leaf_hash: a.leaf_hash.to_hex(),
            integrated_ms: a.integrated_ms,
            duplicate: a.duplicate,
            entry_signature: a.entry_signature.as_ref().map(|s| STANDARD.encode(s)),
            size: a.tree.size,
            root: a.tree.root.to_hex(),
            checkpoint: a.tree.checkpoint.to_string(),
        }
    }

    fn appended(self) -> Option<Appended> {
        let hash = |h: &str| Hash::from_hex(h).ok();
        Some(Appended {
            index: self.index,
            leaf_hash: hash(&self.leaf_hash)?,
            integrated_ms: self.integrated_ms,
            duplicate: self.duplicate,
            entry_signature: match self.entry_signature {
                Some(s) => Some(STANDARD.decode(s).ok()?),
                None => None,
            },
            tree: Arc::new(Committed {
                size: self.size,
                root: hash(&self.root)?,
                checkpoint: self.checkpoint.into(),
            }),
        })
    }
}

/// The key that authenticates handed entries and the sequencer's answers: the database's random
/// key, or, with the replicas' secret from outside the database, HMAC-SHA256 under that secret
/// of a label and the database's key. Neither part alone gives it.
fn replicas_mac_key(stored: &[u8; 32], secret: Option<&[u8]>) -> hmac::Key {
    match secret {
        None => hmac::Key::new(hmac::HMAC_SHA256, stored),
        Some(secret) => {
            let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, secret));
            ctx.update(b"hallmark replicas' MAC key\n");
            ctx.update(stored);
            hmac::Key::new(hmac::HMAC_SHA256, ctx.sign().as_ref())
        }
    }
}

/// What the MAC of a handed entry covers: its direction, the log, the body.
fn mac(key: &hmac::Key, direction: &str, log: WriteLog, body: &[u8]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(direction.as_bytes());
    ctx.update(b"\n");
    ctx.update(log.name().as_bytes());
    ctx.update(b"\n");
    ctx.update(body);
    ctx.sign()
}

fn mac_matches(key: &hmac::Key, direction: &str, log: WriteLog, body: &[u8], sent: &[u8]) -> bool {
    let ours = mac(key, direction, log, body);
    aws_lc_rs::constant_time::verify_slices_are_equal(ours.as_ref(), sent).is_ok()
}

fn sent_mac(headers: &HeaderMap) -> Option<Vec<u8>> {
    hex::decode(headers.get(MAC_HEADER)?.as_bytes()).ok()
}

impl Leadership {
    /// Hands a verified entry to the sequencer replica and checks its answer.
    async fn hand_over(&self, log: WriteLog, entry: NewEntry) -> Result<Appended, ApiError> {
        let unavailable = |why: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why);
        let Some(leader) = self.leader_url() else {
            return Err(unavailable(
                "no replica is the logs' sequencer at the moment; retry",
            ));
        };
        let leaf = hallmark_tlog::leaf_hash(&entry.data);
        let body = serde_json::to_vec(&HandedEntry {
            data: STANDARD.encode(&entry.data),
            index_keys: entry.index_keys,
        })
        .map_err(|e| ApiError::internal("encoding a handed entry", &e))?;
        let tag = mac(&self.key, TO_SEQUENCER, log, &body);
        let answer = self
            .client
            .post(format!("{leader}{INTERNAL_APPEND}/{}", log.name()))
            .header(MAC_HEADER, hex::encode(tag.as_ref()))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, %leader, "handing an entry to the sequencer failed");
                return Err(unavailable("the logs' sequencer did not answer; retry"));
            }
        };
        let status = answer.status();
        let mac = sent_mac(answer.headers());
        let Ok(bytes) = answer.bytes().await else {
            return Err(unavailable("the logs' sequencer did not answer; retry"));
        };
        if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ) {
            // The sequencer refused this replica itself (another key, another version): the
            // deployment's fault, not the client's.
            tracing::error!(%leader, %status, log = log.name(), "the sequencer refused a handed entry");
            return Err(unavailable(
                "the logs' sequencer refused this replica; retry",
            ));
        }
        if !status.is_success() {
            // The sequencer's own refusal (entry too large, queue full, storage down): passed on.
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("the logs' sequencer answered {status}"));
            return Err(ApiError::new(status, message));
        }
        let appended = mac
            .filter(|m| mac_matches(&self.key, FROM_SEQUENCER, log, &bytes, m))
            .and_then(|_| serde_json::from_slice::<HandedBack>(&bytes).ok())
            .and_then(HandedBack::appended)
            .filter(|a| a.leaf_hash == leaf);
        let Some(appended) = appended else {
            tracing::error!(%leader, log = log.name(), "the sequencer's answer failed its MAC or is malformed");
            return Err(unavailable(
                "the logs' sequencer gave an answer that does not check out; retry",
            ));
        };
        metrics::counter!("hallmark_replica_entries_total", "role" => "handed_over").increment(1);
        Ok(appended)
    }
}

/// `POST /internal/v1/append/{log}`: on the sequencer, appends an entry a standby replica
/// verified, if its MAC under the replicas' key ([`PgStore::replica_key`]) checks out; the answer
/// carries a MAC too. Anyone else gets 403, and a standby 503 (it does not sequence).
pub(crate) async fn internal_append(
    State(state): State<Arc<AppState>>,
    Path(log): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(l) = &state.leadership else {
        return Err(ApiError::not_found("no such route"));
    };
    let log = WriteLog::from_name(&log).ok_or_else(|| ApiError::not_found("no such log"))?;
    let sent = sent_mac(&headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "only a replica of this deployment may hand entries to the sequencer",
        )
    })?;
    if !mac_matches(&l.key, TO_SEQUENCER, log, &body, &sent) {
        metrics::counter!("hallmark_replica_entries_total", "role" => "refused").increment(1);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the handed entry's MAC does not check out",
        ));
    }
    if !l.is_leader() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this replica is not the logs' sequencer; retry",
        ));
    }
    let handed: HandedEntry = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed handed entry: {e}")))?;
    let data = STANDARD
        .decode(handed.data)
        .map_err(|e| ApiError::bad_request(format!("malformed handed entry: {e}")))?;
    let seq = log.sequencer(&state)?;
    let appended = append_here(
        seq,
        log,
        NewEntry {
            data,
            index_keys: handed.index_keys,
        },
    )
    .await?;
    let json = serde_json::to_vec(&HandedBack::new(&appended))
        .map_err(|e| ApiError::internal("encoding a handed entry's answer", &e))?;
    let tag = mac(&l.key, FROM_SEQUENCER, log, &json);
    metrics::counter!("hallmark_replica_entries_total", "role" => "sequenced").increment(1);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                HeaderName::from_static(MAC_HEADER),
                hex::encode(tag.as_ref()),
            ),
        ],
        json,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the replicas' secret, the MAC key is neither the database's key nor any other
    /// secret's: someone with only the database cannot make a MAC the sequencer takes.
    #[test]
    fn the_replicas_secret_changes_the_mac_key() {
        let tag = |k: &hmac::Key| {
            mac(k, TO_SEQUENCER, WriteLog::Rekor, b"entry")
                .as_ref()
                .to_vec()
        };
        let stored = [5u8; 32];
        let with = tag(&replicas_mac_key(&stored, Some(&[1; 32])));
        assert_eq!(with, tag(&replicas_mac_key(&stored, Some(&[1; 32]))));
        assert_ne!(with, tag(&replicas_mac_key(&stored, None)));
        assert_ne!(with, tag(&replicas_mac_key(&stored, Some(&[2; 32]))));
        assert_ne!(with, tag(&replicas_mac_key(&[6; 32], Some(&[1; 32]))));
        // Without the secret, the MAC is HMAC-SHA256 under the stored key of exactly this (the
        // PostgreSQL test forges one so, and expects the sequencer to refuse it).
        let db_only = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &stored),
            b"hallmark entry for the sequencer\nrekor\nentry",
        );
        assert_eq!(tag(&replicas_mac_key(&stored, None)), db_only.as_ref());
        assert!(!mac_matches(
            &replicas_mac_key(&stored, Some(&[1; 32])),
            TO_SEQUENCER,
            WriteLog::Rekor,
            b"entry",
            &tag(&replicas_mac_key(&stored, None)),
        ));
    }
}
