//! The logs to audit, as the Sigstore trust material names them, and the check of their signed
//! heads.
//!
//! A trusted root's `tlogs` with a `checkpointKeyId` are Rekor v2 (C2SP tlog-tiles) logs, the
//! others Rekor v1; its `ctlogs` are RFC 6962 CT logs. A log whose key's window has closed is
//! retired and not followed. Checkpoints are verified with [`hallmark_tlog::note`]: the log's
//! signature line is the one whose key ID is the log's (`checkpointKeyId`, else the log ID) and
//! whose name fits the origin (C2SP: the origin; Rekor v1: `<name> - <tree id>`); for an Ed25519
//! key the C2SP key hash of that name and key must be the trusted key ID. Signed tree heads are
//! verified with [`hallmark_sigstore::ct::SignedTreeHead`].

use std::fmt;

use hallmark_sigstore::KeyType;
use hallmark_sigstore::crypto::PublicKey;
use hallmark_sigstore::ct::SignedTreeHead;
use hallmark_sigstore::trust::{TransparencyLogInstance, TrustedRoot};
use hallmark_tlog::Hash;
use hallmark_tlog::note::{Checkpoint, Note, NoteKeyId, NoteVerifier};
use p256::pkcs8::DecodePublicKey as _;

use crate::AuditError;

/// Which API a log speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogKind {
    /// Rekor v1: `/api/v1/log`, `/api/v1/log/proof`, `/api/v1/log/entries/retrieve`.
    RekorV1,
    /// Rekor v2: a C2SP tlog-tiles log (`/checkpoint`, `/tile/...`).
    RekorV2,
    /// An RFC 6962 certificate-transparency log (`/ct/v1/...`).
    Ct,
}

impl LogKind {
    /// The short name used on the command line and in the store: `v1`, `v2`, `ct`.
    pub fn name(self) -> &'static str {
        match self {
            LogKind::RekorV1 => "v1",
            LogKind::RekorV2 => "v2",
            LogKind::Ct => "ct",
        }
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogKind::RekorV1 => "Rekor v1 log",
            LogKind::RekorV2 => "Rekor v2 log",
            LogKind::Ct => "CT log",
        })
    }
}

/// The key a log signs its heads with.
#[derive(Clone, Debug)]
enum LogKey {
    /// A checkpoint key (Rekor v1 and v2).
    Note {
        key: NoteKey,
        /// The 32-byte hash whose first four bytes are the note key ID.
        key_hash: [u8; 32],
    },
    /// A CT log key.
    Sth(PublicKey),
}

#[derive(Clone, Debug)]
enum NoteKey {
    Ecdsa(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// One log to audit: what it is, where it is, and its key.
#[derive(Clone, Debug)]
pub struct AuditedLog {
    kind: LogKind,
    base_url: String,
    log_id: [u8; 32],
    key: LogKey,
}

/// A signed head (checkpoint or STH) whose signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedHead {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The checkpoint's origin line (`None` for a CT log's tree head).
    pub origin: Option<String>,
    /// The STH's timestamp (CT logs only).
    pub timestamp_ms: Option<u64>,
    /// The signed note or STH JSON exactly as received.
    pub signed: String,
}

impl AuditedLog {
    /// Every log of `root` whose key is valid at `now_unix` (or has no end), v1 and v2 tlogs
    /// then CT logs.
    ///
    /// # Errors
    /// [`AuditError::TrustRoot`] for a log without a base URL, log ID or usable key.
    pub fn from_trusted_root(root: &TrustedRoot, now_unix: i64) -> Result<Vec<Self>, AuditError> {
        let mut out = Vec::new();
        for (i, log) in root.tlogs.iter().enumerate() {
            let kind = if log.checkpoint_key_id.is_some() {
                LogKind::RekorV2
            } else {
                LogKind::RekorV1
            };
            if let Some(l) = Self::from_instance(log, kind, &format!("tlogs[{i}]"), now_unix)? {
                out.push(l);
            }
        }
        for (i, log) in root.ctlogs.iter().enumerate() {
            if let Some(l) =
                Self::from_instance(log, LogKind::Ct, &format!("ctlogs[{i}]"), now_unix)?
            {
                out.push(l);
            }
        }
        Ok(out)
    }

