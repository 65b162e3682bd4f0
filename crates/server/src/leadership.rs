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
//! A standby serves reads from the database (refreshing its view of each log every
//! [`CHECK_EVERY`]) and forwards writes ([`forward_writes`]: new log entries, certificate
//! requests) to the holder's URL, so a load balancer may send anything to any ready replica. A
//! forwarded request is marked, and a replica that is not the sequencer refuses a marked request
//! (503) rather than forward it again.
//!
//! Safety does not depend on this thread being quick: the epoch is checked under the log row's
//! lock in every append transaction, and the first index of every batch must be the stored size,
//! so a replica that lost its lease can never commit, and no index is ever assigned twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hallmark_log::{LogError, PgStore, SequencerLease};

use crate::AppState;

/// The header that marks a write forwarded by a standby replica.
const FORWARDED: &str = "x-hallmark-forwarded";

/// Response headers a forwarded answer keeps.
const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "location",
    "etag",
    "x-log-index",
    "retry-after",
];

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
    /// Starts the election thread for `logs` (their stores fenced), as `replica`.
    pub(crate) fn start(logs: Vec<LeaderLog>, replica: String) -> anyhow::Result<Arc<Self>> {
        for log in &logs {
            fence(&log.store);
        }
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

/// Middleware on the write routes (`crate::router` layers it on each): on a standby, sends the
/// write to the sequencer and its answer back (see the module documentation); on the sequencer or
/// a single replica, the request goes on unchanged.
pub(crate) async fn forward_writes(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(l) = &state.leadership else {
        return next.run(req).await;
    };
    // Only POSTs are writes (a route's GET is a read, whatever layer it shares).
    if req.method() != Method::POST || l.is_leader() {
        return next.run(req).await;
    }
    let unavailable = |why: &str| {
        let mut r = crate::error::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why.to_owned())
            .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    };
    if req.headers().contains_key(FORWARDED) {
        return unavailable("this replica is no longer the logs' sequencer; retry");
    }
    let Some(leader) = l.leader_url() else {
        return unavailable("no replica is the logs' sequencer at the moment; retry");
    };
    let limit = state
        .settings
        .max_body_bytes
        .max(state.settings.max_entry_bytes.saturating_mul(2))
        .saturating_add(64 * 1024);
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return crate::error::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large".to_owned(),
        )
        .into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let mut out = l
        .client
        .post(format!("{leader}{path}"))
        .header(FORWARDED, "1")
        .body(bytes);
    for h in [header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT] {
        if let Some(v) = parts.headers.get(&h) {
            out = out.header(h, v);
        }
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, %leader, "forwarding a write to the sequencer failed");
            return unavailable("the logs' sequencer did not answer; retry");
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let Ok(body) = answer.bytes().await else {
        return unavailable("the logs' sequencer did not answer; retry");
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    for name in KEPT_HEADERS {
        if let Some(v) = headers.get(name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    metrics::counter!("hallmark_forwarded_writes_total").increment(1);
    resp
}
