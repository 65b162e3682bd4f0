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
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use der::{Decode, Encode};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::algorithm::{Ed25519, HsmAlgorithm};
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

mod module;
mod objects;
mod pool;
mod token;

use module::Module;
use objects::{find, find_key, read_public_key};
pub(crate) use pool::Lease;
use pool::{Conn, Inner, State};
pub use token::{TokenInit, init_token};
use token::{check_object_label, check_token_label};

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

    /// Generate an Ed25519 key pair on the token. See [`Hsm::generate`].
    ///
    /// # Errors
    /// As [`Hsm::generate`].
    pub fn generate_ed25519(&self, label: &str) -> Result<Pkcs11Key<Ed25519>, KeyError> {
        self.generate(label)
    }

    /// Load the Ed25519 key pair labelled `label`. See [`Hsm::load`].
    ///
    /// # Errors
    /// As [`Hsm::load`].
    pub fn load_ed25519(&self, label: &str) -> Result<Pkcs11Key<Ed25519>, KeyError> {
        self.load(label)
    }

    /// Generate a key pair ON the token as token objects: an EC key (`CKM_EC_KEY_PAIR_GEN`) or an
    /// Edwards key (`CKM_EC_EDWARDS_KEY_PAIR_GEN`).
    ///
    /// The private key is `CKA_PRIVATE`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_SIGN` only.
    /// Both halves get `CKA_LABEL = label` and `CKA_ID` = the first 20 bytes of SHA-256 over the
    /// public key (the uncompressed point for ECDSA, the 32 raw bytes for Ed25519).
    ///
    /// An Edwards curve can be named in `CKA_EC_PARAMS` by OID or by the printable string
    /// `edwards25519` (PKCS#11 3.0); modules differ in which they take, so the OID is tried first
    /// and the name if the token refuses it.
    ///
    /// # Errors
    /// [`KeyError::KeyExists`] if any key object already has this label; [`KeyError::Unavailable`]
    /// and other PKCS#11 failures.
    pub fn generate<A: HsmAlgorithm>(&self, label: &str) -> Result<Pkcs11Key<A>, KeyError> {
        check_object_label(label)?;
        let token = self.token_label();
        let ck = |e| KeyError::from_ck(e, token);
        let candidates = A::ec_params().map_err(|e| KeyError::Pkcs11 {
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
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Derive(false),
                label_attr.clone(),
            ];
            let mut first_error = None;
            let mut generated = None;
            for params in &candidates {
                let public = [
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(true),
                    Attribute::EcParams(params.clone()),
                    label_attr.clone(),
                ];
                match s.generate_key_pair(&A::key_pair_gen(), &public, &private) {
                    Ok(handles) => {
                        generated = Some(handles);
                        break;
                    }
                    Err(e) => {
                        let err = ck(e);
                        if err.is_unavailable() {
                            return Err(err);
                        }
                        first_error.get_or_insert(err);
                    }
                }
            }
            let (pub_handle, priv_handle) = match (generated, first_error) {
                (Some(handles), _) => handles,
                (None, Some(err)) => return Err(err),
                (None, None) => {
                    return Err(KeyError::Pkcs11 {
                        token: token.to_owned(),
                        function: "C_GenerateKeyPair".to_owned(),
                        code: "no CKA_EC_PARAMS to generate with".to_owned(),
                    });
                }
            };
            let key = read_public_key::<A>(s, pub_handle, label, token)?;
            let id = Sha256::digest(A::public_bytes(&key))[..KEY_ID_LEN].to_vec();
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
    pub fn load<A: HsmAlgorithm>(&self, label: &str) -> Result<Pkcs11Key<A>, KeyError> {
        check_object_label(label)?;
        let token = self.token_label();
        let (handle, key, generation) = self.with_session(|s| {
            let private = find_key(s, ObjectClass::PRIVATE_KEY, label, token)?;
            let public = find_key(s, ObjectClass::PUBLIC_KEY, label, token)?;
            let key = read_public_key::<A>(s, public, label, token)?;
            Ok((private, key, s.generation()))
        })?;
        Pkcs11Key::new(self.clone(), label, key, handle, generation)
    }

    /// Find the private key labelled `label` again and check its public half still matches
    /// `expected` (used by keys after a pool reset).
    pub(crate) fn refind<A: HsmAlgorithm>(
        &self,
        s: &Lease<'_>,
        label: &str,
        expected: &A::VerifyingKey,
    ) -> Result<ObjectHandle, KeyError> {
        let token = self.token_label();
        let private = find_key(s, ObjectClass::PRIVATE_KEY, label, token)?;
        let public = find_key(s, ObjectClass::PUBLIC_KEY, label, token)?;
        if read_public_key::<A>(s, public, label, token)? != *expected {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::sec1_from_ec_point;

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
