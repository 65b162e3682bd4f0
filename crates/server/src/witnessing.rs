//! The Rekor v2 log's witnesses (`log_v2.witnesses`, `log_v2.witness_quorum`): each new
//! checkpoint is sent to every witness as a [C2SP tlog-witness](https://c2sp.org/tlog-witness)
//! `add-checkpoint` request, and once at least the quorum cosigned it, the checkpoint with their
//! cosignature lines is *published*: `GET /checkpoint` and `log_v2.tiles_dir` show only witnessed
//! checkpoints (as Tessera logs do), so a client that requires cosignatures can check any
//! checkpoint the log hands out.
//!
//! - One task ([`Witnessing::spawn`]) follows the sequencer: whenever the latest checkpoint is
//!   newer than the last one published, it submits it to all witnesses at once (each request
//!   bounded by [`REQUEST_TIMEOUT`]). Batches that land meanwhile are covered by the next round,
//!   so witnesses see one request per round, not per entry.
//! - Per witness it remembers the size the witness last cosigned (starting from 0 after a
//!   restart) and sends a consistency proof from it; a 409 names the witness's size and the
//!   request is sent again from there. A witness that claims a size larger than the log's is
//!   reported (error log): the log cannot prove anything to it.
//! - Writes: an entry's answer waits up to `log_v2.witness_wait_ms` (default 1.5 s, at most 4 s)
//!   for a witnessed checkpoint covering it, and then carries that checkpoint, cosignatures
//!   included, with an inclusion proof against it. If the wait runs out, or while the quorum is
//!   unreachable (the last round failed), the answer carries the log-signed checkpoint alone, at
//!   once: writes never wait on a witness that is down. `/checkpoint` then keeps serving the last
//!   witnessed checkpoint, and a failed round is retried every [`RETRY_EVERY`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hallmark_tlog::Hash;
use hallmark_tlog::cosignature::{CosignatureVerifier, parse_cosignature_line};
use hallmark_tlog::note::Note;
use hallmark_tlog::witness::{AddCheckpoint, SIZE_CONTENT_TYPE, parse_size_body};
use tokio::sync::watch;

use crate::config::LogV2Settings;
use crate::store::LogSequencer;

/// Bound on one `add-checkpoint` request.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How soon a round that missed the quorum is tried again.
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often the task looks for a new checkpoint.
const POLL: Duration = Duration::from_millis(5);
/// 409 answers followed in one round before giving up on a witness.
const MAX_CONFLICTS: usize = 3;

/// A checkpoint cosigned by the quorum.
#[derive(Debug)]
pub(crate) struct Published {
    /// Its tree size.
    pub(crate) size: u64,
    /// Its root hash.
    pub(crate) root: Hash,
    /// The note: the log's signature, then the witnesses' cosignatures.
    pub(crate) note: Arc<str>,
}

struct WitnessPeer {
    endpoint: url::Url,
    verifier: CosignatureVerifier,
    /// The size this witness last cosigned, as far as the log knows.
    known: AtomicU64,
}

/// The log's witnesses and what they last cosigned together.
pub(crate) struct Witnessing {
    peers: Vec<WitnessPeer>,
    quorum: usize,
    wait: Duration,
    published: watch::Sender<Option<Arc<Published>>>,
    /// Whether the last round reached the quorum: writes wait only then.
    healthy: AtomicBool,
}

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessing")
            .field("witnesses", &self.peers.len())
            .field("quorum", &self.quorum)
            .finish_non_exhaustive()
    }
}

impl Witnessing {
    /// The witnessing of `settings`, or `None` when no witnesses are configured.
    pub(crate) fn new(settings: &LogV2Settings) -> anyhow::Result<Option<Arc<Self>>> {
        if settings.witnesses.is_empty() {
            return Ok(None);
        }
        let mut peers = Vec::new();
        for w in &settings.witnesses {
            let mut endpoint = w.url.clone();
            endpoint
                .path_segments_mut()
                .map_err(|()| anyhow::anyhow!("witness URL {} cannot take a path", w.url))?
                .pop_if_empty()
                .push("add-checkpoint");
            peers.push(WitnessPeer {
                endpoint,
                verifier: w.verifier.clone(),
                known: AtomicU64::new(0),
            });
        }
        Ok(Some(Arc::new(Self {
            peers,
            quorum: settings.witness_quorum,
            wait: settings.witness_wait,
            published: watch::Sender::new(None),
            healthy: AtomicBool::new(true),
        })))
    }

    /// The latest published (witnessed) checkpoint, if any yet.
    pub(crate) fn published(&self) -> Option<Arc<Published>> {
        self.published.borrow().clone()
    }

