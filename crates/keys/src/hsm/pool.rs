//! The session pool: one connection (slot, login, idle sessions) per generation, the cap on
//! sessions on loan, and the [`Lease`] a caller holds while it uses one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLockReadGuard};
use std::time::Instant;

use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::*;
use crate::KeyError;

/// A live connection: the slot the token is in and the idle sessions.
pub(super) struct Conn {
    pub(super) module: Arc<Module>,
    pub(super) slot: Slot,
    pub(super) epoch: u64,
    pub(super) idle: Vec<Session>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for session in self.idle.drain(..) {
            self.module.close(session, self.epoch);
        }
    }
}

pub(super) struct State {
    /// Bumped at every reset; a connection and the object handles found through it belong to one
    /// generation.
    pub(super) generation: u64,
    pub(super) conn: Option<Conn>,
}

pub(super) struct Inner {
    pub(super) config: Pkcs11Config,
    pub(super) module: Arc<Module>,
    pub(super) state: Mutex<State>,
    /// Serialises reconnects, so concurrent callers wait for one login instead of each doing one.
    /// Lock order: `reconnect`, then the module's call guard, then `state`.
    pub(super) reconnect: Mutex<()>,
    /// SHA-256 of a PIN the token rejected. The same PIN is not presented again: real HSMs lock
    /// the PIN after a few failures, and reconnect attempts must not burn them.
    pub(super) rejected_pin: Mutex<Option<[u8; 32]>>,
    /// Sessions on loan (leases alive, of any generation) and the cap on them.
    pub(super) on_loan: Mutex<usize>,
    pub(super) returned: Condvar,
    pub(super) max_sessions: AtomicUsize,
}

/// One of the [`Hsm::max_sessions`] loans; given back on drop, after the session was pooled or
/// closed.
pub(super) struct LoanSlot<'a>(&'a Inner);

impl Drop for LoanSlot<'_> {
    fn drop(&mut self) {
        let mut n = lock(&self.0.on_loan);
        *n = n.saturating_sub(1);
        drop(n);
        self.0.returned.notify_one();
    }
}

impl Inner {
    /// Waits (at most [`SESSION_WAIT`]) until fewer than `max_sessions` sessions are on loan and
    /// takes one loan.
    pub(super) fn take_loan(&self) -> Result<LoanSlot<'_>, KeyError> {
        let deadline = Instant::now() + SESSION_WAIT;
        let mut n = lock(&self.on_loan);
        loop {
            let max = self.max_sessions.load(Ordering::Relaxed);
            if *n < max {
                *n += 1;
                return Ok(LoanSlot(self));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(KeyError::SessionsBusy {
                    token: self.config.token_label.clone(),
                    max,
                    waited_ms: SESSION_WAIT.as_millis() as u64,
                });
            }
            n = self
                .returned
                .wait_timeout(n, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A session on loan from the pool, used under the module's call guard; goes back to the pool
/// on drop unless discarded.
pub(crate) struct Lease<'a> {
    pub(super) hsm: &'a Inner,
    pub(super) guard: Option<RwLockReadGuard<'a, ()>>,
    pub(super) session: Option<Session>,
    pub(super) generation: u64,
    pub(super) epoch: u64,
    /// Dropped after [`Lease`]'s own `drop` pooled or closed the session.
    pub(super) _loan: LoanSlot<'a>,
}

impl Lease<'_> {
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Close the session instead of pooling it (it failed with an "unavailable" error).
    pub(super) fn discard(mut self) {
        self.guard = None;
        if let Some(session) = self.session.take() {
            self.hsm.module.close(session, self.epoch);
        }
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        // `session` is only `None` after `discard`/`drop`, which consume the lease.
        match &self.session {
            Some(s) => s,
            None => unreachable!("lease used after its session was taken"),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Release the call guard before taking `state` (lock order).
        self.guard = None;
        let Some(session) = self.session.take() else {
            return;
        };
        let mut state = lock(&self.hsm.state);
        if state.generation == self.generation
            && let Some(conn) = state.conn.as_mut()
            && conn.idle.len() < MAX_IDLE_SESSIONS
        {
            conn.idle.push(session);
            return;
        }
        drop(state);
        self.hsm.module.close(session, self.epoch);
    }
}
