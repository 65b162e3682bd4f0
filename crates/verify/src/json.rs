//! Text encodings the verifier reads outside the typed models: protobuf-JSON `bytes` found
//! inside log entry bodies, and PEM blocks (keys given as policy, verifiers in entry bodies).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Document, Result, VerifyError};

/// Decodes protobuf-JSON `bytes` (`hallmark_sigstore::protojson::decode_lenient`), naming the
/// field when it is not base64.
pub(crate) fn decode_bytes(document: Document, field: &str, s: &str) -> Result<Vec<u8>> {
    hallmark_sigstore::protojson::decode_lenient(s)
        .map_err(|e| VerifyError::parse(document, field, format!("invalid base64: {e}")))
}

/// Why a PEM text does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PemError {
    /// A `-----BEGIN` line without its closing dashes.
    #[error("unterminated PEM header")]
    UnterminatedHeader,
    /// A block without its `-----END <label>-----` line.
    #[error("no PEM footer for {label}")]
    NoFooter {
        /// The block's label.
        label: String,
    },
    /// A block whose body is not base64.
    #[error("PEM {label} block: invalid base64")]
    Base64 {
        /// The block's label.
        label: String,
        /// The decoder's complaint.
        #[source]
        source: base64::DecodeError,
    },
    /// No block at all.
    #[error("no PEM block")]
    Empty,
}

/// The blocks of a PEM text, as (label, DER). Lenient about line lengths and whitespace
/// inside a block (some signers write the base64 on one line, which `pem-rfc7468` refuses);
/// strict about base64 itself.
pub(crate) fn pem_blocks(text: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, PemError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or(PemError::UnterminatedHeader)?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let footer = format!("-----END {label}-----");
        let end = body.find(&footer).ok_or_else(|| PemError::NoFooter {
            label: label.to_owned(),
        })?;
        let b64: String = body[..end].split_whitespace().collect();
        let der = STANDARD.decode(&b64).map_err(|source| PemError::Base64 {
            label: label.to_owned(),
            source,
        })?;
        out.push((label.to_owned(), der));
        rest = &body[end + footer.len()..];
    }
    if out.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(out)
}
