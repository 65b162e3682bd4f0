//! Rekor v1 proposed entries: parsing (`POST /api/v1/log/entries` bodies), verification and the
//! canonical bodies Rekor stores.

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::body::{
    AlgValue, Body, Content, DsseSignature, DsseSpec, HashedRekordData, HashedRekordSignature,
    HashedRekordSpec, IntotoContent, IntotoEnvelope, IntotoSignature as IntotoSig, IntotoSpec,
    b64_candidates,
};
use crate::error::{EntryError, Result};
use crate::key::{San, Verifier};
use crate::{HashAlgorithm, decode_b64};

/// Largest proposed-entry body accepted, in bytes.
pub const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;
/// Largest base64 signature accepted, in characters.
pub const MAX_SIGNATURE_B64: usize = 8 * 1024;
/// Most signatures (DSSE envelope) or verifiers (DSSE proposed content) accepted.
pub const MAX_SIGNATURES: usize = 16;
/// Most search-index keys one entry may add (its digest, and per verifier its key and SANs).
/// More is refused: an entry must not flood the index under many identities.
pub const MAX_INDEX_KEYS: usize = 16;

/// The Rekor entry types Hallmark accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// `hashedrekord` v0.0.1: a signature over an artifact digest.
    HashedRekord,
    /// `dsse` v0.0.1: a DSSE envelope and its verifiers.
    Dsse,
    /// `intoto` v0.0.2: a DSSE envelope with a public key per signature (`@sigstore/cli attest`).
    Intoto,
}

impl EntryKind {
    /// The `kind` string on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::HashedRekord => "hashedrekord",
            EntryKind::Dsse => "dsse",
            EntryKind::Intoto => "intoto",
        }
    }

    /// The kind a document's `kind` and `apiVersion` fields name.
    ///
    /// # Errors
    ///
    /// [`EntryError::UnsupportedKind`] for another kind, [`EntryError::UnsupportedVersion`] for
    /// another version than [`EntryKind::api_version`].
    pub fn from_wire(kind: &str, api_version: &str) -> Result<EntryKind> {
        let kind = match kind {
            "hashedrekord" => EntryKind::HashedRekord,
            "dsse" => EntryKind::Dsse,
            "intoto" => EntryKind::Intoto,
            other => {
                return Err(EntryError::UnsupportedKind {
                    kind: other.chars().take(64).collect(),
                });
            }
        };
        if api_version != kind.api_version() {
            return Err(EntryError::UnsupportedVersion {
                kind: kind.as_str(),
                version: api_version.chars().take(64).collect(),
                expected: kind.api_version(),
            });
        }
        Ok(kind)
    }

    /// The one `apiVersion` Hallmark implements for this kind.
    #[must_use]
    pub fn api_version(self) -> &'static str {
        match self {
            EntryKind::HashedRekord | EntryKind::Dsse => "0.0.1",
            EntryKind::Intoto => "0.0.2",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, not yet verified, proposed entry.
#[derive(Clone, Debug)]
pub struct ProposedEntry {
    inner: Proposed,
}

#[derive(Clone, Debug)]
enum Proposed {
    HashedRekord(HashedRekord),
    Dsse(Dsse),
    Intoto(Intoto),
}

#[derive(Clone, Debug)]
struct Intoto {
    payload_type: String,
    /// Decoded payload candidates (see [`crate::body::b64_candidates`]).
    payloads: Vec<Vec<u8>>,
    /// Per signature: keyid, `sig` as received, candidate signature bytes, verifier.
    signatures: Vec<IntotoSignature>,
    envelope_hash_hex: String,
}

#[derive(Clone, Debug)]
struct IntotoSignature {
    keyid: Option<String>,
    sig_b64: String,
    /// Decoded signature candidates: the double-encoded reading first, then the single one.
    candidates: Vec<Vec<u8>>,
    verifier: Verifier,
}

#[derive(Clone, Debug)]
struct HashedRekord {
    signature_b64: String,
    signature: Vec<u8>,
    verifier: Verifier,
    hash: HashAlgorithm,
    digest_hex: String,
    digest: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Dsse {
    envelope_json: String,
    payload_type: String,
    payload: Vec<u8>,
    /// (signature base64 as in the envelope, decoded bytes)
    signatures: Vec<(String, Vec<u8>)>,
    verifiers: Vec<Verifier>,
}

/// One verifier of an entry: the key, and the certificate when the verifier is one, that
/// signatures of the entry were checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntrySigner {
    /// The certificate (DER, the leaf of a chain), or `None` for a bare public key.
    pub certificate_der: Option<Vec<u8>>,
    /// The key (DER `SubjectPublicKeyInfo`).
    pub public_key_der: Vec<u8>,
}

impl EntrySigner {
    /// A signer from its parts (for callers that check signers, and their tests).
    #[must_use]
    pub fn new(certificate_der: Option<Vec<u8>>, public_key_der: Vec<u8>) -> Self {
        Self {
            certificate_der,
            public_key_der,
        }
    }

    fn of(v: &Verifier) -> Self {
        Self {
            certificate_der: v.certificate_der.clone(),
            public_key_der: v.spki_der.clone(),
        }
    }
}

/// An entry whose signatures verified, with everything the log stores and indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedEntry {
    /// The entry type.
    pub kind: EntryKind,
    /// The canonical body (RFC 8785 JSON) that becomes the log leaf.
    pub canonical_body: Vec<u8>,
    /// Every verifier of the entry, in the order the proposed entry lists them: hashedrekord's
    /// one key; dsse's `proposedContent.verifiers` (each verified at least one signature of the
    /// envelope); intoto's `publicKey` of each envelope signature (each verified its own
    /// signature). A log that accepts only its CA's signers checks every one of them.
    pub signers: Vec<EntrySigner>,
    /// The signing certificate (DER), when the verifier was a certificate. For DSSE: the
    /// verifier of the first signature in canonical order. Only the first of
    /// [`VerifiedEntry::signers`]: never enough on its own for a policy check.
    pub certificate_der: Option<Vec<u8>>,
    /// The signing key (DER `SubjectPublicKeyInfo`), chosen like `certificate_der`.
    pub public_key_der: Vec<u8>,
    /// The artifact digest (hashedrekord) or the SHA-256 of the DSSE payload, hex.
    pub artifact_digest: Option<(HashAlgorithm, String)>,
    /// The first email or URI SAN of `certificate_der`.
    pub san: Option<String>,
    /// Search-index keys: `<alg>:<hex digest>`, `key:<sha256 hex of SPKI>`, `email:<addr>`,
    /// `uri:<uri>`; sorted, without duplicates.
    pub index_keys: Vec<String>,
}

