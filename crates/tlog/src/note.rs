//! Signed notes ([C2SP signed-note](https://c2sp.org/signed-note)) and checkpoints.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(4-byte key ID || signature)>`. Two key types sign here, behind
//! [`NoteSigner`]:
//!
//! - ECDSA P-256: both Rekor v1 and the C2SP signature type `0x02` use the first four bytes of
//!   SHA-256 of the DER SubjectPublicKeyInfo as the key ID (for Rekor v1 that is the first four
//!   bytes of the log ID) and an ASN.1 DER signature over the text. So one implementation signs
//!   and verifies both. Any P-256 RustCrypto signer is a [`NoteSigner`].
//! - Ed25519, the C2SP signature type `0x01`: the key ID is the first four bytes of
//!   SHA-256(key name || `"\n"` || `0x01` || 32-byte public key), and the signature is the 64-byte
//!   pure Ed25519 signature over the text. An Ed25519 RustCrypto signer signs notes wrapped in
//!   [`Ed25519NoteSigner`].
//!
//! Either way the 4-byte ID is a prefix of a 32-byte hash ([`NoteKeyId::key_hash`]), which is
//! what Sigstore trusted roots name the log by.
//!
//! A checkpoint ([C2SP tlog-checkpoint](https://c2sp.org/tlog-checkpoint)) is a note whose text is
//! `<origin>\n<tree size>\n<base64 root hash>\n` followed by optional extension lines. Rekor v1 uses
//! the same text with origin `<hostname> - <tree id>` and signs it under the name `<hostname>`;
//! C2SP logs sign under their origin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::{DerSignature, VerifyingKey};
use sha2::{Digest, Sha256};
use signature::{Keypair, Signer, Verifier};
use spki::EncodePublicKey;

use crate::{Error, Hash};

const EM_DASH_PREFIX: &str = "\u{2014} ";
/// Upper bound on signature lines read from one note (C2SP asks for at least 16).
const MAX_SIGNATURES: usize = 64;

/// The C2SP signature type of Ed25519 keys, the byte hashed after the key name.
pub(crate) const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// The C2SP signature type of ECDSA keys (as transparency-dev/witness implements them): the
/// vkey's key material is `0x02 || DER SPKI`.
const ECDSA_SIGNATURE_TYPE: u8 = 0x02;

/// The name and 4-byte ID under which a key signs notes, and the 32-byte hash the ID is the start
/// of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteKeyId {
    name: String,
    hash: [u8; 32],
}

impl NoteKeyId {
    /// The identity of an ECDSA P-256 key signing as `name`: the hash is SHA-256 of the key's DER
    /// SubjectPublicKeyInfo.
    pub fn ecdsa(name: &str, key: &VerifyingKey) -> Result<Self, Error> {
        check_key_name(name)?;
        let der = key.to_public_key_der().map_err(|_| Error::BadPublicKey)?;
        Ok(Self {
            name: name.to_owned(),
            hash: Sha256::digest(der.as_bytes()).into(),
        })
    }

    /// The identity of an Ed25519 key signing as `name` (C2SP signed-note): the hash is
    /// SHA-256(name || `"\n"` || `0x01` || the 32-byte public key).
    pub fn ed25519(name: &str, key: &ed25519_dalek::VerifyingKey) -> Result<Self, Error> {
        Self::ed25519_typed(name, ED25519_SIGNATURE_TYPE, key)
    }

