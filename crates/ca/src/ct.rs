//! Certificate Transparency structures of [RFC 6962](https://www.rfc-editor.org/rfc/rfc6962):
//! signed certificate timestamps (§3.2), the Merkle tree leaf a CT log stores and hashes (§3.4),
//! the `extra_data` of a precertificate entry (§4.6), and the embedded SCT list extension
//! (§3.3).
//!
//! All structures use the TLS presentation language's encoding (RFC 5246 §4): big-endian
//! integers, variable-length vectors prefixed by their byte length in 1, 2 or 3 bytes. Decoders
//! take untrusted bytes and return errors, never panic; every decoder rejects trailing bytes.
//!
//! The SCT flow for a precertificate (what Hallmark's CA and CT log do, in order):
//!
//! 1. The CA builds the leaf TBS with the poison extension (`Prepared` in this crate).
//! 2. The log stores `MerkleTreeLeaf { timestamp, PreCert { issuer_key_hash, tbs } }` where `tbs`
//!    is the TBS *without* the poison, and signs [`sct_signed_data`] of the same fields:
//!    that is the SCT ([`sign_sct`]).
//! 3. The CA embeds the SCT in the final certificate's extension 1.3.6.1.4.1.11129.2.4.2.
//!    A verifier removes that extension to get the TBS back ([`reconstruct_precert_tbs`]) and
//!    checks the SCT over it ([`verify_sct`]).

use std::fmt;

use aws_lc_rs::signature::{self as lc, UnparsedPublicKey};
use der::Decode;
use der::asn1::OctetString;
use sha2::{Digest, Sha256};
use signature::Signer;

use crate::error::{CaError, Result};
use crate::oid;
use crate::pubkey::{self, KeyAlgorithm};
use crate::x509::{self, Tbs};

/// `LogEntryType` value of an `x509_entry`.
const ENTRY_X509: u16 = 0;
/// `LogEntryType` value of a `precert_entry`.
const ENTRY_PRECERT: u16 = 1;
/// Largest value of a 16-bit length prefix.
const MAX_U16: usize = 0xffff;
/// Largest value of a 24-bit length prefix.
const MAX_U24: usize = 0xff_ffff;

/// The CT log id: SHA-256 of the log's DER `SubjectPublicKeyInfo` (RFC 6962 §3.2).
#[must_use]
pub fn log_id(public_key_der: &[u8]) -> [u8; 32] {
    Sha256::digest(public_key_der).into()
}

/// The `issuer_key_hash` of a precertificate entry: SHA-256 of the issuing CA's DER
/// `SubjectPublicKeyInfo` (RFC 6962 §3.2).
#[must_use]
pub fn issuer_key_hash(issuer_public_key_der: &[u8]) -> [u8; 32] {
    Sha256::digest(issuer_public_key_der).into()
}

/// SCT version. RFC 6962 defines only v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SctVersion {
    /// `v1(0)`.
    V1,
}

/// TLS `HashAlgorithm` (RFC 5246 §7.4.1.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `none(0)`.
    None,
    /// `md5(1)`.
    Md5,
    /// `sha1(2)`.
    Sha1,
    /// `sha224(3)`.
    Sha224,
    /// `sha256(4)`: what RFC 6962 logs use.
    Sha256,
    /// `sha384(5)`.
    Sha384,
    /// `sha512(6)`.
    Sha512,
}

impl HashAlgorithm {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::None,
            1 => Self::Md5,
            2 => Self::Sha1,
            3 => Self::Sha224,
            4 => Self::Sha256,
            5 => Self::Sha384,
            6 => Self::Sha512,
            _ => return None,
        })
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Md5 => 1,
            Self::Sha1 => 2,
            Self::Sha224 => 3,
            Self::Sha256 => 4,
            Self::Sha384 => 5,
            Self::Sha512 => 6,
        }
    }
}

/// TLS `SignatureAlgorithm` (RFC 5246 §7.4.1.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `anonymous(0)`.
    Anonymous,
    /// `rsa(1)`: RSASSA-PKCS1-v1_5.
    Rsa,
    /// `dsa(2)`.
    Dsa,
    /// `ecdsa(3)`: a DER `ECDSA-Sig-Value`. What Hallmark's CT log uses.
    Ecdsa,
}