impl ProposedEntry {
    /// Parses the JSON body of `POST /api/v1/log/entries`.
    ///
    /// # Errors
    ///
    /// An [`EntryError`] naming the offending field for malformed JSON, unknown kinds or
    /// versions, bad base64/hex, unparsable keys or oversized fields.
    pub fn parse(body: &[u8]) -> Result<ProposedEntry> {
        if body.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge {
                field: "body",
                size: body.len(),
                limit: MAX_ENTRY_BYTES,
            });
        }
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| EntryError::malformed("body", e.to_string()))?;
        let top = object("body", &doc)?;
        let kind = string("kind", field(top, "kind", "kind")?)?;
        let version = string("apiVersion", field(top, "apiVersion", "apiVersion")?)?;
        let kind = EntryKind::from_wire(kind, version)?;
        let spec = object("spec", field(top, "spec", "spec")?)?;
        let inner = match kind {
            EntryKind::HashedRekord => Proposed::HashedRekord(parse_hashedrekord(spec)?),
            EntryKind::Dsse => Proposed::Dsse(parse_dsse(spec)?),
            EntryKind::Intoto => Proposed::Intoto(parse_intoto(spec)?),
        };
        Ok(ProposedEntry { inner })
    }

    /// The entry type.
    #[must_use]
    pub fn kind(&self) -> EntryKind {
        match self.inner {
            Proposed::HashedRekord(_) => EntryKind::HashedRekord,
            Proposed::Dsse(_) => EntryKind::Dsse,
            Proposed::Intoto(_) => EntryKind::Intoto,
        }
    }

    /// Verifies the signatures and builds the canonical body and index keys.
    ///
    /// # Errors
    ///
    /// [`EntryError::BadSignature`] when a signature does not verify (every signature must
    /// verify, and every dsse verifier must verify one of them),
    /// [`EntryError::UnsupportedKey`] for key types that cannot be used (Ed25519 over a digest),
    /// [`EntryError::TooManyIndexKeys`] beyond [`MAX_INDEX_KEYS`].
    pub fn verify(&self) -> Result<VerifiedEntry> {
        match &self.inner {
            Proposed::HashedRekord(h) => verify_hashedrekord(h),
            Proposed::Dsse(d) => verify_dsse(d),
            Proposed::Intoto(i) => verify_intoto(i),
        }
    }
}

