//! The PKCS#11 connection: module loading, token lookup by label, login, the session pool and
//! recovery after the HSM goes away.
//!
//! # Recovery
//!
//! Every operation borrows a session from the pool and gives it back. When a call fails with a
//! return code that means the module, token, session or login went away (see
//! [`KeyError::Unavailable`]), that call returns the error, the pool is dropped, and the pool's
//! *generation* is bumped. The next call reconnects: it re-initialises the module if it was
//! finalised, finds the token by label again (slot ids are not stable), opens a session and logs in
//! again. If the token still does not answer, the module itself is finalised and initialised
//! again (at most once per [`REINIT_BACKOFF`]): SoftHSM, for one, keeps a token whose files went
//! away in `CKR_GENERAL_ERROR` until then. Object handles cached by [`Pkcs11Key`] carry the
//! generation they were found in and are looked up again after a reset. No process restart is
//! needed.
//!
//! Every PKCS#11 call holds a read guard on the module; `C_Finalize` takes the write guard, since
//! finalising while another thread is inside a call is undefined in PKCS#11. Finalising resets
//! every [`Hsm`] on the same module in this process: each sees one failed call, then reconnects.
//!
//! # Sessions
//!
//! A cryptoki `Session` is `Send` but not `Sync`: the pool hands each one to a single caller at a
//! time. At most [`Hsm::max_sessions`] sessions are on loan at once (default
//! [`DEFAULT_MAX_SESSIONS`], per [`Hsm`] handle); a session is opened only when none is idle, so
//! that is also the most a handle ever has open. A caller beyond the cap waits for a session to
//! come back, for at most [`SESSION_WAIT`], then gets [`KeyError::SessionsBusy`]. Without the
//! cap, every blocked thread of a busy server opened a session of its own, and a token that also
//! holds the CA's issuing key ran out of sessions (or of time to serve them). Sessions are opened without close-on-drop and closed explicitly, and only while the module
//! is still in the initialisation they were opened in: after a `C_Finalize`/`C_Initialize` cycle an
//! old handle number may belong to somebody else's new session.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::{Decode, Encode};
use ecdsa::VerifyingKey;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use spki::ObjectIdentifier;

use crate::curve::{HsmCurve, curve_name};
use crate::error::ckr_name;
use crate::uri::MAX_TOKEN_LABEL;
use crate::{KeyError, PinSource, Pkcs11Key};

/// The module is finalised and initialised again (to recover a token that went away) at most
/// this often; calls in between fail fast with [`KeyError::Unavailable`].
pub const REINIT_BACKOFF: Duration = Duration::from_secs(1);

/// Idle sessions kept open per [`Hsm`]; more are opened under load and closed when returned.
const MAX_IDLE_SESSIONS: usize = 64;

/// Sessions one [`Hsm`] lends out at once unless [`Hsm::set_max_sessions`] says otherwise.
/// SoftHSM signs fastest with one or two sessions per core; real HSMs limit sessions per
/// partition, often to a few dozen or hundred for all clients together.
pub const DEFAULT_MAX_SESSIONS: usize = 8;

/// How long a caller waits for a session when all [`Hsm::max_sessions`] are on loan, before
/// [`KeyError::SessionsBusy`].
pub const SESSION_WAIT: Duration = Duration::from_secs(10);

/// Length of the `CKA_ID` set on generated keys: the first 20 bytes of SHA-256 over the SEC1
/// public point (the size of an X.509 subject key identifier).
const KEY_ID_LEN: usize = 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves only a Vec or counters behind, which are
    // consistent at every await-free step; carry on rather than poisoning every later call.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How to reach a token: module, token label, PIN source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// Label of the token (`CKA_LABEL` given at `C_InitToken`). Tokens are found by label because
    /// slot ids change between processes.
    pub token_label: String,
    /// Where the user PIN comes from.
    pub pin: PinSource,
}

/// A loaded PKCS#11 module. One per module path per process: PKCS#11 state (initialisation,
/// login) is per process, so every [`Hsm`] on the same module shares it.
struct Module {
    path: PathBuf,
    ctx: Pkcs11,
    /// Every PKCS#11 call made through this crate holds a read guard; `C_Finalize` (in
    /// [`Module::hard_reinit`]) takes the write guard, because finalising while another thread
    /// is inside a call is undefined behaviour in PKCS#11.
    calls: RwLock<()>,
    /// Counts (re-)initialisations made by this crate; sessions remember the value they were
    /// opened under.
    epoch: Mutex<u64>,
    /// When the module was last finalised and initialised again to recover a lost token.
    last_hard_reinit: Mutex<Option<Instant>>,
    /// Serialises operations that create or destroy token objects. SoftHSM 2.6.1 intermittently
    /// fails concurrent `C_GenerateKeyPair` calls from different sessions with
    /// `CKR_GENERAL_ERROR` (measured: 1 run in 30 of the key tests, 1 in 6 with concurrent
    /// deletes); it also makes "check the label is free, then create" atomic. Object creation
    /// is rare (key generation, certificate storage); signing never takes this lock.
    mutations: Mutex<()>,
}

