//! Classic in-toto (securesystemslib) public keys as layouts list them, and their key ids.
//!
//! A key dict is `{"keytype", "scheme", "keyval": {"public"}}`, optionally with the
//! `keyid_hash_algorithms` that securesystemslib before 0.26 wrote, and in a layout's `keys`
//! also its own `keyid`. The key id is the SHA-256 (hex) of the canonical JSON ([`super::cjson`])
//! of the dict without `keyid`: securesystemslib's `compute_default_keyid` hashes
//! `{keytype, scheme, keyval}`, and older versions hashed the dict with
//! `keyid_hash_algorithms: ["sha256", "sha512"]`, so a key keeps whichever form it was written
//! in. Ed25519 keys hold the raw 32-byte key in hex; ECDSA and RSA keys a PEM SPKI.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{IntotoError, cjson};
use crate::HashAlgorithm;
use crate::crypto::{self, KeyAlgorithm, Scheme};

/// `keytype` of Ed25519 keys.
pub const KEYTYPE_ED25519: &str = "ed25519";
/// `keytype` of ECDSA keys.
pub const KEYTYPE_ECDSA: &str = "ecdsa";
/// `keytype` of RSA keys.
pub const KEYTYPE_RSA: &str = "rsa";
/// `scheme` of Ed25519 keys.
pub const SCHEME_ED25519: &str = "ed25519";
/// `scheme` of ECDSA P-256 keys with SHA-256.
pub const SCHEME_ECDSA_P256: &str = "ecdsa-sha2-nistp256";
/// `scheme` of ECDSA P-384 keys with SHA-384.
pub const SCHEME_ECDSA_P384: &str = "ecdsa-sha2-nistp384";
/// `scheme` securesystemslib gives RSA keys by default (RSASSA-PSS with SHA-256).
pub const SCHEME_RSA_PSS_SHA256: &str = "rsassa-pss-sha256";

/// The DER of an Ed25519 `SubjectPublicKeyInfo` before its 32 raw key bytes:
/// `SEQUENCE { AlgorithmIdentifier { id-Ed25519 }, BIT STRING ... }`.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// `keyval` of a public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVal {
    /// Hex of the raw key (Ed25519) or a PEM SPKI (ECDSA, RSA).
    pub public: String,
}

/// A classic public key dict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// The key id, as a layout's `keys` repeats it inside the dict (not hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// `ed25519`, `ecdsa`, `rsa`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256`, `rsassa-pss-sha256`, ...
    pub scheme: String,
    /// Written by securesystemslib before 0.26 (`["sha256", "sha512"]`), and then part of the
    /// hashed dict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid_hash_algorithms: Option<Vec<String>>,
    /// The public key.
    pub keyval: KeyVal,
}

impl PublicKey {
    /// An Ed25519 key from its 32 raw bytes, as `SSlibKey.from_crypto` writes it.
    #[must_use]
    pub fn ed25519(raw: &[u8; 32]) -> Self {
        Self::new(KEYTYPE_ED25519, SCHEME_ED25519, hex::encode(raw))
    }

    /// An ECDSA P-256 key from its PEM SPKI (`-----BEGIN PUBLIC KEY-----`, 64-column lines,
    /// trailing newline: what pyca/cryptography writes and `SSlibKey.from_crypto` keeps).
    #[must_use]
    pub fn ecdsa_p256(pem: &str) -> Self {
        Self::new(KEYTYPE_ECDSA, SCHEME_ECDSA_P256, pem.to_owned())
    }

