//! The auditor as a [C2SP tlog-witness](https://c2sp.org/tlog-witness): it cosigns a log's
//! checkpoint only after checking that it extends, consistently, the last checkpoint of that log
//! it cosigned, so a log that shows two views of its history cannot get both cosigned by one
//! witness, and clients that require cosignatures from enough witnesses cannot be shown a fork.
//!
//! [`Witness::add_checkpoint`] runs the spec's checks in its order, each with the spec's status
//! ([`WitnessError::status`]):
//!
//! 1. the body parses (`old N`, at most 63 proof lines, a blank line, a signed note): else 400;
//! 2. the checkpoint's origin is a log this witness follows ([`LogRegistry`]): else 404;
//! 3. a trusted key of that log signed it (signatures by unknown keys are ignored): else 403;
//! 4. `old` is not above the checkpoint's size: else 400;
//! 5. a size-0 checkpoint has the empty tree's root: else 422;
//! 6. atomically with the update ([`WitnessState::advance`]): `old` is the size this witness last
//!    cosigned (0 if never): else 409 with that size as `text/x.tlog.size`;
//! 7. from size 0 the proof is empty; at the same size the root is the same (a different root at
//!    a cosigned size is a fork); else the proof shows the old tree a prefix of the new: else 422;
//! 8. then it cosigns (`cosignature/v1`, Ed25519: in the HSM or in memory), stores the new state
//!    durably, and answers 200 with the cosignature line.
//!
//! [`http`] serves this over HTTP (`POST /add-checkpoint`), plus the latest cosigned checkpoint of
//! each log (`GET /<hex SHA-256 of the origin>/checkpoint`, C2SP's monitor retrieval), so that
//! auditors can compare what they were shown with what the witness cosigned.

pub mod http;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use hallmark_tlog::cosignature::{CosignatureVerifier, cosign, cosigner_vkey};
use hallmark_tlog::note::{Checkpoint, Note, NoteVerifier};
use hallmark_tlog::proof::verify_consistency;
use hallmark_tlog::witness::AddCheckpoint;
use hallmark_tlog::{EMPTY_ROOT, Hash};
use signature::{Keypair, Signer};

pub use state::{Cosigned, MemoryState, RedbState, WitnessState};

/// Why a witness refused (or failed) to cosign. Each variant maps to the status C2SP
/// tlog-witness gives it ([`WitnessError::status`]); the ones about a log's history name the
/// sizes that disagree.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The request body is not an `add-checkpoint` request.
    #[error("bad add-checkpoint request: {0}")]
    Malformed(#[source] hallmark_tlog::Error),
    /// The checkpoint's origin is not a log this witness follows.
    #[error("this witness does not follow a log with origin {origin:?}")]
    UnknownLog {
        /// The origin line.
        origin: String,
    },
    /// No trusted key of the log signed the checkpoint, or its signature does not verify.
    #[error("the checkpoint of {origin:?} carries no valid signature by the log's key {key:?}")]
    BadLogSignature {
        /// The origin.
        origin: String,
        /// The key names the witness trusts for that log.
        key: String,
    },
    /// The request's old size is larger than the checkpoint's.
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldAfterNew {
        /// The old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The request's old size is not the size this witness last cosigned.
    #[error(
        "the witness last cosigned size {latest} of {origin:?}, the request says {old}: resend \
         with old {latest} and a consistency proof from it"
    )]
    SizeMismatch {
        /// The origin.
        origin: String,
        /// The request's old size.
        old: u64,
        /// The size this witness last cosigned (0 if never).
        latest: u64,
    },
    /// The checkpoint contradicts what the witness cosigned, or its proof does not hold.
    #[error(
        "{origin:?}: the checkpoint of size {size} is not consistent with size {old} that this witness cosigned: {problem}"
    )]
    Inconsistent {
        /// The origin.
        origin: String,
        /// The size the witness cosigned.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What does not hold.
        problem: &'static str,
    },
    /// The witness key failed to sign (for an HSM: unreachable, locked out, ...).
    #[error("the witness key failed to cosign")]
    Signing(#[source] hallmark_tlog::Error),
    /// The witness's state store failed.
    #[error("the witness state at {path}: {source}")]
    Store {
        /// The store's file.
        path: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A log or witness key could not be read.
    #[error("log {what}: {source}")]
    BadConfig {
        /// Which setting.
        what: String,
        /// What is wrong.
        #[source]
        source: hallmark_tlog::Error,
    },
}

impl WitnessError {
    /// The HTTP status C2SP tlog-witness gives this outcome.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::Malformed(_) | WitnessError::OldAfterNew { .. } => 400,
            WitnessError::BadLogSignature { .. } => 403,
            WitnessError::UnknownLog { .. } => 404,
            WitnessError::SizeMismatch { .. } => 409,
            WitnessError::Inconsistent { .. } => 422,
            WitnessError::Signing(_)
            | WitnessError::Store { .. }
            | WitnessError::BadConfig { .. } => 500,
        }
    }
}

