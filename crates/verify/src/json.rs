//! Text encodings the verifier reads outside the typed models: protobuf-JSON `bytes` found
//! inside log entry bodies. (PEM is read by `hallmark_sigstore::pem`.)

use crate::error::{Document, Result, VerifyError};

/// Decodes protobuf-JSON `bytes` (`hallmark_sigstore::protojson::decode_lenient`), naming the
/// field when it is not base64.
pub(crate) fn decode_bytes(document: Document, field: &str, s: &str) -> Result<Vec<u8>> {
    hallmark_sigstore::protojson::decode_lenient(s)
        .map_err(|e| VerifyError::parse(document, field, format!("invalid base64: {e}")))
}