    /// The key dict securesystemslib's `SSlibKey.from_crypto` makes of a public key (DER
    /// `SubjectPublicKeyInfo`): Ed25519 as raw hex, ECDSA P-256/P-384 and RSA (RSASSA-PSS
    /// SHA-256, its default) as PEM.
    ///
    /// # Errors
    ///
    /// [`IntotoError::BadKey`] for a key that does not parse or of an unsupported algorithm.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, IntotoError> {
        let bad = |reason: &'static str, source: Box<dyn std::error::Error + Send + Sync>| {
            IntotoError::BadKey {
                keytype: "public".into(),
                reason,
                source: Some(source),
            }
        };
        let key = crypto::PublicKey::from_spki_der(der)
            .map_err(|e| bad("not a supported SubjectPublicKeyInfo", Box::new(e)))?;
        let pem = || {
            der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, der)
                .map_err(|e| bad("cannot be written as PEM", Box::new(e)))
        };
        Ok(match key.algorithm() {
            KeyAlgorithm::Ed25519 => {
                use der::Decode as _;
                let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
                    .map_err(|e| bad("not a SubjectPublicKeyInfo", Box::new(e)))?;
                // from_spki_der checked it is 32 bytes.
                let raw: [u8; 32] = spki
                    .subject_public_key
                    .as_bytes()
                    .and_then(|r| r.try_into().ok())
                    .ok_or(IntotoError::BadKey {
                        keytype: KEYTYPE_ED25519.into(),
                        reason: "not 32 bytes",
                        source: None,
                    })?;
                Self::ed25519(&raw)
            }
            KeyAlgorithm::EcdsaP256 => Self::new(KEYTYPE_ECDSA, SCHEME_ECDSA_P256, pem()?),
            KeyAlgorithm::EcdsaP384 => Self::new(KEYTYPE_ECDSA, SCHEME_ECDSA_P384, pem()?),
            KeyAlgorithm::Rsa { .. } => Self::new(KEYTYPE_RSA, SCHEME_RSA_PSS_SHA256, pem()?),
        })
    }

    /// A key dict of any type and scheme (`public`: hex or PEM, as the type writes it).
    #[must_use]
    pub fn new(keytype: &str, scheme: &str, public: String) -> Self {
        PublicKey {
            keyid: None,
            keytype: keytype.to_owned(),
            scheme: scheme.to_owned(),
            keyid_hash_algorithms: None,
            keyval: KeyVal { public },
        }
    }

    /// The key id: SHA-256 hex of the canonical JSON of the dict without `keyid`.
    ///
    /// # Errors
    ///
    /// None in practice (the dict holds only strings); the canonical encoder's error is passed on.
    pub fn compute_keyid(&self) -> Result<String, IntotoError> {
        let unnamed = PublicKey {
            keyid: None,
            ..self.clone()
        };
        let bytes = cjson::to_canonical(&unnamed)?;
        Ok(hex::encode(Sha256::digest(bytes)))
    }

    /// This key with its `keyid` field set to [`Self::compute_keyid`] (the layout form).
    ///
    /// # Errors
    ///
    /// As [`Self::compute_keyid`].
    pub fn with_keyid(mut self) -> Result<Self, IntotoError> {
        self.keyid = Some(self.compute_keyid()?);
        Ok(self)
    }

    /// Checks that a `keyid` inside the dict, if any, is `expected` (the layout's map key).
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] when they differ.
    pub fn check_keyid(&self, expected: &str) -> Result<(), IntotoError> {
        match &self.keyid {
            Some(id) if id != expected => Err(IntotoError::Invalid {
                field: format!("keys.{expected}.keyid"),
                reason: format!("is {id}, not the key's map key"),
            }),
            _ => Ok(()),
        }
    }
}

impl PublicKey {
    /// The verifier this key dict describes, and the signature scheme its `scheme` names
    /// (securesystemslib's: `ed25519`, `ecdsa-sha2-nistp256`/`384`, `rsassa-pss-sha256`/`384`/
    /// `512`, `rsa-pkcs1v15-sha256`/`384`/`512`). ECDSA signatures are DER, RSA-PSS salts are
    /// the digest's length (what securesystemslib's `CryptoSigner` writes).
    ///
    /// # Errors
    ///
    /// [`IntotoError::UnsupportedKey`] for another key type or scheme, or a curve that is not
    /// the scheme's; [`IntotoError::BadKey`] for a key value that does not parse.
    pub fn verifier(&self) -> Result<(crypto::PublicKey, Scheme), IntotoError> {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        let unsupported = || IntotoError::UnsupportedKey {
            keytype: self.keytype.clone(),
            scheme: self.scheme.clone(),
        };
        let bad = |reason: &'static str,
                   source: Option<Box<dyn std::error::Error + Send + Sync>>| {
            IntotoError::BadKey {
                keytype: self.keytype.clone(),
                reason,
                source,
            }
        };
        let (scheme, curve) = match (self.keytype.as_str(), self.scheme.as_str()) {
            (KEYTYPE_ED25519, SCHEME_ED25519) => (Scheme::Ed25519, None),
            (KEYTYPE_ECDSA, SCHEME_ECDSA_P256) => {
                (Scheme::Ecdsa(Sha256), Some(KeyAlgorithm::EcdsaP256))
            }
            (KEYTYPE_ECDSA, SCHEME_ECDSA_P384) => {
                (Scheme::Ecdsa(Sha384), Some(KeyAlgorithm::EcdsaP384))
            }
            (KEYTYPE_RSA, SCHEME_RSA_PSS_SHA256) => (Scheme::RsaPss(Sha256), None),
            (KEYTYPE_RSA, "rsassa-pss-sha384") => (Scheme::RsaPss(Sha384), None),
            (KEYTYPE_RSA, "rsassa-pss-sha512") => (Scheme::RsaPss(Sha512), None),
            (KEYTYPE_RSA, "rsa-pkcs1v15-sha256") => (Scheme::RsaPkcs1(Sha256), None),
            (KEYTYPE_RSA, "rsa-pkcs1v15-sha384") => (Scheme::RsaPkcs1(Sha384), None),
            (KEYTYPE_RSA, "rsa-pkcs1v15-sha512") => (Scheme::RsaPkcs1(Sha512), None),
            _ => return Err(unsupported()),
        };
        let der = if scheme == Scheme::Ed25519 {
            let raw = hex::decode(&self.keyval.public)
                .ok()
                .filter(|r| r.len() == 32)
                .ok_or_else(|| bad("keyval.public is not 32 bytes of hex", None))?;
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend(raw);
            der
        } else {
            let (label, der) = der::pem::decode_vec(self.keyval.public.as_bytes())
                .map_err(|e| bad("keyval.public is not PEM", Some(Box::new(e))))?;
            if label != "PUBLIC KEY" {
                return Err(bad("keyval.public is not a PEM PUBLIC KEY", None));
            }
            der
        };
        let key = crypto::PublicKey::from_spki_der(&der).map_err(|e| {
            bad(
                "keyval.public is not a supported public key",
                Some(Box::new(e)),
            )
        })?;
        let fits = match curve {
            Some(c) => key.algorithm() == c,
            None => match scheme {
                Scheme::Ed25519 => key.algorithm() == KeyAlgorithm::Ed25519,
                _ => matches!(key.algorithm(), KeyAlgorithm::Rsa { .. }),
            },
        };
        if !fits {
            return Err(unsupported());
        }
        Ok((key, scheme))
    }
}