fn parse_hashedrekord(spec: &Map<String, Value>) -> Result<HashedRekord> {
    let sig = object(
        "spec.signature",
        field(spec, "signature", "spec.signature")?,
    )?;
    let signature_b64 = string(
        "spec.signature.content",
        field(sig, "content", "spec.signature.content")?,
    )?;
    check_len(
        "spec.signature.content",
        signature_b64.len(),
        MAX_SIGNATURE_B64,
    )?;
    let signature = decode_b64("spec.signature.content", signature_b64)?;
    let pk = object(
        "spec.signature.publicKey",
        field(sig, "publicKey", "spec.signature.publicKey")?,
    )?;
    let pk_b64 = string(
        "spec.signature.publicKey.content",
        field(pk, "content", "spec.signature.publicKey.content")?,
    )?;
    let verifier = Verifier::parse("spec.signature.publicKey.content", pk_b64)?;
    let data = object("spec.data", field(spec, "data", "spec.data")?)?;
    let hash = object("spec.data.hash", field(data, "hash", "spec.data.hash")?)?;
    let alg_name = string(
        "spec.data.hash.algorithm",
        field(hash, "algorithm", "spec.data.hash.algorithm")?,
    )?;
    let alg = HashAlgorithm::from_name(alg_name).ok_or_else(|| EntryError::UnsupportedHash {
        field: "spec.data.hash.algorithm",
        algorithm: alg_name.chars().take(32).collect(),
    })?;
    let digest_hex = string(
        "spec.data.hash.value",
        field(hash, "value", "spec.data.hash.value")?,
    )?;
    let digest = decode_hex("spec.data.hash.value", digest_hex, alg.digest_len())?;
    Ok(HashedRekord {
        signature_b64: signature_b64.to_owned(),
        signature,
        verifier,
        hash: alg,
        digest_hex: digest_hex.to_owned(),
        digest,
    })
}

fn parse_dsse(spec: &Map<String, Value>) -> Result<Dsse> {
    // sigstore-python sends the server-computed fields as explicit nulls: tolerate only that.
    for (key, path) in [
        ("signatures", "spec.signatures"),
        ("envelopeHash", "spec.envelopeHash"),
        ("payloadHash", "spec.payloadHash"),
    ] {
        if spec.get(key).is_some_and(|v| !v.is_null()) {
            return Err(EntryError::malformed(
                path,
                "server-computed field must be absent or null in a proposed entry",
            ));
        }
    }
    let pc = object(
        "spec.proposedContent",
        field(spec, "proposedContent", "spec.proposedContent")?,
    )?;
    let envelope_json = string(
        "spec.proposedContent.envelope",
        field(pc, "envelope", "spec.proposedContent.envelope")?,
    )?;
    let verifiers_v = array(
        "spec.proposedContent.verifiers",
        field(pc, "verifiers", "spec.proposedContent.verifiers")?,
    )?;
    check_len(
        "spec.proposedContent.verifiers",
        verifiers_v.len(),
        MAX_SIGNATURES,
    )?;
    if verifiers_v.is_empty() {
        return Err(EntryError::MissingField {
            field: "spec.proposedContent.verifiers",
        });
    }
    let verifiers = verifiers_v
        .iter()
        .map(|v| {
            Verifier::parse(
                "spec.proposedContent.verifiers[]",
                string("spec.proposedContent.verifiers[]", v)?,
            )
        })
        .collect::<Result<Vec<_>>>()?;

    const ENV: &str = "spec.proposedContent.envelope";
    let env: Value = serde_json::from_str(envelope_json)
        .map_err(|e| EntryError::malformed(ENV, e.to_string()))?;
    let env = object(ENV, &env)?;
    let payload_b64 = string(
        "spec.proposedContent.envelope.payload",
        field(env, "payload", "spec.proposedContent.envelope.payload")?,
    )?;
    let payload = crate::decode_b64_lenient("spec.proposedContent.envelope.payload", payload_b64)?;
    let payload_type = string(
        "spec.proposedContent.envelope.payloadType",
        field(
            env,
            "payloadType",
            "spec.proposedContent.envelope.payloadType",
        )?,
    )?;
    let sigs_v = array(
        "spec.proposedContent.envelope.signatures",
        field(
            env,
            "signatures",
            "spec.proposedContent.envelope.signatures",
        )?,
    )?;
    check_len(
        "spec.proposedContent.envelope.signatures",
        sigs_v.len(),
        MAX_SIGNATURES,
    )?;
    if sigs_v.is_empty() {
        return Err(EntryError::MissingField {
            field: "spec.proposedContent.envelope.signatures",
        });
    }
    let mut signatures = Vec::with_capacity(sigs_v.len());
    for s in sigs_v {
        const SIG: &str = "spec.proposedContent.envelope.signatures[].sig";
        let s = object("spec.proposedContent.envelope.signatures[]", s)?;
        let sig_b64 = string(SIG, field(s, "sig", SIG)?)?;
        check_len(SIG, sig_b64.len(), MAX_SIGNATURE_B64)?;
        let sig = crate::decode_b64_lenient(SIG, sig_b64)?;
        if let Some(k) = s.get("keyid").filter(|k| !k.is_null()) {
            string("spec.proposedContent.envelope.signatures[].keyid", k)?;
        }
        signatures.push((sig_b64.to_owned(), sig));
    }
    Ok(Dsse {
        envelope_json: envelope_json.to_owned(),
        payload_type: payload_type.to_owned(),
        payload,
        signatures,
        verifiers,
    })
}