    /// The identity of an Ed25519 key signing under `signature_type` (C2SP signed-note: the
    /// hash is SHA-256(name || `"\n"` || type || the 32-byte key)); `0x04` is a witness's
    /// `cosignature/v1` key ([`crate::cosignature`]).
    pub(crate) fn ed25519_typed(
        name: &str,
        signature_type: u8,
        key: &ed25519_dalek::VerifyingKey,
    ) -> Result<Self, Error> {
        check_key_name(name)?;
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([b'\n', signature_type]);
        h.update(key.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            hash: h.finalize().into(),
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID: the first four bytes of [`NoteKeyId::key_hash`].
    pub fn id(&self) -> [u8; 4] {
        [self.hash[0], self.hash[1], self.hash[2], self.hash[3]]
    }

    /// The 32-byte hash whose first four bytes are the key ID. For an ECDSA key that is Rekor's
    /// log ID (SHA-256 of the SPKI); for an Ed25519 key the C2SP key hash, which Sigstore's
    /// trusted roots use as the `logId` of an Ed25519 Rekor v2 log.
    pub fn key_hash(&self) -> [u8; 32] {
        self.hash
    }
}

fn check_key_name(name: &str) -> Result<(), Error> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::MalformedNote {
            reason: "key name is empty or contains spaces, '+' or newlines",
        })
    }
}

/// A key that signs notes: its identity under a key name and its signature over note text.
///
/// Every ECDSA P-256 RustCrypto signer with a public key (`Signer<DerSignature>` and
/// `Keypair<VerifyingKey = p256::ecdsa::VerifyingKey>`: an in-memory `p256::ecdsa::SigningKey`,
/// an HSM key) is one, signing with DER signatures; an Ed25519 signer is one wrapped in
/// [`Ed25519NoteSigner`].
pub trait NoteSigner {
    /// The key's identity when it signs as `name`.
    fn note_key(&self, name: &str) -> Result<NoteKeyId, Error>;

    /// The signature bytes (after the key ID) over the note text `text`.
    fn sign_note_text(&self, text: &[u8]) -> Result<Vec<u8>, signature::Error>;
}

impl<K> NoteSigner for K
where
    K: Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey>,
{
    fn note_key(&self, name: &str) -> Result<NoteKeyId, Error> {
        NoteKeyId::ecdsa(name, &self.verifying_key())
    }

    fn sign_note_text(&self, text: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let sig: DerSignature = self.try_sign(text)?;
        Ok(sig.as_bytes().to_vec())
    }
}

/// An Ed25519 key as a [`NoteSigner`] (C2SP signature type `0x01`): any RustCrypto Ed25519
/// signer, such as an in-memory `ed25519_dalek::SigningKey` or an HSM key.
#[derive(Clone, Debug)]
pub struct Ed25519NoteSigner<K>(pub K);

impl<K> NoteSigner for Ed25519NoteSigner<K>
where
    K: Signer<ed25519_dalek::Signature> + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>,
{
    fn note_key(&self, name: &str) -> Result<NoteKeyId, Error> {
        NoteKeyId::ed25519(name, &self.0.verifying_key())
    }

    fn sign_note_text(&self, text: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let sig: ed25519_dalek::Signature = self.0.try_sign(text)?;
        Ok(sig.to_bytes().to_vec())
    }
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signer's key ID.
    pub key_id: [u8; 4],
    /// The signature bytes (after the key ID).
    pub signature: Vec<u8>,
}

/// A parsed, not yet verified, signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signature lines in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Splits a note into text and signature lines. Does not verify anything.
    pub fn parse(note: &str) -> Result<Self, Error> {
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::MalformedNote {
                reason: "contains control characters",
            });
        }
        let split = note.rfind("\n\n").ok_or(Error::MalformedNote {
            reason: "no blank line before the signatures",
        })?;
        let text = &note[..=split];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(Error::MalformedNote {
                reason: "signature block does not end with a newline",
            });
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::MalformedNote {
                    reason: "too many signatures",
                });
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, Error> {
    let rest = line
        .strip_prefix(EM_DASH_PREFIX)
        .ok_or(Error::MalformedNote {
            reason: "signature line does not start with an em dash and a space",
        })?;
    let (name, b64) = rest.split_once(' ').ok_or(Error::MalformedNote {
        reason: "signature line has no space between name and signature",
    })?;
    if !valid_key_name(name) {
        return Err(Error::MalformedNote {
            reason: "signature line has an invalid key name",
        });
    }
    let raw = STANDARD.decode(b64).map_err(|_| Error::MalformedNote {
        reason: "signature is not valid base64",
    })?;
    if raw.len() < 5 {
        return Err(Error::MalformedNote {
            reason: "signature is shorter than a key ID plus one byte",
        });
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: [raw[0], raw[1], raw[2], raw[3]],
        signature: raw[4..].to_vec(),
    })
}

