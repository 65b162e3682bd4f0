//! Witness cosignatures: [C2SP tlog-cosignature](https://c2sp.org/tlog-cosignature)
//! `cosignature/v1` with Ed25519 keys (signature type `0x04`).
//!
//! A witness that checked a checkpoint to be consistent with every earlier one it cosigned adds a
//! note signature line to it:
//!
//! ```text
//! — <witness name> base64(key ID (4) || timestamp (8, big-endian u64 seconds) || Ed25519 signature (64))
//! ```
//!
//! The Ed25519 signature is over `"cosignature/v1\ntime <timestamp>\n"` followed by the
//! checkpoint's note text (origin, size, root, extension lines, with its final newline; no
//! signature lines). The key ID is the first four bytes of SHA-256(name || `"\n"` || `0x04` ||
//! the 32-byte public key), and the witness's verifier key (`vkey`) is
//! `<name>+<hex key ID>+base64(0x04 || public key)`. A vkey of type `0x01` (a plain Ed25519 note
//! key) names the same key and is accepted too, as Go's `formats/note` does.
//!
//! The message does not commit to the witness name: one Ed25519 key must never cosign under two
//! names.

use signature::{Keypair, Signer, Verifier as _};

use crate::Error;
use crate::note::{
    ED25519_SIGNATURE_TYPE, Note, NoteKeyId, NoteSignature, ed25519_key, format_vkey, split_vkey,
};

/// The C2SP signature type of an Ed25519 `cosignature/v1` key.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;
/// Bytes after the key ID in a `cosignature/v1` signature: timestamp and Ed25519 signature.
const COSIGNATURE_LEN: usize = 8 + 64;
/// The largest timestamp a cosignature may carry (C2SP: at most 2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The message a `cosignature/v1` signs: `"cosignature/v1\ntime <timestamp>\n"` then the
/// checkpoint text.
pub fn cosignature_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// The identity of the Ed25519 witness key `key` cosigning as `name`.
pub fn cosigner_key_id(name: &str, key: &ed25519_dalek::VerifyingKey) -> Result<NoteKeyId, Error> {
    NoteKeyId::ed25519_typed(name, COSIGNATURE_V1_TYPE, key)
}

/// The witness vkey of `key` cosigning as `name`: `<name>+<hex key ID>+base64(0x04 || key)`.
pub fn cosigner_vkey(name: &str, key: &ed25519_dalek::VerifyingKey) -> Result<String, Error> {
    let id = cosigner_key_id(name, key)?;
    let mut raw = vec![COSIGNATURE_V1_TYPE];
    raw.extend_from_slice(key.as_bytes());
    Ok(format_vkey(&id, &raw))
}

/// Cosigns `checkpoint_text` (the note text, ending in a newline) at `timestamp` (Unix seconds,
/// not zero) with the Ed25519 `signer` under `name`, and returns the signature line with its
/// newline. Any RustCrypto Ed25519 signer works: an in-memory key or an HSM key.
pub fn cosign<K>(
    name: &str,
    signer: &K,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<String, Error>
where
    K: Signer<ed25519_dalek::Signature> + Keypair<VerifyingKey = ed25519_dalek::VerifyingKey>,
{
    if timestamp == 0 || timestamp > MAX_TIMESTAMP {
        return Err(Error::BadTimestamp { timestamp });
    }
    if !checkpoint_text.ends_with('\n') || checkpoint_text.contains("\n\n") {
        return Err(Error::MalformedNote {
            reason: "checkpoint text must end with one newline and hold no blank line",
        });
    }
    let id = cosigner_key_id(name, &signer.verifying_key())?;
    let sig: ed25519_dalek::Signature = signer
        .try_sign(&cosignature_message(timestamp, checkpoint_text))
        .map_err(Error::Signing)?;
    let mut raw = Vec::with_capacity(COSIGNATURE_LEN);
    raw.extend_from_slice(&timestamp.to_be_bytes());
    raw.extend_from_slice(&sig.to_bytes());
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: id.id(),
        signature: raw,
    }
    .to_line())
}

/// Verifies one witness's `cosignature/v1` cosignatures.
#[derive(Clone, Debug)]
pub struct CosignatureVerifier {
    key_id: NoteKeyId,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for the witness key `key` cosigning as `name`.
    pub fn new(name: &str, key: ed25519_dalek::VerifyingKey) -> Result<Self, Error> {
        Ok(Self {
            key_id: cosigner_key_id(name, &key)?,
            key,
        })
    }