/// The logs a witness follows: per origin, the keys whose signature on a checkpoint it accepts.
#[derive(Clone, Debug, Default)]
pub struct LogRegistry {
    logs: BTreeMap<String, Vec<NoteVerifier>>,
}

impl LogRegistry {
    /// No logs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for checkpoints of `origin`.
    pub fn add(&mut self, origin: &str, key: NoteVerifier) {
        self.logs.entry(origin.to_owned()).or_default().push(key);
    }

    /// Reads `<origin>=<vkey>` or a bare `<vkey>` (the origin is then the key's name, as C2SP
    /// logs sign under their origin). The vkey is a log's C2SP note key: Ed25519 (`0x01`) or
    /// ECDSA P-256 (`0x02`).
    pub fn add_spec(&mut self, spec: &str) -> Result<(), WitnessError> {
        let (origin, vkey) = match spec.split_once('=') {
            // A vkey's base64 may end in '=': an origin never holds '+', a vkey always does.
            Some((o, v)) if !o.contains('+') => (o.to_owned(), v),
            _ => (String::new(), spec),
        };
        let key = NoteVerifier::from_vkey(vkey).map_err(|source| WitnessError::BadConfig {
            what: format!("vkey {vkey:?}"),
            source,
        })?;
        let origin = if origin.is_empty() {
            key.key_id().name().to_owned()
        } else {
            origin
        };
        self.add(&origin, key);
        Ok(())
    }

    /// The origins followed.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    fn keys(&self, origin: &str) -> Option<&[NoteVerifier]> {
        self.logs.get(origin).map(Vec::as_slice)
    }
}

/// A witness: its Ed25519 key and name, the logs it follows, and its state.
pub struct Witness<K> {
    name: String,
    key: K,
    vkey: String,
    logs: LogRegistry,
    state: Arc<dyn WitnessState>,
}