impl SignatureAlgorithm {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Anonymous,
            1 => Self::Rsa,
            2 => Self::Dsa,
            3 => Self::Ecdsa,
            _ => return None,
        })
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Anonymous => 0,
            Self::Rsa => 1,
            Self::Dsa => 2,
            Self::Ecdsa => 3,
        }
    }
}

/// TLS `DigitallySigned` (RFC 5246 §4.7): the algorithms and the signature bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DigitallySigned {
    /// The hash algorithm (SHA-256 for RFC 6962 logs).
    pub hash: HashAlgorithm,
    /// The signature algorithm (ECDSA for Hallmark's log).
    pub signature_algorithm: SignatureAlgorithm,
    /// The signature; for ECDSA a DER `ECDSA-Sig-Value`.
    pub signature: Vec<u8>,
}

/// A `SignedCertificateTimestamp` (RFC 6962 §3.2): a CT log's promise to include an entry.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sct {
    /// Always [`SctVersion::V1`].
    pub version: SctVersion,
    /// The log's id: SHA-256 of its public key ([`log_id`]).
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch, as the log saw the entry.
    pub timestamp_ms: u64,
    /// `CtExtensions`; empty in RFC 6962.
    pub extensions: Vec<u8>,
    /// The log's signature over [`sct_signed_data`].
    pub signature: DigitallySigned,
}

impl fmt::Debug for Sct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sct")
            .field("version", &self.version)
            .field("log_id", &hex(&self.log_id))
            .field("timestamp_ms", &self.timestamp_ms)
            .field("extensions", &hex(&self.extensions))
            .field("hash", &self.signature.hash)
            .field("signature_algorithm", &self.signature.signature_algorithm)
            .field("signature", &hex(&self.signature.signature))
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Sct {
    /// The TLS encoding (what goes into a `SignedCertificateTimestampList` entry, and what the
    /// RFC 6962 `add-pre-chain` response carries field by field).
    ///
    /// # Errors
    /// [`CaError::TooLong`] if the extensions or signature exceed 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Vec::with_capacity(32 + 8 + 8 + self.signature.signature.len() + 8);
        match self.version {
            SctVersion::V1 => w.push(0),
        }
        w.extend_from_slice(&self.log_id);
        w.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        put_u16_vec(&mut w, "SCT extensions", &self.extensions)?;
        w.push(self.signature.hash.to_u8());
        w.push(self.signature.signature_algorithm.to_u8());
        put_u16_vec(&mut w, "SCT signature", &self.signature.signature)?;
        Ok(w)
    }

    /// Decode a TLS-encoded SCT.
    ///
    /// # Errors
    /// [`CaError::TlsDecode`] for malformed input (including trailing bytes and versions other
    /// than v1).
    pub fn decode(bytes: &[u8]) -> Result<Sct> {
        let mut r = TlsReader::new("SignedCertificateTimestamp", bytes);
        let sct = Sct::read(&mut r)?;
        r.finish()?;
        Ok(sct)
    }

    fn read(r: &mut TlsReader<'_>) -> Result<Sct> {
        let version = match r.u8()? {
            0 => SctVersion::V1,
            _ => return Err(r.error_before(1, "unknown SCT version (only v1 is defined)")),
        };
        let log_id = r.array::<32>()?;
        let timestamp_ms = r.u64()?;
        let extensions = r.u16_vec()?.to_vec();
        let hash = HashAlgorithm::from_u8(r.u8()?)
            .ok_or_else(|| r.error_before(1, "unknown hash algorithm"))?;
        let signature_algorithm = SignatureAlgorithm::from_u8(r.u8()?)
            .ok_or_else(|| r.error_before(1, "unknown signature algorithm"))?;
        let signature = r.u16_vec()?.to_vec();
        Ok(Sct {
            version,
            log_id,
            timestamp_ms,
            extensions,
            signature: DigitallySigned {
                hash,
                signature_algorithm,
                signature,
            },
        })
    }
}

