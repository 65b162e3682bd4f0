//! The issuing side of the CA as the handlers use it: the issuance profile and issuing key, the
//! chain it answers with, and the check that a log entry's signers are certificates of this CA.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use hallmark_ca::{Issuance, IssuingKey, Prepared};
use sha2::Digest as _;
use x509_cert::Certificate;

use crate::ct::CtLog;
use crate::error::ApiError;

/// The issuing side of the CA.
pub(crate) struct CaService {
    /// Issuing CA, then root, as PEM.
    pub(crate) chain_pem: Vec<String>,
    pub(crate) issuance: Issuance,
    issuing_key: Arc<dyn IssuingKey + Send + Sync>,
    issuing_cert: Certificate,
    accept_any_signer: bool,
    /// Signing certificates already checked against the issuing CA, by SHA-256 of their DER, with
    /// their validity window. A CI job logs many entries with one 10-minute certificate; this
    /// saves a chain signature check per entry. Bounded: cleared when full.
    checked_certs: Mutex<HashMap<[u8; 32], x509_cert::time::Validity>>,
}

/// Most signing certificates [`CaService::check_entry_signers`] remembers.
const CHECKED_CERTS_MAX: usize = 16_384;

impl CaService {
    /// The CA issuing with `issuance` and `issuing_key` under `issuing_cert`; `chain_pem` is the
    /// issuing CA and root as PEM. Log entries must be signed by its certificates unless
    /// `accept_any_signer`.
    pub(crate) fn new(
        chain_pem: Vec<String>,
        issuance: Issuance,
        issuing_key: Arc<dyn IssuingKey + Send + Sync>,
        issuing_cert: Certificate,
        accept_any_signer: bool,
    ) -> Self {
        Self {
            chain_pem,
            issuance,
            issuing_key,
            issuing_cert,
            accept_any_signer,
            checked_certs: Mutex::new(HashMap::new()),
        }
    }

    /// When the log accepts only this CA's signers (the default), every verifier of an entry
    /// must be a certificate issued by this CA and valid now (the entry's integration time).
    /// A bare public key, a certificate from another CA, or one outside its validity is refused
    /// with a 400 naming the verifier.
    pub(crate) fn check_entry_signers(
        &self,
        signers: &[hallmark_sigstore::EntrySigner],
    ) -> Result<(), ApiError> {
        if self.accept_any_signer {
            return Ok(());
        }
        self.check_signers_at(signers, SystemTime::now())
    }

    fn check_signers_at(
        &self,
        signers: &[hallmark_sigstore::EntrySigner],
        now: SystemTime,
    ) -> Result<(), ApiError> {
        if signers.is_empty() {
            return Err(ApiError::bad_request(
                "the entry names no verifier; this log accepts only certificates issued by its CA",
            ));
        }
        let n = signers.len();
        for (i, signer) in signers.iter().enumerate() {
            let which = format!("verifier {} of {n}", i + 1);
            let Some(der) = &signer.certificate_der else {
                return Err(ApiError::bad_request(format!(
                    "{which} is a bare public key; this log accepts only certificates issued by \
                     its CA"
                )));
            };
            self.check_signer_certificate_at(der, now)
                .map_err(|e| ApiError::new(e.status(), format!("{which}: {}", e.message())))?;
        }
        Ok(())
    }