fn parse_intoto(spec: &Map<String, Value>) -> Result<Intoto> {
    let content = object("spec.content", field(spec, "content", "spec.content")?)?;
    let env = object(
        "spec.content.envelope",
        field(content, "envelope", "spec.content.envelope")?,
    )?;
    const PAYLOAD: &str = "spec.content.envelope.payload";
    let payload_b64 = string(PAYLOAD, field(env, "payload", PAYLOAD)?)?;
    let payloads = b64_candidates(PAYLOAD, payload_b64)?;
    let payload_type = string(
        "spec.content.envelope.payloadType",
        field(env, "payloadType", "spec.content.envelope.payloadType")?,
    )?;
    let sigs_v = array(
        "spec.content.envelope.signatures",
        field(env, "signatures", "spec.content.envelope.signatures")?,
    )?;
    check_len(
        "spec.content.envelope.signatures",
        sigs_v.len(),
        MAX_SIGNATURES,
    )?;
    if sigs_v.is_empty() {
        return Err(EntryError::MissingField {
            field: "spec.content.envelope.signatures",
        });
    }
    let mut signatures = Vec::with_capacity(sigs_v.len());
    for s in sigs_v {
        const SIG: &str = "spec.content.envelope.signatures[].sig";
        const PK: &str = "spec.content.envelope.signatures[].publicKey";
        const KEYID: &str = "spec.content.envelope.signatures[].keyid";
        let s = object("spec.content.envelope.signatures[]", s)?;
        let sig_b64 = string(SIG, field(s, "sig", SIG)?)?;
        check_len(SIG, sig_b64.len(), MAX_SIGNATURE_B64)?;
        let candidates = b64_candidates(SIG, sig_b64)?;
        let verifier = Verifier::parse(PK, string(PK, field(s, "publicKey", PK)?)?)?;
        let keyid = match s.get("keyid") {
            None | Some(Value::Null) => None,
            Some(k) => Some(string(KEYID, k)?.to_owned()).filter(|k| !k.is_empty()),
        };
        signatures.push(IntotoSignature {
            keyid,
            sig_b64: sig_b64.to_owned(),
            candidates,
            verifier,
        });
    }
    // The envelope hash is computed by the client over its serialized envelope; Rekor stores it
    // as sent (it needs the client's exact bytes to recompute it).
    let hash = object(
        "spec.content.hash",
        field(content, "hash", "spec.content.hash")?,
    )?;
    let alg = string(
        "spec.content.hash.algorithm",
        field(hash, "algorithm", "spec.content.hash.algorithm")?,
    )?;
    if alg != "sha256" {
        return Err(EntryError::UnsupportedHash {
            field: "spec.content.hash.algorithm",
            algorithm: alg.chars().take(32).collect(),
        });
    }
    let value = string(
        "spec.content.hash.value",
        field(hash, "value", "spec.content.hash.value")?,
    )?;
    decode_hex("spec.content.hash.value", value, 32)?;
    Ok(Intoto {
        payload_type: payload_type.to_owned(),
        payloads,
        signatures,
        envelope_hash_hex: value.to_ascii_lowercase(),
    })
}

