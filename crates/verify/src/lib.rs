//! Offline verification of Sigstore bundles against a trusted root, for `hallmark verify`.
//!
//! Pure: no I/O, no async, no clock (the caller passes the current time). Parse a bundle with
//! [`Bundle::from_json`] and a trust root with [`TrustedRoot::from_json`], then call [`verify`]
//! with the artifact and a [`Policy`]. Every failure is a [`VerifyError`] naming the [`Check`]
//! that failed and why.
//!
//! # What is checked, in order
//!
//! 1. **Material vs. policy**: an identity policy needs a certificate, a key policy a managed
//!    key. A bundle's certificate chain must not carry a self-signed root (clients must take
//!    roots from the trusted root only). The leaf must be an end-entity certificate for code
//!    signing (keyUsage digitalSignature, extKeyUsage codeSigning, no unknown critical
//!    extension, no CT poison).
//! 2. **Signature**: a message signature over the artifact (or its SHA-256 digest), after
//!    comparing the bundle's digest hint; or a DSSE signature over `PAE(type, payload)`, and,
//!    when an artifact is given, an in-toto statement subject with the artifact's digest.
//! 3. **RFC 3161 timestamps**: each must verify against a trusted timestamp authority (CMS
//!    signature, ESS certificate hash, the authority's chain and window at `genTime`), over the
//!    hash of the signature.
//! 4. **Log entries**: for each entry from a log of the trusted root, the body must record the
//!    bundle's signature, key and artifact; the signed entry timestamp must verify (its
//!    integrated time then counts as a signing time and must not be in the future); the
//!    inclusion proof must lead to the root of a checkpoint signed by the log. At least one
//!    entry must come from a trusted log.
//! 5. **Signing time**: at least one verified time (SET or RFC 3161); Rekor v2 entries carry
//!    no integrated time, so they need a timestamp. The log key must be valid (trusted root
//!    `validFor`, ends inclusive) at its entry's signing times.
//! 6. **Certificate**: at every signing time the leaf is valid, chains to a certificate
//!    authority of the trusted root whose window contains that time, and every chain
//!    certificate is valid; its embedded SCTs verify against a trusted CT log.
//! 7. **Identity**: a SAN matches, the OIDC issuer (`1.3.6.1.4.1.57264.1.8`, else the legacy
//!    `.1.1`) matches, and each required CI extension has the required value.
//!
//! Specifications: [bundle](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto),
//! [trusted root](https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto),
//! [client verification spec](https://github.com/sigstore/architecture-docs/blob/main/client-spec.md),
//! RFC 6962 (SCTs, Merkle proofs), RFC 3161 / RFC 5652 (timestamps), C2SP signed-note.

mod asn1;
mod bundle;
mod cert;
mod crypto;
mod error;
mod json;
mod policy;
mod sct;
mod time;
mod tlog;
mod trust;
mod tsa;

use std::collections::BTreeMap;

use hallmark_sigstore::{HashAlgorithm, KeyType};
use serde::Deserialize;

pub use bundle::{
    Bundle, BundleVersion, Content, Envelope, InclusionProof, MAX_BUNDLE_BYTES, MAX_ENTRIES,
    Material, TlogEntry,
};
pub use crypto::PublicKey;
pub use error::{Check, Document, Result, VerifyError};
pub use hallmark_sigstore::HashAlgorithm as DigestAlgorithm;
pub use policy::{Artifact, CiExtension, IdentityPolicy, Matcher, Policy};
pub use trust::{TimeRange, TrustedRoot};

use crate::cert::Cert;
use crate::error::fail;
use crate::policy::fulcio_oid;
use crate::trust::{Authority, Memo};

/// Where a verified signing time came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeSource {
    /// A transparency log's signed entry timestamp (integrated time).
    TransparencyLog {
        /// The log's base URL.
        log: String,
    },
    /// An RFC 3161 timestamp authority.
    TimestampAuthority {
        /// The authority's URI.
        authority: String,
    },
}

/// A verified time at which the signature existed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningTime {
    /// Unix seconds.
    pub unix: i64,
    /// Who vouches for it.
    pub source: TimeSource,
}

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// A certificate identity.
    Certificate {
        /// The SAN that matched the policy.
        san: String,
        /// The OIDC issuer.
        issuer: String,
        /// The leaf certificate, DER.
        certificate_der: Vec<u8>,
        /// The URI of the certificate authority it chains to.
        authority: String,
    },
    /// A managed key.
    Key {
        /// The key, DER `SubjectPublicKeyInfo`.
        spki_der: Vec<u8>,
    },
}

