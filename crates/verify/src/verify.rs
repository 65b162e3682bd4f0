//! The verification pipeline: the steps of the [crate documentation](crate), in order.

use crate::cert::Cert;
use crate::chain::{check_bundle_chain, check_leaf_profile, verify_certificate};
use crate::content::verify_content;
use crate::error::{Check, Result, fail, fail_with};
use crate::identity::check_identity;
use crate::verified::{Signer, SigningTime, TimeSource, Verified, VerifiedEntry};
use crate::{Artifact, Bundle, Material, Policy, TrustedRoot, time, tlog, tsa};

/// Verifies `bundle` offline: see the [crate documentation](crate) for every check.
///
/// `artifact` is required for message-signature bundles; for DSSE bundles it is optional and,
/// when given, must be a subject of the in-toto statement. `now_unix` is the current time in
/// Unix seconds (integrated times after it are rejected).
///
/// # Errors
///
/// [`VerifyError::Check`] naming the failed [`Check`].
pub fn verify(
    bundle: &Bundle,
    artifact: Option<&Artifact<'_>>,
    root: &TrustedRoot,
    policy: &Policy,
    now_unix: i64,
) -> Result<Verified> {
    // 1. Material against policy; the leaf's profile.
    let (leaf, identity) = match (&bundle.material, policy) {
        (Material::Certificate { leaf, chain }, Policy::Identity(identity)) => {
            let leaf = Cert::parse(leaf).map_err(|e| fail_with(Check::Certificate, "", e))?;
            check_bundle_chain(chain)?;
            check_leaf_profile(&leaf)?;
            (Some(leaf), Some(identity))
        }
        (Material::PublicKey { .. }, Policy::Key(_)) => (None, None),
        (Material::PublicKey { .. }, Policy::Identity(_)) => {
            return Err(fail(
                Check::Key,
                "the bundle is signed with a managed key, not a certificate: verify it with that public key",
            ));
        }
        (Material::Certificate { .. }, Policy::Key(_)) => {
            return Err(fail(
                Check::Key,
                "the bundle carries a certificate, but the policy expects a managed key",
            ));
        }
    };
    let key = match (&leaf, policy) {
        (Some(leaf), _) => &leaf.key,
        (None, Policy::Key(key)) => key,
        (None, Policy::Identity(_)) => {
            return Err(fail(Check::Key, "no verification key"));
        }
    };

    // 2. The signature over the content.
    let (signed, digest) = verify_content(&bundle.content, artifact, key)?;

    // 3. RFC 3161 timestamps.
    let mut times = Vec::new();
    for (i, resp) in bundle.rfc3161_timestamps.iter().enumerate() {
        let stamp = tsa::verify(resp, bundle.content.signature(), root)
            .map_err(|e| fail_with(Check::Timestamp, format!("timestamp #{i}"), e))?;
        if stamp.time > now_unix {
            return Err(fail(
                Check::Timestamp,
                format!(
                    "timestamp #{i} is in the future ({})",
                    time::display(stamp.time)
                ),
            ));
        }
        times.push(SigningTime {
            unix: stamp.time,
            source: TimeSource::TimestampAuthority {
                authority: stamp.authority,
            },
        });
    }
    let tsa_times: Vec<i64> = times.iter().map(|t| t.unix).collect();

    // 4. Log entries.
    let expected = tlog::Expected {
        signer: tlog::Signer {
            certificate: match &bundle.material {
                Material::Certificate { leaf, .. } => Some(leaf),
                Material::PublicKey { .. } => None,
            },
            key,
        },
        content: &bundle.content,
        digest: digest.as_ref().map(|(a, d)| (*a, d.as_slice())),
    };
    let mut entries = Vec::new();
    let mut unknown = Vec::new();
    for entry in &bundle.tlog_entries {
        let Some(log) = root.tlogs.iter().find(|l| l.log_id == entry.log_id) else {
            unknown.push(hex::encode(&entry.log_id));
            continue;
        };
        tlog::check_body(entry, expected)?;
        let integrated_time = match &entry.signed_entry_timestamp {
            Some(set) => Some(tlog::verify_set(entry, log, set)?),
            None => None,
        };
        if let Some(t) = integrated_time {
            if t > now_unix {
                return Err(fail(
                    Check::IntegratedTime,
                    format!(
                        "integrated time {} is in the future (now {})",
                        time::display(t),
                        time::display(now_unix)
                    ),
                ));
            }
            times.push(SigningTime {
                unix: t,
                source: TimeSource::TransparencyLog {
                    log: log.base_url.clone(),
                },
            });
        }
        let tree_size = tlog::verify_inclusion(entry, log)?;
        // The log key must have been valid when the entry was made.
        let entry_times = integrated_time.map_or_else(|| tsa_times.clone(), |t| vec![t]);
        for t in &entry_times {
            if !log.valid_for.contains(*t) {
                return Err(fail(
                    Check::LogKey,
                    format!(
                        "the key of log {} is trusted {}, not at {}",
                        log.base_url,
                        log.valid_for.display(),
                        time::display(*t)
                    ),
                ));
            }
        }
        entries.push(VerifiedEntry {
            log: log.base_url.clone(),
            log_id: entry.log_id.clone(),
            log_index: entry.log_index,
            kind: entry.kind.clone(),
            version: entry.version.clone(),
            integrated_time,
            tree_size,
        });
    }
    if entries.is_empty() {
        return Err(fail(
            Check::LogKey,
            format!(
                "no log entry from a transparency log of the trusted root (log IDs: {})",
                unknown.join(", ")
            ),
        ));
    }

    // 5. A verified signing time.
    if times.is_empty() {
        return Err(fail(
            Check::SigningTime,
            "no verified signing time: no signed entry timestamp and no RFC 3161 timestamp",
        ));
    }

    // 6-7. The certificate at those times, and the identity.
    let signer = match (&leaf, identity) {
        (Some(leaf), Some(identity)) => {
            let authority = verify_certificate(leaf, root, &times)?;
            let (san, issuer) = check_identity(leaf, identity)?;
            Signer::Certificate {
                san,
                issuer,
                certificate_der: leaf.der.clone(),
                authority,
            }
        }
        _ => Signer::Key {
            spki_der: key.spki_der().to_vec(),
        },
    };
    Ok(Verified {
        signer,
        signed,
        signing_times: times,
        entries,
    })
}
