//! Certificate Transparency structures of [RFC 6962](https://www.rfc-editor.org/rfc/rfc6962),
//! built and parsed in one place: signed certificate timestamps and their `digitally-signed`
//! input (§3.2), the embedded SCT list extension (§3.3), the Merkle tree leaf a CT log stores
//! and hashes (§3.4), the tree head signature input (§3.5), `extra_data` of a precertificate
//! entry (§4.6), and the precertificate TBS a verifier rebuilds from a certificate.
//!
//! All structures use the TLS presentation language's encoding ([`crate::tls`]). Decoders take
//! untrusted bytes and return errors, never panic; every decoder rejects trailing bytes.
//!
//! The SCT flow for a precertificate (what Hallmark's CA and CT log do, in order):
//!
//! 1. The CA builds the leaf TBS with the poison extension.
//! 2. The log stores `MerkleTreeLeaf { timestamp, PreCert { issuer_key_hash, tbs } }` where `tbs`
//!    is the TBS *without* the poison, and signs [`sct_signed_data`] of the same fields: that is
//!    the SCT.
//! 3. The CA embeds the SCT in the final certificate's extension 1.3.6.1.4.1.11129.2.4.2
//!    ([`sct_list_extension_value`]). A verifier removes that extension to get the TBS back
//!    ([`reconstruct_precert_tbs`]) and checks the SCT over it ([`verify_sct`]).

use std::fmt;

use der::asn1::{AnyRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use sha2::{Digest, Sha256};

use crate::crypto::{PublicKey, Scheme, SignatureError};
use crate::oid;
use crate::tls::{TlsError, TlsReader, put_u16_vec, put_u24_vec};

/// `LogEntryType` value of an `x509_entry`.
const ENTRY_X509: u16 = 0;
/// `LogEntryType` value of a `precert_entry`.
const ENTRY_PRECERT: u16 = 1;

/// Why a CT structure cannot be built, read or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtError {
    /// A TLS-encoded structure does not decode, or a field is too long to encode.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A certificate to read does not decode.
    #[error("{what} is not a valid X.509 certificate: {source}")]
    BadCertificate {
        /// Which certificate.
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: der::Error,
    },
    /// Encoding a DER structure failed.
    #[error("cannot encode {what}: {source}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's error.
        #[source]
        source: der::Error,
    },
    /// A certificate holds no embedded SCT list extension.
    #[error("certificate has no embedded SCT list (extension 1.3.6.1.4.1.11129.2.4.2)")]
    NoEmbeddedScts,
    /// A precertificate without the poison extension.
    #[error("the precertificate has no poison extension (1.3.6.1.4.1.11129.2.4.3)")]
    NoPoison,
    /// An SCT that cannot be verified (version, hash or signature algorithm, log key).
    #[error("unsupported SCT: {reason}")]
    UnsupportedSct {
        /// What is unsupported.
        reason: String,
    },
    /// An SCT's log id is not the id of the CT log key it is checked against.
    #[error("SCT was issued by log {found}, not by the CT log whose key has id {expected}")]
    SctLogMismatch {
        /// The SCT's log id (hex).
        found: String,
        /// The id of the key it was checked against (hex).
        expected: String,
    },
    /// A signed tree head (`get-sth` JSON) that does not parse.
    #[error("malformed signed tree head: {reason}")]
    BadSth {
        /// What is wrong with it.
        reason: String,
    },
    /// A signed tree head whose signature does not verify with the log's key.
    #[error(
        "the signature of the tree head of size {tree_size} does not verify with the CT log key"
    )]
    SthSignature {
        /// The tree size the head claims.
        tree_size: u64,
    },
    /// An SCT's signature does not verify over the precertificate entry.
    #[error(
        "SCT signature from log {log_id} does not verify over the precertificate (wrong key, \
         wrong issuer, or the certificate was changed)"
    )]
    SctSignature {
        /// The SCT's log id (hex).
        log_id: String,
    },
}

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

