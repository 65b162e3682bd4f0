//! Rekor v1 log responses: entry UUIDs, signed entry timestamp payloads and the
//! `LogEntry` response object.

use hallmark_tlog::Hash;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EntryError;

/// The bytes a signed entry timestamp (SET) signs: RFC 8785 canonical JSON of
/// `{"body","integratedTime","logID","logIndex"}`.
///
/// `body_b64` is the base64 canonical body, `log_id_hex` the hex SHA-256 of the log key's DER
/// SPKI. The struct below lists the keys in JCS order and serde_json escapes strings exactly as
/// RFC 8785 does (short escapes for `\b\f\n\r\t`, lowercase `\u00xx` for other controls, no
/// escaping of non-ASCII), so the compact output is canonical.
#[must_use]
pub fn set_payload(
    body_b64: &str,
    integrated_time: i64,
    log_id_hex: &str,
    log_index: u64,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct SetPayload<'a> {
        body: &'a str,
        #[serde(rename = "integratedTime")]
        integrated_time: i64,
        #[serde(rename = "logID")]
        log_id: &'a str,
        #[serde(rename = "logIndex")]
        log_index: u64,
    }
    let payload = SetPayload {
        body: body_b64,
        integrated_time,
        log_id: log_id_hex,
        log_index,
    };
    // Serializing a struct of strings and integers to a Vec cannot fail.
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// A Rekor log's id: SHA-256 of its DER `SubjectPublicKeyInfo`, as trust roots carry it
/// (`logId.keyId`), the same rule as an RFC 6962 log id.
#[must_use]
pub fn rekor_log_id(public_key_der: &[u8]) -> [u8; 32] {
    crate::ct::log_id(public_key_der)
}

/// Hallmark's tree id for a log, the first 16 hex digits of its entry UUIDs: the first eight
/// bytes of the log id, big-endian, shifted right by one (a positive `int64`, as Rekor's tree
/// ids are).
#[must_use]
pub fn tree_id(log_id: &[u8; 32]) -> u64 {
    let mut id = [0u8; 8];
    id.copy_from_slice(&log_id[..8]);
    u64::from_be_bytes(id) >> 1
}

/// The Rekor entry UUID: 16 hex digits of the tree id followed by the 64-hex leaf hash.
#[must_use]
pub fn entry_uuid(tree_id: u64, leaf_hash: &Hash) -> String {
    format!("{tree_id:016x}{}", hex::encode(leaf_hash.0))
}

/// A parsed entry UUID: the tree id, when the 80-digit form was given, and the leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryUuid {
    /// The tree id (the first 16 hex digits), absent for the bare 64-digit leaf hash.
    pub tree_id: Option<u64>,
    /// The leaf hash.
    pub leaf_hash: Hash,
}

/// Parses an entry UUID as clients send it in paths and `entries/retrieve`: 80 hex digits
/// ([`entry_uuid`]), or the 64-digit leaf hash alone. Upper-case hex is accepted.
///
/// Checks that every byte is an ASCII hex digit before it splits the text, so no input (a
/// multi-byte character at the split point, say) can make it slice inside a character.
///
/// # Errors
///
/// [`EntryError::BadUuid`] for any other text.
pub fn parse_entry_uuid(uuid: &str) -> Result<EntryUuid, EntryError> {
    let bad = || EntryError::BadUuid {
        uuid: uuid.chars().take(100).collect(),
    };
    let bytes = uuid.as_bytes();
    if !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let (tree_hex, leaf_hex) = match bytes.len() {
        80 => bytes.split_at(16),
        64 => (&[][..], bytes),
        _ => return Err(bad()),
    };
    let mut leaf = [0u8; 32];
    hex::decode_to_slice(leaf_hex, &mut leaf).map_err(|_| bad())?;
    let tree_id = if tree_hex.is_empty() {
        None
    } else {
        let mut id = [0u8; 8];
        hex::decode_to_slice(tree_hex, &mut id).map_err(|_| bad())?;
        Some(u64::from_be_bytes(id))
    };
    Ok(EntryUuid {
        tree_id,
        leaf_hash: Hash(leaf),
    })
}

/// Everything a Rekor v1 `LogEntry` response holds, as plain values.
#[derive(Clone, Copy, Debug)]
pub struct LogEntryParts<'a> {
    /// The entry UUID ([`entry_uuid`]).
    pub uuid: &'a str,
    /// Base64 of the canonical body.
    pub body_b64: &'a str,
    /// Integration time, Unix seconds.
    pub integrated_time: i64,
    /// Hex SHA-256 of the log key's DER SPKI.
    pub log_id_hex: &'a str,
    /// Index of the entry in the log.
    pub log_index: u64,
    /// Base64 of the SET signature (ECDSA DER) over [`set_payload`].
    pub signed_entry_timestamp_b64: &'a str,
    /// The inclusion proof.
    pub proof: InclusionProofParts<'a>,
}

