//! Which replica writes, when several share one PostgreSQL database (`storage.backend:
//! postgres`).
//!
//! Every replica opens the three logs' stores and starts their sequencers, but its stores are
//! fenced: an append fails ([`hallmark_log::StoreError::Fenced`], a 503 to the client) unless
//! this replica holds each log's sequencer lease (a session-level advisory lock in the database,
//! see [`PgStore::acquire_sequencer`]) and the epoch that came with it. One thread per replica
//! takes the leases, in one fixed order so that two replicas never hold half each; then it tells
//! each store its epoch, has each sequencer [`reload`](hallmark_log::Sequencer::reload) the tree
//! from the database (another replica may have written since this one started), and marks the
//! replica ready. It then checks the lease connections every [`CHECK_EVERY`]; if one is lost (the
//! database restarted, the network failed), it fences the stores again, becomes unready and goes
//! back to waiting.
//!
//! Safety does not depend on this thread being quick: the epoch is checked under the log row's
//! lock in every append transaction, and the first index of every batch must be the stored size,
//! so a replica that lost its lease can never commit, and no index is ever assigned twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hallmark_log::{LogError, PgStore, SequencerLease};

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
    replica: String,
    leader: AtomicBool,
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
    pub(crate) fn start(logs: Vec<LeaderLog>, replica: String) -> std::io::Result<Arc<Self>> {
        for log in &logs {
            fence(&log.store);
        }
        let me = Arc::new(Self {
            logs,
            replica,
            leader: AtomicBool::new(false),
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
        Ok(())
    }

    fn step_down(&self) {
        self.leader.store(false, Ordering::Release);
        for log in &self.logs {
            fence(&log.store);
        }
    }
}
