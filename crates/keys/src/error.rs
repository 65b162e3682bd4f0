//! The crate's one error type.

use std::path::PathBuf;

use cryptoki::error::{Error as CkError, RvError};

/// Everything that can go wrong in key custody.
///
/// Variants carry structured context (labels, paths, the PKCS#11 function and `CKR_*` code). No
/// variant ever holds a PIN. Use [`KeyError::is_unavailable`] to tell "the HSM is away, retry
/// later" (HTTP 503) apart from everything else.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A `pkcs11:` key reference (RFC 7512 URI) could not be parsed or uses something Hallmark does
    /// not support. `reason` never repeats secret material from the input.
    #[error("bad PKCS#11 key reference: {reason}")]
    BadKeyRef {
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A PIN source (`file:/path` or `env:VAR`) could not be parsed.
    #[error("bad PIN source: {reason}")]
    BadPinSource {
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The PIN file could not be read.
    #[error(
        "cannot read PIN file {path}: {source} (create it with mode 0600 holding only the PIN, \
         or point pin-source at another file)"
    )]
    PinFile {
        /// The file that was read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The PIN environment variable is unset or not valid UTF-8.
    #[error(
        "cannot read PIN from environment variable {var}: {problem} (export {var} before starting)"
    )]
    PinEnv {
        /// The variable's name.
        var: String,
        /// `"not set"` or `"not valid UTF-8"`.
        problem: &'static str,
    },

    /// The PIN source held an empty PIN.
    #[error("the PIN from {pin_source} is empty")]
    PinEmpty {
        /// Where the PIN was read from (`file:/path` or `env:VAR`), never the PIN.
        pin_source: String,
    },

    /// The PKCS#11 module (shared library) could not be loaded or initialised.
    #[error(
        "cannot load PKCS#11 module {path}: {detail} (for SoftHSM: `apt-get install softhsm2`, \
         module /usr/lib/softhsm/libsofthsm2.so; for a real HSM: its vendor's module path)"
    )]
    ModuleLoad {
        /// The module path that was tried.
        path: PathBuf,
        /// The loader's or `C_Initialize`'s message.
        detail: String,
    },

    /// No initialised token carries the requested label.
    #[error(
        "no PKCS#11 token labelled {label:?} (tokens present: {available:?}; create it with `hallmark hsm init-token` or hsm/init-token.sh)"
    )]
    TokenNotFound {
        /// The label asked for.
        label: String,
        /// Labels of the initialised tokens that the module does show.
        available: Vec<String>,
    },

    /// The token rejected the user PIN (`CKR_PIN_INCORRECT`, or `CKR_PIN_LEN_RANGE`).
    ///
    /// After this error the same PIN is not tried again automatically (real HSMs lock the PIN
    /// after a few failures): fix the PIN source, then call again.
    #[error(
        "wrong user PIN for token {token:?} ({code}); check the PIN source (file or environment variable)"
    )]
    WrongPin {
        /// The token's label.
        token: String,
        /// The `CKR_*` code the token returned.
        code: String,
    },

    /// The token's user PIN is locked after too many failures (`CKR_PIN_LOCKED`).
    #[error("user PIN of token {token:?} is locked; the security officer must reset it")]
    PinLocked {
        /// The token's label.
        token: String,
    },

    /// No key object with this label exists on the token.
    #[error("no {object} labelled {label:?} on the token")]
    KeyNotFound {
        /// The key's label.
        label: String,
        /// Which object is missing: `"private key"` or `"public key"`.
        object: &'static str,
    },

    /// A key with this label already exists; generating would make lookups by label ambiguous.
    #[error(
        "a key labelled {label:?} already exists on the token; pick another label or delete the old key"
    )]
    KeyExists {
        /// The key's label.
        label: String,
    },

    /// After a pool reset the key labelled `label` was looked up again, but its public key is
    /// no longer the one this handle was created with: the key was replaced on the token.
    #[error("key {label:?} was replaced on the token since it was loaded; load it again")]
    KeyReplaced {
        /// The key's label.
        label: String,
    },

    /// A certificate object with this label already exists.
    #[error("a certificate labelled {label:?} already exists on the token")]
    CertificateExists {
        /// The certificate's label.
        label: String,
    },

    /// More than one object of a class carries this label, so a lookup by label is ambiguous.
    #[error("{count} {object} objects labelled {label:?} on the token; labels must be unique")]
    AmbiguousLabel {
        /// The label.
        label: String,
        /// `"private key"`, `"public key"` or `"certificate"`.
        object: &'static str,
        /// How many objects matched.
        count: usize,
    },

    /// The key exists but is on another curve than the one asked for.
    #[error("key {label:?} is {found}, not {expected}; load it with the matching curve")]
    CurveMismatch {
        /// The key's label.
        label: String,
        /// The curve the caller asked for (`"P-256"`, `"P-384"`).
        expected: &'static str,
        /// What the token says (`"P-384"`, or the `CKA_EC_PARAMS` OID, or `"not an EC key"`).
        found: String,
    },

    /// The token returned a public key (`CKA_EC_POINT`) that is not a valid point.
    #[error("public key {label:?} on the token is malformed: {reason}")]
    BadPublicKey {
        /// The key's label.
        label: String,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The token returned a signature that is not a valid raw `r || s` for the curve.
    #[error("token returned a malformed {len}-byte signature for key {label:?}")]
    BadSignature {
        /// The key's label.
        label: String,
        /// Length of what came back.
        len: usize,
    },

    /// A certificate handed to [`crate::Hsm::store_certificate`] is not DER X.509.
    #[error("certificate {label:?} is not a DER X.509 certificate: {reason}")]
    BadCertificate {
        /// The label it was to be stored under.
        label: String,
        /// The decoder's message.
        reason: String,
    },

    /// A token or object label is empty or too long (PKCS#11 token labels are at most 32 bytes).
    #[error("invalid label {label:?}: {reason}")]
    InvalidLabel {
        /// The label.
        label: String,
        /// Why it is invalid.
        reason: &'static str,
    },

    /// `init_token` found neither a token with the label nor a slot with an uninitialised token.
    #[error(
        "module {module} has no free slot to initialise token {label:?} in (SoftHSM always keeps one; a real HSM needs its vendor tool)"
    )]
    NoFreeSlot {
        /// The module path.
        module: PathBuf,
        /// The label that was to be created.
        label: String,
    },

    /// The HSM, token or session went away (device removed, sessions closed, module finalised,
    /// logged out, ...). The session pool has been dropped; the next call reconnects (finds the
    /// token by label again, logs in again). Map to HTTP 503 and retry later.
    #[error(
        "HSM token {token:?} unavailable: {function} returned {code}; will reconnect on the next call"
    )]
    Unavailable {
        /// The token's label.
        token: String,
        /// The PKCS#11 function that failed, e.g. `C_Sign`.
        function: String,
        /// The `CKR_*` code.
        code: String,
    },

    /// Every session this handle may have was on loan for the whole wait (see
    /// [`crate::Hsm::set_max_sessions`]): the HSM is saturated, or a call hangs. Nothing was reset.
    /// Map to HTTP 503 and retry later.
    #[error("HSM token {token:?} is busy: all {max} sessions stayed in use for {waited_ms} ms")]
    SessionsBusy {
        /// The token's label.
        token: String,
        /// The cap on sessions.
        max: usize,
        /// How long the caller waited.
        waited_ms: u64,
    },

    /// Any other PKCS#11 failure (not a sign of the HSM going away).
    #[error("PKCS#11 {function} failed on token {token:?}: {code}")]
    Pkcs11 {
        /// The token's label.
        token: String,
        /// The PKCS#11 function that failed, e.g. `C_GenerateKeyPair`.
        function: String,
        /// The `CKR_*` code, or a description of a failure inside the cryptoki wrapper.
        code: String,
    },

    /// The operating system's random number generator failed (in-memory key generation).
    #[error("random number generator failed: {detail}")]
    Rng {
        /// The RNG's message.
        detail: String,
    },
}