static MODULES: Mutex<Vec<Arc<Module>>> = Mutex::new(Vec::new());

fn init_args() -> CInitializeArgs {
    CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)
}

impl Module {
    fn load(path: &Path) -> Result<Arc<Module>, KeyError> {
        let load_err = |detail: String| KeyError::ModuleLoad {
            path: path.to_path_buf(),
            detail,
        };
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| load_err(format!("module file not usable: {e}")))?;
        let mut modules = lock(&MODULES);
        if let Some(m) = modules.iter().find(|m| m.path == canonical) {
            return Ok(Arc::clone(m));
        }
        let ctx = Pkcs11::new(&canonical).map_err(|e| load_err(e.to_string()))?;
        match ctx.initialize(init_args()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(CkError::Pkcs11(rv, _)) => {
                return Err(load_err(format!("C_Initialize returned {}", ckr_name(rv))));
            }
            Err(e) => return Err(load_err(format!("C_Initialize failed: {e}"))),
        }
        let module = Arc::new(Module {
            path: canonical,
            ctx,
            calls: RwLock::new(()),
            epoch: Mutex::new(0),
            last_hard_reinit: Mutex::new(None),
            mutations: Mutex::new(()),
        });
        modules.push(Arc::clone(&module));
        Ok(module)
    }

    /// Hold this while making PKCS#11 calls. Never nest it: a queued writer blocks new readers.
    fn call_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.calls.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn epoch(&self) -> u64 {
        *lock(&self.epoch)
    }

    fn initialize(&self) -> Result<(), CkError> {
        match self.ctx.initialize(init_args()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `C_Initialize` again after somebody else finalised the module, unless another thread
    /// already did since `seen` was read. Caller holds a read guard.
    fn reinitialize(&self, seen: u64) -> Result<(), CkError> {
        let mut epoch = lock(&self.epoch);
        if *epoch == seen {
            self.initialize()?;
            *epoch += 1;
        }
        Ok(())
    }

    /// `C_Finalize` + `C_Initialize`: the module forgets all sessions, logins and cached token
    /// state and reads its tokens afresh. SoftHSM needs this after a token's files went away: the
    /// token stays in `CKR_GENERAL_ERROR` until the module is initialised again.
    ///
    /// Returns true if a retry may now succeed (this call, or another thread since `seen`,
    /// re-initialised the module). At most once per [`REINIT_BACKOFF`], so an outage does not
    /// turn every call into a module restart. Caller holds no read guard.
    fn hard_reinit(&self, seen: u64) -> bool {
        let _exclusive = self.calls.write().unwrap_or_else(PoisonError::into_inner);
        let mut epoch = lock(&self.epoch);
        if *epoch != seen {
            return true;
        }
        let mut last = lock(&self.last_hard_reinit);
        if last.is_some_and(|t| t.elapsed() < REINIT_BACKOFF) {
            return false;
        }
        *last = Some(Instant::now());
        // Not initialised (someone else finalised) is fine: the point is to start afresh.
        let _ = self.ctx.clone().finalize();
        *epoch += 1;
        self.initialize().is_ok()
    }

    /// Slots with a token, re-initialising the module once if it was finalised under us.
    /// Caller holds a read guard.
    fn slots(&self, token: &str) -> Result<Vec<Slot>, KeyError> {
        let seen = self.epoch();
        match self.ctx.get_slots_with_token() {
            Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) => self
                .reinitialize(seen)
                .and_then(|()| self.ctx.get_slots_with_token()),
            other => other,
        }
        .map_err(|e| KeyError::from_ck(e, token))
    }

    /// The slot holding the initialised token labelled `label`, or the labels that do exist.
    /// Caller holds a read guard.
    fn find_token(&self, label: &str) -> Result<Result<Slot, Vec<String>>, KeyError> {
        let mut available = Vec::new();
        for slot in self.slots(label)? {
            let info = self
                .ctx
                .get_token_info(slot)
                .map_err(|e| KeyError::from_ck(e, label))?;
            if !info.token_initialized() {
                continue;
            }
            if info.label() == label {
                return Ok(Ok(slot));
            }
            available.push(info.label().to_owned());
        }
        Ok(Err(available))
    }

    /// Close a session if the module is still in the initialisation it was opened under (after a
    /// re-initialisation the old handle number may belong to a new session). Caller holds no read
    /// guard.
    fn close(&self, session: Session, epoch: u64) {
        let _guard = self.call_guard();
        if self.epoch() == epoch {
            // Errors mean the session is already gone (device removed, sessions closed): fine.
            let _ = session.close();
        }
    }
}