/// Encode a `SignedCertificateTimestampList` (RFC 6962 §3.3): a 16-bit-length list of
/// 16-bit-length serialized SCTs.
///
/// # Errors
/// [`CaError::TooLong`] if an SCT or the list exceeds 65535 bytes.
pub fn encode_sct_list(scts: &[Sct]) -> Result<Vec<u8>> {
    let mut inner = Vec::new();
    for sct in scts {
        put_u16_vec(&mut inner, "serialized SCT", &sct.encode()?)?;
    }
    let mut out = Vec::with_capacity(inner.len() + 2);
    put_u16_vec(&mut out, "SCT list", &inner)?;
    Ok(out)
}

/// Decode a `SignedCertificateTimestampList`.
///
/// # Errors
/// [`CaError::TlsDecode`] for malformed input.
pub fn decode_sct_list(bytes: &[u8]) -> Result<Vec<Sct>> {
    let mut r = TlsReader::new("SignedCertificateTimestampList", bytes);
    let list = r.u16_vec()?;
    r.finish()?;
    let mut r = TlsReader::new("SignedCertificateTimestampList", list);
    let mut scts = Vec::new();
    while !r.is_empty() {
        let one = r.u16_vec()?;
        let mut inner = TlsReader::new("SignedCertificateTimestamp", one);
        let sct = Sct::read(&mut inner)?;
        inner.finish()?;
        scts.push(sct);
    }
    Ok(scts)
}

