//! Classic in-toto signing keys: a PEM PKCS#8 private key file, signing as in-toto-python's
//! `CryptoSigner` does (securesystemslib 1.x): Ed25519 (`ed25519`), ECDSA P-256 with SHA-256
//! (`ecdsa-sha2-nistp256`, DER signature) and P-384 (`ecdsa-sha2-nistp384`), RSA-PSS with
//! SHA-256 and a salt as long as the digest (`rsassa-pss-sha256`). The public key dict and its
//! key id are `hallmark_sigstore::intoto::PublicKey`'s.

use std::path::Path;

use anyhow::{Context, Result, bail};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use hallmark_sigstore::intoto::{Metablock, PublicKey, Signature};
use serde::Serialize;

enum Pair {
    Ed25519(signature::Ed25519KeyPair),
    Ecdsa(signature::EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
}

/// A classic signing key and its public key dict.
pub(crate) struct ClassicKey {
    pair: Pair,
    public: PublicKey,
    keyid: String,
}

impl std::fmt::Debug for ClassicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassicKey")
            .field("keyid", &self.keyid)
            .field("scheme", &self.public.scheme)
            .finish_non_exhaustive()
    }
}

impl ClassicKey {
    /// Loads an unencrypted PEM PKCS#8 private key.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (label, der) = der::pem::decode_vec(&pem)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{} is not a PEM file", path.display()))?;
        match label {
            "PRIVATE KEY" => {}
            "ENCRYPTED PRIVATE KEY" => bail!(
                "{} is an encrypted private key: decrypt it first (openssl pkcs8 -in KEY -out PLAIN.pem)",
                path.display()
            ),
            other => bail!(
                "{} holds a {other:?}, not a PKCS#8 \"PRIVATE KEY\" (convert it with openssl pkcs8 -topk8 -nocrypt)",
                path.display()
            ),
        }
        Self::from_pkcs8(&der).with_context(|| format!("the key in {}", path.display()))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let from_spki = |spki: &[u8]| -> Result<PublicKey> { Ok(PublicKey::from_spki_der(spki)?) };
        let (pair, public) =
            if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                let raw: [u8; 32] = k
                    .public_key()
                    .as_ref()
                    .try_into()
                    .context("an Ed25519 public key is 32 bytes")?;
                (Pair::Ed25519(k), PublicKey::ed25519(&raw))
            } else if let Ok(k) =
                signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
                    .or_else(|_| {
                        signature::EcdsaKeyPair::from_pkcs8(
                            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                            der,
                        )
                    })
            {
                let spki = k.public_key().as_der().context("encoding the public key")?;
                let public = from_spki(spki.as_ref())?;
                (Pair::Ecdsa(k), public)
            } else if let Ok(k) = signature::RsaKeyPair::from_pkcs8(der) {
                let spki = k.public_key().as_der().context("encoding the public key")?;
                let public = from_spki(spki.as_ref())?;
                (Pair::Rsa(k), public)
            } else {
                bail!("not an Ed25519, ECDSA P-256/P-384 or RSA PKCS#8 private key");
            };
        let keyid = public.compute_keyid()?;
        Ok(ClassicKey {
            pair,
            public,
            keyid,
        })
    }

    /// The key id (securesystemslib's default: SHA-256 of the canonical public key dict).
    pub(crate) fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The public key dict.
    pub(crate) fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` as securesystemslib's `CryptoSigner.sign` does; returns the signature.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        Ok(match &self.pair {
            Pair::Ed25519(k) => k.sign(message).as_ref().to_vec(),
            Pair::Ecdsa(k) => k
                .sign(&rng, message)
                .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PSS_SHA256, &rng, message, &mut sig)
                    .map_err(|_| anyhow::anyhow!("RSA-PSS signing failed"))?;
                sig
            }
        })
    }

    /// Adds this key's signature over the canonical `signed` bytes, replacing an earlier
    /// signature by the same key (as in-toto-python's `create_signature`).
    pub(crate) fn sign_metablock<T: Serialize>(&self, block: &mut Metablock<T>) -> Result<()> {
        let sig = self.sign(&block.signed_bytes()?)?;
        block.signatures.retain(|s| s.keyid != self.keyid);
        block.signatures.push(Signature {
            keyid: self.keyid.clone(),
            sig: hex::encode(sig),
            cert: None,
            bundle: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hallmark_sigstore::intoto::Link;

    #[test]
    fn signatures_verify_with_the_spec_layer() {
        let rng = SystemRandom::new();
        let ed = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ec = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        for der in [ed.as_ref().to_vec(), ec.as_ref().to_vec()] {
            let key = ClassicKey::from_pkcs8(&der).unwrap();
            let mut block = Metablock::new(Link::new("build"));
            key.sign_metablock(&mut block).unwrap();
            block.verify_signature(key.keyid(), key.public()).unwrap();
        }
        assert!(ClassicKey::from_pkcs8(b"junk").is_err());
    }
}