/// A live connection: the slot the token is in and the idle sessions.
struct Conn {
    module: Arc<Module>,
    slot: Slot,
    epoch: u64,
    idle: Vec<Session>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for session in self.idle.drain(..) {
            self.module.close(session, self.epoch);
        }
    }
}

struct State {
    /// Bumped at every reset; a connection and the object handles found through it belong to one
    /// generation.
    generation: u64,
    conn: Option<Conn>,
}

struct Inner {
    config: Pkcs11Config,
    module: Arc<Module>,
    state: Mutex<State>,
    /// Serialises reconnects, so concurrent callers wait for one login instead of each doing one.
    /// Lock order: `reconnect`, then the module's call guard, then `state`.
    reconnect: Mutex<()>,
    /// SHA-256 of a PIN the token rejected. The same PIN is not presented again: real HSMs lock
    /// the PIN after a few failures, and reconnect attempts must not burn them.
    rejected_pin: Mutex<Option<[u8; 32]>>,
    /// Sessions on loan (leases alive, of any generation) and the cap on them.
    on_loan: Mutex<usize>,
    returned: Condvar,
    max_sessions: AtomicUsize,
}

/// One of the [`Hsm::max_sessions`] loans; given back on drop, after the session was pooled or
/// closed.
struct LoanSlot<'a>(&'a Inner);

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
    fn take_loan(&self) -> Result<LoanSlot<'_>, KeyError> {
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

/// A handle on one PKCS#11 token: cheap to clone, `Send + Sync`, shared by every key on the
/// token.
///
/// All methods block on the HSM. On an async runtime call them from `spawn_blocking` or a
/// dedicated thread, never directly on the executor.
#[derive(Clone)]
pub struct Hsm {
    inner: Arc<Inner>,
}

impl fmt::Debug for Hsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hsm")
            .field("module", &self.inner.config.module)
            .field("token", &self.inner.config.token_label)
            .field("pin", &self.inner.config.pin)
            .finish_non_exhaustive()
    }
}

/// A session on loan from the pool, used under the module's call guard; goes back to the pool
/// on drop unless discarded.
pub(crate) struct Lease<'a> {
    hsm: &'a Inner,
    guard: Option<RwLockReadGuard<'a, ()>>,
    session: Option<Session>,
    generation: u64,
    epoch: u64,
    /// Dropped after [`Lease`]'s own `drop` pooled or closed the session.
    _loan: LoanSlot<'a>,
}

impl Lease<'_> {
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Close the session instead of pooling it (it failed with an "unavailable" error).
    fn discard(mut self) {
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

/// What [`init_token`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum TokenInit {
    /// A new token was initialised and its user PIN set.
    Initialised,
    /// A token with the label already existed; nothing was changed (except setting the user PIN
    /// if it had never been set).
    AlreadyPresent,
}

fn check_token_label(label: &str) -> Result<(), KeyError> {
    let reason = if label.is_empty() {
        "a token label cannot be empty"
    } else if label.len() > MAX_TOKEN_LABEL {
        "PKCS#11 token labels are at most 32 bytes"
    } else if label.ends_with(' ') || label.contains('\0') {
        "token labels are blank-padded, so they cannot end in a space or contain NUL"
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidLabel {
        label: label.to_owned(),
        reason,
    })
}

fn check_object_label(label: &str) -> Result<(), KeyError> {
    if label.is_empty() {
        return Err(KeyError::InvalidLabel {
            label: String::new(),
            reason: "an object label cannot be empty",
        });
    }
    Ok(())
}

