//! Rekor v1 log responses: entry UUIDs, signed entry timestamp payloads and the
//! `LogEntry` response object.

use hallmark_tlog::Hash;
use serde::Serialize;

use crate::error::EntryError;
use serde_json::{Value, json};

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

/// The response object of `POST /api/v1/log/entries` and the entry reads:
/// `{"<uuid>":{"body","integratedTime","logID","logIndex","verification":{...}}}`,
/// hashes in lowercase hex.
#[must_use]
pub fn log_entry_json(parts: &LogEntryParts<'_>) -> Value {
    let hashes: Vec<String> = parts
        .proof
        .hashes
        .iter()
        .map(|h| hex::encode(h.0))
        .collect();
    let entry = json!({
        "body": parts.body_b64,
        "integratedTime": parts.integrated_time,
        "logID": parts.log_id_hex,
        "logIndex": parts.log_index,
        "verification": {
            "signedEntryTimestamp": parts.signed_entry_timestamp_b64,
            "inclusionProof": {
                "checkpoint": parts.proof.checkpoint,
                "hashes": hashes,
                "logIndex": parts.log_index,
                "rootHash": hex::encode(parts.proof.root_hash.0),
                "treeSize": parts.proof.tree_size,
            },
        },
    });
    let mut map = serde_json::Map::new();
    map.insert(parts.uuid.to_owned(), entry);
    Value::Object(map)
}