impl DigitallySigned {
    /// ECDSA with SHA-256 (what Hallmark's CT log signs with): `der_signature` is a DER
    /// `ECDSA-Sig-Value`.
    #[must_use]
    pub fn ecdsa_sha256(der_signature: Vec<u8>) -> Self {
        DigitallySigned {
            hash: HashAlgorithm::Sha256,
            signature_algorithm: SignatureAlgorithm::Ecdsa,
            signature: der_signature,
        }
    }

    /// Append the TLS encoding: `hash (u8) | signature_algorithm (u8) | u16 signature`.
    ///
    /// # Errors
    /// [`TlsError::TooLong`] for a signature over 65535 bytes.
    pub fn encode_into(&self, w: &mut Vec<u8>) -> Result<(), TlsError> {
        w.push(self.hash.to_u8());
        w.push(self.signature_algorithm.to_u8());
        put_u16_vec(w, "signature", &self.signature)
    }

    /// The TLS encoding (e.g. an STH's `tree_head_signature`).
    ///
    /// # Errors
    /// [`TlsError::TooLong`] for a signature over 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, TlsError> {
        let mut w = Vec::with_capacity(4 + self.signature.len());
        self.encode_into(&mut w)?;
        Ok(w)
    }

    /// Read one `DigitallySigned` from `r`.
    ///
    /// # Errors
    /// [`TlsError::Decode`] for truncation or unknown algorithms.
    pub fn read(r: &mut TlsReader<'_>) -> Result<Self, TlsError> {
        let hash = HashAlgorithm::from_u8(r.u8()?)
            .ok_or_else(|| r.error_before(1, "unknown hash algorithm"))?;
        let signature_algorithm = SignatureAlgorithm::from_u8(r.u8()?)
            .ok_or_else(|| r.error_before(1, "unknown signature algorithm"))?;
        let signature = r.u16_vec()?.to_vec();
        Ok(DigitallySigned {
            hash,
            signature_algorithm,
            signature,
        })
    }

    /// The verification scheme: SHA-256 with ECDSA or RSA PKCS#1 v1.5 (what RFC 6962 logs
    /// use); `None` for anything else.
    #[must_use]
    pub fn scheme(&self) -> Option<Scheme> {
        match (self.hash, self.signature_algorithm) {
            (HashAlgorithm::Sha256, SignatureAlgorithm::Ecdsa) => {
                Some(Scheme::Ecdsa(crate::HashAlgorithm::Sha256))
            }
            (HashAlgorithm::Sha256, SignatureAlgorithm::Rsa) => {
                Some(Scheme::RsaPkcs1(crate::HashAlgorithm::Sha256))
            }
            _ => None,
        }
    }
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
            .field("log_id", &hex::encode(self.log_id))
            .field("timestamp_ms", &self.timestamp_ms)
            .field("extensions", &hex::encode(&self.extensions))
            .field("hash", &self.signature.hash)
            .field("signature_algorithm", &self.signature.signature_algorithm)
            .field("signature", &hex::encode(&self.signature.signature))
            .finish()
    }
}

impl Sct {
    /// The TLS encoding (what goes into a `SignedCertificateTimestampList` entry, and what the
    /// RFC 6962 `add-pre-chain` response carries field by field).
    ///
    /// # Errors
    /// [`CtError::Tls`] if the extensions or signature exceed 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CtError> {
        let mut w = Vec::with_capacity(32 + 8 + 8 + self.signature.signature.len() + 8);
        match self.version {
            SctVersion::V1 => w.push(0),
        }
        w.extend_from_slice(&self.log_id);
        w.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        put_u16_vec(&mut w, "SCT extensions", &self.extensions)?;
        self.signature.encode_into(&mut w)?;
        Ok(w)
    }

    /// Decode a TLS-encoded SCT.
    ///
    /// # Errors
    /// [`CtError::Tls`] for malformed input (including trailing bytes and versions other
    /// than v1).
    pub fn decode(bytes: &[u8]) -> Result<Sct, CtError> {
        let mut r = TlsReader::new("SignedCertificateTimestamp", bytes);
        let sct = Sct::read(&mut r)?;
        r.finish()?;
        Ok(sct)
    }

    fn read(r: &mut TlsReader<'_>) -> Result<Sct, CtError> {
        let version = match r.u8()? {
            0 => SctVersion::V1,
            _ => {
                return Err(r
                    .error_before(1, "unknown SCT version (only v1 is defined)")
                    .into());
            }
        };
        let log_id = r.array::<32>()?;
        let timestamp_ms = r.u64()?;
        let extensions = r.u16_vec()?.to_vec();
        let signature = DigitallySigned::read(r)?;
        Ok(Sct {
            version,
            log_id,
            timestamp_ms,
            extensions,
            signature,
        })
    }
}