impl<K> std::fmt::Debug for Witness<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("vkey", &self.vkey)
            .field("logs", &self.logs.origins().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A witness signing key: Ed25519, in a file or an HSM, usable from the server's tasks.
pub trait WitnessKey:
    Signer<ed25519_dalek::Signature>
    + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>
    + Send
    + Sync
    + 'static
{
}

impl<K> WitnessKey for K where
    K: Signer<ed25519_dalek::Signature>
        + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>
        + Send
        + Sync
        + 'static
{
}

impl<K> Witness<K>
where
    K: Signer<ed25519_dalek::Signature> + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>,
{
    /// A witness cosigning as `name` with `key`.
    pub fn new(
        name: &str,
        key: K,
        logs: LogRegistry,
        state: Arc<dyn WitnessState>,
    ) -> Result<Self, WitnessError> {
        let vkey = cosigner_vkey(name, &key.verifying_key()).map_err(|source| {
            WitnessError::BadConfig {
                what: format!("witness name {name:?}"),
                source,
            }
        })?;
        Ok(Self {
            name: name.to_owned(),
            key,
            vkey,
            logs,
            state,
        })
    }

    /// The witness's verifier key (`cosignature/v1`, type `0x04`): what logs and clients trust.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// A verifier of this witness's cosignatures.
    pub fn verifier(&self) -> Result<CosignatureVerifier, WitnessError> {
        CosignatureVerifier::new(&self.name, self.key.verifying_key()).map_err(|source| {
            WitnessError::BadConfig {
                what: format!("witness name {:?}", self.name),
                source,
            }
        })
    }

    /// The logs followed.
    pub fn logs(&self) -> &LogRegistry {
        &self.logs
    }

    /// The latest checkpoint cosigned for `origin`, with the cosignature.
    pub fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        self.state.latest(origin)
    }

    /// Handles an `add-checkpoint` request body at Unix time `now` (seconds): the cosignature
    /// line (with its newline) to answer 200 with, or why not (see the module docs for the
    /// order of checks).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, WitnessError> {
        let req = AddCheckpoint::parse(body).map_err(WitnessError::Malformed)?;
        let note = Note::parse(&req.checkpoint).map_err(WitnessError::Malformed)?;
        let cp = Checkpoint::parse(&note.text).map_err(WitnessError::Malformed)?;
        let origin = cp.origin.clone();
        let keys = self
            .logs
            .keys(&origin)
            .ok_or_else(|| WitnessError::UnknownLog {
                origin: origin.clone(),
            })?;
        // A signature by a trusted key that fails, or none by any trusted key: 403.
        let (mut signed, mut bad_sig) = (false, false);
        for k in keys {
            let id = k.key_id();
            if note
                .signatures
                .iter()
                .any(|s| s.name == id.name() && s.key_id == id.id())
            {
                if k.verify(&req.checkpoint).is_ok() {
                    signed = true;
                } else {
                    bad_sig = true;
                }
            }
        }
        if !signed || bad_sig {
            return Err(WitnessError::BadLogSignature {
                origin,
                key: keys
                    .iter()
                    .map(|k| k.key_id().name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if req.old_size > cp.size {
            return Err(WitnessError::OldAfterNew {
                old: req.old_size,
                size: cp.size,
            });
        }
        let inconsistent = |old: u64, problem| WitnessError::Inconsistent {
            origin: origin.clone(),
            old,
            size: cp.size,
            problem,
        };
        if cp.size == 0 && cp.root != EMPTY_ROOT {
            return Err(inconsistent(0, "a tree of size 0 has the empty root"));
        }
        let mut line = String::new();
        self.state.advance(&origin, &mut |latest| {
            let (latest_size, latest_root) = latest.map_or((0, None), |c| (c.size, Some(c.root)));
            if req.old_size != latest_size {
                return Err(WitnessError::SizeMismatch {
                    origin: origin.clone(),
                    old: req.old_size,
                    latest: latest_size,
                });
            }
            check_extension(&req, &cp, latest_root)
                .map_err(|problem| inconsistent(latest_size, problem))?;
            line = cosign(&self.name, &self.key, &note.text, now).map_err(WitnessError::Signing)?;
            Ok(Cosigned {
                size: cp.size,
                root: cp.root,
                note: format!("{}{line}", req.checkpoint),
            })
        })?;
        if req.old_size == cp.size {
            tracing::debug!(origin = %origin, size = cp.size, "cosigned a checkpoint again");
        } else {
            tracing::info!(origin = %origin, old = req.old_size, size = cp.size, "cosigned a checkpoint");
        }
        Ok(line)
    }
}

/// Step 7: does the checkpoint extend the cosigned tree (`old_root` at the request's old size;
/// `None` if nothing was cosigned)?
fn check_extension(
    req: &AddCheckpoint,
    cp: &Checkpoint,
    old_root: Option<Hash>,
) -> Result<(), &'static str> {
    let old = req.old_size;
    if old == 0 {
        return if req.proof.is_empty() {
            Ok(())
        } else {
            Err("a consistency proof from size 0 must be empty")
        };
    }
    let Some(old_root) = old_root else {
        return Err("no root is known for the old size");
    };
    if old == cp.size {
        return if cp.root == old_root {
            if req.proof.is_empty() {
                Ok(())
            } else {
                Err("a consistency proof between equal sizes must be empty")
            }
        } else {
            Err("the same size has a different root hash (a fork)")
        };
    }
    verify_consistency(old, cp.size, &old_root.0, &cp.root.0, &req.proof)
        .map_err(|_| "the consistency proof does not lead from the cosigned root to the new one")
}

#[cfg(test)]
mod tests;