    fn from_instance(
        log: &TransparencyLogInstance,
        kind: LogKind,
        field: &str,
        now_unix: i64,
    ) -> Result<Option<Self>, AuditError> {
        let err = |reason: &str| AuditError::TrustRoot {
            log: field.to_owned(),
            reason: reason.to_owned(),
        };
        let pk = log.public_key.as_ref().ok_or_else(|| err("no publicKey"))?;
        let ended = pk
            .valid_for
            .as_ref()
            .and_then(|v| v.end.as_ref())
            .and_then(|e| e.unix())
            .is_some_and(|end| end <= now_unix);
        if ended {
            return Ok(None);
        }
        let base_url = log
            .base_url
            .as_deref()
            .ok_or_else(|| err("no baseUrl"))?
            .trim_end_matches('/')
            .to_owned();
        let id_of = |id: &Option<hallmark_sigstore::common::LogId>, what: &str| {
            let text = id
                .as_ref()
                .and_then(|l| l.key_id.as_ref())
                .ok_or_else(|| err(&format!("no {what}")))?;
            let raw = text
                .decode()
                .map_err(|_| err(&format!("{what} is not base64")))?;
            <[u8; 32]>::try_from(raw.as_slice())
                .map_err(|_| err(&format!("{what} is not 32 bytes")))
        };
        let log_id = id_of(&log.log_id, "logId.keyId")?;
        let der = pk
            .raw_bytes
            .as_ref()
            .ok_or_else(|| err("no publicKey.rawBytes"))?
            .decode()
            .map_err(|_| err("publicKey.rawBytes is not base64"))?;
        let public = PublicKey::from_spki_der(&der)
            .map_err(|e| err(&format!("publicKey.rawBytes is not a usable key: {e}")))?;
        let key = match kind {
            LogKind::Ct => LogKey::Sth(public),
            LogKind::RekorV1 | LogKind::RekorV2 => {
                let key_hash = if kind == LogKind::RekorV2 {
                    id_of(&log.checkpoint_key_id, "checkpointKeyId.keyId")?
                } else {
                    log_id
                };
                let key = match public.key_type() {
                    KeyType::Ed25519 => {
                        let raw = der
                            .get(der.len().saturating_sub(32)..)
                            .and_then(|b| <[u8; 32]>::try_from(b).ok())
                            .ok_or_else(|| err("Ed25519 key is short"))?;
                        NoteKey::Ed25519(
                            ed25519_dalek::VerifyingKey::from_bytes(&raw)
                                .map_err(|_| err("not an Ed25519 point"))?,
                        )
                    }
                    KeyType::EcdsaP256 => NoteKey::Ecdsa(
                        p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                            .map_err(|_| err("not a P-256 key"))?,
                    ),
                    other => {
                        return Err(err(&format!(
                            "checkpoints signed by a {} key cannot be checked (P-256 or Ed25519)",
                            other.name()
                        )));
                    }
                };
                LogKey::Note { key, key_hash }
            }
        };
        Ok(Some(AuditedLog {
            kind,
            base_url,
            log_id,
            key,
        }))
    }

    /// The log's API.
    pub fn kind(&self) -> LogKind {
        self.kind
    }

    /// Its base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Its log ID (the trusted root's `logId`).
    pub fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// The name the store keeps this log's checkpoints under: `<kind>:<log ID hex>`.
    pub fn store_key(&self) -> String {
        format!("{}:{}", self.kind.name(), hex::encode(self.log_id))
    }