fn verify_intoto(i: &Intoto) -> Result<VerifiedEntry> {
    // The payload reading (double- or single-encoded) under which every signature verifies.
    let mut failed = 0;
    let payload = i
        .payloads
        .iter()
        .find(|candidate| {
            let pae = dsse_pae(&i.payload_type, candidate);
            let unverified = i.signatures.iter().position(|s| {
                !s.candidates
                    .iter()
                    .any(|sig| s.verifier.verifies_message(&pae, sig))
            });
            if let Some(n) = unverified {
                failed = n;
            }
            unverified.is_none()
        })
        .ok_or_else(|| EntryError::BadSignature {
            what: format!(
                "spec.content.envelope.signatures[{failed}] does not verify under its publicKey"
            ),
        })?;
    let payload_hash = hex::encode(Sha256::digest(payload));
    let body = Body::new(
        EntryKind::Intoto,
        IntotoSpec {
            content: IntotoContent {
                envelope: IntotoEnvelope {
                    payload: None,
                    payload_type: i.payload_type.as_str().into(),
                    signatures: i
                        .signatures
                        .iter()
                        .map(|s| IntotoSig {
                            keyid: s.keyid.as_deref().map(Into::into),
                            public_key: s.verifier.b64.as_str().into(),
                            sig: s.sig_b64.as_str().into(),
                        })
                        .collect(),
                },
                hash: Some(AlgValue::new("sha256", i.envelope_hash_hex.as_str())),
                payload_hash: AlgValue::new("sha256", payload_hash.as_str()),
            },
        },
    );
    let mut index_keys = vec![crate::index::digest_key(
        HashAlgorithm::Sha256,
        &payload_hash,
    )];
    for s in &i.signatures {
        crate::index::verifier_keys(&s.verifier, &mut index_keys);
    }
    let first = i
        .signatures
        .first()
        .map(|s| &s.verifier)
        .ok_or(EntryError::MissingField {
            field: "spec.content.envelope.signatures",
        })?;
    finish(
        EntryKind::Intoto,
        body.to_json()?,
        first,
        i.signatures.iter().map(|s| &s.verifier),
        Some((HashAlgorithm::Sha256, payload_hash)),
        index_keys,
    )
}

/// DSSE pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
#[must_use]
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn verify_hashedrekord(h: &HashedRekord) -> Result<VerifiedEntry> {
    h.verifier.verify_digest(
        "spec.signature.publicKey.content",
        h.hash,
        &h.digest,
        &h.signature,
        ("spec.data.hash.value", "spec.signature.content"),
    )?;
    let body = Body::new(
        EntryKind::HashedRekord,
        HashedRekordSpec {
            data: HashedRekordData {
                hash: AlgValue::new(h.hash.name(), h.digest_hex.as_str()),
            },
            signature: HashedRekordSignature {
                content: h.signature_b64.as_str().into(),
                public_key: Content {
                    content: h.verifier.b64.as_str().into(),
                },
            },
        },
    );
    let digest_hex = h.digest_hex.to_ascii_lowercase();
    let mut index_keys = vec![crate::index::digest_key(h.hash, &digest_hex)];
    crate::index::verifier_keys(&h.verifier, &mut index_keys);
    finish(
        EntryKind::HashedRekord,
        body.to_json()?,
        &h.verifier,
        std::iter::once(&h.verifier),
        Some((h.hash, digest_hex)),
        index_keys,
    )
}