/// Checks that `keyid` is a hex string, as in-toto requires of key ids.
pub(crate) fn check_hex(field: impl FnOnce() -> String, s: &str) -> Result<(), IntotoError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IntotoError::Invalid {
            field: field(),
            reason: format!("{s:?} is not a hex string"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Vectors produced with securesystemslib 1.6.0 and in-toto 3.1.0 from PyPI in a scratch
    /// venv (`python3 -m venv /tmp/sslib && /tmp/sslib/bin/pip install securesystemslib
    /// in-toto==3.1.0`):
    ///
    /// ```python
    /// ed = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    /// SSlibKey.from_crypto(ed)            # .to_dict(), .keyid
    /// p = ec.derive_private_key(0x1234567890abcdef, ec.SECP256R1()).public_key()
    /// SSlibKey.from_crypto(p)             # .to_dict(), .keyid
    /// # the pre-0.26 form: the same ed25519 dict with keyid_hash_algorithms
    /// hashlib.sha256(encode_canonical({..., "keyid_hash_algorithms": ["sha256", "sha512"]})
    ///     .encode()).hexdigest()
    /// ```
    const ED25519_PUBLIC: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    const ED25519_KEYID: &str = "63d00ee3cf4f5c61ad94efa696c68f13b608fe56ecea13fb144a6fd18e9235b9";
    const ED25519_LEGACY_KEYID: &str =
        "607f42135d7855e1145188a58aaf4c055fec1edbd7041680576e486f7ea574d1";
    const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEn62Erq4Iu+9/AQAU2CzvagneKwz4\ncbXODE8dE6WaWTQHy0V2nxBw4sJHD+Wxv+YxM8CwzcZOpL83kajsKgf9Tw==\n-----END PUBLIC KEY-----\n";
    const P256_KEYID: &str = "55445b6b43db73c0371eac481a6ca1d12d6a0fe792c4883ee7f8eccf960ebdd5";

    /// `from_spki_der` makes the dicts `SSlibKey.from_crypto` makes (same key ids).
    #[test]
    fn spki_keys_match_securesystemslib() {
        let (_, der) = der::pem::decode_vec(P256_PEM.as_bytes()).unwrap();
        let ec = PublicKey::from_spki_der(&der).unwrap();
        assert_eq!(ec.compute_keyid().unwrap(), P256_KEYID);
        let raw = hex::decode(ED25519_PUBLIC).unwrap();
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend(raw);
        let ed = PublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(ed.compute_keyid().unwrap(), ED25519_KEYID);
        assert!(PublicKey::from_spki_der(b"not a key").is_err());
    }

    #[test]
    fn keyids_match_securesystemslib() {
        let raw: [u8; 32] = hex::decode(ED25519_PUBLIC).unwrap().try_into().unwrap();
        let ed = PublicKey::ed25519(&raw);
        assert_eq!(ed.compute_keyid().unwrap(), ED25519_KEYID);
        let legacy = PublicKey {
            keyid_hash_algorithms: Some(vec!["sha256".into(), "sha512".into()]),
            ..ed.clone()
        };
        assert_eq!(legacy.compute_keyid().unwrap(), ED25519_LEGACY_KEYID);
        let ec = PublicKey::ecdsa_p256(P256_PEM);
        assert_eq!(ec.compute_keyid().unwrap(), P256_KEYID);
        // The keyid inside the dict is not hashed.
        assert_eq!(
            ec.clone().with_keyid().unwrap().compute_keyid().unwrap(),
            P256_KEYID
        );
    }

    #[test]
    fn parses_the_sslib_dict() {
        let d = format!(
            r#"{{"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {{"public": {}}}, "keyid": "{P256_KEYID}"}}"#,
            serde_json::to_string(P256_PEM).unwrap()
        );
        let k: PublicKey = serde_json::from_str(&d).unwrap();
        assert_eq!(k.compute_keyid().unwrap(), P256_KEYID);
        k.check_keyid(P256_KEYID).unwrap();
        assert!(k.check_keyid(ED25519_KEYID).is_err());
        assert!(
            serde_json::from_str::<PublicKey>(
                r#"{"keytype":"x","scheme":"y","keyval":{"public":"z","private":"w"}}"#
            )
            .is_err()
        );
    }
}
