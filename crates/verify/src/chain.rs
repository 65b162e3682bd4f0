//! The signing certificate: its profile (a code-signing leaf), the chain a bundle may carry,
//! and the chain to a certificate authority of the trusted root at every signing time.

use crate::cert::{self, Cert};
use crate::error::{Check, Result, fail, fail_with};
use crate::trust::{self, Authority, Memo, TrustedRoot};
use crate::verified::{SigningTime, TimeSource};
use crate::{sct, time};

/// Why a certificate authority of the trusted root does not vouch for the signing
/// certificate at the signing times.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthorityError {
    /// A signing time lies outside the authority's window.
    #[error(
        "signing time {} is outside the authority's trusted window ({window})",
        time::display(*.time)
    )]
    OutsideWindow {
        /// The signing time.
        time: i64,
        /// The window, as text.
        window: String,
    },
    /// A chain certificate is not a CA.
    #[error("chain certificate #{index} is not a CA")]
    NotCa {
        /// Position in the chain.
        index: usize,
    },
    /// A chain certificate is not valid at a signing time.
    #[error(
        "chain certificate #{index} is not valid at {} ({} to {})",
        time::display(*.time),
        time::display(*.not_before),
        time::display(*.not_after)
    )]
    NotValid {
        /// Position in the chain.
        index: usize,
        /// The signing time.
        time: i64,
        /// The certificate's notBefore.
        not_before: i64,
        /// The certificate's notAfter.
        not_after: i64,
    },
    /// A chain certificate is not signed by the next.
    #[error("chain certificate #{index} is not signed by #{}", .index + 1)]
    ChainBroken {
        /// Position in the chain.
        index: usize,
    },
}

/// Rejects bundle chains that carry a self-signed root: trust anchors come from the trusted
/// root only, and a bundle offering its own is either confused or an attack.
pub(crate) fn check_bundle_chain(chain: &[Vec<u8>]) -> Result<()> {
    for (i, der) in chain.iter().enumerate() {
        let cert = Cert::parse(der).map_err(|e| {
            fail_with(
                Check::CertificateChain,
                format!("bundle chain certificate #{}", i + 1),
                e,
            )
        })?;
        if cert.is_self_issued() {
            return Err(fail(
                Check::CertificateChain,
                format!(
                    "the bundle's chain carries a self-signed root certificate (#{}); roots must come from the trusted root",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_leaf_profile(leaf: &Cert) -> Result<()> {
    if leaf.is_ca() {
        return Err(fail(
            Check::Certificate,
            "the signing certificate is a CA certificate",
        ));
    }
    if leaf.extension(&cert::OID_CT_POISON).is_some() {
        return Err(fail(
            Check::Certificate,
            "the signing certificate is a precertificate (CT poison extension)",
        ));
    }
    if !leaf.key_usage().is_some_and(|ku| ku.digital_signature()) {
        return Err(fail(
            Check::Certificate,
            "the signing certificate's key usage lacks digitalSignature",
        ));
    }
    if !leaf.extended_key_usages().contains(&cert::EKU_CODE_SIGNING) {
        return Err(fail(
            Check::Certificate,
            "the signing certificate's extended key usage lacks codeSigning",
        ));
    }
    let unknown = leaf.unknown_critical_extensions();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        return Err(fail(
            Check::Certificate,
            format!("unknown critical extensions: {}", names.join(", ")),
        ));
    }
    Ok(())
}

/// Chain, validity and SCTs at every signing time; returns the authority's URI.
pub(crate) fn verify_certificate(
    leaf: &Cert,
    root: &TrustedRoot,
    times: &[SigningTime],
) -> Result<String> {
    for t in times {
        if !leaf.valid_at(t.unix) {
            return Err(fail(
                Check::CertificateValidity,
                format!(
                    "signing time {} ({}) is outside the certificate's validity ({} to {})",
                    time::display(t.unix),
                    source_name(&t.source),
                    time::display(leaf.not_before),
                    time::display(leaf.not_after)
                ),
            ));
        }
    }
    let unix: Vec<i64> = times.iter().map(|t| t.unix).collect();
    let mut reasons = Vec::new();
    let mut found = None;
    for ca in &root.cas {
        let Some(issuer) = ca.chain.first() else {
            continue;
        };
        if !root.memo.issued_by(leaf, issuer) {
            continue;
        }
        match check_authority(ca, &unix, &root.memo) {
            Ok(()) => {
                found = Some((ca, issuer));
                break;
            }
            Err(reason) => reasons.push(format!("{}: {reason}", ca.uri)),
        }
    }
    let Some((ca, issuer)) = found else {
        return Err(fail(
            Check::CertificateChain,
            if reasons.is_empty() {
                format!(
                    "the certificate (issuer {}) was not issued by a certificate authority of the trusted root",
                    leaf.parsed.tbs_certificate().issuer()
                )
            } else {
                reasons.join("; ")
            },
        ));
    };
    let key = trust::memo_key(b"embedded-scts", &[&leaf.der, &issuer.der]);
    root.memo
        .get_or_check(key, || sct::verify_embedded(leaf, issuer, root))?;
    Ok(ca.uri.clone())
}

fn source_name(s: &TimeSource) -> String {
    match s {
        TimeSource::TransparencyLog { log } => format!("integrated time of {log}"),
        TimeSource::TimestampAuthority { authority } => format!("timestamp by {authority}"),
    }
}

/// Checks a CA chain (issuer first) at the given times.
fn check_authority(
    ca: &Authority,
    times: &[i64],
    memo: &Memo,
) -> std::result::Result<(), AuthorityError> {
    for t in times {
        if !ca.valid_for.contains(*t) {
            return Err(AuthorityError::OutsideWindow {
                time: *t,
                window: ca.valid_for.display(),
            });
        }
    }
    for (index, cert) in ca.chain.iter().enumerate() {
        if !cert.is_ca() {
            return Err(AuthorityError::NotCa { index });
        }
        if let Some(t) = times.iter().find(|t| !cert.valid_at(**t)) {
            return Err(AuthorityError::NotValid {
                index,
                time: *t,
                not_before: cert.not_before,
                not_after: cert.not_after,
            });
        }
        if let Some(parent) = ca.chain.get(index + 1)
            && !memo.issued_by(cert, parent)
        {
            return Err(AuthorityError::ChainBroken { index });
        }
    }
    Ok(())
}
