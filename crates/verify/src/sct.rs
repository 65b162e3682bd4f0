//! Embedded signed certificate timestamps ([RFC 6962 §3.2–3.3](https://www.rfc-editor.org/rfc/rfc6962#section-3.2)).
//!
//! The wire format is the spec layer's ([`hallmark_sigstore::ct`]): it reads the SCT list,
//! rebuilds the precertificate TBS the CT log saw (the final certificate's TBS without the SCT
//! list extension, every other byte kept) and checks each SCT's signature. SCT extensions
//! (non-empty for Static CT logs, which put the leaf index there) are signed as they are. This
//! module decides which SCTs count: those from a CT log of the trusted root, within its
//! validity.

use hallmark_sigstore::ct::{self, CtError};

use crate::cert::Cert;
use crate::crypto::sha256;
use crate::error::{Check, Result, fail};
use crate::trust::TrustedRoot;

/// Verifies the leaf's embedded SCTs: at least one must come from a CT log of the trusted root
/// and verify; an SCT from a trusted log that does not verify is an error. Returns how many
/// verified.
pub(crate) fn verify_embedded(leaf: &Cert, issuer: &Cert, root: &TrustedRoot) -> Result<usize> {
    let scts = ct::embedded_scts(&leaf.der).map_err(|e| match e {
        CtError::NoEmbeddedScts => fail(
            Check::Sct,
            "the certificate has no embedded SCT list (extension 1.3.6.1.4.1.11129.2.4.2)",
        ),
        other => fail(Check::Sct, format!("malformed SCT list: {other}")),
    })?;
    let tbs = ct::reconstruct_precert_tbs(&leaf.der).map_err(|e| {
        fail(
            Check::Sct,
            format!("cannot rebuild the precertificate TBS: {e}"),
        )
    })?;
    let issuer_key_hash = sha256(issuer.key.spki_der());
    let mut verified = 0;
    for sct in &scts {
        let Some(log) = root.ctlogs.iter().find(|l| l.log_id == sct.log_id) else {
            continue;
        };
        match ct::verify_sct_signature(sct, log.key.inner(), &issuer_key_hash, &tbs) {
            Ok(()) => {}
            Err(CtError::UnsupportedSct { reason }) => {
                return Err(fail(
                    Check::Sct,
                    format!("unsupported SCT signature algorithm ({reason})"),
                ));
            }
            Err(_) => {
                return Err(fail(
                    Check::Sct,
                    format!(
                        "SCT from CT log {} ({}) does not verify",
                        hex::encode(sct.log_id),
                        log.base_url
                    ),
                ));
            }
        }
        let t = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid_for.contains(t) {
            return Err(fail(
                Check::Sct,
                format!(
                    "SCT time {} is outside the CT log key's validity ({})",
                    crate::time::display(t),
                    log.valid_for.display()
                ),
            ));
        }
        verified += 1;
    }
    if verified == 0 {
        let ids: Vec<String> = scts.iter().map(|s| hex::encode(s.log_id)).collect();
        return Err(fail(
            Check::Sct,
            format!(
                "no SCT from a trusted CT log (SCT log ids: [{}])",
                ids.join(", ")
            ),
        ));
    }
    Ok(verified)
}