/// The bytes an SCT for a precertificate signs (RFC 6962 §3.2, `digitally-signed struct`):
/// `sct_version(0) | signature_type certificate_timestamp(0) | timestamp (u64) |
/// entry_type precert_entry(1) | issuer_key_hash[32] | u24 length | tbs | u16 extensions length
/// (0)`.
///
/// `tbs_der` is the precertificate's TBS without the poison extension.
///
/// # Errors
/// [`CaError::TooLong`] if `tbs_der` exceeds 2^24 - 1 bytes.
pub fn sct_signed_data(
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<Vec<u8>> {
    signed_data(timestamp_ms, issuer_key_hash, tbs_der, &[])
}

fn signed_data(
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
    extensions: &[u8],
) -> Result<Vec<u8>> {
    let mut w = Vec::with_capacity(tbs_der.len() + 56 + extensions.len());
    w.push(0); // sct_version v1
    w.push(0); // signature_type certificate_timestamp
    w.extend_from_slice(&timestamp_ms.to_be_bytes());
    w.extend_from_slice(&ENTRY_PRECERT.to_be_bytes());
    w.extend_from_slice(issuer_key_hash);
    put_u24_vec(&mut w, "TBS certificate", tbs_der)?;
    put_u16_vec(&mut w, "SCT extensions", extensions)?;
    Ok(w)
}

/// Sign an SCT for a precertificate entry with the CT log's key (ECDSA P-256, SHA-256, DER
/// signature — what every Sigstore client accepts).
///
/// `log_id` is [`log_id`] of the signer's public key; `tbs_der` the TBS without the poison.
///
/// # Errors
/// [`CaError::Signer`] if the key fails (503 when the HSM is away), [`CaError::TooLong`].
pub fn sign_sct<S>(
    ct_signer: &S,
    log_id: [u8; 32],
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<Sct>
where
    S: Signer<p256::ecdsa::DerSignature> + ?Sized,
{
    let data = sct_signed_data(timestamp_ms, issuer_key_hash, tbs_der)?;
    let sig = ct_signer
        .try_sign(&data)
        .map_err(|e| CaError::signer("signing the SCT", e))?;
    Ok(Sct {
        version: SctVersion::V1,
        log_id,
        timestamp_ms,
        extensions: Vec::new(),
        signature: DigitallySigned {
            hash: HashAlgorithm::Sha256,
            signature_algorithm: SignatureAlgorithm::Ecdsa,
            signature: sig.as_bytes().to_vec(),
        },
    })
}

/// Verify an SCT for a precertificate entry against the CT log's public key (DER
/// `SubjectPublicKeyInfo`): the log id must be the key's, and the signature must verify over
/// `sct_signed_data(sct.timestamp_ms, issuer_key_hash, tbs_der)` (with the SCT's extensions).
/// Supports ECDSA P-256 and P-384 logs (SHA-256) and RSA logs (PKCS#1 v1.5, SHA-256).
///
/// # Errors
/// [`CaError::SctLogMismatch`], [`CaError::SctSignature`], [`CaError::UnsupportedSct`].
pub fn verify_sct(
    sct: &Sct,
    ct_public_key_der: &[u8],
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<()> {
    let expected = log_id(ct_public_key_der);
    if sct.log_id != expected {
        return Err(CaError::SctLogMismatch {
            found: hex(&sct.log_id),
            expected: hex(&expected),
        });
    }
    let key = pubkey::decode_public_key("the CT log key", ct_public_key_der).map_err(|e| {
        CaError::UnsupportedSct {
            reason: e.to_string(),
        }
    })?;
    let alg: &'static dyn lc::VerificationAlgorithm = match (
        sct.signature.hash,
        sct.signature.signature_algorithm,
        key.algorithm,
    ) {
        (HashAlgorithm::Sha256, SignatureAlgorithm::Ecdsa, KeyAlgorithm::EcdsaP256) => {
            &lc::ECDSA_P256_SHA256_ASN1
        }
        (HashAlgorithm::Sha256, SignatureAlgorithm::Ecdsa, KeyAlgorithm::EcdsaP384) => {
            &lc::ECDSA_P384_SHA256_ASN1
        }
        (HashAlgorithm::Sha256, SignatureAlgorithm::Rsa, KeyAlgorithm::Rsa { .. }) => {
            &lc::RSA_PKCS1_2048_8192_SHA256
        }
        (hash, sig, key) => {
            return Err(CaError::UnsupportedSct {
                reason: format!("{hash:?} with {sig:?} from a {key} log key"),
            });
        }
    };
    let data = signed_data(sct.timestamp_ms, issuer_key_hash, tbs_der, &sct.extensions)?;
    UnparsedPublicKey::new(alg, ct_public_key_der)
        .verify(&data, &sct.signature.signature)
        .map_err(|_| CaError::SctSignature {
            log_id: hex(&sct.log_id),
        })
}

/// The entry a `MerkleTreeLeaf` timestamps (RFC 6962 §3.4, `LogEntryType` and `signed_entry`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogEntry {
    /// `x509_entry(0)`: a final certificate (DER).
    X509 {
        /// The certificate's DER.
        certificate: Vec<u8>,
    },
    /// `precert_entry(1)`: a precertificate's TBS (without the poison) and its issuer's key
    /// hash.
    Precert {
        /// SHA-256 of the issuing CA's DER `SubjectPublicKeyInfo`.
        issuer_key_hash: [u8; 32],
        /// The TBS certificate without the poison extension.
        tbs_certificate: Vec<u8>,
    },
}

/// `MerkleTreeLeaf` (RFC 6962 §3.4) of version v1 and type `timestamped_entry`: exactly what a
/// CT log stores and hashes (leaf hash = SHA-256(0x00 || encoding)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerkleTreeLeaf {
    /// The SCT's timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The logged entry.
    pub entry: LogEntry,
    /// `CtExtensions` (empty in RFC 6962).
    pub extensions: Vec<u8>,
}

impl MerkleTreeLeaf {
    /// The leaf of a precertificate entry.
    #[must_use]
    pub fn precert(timestamp_ms: u64, issuer_key_hash: [u8; 32], tbs_certificate: Vec<u8>) -> Self {
        MerkleTreeLeaf {
            timestamp_ms,
            entry: LogEntry::Precert {
                issuer_key_hash,
                tbs_certificate,
            },
            extensions: Vec::new(),
        }
    }