/// Signs `text` (which must end in a newline) with `signer`, whose identity is `key` (from
/// [`NoteSigner::note_key`]), and returns the whole note.
pub fn sign_note<S: NoteSigner + ?Sized>(
    text: &str,
    key: &NoteKeyId,
    signer: &S,
) -> Result<String, Error> {
    if !text.ends_with('\n') || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::MalformedNote {
            reason: "note text must end with a newline and hold no control characters",
        });
    }
    let sig = signer
        .sign_note_text(text.as_bytes())
        .map_err(Error::Signing)?;
    let mut raw = Vec::with_capacity(4 + sig.len());
    raw.extend_from_slice(&key.id());
    raw.extend_from_slice(&sig);
    Ok(format!(
        "{text}\n{EM_DASH_PREFIX}{} {}\n",
        key.name,
        STANDARD.encode(raw)
    ))
}

/// The public key of a [`NoteVerifier`].
#[derive(Clone, Debug)]
enum NoteVerifyingKey {
    Ecdsa(VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Verifies notes signed by one key (ECDSA P-256 or Ed25519).
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    key_id: NoteKeyId,
    key: NoteVerifyingKey,
}

impl NoteVerifier {
    /// A verifier for the ECDSA P-256 `key` signing as `name`.
    pub fn ecdsa(name: &str, key: VerifyingKey) -> Result<Self, Error> {
        Ok(Self {
            key_id: NoteKeyId::ecdsa(name, &key)?,
            key: NoteVerifyingKey::Ecdsa(key),
        })
    }

    /// A verifier for the Ed25519 `key` signing as `name`.
    pub fn ed25519(name: &str, key: ed25519_dalek::VerifyingKey) -> Result<Self, Error> {
        Ok(Self {
            key_id: NoteKeyId::ed25519(name, &key)?,
            key: NoteVerifyingKey::Ed25519(key),
        })
    }

    /// The identity of the key this verifier checks.
    pub fn key_id(&self) -> &NoteKeyId {
        &self.key_id
    }

    /// A verifier from a C2SP verifier key (`vkey`): `<name>+<hex key ID>+<base64(type || key)>`,
    /// with type `0x01` (Ed25519, 32-byte key) or `0x02` (ECDSA P-256, DER SPKI). The key ID must
    /// be the one the name and key give.
    pub fn from_vkey(vkey: &str) -> Result<Self, Error> {
        let (name, id, raw) = split_vkey(vkey)?;
        let (&kind, key) = raw.split_first().ok_or(Error::MalformedVkey {
            reason: "the key is empty",
        })?;
        let verifier = match kind {
            ED25519_SIGNATURE_TYPE => Self::ed25519(name, ed25519_key(key)?)?,
            ECDSA_SIGNATURE_TYPE => {
                use spki::DecodePublicKey as _;
                let key =
                    VerifyingKey::from_public_key_der(key).map_err(|_| Error::MalformedVkey {
                        reason: "an ECDSA (0x02) vkey must hold a P-256 DER SubjectPublicKeyInfo",
                    })?;
                Self::ecdsa(name, key)?
            }
            _ => {
                return Err(Error::MalformedVkey {
                    reason: "a log's key type must be 0x01 (Ed25519) or 0x02 (ECDSA P-256)",
                });
            }
        };
        if verifier.key_id.id() != id {
            return Err(Error::MalformedVkey {
                reason: "the key ID is not the one the name and key give",
            });
        }
        Ok(verifier)
    }

