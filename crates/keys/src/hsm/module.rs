//! The loaded PKCS#11 module: `C_Initialize`/`C_Finalize`, the call guard that finalising waits
//! for, slots and token lookup by label.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::*;
use crate::KeyError;
use crate::error::ckr_name;

/// A loaded PKCS#11 module. One per module path per process: PKCS#11 state (initialisation,
/// login) is per process, so every [`Hsm`] on the same module shares it.
pub(super) struct Module {
    pub(super) path: PathBuf,
    pub(super) ctx: Pkcs11,
    /// Every PKCS#11 call made through this crate holds a read guard; `C_Finalize` (in
    /// [`Module::hard_reinit`]) takes the write guard, because finalising while another thread
    /// is inside a call is undefined behaviour in PKCS#11.
    pub(super) calls: RwLock<()>,
    /// Counts (re-)initialisations made by this crate; sessions remember the value they were
    /// opened under.
    pub(super) epoch: Mutex<u64>,
    /// When the module was last finalised and initialised again to recover a lost token.
    pub(super) last_hard_reinit: Mutex<Option<Instant>>,
    /// Serialises operations that create or destroy token objects. SoftHSM 2.6.1 intermittently
    /// fails concurrent `C_GenerateKeyPair` calls from different sessions with
    /// `CKR_GENERAL_ERROR` (measured: 1 run in 30 of the key tests, 1 in 6 with concurrent
    /// deletes); it also makes "check the label is free, then create" atomic. Object creation
    /// is rare (key generation, certificate storage); signing never takes this lock.
    pub(super) mutations: Mutex<()>,
}

pub(super) static MODULES: Mutex<Vec<Arc<Module>>> = Mutex::new(Vec::new());

pub(super) fn init_args() -> CInitializeArgs {
    CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)
}

impl Module {
    pub(super) fn load(path: &Path) -> Result<Arc<Module>, KeyError> {
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
    pub(super) fn call_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.calls.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn epoch(&self) -> u64 {
        *lock(&self.epoch)
    }

    pub(super) fn initialize(&self) -> Result<(), CkError> {
        match self.ctx.initialize(init_args()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `C_Initialize` again after somebody else finalised the module, unless another thread
    /// already did since `seen` was read. Caller holds a read guard.
    pub(super) fn reinitialize(&self, seen: u64) -> Result<(), CkError> {
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
    pub(super) fn hard_reinit(&self, seen: u64) -> bool {
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
    pub(super) fn slots(&self, token: &str) -> Result<Vec<Slot>, KeyError> {
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
    pub(super) fn find_token(&self, label: &str) -> Result<Result<Slot, Vec<String>>, KeyError> {
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
    pub(super) fn close(&self, session: Session, epoch: u64) {
        let _guard = self.call_guard();
        if self.epoch() == epoch {
            // Errors mean the session is already gone (device removed, sessions closed): fine.
            let _ = session.close();
        }
    }
}