    /// The TLS encoding: `version v1(0) | leaf_type timestamped_entry(0) | timestamp (u64) |
    /// entry_type (u16) | signed_entry | u16 extensions`, where a precert's `signed_entry` is
    /// `issuer_key_hash[32] | u24 tbs` and an x509 entry's is `u24 certificate`.
    ///
    /// # Errors
    /// [`CaError::TooLong`] for a TBS/certificate over 2^24 - 1 bytes or extensions over 65535.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Vec::with_capacity(64 + self.extensions.len());
        w.push(0); // version v1
        w.push(0); // leaf_type timestamped_entry
        w.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        match &self.entry {
            LogEntry::X509 { certificate } => {
                w.extend_from_slice(&ENTRY_X509.to_be_bytes());
                put_u24_vec(&mut w, "certificate", certificate)?;
            }
            LogEntry::Precert {
                issuer_key_hash,
                tbs_certificate,
            } => {
                w.extend_from_slice(&ENTRY_PRECERT.to_be_bytes());
                w.extend_from_slice(issuer_key_hash);
                put_u24_vec(&mut w, "TBS certificate", tbs_certificate)?;
            }
        }
        put_u16_vec(&mut w, "CT extensions", &self.extensions)?;
        Ok(w)
    }

    /// Decode a TLS-encoded `MerkleTreeLeaf` (for `get-entries`).
    ///
    /// # Errors
    /// [`CaError::TlsDecode`] for malformed input, unknown versions, leaf or entry types.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = TlsReader::new("MerkleTreeLeaf", bytes);
        if r.u8()? != 0 {
            return Err(r.error_before(1, "unknown MerkleTreeLeaf version (only v1 is defined)"));
        }
        if r.u8()? != 0 {
            return Err(r.error_before(1, "unknown leaf type (only timestamped_entry is defined)"));
        }
        let timestamp_ms = r.u64()?;
        let entry = match r.u16()? {
            ENTRY_X509 => LogEntry::X509 {
                certificate: r.u24_vec()?.to_vec(),
            },
            ENTRY_PRECERT => LogEntry::Precert {
                issuer_key_hash: r.array::<32>()?,
                tbs_certificate: r.u24_vec()?.to_vec(),
            },
            _ => return Err(r.error_before(2, "unknown log entry type")),
        };
        let extensions = r.u16_vec()?.to_vec();
        r.finish()?;
        Ok(MerkleTreeLeaf {
            timestamp_ms,
            entry,
            extensions,
        })
    }
}

/// `PrecertChainEntry` (RFC 6962 §4.6): the `extra_data` of a precertificate entry in
/// `get-entries` — the signed precertificate and the chain to the root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrecertChainEntry {
    /// The precertificate (DER, with the poison, signed by the issuing CA).
    pub pre_certificate: Vec<u8>,
    /// The chain: the issuing CA certificate first, up to the root (DER each).
    pub precertificate_chain: Vec<Vec<u8>>,
}

impl PrecertChainEntry {
    /// The TLS encoding: `u24 pre_certificate | u24 (list of u24 certificates)`.
    ///
    /// # Errors
    /// [`CaError::TooLong`] for a certificate or chain over 2^24 - 1 bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut chain = Vec::new();
        for cert in &self.precertificate_chain {
            put_u24_vec(&mut chain, "chain certificate", cert)?;
        }
        let mut w = Vec::with_capacity(self.pre_certificate.len() + chain.len() + 6);
        put_u24_vec(&mut w, "precertificate", &self.pre_certificate)?;
        put_u24_vec(&mut w, "precertificate chain", &chain)?;
        Ok(w)
    }

    /// Decode a TLS-encoded `PrecertChainEntry`.
    ///
    /// # Errors
    /// [`CaError::TlsDecode`] for malformed input.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = TlsReader::new("PrecertChainEntry", bytes);
        let pre_certificate = r.u24_vec()?.to_vec();
        let chain = r.u24_vec()?;
        r.finish()?;
        let mut c = TlsReader::new("PrecertChainEntry chain", chain);
        let mut precertificate_chain = Vec::new();
        while !c.is_empty() {
            precertificate_chain.push(c.u24_vec()?.to_vec());
        }
        Ok(PrecertChainEntry {
            pre_certificate,
            precertificate_chain,
        })
    }
}

