//! The trusted root (`trusted_root.json`,
//! [`sigstore_trustroot.proto`](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto)):
//! transparency logs, certificate authorities, CT logs and timestamp authorities, each with the
//! window it is trusted for. Several entries of a kind are allowed (key and CA rotation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hallmark_sigstore::trust::{
    CertificateAuthority as RawAuthority, TimeRange as RawTimeRange,
    TransparencyLogInstance as RawLog, TrustedRoot as RawRoot,
};

use crate::bundle::decode;
use crate::cert::Cert;
use crate::crypto::PublicKey;
use crate::error::{Document, Result, VerifyError};
/// Most entries of one kind read from a trusted root.
const MAX_ITEMS: usize = 256;

/// A closed interval of Unix seconds (`end` open when `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, inclusive.
    pub start: i64,
    /// End, inclusive.
    pub end: Option<i64>,
}

impl TimeRange {
    /// Whether `t` lies in the range (both ends inclusive, as the specification says).
    #[must_use]
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }

    pub(crate) fn display(&self) -> String {
        match self.end {
            Some(end) => format!(
                "{} to {}",
                crate::time::display(self.start),
                crate::time::display(end)
            ),
            None => format!("from {}", crate::time::display(self.start)),
        }
    }
}

/// A transparency log or CT log instance.
#[derive(Clone, Debug)]
pub(crate) struct LogInstance {
    pub(crate) base_url: String,
    pub(crate) key: PublicKey,
    pub(crate) log_id: Vec<u8>,
    pub(crate) checkpoint_key_id: Option<Vec<u8>>,
    pub(crate) valid_for: TimeRange,
}

/// A certificate or timestamp authority: its chain (issuer first, trust anchor last).
#[derive(Clone, Debug)]
pub(crate) struct Authority {
    pub(crate) uri: String,
    pub(crate) chain: Vec<Cert>,
    pub(crate) valid_for: TimeRange,
}

/// A parsed trusted root.
///
/// It remembers the certificate signatures and SCTs it has verified (successes only; they do
/// not depend on the time of signing), so verifying many bundles made with one certificate, as
/// `hallmark sign` does for every file it signs, checks the chain and SCTs once. Clones share
/// what they remember.
#[derive(Clone, Debug)]
pub struct TrustedRoot {
    pub(crate) tlogs: Vec<LogInstance>,
    pub(crate) ctlogs: Vec<LogInstance>,
    pub(crate) cas: Vec<Authority>,
    pub(crate) tsas: Vec<Authority>,
    pub(crate) memo: Memo,
}

/// Checks that held under this trusted root, by a SHA-256 over what was checked.
#[derive(Clone, Debug, Default)]
pub(crate) struct Memo(Arc<Mutex<HashMap<[u8; 32], usize>>>);

/// Most results a [`Memo`] keeps; it starts over when full.
const MEMO_CAPACITY: usize = 4096;

impl Memo {
    /// `check()`'s result for `key`: remembered if an earlier call succeeded, else computed
    /// (and remembered when it succeeds).
    pub(crate) fn get_or_check<E>(
        &self,
        key: [u8; 32],
        check: impl FnOnce() -> std::result::Result<usize, E>,
    ) -> std::result::Result<usize, E> {
        let lock = || self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&n) = lock().get(&key) {
            return Ok(n);
        }
        let n = check()?;
        let mut memo = lock();
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.insert(key, n);
        Ok(n)
    }

    /// Whether `child`'s signature verifies under `parent`'s key (and names it as issuer).
    pub(crate) fn issued_by(&self, child: &Cert, parent: &Cert) -> bool {
        let key = memo_key(b"issued-by", &[&child.der, &parent.der]);
        self.get_or_check(key, || {
            if child.issued_by(parent) {
                Ok(1)
            } else {
                Err(())
            }
        })
        .is_ok()
    }
}

/// SHA-256 over a domain tag and length-prefixed parts.
pub(crate) fn memo_key(tag: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut data = Vec::with_capacity(tag.len() + parts.iter().map(|p| p.len() + 8).sum::<usize>());
    data.extend_from_slice(tag);
    for part in parts {
        data.extend_from_slice(&(part.len() as u64).to_be_bytes());
        data.extend_from_slice(part);
    }
    crate::crypto::sha256(&data)
}

fn err(field: impl Into<String>, reason: impl std::fmt::Display) -> VerifyError {
    VerifyError::parse(Document::TrustedRoot, field, reason)
}

fn time_range(raw: Option<RawTimeRange>, field: &str) -> Result<TimeRange> {
    let raw = raw.ok_or_else(|| err(field, "validFor is missing"))?;
    let parse = |t: &hallmark_sigstore::trust::Timestamp, which: &str| {
        t.unix().ok_or_else(|| {
            err(
                format!("{field}.{which}"),
                format!("{:?} is not an RFC 3339 time from 1970 on", t.as_str()),
            )
        })
    };
    let start = raw
        .start
        .as_ref()
        .ok_or_else(|| err(format!("{field}.start"), "validity start is missing"))
        .and_then(|s| parse(s, "start"))?;
    let end = raw.end.as_ref().map(|s| parse(s, "end")).transpose()?;
    if end.is_some_and(|e| e < start) {
        return Err(err(field, "validity ends before it starts"));
    }
    Ok(TimeRange { start, end })
}