/// Initialise the token `label` if it does not exist yet (idempotent).
///
/// If an initialised token with that label exists, nothing changes ([`TokenInit::AlreadyPresent`]).
/// Otherwise the first slot holding an uninitialised token (SoftHSM always keeps one free) gets
/// `C_InitToken` with the SO PIN, then the SO logs in and sets the user PIN (`C_InitPIN`). PINs
/// come only from files or environment variables.
///
/// SoftHSM moves a freshly initialised token to a new slot id in later processes; find it by
/// label, as [`Hsm::open`] does.
///
/// # Errors
/// [`KeyError::ModuleLoad`], [`KeyError::InvalidLabel`], PIN source errors, [`KeyError::NoFreeSlot`],
/// and PKCS#11 failures.
pub fn init_token(
    module: &Path,
    label: &str,
    so_pin: &PinSource,
    user_pin: &PinSource,
) -> Result<TokenInit, KeyError> {
    check_token_label(label)?;
    let m = Module::load(module)?;
    let _guard = m.call_guard();
    let ck = |e| KeyError::from_ck(e, label);
    if let Ok(slot) = m.find_token(label)? {
        let info = m.ctx.get_token_info(slot).map_err(ck)?;
        if !info.user_pin_initialized() {
            set_user_pin(&m, slot, label, &so_pin.read()?, &user_pin.read()?)?;
        }
        return Ok(TokenInit::AlreadyPresent);
    }
    let mut free = None;
    for slot in m.slots(label)? {
        if !m.ctx.get_token_info(slot).map_err(ck)?.token_initialized() {
            free = Some(slot);
            break;
        }
    }
    let slot = free.ok_or_else(|| KeyError::NoFreeSlot {
        module: module.to_path_buf(),
        label: label.to_owned(),
    })?;
    let so = so_pin.read()?;
    let user = user_pin.read()?;
    m.ctx.init_token(slot, &so, label).map_err(ck)?;
    set_user_pin(&m, slot, label, &so, &user)?;
    Ok(TokenInit::Initialised)
}

fn set_user_pin(
    m: &Module,
    slot: Slot,
    label: &str,
    so: &AuthPin,
    user: &AuthPin,
) -> Result<(), KeyError> {
    let ck = |e| KeyError::from_ck(e, label);
    let session = m.ctx.open_rw_session(slot).map_err(ck)?;
    match session.login(UserType::So, Some(so)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(ck(e)),
    }
    let result = session.init_pin(user).map_err(ck);
    let _ = session.logout();
    result
}

impl Hsm {
    /// Load the module, find the token by label, log in as the user.
    ///
    /// If the process is already logged in to the token (another `Hsm` on the same token),
    /// `CKR_USER_ALREADY_LOGGED_IN` counts as success — and then the token does not check the PIN
    /// again.
    ///
    /// # Errors
    /// [`KeyError::ModuleLoad`], [`KeyError::TokenNotFound`], [`KeyError::WrongPin`],
    /// [`KeyError::PinLocked`], PIN source errors, and PKCS#11 failures.
    pub fn open(config: Pkcs11Config) -> Result<Hsm, KeyError> {
        check_token_label(&config.token_label)?;
        let module = Module::load(&config.module)?;
        let hsm = Hsm {
            inner: Arc::new(Inner {
                config,
                module,
                state: Mutex::new(State {
                    generation: 0,
                    conn: None,
                }),
                reconnect: Mutex::new(()),
                rejected_pin: Mutex::new(None),
                on_loan: Mutex::new(0),
                returned: Condvar::new(),
                max_sessions: AtomicUsize::new(DEFAULT_MAX_SESSIONS),
            }),
        };
        let conn = hsm.connect(true)?;
        lock(&hsm.inner.state).conn = Some(conn);
        Ok(hsm)
    }

    /// The configuration this handle was opened with.
    #[must_use]
    pub fn config(&self) -> &Pkcs11Config {
        &self.inner.config
    }

    /// The token's label.
    #[must_use]
    pub fn token_label(&self) -> &str {
        &self.inner.config.token_label
    }