/// Decode a certificate's TBS for editing; `what` names it in errors.
fn decode_tbs(what: &'static str, cert_der: &[u8]) -> Result<Tbs> {
    let split = x509::split_signed(cert_der).map_err(|e| CaError::BadCertificate {
        what,
        detail: e.to_string(),
    })?;
    Tbs::from_der(split.tbs_der).map_err(|e| CaError::BadCertificate {
        what,
        detail: e.to_string(),
    })
}

/// The precertificate TBS an embedded SCT signed, rebuilt from the final certificate (DER) by
/// removing the SCT list extension (RFC 6962 §3.2): what verifiers pass to [`verify_sct`].
///
/// # Errors
/// [`CaError::BadCertificate`], [`CaError::NoEmbeddedScts`] if the certificate has no SCT list.
pub fn reconstruct_precert_tbs(final_cert_der: &[u8]) -> Result<Vec<u8>> {
    let mut tbs = decode_tbs("the certificate", final_cert_der)?;
    let exts = tbs.extensions.as_mut().ok_or(CaError::NoEmbeddedScts)?;
    let before = exts.len();
    exts.retain(|e| e.extn_id != oid::CT_SCT_LIST);
    if exts.len() == before {
        return Err(CaError::NoEmbeddedScts);
    }
    if exts.is_empty() {
        tbs.extensions = None;
    }
    tbs.encode()
}

/// The SCTs embedded in a certificate (DER), from extension 1.3.6.1.4.1.11129.2.4.2.
///
/// # Errors
/// [`CaError::BadCertificate`], [`CaError::NoEmbeddedScts`], [`CaError::TlsDecode`].
pub fn embedded_scts(final_cert_der: &[u8]) -> Result<Vec<Sct>> {
    let tbs = decode_tbs("the certificate", final_cert_der)?;
    let ext = x509::find_extension(tbs.extensions.as_ref(), &oid::CT_SCT_LIST)
        .ok_or(CaError::NoEmbeddedScts)?;
    let list =
        OctetString::from_der(ext.extn_value.as_bytes()).map_err(|e| CaError::BadCertificate {
            what: "the certificate's SCT list extension",
            detail: e.to_string(),
        })?;
    decode_sct_list(list.as_bytes())
}

/// Verify a final certificate's embedded SCT(s): every SCT from the CT log with
/// `ct_public_key_der` must verify over the reconstructed precertificate TBS, with the issuer
/// key hash of `issuer_public_key_der`. Returns the verified SCTs (at least one).
///
/// # Errors
/// [`CaError::NoEmbeddedScts`] if no SCT is from this log, and the errors of [`verify_sct`].
pub fn verify_embedded_scts(
    final_cert_der: &[u8],
    issuer_public_key_der: &[u8],
    ct_public_key_der: &[u8],
) -> Result<Vec<Sct>> {
    let tbs = reconstruct_precert_tbs(final_cert_der)?;
    let ikh = issuer_key_hash(issuer_public_key_der);
    let id = log_id(ct_public_key_der);
    let ours: Vec<Sct> = embedded_scts(final_cert_der)?
        .into_iter()
        .filter(|s| s.log_id == id)
        .collect();
    if ours.is_empty() {
        return Err(CaError::NoEmbeddedScts);
    }
    for sct in &ours {
        verify_sct(sct, ct_public_key_der, &ikh, &tbs)?;
    }
    Ok(ours)
}

/// The SCT list extension's value for one SCT: a DER OCTET STRING wrapping the TLS list.
pub(crate) fn sct_list_extension_value(sct: &Sct) -> Result<Vec<u8>> {
    let list = encode_sct_list(std::slice::from_ref(sct))?;
    let octets =
        OctetString::new(list).map_err(|e| CaError::encoding("the SCT list extension", e))?;
    der::Encode::to_der(&octets).map_err(|e| CaError::encoding("the SCT list extension", e))
}

fn put_u16_vec(w: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len()).map_err(|_| CaError::TooLong {
        what,
        len: bytes.len(),
        max: MAX_U16,
    })?;
    w.extend_from_slice(&len.to_be_bytes());
    w.extend_from_slice(bytes);
    Ok(())
}