    /// A witnessed checkpoint of at least `size` entries: waits up to `log_v2.witness_wait_ms`
    /// for one, not at all while the quorum is unreachable. `None`: answer without.
    pub(crate) async fn covering(&self, size: u64) -> Option<Arc<Published>> {
        if let Some(p) = self.published().filter(|p| p.size >= size) {
            return Some(p);
        }
        if !self.healthy.load(Ordering::Relaxed) {
            return None;
        }
        let mut rx = self.published.subscribe();
        let waited = tokio::time::timeout(
            self.wait,
            rx.wait_for(|p| p.as_ref().is_some_and(|p| p.size >= size)),
        )
        .await;
        match waited {
            Ok(Ok(p)) => p.clone(),
            _ => None,
        }
    }

    /// Starts the task that witnesses `seq`'s checkpoints.
    pub(crate) fn spawn(self: Arc<Self>, seq: LogSequencer) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("building the witness HTTP client: {e}"))?;
        tokio::spawn(async move {
            loop {
                let latest = seq.latest();
                let done = self.published().is_some_and(|p| p.size >= latest.size);
                if done {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                let lines = self.round(&client, &seq, &latest).await;
                metrics::counter!("hallmark_log_v2_witness_rounds_total",
                    "outcome" => if lines.len() >= self.quorum { "published" } else { "no_quorum" })
                .increment(1);
                if lines.len() >= self.quorum {
                    let note: String = std::iter::once(latest.checkpoint.to_string())
                        .chain(lines)
                        .collect();
                    self.healthy.store(true, Ordering::Relaxed);
                    self.published.send_replace(Some(Arc::new(Published {
                        size: latest.size,
                        root: latest.root,
                        note: note.into(),
                    })));
                } else {
                    self.healthy.store(false, Ordering::Relaxed);
                    tracing::warn!(
                        size = latest.size,
                        cosigned = lines.len(),
                        quorum = self.quorum,
                        "the v2 log's checkpoint did not get a quorum of witness cosignatures; \
                         /checkpoint stays at the last witnessed one"
                    );
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        });
        Ok(())
    }

    /// Submits `latest` to every witness at once; the verified cosignature lines, in the order
    /// of `log_v2.witnesses`.
    async fn round(
        self: &Arc<Self>,
        client: &reqwest::Client,
        seq: &LogSequencer,
        latest: &hallmark_log::Committed,
    ) -> Vec<String> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.peers.len() {
            let this = Arc::clone(self);
            let client = client.clone();
            let seq = seq.clone();
            let checkpoint = latest.checkpoint.to_string();
            let size = latest.size;
            tasks.spawn(async move {
                let peer = &this.peers[i];
                let r = submit(peer, &client, &seq, &checkpoint, size).await;
                if let Err(e) = &r {
                    tracing::warn!(witness = %peer.endpoint, size, error = %e, "witness did not cosign");
                }
                (i, r.ok())
            });
        }
        let mut lines: Vec<(usize, String)> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, Some(line))) = done {
                lines.push((i, line));
            }
        }
        lines.sort();
        lines.into_iter().map(|(_, l)| l).collect()
    }
}

/// One witness's cosignature line for `checkpoint` (of `size`), checked against its key.
async fn submit(
    peer: &WitnessPeer,
    client: &reqwest::Client,
    seq: &LogSequencer,
    checkpoint: &str,
    size: u64,
) -> anyhow::Result<String> {
    let text = Note::parse(checkpoint)?.text;
    let mut old = peer.known.load(Ordering::Relaxed);
    for _ in 0..=MAX_CONFLICTS {
        if old > size {
            anyhow::bail!(
                "the witness cosigned size {old}, larger than the log's {size}: the log cannot \
                 prove consistency to it (was the log restored from an older copy?)"
            );
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            let seq = seq.clone();
            tokio::task::spawn_blocking(move || seq.consistency_proof(old, size)).await??
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.to_owned(),
        }
        .encode();
        let resp = client.post(peer.endpoint.clone()).body(body).send().await?;
        let status = resp.status().as_u16();
        let size_body = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == SIZE_CONTENT_TYPE.as_bytes());
        let bytes = resp.bytes().await?;
        match status {
            200 => {
                let answer = std::str::from_utf8(&bytes)?;
                for line in answer.lines() {
                    let Ok(sig) = parse_cosignature_line(line) else {
                        continue;
                    };
                    if peer.verifier.is_mine(&sig) {
                        peer.verifier.verify_signature(&text, &sig)?;
                        peer.known.store(size, Ordering::Relaxed);
                        return Ok(sig.to_line());
                    }
                }
                anyhow::bail!("the witness answered 200 without a cosignature by its key");
            }
            409 if size_body => {
                old = parse_size_body(&bytes)?;
                peer.known.store(old, Ordering::Relaxed);
            }
            _ => anyhow::bail!(
                "add-checkpoint (old {old}, size {size}) answered {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ),
        }
    }
    anyhow::bail!("the witness answered 409 {MAX_CONFLICTS} times in a row")
}
