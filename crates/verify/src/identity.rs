//! The identity in the signing certificate: a SAN, the OIDC issuer and the CI extensions,
//! against an [`IdentityPolicy`].

use der::Decode as _;
use x509_cert::TbsCertificate;
use x509_cert::ext::Extension;

use crate::IdentityPolicy;
use crate::cert::{Cert, fulcio_value_of, sans_of};
use crate::error::{Check, Document, Result, VerifyError, fail, fail_with};
use crate::policy::{CiExtension, fulcio_oid};

/// Checks the SAN, issuer and CI extensions; returns the matched SAN and the issuer.
pub(crate) fn check_identity(leaf: &Cert, policy: &IdentityPolicy) -> Result<(String, String)> {
    let sans = leaf
        .sans()
        .map_err(|e| fail_with(Check::Certificate, "", e))?;
    let san = sans
        .iter()
        .find(|s| policy.san.matches(s))
        .cloned()
        .ok_or_else(|| {
            fail(
                Check::Identity,
                format!(
                    "no subject alternative name matches {} (the certificate has: {})",
                    policy.san,
                    sans.iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let issuer = issuer_of(leaf)?;
    if !policy.issuer.matches(&issuer) {
        return Err(fail(
            Check::Issuer,
            format!("issuer {issuer:?} does not match {}", policy.issuer),
        ));
    }
    for (ext, want) in &policy.extensions {
        match leaf.fulcio_value(&ext.oid(), ext.is_raw()) {
            None => {
                return Err(fail(
                    Check::Extension,
                    format!("extension {ext} is absent; the policy wants {want:?}"),
                ));
            }
            Some(Err(e)) => return Err(fail_with(Check::Extension, "", e)),
            Some(Ok(v)) if v != *want => {
                return Err(fail(
                    Check::Extension,
                    format!("extension {ext} is {v:?}; the policy wants {want:?}"),
                ));
            }
            Some(Ok(_)) => {}
        }
    }
    Ok((san, issuer))
}

/// The OIDC issuer a certificate names: extension `1.3.6.1.4.1.57264.1.8`, else the legacy
/// `.1.1`; both present must agree.
pub(crate) fn issuer_of(leaf: &Cert) -> Result<String> {
    issuer_in(leaf.extensions())
}

/// [`issuer_of`] over a certificate's (or a TBS certificate's) extensions.
fn issuer_in(extensions: &[Extension]) -> Result<String> {
    let issuer_err = |e| fail_with(Check::Issuer, "", e);
    let v2 = fulcio_value_of(extensions, &fulcio_oid(8), false)
        .transpose()
        .map_err(issuer_err)?;
    let v1 = fulcio_value_of(extensions, &fulcio_oid(1), true)
        .transpose()
        .map_err(issuer_err)?;
    match (v2, v1) {
        (Some(a), Some(b)) if a != b => Err(fail(
            Check::Issuer,
            format!("the certificate names two issuers: {a:?} (.1.8) and {b:?} (.1.1)"),
        )),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(fail(
            Check::Issuer,
            "the certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)",
        )),
    }
}

/// What a Fulcio-style certificate says about its subject, read without checking anything else
/// (no chain, no validity, no signature): what an auditor watching a log for an identity reads
/// from every certificate the log holds, including precertificates in the CT log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateIdentity {
    /// The subject alternative names (email, URI, DNS, Fulcio username).
    pub sans: Vec<String>,
    /// The OIDC issuer (`.1.8`, else `.1.1`), if the certificate names one.
    pub issuer: Option<String>,
    /// The Fulcio CI extensions present, in [`CiExtension::ALL`] order.
    pub extensions: Vec<(CiExtension, String)>,
    /// The serial number, lowercase hex.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl CertificateIdentity {
    /// Reads a DER certificate.
    ///
    /// # Errors
    /// [`VerifyError::Parse`] when `der` is not a certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| VerifyError::parse(Document::Certificate, "certificate", e))?;
        Self::from_tbs(cert.tbs_certificate())
    }

    /// Reads a DER `TBSCertificate` (an RFC 6962 precertificate entry's, for one).
    ///
    /// # Errors
    /// [`VerifyError::Parse`] when `der` is not a TBS certificate.
    pub fn from_tbs_der(der: &[u8]) -> Result<Self> {
        let tbs = TbsCertificate::from_der(der)
            .map_err(|e| VerifyError::parse(Document::Certificate, "tbsCertificate", e))?;
        Self::from_tbs(&tbs)
    }

    fn from_tbs(tbs: &TbsCertificate) -> Result<Self> {
        let extensions = tbs.extensions().map_or(&[][..], |e| e.as_slice());
        let sans = sans_of(extensions)
            .map_err(|e| VerifyError::parse(Document::Certificate, "subjectAltName", e))?;
        let issuer = match issuer_in(extensions) {
            Ok(issuer) => Some(issuer),
            // No issuer extension at all is a certificate this auditor reports without one; two
            // that disagree or one that does not decode is an error.
            Err(_)
                if fulcio_value_of(extensions, &fulcio_oid(8), false).is_none()
                    && fulcio_value_of(extensions, &fulcio_oid(1), true).is_none() =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let mut found = Vec::new();
        for ext in CiExtension::ALL {
            match fulcio_value_of(extensions, &ext.oid(), ext.is_raw()) {
                Some(Ok(v)) => found.push((ext, v)),
                Some(Err(e)) => {
                    return Err(VerifyError::parse(Document::Certificate, "extension", e));
                }
                None => {}
            }
        }
        let validity = tbs.validity();
        Ok(CertificateIdentity {
            sans,
            issuer,
            extensions: found,
            serial: hex::encode(tbs.serial_number().as_bytes()),
            not_before: crate::time::x509_time(&validity.not_before),
            not_after: crate::time::x509_time(&validity.not_after),
        })
    }

    /// The value of CI extension `ext`, if present.
    #[must_use]
    pub fn extension(&self, ext: CiExtension) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, v)| v.as_str())
    }
}

impl IdentityPolicy {
    /// Whether `identity` satisfies this policy: one SAN matches, the issuer matches, and every
    /// required extension has exactly the required value. The same rule as verification, on a
    /// certificate that was only read.
    #[must_use]
    pub fn matches(&self, identity: &CertificateIdentity) -> bool {
        identity.sans.iter().any(|s| self.san.matches(s))
            && identity
                .issuer
                .as_deref()
                .is_some_and(|i| self.issuer.matches(i))
            && self
                .extensions
                .iter()
                .all(|(ext, want)| identity.extension(*ext) == Some(want.as_str()))
    }
}