    /// A verifier from a witness vkey: type `0x04` (its key ID must match), or `0x01`, a plain
    /// Ed25519 note key, whose cosignature key ID is then computed.
    pub fn from_vkey(vkey: &str) -> Result<Self, Error> {
        let (name, id, raw) = split_vkey(vkey)?;
        let (&kind, key) = raw.split_first().ok_or(Error::MalformedVkey {
            reason: "the key is empty",
        })?;
        let key = ed25519_key(key)?;
        let want = match kind {
            COSIGNATURE_V1_TYPE => cosigner_key_id(name, &key)?,
            ED25519_SIGNATURE_TYPE => NoteKeyId::ed25519(name, &key)?,
            _ => {
                return Err(Error::MalformedVkey {
                    reason: "a witness key's type must be 0x04 (cosignature/v1) or 0x01 (Ed25519)",
                });
            }
        };
        if want.id() != id {
            return Err(Error::MalformedVkey {
                reason: "the key ID is not the one the name and key give",
            });
        }
        Self::new(name, key)
    }

    /// The witness's identity (name and `cosignature/v1` key ID).
    pub fn key_id(&self) -> &NoteKeyId {
        &self.key_id
    }

    /// The witness's vkey (type `0x04`).
    pub fn vkey(&self) -> String {
        let mut raw = vec![COSIGNATURE_V1_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        format_vkey(&self.key_id, &raw)
    }

    /// Whether `sig` is a line by this witness (its name and key ID).
    pub fn is_mine(&self, sig: &NoteSignature) -> bool {
        sig.name == self.key_id.name() && sig.key_id == self.key_id.id()
    }

    /// Verifies the signature line `sig` over `checkpoint_text` and returns its timestamp.
    pub fn verify_signature(
        &self,
        checkpoint_text: &str,
        sig: &NoteSignature,
    ) -> Result<u64, Error> {
        let bad = || Error::BadSignature {
            name: sig.name.clone(),
        };
        if !self.is_mine(sig) || sig.signature.len() != COSIGNATURE_LEN {
            return Err(bad());
        }
        let (ts, ed) = sig.signature.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().map_err(|_| bad())?);
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(bad());
        }
        let ed = ed25519_dalek::Signature::from_slice(ed).map_err(|_| bad())?;
        self.key
            .verify(&cosignature_message(timestamp, checkpoint_text), &ed)
            .map_err(|_| bad())?;
        Ok(timestamp)
    }

    /// Verifies this witness's cosignature on the signed note `note` (other signature lines are
    /// ignored) and returns its timestamp: an error if the witness's line is missing or does not
    /// verify.
    pub fn verify(&self, note: &Note) -> Result<u64, Error> {
        let mine = note
            .signatures
            .iter()
            .find(|s| self.is_mine(s))
            .ok_or_else(|| Error::UnknownSigner {
                name: self.key_id.name().to_owned(),
            })?;
        self.verify_signature(&note.text, mine)
    }
}

