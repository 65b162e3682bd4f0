//! Token initialisation (`hallmark hsm init-token`): label checks, `C_InitToken`, the user PIN.

use std::path::Path;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::*;
use crate::uri::MAX_TOKEN_LABEL;
use crate::{KeyError, PinSource};

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

pub(super) fn check_token_label(label: &str) -> Result<(), KeyError> {
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

pub(super) fn check_object_label(label: &str) -> Result<(), KeyError> {
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

pub(super) fn set_user_pin(
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
