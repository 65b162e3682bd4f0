//! The CT log's signature over a precertificate: [`sign_sct`]. The structures themselves (SCTs,
//! `MerkleTreeLeaf`, the SCT list extension, precertificate TBS rebuilding, SCT verification)
//! are RFC 6962 wire formats and live in the spec layer, [`hallmark_sigstore::ct`].

use hallmark_sigstore::ct::{DigitallySigned, Sct, SctVersion, sct_signed_data};
use signature::Signer;

use crate::error::{CaError, Result};

/// Sign an SCT for a precertificate entry with the CT log's key (ECDSA P-256, SHA-256, DER
/// signature — what every Sigstore client accepts).
///
/// `log_id` is [`hallmark_sigstore::ct::log_id`] of the signer's public key; `tbs_der` the TBS
/// without the poison.
///
/// # Errors
/// [`CaError::Signer`] if the key fails, [`CaError::Ct`] for a TBS too long for an SCT.
pub fn sign_sct<S>(
    ct_signer: &S,
    log_id: [u8; 32],
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<Sct>
where
    S: Signer<p256::ecdsa::DerSignature> + ?Sized,
{
    let data = sct_signed_data(timestamp_ms, issuer_key_hash, tbs_der, &[])
        .map_err(hallmark_sigstore::ct::CtError::from)?;
    let sig = ct_signer
        .try_sign(&data)
        .map_err(|e| CaError::signer("signing the SCT", e))?;
    Ok(Sct {
        version: SctVersion::V1,
        log_id,
        timestamp_ms,
        extensions: Vec::new(),
        signature: DigitallySigned::ecdsa_sha256(sig.as_bytes().to_vec()),
    })
}