fn verify_dsse(d: &Dsse) -> Result<VerifiedEntry> {
    let pae = dsse_pae(&d.payload_type, &d.payload);
    // Every signature must verify under some verifier; the first verifier that accepts it is
    // recorded with it (Rekor keeps one verifier per distinct signature string).
    let mut pairs: Vec<(&str, &Verifier)> = Vec::with_capacity(d.signatures.len());
    let mut used = vec![false; d.verifiers.len()];
    for (i, (sig_b64, sig)) in d.signatures.iter().enumerate() {
        let (n, verifier) = d
            .verifiers
            .iter()
            .enumerate()
            .find(|(_, v)| v.verifies_message(&pae, sig))
            .ok_or_else(|| EntryError::BadSignature {
                what: format!(
                    "spec.proposedContent.envelope.signatures[{i}] does not verify under any verifier"
                ),
            })?;
        if let Some(u) = used.get_mut(n) {
            *u = true;
        }
        pairs.push((sig_b64, verifier));
    }
    // As Rekor (a DSSE verifier whose threshold is the number of verifiers): every verifier
    // must verify a signature. A verifier that signed nothing would not be in the canonical
    // body, but a policy on who may log would otherwise have to guess which ones count.
    for (i, v) in d.verifiers.iter().enumerate() {
        let verifies_one = used.get(i).copied().unwrap_or(false)
            || d.signatures
                .iter()
                .any(|(_, sig)| v.verifies_message(&pae, sig));
        if !verifies_one {
            return Err(EntryError::BadSignature {
                what: format!(
                    "spec.proposedContent.verifiers[{i}] verifies no signature of the envelope"
                ),
            });
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs.dedup_by(|a, b| a.0 == b.0);

    let payload_hash = hex::encode(Sha256::digest(&d.payload));
    let envelope_hash = hex::encode(Sha256::digest(d.envelope_json.as_bytes()));
    let body = Body::new(
        EntryKind::Dsse,
        DsseSpec {
            envelope_hash: Some(AlgValue::new("sha256", envelope_hash.as_str())),
            payload_hash: AlgValue::new("sha256", payload_hash.as_str()),
            signatures: pairs
                .iter()
                .map(|(sig, v)| DsseSignature {
                    signature: (*sig).into(),
                    verifier: v.b64.as_str().into(),
                })
                .collect(),
        },
    );
    let mut index_keys = vec![crate::index::digest_key(
        HashAlgorithm::Sha256,
        &payload_hash,
    )];
    for (_, v) in &pairs {
        crate::index::verifier_keys(v, &mut index_keys);
    }
    // `pairs` is non-empty: parse rejects envelopes without signatures and every signature
    // was matched above.
    let first = pairs.first().map(|p| p.1).ok_or(EntryError::MissingField {
        field: "spec.proposedContent.envelope.signatures",
    })?;
    finish(
        EntryKind::Dsse,
        body.to_json()?,
        first,
        d.verifiers.iter(),
        Some((HashAlgorithm::Sha256, payload_hash)),
        index_keys,
    )
}

fn finish<'a>(
    kind: EntryKind,
    canonical_body: Vec<u8>,
    signer: &Verifier,
    verifiers: impl Iterator<Item = &'a Verifier>,
    artifact_digest: Option<(HashAlgorithm, String)>,
    mut index_keys: Vec<String>,
) -> Result<VerifiedEntry> {
    index_keys.sort();
    index_keys.dedup();
    if index_keys.len() > MAX_INDEX_KEYS {
        return Err(EntryError::TooManyIndexKeys {
            count: index_keys.len(),
            limit: MAX_INDEX_KEYS,
        });
    }
    Ok(VerifiedEntry {
        kind,
        canonical_body,
        signers: verifiers.map(EntrySigner::of).collect(),
        certificate_der: signer.certificate_der.clone(),
        public_key_der: signer.spki_der.clone(),
        artifact_digest,
        san: signer.sans.first().map(|s: &San| s.value().to_owned()),
        index_keys,
    })
}

// JSON access helpers: each names the field in its error.

fn field<'a>(obj: &'a Map<String, Value>, key: &str, path: &'static str) -> Result<&'a Value> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(EntryError::MissingField { field: path }),
        Some(v) => Ok(v),
    }
}

fn object<'a>(path: &'static str, v: &'a Value) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| EntryError::malformed(path, "expected a JSON object"))
}

fn array<'a>(path: &'static str, v: &'a Value) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| EntryError::malformed(path, "expected a JSON array"))
}

fn string<'a>(path: &'static str, v: &'a Value) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| EntryError::malformed(path, "expected a JSON string"))
}

fn check_len(field: &'static str, size: usize, limit: usize) -> Result<()> {
    if size > limit {
        return Err(EntryError::TooLarge { field, size, limit });
    }
    Ok(())
}

fn decode_hex(field: &'static str, s: &str, len: usize) -> Result<Vec<u8>> {
    let bad = || EntryError::Hex {
        field,
        expected_len: len * 2,
    };
    if s.len() != len * 2 {
        return Err(bad());
    }
    hex::decode(s).map_err(|_| bad())
}