fn put_u24_vec(w: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_U24 {
        return Err(CaError::TooLong {
            what,
            len: bytes.len(),
            max: MAX_U24,
        });
    }
    let len = u32::try_from(bytes.len()).map_err(|_| CaError::TooLong {
        what,
        len: bytes.len(),
        max: MAX_U24,
    })?;
    w.extend_from_slice(&len.to_be_bytes()[1..]);
    w.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over TLS-encoded bytes that reports where decoding failed.
struct TlsReader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> TlsReader<'a> {
    fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        TlsReader {
            what,
            bytes,
            pos: 0,
        }
    }

    fn error_at(&self, offset: usize, reason: &'static str) -> CaError {
        CaError::TlsDecode {
            what: self.what,
            offset,
            reason,
        }
    }

    /// An error about the `n` bytes just read.
    fn error_before(&self, n: usize, reason: &'static str) -> CaError {
        self.error_at(self.pos.saturating_sub(n), reason)
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.error_at(self.pos, "truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u24(&mut self) -> Result<usize> {
        let [a, b, c] = self.array::<3>()?;
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn u16_vec(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn u24_vec(&mut self) -> Result<&'a [u8]> {
        let len = self.u24()?;
        self.take(len)
    }

    fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error_at(self.pos, "trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn sample_sct() -> Sct {
        Sct {
            version: SctVersion::V1,
            log_id: [7; 32],
            timestamp_ms: 1_700_000_000_123,
            extensions: vec![],
            signature: DigitallySigned {
                hash: HashAlgorithm::Sha256,
                signature_algorithm: SignatureAlgorithm::Ecdsa,
                signature: vec![0x30, 0x06, 2, 1, 1, 2, 1, 2],
            },
        }
    }

    #[test]
    fn sct_layout_is_rfc6962() {
        let enc = sample_sct().encode().unwrap();
        assert_eq!(enc[0], 0);
        assert_eq!(&enc[1..33], &[7; 32]);
        assert_eq!(&enc[33..41], &1_700_000_000_123u64.to_be_bytes());
        assert_eq!(&enc[41..43], &[0, 0]);
        assert_eq!(&enc[43..45], &[4, 3]);
        assert_eq!(&enc[45..47], &[0, 8]);
        assert_eq!(enc.len(), 47 + 8);
        assert_eq!(Sct::decode(&enc).unwrap(), sample_sct());
    }

    #[test]
    fn signed_data_layout() {
        let data = sct_signed_data(0x0102, &[9; 32], b"tbs").unwrap();
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1];
        expected.extend_from_slice(&[9; 32]);
        expected.extend_from_slice(&[0, 0, 3]);
        expected.extend_from_slice(b"tbs");
        expected.extend_from_slice(&[0, 0]);
        assert_eq!(data, expected);
    }

    #[test]
    fn leaf_layout() {
        let leaf = MerkleTreeLeaf::precert(0x0102, [9; 32], b"tbs".to_vec());
        let enc = leaf.encode().unwrap();
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1];
        expected.extend_from_slice(&[9; 32]);
        expected.extend_from_slice(&[0, 0, 3]);
        expected.extend_from_slice(b"tbs");
        expected.extend_from_slice(&[0, 0]);
        assert_eq!(enc, expected);
        assert_eq!(MerkleTreeLeaf::decode(&enc).unwrap(), leaf);
    }

    #[test]
    fn decoders_reject_trailing_and_truncated() {
        let enc = sample_sct().encode().unwrap();
        let mut long = enc.clone();
        long.push(0);
        assert!(matches!(
            Sct::decode(&long),
            Err(CaError::TlsDecode {
                reason: "trailing bytes",
                ..
            })
        ));
        for n in 0..enc.len() {
            assert!(Sct::decode(&enc[..n]).is_err());
        }
    }

    #[test]
    fn too_long_is_an_error_not_a_panic() {
        let mut sct = sample_sct();
        sct.signature.signature = vec![0; 70_000];
        assert!(matches!(sct.encode(), Err(CaError::TooLong { .. })));
        assert!(matches!(
            sct_signed_data(0, &[0; 32], &vec![0; MAX_U24 + 1]),
            Err(CaError::TooLong { .. })
        ));
    }
}