/// A Rekor v1 inclusion proof as plain values.
#[derive(Clone, Copy, Debug)]
pub struct InclusionProofParts<'a> {
    /// The signed checkpoint note text.
    pub checkpoint: &'a str,
    /// Audit path, bottom-up.
    pub hashes: &'a [Hash],
    /// The root hash of the tree of size `tree_size`.
    pub root_hash: &'a Hash,
    /// The tree size the proof is for.
    pub tree_size: u64,
}

/// A Rekor v1 `LogEntry` (the value under the UUID in `POST /api/v1/log/entries` answers and
/// entry reads): hashes and the log ID in lowercase hex, the body and SET in base64.
///
/// Fields are declared in alphabetical order, so the JSON keys come out sorted as Rekor's do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Base64 of the canonical body.
    pub body: String,
    /// Integration time, Unix seconds.
    pub integrated_time: i64,
    /// Hex SHA-256 of the log key's DER SPKI.
    #[serde(rename = "logID")]
    pub log_id: String,
    /// Index of the entry in the log.
    pub log_index: u64,
    /// The SET and the inclusion proof.
    pub verification: Verification,
}

/// `LogEntry.verification`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The inclusion proof.
    pub inclusion_proof: InclusionProof,
    /// Base64 of the SET signature (ECDSA DER) over [`set_payload`].
    pub signed_entry_timestamp: String,
}

/// A Rekor v1 inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The signed checkpoint note text.
    pub checkpoint: String,
    /// Audit path, bottom-up, hex.
    pub hashes: Vec<String>,
    /// Index of the entry.
    pub log_index: u64,
    /// Hex root hash of the tree of size `tree_size`.
    pub root_hash: String,
    /// The tree size the proof is for.
    pub tree_size: u64,
}

impl LogEntry {
    /// The entry from its parts.
    #[must_use]
    pub fn new(parts: &LogEntryParts<'_>) -> Self {
        LogEntry {
            body: parts.body_b64.to_owned(),
            integrated_time: parts.integrated_time,
            log_id: parts.log_id_hex.to_owned(),
            log_index: parts.log_index,
            verification: Verification {
                inclusion_proof: InclusionProof {
                    checkpoint: parts.proof.checkpoint.to_owned(),
                    hashes: parts
                        .proof
                        .hashes
                        .iter()
                        .map(|h| hex::encode(h.0))
                        .collect(),
                    log_index: parts.log_index,
                    root_hash: hex::encode(parts.proof.root_hash.0),
                    tree_size: parts.proof.tree_size,
                },
                signed_entry_timestamp: parts.signed_entry_timestamp_b64.to_owned(),
            },
        }
    }

    /// The one entry of a `{"<uuid>": entry}` answer, with its UUID.
    ///
    /// # Errors
    ///
    /// [`EntryError::Malformed`] when the answer is not one UUID mapped to a log entry.
    pub fn from_response(json: &[u8]) -> Result<(String, LogEntry), EntryError> {
        let value = serde_json::from_slice(json)
            .map_err(|e| EntryError::malformed("body", format!("not JSON: {e}")))?;
        LogEntry::from_value(value)
    }

    /// [`LogEntry::from_response`] for an answer already read as JSON.
    ///
    /// # Errors
    ///
    /// [`EntryError::Malformed`] when the answer is not one UUID mapped to a log entry.
    pub fn from_value(value: Value) -> Result<(String, LogEntry), EntryError> {
        let map: std::collections::BTreeMap<String, LogEntry> = serde_json::from_value(value)
            .map_err(|e| {
                EntryError::malformed("body", format!("not a Rekor log entry answer: {e}"))
            })?;
        let mut entries = map.into_iter();
        match (entries.next(), entries.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(EntryError::malformed(
                "body",
                "the answer is not a single {uuid: entry} object",
            )),
        }
    }
}

/// The response object of `POST /api/v1/log/entries` and the entry reads:
/// `{"<uuid>":{"body","integratedTime","logID","logIndex","verification":{...}}}`.
#[must_use]
pub fn log_entry_json(parts: &LogEntryParts<'_>) -> Value {
    let mut map = serde_json::Map::new();
    // A struct of strings and integers always serializes.
    map.insert(
        parts.uuid.to_owned(),
        serde_json::to_value(LogEntry::new(parts)).unwrap_or_default(),
    );
    Value::Object(map)
}
