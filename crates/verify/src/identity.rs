//! The identity in the signing certificate: a SAN, the OIDC issuer and the CI extensions,
//! against an [`IdentityPolicy`].

use crate::IdentityPolicy;
use crate::cert::Cert;
use crate::error::{Check, Result, fail, fail_with};
use crate::policy::fulcio_oid;

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
    let issuer_err = |e| fail_with(Check::Issuer, "", e);
    let v2 = leaf
        .fulcio_value(&fulcio_oid(8), false)
        .transpose()
        .map_err(issuer_err)?;
    let v1 = leaf
        .fulcio_value(&fulcio_oid(1), true)
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