    /// This verifier's C2SP verifier key (`vkey`), as [`NoteVerifier::from_vkey`] reads it.
    pub fn vkey(&self) -> Result<String, Error> {
        let mut raw = Vec::new();
        match &self.key {
            NoteVerifyingKey::Ed25519(k) => {
                raw.push(ED25519_SIGNATURE_TYPE);
                raw.extend_from_slice(k.as_bytes());
            }
            NoteVerifyingKey::Ecdsa(k) => {
                raw.push(ECDSA_SIGNATURE_TYPE);
                let der = k.to_public_key_der().map_err(|_| Error::BadPublicKey)?;
                raw.extend_from_slice(der.as_bytes());
            }
        }
        Ok(format_vkey(&self.key_id, &raw))
    }

    /// Parses `note` and verifies the signature by this key. Signatures by other keys are ignored, as
    /// C2SP requires; the note is rejected unless this key's signature is present and valid.
    pub fn verify(&self, note: &str) -> Result<Note, Error> {
        let parsed = Note::parse(note)?;
        let mine = parsed
            .signatures
            .iter()
            .find(|s| s.name == self.key_id.name && s.key_id == self.key_id.id())
            .ok_or_else(|| Error::UnknownSigner {
                name: self.key_id.name.clone(),
            })?;
        let bad = || Error::BadSignature {
            name: mine.name.clone(),
        };
        let text = parsed.text.as_bytes();
        match &self.key {
            NoteVerifyingKey::Ecdsa(key) => {
                let sig = DerSignature::from_bytes(&mine.signature).map_err(|_| bad())?;
                key.verify(text, &sig).map_err(|_| bad())?;
            }
            NoteVerifyingKey::Ed25519(key) => {
                let sig =
                    ed25519_dalek::Signature::from_slice(&mine.signature).map_err(|_| bad())?;
                key.verify_strict(text, &sig).map_err(|_| bad())?;
            }
        }
        Ok(parsed)
    }

    /// Verifies `note` and parses its text as a checkpoint.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, Error> {
        Checkpoint::parse(&self.verify(note)?.text)
    }
}

/// Splits a vkey `<name>+<hex8>+<base64>` into its name, key ID and decoded key material.
pub(crate) fn split_vkey(vkey: &str) -> Result<(&str, [u8; 4], Vec<u8>), Error> {
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::MalformedVkey {
            reason: "a vkey is <name>+<hex key ID>+<base64 key>",
        });
    };
    if !valid_key_name(name) {
        return Err(Error::MalformedVkey {
            reason: "the key name is empty or holds spaces, '+' or control characters",
        });
    }
    let id: [u8; 4] = (id.len() == 8)
        .then(|| hex::decode(id).ok())
        .flatten()
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::MalformedVkey {
            reason: "the key ID is not 8 hex digits",
        })?;
    let raw = STANDARD.decode(key).map_err(|_| Error::MalformedVkey {
        reason: "the key is not valid base64",
    })?;
    Ok((name, id, raw))
}

/// `<name>+<hex8 key ID>+<base64(raw)>`.
pub(crate) fn format_vkey(key_id: &NoteKeyId, raw: &[u8]) -> String {
    format!(
        "{}+{}+{}",
        key_id.name(),
        hex::encode(key_id.id()),
        STANDARD.encode(raw)
    )
}