/// Encode a `SignedCertificateTimestampList` (RFC 6962 §3.3): a 16-bit-length list of
/// 16-bit-length serialized SCTs.
///
/// # Errors
/// [`CtError::Tls`] if an SCT or the list exceeds 65535 bytes.
pub fn encode_sct_list(scts: &[Sct]) -> Result<Vec<u8>, CtError> {
    let mut inner = Vec::new();
    for sct in scts {
        put_u16_vec(&mut inner, "serialized SCT", &sct.encode()?)?;
    }
    let mut out = Vec::with_capacity(inner.len() + 2);
    put_u16_vec(&mut out, "SCT list", &inner)?;
    Ok(out)
}

/// The SCT list extension's value (extension 1.3.6.1.4.1.11129.2.4.2, RFC 6962 §3.3): a DER
/// OCTET STRING wrapping the TLS-encoded list.
///
/// # Errors
/// [`CtError::Tls`] for an SCT or list over 65535 bytes, [`CtError::Encoding`].
pub fn sct_list_extension_value(scts: &[Sct]) -> Result<Vec<u8>, CtError> {
    let list = encode_sct_list(scts)?;
    let encoding = |source| CtError::Encoding {
        what: "the SCT list extension",
        source,
    };
    OctetString::new(list)
        .and_then(|octets| octets.to_der())
        .map_err(encoding)
}