fn check_len(len: usize, field: &str) -> Result<()> {
    if len > MAX_ITEMS {
        return Err(err(field, format!("{len} entries, more than {MAX_ITEMS}")));
    }
    Ok(())
}

impl TrustedRoot {
    /// Parses a `TrustedRoot` document, or a `ClientTrustConfig` (taking its `trustedRoot`).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] naming the field: unknown media type or fields, bad base64,
    /// unsupported keys, undecodable certificates, or a validity window without a start.
    pub fn from_json(json: &[u8]) -> Result<TrustedRoot> {
        let raw = RawRoot::from_json_or_client_config(json).map_err(|e| err("$", e))?;
        raw.check_media_type().map_err(|e| err("mediaType", e))?;
        check_len(raw.tlogs.len(), "tlogs")?;
        check_len(raw.ctlogs.len(), "ctlogs")?;
        check_len(raw.certificate_authorities.len(), "certificateAuthorities")?;
        check_len(raw.timestamp_authorities.len(), "timestampAuthorities")?;
        Ok(TrustedRoot {
            tlogs: logs(raw.tlogs, "tlogs")?,
            ctlogs: logs(raw.ctlogs, "ctlogs")?,
            cas: authorities(raw.certificate_authorities, "certificateAuthorities")?,
            tsas: authorities(raw.timestamp_authorities, "timestampAuthorities")?,
            memo: Memo::default(),
        })
    }
}

fn logs(raw: Vec<RawLog>, kind: &str) -> Result<Vec<LogInstance>> {
    raw.into_iter()
        .enumerate()
        .map(|(i, log)| {
            let f = |name: &str| format!("{kind}[{i}].{name}");
            if let Some(alg) = log.hash_algorithm.as_deref()
                && alg != "SHA2_256"
            {
                return Err(err(
                    f("hashAlgorithm"),
                    format!("unsupported {alg:?} (only SHA2_256)"),
                ));
            }
            let pk = log
                .public_key
                .ok_or_else(|| err(f("publicKey"), "missing"))?;
            let raw_key = decode(
                &pk.raw_bytes
                    .ok_or_else(|| err(f("publicKey.rawBytes"), "missing"))?,
                Document::TrustedRoot,
                &f("publicKey.rawBytes"),
            )?;
            let key = match pk.key_details.as_deref() {
                Some("PKCS1_RSA_PKCS1V5" | "PKCS1_RSA_PSS") => PublicKey::from_pkcs1_rsa(
                    Document::TrustedRoot,
                    &f("publicKey.rawBytes"),
                    &raw_key,
                )?,
                _ => PublicKey::parse(Document::TrustedRoot, &f("publicKey.rawBytes"), &raw_key)?,
            };
            let valid_for = time_range(pk.valid_for, &f("publicKey.validFor"))?;
            let log_id = decode(
                &log.log_id
                    .and_then(|l| l.key_id)
                    .ok_or_else(|| err(f("logId.keyId"), "missing"))?,
                Document::TrustedRoot,
                &f("logId.keyId"),
            )?;
            let checkpoint_key_id = log
                .checkpoint_key_id
                .and_then(|l| l.key_id)
                .map(|k| decode(&k, Document::TrustedRoot, &f("checkpointKeyId.keyId")))
                .transpose()?;
            Ok(LogInstance {
                base_url: log.base_url.unwrap_or_default(),
                key,
                log_id,
                checkpoint_key_id,
                valid_for,
            })
        })
        .collect()
}

fn authorities(raw: Vec<RawAuthority>, kind: &str) -> Result<Vec<Authority>> {
    raw.into_iter()
        .enumerate()
        .map(|(i, ca)| {
            let f = |name: &str| format!("{kind}[{i}].{name}");
            let certs = ca.cert_chain.map(|c| c.certificates).unwrap_or_default();
            if certs.is_empty() {
                return Err(err(f("certChain.certificates"), "the chain is empty"));
            }
            check_len(certs.len(), &f("certChain.certificates"))?;
            let chain = certs
                .into_iter()
                .enumerate()
                .map(|(j, c)| {
                    let field = f(&format!("certChain.certificates[{j}].rawBytes"));
                    let der = decode(
                        &c.raw_bytes.ok_or_else(|| err(field.clone(), "missing"))?,
                        Document::TrustedRoot,
                        &field,
                    )?;
                    Cert::parse(&der)
                        .map_err(|e| VerifyError::parse_with(Document::TrustedRoot, field, e))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Authority {
                uri: ca.uri.unwrap_or_default(),
                chain,
                valid_for: time_range(ca.valid_for, &f("validFor"))?,
            })
        })
        .collect()
}