    /// Open a first session on the token and log in. If that fails because the token is away,
    /// re-initialise the module once (see [`Module::hard_reinit`]) and try again. Caller holds
    /// `reconnect` and no call guard.
    fn connect(&self, first: bool) -> Result<Conn, KeyError> {
        let module = &self.inner.module;
        let seen = module.epoch();
        match self.try_connect(first) {
            Err(e) if e.is_unavailable() => {
                if module.hard_reinit(seen) {
                    self.try_connect(first)
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// One connection attempt. `first` is true from [`Hsm::open`], where a missing token is a
    /// configuration error; later it means the token went away.
    fn try_connect(&self, first: bool) -> Result<Conn, KeyError> {
        let inner = &self.inner;
        let label = inner.config.token_label.as_str();
        let module = &inner.module;
        let _guard = module.call_guard();
        let epoch = module.epoch();
        let slot = match module.find_token(label)? {
            Ok(slot) => slot,
            Err(available) if first => {
                return Err(KeyError::TokenNotFound {
                    label: label.to_owned(),
                    available,
                });
            }
            Err(_) => {
                return Err(KeyError::Unavailable {
                    token: label.to_owned(),
                    function: "C_GetTokenInfo".to_owned(),
                    code: "no token with this label is present (CKR_TOKEN_NOT_PRESENT)".to_owned(),
                });
            }
        };
        let pin = inner.config.pin.read()?;
        let pin_hash: [u8; 32] = Sha256::digest(pin.expose_secret().as_bytes()).into();
        if *lock(&inner.rejected_pin) == Some(pin_hash) {
            return Err(KeyError::WrongPin {
                token: label.to_owned(),
                code: "CKR_PIN_INCORRECT (earlier; this PIN is not tried again)".to_owned(),
            });
        }
        let session = module
            .ctx
            .open_rw_session_no_drop(slot)
            .map_err(|e| KeyError::from_ck(e, label))?;
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => {
                // Still under the guard, so the epoch cannot have moved: close directly.
                let _ = session.close();
                let err = KeyError::from_ck(e, label);
                if matches!(err, KeyError::WrongPin { .. }) {
                    *lock(&inner.rejected_pin) = Some(pin_hash);
                }
                return Err(err);
            }
        }
        *lock(&inner.rejected_pin) = None;
        Ok(Conn {
            module: Arc::clone(module),
            slot,
            epoch,
            idle: vec![session],
        })
    }

    /// Sessions this handle lends out at once (see the module documentation).
    #[must_use]
    pub fn max_sessions(&self) -> usize {
        self.inner.max_sessions.load(Ordering::Relaxed)
    }

    /// Sets how many sessions this handle (and every clone of it) lends out at once; at least
    /// one. Callers beyond it wait for a session to come back.
    pub fn set_max_sessions(&self, max: usize) {
        self.inner.max_sessions.store(max.max(1), Ordering::Relaxed);
        self.inner.returned.notify_all();
    }

    /// Sessions on loan right now. For tests and metrics.
    #[must_use]
    pub fn sessions_in_use(&self) -> usize {
        *lock(&self.inner.on_loan)
    }

    /// Borrow a session, reconnecting first if the pool was dropped.
    pub(crate) fn lease(&self) -> Result<Lease<'_>, KeyError> {
        let inner = &*self.inner;
        // Taken before any lock of the pool, so a waiter holds nothing another caller needs.
        let loan = inner.take_loan()?;
        loop {
            let guard = inner.module.call_guard();
            let mut state = lock(&inner.state);
            // A connection from before a re-initialisation of the module (another `Hsm` on the
            // same module recovered a lost token) is dead: its session numbers, and the object
            // handles keys found through them, may now name other sessions and other objects.
            // Drop it without closing anything (the numbers are no longer ours); keys look their
            // handles up again in the new generation. The read guard held from here to the end
            // of the lease keeps the module from being re-initialised under the caller.
            if state
                .conn
                .as_ref()
                .is_some_and(|conn| conn.epoch != inner.module.epoch())
            {
                state.generation += 1;
                let stale = state.conn.take();
                drop(state);
                drop(guard);
                drop(stale);
                continue;
            }
            let generation = state.generation;
            if let Some(conn) = state.conn.as_mut() {
                let (slot, epoch) = (conn.slot, conn.epoch);
                let pooled = conn.idle.pop();
                drop(state);
                let session = match pooled {
                    Some(session) => session,
                    // Pool empty: open another session. Login is per application and token, so
                    // the new session is already logged in.
                    None => match inner.module.ctx.open_rw_session_no_drop(slot) {
                        Ok(session) => session,
                        Err(e) => {
                            drop(guard);
                            let err = KeyError::from_ck(e, &inner.config.token_label);
                            if err.is_unavailable() {
                                self.invalidate(generation);
                            }
                            return Err(err);
                        }
                    },
                };
                return Ok(Lease {
                    hsm: inner,
                    guard: Some(guard),
                    session: Some(session),
                    generation,
                    epoch,
                    _loan: loan,
                });
            }
            drop(state);
            drop(guard);
            let _one_at_a_time = lock(&inner.reconnect);
            if lock(&inner.state).conn.is_some() {
                continue; // another thread reconnected while we waited
            }
            let conn = self.connect(false)?;
            lock(&inner.state).conn = Some(conn);
        }
    }

    /// Run `op` on a pooled session. An [`KeyError::Unavailable`] result drops the pool.
    pub(crate) fn with_session<T>(
        &self,
        op: impl FnOnce(&Lease<'_>) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let lease = self.lease()?;
        let result = op(&lease);
        if let Err(e) = &result
            && e.is_unavailable()
        {
            let generation = lease.generation;
            lease.discard();
            self.invalidate(generation);
        }
        result
    }

    /// Drop the pool of generation `generation` (if it is still current) so the next call
    /// reconnects.
    fn invalidate(&self, generation: u64) {
        let old = {
            let mut state = lock(&self.inner.state);
            if state.generation != generation {
                return;
            }
            state.generation += 1;
            state.conn.take()
        };
        // Closing happens outside the lock (Conn's Drop).
        drop(old);
    }

    /// Drop all pooled sessions now; the next call reconnects (finds the token by label, logs in).
    /// Keys notice and look their object handles up again.
    pub fn reset(&self) {
        let generation = lock(&self.inner.state).generation;
        self.invalidate(generation);
    }

    /// The current pool generation (bumped at every reset). For tests and metrics.
    #[must_use]
    pub fn generation(&self) -> u64 {
        lock(&self.inner.state).generation
    }

    /// Check the token answers: borrows a session (reconnecting if needed), reads the token info
    /// and checks the session is logged in.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`] when the HSM is away (the pool is then dropped), or any
    /// reconnect error.
    pub fn health(&self) -> Result<(), KeyError> {
        let label = self.token_label();
        self.with_session(|s| {
            let info = s
                .get_session_info()
                .map_err(|e| KeyError::from_ck(e, label))?;
            self.inner
                .module
                .ctx
                .get_token_info(info.slot_id())
                .map_err(|e| KeyError::from_ck(e, label))?;
            match info.session_state() {
                SessionState::RoUser | SessionState::RwUser => Ok(()),
                _ => Err(KeyError::Unavailable {
                    token: label.to_owned(),
                    function: "C_GetSessionInfo".to_owned(),
                    code: "session is not logged in (CKR_USER_NOT_LOGGED_IN)".to_owned(),
                }),
            }
        })
    }

    /// Generate a P-256 key pair on the token. See [`Hsm::generate`].
    ///
    /// # Errors
    /// As [`Hsm::generate`].
    pub fn generate_p256(&self, label: &str) -> Result<Pkcs11Key<p256::NistP256>, KeyError> {
        self.generate(label)
    }

    /// Generate a P-384 key pair on the token. See [`Hsm::generate`].
    ///
    /// # Errors
    /// As [`Hsm::generate`].
    pub fn generate_p384(&self, label: &str) -> Result<Pkcs11Key<p384::NistP384>, KeyError> {
        self.generate(label)
    }

    /// Load the P-256 key pair labelled `label`. See [`Hsm::load`].
    ///
    /// # Errors
    /// As [`Hsm::load`].
    pub fn load_p256(&self, label: &str) -> Result<Pkcs11Key<p256::NistP256>, KeyError> {
        self.load(label)
    }

    /// Load the P-384 key pair labelled `label`. See [`Hsm::load`].
    ///
    /// # Errors
    /// As [`Hsm::load`].
    pub fn load_p384(&self, label: &str) -> Result<Pkcs11Key<p384::NistP384>, KeyError> {
        self.load(label)
    }

    /// Generate an EC key pair ON the token (`CKM_EC_KEY_PAIR_GEN`) as token objects.
    ///
    /// The private key is `CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_SIGN` only.
    /// Both halves get `CKA_LABEL = label` and `CKA_ID` = the first 20 bytes of SHA-256 over the
    /// uncompressed public point.
    ///
    /// # Errors
    /// [`KeyError::KeyExists`] if any key object already has this label; [`KeyError::Unavailable`]
    /// and other PKCS#11 failures.
    pub fn generate<C: HsmCurve>(&self, label: &str) -> Result<Pkcs11Key<C>, KeyError> {
        check_object_label(label)?;
        let token = self.token_label();
        let ck = |e| KeyError::from_ck(e, token);
        let params = C::OID.to_der().map_err(|e| KeyError::Pkcs11 {
            token: token.to_owned(),
            function: "encode CKA_EC_PARAMS".to_owned(),
            code: e.to_string(),
        })?;
        let _mutating = lock(&self.inner.module.mutations);
        let (handle, key, generation) = self.with_session(|s| {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                if !find(s, class, label, token)?.is_empty() {
                    return Err(KeyError::KeyExists {
                        label: label.to_owned(),
                    });
                }
            }
            let label_attr = Attribute::Label(label.as_bytes().to_vec());
            let public = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::EcParams(params.clone()),
                label_attr.clone(),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Derive(false),
                label_attr,
            ];
            let (pub_handle, priv_handle) = s
                .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(ck)?;
            let key = read_public_key::<C>(s, pub_handle, label, token)?;
            let point = C::sec1_uncompressed(&key);
            let id = Sha256::digest(&point)[..KEY_ID_LEN].to_vec();
            for handle in [pub_handle, priv_handle] {
                s.update_attributes(handle, &[Attribute::Id(id.clone())])
                    .map_err(ck)?;
            }
            Ok((priv_handle, key, s.generation()))
        })?;
        Pkcs11Key::new(self.clone(), label, key, handle, generation)
    }

    /// Load the key pair labelled `label`: the private key (`CKO_PRIVATE_KEY`) for signing, the
    /// public key (`CKO_PUBLIC_KEY`, its `CKA_EC_POINT`) for the verifying key.
    ///
    /// # Errors
    /// [`KeyError::KeyNotFound`] if either half is missing, [`KeyError::CurveMismatch`] if the key
    /// is on another curve, [`KeyError::AmbiguousLabel`], [`KeyError::Unavailable`], PKCS#11
    /// failures.
    pub fn load<C: HsmCurve>(&self, label: &str) -> Result<Pkcs11Key<C>, KeyError> {
        check_object_label(label)?;
        let token = self.token_label();
        let (handle, key, generation) = self.with_session(|s| {
            let private = find_key(s, ObjectClass::PRIVATE_KEY, label, token)?;
            let public = find_key(s, ObjectClass::PUBLIC_KEY, label, token)?;
            let key = read_public_key::<C>(s, public, label, token)?;
            Ok((private, key, s.generation()))
        })?;
        Pkcs11Key::new(self.clone(), label, key, handle, generation)
    }

    /// Find the private key labelled `label` again and check its public half still matches
    /// `expected` (used by keys after a pool reset).
    pub(crate) fn refind<C: HsmCurve>(
        &self,
        s: &Lease<'_>,
        label: &str,
        expected: &VerifyingKey<C>,
    ) -> Result<ObjectHandle, KeyError> {
        let token = self.token_label();
        let private = find_key(s, ObjectClass::PRIVATE_KEY, label, token)?;
        let public = find_key(s, ObjectClass::PUBLIC_KEY, label, token)?;
        if read_public_key::<C>(s, public, label, token)? != *expected {
            return Err(KeyError::KeyReplaced {
                label: label.to_owned(),
            });
        }
        Ok(private)
    }

    /// Store a DER X.509 certificate as a token object (`CKO_CERTIFICATE`, `CKC_X_509`, public)
    /// labelled `label`, with `CKA_SUBJECT`, `CKA_ISSUER` and `CKA_SERIAL_NUMBER` filled in.
    ///
    /// # Errors
    /// [`KeyError::BadCertificate`] if `der` is not a certificate, [`KeyError::CertificateExists`]
    /// if the label is taken, PKCS#11 failures.
    pub fn store_certificate(&self, label: &str, der: &[u8]) -> Result<(), KeyError> {
        check_object_label(label)?;
        let token = self.token_label();
        let bad = |e: der::Error| KeyError::BadCertificate {
            label: label.to_owned(),
            reason: e.to_string(),
        };
        let cert = x509_cert::Certificate::from_der(der).map_err(bad)?;
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject().to_der().map_err(bad)?;
        let issuer = tbs.issuer().to_der().map_err(bad)?;
        let serial = tbs.serial_number().to_der().map_err(bad)?;
        let _mutating = lock(&self.inner.module.mutations);
        self.with_session(|s| {
            if !find(s, ObjectClass::CERTIFICATE, label, token)?.is_empty() {
                return Err(KeyError::CertificateExists {
                    label: label.to_owned(),
                });
            }
            s.create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Subject(subject),
                Attribute::Issuer(issuer),
                Attribute::SerialNumber(serial),
                Attribute::Value(der.to_vec()),
            ])
            .map_err(|e| KeyError::from_ck(e, token))?;
            Ok(())
        })
    }

    /// The DER value of the certificate object labelled `label`, if there is one.
    ///
    /// # Errors
    /// [`KeyError::AmbiguousLabel`], [`KeyError::Unavailable`], PKCS#11 failures.
    pub fn find_certificate(&self, label: &str) -> Result<Option<Vec<u8>>, KeyError> {
        let token = self.token_label();
        self.with_session(|s| {
            let found = find(s, ObjectClass::CERTIFICATE, label, token)?;
            let handle = match found.as_slice() {
                [] => return Ok(None),
                [one] => *one,
                many => {
                    return Err(KeyError::AmbiguousLabel {
                        label: label.to_owned(),
                        object: "certificate",
                        count: many.len(),
                    });
                }
            };
            let attrs = s
                .get_attributes(handle, &[AttributeType::Value])
                .map_err(|e| KeyError::from_ck(e, token))?;
            Ok(attrs.into_iter().find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            }))
        })
    }

    /// Run `op` with a raw cryptoki session from the pool — for tests and benchmarks that need a
    /// PKCS#11 call this crate does not wrap. Errors from `op` are not classified for recovery.
    /// `op` must not call back into this crate (it runs under the module's call guard).
    ///
    /// # Errors
    /// Whatever borrowing a session returns ([`KeyError::Unavailable`], reconnect errors).
    pub fn with_raw_session<T>(&self, op: impl FnOnce(&Session) -> T) -> Result<T, KeyError> {
        // Raw calls may create or destroy objects: serialise them like generation.
        let _mutating = lock(&self.inner.module.mutations);
        let lease = self.lease()?;
        Ok(op(&lease))
    }
}