/// A 32-byte Ed25519 public key.
pub(crate) fn ed25519_key(key: &[u8]) -> Result<ed25519_dalek::VerifyingKey, Error> {
    let bytes: [u8; 32] = key.try_into().map_err(|_| Error::MalformedVkey {
        reason: "an Ed25519 key is 32 bytes",
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| Error::MalformedVkey {
        reason: "not an Ed25519 public key",
    })
}

impl NoteSignature {
    /// The signature line `— <name> <base64(key ID || signature)>`, with its newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.signature);
        format!("{EM_DASH_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    /// Parses one signature line (without its newline).
    pub fn parse_line(line: &str) -> Result<Self, Error> {
        parse_signature_line(line)
    }
}

/// The text of a checkpoint: a log's commitment to a tree size and root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (Rekor v1: `<hostname> - <tree id>`).
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// Extension lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            text.push_str(e);
            text.push('\n');
        }
        text
    }

    /// Parses checkpoint text (the signed part of the note).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let body = text.strip_suffix('\n').ok_or(Error::MalformedNote {
            reason: "checkpoint text does not end with a newline",
        })?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(Error::MalformedNote {
                reason: "checkpoint origin is empty",
            });
        }
        let size_line = lines.next().ok_or(Error::MalformedNote {
            reason: "checkpoint has no tree size line",
        })?;
        let size = parse_decimal(size_line).ok_or(Error::MalformedNote {
            reason: "checkpoint tree size is not a decimal number without leading zeros",
        })?;
        let root_line = lines.next().ok_or(Error::MalformedNote {
            reason: "checkpoint has no root hash line",
        })?;
        let root = Hash::from_base64(root_line).map_err(|_| Error::MalformedNote {
            reason: "checkpoint root is not 32 bytes of base64",
        })?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(Error::MalformedNote {
                reason: "checkpoint has an empty extension line",
            });
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint and returns the note.
    pub fn sign<S: NoteSigner + ?Sized>(
        &self,
        key: &NoteKeyId,
        signer: &S,
    ) -> Result<String, Error> {
        if self.origin.is_empty() || self.origin.contains('\n') {
            return Err(Error::MalformedNote {
                reason: "checkpoint origin is empty or has a newline",
            });
        }
        sign_note(&self.to_text(), key, signer)
    }
}

/// Whether a signature line named `name` may be the log's own for a checkpoint of `origin`: the
/// same name, or (Rekor v1) the origin is `<name> - <tree ID>`.
#[must_use]
pub fn name_fits_origin(name: &str, origin: &str) -> bool {
    origin == name
        || origin
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(" - "))
            .is_some_and(|tree| !tree.is_empty())
}