/// Decode a `SignedCertificateTimestampList`.
///
/// # Errors
/// [`CtError::Tls`] for malformed input.
pub fn decode_sct_list(bytes: &[u8]) -> Result<Vec<Sct>, CtError> {
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
    /// [`CtError::Tls`] for a TBS/certificate over 2^24 - 1 bytes or extensions over 65535.
    pub fn encode(&self) -> Result<Vec<u8>, CtError> {
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
    /// [`CtError::Tls`] for malformed input, unknown versions, leaf or entry types.
    pub fn decode(bytes: &[u8]) -> Result<Self, CtError> {
        let mut r = TlsReader::new("MerkleTreeLeaf", bytes);
        if r.u8()? != 0 {
            return Err(r
                .error_before(1, "unknown MerkleTreeLeaf version (only v1 is defined)")
                .into());
        }
        if r.u8()? != 0 {
            return Err(r
                .error_before(1, "unknown leaf type (only timestamped_entry is defined)")
                .into());
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
            _ => return Err(r.error_before(2, "unknown log entry type").into()),
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
    /// [`CtError::Tls`] for a certificate or chain over 2^24 - 1 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, CtError> {
        let chain = encode_certificate_chain(&self.precertificate_chain)?;
        let mut w = Vec::with_capacity(self.pre_certificate.len() + chain.len() + 3);
        put_u24_vec(&mut w, "precertificate", &self.pre_certificate)?;
        w.extend_from_slice(&chain);
        Ok(w)
    }

    /// Decode a TLS-encoded `PrecertChainEntry`.
    ///
    /// # Errors
    /// [`CtError::Tls`] for malformed input.
    pub fn decode(bytes: &[u8]) -> Result<Self, CtError> {
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

/// The bytes an SCT for a precertificate signs (RFC 6962 §3.2, `digitally-signed struct`):
/// `sct_version v1(0) | signature_type certificate_timestamp(0) | timestamp (u64) |
/// entry_type precert_entry(1) | issuer_key_hash[32] | u24 tbs | u16 extensions`.
///
/// `tbs_der` is the precertificate's TBS without the poison extension; `extensions` the SCT's
/// (empty for RFC 6962 logs, the leaf index for Static CT logs).
///
/// # Errors
/// [`TlsError::TooLong`] if `tbs_der` exceeds 2^24 - 1 bytes or `extensions` 65535.
pub fn sct_signed_data(
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
    extensions: &[u8],
) -> Result<Vec<u8>, TlsError> {
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

/// The bytes a signed tree head signs (RFC 6962 §3.5, `TreeHeadSignature`): `version v1(0) |
/// signature_type tree_hash(1) | timestamp (u64) | tree_size (u64) | sha256_root_hash[32]`.
#[must_use]
pub fn sth_signed_data(timestamp_ms: u64, tree_size: u64, root_hash: &[u8; 32]) -> Vec<u8> {
    let mut w = Vec::with_capacity(50);
    w.push(0); // version v1
    w.push(1); // signature_type tree_hash
    w.extend_from_slice(&timestamp_ms.to_be_bytes());
    w.extend_from_slice(&tree_size.to_be_bytes());
    w.extend_from_slice(root_hash);
    w
}

/// A signed tree head as `get-sth` answers it (RFC 6962 §4.3): tree size, timestamp, root hash
/// and the log's `TreeHeadSignature` over [`sth_signed_data`], in JSON with the root and the
/// TLS-encoded `DigitallySigned` in base64.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedTreeHead {
    /// Tree size.
    pub tree_size: u64,
    /// When the head was signed, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The Merkle tree root hash.
    pub root_hash: [u8; 32],
    /// The log's signature.
    pub signature: DigitallySigned,
}

/// The JSON members of a `get-sth` answer (other members are ignored, as RFC 6962 clients do).
#[derive(serde::Serialize, serde::Deserialize)]
struct SthJson {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

impl SignedTreeHead {
    /// Parses a `get-sth` answer. Untrusted input: every field is checked (a 32-byte root, a
    /// `DigitallySigned` with no trailing bytes); the signature is not verified (see
    /// [`SignedTreeHead::verify`]).
    ///
    /// # Errors
    /// [`CtError::BadSth`] naming the field.
    pub fn from_json(json: &[u8]) -> Result<Self, CtError> {
        use base64::Engine as _;
        let bad = |reason: String| CtError::BadSth { reason };
        let raw: SthJson =
            serde_json::from_slice(json).map_err(|e| bad(format!("not get-sth JSON: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let root = b64
            .decode(&raw.sha256_root_hash)
            .map_err(|e| bad(format!("sha256_root_hash is not base64: {e}")))?;
        let root_hash: [u8; 32] = root.as_slice().try_into().map_err(|_| {
            bad(format!(
                "sha256_root_hash is {} bytes long, want 32",
                root.len()
            ))
        })?;
        let sig = b64
            .decode(&raw.tree_head_signature)
            .map_err(|e| bad(format!("tree_head_signature is not base64: {e}")))?;
        let mut r = TlsReader::new("tree_head_signature", &sig);
        let signature = DigitallySigned::read(&mut r)
            .and_then(|s| r.finish().map(|()| s))
            .map_err(|e| bad(format!("tree_head_signature: {e}")))?;
        Ok(SignedTreeHead {
            tree_size: raw.tree_size,
            timestamp_ms: raw.timestamp,
            root_hash,
            signature,
        })
    }

    /// The `get-sth` JSON.
    ///
    /// # Errors
    /// [`CtError::Tls`] for a signature over 65535 bytes.
    pub fn to_json(&self) -> Result<String, CtError> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let raw = SthJson {
            tree_size: self.tree_size,
            timestamp: self.timestamp_ms,
            sha256_root_hash: b64.encode(self.root_hash),
            tree_head_signature: b64.encode(self.signature.encode()?),
        };
        serde_json::to_string(&raw).map_err(|e| CtError::BadSth {
            reason: format!("encoding: {e}"),
        })
    }

    /// Verifies the signature with the log's key over [`sth_signed_data`].
    ///
    /// # Errors
    /// [`CtError::SthSignature`], or [`CtError::UnsupportedSct`] for an algorithm RFC 6962 logs
    /// do not use.
    pub fn verify(&self, ct_key: &PublicKey) -> Result<(), CtError> {
        let scheme = self
            .signature
            .scheme()
            .ok_or_else(|| CtError::UnsupportedSct {
                reason: format!(
                    "tree head signed with {:?} and {:?}",
                    self.signature.hash, self.signature.signature_algorithm
                ),
            })?;
        let data = sth_signed_data(self.timestamp_ms, self.tree_size, &self.root_hash);
        ct_key
            .verify(scheme, &data, &self.signature.signature)
            .map_err(|_| CtError::SthSignature {
                tree_size: self.tree_size,
            })
    }
}

/// `ASN.1Cert certificate_chain<0..2^24-1>` (RFC 6962 §4.6): each DER certificate with a
/// 24-bit length, the whole list with another.
///
/// # Errors
/// [`TlsError::TooLong`] for a certificate or chain over 2^24 - 1 bytes.
pub fn encode_certificate_chain(certs: &[Vec<u8>]) -> Result<Vec<u8>, TlsError> {
    let mut body = Vec::new();
    for cert in certs {
        put_u24_vec(&mut body, "chain certificate", cert)?;
    }
    let mut out = Vec::with_capacity(body.len() + 3);
    put_u24_vec(&mut out, "certificate chain", &body)?;
    Ok(out)
}

/// Verify an SCT's signature for a precertificate entry with the CT log's key (the log id is
/// not compared: see [`verify_sct`]). ECDSA P-256 and P-384 logs (SHA-256) and RSA logs
/// (PKCS#1 v1.5, SHA-256).
///
/// # Errors
/// [`CtError::SctSignature`], [`CtError::UnsupportedSct`], [`CtError::Tls`] for a TBS too long.
pub fn verify_sct_signature(
    sct: &Sct,
    ct_key: &PublicKey,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<(), CtError> {
    let scheme = sct
        .signature
        .scheme()
        .ok_or_else(|| CtError::UnsupportedSct {
            reason: format!(
                "{:?} with {:?}",
                sct.signature.hash, sct.signature.signature_algorithm
            ),
        })?;
    let data = sct_signed_data(sct.timestamp_ms, issuer_key_hash, tbs_der, &sct.extensions)?;
    match ct_key.verify(scheme, &data, &sct.signature.signature) {
        Ok(()) => Ok(()),
        Err(SignatureError::Mismatch) => Err(CtError::SctSignature {
            log_id: hex::encode(sct.log_id),
        }),
        Err(e) => Err(CtError::UnsupportedSct {
            reason: format!("{scheme} from a {} log key: {e}", ct_key.algorithm()),
        }),
    }
}

/// Verify an SCT for a precertificate entry against the CT log's public key (DER
/// `SubjectPublicKeyInfo`): the log id must be the key's, and the signature must verify over
/// [`sct_signed_data`] of the SCT's timestamp and extensions, `issuer_key_hash` and `tbs_der`.
///
/// # Errors
/// [`CtError::SctLogMismatch`], [`CtError::SctSignature`], [`CtError::UnsupportedSct`].
pub fn verify_sct(
    sct: &Sct,
    ct_public_key_der: &[u8],
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
) -> Result<(), CtError> {
    let expected = log_id(ct_public_key_der);
    if sct.log_id != expected {
        return Err(CtError::SctLogMismatch {
            found: hex::encode(sct.log_id),
            expected: hex::encode(expected),
        });
    }
    let key = PublicKey::from_spki_der(ct_public_key_der).map_err(|e| CtError::UnsupportedSct {
        reason: format!("the CT log key: {e}"),
    })?;
    verify_sct_signature(sct, &key, issuer_key_hash, tbs_der)
}

/// `[3]`, the explicit tag of a TBS certificate's extensions.
const EXTENSIONS_TAG: Tag = Tag::ContextSpecific {
    constructed: true,
    number: TagNumber(3),
};

/// The TBS of `cert_der` without extension `id`, every other byte kept as it is (the
/// extensions field is dropped when it held nothing else); `None` when the TBS has no such
/// extension.
fn tbs_without_extension(
    cert_der: &[u8],
    id: &ObjectIdentifier,
) -> Result<Option<Vec<u8>>, CtError> {
    let bad = |source| CtError::BadCertificate {
        what: "the certificate",
        source,
    };
    let encoding = |source| CtError::Encoding {
        what: "the precertificate TBS",
        source,
    };
    let cert = AnyRef::from_der(cert_der).map_err(bad)?;
    let tbs: AnyRef<'_> = SliceReader::new(cert.value())
        .and_then(|mut r| r.decode())
        .map_err(bad)?;
    let mut r = SliceReader::new(tbs.value()).map_err(bad)?;
    let mut body = Vec::with_capacity(tbs.value().len());
    let mut found = false;
    while !r.is_finished() {
        let element = r.tlv_bytes().map_err(bad)?;
        let any = AnyRef::from_der(element).map_err(bad)?;
        if any.tag() != EXTENSIONS_TAG {
            body.extend_from_slice(element);
            continue;
        }
        let exts = AnyRef::from_der(any.value()).map_err(bad)?;
        let mut er = SliceReader::new(exts.value()).map_err(bad)?;
        let mut kept = Vec::with_capacity(exts.value().len());
        while !er.is_finished() {
            let ext = er.tlv_bytes().map_err(bad)?;
            let ext_id: ObjectIdentifier = AnyRef::from_der(ext)
                .and_then(|e| SliceReader::new(e.value()))
                .and_then(|mut xr| xr.decode())
                .map_err(bad)?;
            if ext_id == *id {
                found = true;
            } else {
                kept.extend_from_slice(ext);
            }
        }
        if !kept.is_empty() {
            let seq = AnyRef::new(Tag::Sequence, &kept)
                .and_then(|s| s.to_der())
                .map_err(encoding)?;
            let tagged = AnyRef::new(EXTENSIONS_TAG, &seq)
                .and_then(|t| t.to_der())
                .map_err(encoding)?;
            body.extend_from_slice(&tagged);
        }
    }
    if !found {
        return Ok(None);
    }
    AnyRef::new(Tag::Sequence, &body)
        .and_then(|t| t.to_der())
        .map(Some)
        .map_err(encoding)
}

/// The precertificate TBS an embedded SCT signed, rebuilt from the final certificate (DER) by
/// removing the SCT list extension (RFC 6962 §3.2) and keeping every other byte: what
/// verifiers pass to [`verify_sct`].
///
/// # Errors
/// [`CtError::BadCertificate`], [`CtError::NoEmbeddedScts`] if the certificate has no SCT list.
pub fn reconstruct_precert_tbs(final_cert_der: &[u8]) -> Result<Vec<u8>, CtError> {
    tbs_without_extension(final_cert_der, &oid::CT_SCT_LIST)?.ok_or(CtError::NoEmbeddedScts)
}

/// The TBS a CT log stores for a precertificate (DER): its TBS without the poison extension
/// (RFC 6962 §3.1), every other byte kept.
///
/// # Errors
/// [`CtError::BadCertificate`], [`CtError::NoPoison`].
pub fn precert_tbs_without_poison(precert_der: &[u8]) -> Result<Vec<u8>, CtError> {
    tbs_without_extension(precert_der, &oid::CT_POISON)?.ok_or(CtError::NoPoison)
}

/// The SCTs embedded in a certificate (DER), from extension 1.3.6.1.4.1.11129.2.4.2.
///
/// # Errors
/// [`CtError::BadCertificate`], [`CtError::NoEmbeddedScts`], [`CtError::Tls`].
pub fn embedded_scts(final_cert_der: &[u8]) -> Result<Vec<Sct>, CtError> {
    let bad = |source| CtError::BadCertificate {
        what: "the certificate",
        source,
    };
    let cert = x509_cert::Certificate::from_der(final_cert_der).map_err(bad)?;
    let ext = cert
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == oid::CT_SCT_LIST))
        .ok_or(CtError::NoEmbeddedScts)?;
    let list = OctetString::from_der(ext.extn_value.as_bytes()).map_err(|source| {
        CtError::BadCertificate {
            what: "the certificate's SCT list extension",
            source,
        }
    })?;
    decode_sct_list(list.as_bytes())
}

/// Verify a final certificate's embedded SCT(s): every SCT from the CT log with
/// `ct_public_key_der` must verify over the reconstructed precertificate TBS, with the issuer
/// key hash of `issuer_public_key_der`. Returns the verified SCTs (at least one).
///
/// # Errors
/// [`CtError::NoEmbeddedScts`] if no SCT is from this log, and the errors of [`verify_sct`].
pub fn verify_embedded_scts(
    final_cert_der: &[u8],
    issuer_public_key_der: &[u8],
    ct_public_key_der: &[u8],
) -> Result<Vec<Sct>, CtError> {
    let tbs = reconstruct_precert_tbs(final_cert_der)?;
    let ikh = issuer_key_hash(issuer_public_key_der);
    let id = log_id(ct_public_key_der);
    let ours: Vec<Sct> = embedded_scts(final_cert_der)?
        .into_iter()
        .filter(|s| s.log_id == id)
        .collect();
    if ours.is_empty() {
        return Err(CtError::NoEmbeddedScts);
    }
    for sct in &ours {
        verify_sct(sct, ct_public_key_der, &ikh, &tbs)?;
    }
    Ok(ours)
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
        let data = sct_signed_data(0x0102, &[9; 32], b"tbs", &[]).unwrap();
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1];
        expected.extend_from_slice(&[9; 32]);
        expected.extend_from_slice(&[0, 0, 3]);
        expected.extend_from_slice(b"tbs");
        expected.extend_from_slice(&[0, 0]);
        assert_eq!(data, expected);
    }

    #[test]
    fn sth_signed_data_layout() {
        let data = sth_signed_data(0x0102, 7, &[9; 32]);
        let mut expected = vec![0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7];
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(data, expected);
    }

    #[test]
    fn digitally_signed_layout() {
        let ds = DigitallySigned::ecdsa_sha256(vec![0x30, 0x00]);
        assert_eq!(ds.encode().unwrap(), vec![4, 3, 0, 2, 0x30, 0x00]);
        let enc = ds.encode().unwrap();
        let mut r = TlsReader::new("DigitallySigned", &enc);
        assert_eq!(DigitallySigned::read(&mut r).unwrap(), ds);
        r.finish().unwrap();
    }

    #[test]
    fn certificate_chain_layout() {
        let enc = encode_certificate_chain(&[b"ab".to_vec(), b"c".to_vec()]).unwrap();
        assert_eq!(enc, vec![0, 0, 9, 0, 0, 2, b'a', b'b', 0, 0, 1, b'c']);
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
            Err(CtError::Tls(TlsError::Decode {
                reason: "trailing bytes",
                ..
            }))
        ));
        for n in 0..enc.len() {
            assert!(Sct::decode(&enc[..n]).is_err());
        }
    }

    #[test]
    fn too_long_is_an_error_not_a_panic() {
        let mut sct = sample_sct();
        sct.signature.signature = vec![0; 70_000];
        assert!(matches!(
            sct.encode(),
            Err(CtError::Tls(TlsError::TooLong { .. }))
        ));
        assert!(matches!(
            sct_signed_data(0, &[0; 32], &vec![0; crate::tls::MAX_U24 + 1], &[]),
            Err(TlsError::TooLong { .. })
        ));
    }
}