impl KeyError {
    /// True when the HSM, token or session went away and a later call may succeed (after the
    /// automatic reconnect). Callers serving HTTP map this to 503.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, KeyError::Unavailable { .. })
    }

    /// True when every session was busy for the whole wait ([`KeyError::SessionsBusy`]): retry
    /// later, as for [`KeyError::is_unavailable`] (which resets the connection; this does not).
    #[must_use]
    pub fn is_busy(&self) -> bool {
        matches!(self, KeyError::SessionsBusy { .. })
    }

    /// Map a cryptoki error for an operation on `token`.
    pub(crate) fn from_ck(err: CkError, token: &str) -> KeyError {
        match err {
            CkError::Pkcs11(rv, function) => {
                let function = function_name(function);
                let code = ckr_name(rv);
                match rv {
                    RvError::PinIncorrect | RvError::PinLenRange => KeyError::WrongPin {
                        token: token.to_owned(),
                        code,
                    },
                    RvError::PinLocked => KeyError::PinLocked {
                        token: token.to_owned(),
                    },
                    rv if rv_is_unavailable(rv) => KeyError::Unavailable {
                        token: token.to_owned(),
                        function,
                        code,
                    },
                    _ => KeyError::Pkcs11 {
                        token: token.to_owned(),
                        function,
                        code,
                    },
                }
            }
            other => KeyError::Pkcs11 {
                token: token.to_owned(),
                function: "cryptoki".to_owned(),
                code: other.to_string(),
            },
        }
    }
}

/// Return codes that mean "the module, token, session or login went away": the session pool is
/// dropped and the next call reconnects.
pub(crate) fn rv_is_unavailable(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::UserNotLoggedIn
            | RvError::CryptokiNotInitialized
            | RvError::ObjectHandleInvalid
            | RvError::KeyHandleInvalid
            | RvError::SlotIdInvalid
            | RvError::GeneralError
    )
}

/// `C_Sign` for `Function::Sign`.
pub(crate) fn function_name(f: cryptoki::context::Function) -> String {
    format!("C_{f:?}")
}

/// `CKR_PIN_INCORRECT` for `RvError::PinIncorrect`.
pub(crate) fn ckr_name(rv: RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED(0x{code:08x})"),
        RvError::UnknownErrorCode(code) => format!("unknown CK_RV 0x{code:08x}"),
        other => {
            let debug = format!("{other:?}");
            let mut out = String::from("CKR");
            for ch in debug.chars() {
                if ch.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(ch.to_ascii_uppercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names_follow_the_spec_spelling() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(RvError::UserAlreadyLoggedIn),
            "CKR_USER_ALREADY_LOGGED_IN"
        );
        assert_eq!(ckr_name(RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(function_name(cryptoki::context::Function::Sign), "C_Sign");
    }
}
