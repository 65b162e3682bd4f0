//! Public keys and signature checks (aws-lc-rs): ECDSA P-256/P-384, RSA PKCS#1 v1.5 and PSS,
//! Ed25519; signature algorithms named by X.509/CMS `AlgorithmIdentifier`s.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as lc, UnparsedPublicKey, VerificationAlgorithm};
use der::asn1::ObjectIdentifier;
use hallmark_sigstore::{HashAlgorithm, KeyType};

use crate::asn1;
use crate::error::{Document, Result, VerifyError};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Computes a digest.
pub(crate) fn hash(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    let alg = match alg {
        HashAlgorithm::Sha384 => &digest::SHA384,
        HashAlgorithm::Sha512 => &digest::SHA512,
        _ => &digest::SHA256,
    };
    digest::digest(alg, data).as_ref().to_vec()
}

/// SHA-256 as an array.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// The hash algorithm named by a digest `AlgorithmIdentifier` OID.
pub(crate) fn hash_from_oid(oid: &ObjectIdentifier) -> Option<HashAlgorithm> {
    match *oid {
        SHA256 => Some(HashAlgorithm::Sha256),
        SHA384 => Some(HashAlgorithm::Sha384),
        SHA512 => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// A signature scheme with its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Ecdsa(HashAlgorithm),
    RsaPkcs1(HashAlgorithm),
    RsaPss(HashAlgorithm),
    Ed25519,
}

impl Scheme {
    /// The scheme of a signature `AlgorithmIdentifier` (its DER element). `digest` is the CMS
    /// `digestAlgorithm`, used when the signature algorithm names only the key type.
    pub(crate) fn from_algorithm_identifier(
        alg_der: &[u8],
        digest: Option<HashAlgorithm>,
    ) -> Option<Scheme> {
        let seq = asn1::read_only(alg_der, asn1::SEQUENCE)?;
        let mut r = asn1::Reader::new(seq.value);
        let oid = asn1::oid(r.next(asn1::OID)?)?;
        Some(match oid {
            ECDSA_SHA256 => Scheme::Ecdsa(HashAlgorithm::Sha256),
            ECDSA_SHA384 => Scheme::Ecdsa(HashAlgorithm::Sha384),
            ECDSA_SHA512 => Scheme::Ecdsa(HashAlgorithm::Sha512),
            SHA256_WITH_RSA => Scheme::RsaPkcs1(HashAlgorithm::Sha256),
            SHA384_WITH_RSA => Scheme::RsaPkcs1(HashAlgorithm::Sha384),
            SHA512_WITH_RSA => Scheme::RsaPkcs1(HashAlgorithm::Sha512),
            ED25519 => Scheme::Ed25519,
            RSA_ENCRYPTION => Scheme::RsaPkcs1(digest?),
            ID_EC_PUBLIC_KEY => Scheme::Ecdsa(digest?),
            RSASSA_PSS => {
                // RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT AlgorithmIdentifier. The
                // default (SHA-1) is not supported.
                let params = asn1::read_only(r.next_any()?.raw, asn1::SEQUENCE)?;
                let mut p = asn1::Reader::new(params.value);
                let h = p.next(asn1::context(0))?;
                let h = asn1::read_only(h.value, asn1::SEQUENCE)?;
                let h_oid = asn1::oid(asn1::Reader::new(h.value).next(asn1::OID)?)?;
                Scheme::RsaPss(hash_from_oid(&h_oid)?)
            }
            _ => return None,
        })
    }
}

/// A public key (DER `SubjectPublicKeyInfo`) of a supported type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    spki_der: Vec<u8>,
    key_type: KeyType,
    /// What aws-lc-rs takes: the SPKI, except for Ed25519 (the raw 32-byte key).
    lc_bytes: Vec<u8>,
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (ECDSA P-256/P-384, RSA, Ed25519).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] for undecodable DER or an unsupported key type.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        Self::parse(Document::PublicKey, "$", der)
    }

    /// Parses a PEM `PUBLIC KEY` (what `key.pub` files hold) or `RSA PUBLIC KEY` block.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Parse`] for bad PEM, another label, or what [`PublicKey::from_spki_der`]
    /// rejects.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let blocks = crate::json::pem_blocks(pem)
            .map_err(|e| VerifyError::parse(Document::PublicKey, "$", e))?;
        let [(label, der)] = blocks.as_slice() else {
            return Err(VerifyError::parse(
                Document::PublicKey,
                "$",
                format!("{} PEM blocks, expected one", blocks.len()),
            ));
        };
        let der = der.as_slice();
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa(Document::PublicKey, "$", der),
            other => Err(VerifyError::parse(
                Document::PublicKey,
                "$",
                format!("PEM label {other:?}, expected PUBLIC KEY"),
            )),
        }
    }

    pub(crate) fn parse(document: Document, field: &str, der: &[u8]) -> Result<Self> {
        let key_type = KeyType::of_spki("key", der).map_err(|e| {
            VerifyError::parse(document, field, format!("not a supported public key: {e}"))
        })?;
        let lc_bytes = if key_type == KeyType::Ed25519 {
            ed25519_raw(der)
                .ok_or_else(|| VerifyError::parse(document, field, "Ed25519 key is not 32 bytes"))?
        } else {
            der.to_vec()
        };
        Ok(PublicKey {
            spki_der: der.to_vec(),
            key_type,
            lc_bytes,
        })
    }

    /// An RSA key given as a PKCS#1 `RSAPublicKey` (trusted roots' `PKCS1_RSA_PKCS1V5`).
    pub(crate) fn from_pkcs1_rsa(document: Document, field: &str, der: &[u8]) -> Result<Self> {
        asn1::read_only(der, asn1::SEQUENCE)
            .ok_or_else(|| VerifyError::parse(document, field, "not a DER RSAPublicKey"))?;
        let mut alg = Vec::new();
        asn1::write(&mut alg, asn1::OID, RSA_ENCRYPTION.as_bytes());
        alg.extend_from_slice(&[0x05, 0x00]);
        let mut bits = vec![0u8];
        bits.extend_from_slice(der);
        let mut body = Vec::new();
        asn1::write(&mut body, asn1::SEQUENCE, &alg);
        asn1::write(&mut body, asn1::BIT_STRING, &bits);
        let mut spki = Vec::new();
        asn1::write(&mut spki, asn1::SEQUENCE, &body);
        Self::parse(document, field, &spki)
    }

    /// The DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key type.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn check(&self, alg: &'static dyn VerificationAlgorithm, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(alg, &self.lc_bytes)
            .verify(msg, sig)
            .is_ok()
    }

    /// Verifies `sig` over `msg` with an explicit scheme.
    pub(crate) fn verify_scheme(&self, scheme: Scheme, msg: &[u8], sig: &[u8]) -> bool {
        use HashAlgorithm::{Sha256, Sha384};
        let alg: &'static dyn VerificationAlgorithm = match (self.key_type, scheme) {
            (KeyType::EcdsaP256, Scheme::Ecdsa(Sha256)) => &lc::ECDSA_P256_SHA256_ASN1,
            (KeyType::EcdsaP256, Scheme::Ecdsa(Sha384)) => &lc::ECDSA_P256_SHA384_ASN1,
            (KeyType::EcdsaP256, Scheme::Ecdsa(_)) => &lc::ECDSA_P256_SHA512_ASN1,
            (KeyType::EcdsaP384, Scheme::Ecdsa(Sha256)) => &lc::ECDSA_P384_SHA256_ASN1,
            (KeyType::EcdsaP384, Scheme::Ecdsa(Sha384)) => &lc::ECDSA_P384_SHA384_ASN1,
            (KeyType::EcdsaP384, Scheme::Ecdsa(_)) => &lc::ECDSA_P384_SHA512_ASN1,
            (KeyType::Rsa, Scheme::RsaPkcs1(Sha256)) => &lc::RSA_PKCS1_2048_8192_SHA256,
            (KeyType::Rsa, Scheme::RsaPkcs1(Sha384)) => &lc::RSA_PKCS1_2048_8192_SHA384,
            (KeyType::Rsa, Scheme::RsaPkcs1(_)) => &lc::RSA_PKCS1_2048_8192_SHA512,
            (KeyType::Rsa, Scheme::RsaPss(Sha256)) => &lc::RSA_PSS_2048_8192_SHA256,
            (KeyType::Rsa, Scheme::RsaPss(Sha384)) => &lc::RSA_PSS_2048_8192_SHA384,
            (KeyType::Rsa, Scheme::RsaPss(_)) => &lc::RSA_PSS_2048_8192_SHA512,
            (KeyType::Ed25519, Scheme::Ed25519) => &lc::ED25519,
            _ => return false,
        };
        self.check(alg, msg, sig)
    }

    /// The schemes a key of this type signs messages with, in the order to try them: what
    /// Sigstore clients use for DSSE, SETs, checkpoints and artifacts.
    fn default_schemes(&self) -> &'static [Scheme] {
        match self.key_type {
            KeyType::EcdsaP256 => &[Scheme::Ecdsa(HashAlgorithm::Sha256)],
            KeyType::EcdsaP384 => &[
                Scheme::Ecdsa(HashAlgorithm::Sha384),
                Scheme::Ecdsa(HashAlgorithm::Sha256),
            ],
            KeyType::Rsa => &[
                Scheme::RsaPkcs1(HashAlgorithm::Sha256),
                Scheme::RsaPss(HashAlgorithm::Sha256),
            ],
            _ => &[Scheme::Ed25519],
        }
    }

    /// Verifies `sig` over `msg` with the key type's usual schemes.
    pub(crate) fn verify_message(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.default_schemes()
            .iter()
            .any(|s| self.verify_scheme(*s, msg, sig))
    }

    /// Verifies `sig` over an already computed digest. Ed25519 cannot (it signs messages).
    pub(crate) fn verify_prehashed(
        &self,
        alg: HashAlgorithm,
        digest_bytes: &[u8],
        sig: &[u8],
    ) -> bool {
        use HashAlgorithm::{Sha256, Sha384};
        let (digest_alg, lc_alg): (_, &'static dyn VerificationAlgorithm) =
            match (self.key_type, alg) {
                (KeyType::EcdsaP256, Sha256) => (&digest::SHA256, &lc::ECDSA_P256_SHA256_ASN1),
                (KeyType::EcdsaP256, Sha384) => (&digest::SHA384, &lc::ECDSA_P256_SHA384_ASN1),
                (KeyType::EcdsaP256, _) => (&digest::SHA512, &lc::ECDSA_P256_SHA512_ASN1),
                (KeyType::EcdsaP384, Sha256) => (&digest::SHA256, &lc::ECDSA_P384_SHA256_ASN1),
                (KeyType::EcdsaP384, Sha384) => (&digest::SHA384, &lc::ECDSA_P384_SHA384_ASN1),
                (KeyType::EcdsaP384, _) => (&digest::SHA512, &lc::ECDSA_P384_SHA512_ASN1),
                (KeyType::Rsa, Sha256) => (&digest::SHA256, &lc::RSA_PKCS1_2048_8192_SHA256),
                (KeyType::Rsa, Sha384) => (&digest::SHA384, &lc::RSA_PKCS1_2048_8192_SHA384),
                (KeyType::Rsa, _) => (&digest::SHA512, &lc::RSA_PKCS1_2048_8192_SHA512),
                _ => return false,
            };
        let Ok(d) = digest::Digest::import_less_safe(digest_bytes, digest_alg) else {
            return false;
        };
        let key = UnparsedPublicKey::new(lc_alg, &self.lc_bytes);
        if key.verify_digest(&d, sig).is_ok() {
            return true;
        }
        // RSA keys may sign with PSS instead.
        let pss: &'static dyn VerificationAlgorithm = match alg {
            Sha256 => &lc::RSA_PSS_2048_8192_SHA256,
            Sha384 => &lc::RSA_PSS_2048_8192_SHA384,
            _ => &lc::RSA_PSS_2048_8192_SHA512,
        };
        self.key_type == KeyType::Rsa
            && UnparsedPublicKey::new(pss, &self.lc_bytes)
                .verify_digest(&d, sig)
                .is_ok()
    }
}

/// The 32 raw key bytes of an Ed25519 `SubjectPublicKeyInfo`.
fn ed25519_raw(spki: &[u8]) -> Option<Vec<u8>> {
    let seq = asn1::read_only(spki, asn1::SEQUENCE)?;
    let mut r = asn1::Reader::new(seq.value);
    r.next(asn1::SEQUENCE)?;
    let bits = r.next(asn1::BIT_STRING)?;
    match bits.value.split_first() {
        Some((0, key)) if key.len() == 32 => Some(key.to_vec()),
        _ => None,
    }
}
