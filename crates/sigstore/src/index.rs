//! Search-index keys of the signature log (`POST /api/v1/index/retrieve`): the strings an entry
//! is indexed under when it is appended, and the keys a search asks for.
//!
//! Hallmark's own scheme, not Rekor's exact key strings: `<alg>:<hex digest>` (`sha256:...`)
//! for artifact and payload digests, `key:<hex SHA-256 of the DER SPKI>` for a verifier's key,
//! `email:<lowercased address>` and `uri:<uri>` for a certificate's SANs.

use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256};

use crate::HashAlgorithm;
use crate::error::{EntryError, Result};
use crate::key::{San, Verifier};

/// The key of an artifact or payload digest: `<alg>:<hex>` (`hex` is lowercase hex).
#[must_use]
pub fn digest_key(alg: HashAlgorithm, hex: &str) -> String {
    format!("{}:{hex}", alg.name())
}

/// The key of a public key: `key:<hex SHA-256 of the DER SPKI>`.
#[must_use]
pub fn public_key_key(spki_der: &[u8]) -> String {
    format!("key:{}", hex::encode(Sha256::digest(spki_der)))
}

/// The key of an email identity: `email:<address>`, lowercased.
#[must_use]
pub fn email_key(address: &str) -> String {
    format!("email:{}", address.to_ascii_lowercase())
}

/// The key of a SAN: [`email_key`] or `uri:<uri>`.
#[must_use]
pub fn san_key(san: &San) -> String {
    match san {
        San::Email(v) => email_key(v),
        San::Uri(v) => format!("uri:{v}"),
    }
}

/// The keys of a verifier: its key and one per SAN.
pub(crate) fn verifier_keys(verifier: &Verifier, out: &mut Vec<String>) {
    out.push(public_key_key(&verifier.spki_der));
    out.extend(verifier.sans.iter().map(san_key));
}

/// The key a search by `hash` asks for: `sha256:<64 hex digits>` or the bare hex, any case.
///
/// # Errors
///
/// [`EntryError::Hex`] for anything else.
pub fn search_digest_key(hash: &str) -> Result<String> {
    let h = hash.to_ascii_lowercase();
    let hex = h.strip_prefix("sha256:").unwrap_or(&h);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EntryError::Hex {
            field: "hash",
            expected_len: 64,
        });
    }
    Ok(digest_key(HashAlgorithm::Sha256, hex))
}

/// The key a search by `publicKey.content` (once base64-decoded) asks for: a PEM public key,
/// a PEM certificate or a DER SPKI, as [`public_key_key`] indexes it.
///
/// # Errors
///
/// [`EntryError::BadPublicKey`] when `raw` is none of those.
pub fn search_public_key_key(raw: &[u8]) -> Result<String> {
    const FIELD: &str = "publicKey.content";
    let bad = |e: der::Error| EntryError::BadPublicKey {
        field: FIELD,
        reason: e.to_string(),
    };
    let bad_text = |reason: String| EntryError::BadPublicKey {
        field: FIELD,
        reason,
    };
    // PEM is read as an entry's verifier is (`crate::pem`: a preamble, one-line base64 and a
    // chain, leaf first, are accepted), so whatever the log indexed can be searched for.
    let spki = if raw.windows(11).any(|w| w == b"-----BEGIN ") {
        let block = crate::pem::decode_first(raw).map_err(|e| bad_text(e.to_string()))?;
        match block.label.as_str() {
            "CERTIFICATE" => x509_cert::Certificate::from_der(&block.der)
                .map_err(bad)?
                .tbs_certificate()
                .subject_public_key_info()
                .to_der(),
            "PUBLIC KEY" => spki::SubjectPublicKeyInfoOwned::from_der(&block.der)
                .map_err(bad)?
                .to_der(),
            other => {
                return Err(bad_text(format!(
                    "PEM label {other:?} (expected CERTIFICATE or PUBLIC KEY)"
                )));
            }
        }
    } else {
        spki::SubjectPublicKeyInfoOwned::from_der(raw)
            .map_err(bad)?
            .to_der()
    }
    .map_err(bad)?;
    Ok(public_key_key(&spki))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_strings() {
        assert_eq!(digest_key(HashAlgorithm::Sha384, "ab"), "sha384:ab");
        assert_eq!(email_key("Dev@Example.COM"), "email:dev@example.com");
        assert_eq!(
            san_key(&San::Uri("https://Example.com/x".into())),
            "uri:https://Example.com/x"
        );
        assert_eq!(
            public_key_key(b""),
            "key:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let hex = "AB".repeat(32);
        let want = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(search_digest_key(&hex).unwrap(), want);
        assert_eq!(search_digest_key(&format!("SHA256:{hex}")).unwrap(), want);
        for bad in ["", "sha256:ab", "sha512:ab", &"g".repeat(64)] {
            assert!(search_digest_key(bad).is_err(), "{bad}");
        }
        assert!(search_public_key_key(b"-----BEGIN PUBLIC KEY-----\nnope\n").is_err());
        assert!(search_public_key_key(b"\x30\x00").is_err());
    }

    /// A search finds what the log indexed: the verifier PEM forms an entry may carry (a
    /// preamble, a chain with the leaf first) give the leaf certificate's key, as its public key.
    #[test]
    fn searched_pem_forms_match_the_indexed_key() {
        let cert = include_str!("../tests/fixtures/leaf_email.pem");
        let pubkey = include_str!("../tests/fixtures/leaf.pub");
        let want = search_public_key_key(pubkey.as_bytes()).unwrap();
        assert_eq!(search_public_key_key(cert.as_bytes()).unwrap(), want);
        let with_preamble = format!("a comment line\n{cert}");
        assert_eq!(
            search_public_key_key(with_preamble.as_bytes()).unwrap(),
            want
        );
        let other = include_str!("../tests/fixtures/leaf_uri.pem");
        let chain = format!("{cert}{other}");
        assert_eq!(search_public_key_key(chain.as_bytes()).unwrap(), want);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, cert);
        let verifier = Verifier::parse("verifier", &b64).unwrap();
        assert_eq!(public_key_key(&verifier.spki_der), want);
    }
}
