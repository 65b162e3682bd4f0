//! Transparency log entries: the body against the bundle, the signed entry timestamp, the
//! inclusion proof and its signed checkpoint.
//!
//! Entry bodies this crate matches against the bundle:
//! - Rekor v1 `hashedrekord` 0.0.1, `dsse` 0.0.1 and `intoto` 0.0.2
//!   ([types](https://github.com/sigstore/rekor/tree/main/pkg/types)), parsed by the spec layer
//!   ([`hallmark_sigstore::body::CanonicalBody`], the types the log writes them with);
//! - Rekor v2 `hashedrekord` 0.0.2 and the deprecated `dsse` 0.0.2
//!   ([rekor-tiles protos](https://github.com/sigstore/rekor-tiles/tree/main/api/proto/rekor/v2)),
//!   parsed by the spec layer ([`hallmark_sigstore::body::v2::CanonicalBody`]), including DSSE envelopes logged as `hashedrekord` over `Hash(PAE(type, payload))`.
//!
//! Checkpoints are signed notes ([C2SP signed-note](https://c2sp.org/signed-note)). The log's
//! signature line is the one whose key ID is the log's (the trusted root's `checkpointKeyId`,
//! else the first four bytes of its log ID) and whose key name matches the origin (C2SP: the
//! origin itself; Rekor v1: the origin is `<name> - <tree id>`); other lines (witness
//! cosignatures, unknown keys) are ignored. An Ed25519 line's key ID must also be the C2SP hash
//! of its name and the log key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Decode;
use hallmark_sigstore::body::{
    AlgValue, Body, CanonicalBody, DsseSpec, HashedRekordSpec, IntotoSpec, b64_candidates, v2,
};
use hallmark_sigstore::common::HashOutput;
use hallmark_sigstore::{HashAlgorithm, KeyType};
use hallmark_tlog::note::{Checkpoint, Note};
use serde::de::DeserializeOwned;
use x509_cert::Certificate;

use crate::bundle::decode;
use crate::bundle::{Content, Envelope, TlogEntry, hash_algorithm};
use crate::crypto::{PublicKey, hash, sha256};
use crate::error::{Check, Document, Result, fail};
use crate::trust::LogInstance;

/// The key (and certificate, if any) that made the bundle's signature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signer<'a> {
    pub(crate) certificate: Option<&'a [u8]>,
    pub(crate) key: &'a PublicKey,
}

/// What the entry body must agree with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) signer: Signer<'a>,
    pub(crate) content: &'a Content,
    /// The artifact digest, for message signatures.
    pub(crate) digest: Option<(HashAlgorithm, &'a [u8])>,
}

fn body_err(reason: impl Into<String>) -> crate::error::VerifyError {
    fail(Check::LogEntry, reason)
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| body_err(format!("undecodable entry body: {e}")))
}

fn b64(value: &str, field: &str) -> Result<Vec<u8>> {
    crate::json::decode_bytes(Document::Bundle, field, value)
        .map_err(|e| body_err(format!("entry body: {e}")))
}