    /// A signing certificate must have been issued by this CA and be valid at `now`.
    fn check_signer_certificate_at(&self, der: &[u8], now: SystemTime) -> Result<(), ApiError> {
        let id: [u8; 32] = sha2::Sha256::digest(der).into();
        let known = self
            .checked_certs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied();
        let validity = match known {
            Some(validity) => validity,
            None => {
                let cert = hallmark_ca::parse_certificate("signing certificate", der)
                    .map_err(ApiError::from)?;
                hallmark_ca::verify_issued_by(
                    "signing certificate",
                    &cert,
                    "issuing CA",
                    &self.issuing_cert,
                )
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "the signing certificate was not issued by this authority's CA: {e}"
                    ))
                })?;
                let validity = *cert.tbs_certificate().validity();
                let mut checked = self
                    .checked_certs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if checked.len() >= CHECKED_CERTS_MAX {
                    checked.clear();
                }
                checked.insert(id, validity);
                validity
            }
        };
        if now < validity.not_before.to_system_time() || now > validity.not_after.to_system_time() {
            return Err(ApiError::bad_request(format!(
                "the signing certificate is not valid now (valid from {} to {})",
                validity.not_before, validity.not_after
            )));
        }
        Ok(())
    }

    /// On a blocking thread: the CT key signs the SCT over the precertificate (already durable in
    /// the CT log at `timestamp_ms`), the issuing key signs the certificate. Returns its PEM.
    pub(crate) fn finish(
        &self,
        prepared: Prepared,
        timestamp_ms: u64,
        ct: &CtLog,
    ) -> Result<String, ApiError> {
        let sct = hallmark_ca::ct::sign_sct(
            ct.key.as_ref(),
            ct.log_id,
            timestamp_ms,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .map_err(ApiError::from)?;
        let der = prepared
            .finish_der(&sct, self.issuing_key.as_ref())
            .map_err(ApiError::from)?;
        hallmark_ca::certificate_der_to_pem(&der).map_err(ApiError::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::{Duration, SystemTime};

    use hallmark_ca::IssuingKey as _;
    use hallmark_oidc::{CiExtensions, Identity, SubjectAltName};
    use hallmark_sigstore::EntrySigner;

    use super::*;

    struct Ca {
        service: CaService,
        issuing_key: Arc<hallmark_keys::MemoryKey<p256::NistP256>>,
        ct_key: hallmark_keys::MemoryKey<p256::NistP256>,
        issuing_cert: Certificate,
    }

    /// An in-memory CA (root, issuing CA) behind a `CaService` that accepts only its signers.
    fn ca(now: SystemTime) -> Ca {
        let ca = crate::tests::memory_ca(now, false);
        Ca {
            service: ca.service,
            issuing_key: ca.issuing_key,
            ct_key: hallmark_keys::generate_memory_p256().unwrap(),
            issuing_cert: ca.issuing_cert,
        }
    }

    /// A 10-minute leaf from `ca`, for a fresh key, issued at `now`.
    fn leaf(ca: &Ca, now: SystemTime) -> Vec<u8> {
        let client = hallmark_keys::generate_memory_p256().unwrap();
        let identity = Identity {
            issuer: "https://idp.example.com".into(),
            san: SubjectAltName::Email("alice@example.com".into()),
            challenge: "alice@example.com".into(),
            subject: "alice@example.com".into(),
            extensions: CiExtensions::default(),
            github_v1: None,
        };
        let prepared = ca
            .service
            .issuance
            .prepare(&client.public_key_der().unwrap(), &identity, now)
            .unwrap();
        let ct_spki = ca.ct_key.public_key_der().unwrap();
        let sct = hallmark_ca::ct::sign_sct(
            &ca.ct_key,
            hallmark_sigstore::ct::log_id(&ct_spki),
            0,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        let cert = prepared.finish(&sct, ca.issuing_key.as_ref()).unwrap();
        assert!(hallmark_ca::verify_issued_by("leaf", &cert, "ca", &ca.issuing_cert).is_ok());
        hallmark_ca::certificate_der(&cert).unwrap()
    }

    fn cert_signer(der: Vec<u8>) -> EntrySigner {
        EntrySigner::new(Some(der), Vec::new())
    }

    fn bare_signer() -> EntrySigner {
        let key = hallmark_keys::generate_memory_p256().unwrap();
        EntrySigner::new(None, key.public_key_der().unwrap())
    }

    #[test]
    fn every_signer_must_be_a_current_certificate_of_this_ca() {
        let now = SystemTime::now();
        let ours = ca(now);
        let theirs = ca(now);
        let good = cert_signer(leaf(&ours, now));
        assert!(
            ours.service
                .check_signers_at(std::slice::from_ref(&good), now)
                .is_ok()
        );
        assert!(
            ours.service
                .check_signers_at(&[good.clone(), good.clone()], now)
                .is_ok()
        );

        let refused = |signers: &[EntrySigner], at: SystemTime, want: &str| {
            let e = ours.service.check_signers_at(signers, at).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message().contains(want), "{}", e.message());
        };
        refused(
            &[good.clone(), bare_signer()],
            now,
            "verifier 2 of 2 is a bare public key; this log accepts only certificates issued by its CA",
        );
        refused(
            &[bare_signer()],
            now,
            "verifier 1 of 1 is a bare public key",
        );
        let foreign = cert_signer(leaf(&theirs, now));
        refused(
            &[good.clone(), good.clone(), foreign],
            now,
            "verifier 3 of 3: the signing certificate was not issued by this authority's CA",
        );
        // Our own certificate outside its 10 minutes, on either side.
        refused(
            std::slice::from_ref(&good),
            now + Duration::from_secs(11 * 60),
            "verifier 1 of 1: the signing certificate is not valid now",
        );
        refused(
            std::slice::from_ref(&good),
            now - Duration::from_secs(60),
            "is not valid now",
        );
        refused(&[], now, "names no verifier");

        // With accept_any_signer, anything goes.
        let mut any = ca(now);
        any.service.accept_any_signer = true;
        assert!(
            any.service
                .check_entry_signers(&[bare_signer(), cert_signer(leaf(&theirs, now))])
                .is_ok()
        );
    }
}