/// A witness's cosignature line, decoded (not verified): for messages and for callers that
/// append the line to a note.
pub fn parse_cosignature_line(line: &str) -> Result<NoteSignature, Error> {
    NoteSignature::parse_line(line.strip_suffix('\n').unwrap_or(line))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::note::NoteVerifier;
    use proptest::prelude::*;

    /// A cosignature made by litewitness v0.6.1 (filippo.io/torchwood), recorded in
    /// /work/research/witness.md and checked there independently with Python's `cryptography`.
    const LW_TEXT: &str =
        "example.com/hallmark-test-log\n5\nNBUVmC1lDiNSDb1U1/zwr6G3DMOhakEdRk3JwayWwwE=\n";
    const LW_VKEY: &str =
        "witness.example/lw1+cd18f6d3+BOaKGO+5X0pTb2LjWJ8zct+RJtK4WfIxNQJuoof53pYQ";
    const LW_LINE: &str = "\u{2014} witness.example/lw1 zRj20wAAAABrFIq/q28V64usO4Ne3gcv1hqi2U/IC9scnPtzLztpMWuOjQfOE37AmxABst/IAUIufZD0Ly8LWixxvZ9WpldyqtzrBw==\n";
    /// The log key of that example.
    const LW_LOG_VKEY: &str =
        "example.com/hallmark-test-log+5b3f012c+ATe62TyiUOPQ8VWRn0xUknk2BteC1SVV3ApMnb/bFJsZ";

    #[test]
    fn verifies_a_litewitness_cosignature() {
        let v = CosignatureVerifier::from_vkey(LW_VKEY).unwrap();
        assert_eq!(v.vkey(), LW_VKEY);
        let note = Note {
            text: LW_TEXT.to_owned(),
            signatures: vec![parse_cosignature_line(LW_LINE).unwrap()],
        };
        assert_eq!(v.verify(&note).unwrap(), 1_796_508_351);
        let tampered = Note {
            text: LW_TEXT.replace("\n5\n", "\n6\n"),
            ..note.clone()
        };
        assert!(matches!(
            v.verify(&tampered),
            Err(Error::BadSignature { .. })
        ));
        // The log key parses as a note verifier and prints back the same.
        let log = NoteVerifier::from_vkey(LW_LOG_VKEY).unwrap();
        assert_eq!(log.vkey().unwrap(), LW_LOG_VKEY);
        assert_eq!(log.key_id().name(), "example.com/hallmark-test-log");
    }

    #[test]
    fn the_plain_ed25519_vkey_names_the_same_witness() {
        let lw = CosignatureVerifier::from_vkey(LW_VKEY).unwrap();
        let plain = NoteVerifier::ed25519("witness.example/lw1", lw.key)
            .unwrap()
            .vkey()
            .unwrap();
        let v = CosignatureVerifier::from_vkey(&plain).unwrap();
        assert_eq!(v.vkey(), LW_VKEY);
    }

    #[test]
    fn cosign_round_trip() {
        let k = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let line = cosign("w.example/1", &k, LW_TEXT, 1_700_000_000).unwrap();
        let vkey = cosigner_vkey("w.example/1", &k.verifying_key()).unwrap();
        let v = CosignatureVerifier::from_vkey(&vkey).unwrap();
        let note = Note::parse(&format!("{LW_TEXT}\n{LW_LINE}{line}")).unwrap();
        assert_eq!(v.verify(&note).unwrap(), 1_700_000_000);
        assert!(cosign("w.example/1", &k, LW_TEXT, 0).is_err());
        assert!(cosign("w.example/1", &k, LW_TEXT, u64::MAX).is_err());
        assert!(cosign("w.example/1", &k, "no newline", 1).is_err());
        // Another name, same key: another key ID, so not this witness's line.
        let other = CosignatureVerifier::new("w.example/2", k.verifying_key()).unwrap();
        assert!(matches!(
            other.verify(&note),
            Err(Error::UnknownSigner { .. })
        ));
    }

    #[test]
    fn bad_vkeys_are_errors() {
        for vkey in [
            "",
            "name",
            "name+cd18f6d3",
            "name+cd18f6+BOaKGO+5X0pTb2LjWJ8zct+RJtK4WfIxNQJuoof53pYQ",
            "witness.example/lw1+00000000+BOaKGO+5X0pTb2LjWJ8zct+RJtK4WfIxNQJuoof53pYQ",
            "witness.example/lw1+cd18f6d3+BOaKGO",
            "witness.example/lw1+cd18f6d3+!!!",
            "witness.example/lw1+cd18f6d3+",
            "with space+cd18f6d3+BOaKGO+5X0pTb2LjWJ8zct+RJtK4WfIxNQJuoof53pYQ",
        ] {
            assert!(CosignatureVerifier::from_vkey(vkey).is_err(), "{vkey:?}");
            assert!(NoteVerifier::from_vkey(vkey).is_err(), "{vkey:?}");
        }
        // A witness key is not a log key, nor the reverse.
        assert!(NoteVerifier::from_vkey(LW_VKEY).is_err());
    }

    #[test]
    fn ecdsa_log_vkeys_round_trip() {
        let k = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let v = NoteVerifier::ecdsa("log.example", *k.verifying_key()).unwrap();
        let vkey = v.vkey().unwrap();
        let back = NoteVerifier::from_vkey(&vkey).unwrap();
        assert_eq!(back.key_id(), v.key_id());
        assert!(CosignatureVerifier::from_vkey(&vkey).is_err());
    }

    proptest! {
        #[test]
        fn vkey_parsers_never_panic(s in "\\PC{0,120}") {
            let _ = CosignatureVerifier::from_vkey(&s);
            let _ = NoteVerifier::from_vkey(&s);
            let _ = parse_cosignature_line(&s);
        }

        #[test]
        fn vkey_parsers_never_panic_near_valid(cut in 0usize..80, byte in any::<u8>()) {
            let mut s = LW_VKEY.as_bytes().to_vec();
            let i = cut % s.len();
            s[i] = byte;
            if let Ok(s) = String::from_utf8(s) {
                let _ = CosignatureVerifier::from_vkey(&s);
                let _ = NoteVerifier::from_vkey(&s);
            }
        }

        #[test]
        fn cosignatures_verify_for_any_key_and_time(seed in any::<[u8; 32]>(), ts in 1u64..=MAX_TIMESTAMP) {
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            let line = cosign("w", &k, LW_TEXT, ts).unwrap();
            let v = CosignatureVerifier::new("w", k.verifying_key()).unwrap();
            let note = Note::parse(&format!("{LW_TEXT}\n{line}")).unwrap();
            prop_assert_eq!(v.verify(&note).unwrap(), ts);
        }
    }
}