/// Whether base64-of-PEM `verifier` (a Rekor v1 field) is the signer's certificate or key.
fn pem_matches(verifier_b64: &str, signer: Signer<'_>) -> Result<bool> {
    let pem = b64(verifier_b64, "verifier")?;
    // A chain may follow the signing certificate: the first block signs.
    let blocks = hallmark_sigstore::pem::decode_all(&pem)
        .map_err(|e| body_err(format!("the entry's verifier: {e}")))?;
    let Some(hallmark_sigstore::pem::PemBlock { label, der }) = blocks.first() else {
        return Ok(false);
    };
    Ok(match (signer.certificate, label.as_str()) {
        (Some(leaf), "CERTIFICATE") => {
            der == leaf
                || matches!(
                    (Certificate::from_der(der), Certificate::from_der(leaf)),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        (None, "PUBLIC KEY") => der.as_slice() == signer.key.spki_der(),
        _ => false,
    })
}

/// Whether a Rekor v2 verifier is the signer's certificate or key, with consistent details.
fn v2_verifier_matches(v: &v2::Verifier, signer: Signer<'_>) -> Result<bool> {
    let same = match (signer.certificate, &v.x509_certificate, &v.public_key) {
        (Some(leaf), Some(cert), None) => match &cert.raw_bytes {
            Some(raw) => decode(raw, Document::Bundle, "x509Certificate")? == leaf,
            None => false,
        },
        (None, None, Some(key)) => {
            decode(&key.raw_bytes, Document::Bundle, "publicKey")? == signer.key.spki_der()
        }
        _ => false,
    };
    let details_ok = match signer.key.key_type() {
        KeyType::EcdsaP256 => v.key_details == "PKIX_ECDSA_P256_SHA_256",
        KeyType::EcdsaP384 => matches!(
            v.key_details.as_str(),
            "PKIX_ECDSA_P384_SHA_384" | "PKIX_ECDSA_P384_SHA_256"
        ),
        KeyType::Ed25519 => matches!(v.key_details.as_str(), "PKIX_ED25519" | "PKIX_ED25519_PH"),
        _ => v.key_details.starts_with("PKIX_RSA_"),
    };
    Ok(same && details_ok)
}

fn rekor_v1_hash(a: &AlgValue<'_>) -> Option<(HashAlgorithm, Vec<u8>)> {
    a.digest("digest").ok()
}

fn hash_output(h: &HashOutput) -> Result<(HashAlgorithm, Vec<u8>)> {
    let name = h.algorithm.as_deref().unwrap_or_default();
    let alg = hash_algorithm(name)
        .ok_or_else(|| body_err(format!("unsupported hash algorithm {name:?}")))?;
    let digest = h
        .digest
        .as_ref()
        .ok_or_else(|| body_err("the entry records no digest"))?;
    Ok((alg, decode(digest, Document::Bundle, "digest")?))
}

fn need_dsse(content: &Content) -> Result<&Envelope> {
    match content {
        Content::Dsse(env) => Ok(env),
        Content::MessageSignature { .. } => Err(body_err(
            "the entry records a DSSE envelope but the bundle holds a message signature",
        )),
    }
}

fn one_signature(env: &Envelope) -> Result<&[u8]> {
    match env.signatures.as_slice() {
        [sig] => Ok(sig),
        _ => Err(body_err(format!(
            "the envelope has {} signatures; this entry type records exactly one",
            env.signatures.len()
        ))),
    }
}

/// Checks that the entry body records this bundle's signature, key and content.
pub(crate) fn check_body(entry: &TlogEntry, expected: Expected<'_>) -> Result<()> {
    let body = entry.canonicalized_body.as_slice();
    let head: Body<'static, serde::de::IgnoredAny> = parse_body(body)?;
    if head.kind != entry.kind || head.api_version != entry.version {
        return Err(body_err(format!(
            "the body is {} {} but the entry says {} {}",
            head.kind, head.api_version, entry.kind, entry.version
        )));
    }
    match (entry.kind.as_str(), entry.version.as_str()) {
        ("hashedrekord", "0.0.1") | ("dsse", "0.0.1") | ("intoto", "0.0.2") => {
            match CanonicalBody::parse(body)
                .map_err(|e| body_err(format!("undecodable entry body: {e}")))?
            {
                CanonicalBody::HashedRekord(spec) => hashedrekord_v001(&spec, expected),
                CanonicalBody::Dsse(spec) => dsse_v001(&spec, expected),
                CanonicalBody::Intoto(spec) => intoto_v002(&spec, expected),
                _ => Err(body_err("unsupported entry type")),
            }
        }
        ("hashedrekord" | "dsse", "0.0.2") => {
            match v2::CanonicalBody::parse(body).map_err(|e| match e {
                hallmark_sigstore::EntryError::Malformed { field: "spec", .. } => {
                    body_err("the body's spec does not match its kind")
                }
                e => body_err(format!("undecodable entry body: {e}")),
            })? {
                v2::CanonicalBody::HashedRekord(h) => hashedrekord_v002(&h, expected),
                v2::CanonicalBody::Dsse(d) => dsse_v002(&d, expected),
                _ => Err(body_err("unsupported entry type")),
            }
        }
        (kind, version) => Err(body_err(format!(
            "unsupported entry type {kind} {version} (supported: hashedrekord 0.0.1/0.0.2, dsse 0.0.1/0.0.2, intoto 0.0.2)"
        ))),
    }
}

fn hashedrekord_v001(spec: &HashedRekordSpec<'_>, e: Expected<'_>) -> Result<()> {
    let Content::MessageSignature { signature, .. } = e.content else {
        return Err(body_err(
            "the entry is a hashedrekord 0.0.1 but the bundle holds a DSSE envelope",
        ));
    };
    if b64(&spec.signature.content, "signature.content")? != *signature {
        return Err(body_err("the entry's signature is not the bundle's"));
    }
    if !pem_matches(&spec.signature.public_key.content, e.signer)? {
        return Err(body_err(
            "the entry's verifier is not the bundle's certificate or key",
        ));
    }
    let recorded = rekor_v1_hash(&spec.data.hash)
        .ok_or_else(|| body_err("the entry's data hash is malformed"))?;
    match e.digest {
        Some((alg, d)) if alg == recorded.0 && d == recorded.1 => Ok(()),
        Some(_) => Err(body_err(format!(
            "the entry records digest {}:{}, not the artifact's",
            recorded.0.name(),
            hex::encode(&recorded.1)
        ))),
        None => Err(body_err("no artifact digest to compare with the entry")),
    }
}

fn dsse_v001(spec: &DsseSpec<'_>, e: Expected<'_>) -> Result<()> {
    let env = need_dsse(e.content)?;
    let recorded = rekor_v1_hash(&spec.payload_hash)
        .ok_or_else(|| body_err("the entry's payload hash is malformed"))?;
    if recorded.0 != HashAlgorithm::Sha256 || recorded.1 != sha256(&env.payload) {
        return Err(body_err(
            "the entry's payload hash is not the envelope payload's",
        ));
    }
    if spec.signatures.len() != env.signatures.len() {
        return Err(body_err(format!(
            "the entry records {} signatures, the envelope has {}",
            spec.signatures.len(),
            env.signatures.len()
        )));
    }
    for s in &spec.signatures {
        let sig = b64(&s.signature, "signatures[].signature")?;
        if !env.signatures.contains(&sig) {
            return Err(body_err("the entry's signature is not the envelope's"));
        }
        if !pem_matches(&s.verifier, e.signer)? {
            return Err(body_err(
                "the entry's verifier is not the bundle's certificate or key",
            ));
        }
    }
    Ok(())
}

/// Rekor's intoto 0.0.2 stores base64 of the DSSE base64 text; accept single encoding too.
fn double_b64_matches(field: &'static str, recorded: &str, want: &[u8]) -> Result<bool> {
    let candidates =
        b64_candidates(field, recorded).map_err(|e| body_err(format!("entry body: {e}")))?;
    Ok(candidates.iter().any(|c| c == want))
}

fn intoto_v002(spec: &IntotoSpec<'_>, e: Expected<'_>) -> Result<()> {
    let env = need_dsse(e.content)?;
    let c = &spec.content;
    let recorded = rekor_v1_hash(&c.payload_hash)
        .ok_or_else(|| body_err("the entry's payload hash is malformed"))?;
    if recorded.0 != HashAlgorithm::Sha256 || recorded.1 != sha256(&env.payload) {
        return Err(body_err(
            "the entry's payload hash is not the envelope payload's",
        ));
    }
    if c.envelope.payload_type != env.payload_type {
        return Err(body_err("the entry's payload type is not the envelope's"));
    }
    if let Some(p) = &c.envelope.payload
        && !double_b64_matches("envelope.payload", p, &env.payload)?
    {
        return Err(body_err("the entry's payload is not the envelope's"));
    }
    if c.envelope.signatures.len() != env.signatures.len() {
        return Err(body_err(format!(
            "the entry records {} signatures, the envelope has {}",
            c.envelope.signatures.len(),
            env.signatures.len()
        )));
    }
    for s in &c.envelope.signatures {
        let mut found = false;
        for sig in &env.signatures {
            found |= double_b64_matches("envelope.signatures[].sig", &s.sig, sig)?;
        }
        if !found {
            return Err(body_err("the entry's signature is not the envelope's"));
        }
        if !pem_matches(&s.public_key, e.signer)? {
            return Err(body_err(
                "the entry's verifier is not the bundle's certificate or key",
            ));
        }
    }
    Ok(())
}

fn hashedrekord_v002(h: &v2::HashedRekordLogEntryV002, e: Expected<'_>) -> Result<()> {
    let (alg, recorded) = hash_output(&h.data)?;
    let content = decode(&h.signature.content, Document::Bundle, "signature.content")?;
    let (want_sig, want_digest) = match e.content {
        Content::MessageSignature { signature, .. } => {
            let digest = match e.digest {
                Some((a, d)) if a == alg => d.to_vec(),
                Some((a, _)) => {
                    return Err(body_err(format!(
                        "the entry records a {} digest, the artifact's is {}",
                        alg.name(),
                        a.name()
                    )));
                }
                None => return Err(body_err("no artifact digest to compare with the entry")),
            };
            (signature.as_slice(), digest)
        }
        // Rekor v2 logs a DSSE envelope as a hashedrekord over Hash(PAE(type, payload)).
        Content::Dsse(env) => (
            one_signature(env)?,
            hash(
                alg,
                &hallmark_sigstore::dsse_pae(&env.payload_type, &env.payload),
            ),
        ),
    };
    if recorded != want_digest {
        return Err(body_err(format!(
            "the entry records digest {}:{}, not the bundle's",
            alg.name(),
            hex::encode(&recorded)
        )));
    }
    if content != want_sig {
        return Err(body_err("the entry's signature is not the bundle's"));
    }
    if !v2_verifier_matches(&h.signature.verifier, e.signer)? {
        return Err(body_err(
            "the entry's verifier is not the bundle's certificate or key",
        ));
    }
    Ok(())
}

fn dsse_v002(d: &v2::DsseLogEntryV002, e: Expected<'_>) -> Result<()> {
    let env = need_dsse(e.content)?;
    let (alg, recorded) = hash_output(&d.payload_hash)?;
    if recorded != hash(alg, &env.payload) {
        return Err(body_err(
            "the entry's payload hash is not the envelope payload's",
        ));
    }
    if d.signatures.len() != env.signatures.len() {
        return Err(body_err("the entry's signatures are not the envelope's"));
    }
    for s in &d.signatures {
        let sig = decode(&s.content, Document::Bundle, "signatures[].content")?;
        if !env.signatures.contains(&sig) {
            return Err(body_err("the entry's signature is not the envelope's"));
        }
        if !v2_verifier_matches(&s.verifier, e.signer)? {
            return Err(body_err(
                "the entry's verifier is not the bundle's certificate or key",
            ));
        }
    }
    Ok(())
}

/// Verifies the signed entry timestamp (Rekor v1 inclusion promise).
pub(crate) fn verify_set(entry: &TlogEntry, log: &LogInstance, set: &[u8]) -> Result<i64> {
    let t = entry.integrated_time.ok_or_else(|| {
        fail(
            Check::SignedEntryTimestamp,
            "the entry has an inclusion promise but no integrated time",
        )
    })?;
    let payload = hallmark_sigstore::set_payload(
        &STANDARD.encode(&entry.canonicalized_body),
        t,
        &hex::encode(&entry.log_id),
        entry.log_index,
    );
    if !log.key.verify_message(&payload, set) {
        return Err(fail(
            Check::SignedEntryTimestamp,
            format!(
                "signature does not verify with the key of log {} ({})",
                hex::encode(&entry.log_id),
                log.base_url
            ),
        ));
    }
    Ok(t)
}

/// Verifies the inclusion proof and its checkpoint; returns the tree size.
pub(crate) fn verify_inclusion(entry: &TlogEntry, log: &LogInstance) -> Result<Option<u64>> {
    let Some(proof) = &entry.inclusion_proof else {
        return Ok(None);
    };
    let leaf = hallmark_tlog::leaf_hash(&entry.canonicalized_body);
    let computed = hallmark_tlog::proof::root_from_inclusion_proof(
        proof.log_index,
        proof.tree_size,
        &leaf.0,
        &proof.hashes,
    )
    .map_err(|e| fail(Check::InclusionProof, e.to_string()))?;
    if computed.0.as_slice() != proof.root_hash.as_slice() {
        return Err(fail(
            Check::InclusionProof,
            format!(
                "computed root {} does not match the proof's root {}",
                computed.to_hex(),
                hex::encode(&proof.root_hash)
            ),
        ));
    }
    let Some(checkpoint) = &proof.checkpoint else {
        // v0.1: a proof without a checkpoint commits to nothing; the SET vouches instead.
        return Ok(None);
    };
    let checkpoint = verify_checkpoint(checkpoint, log)?;
    if checkpoint.size != proof.tree_size
        || checkpoint.root.0.as_slice() != proof.root_hash.as_slice()
    {
        return Err(fail(
            Check::Checkpoint,
            format!(
                "checkpoint commits to size {} root {}, the proof to size {} root {}",
                checkpoint.size,
                checkpoint.root.to_hex(),
                proof.tree_size,
                hex::encode(&proof.root_hash)
            ),
        ));
    }
    Ok(Some(proof.tree_size))
}

/// C2SP key ID of an Ed25519 key signing as `name`.
fn ed25519_key_id(name: &str, spki: &[u8]) -> Option<[u8; 4]> {
    let raw = spki.get(spki.len().checked_sub(32)?..)?;
    let mut data = Vec::with_capacity(name.len() + 34);
    data.extend_from_slice(name.as_bytes());
    data.extend_from_slice(b"\n\x01");
    data.extend_from_slice(raw);
    let h = sha256(&data);
    Some([h[0], h[1], h[2], h[3]])
}

/// Verifies a checkpoint note's signature by `log` and parses it.
fn verify_checkpoint(text: &str, log: &LogInstance) -> Result<Checkpoint> {
    let note = Note::parse(text).map_err(|e| fail(Check::Checkpoint, e.to_string()))?;
    let checkpoint =
        Checkpoint::parse(&note.text).map_err(|e| fail(Check::Checkpoint, e.to_string()))?;
    let id = log.checkpoint_key_id.as_deref().unwrap_or(&log.log_id);
    let hint = id.get(..4).unwrap_or_default();
    let mut verified = false;
    for sig in &note.signatures {
        if sig.key_id.as_slice() != hint
            || !hallmark_tlog::note::name_fits_origin(&sig.name, &checkpoint.origin)
        {
            continue;
        }
        if log.key.key_type() == KeyType::Ed25519
            && ed25519_key_id(&sig.name, log.key.spki_der()) != Some(sig.key_id)
        {
            continue;
        }
        if !log.key.verify_message(note.text.as_bytes(), &sig.signature) {
            return Err(fail(
                Check::Checkpoint,
                format!(
                    "the signature by {:?} (key {}) does not verify",
                    sig.name,
                    hex::encode(sig.key_id)
                ),
            ));
        }
        verified = true;
    }
    if !verified {
        return Err(fail(
            Check::Checkpoint,
            format!(
                "no signature by log {} (key ID {}) for origin {:?}",
                log.base_url,
                hex::encode(hint),
                checkpoint.origin
            ),
        ));
    }
    Ok(checkpoint)
}