fn find(
    s: &Session,
    class: ObjectClass,
    label: &str,
    token: &str,
) -> Result<Vec<ObjectHandle>, KeyError> {
    s.find_objects(&[
        Attribute::Class(class),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .map_err(|e| KeyError::from_ck(e, token))
}

fn find_key(
    s: &Session,
    class: ObjectClass,
    label: &str,
    token: &str,
) -> Result<ObjectHandle, KeyError> {
    let object = if class == ObjectClass::PRIVATE_KEY {
        "private key"
    } else {
        "public key"
    };
    match find(s, class, label, token)?.as_slice() {
        [] => Err(KeyError::KeyNotFound {
            label: label.to_owned(),
            object,
        }),
        [one] => Ok(*one),
        many => Err(KeyError::AmbiguousLabel {
            label: label.to_owned(),
            object,
            count: many.len(),
        }),
    }
}

/// Read and check a public key object: EC, on curve `C`, with a valid `CKA_EC_POINT`.
fn read_public_key<C: HsmCurve>(
    s: &Session,
    handle: ObjectHandle,
    label: &str,
    token: &str,
) -> Result<VerifyingKey<C>, KeyError> {
    let attrs = s
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| KeyError::from_ck(e, token))?;
    let mut key_type = None;
    let mut params = None;
    let mut point = None;
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let mismatch = |found: String| KeyError::CurveMismatch {
        label: label.to_owned(),
        expected: C::NAME,
        found,
    };
    if key_type != Some(KeyType::EC) {
        return Err(mismatch(match key_type {
            Some(t) => format!("a {t} key, not an EC key"),
            None => "a key without CKA_KEY_TYPE".to_owned(),
        }));
    }
    let params = params.ok_or_else(|| mismatch("an EC key without CKA_EC_PARAMS".to_owned()))?;
    let oid = ObjectIdentifier::from_der(&params)
        .map_err(|_| mismatch("an EC key with explicit or unreadable CKA_EC_PARAMS".to_owned()))?;
    if oid != C::OID {
        return Err(mismatch(curve_name(&oid)));
    }
    let point = point.ok_or_else(|| KeyError::BadPublicKey {
        label: label.to_owned(),
        reason: "no CKA_EC_POINT",
    })?;
    C::verifying_key_from_sec1(sec1_from_ec_point(&point, C::FIELD_BYTES)).ok_or_else(|| {
        KeyError::BadPublicKey {
            label: label.to_owned(),
            reason: "CKA_EC_POINT is not a point on the curve",
        }
    })
}

/// `CKA_EC_POINT` is specified as a DER OCTET STRING wrapping the SEC1 point (SoftHSM does this:
/// `04 41 04 x y` for P-256); some modules return the bare point. Decide by length: a bare
/// uncompressed point is exactly `1 + 2 * field_bytes` long.
fn sec1_from_ec_point(raw: &[u8], field_bytes: usize) -> &[u8] {
    if raw.len() == 1 + 2 * field_bytes {
        return raw;
    }
    match <&der::asn1::OctetStringRef>::from_der(raw) {
        Ok(inner) => inner.as_bytes(),
        Err(_) => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_accepts_wrapped_and_bare() {
        let mut bare = vec![4u8];
        bare.extend([7u8; 64]);
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&bare);
        assert_eq!(sec1_from_ec_point(&bare, 32), &bare[..]);
        assert_eq!(sec1_from_ec_point(&wrapped, 32), &bare[..]);
        // P-384: 97-byte point, DER length 0x61.
        let mut bare384 = vec![4u8];
        bare384.extend([9u8; 96]);
        let mut wrapped384 = vec![0x04, 97];
        wrapped384.extend(&bare384);
        assert_eq!(sec1_from_ec_point(&wrapped384, 48), &bare384[..]);
    }

    #[test]
    fn token_labels_are_checked() {
        assert!(check_token_label("hallmark").is_ok());
        assert!(check_token_label("").is_err());
        assert!(check_token_label(&"x".repeat(33)).is_err());
        assert!(check_token_label("trailing ").is_err());
    }
}