/// A verified transparency log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedEntry {
    /// The log's base URL (from the trusted root).
    pub log: String,
    /// The log ID.
    pub log_id: Vec<u8>,
    /// The entry's log index.
    pub log_index: u64,
    /// Entry kind and version (`hashedrekord`, `0.0.1`).
    pub kind: String,
    /// Entry API version.
    pub version: String,
    /// The integrated time, when a signed entry timestamp vouched for it.
    pub integrated_time: Option<i64>,
    /// The tree size of the verified inclusion proof (absent only for v0.1 bundles without one).
    pub tree_size: Option<u64>,
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signed {
    /// An artifact, by digest.
    Artifact {
        /// Digest algorithm.
        algorithm: DigestAlgorithm,
        /// The digest.
        digest: Vec<u8>,
    },
    /// A DSSE payload (read its type before using it).
    Dsse {
        /// The payload type.
        payload_type: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

/// The result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Who signed.
    pub signer: Signer,
    /// What was signed.
    pub signed: Signed,
    /// The verified signing times (at least one).
    pub signing_times: Vec<SigningTime>,
    /// The verified log entries (at least one).
    pub entries: Vec<VerifiedEntry>,
}

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
            let leaf = Cert::parse(leaf).map_err(|e| fail(Check::Certificate, e))?;
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
            .map_err(|e| fail(Check::Timestamp, format!("timestamp #{i}: {e}")))?;
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

/// Rejects bundle chains that carry a self-signed root: trust anchors come from the trusted
/// root only, and a bundle offering its own is either confused or an attack.
fn check_bundle_chain(chain: &[Vec<u8>]) -> Result<()> {
    for (i, der) in chain.iter().enumerate() {
        let cert = Cert::parse(der).map_err(|e| {
            fail(
                Check::CertificateChain,
                format!("bundle chain certificate #{}: {e}", i + 1),
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

fn check_leaf_profile(leaf: &Cert) -> Result<()> {
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

/// The digest of the artifact with `alg`.
fn artifact_digest(artifact: &Artifact<'_>, alg: HashAlgorithm) -> Result<Vec<u8>> {
    match artifact {
        Artifact::Bytes(b) => Ok(crypto::hash(alg, b)),
        Artifact::Sha256(d) if alg == HashAlgorithm::Sha256 => Ok(d.to_vec()),
        Artifact::Sha256(_) => Err(fail(
            Check::ArtifactDigest,
            format!(
                "the bundle signs a {} digest; a SHA-256 digest cannot be checked against it (pass the artifact itself)",
                alg.name()
            ),
        )),
    }
}

type ContentResult = (Signed, Option<(HashAlgorithm, Vec<u8>)>);

fn verify_content(
    content: &Content,
    artifact: Option<&Artifact<'_>>,
    key: &PublicKey,
) -> Result<ContentResult> {
    match content {
        Content::MessageSignature { digest, signature } => {
            let artifact = artifact.ok_or_else(|| {
                fail(
                    Check::ArtifactDigest,
                    "a message-signature bundle needs the artifact or its digest",
                )
            })?;
            let alg = digest.as_ref().map_or(HashAlgorithm::Sha256, |(a, _)| *a);
            let actual = artifact_digest(artifact, alg)?;
            if let Some((_, hint)) = digest
                && *hint != actual
            {
                return Err(fail(
                    Check::ArtifactDigest,
                    format!(
                        "the bundle's message digest {}:{} is not the artifact's {}",
                        alg.name(),
                        hex::encode(hint),
                        hex::encode(&actual)
                    ),
                ));
            }
            let ok = match (key.key_type(), artifact) {
                (KeyType::Ed25519, Artifact::Bytes(b)) => key.verify_message(b, signature),
                _ => key.verify_prehashed(alg, &actual, signature),
            };
            if !ok {
                return Err(fail(
                    Check::ArtifactSignature,
                    format!(
                        "the signature does not verify over {}:{} with the {} key",
                        alg.name(),
                        hex::encode(&actual),
                        key.key_type().name()
                    ),
                ));
            }
            Ok((
                Signed::Artifact {
                    algorithm: alg,
                    digest: actual.clone(),
                },
                Some((alg, actual)),
            ))
        }
        Content::Dsse(env) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(fail(
                    Check::BundleFormat,
                    format!(
                        "the DSSE envelope has {} signatures; a bundle carries exactly one",
                        env.signatures.len()
                    ),
                ));
            };
            let pae = hallmark_sigstore::dsse_pae(&env.payload_type, &env.payload);
            if !key.verify_message(&pae, sig) {
                return Err(fail(
                    Check::DsseSignature,
                    format!(
                        "the envelope signature does not verify with the {} key",
                        key.key_type().name()
                    ),
                ));
            }
            if let Some(artifact) = artifact {
                check_subject(env, artifact)?;
            }
            Ok((
                Signed::Dsse {
                    payload_type: env.payload_type.clone(),
                    payload: env.payload.clone(),
                },
                None,
            ))
        }
    }
}

/// The in-toto statement must name the artifact as a subject.
fn check_subject(env: &Envelope, artifact: &Artifact<'_>) -> Result<()> {
    #[derive(Deserialize)]
    struct Statement {
        #[serde(rename = "_type")]
        type_: String,
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: BTreeMap<String, String>,
    }
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err(fail(
            Check::ArtifactDigest,
            format!(
                "the envelope holds {:?}, not an in-toto statement naming the artifact",
                env.payload_type
            ),
        ));
    }
    let statement: Statement = serde_json::from_slice(&env.payload).map_err(|e| {
        fail(
            Check::ArtifactDigest,
            format!("the in-toto statement does not parse: {e}"),
        )
    })?;
    if !statement.type_.starts_with("https://in-toto.io/Statement/") {
        return Err(fail(
            Check::ArtifactDigest,
            format!("unknown statement type {:?}", statement.type_),
        ));
    }
    for subject in &statement.subject {
        for (name, value) in &subject.digest {
            let Some(alg) = HashAlgorithm::from_name(name) else {
                continue;
            };
            let Ok(want) = hex::decode(value) else {
                continue;
            };
            let matches = match artifact {
                Artifact::Bytes(b) => crypto::hash(alg, b) == want,
                Artifact::Sha256(d) => alg == HashAlgorithm::Sha256 && d[..] == want[..],
            };
            if matches {
                return Ok(());
            }
        }
    }
    Err(fail(
        Check::ArtifactDigest,
        format!(
            "no subject of the in-toto statement has the artifact's digest ({} subjects)",
            statement.subject.len()
        ),
    ))
}

/// Chain, validity and SCTs at every signing time; returns the authority's URI.
fn verify_certificate(leaf: &Cert, root: &TrustedRoot, times: &[SigningTime]) -> Result<String> {
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
fn check_authority(ca: &Authority, times: &[i64], memo: &Memo) -> std::result::Result<(), String> {
    for t in times {
        if !ca.valid_for.contains(*t) {
            return Err(format!(
                "signing time {} is outside the authority's trusted window ({})",
                time::display(*t),
                ca.valid_for.display()
            ));
        }
    }
    for (i, cert) in ca.chain.iter().enumerate() {
        if !cert.is_ca() {
            return Err(format!("chain certificate #{i} is not a CA"));
        }
        if let Some(t) = times.iter().find(|t| !cert.valid_at(**t)) {
            return Err(format!(
                "chain certificate #{i} is not valid at {} ({} to {})",
                time::display(*t),
                time::display(cert.not_before),
                time::display(cert.not_after)
            ));
        }
        if let Some(parent) = ca.chain.get(i + 1)
            && !memo.issued_by(cert, parent)
        {
            return Err(format!(
                "chain certificate #{i} is not signed by #{}",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Checks the SAN, issuer and CI extensions; returns the matched SAN and the issuer.
fn check_identity(leaf: &Cert, policy: &IdentityPolicy) -> Result<(String, String)> {
    let sans = leaf.sans().map_err(|e| fail(Check::Certificate, e))?;
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
    let issuer_err = |e: String| fail(Check::Issuer, e);
    let v2 = leaf
        .fulcio_value(&fulcio_oid(8), false)
        .transpose()
        .map_err(issuer_err)?;
    let v1 = leaf
        .fulcio_value(&fulcio_oid(1), true)
        .transpose()
        .map_err(issuer_err)?;
    let issuer = match (v2, v1) {
        (Some(a), Some(b)) if a != b => {
            return Err(fail(
                Check::Issuer,
                format!("the certificate names two issuers: {a:?} (.1.8) and {b:?} (.1.1)"),
            ));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(fail(
                Check::Issuer,
                "the certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)",
            ));
        }
    };
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
            Some(Err(e)) => return Err(fail(Check::Extension, e)),
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