    /// A log built by hand (tests, tools): a checkpoint log with an ECDSA P-256 key.
    pub fn ecdsa_checkpoints(
        kind: LogKind,
        base_url: &str,
        key: p256::ecdsa::VerifyingKey,
    ) -> Result<Self, AuditError> {
        let key_hash = NoteKeyId::ecdsa("x", &key)
            .map_err(|e| AuditError::TrustRoot {
                log: base_url.to_owned(),
                reason: e.to_string(),
            })?
            .key_hash();
        Ok(AuditedLog {
            kind,
            base_url: base_url.to_owned(),
            log_id: key_hash,
            key: LogKey::Note {
                key: NoteKey::Ecdsa(key),
                key_hash,
            },
        })
    }

    /// Verifies a signed head as received (a checkpoint note for Rekor logs, `get-sth` JSON for
    /// CT logs) with this log's key.
    ///
    /// # Errors
    /// [`AuditError::Malformed`] when it does not parse, [`AuditError::Signature`] when the
    /// log's key did not sign it.
    pub fn verify_head(&self, signed: &[u8]) -> Result<VerifiedHead, AuditError> {
        let log = self.to_string();
        match &self.key {
            LogKey::Sth(key) => {
                let sth = SignedTreeHead::from_json(signed)
                    .map_err(|e| AuditError::malformed(&log, "signed tree head", e))?;
                sth.verify(key).map_err(|e| AuditError::Signature {
                    log: log.clone(),
                    size: format!(" of size {}", sth.tree_size),
                    source: Box::new(e),
                })?;
                Ok(VerifiedHead {
                    size: sth.tree_size,
                    root: Hash(sth.root_hash),
                    origin: None,
                    timestamp_ms: Some(sth.timestamp_ms),
                    signed: String::from_utf8_lossy(signed).into_owned(),
                })
            }
            LogKey::Note { key, key_hash } => {
                let text = std::str::from_utf8(signed)
                    .map_err(|_| AuditError::malformed(&log, "checkpoint", "not UTF-8"))?;
                let note =
                    Note::parse(text).map_err(|e| AuditError::malformed(&log, "checkpoint", e))?;
                let claimed = Checkpoint::parse(&note.text)
                    .map_err(|e| AuditError::malformed(&log, "checkpoint", e))?;
                let refuse =
                    |source: Box<dyn std::error::Error + Send + Sync>| AuditError::Signature {
                        log: log.clone(),
                        size: format!(" of size {}", claimed.size),
                        source,
                    };
                let hint = [key_hash[0], key_hash[1], key_hash[2], key_hash[3]];
                let line = note
                    .signatures
                    .iter()
                    .find(|s| {
                        s.key_id == hint
                            && hallmark_tlog::note::name_fits_origin(&s.name, &claimed.origin)
                    })
                    .ok_or_else(|| {
                        refuse(
                            format!(
                                "no signature line with the log's key ID {} for origin {:?}",
                                hex::encode(hint),
                                claimed.origin
                            )
                            .into(),
                        )
                    })?;
                let verifier = match key {
                    NoteKey::Ecdsa(k) => NoteVerifier::ecdsa(&line.name, *k),
                    NoteKey::Ed25519(k) => NoteVerifier::ed25519(&line.name, *k),
                }
                .map_err(|e| refuse(Box::new(e)))?;
                if matches!(key, NoteKey::Ed25519(_)) && verifier.key_id().key_hash() != *key_hash {
                    return Err(refuse(
                        "the Ed25519 key hash of the signer's name and key is not the trusted \
                         checkpointKeyId"
                            .into(),
                    ));
                }
                let checkpoint = verifier
                    .verify_checkpoint(text)
                    .map_err(|e| refuse(Box::new(e)))?;
                Ok(VerifiedHead {
                    size: checkpoint.size,
                    root: checkpoint.root,
                    origin: Some(checkpoint.origin),
                    timestamp_ms: None,
                    signed: text.to_owned(),
                })
            }
        }
    }
}

impl fmt::Display for AuditedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (log ID {})",
            self.kind,
            self.base_url,
            hex::encode(&self.log_id[..8])
        )
    }
}