/// A decimal number without sign or leading zeros (signed-note sizes, witness sizes).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use p256::ecdsa::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn checkpoint_round_trip() {
        let k = key();
        let id = NoteKeyId::ecdsa("log.example", k.verifying_key()).unwrap();
        let cp = Checkpoint::new("log.example - 42", 9, leaf_hash(b"x"));
        let note = cp.sign(&id, &k).unwrap();
        assert!(note.starts_with("log.example - 42\n9\n"));
        assert!(note.contains("\n\n\u{2014} log.example "));
        let v = NoteVerifier::ecdsa("log.example", *k.verifying_key()).unwrap();
        assert_eq!(v.verify_checkpoint(&note).unwrap(), cp);
    }

    #[test]
    fn tampering_is_detected() {
        let k = key();
        let id = NoteKeyId::ecdsa("log.example", k.verifying_key()).unwrap();
        let note = Checkpoint::new("o", 9, leaf_hash(b"x"))
            .sign(&id, &k)
            .unwrap();
        let v = NoteVerifier::ecdsa("log.example", *k.verifying_key()).unwrap();
        let tampered = note.replacen("\n9\n", "\n10\n", 1);
        assert!(matches!(
            v.verify(&tampered),
            Err(Error::BadSignature { .. })
        ));
        let other = NoteVerifier::ecdsa("other.example", *k.verifying_key()).unwrap();
        assert!(matches!(
            other.verify(&note),
            Err(Error::UnknownSigner { .. })
        ));
    }

    /// The signed note of golang.org/x/mod/sumdb/note's documentation and tests: key
    /// `PeterNeumann+c74f20a3+ARpc...` (signature type 0x01 || public key), private key seed
    /// `AYEK...` (0x01 || seed). Ed25519 is deterministic, so signing gives the same line.
    const PETER_NEUMANN_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_NEUMANN_KEY: &str = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_NEUMANN_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                                      then you don't know what your problem is.\n";
    const PETER_NEUMANN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn peter_neumann() -> ed25519_dalek::SigningKey {
        let raw = STANDARD.decode(PETER_NEUMANN_SEED).unwrap();
        assert_eq!(raw[0], ED25519_SIGNATURE_TYPE);
        ed25519_dalek::SigningKey::from_bytes(raw[1..].try_into().unwrap())
    }

    #[test]
    fn ed25519_matches_the_sumdb_note_vector() {
        let k = peter_neumann();
        let public = STANDARD.decode(PETER_NEUMANN_KEY).unwrap();
        assert_eq!(public[0], ED25519_SIGNATURE_TYPE);
        assert_eq!(&public[1..], k.verifying_key().as_bytes());
        let signer = Ed25519NoteSigner(k.clone());
        let id = signer.note_key("PeterNeumann").unwrap();
        assert_eq!(id.id(), [0xc7, 0x4f, 0x20, 0xa3]);
        let note = sign_note(PETER_NEUMANN_TEXT, &id, &signer).unwrap();
        assert_eq!(note, format!("{PETER_NEUMANN_TEXT}\n{PETER_NEUMANN_SIG}"));
        let v = NoteVerifier::ed25519("PeterNeumann", k.verifying_key()).unwrap();
        assert_eq!(v.verify(&note).unwrap().text, PETER_NEUMANN_TEXT);
        assert!(matches!(
            v.verify(&note.replacen("cryptography", "cryptographY", 1)),
            Err(Error::BadSignature { .. })
        ));
        let other = ed25519_dalek::SigningKey::from_bytes(&[0u8; 32]);
        let v = NoteVerifier::ed25519("PeterNeumann", other.verifying_key()).unwrap();
        assert!(matches!(v.verify(&note), Err(Error::UnknownSigner { .. })));
    }

    /// Sigstore's trusted root names the Ed25519 Rekor v2 log `log2025-1.rekor.sigstore.dev` by
    /// the C2SP key hash of its origin and key (its `logId`), not by the hash of its SPKI.
    #[test]
    fn ed25519_key_hash_is_sigstores_log_id() {
        let spki = STANDARD
            .decode("MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=")
            .unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(spki[12..].try_into().unwrap()).unwrap();
        let id = NoteKeyId::ed25519("log2025-1.rekor.sigstore.dev", &key).unwrap();
        assert_eq!(
            STANDARD.encode(id.key_hash()),
            "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A="
        );
    }

    #[test]
    fn ecdsa_key_hash_is_the_spki_hash() {
        let k = key();
        let id = k.note_key("log.example").unwrap();
        let der = k.verifying_key().to_public_key_der().unwrap();
        assert_eq!(
            id.key_hash(),
            <[u8; 32]>::from(Sha256::digest(der.as_bytes()))
        );
        assert_eq!(id.id(), id.key_hash()[..4]);
    }

    #[test]
    fn malformed_checkpoints_are_errors() {
        for text in [
            "",
            "\n",
            "o\n",
            "o\n01\nAAAA\n",
            "o\n1\n",
            "o\n1\nnot base64\n",
            "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
            "o\n99999999999999999999999\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            assert!(Checkpoint::parse(text).is_err(), "{text:?}");
        }
        for note in [
            "",
            "text\n",
            "text\n\n",
            "text\n\n\u{2014} name\n",
            "text\n\n- name AAAAAAA=\n",
            "text\n\n\u{2014} name AAAA\n",
            "text\n\n\u{2014} name !!!!\n",
            "te\rxt\n\n\u{2014} name AAAAAAA=\n",
        ] {
            assert!(Note::parse(note).is_err(), "{note:?}");
        }
    }
}
