//! RFC 3161 time-stamp protocol, the authority's side: requests in (DER `TimeStampReq`, or the
//! JSON form of [sigstore/timestamp-authority](https://github.com/sigstore/timestamp-authority)),
//! `TSTInfo`, the CMS `SignedData` token and the `TimeStampResp` out.
//!
//! Specifications: [RFC 3161](https://www.rfc-editor.org/rfc/rfc3161) (TSP),
//! [RFC 5652](https://www.rfc-editor.org/rfc/rfc5652) (CMS `SignedData`),
//! [RFC 5035](https://www.rfc-editor.org/rfc/rfc5035) (ESS `SigningCertificateV2`).
//!
//! | piece | what Hallmark does |
//! | --- | --- |
//! | request | version 1; `messageImprint` SHA-256, SHA-384 or SHA-512 (parameters absent or NULL), digest of that length; `reqPolicy` must be the authority's policy when present; `nonce` echoed (at most [`MAX_NONCE_BYTES`]); `certReq` honoured; any extension is refused (`unacceptedExtension`: RFC 3161 §2.4.1 says a server SHALL refuse extensions it does not recognise, and Hallmark recognises none) |
//! | JSON form | `{"artifactHash": base64 digest, "hashAlgorithm": "sha256"\|"sha384"\|"sha512", "certificates": bool, "nonce": integer, "tsaPolicyOID": "1.2.3"}`, as the Sigstore TSA reads it (unknown fields ignored, as Go's `encoding/json` does); the nonce is a non-negative JSON integer of at most 64 bits |
//! | `TSTInfo` | version 1, the authority's policy, the request's imprint, a 128-bit random serial, `genTime` in whole seconds with `accuracy` 1 s (the clock is read, then truncated: the true time is within a second after `genTime`), `ordering` false, the nonce |
//! | token | `SignedData` v3 over `id-ct-TSTInfo`; one `SignerInfo` (v1, issuer and serial of the TSA leaf), digest SHA-256, signed attributes `contentType`, `messageDigest`, ESS `signingCertificateV2` (SHA-256 of the leaf, with issuer and serial); ECDSA P-256 with SHA-256 by any RustCrypto [`Signer`]; certificates (the leaf and any intermediates, never the root) only when the request asks |
//! | response | `granted` with the token, or `rejection` with a `failInfo` bit ([`FailureInfo`]) and a status string |
//!
//! The CMS structures come from RustCrypto's `cms` crate; the TSP structures are declared here
//! with `der`'s derive (RustCrypto's `x509-tsp` is still on the `der` 0.7 generation).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{
    Any, BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec, Uint,
    Utf8StringRef,
};
use der::{Decode, Encode, Sequence};
use sha2::Digest as _;
use signature::{SignatureEncoding, Signer};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use crate::HashAlgorithm;
use crate::oid;

/// 1.3.6.1.4.1.57264.2: the Sigstore timestamp authority's default policy, Hallmark's default.
pub const DEFAULT_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");
/// 1.2.840.113549.1.9.16.1.4: `id-ct-TSTInfo`, the token's content type.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// 1.2.840.113549.1.7.2: `id-signedData`.
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// 1.2.840.113549.1.9.3: the `contentType` attribute.
pub const ATTR_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// 1.2.840.113549.1.9.4: the `messageDigest` attribute.
pub const ATTR_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// 1.2.840.113549.1.9.16.2.47: the ESS `signingCertificateV2` attribute.
pub const ATTR_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// Media type of a DER `TimeStampReq`.
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
/// Media type of a DER `TimeStampResp`.
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";
/// The longest nonce echoed (bytes of the INTEGER): RFC 3161 suggests 64 bits; 32 bytes leaves
/// room for any client, and a bound keeps a request from making a large token.
pub const MAX_NONCE_BYTES: usize = 32;
/// `accuracy` of every `genTime`: whole seconds, truncated.
pub const ACCURACY: Duration = Duration::from_secs(1);

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    /// The hash algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The digest.
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    /// `v1`.
    pub version: u8,
    /// What to stamp.
    pub message_imprint: MessageImprint,
    /// The policy the requester wants.
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    /// Echoed in the token.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// Whether the token should carry the signing certificate.
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    /// Request extensions.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] OPTIONAL, micros [1] OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    /// Seconds.
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    /// Milliseconds (1..999).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds (1..999).
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    /// `v1`.
    pub version: u8,
    /// The authority's policy.
    pub policy: ObjectIdentifier,
    /// The request's imprint.
    pub message_imprint: MessageImprint,
    /// Unique per token.
    pub serial_number: Uint,
    /// When.
    pub gen_time: GeneralizedTime,
    /// How precisely.
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    /// Whether tokens can be ordered by `genTime` alone.
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    /// The request's nonce.
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    /// The authority's name.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    /// Extensions.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `PKIStatusInfo` (RFC 3161 §2.4.2, from RFC 4210).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    /// `granted(0)`, `grantedWithMods(1)`, `rejection(2)`, ...
    pub status: u8,
    /// `PKIFreeText`: UTF-8 texts.
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    /// `PKIFailureInfo`: a named bit string.
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    /// The status.
    pub status: PkiStatusInfo,
    /// The token, when granted.
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<ContentInfo>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// `ESSCertIDv2` with the default hash algorithm (SHA-256, so left out).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// `PKIStatus` values.
const STATUS_GRANTED: u8 = 0;
const STATUS_REJECTION: u8 = 2;

/// `PKIFailureInfo` bits a rejection carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureInfo {
    /// `badAlg(0)`: unrecognized or unsupported algorithm.
    BadAlg,
    /// `badRequest(2)`: transaction not permitted or supported.
    BadRequest,
    /// `badDataFormat(5)`: the data submitted has the wrong format.
    BadDataFormat,
    /// `timeNotAvailable(14)`: the TSA's time source is not available.
    TimeNotAvailable,
    /// `unacceptedPolicy(15)`: the requested policy is not supported.
    UnacceptedPolicy,
    /// `unacceptedExtension(16)`: the requested extension is not supported.
    UnacceptedExtension,
    /// `systemFailure(25)`: the request cannot be handled due to system failure.
    SystemFailure,
}

impl FailureInfo {
    /// The bit number.
    #[must_use]
    pub fn bit(self) -> u8 {
        match self {
            Self::BadAlg => 0,
            Self::BadRequest => 2,
            Self::BadDataFormat => 5,
            Self::TimeNotAvailable => 14,
            Self::UnacceptedPolicy => 15,
            Self::UnacceptedExtension => 16,
            Self::SystemFailure => 25,
        }
    }

    /// The RFC's name (`badAlg`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::BadAlg => "badAlg",
            Self::BadRequest => "badRequest",
            Self::BadDataFormat => "badDataFormat",
            Self::TimeNotAvailable => "timeNotAvailable",
            Self::UnacceptedPolicy => "unacceptedPolicy",
            Self::UnacceptedExtension => "unacceptedExtension",
            Self::SystemFailure => "systemFailure",
        }
    }

    /// The DER named bit string with only this bit set (trailing zero bits removed).
    fn bit_string(self) -> Result<BitString, der::Error> {
        let bit = usize::from(self.bit());
        let mut bytes = vec![0u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        BitString::new(7 - (bit % 8) as u8, bytes)
    }
}

/// Why a request is refused: each maps to a [`FailureInfo`] for the rejection response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not a DER `TimeStampReq`.
    #[error("not a DER TimeStampReq: {source}")]
    Der {
        /// The decoder's error.
        #[source]
        source: der::Error,
    },
    /// Not the JSON request form.
    #[error("not a timestamp request in JSON: {source}")]
    Json {
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// `artifactHash` is not base64.
    #[error("artifactHash is not base64: {source}")]
    Base64 {
        /// The decoder's error.
        #[source]
        source: base64::DecodeError,
    },
    /// A field has a value that is not allowed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The request's version is not 1.
    #[error("request version {0} is not supported (only v1)")]
    Version(u8),
    /// The hash algorithm is not SHA-256, SHA-384 or SHA-512.
    #[error("hash algorithm {algorithm} is not supported (use SHA-256, SHA-384 or SHA-512)")]
    UnsupportedHash {
        /// The OID or name asked for.
        algorithm: String,
    },
    /// The digest does not have the hash's length.
    #[error("the {algorithm} digest has {got} bytes, not {expected}")]
    DigestLength {
        /// The hash.
        algorithm: &'static str,
        /// Its length.
        expected: usize,
        /// The digest's.
        got: usize,
    },
    /// The requested policy is not the authority's.
    #[error("policy {requested} is not accepted (this authority stamps under {accepted})")]
    UnacceptedPolicy {
        /// What the request asked for.
        requested: String,
        /// The authority's policy.
        accepted: ObjectIdentifier,
    },
    /// The request carries an extension.
    #[error("request extension {oid} is not supported")]
    UnacceptedExtension {
        /// The extension's OID.
        oid: ObjectIdentifier,
    },
}

impl RequestError {
    /// The rejection's failure bit.
    #[must_use]
    pub fn failure_info(&self) -> FailureInfo {
        match self {
            Self::UnsupportedHash { .. } => FailureInfo::BadAlg,
            Self::UnacceptedPolicy { .. } => FailureInfo::UnacceptedPolicy,
            Self::UnacceptedExtension { .. } => FailureInfo::UnacceptedExtension,
            _ => FailureInfo::BadDataFormat,
        }
    }
}

/// Why the authority cannot make a token or a response (its own failures, not the client's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// The request is refused.
    #[error(transparent)]
    Refused(#[from] RequestError),
    /// The authority's chain is empty, or a certificate does not decode.
    #[error("the timestamp authority's certificate chain is unusable: {problem}")]
    Chain {
        /// What is wrong.
        problem: String,
    },
    /// Encoding a structure failed.
    #[error("encoding {what}: {source}")]
    Encoding {
        /// The structure.
        what: &'static str,
        /// The encoder's error.
        #[source]
        source: der::Error,
    },
    /// The clock is before 1970 or too far ahead to encode.
    #[error("the clock cannot be encoded as genTime")]
    Time,
    /// The key failed to sign.
    #[error("the timestamp key failed to sign: {source}")]
    Signer {
        /// The key's error.
        #[source]
        source: signature::Error,
    },
}

fn encoding(what: &'static str) -> impl FnOnce(der::Error) -> TsaError {
    move |source| TsaError::Encoding { what, source }
}

fn hash_oid(alg: HashAlgorithm) -> ObjectIdentifier {
    match alg {
        HashAlgorithm::Sha256 => oid::SHA256,
        HashAlgorithm::Sha384 => oid::SHA384,
        HashAlgorithm::Sha512 => oid::SHA512,
    }
}

fn hash_len(alg: HashAlgorithm) -> usize {
    match alg {
        HashAlgorithm::Sha256 => 32,
        HashAlgorithm::Sha384 => 48,
        HashAlgorithm::Sha512 => 64,
    }
}

/// A timestamp request, from either form, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampRequest {
    /// The imprint's hash algorithm.
    pub hash: HashAlgorithm,
    /// The digest (of the hash's length).
    pub digest: Vec<u8>,
    /// The policy asked for, if any.
    pub policy: Option<ObjectIdentifier>,
    /// The nonce to echo (at most [`MAX_NONCE_BYTES`]).
    pub nonce: Option<Int>,
    /// Whether the token should carry the authority's certificates.
    pub cert_req: bool,
    /// Whether the request's hash `AlgorithmIdentifier` had NULL parameters (rather than
    /// none): the token's imprint repeats the request's exactly (RFC 3161 §2.4.2).
    pub null_parameters: bool,
}

/// The JSON request form (sigstore/timestamp-authority's `JSONRequest`).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    artifact_hash: String,
    hash_algorithm: String,
    #[serde(default)]
    certificates: bool,
    #[serde(default)]
    nonce: Option<serde_json::Number>,
    #[serde(default, rename = "tsaPolicyOID")]
    tsa_policy_oid: Option<String>,
}

impl TimestampRequest {
    /// A request for `digest` (no policy, no nonce, no certificates).
    ///
    /// # Errors
    /// [`RequestError::DigestLength`] when `digest` is not of `hash`'s length.
    pub fn new(hash: HashAlgorithm, digest: &[u8]) -> Result<Self, RequestError> {
        check_digest(hash, digest)?;
        Ok(Self {
            hash,
            digest: digest.to_vec(),
            policy: None,
            nonce: None,
            cert_req: false,
            null_parameters: false,
        })
    }

    /// Parses and checks a DER `TimeStampReq`.
    ///
    /// # Errors
    /// A [`RequestError`] naming the problem.
    pub fn from_der(der: &[u8]) -> Result<Self, RequestError> {
        let req = TimeStampReq::from_der(der).map_err(|source| RequestError::Der { source })?;
        if req.version != 1 {
            return Err(RequestError::Version(req.version));
        }
        if let Some(ext) = req.extensions.as_ref().and_then(|e| e.first()) {
            return Err(RequestError::UnacceptedExtension { oid: ext.extn_id });
        }
        let alg = &req.message_imprint.hash_algorithm;
        let hash = [
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|h| hash_oid(*h) == alg.oid)
        .ok_or_else(|| RequestError::UnsupportedHash {
            algorithm: alg.oid.to_string(),
        })?;
        // Parameters: absent, or NULL (both are in use).
        if let Some(p) = &alg.parameters
            && p != &Any::from(der::asn1::Null)
        {
            return Err(RequestError::Invalid {
                field: "messageImprint.hashAlgorithm.parameters",
                problem: "must be absent or NULL".to_owned(),
            });
        }
        let digest = req.message_imprint.hashed_message.as_bytes();
        check_digest(hash, digest)?;
        let nonce = req.nonce.map(check_nonce).transpose()?;
        Ok(Self {
            hash,
            digest: digest.to_vec(),
            policy: req.req_policy,
            nonce,
            cert_req: req.cert_req,
            null_parameters: alg.parameters.is_some(),
        })
    }

    /// Parses and checks the JSON request form.
    ///
    /// # Errors
    /// A [`RequestError`] naming the problem.
    pub fn from_json(json: &[u8]) -> Result<Self, RequestError> {
        use base64::Engine as _;
        let req: JsonRequest =
            serde_json::from_slice(json).map_err(|source| RequestError::Json { source })?;
        let hash = HashAlgorithm::from_name(&req.hash_algorithm.to_ascii_lowercase()).ok_or_else(
            || RequestError::UnsupportedHash {
                algorithm: req.hash_algorithm.clone(),
            },
        )?;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(req.artifact_hash.as_bytes())
            .map_err(|source| RequestError::Base64 { source })?;
        check_digest(hash, &digest)?;
        let nonce = match &req.nonce {
            None => None,
            Some(n) => {
                let int = n.as_u64().ok_or_else(|| RequestError::Invalid {
                    field: "nonce",
                    problem: "must be a non-negative integer of at most 64 bits".to_owned(),
                })?;
                Some(nonce_of(int).map_err(|e| RequestError::Invalid {
                    field: "nonce",
                    problem: e.to_string(),
                })?)
            }
        };
        let policy = match req.tsa_policy_oid.as_deref() {
            None | Some("") => None,
            Some(s) => Some(ObjectIdentifier::new(s).map_err(|e| RequestError::Invalid {
                field: "tsaPolicyOID",
                problem: format!("{s:?} is not an OID: {e}"),
            })?),
        };
        Ok(Self {
            hash,
            digest,
            policy,
            nonce,
            cert_req: req.certificates,
            null_parameters: false,
        })
    }

    /// The DER `TimeStampReq` of this request (what a client sends).
    ///
    /// # Errors
    /// When encoding fails.
    pub fn to_der(&self) -> Result<Vec<u8>, der::Error> {
        TimeStampReq {
            version: 1,
            message_imprint: self.imprint()?,
            req_policy: self.policy,
            nonce: self.nonce.clone(),
            cert_req: self.cert_req,
            extensions: None,
        }
        .to_der()
    }

    fn imprint(&self) -> Result<MessageImprint, der::Error> {
        Ok(MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: hash_oid(self.hash),
                parameters: self.null_parameters.then(|| Any::from(der::asn1::Null)),
            },
            hashed_message: OctetString::new(self.digest.clone())?,
        })
    }
}

/// The INTEGER `n` (for nonces).
fn nonce_of(n: u64) -> Result<Int, der::Error> {
    Uint::new(&n.to_be_bytes()).map(Int::from)
}

fn check_digest(hash: HashAlgorithm, digest: &[u8]) -> Result<(), RequestError> {
    if digest.len() == hash_len(hash) {
        Ok(())
    } else {
        Err(RequestError::DigestLength {
            algorithm: hash.name(),
            expected: hash_len(hash),
            got: digest.len(),
        })
    }
}

fn check_nonce(nonce: Int) -> Result<Int, RequestError> {
    let len = nonce.as_bytes().len();
    if len > MAX_NONCE_BYTES {
        return Err(RequestError::Invalid {
            field: "nonce",
            problem: format!("{len} bytes is longer than {MAX_NONCE_BYTES}"),
        });
    }
    Ok(nonce)
}

/// A timestamp authority: its certificate chain and policy. Signing is the caller's key's (see
/// [`TimestampAuthority::respond`]); this type holds what every token repeats, computed once.
#[derive(Clone, Debug)]
pub struct TimestampAuthority {
    policy: ObjectIdentifier,
    sid: SignerIdentifier,
    ess: Attribute,
    /// The leaf and any intermediates (not the root), for requests with `certReq`, encoded once
    /// as the `SignedData.certificates` field (`[0] IMPLICIT CertificateSet`): re-encoding the
    /// parsed certificates for every token cost about as much as the rest of the CMS.
    certs_field: Vec<u8>,
}

impl TimestampAuthority {
    /// The authority of `chain_der` (leaf first, root last; DER) stamping under `policy`.
    ///
    /// # Errors
    /// [`TsaError::Chain`] for an empty chain or a certificate that does not decode.
    pub fn new(chain_der: &[Vec<u8>], policy: ObjectIdentifier) -> Result<Self, TsaError> {
        let leaf_der = chain_der.first().ok_or_else(|| TsaError::Chain {
            problem: "it is empty".to_owned(),
        })?;
        let certs = chain_der
            .iter()
            .map(|d| Certificate::from_der(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TsaError::Chain {
                problem: e.to_string(),
            })?;
        let leaf = &certs[0];
        let tbs = leaf.tbs_certificate();
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        });
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(sha2::Sha256::digest(leaf_der).to_vec())
                    .map_err(encoding("the ESS certificate hash"))?,
                issuer_serial: IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                    serial_number: tbs.serial_number().clone(),
                },
            }],
        };
        let ess = attribute(ATTR_SIGNING_CERTIFICATE_V2, &ess)?;
        let mut certs = certs;
        if certs.len() > 1 {
            certs.pop();
        }
        let mut certs_field = certificate_set(certs)?
            .to_der()
            .map_err(encoding("the certificates"))?;
        // IMPLICIT [0] over a constructed SET OF: only the identifier octet changes.
        certs_field[0] = CERTIFICATES_TAG;
        Ok(Self {
            policy,
            sid,
            ess,
            certs_field,
        })
    }

    /// The policy tokens are issued under.
    #[must_use]
    pub fn policy(&self) -> ObjectIdentifier {
        self.policy
    }

    /// Whether this authority stamps `request` (its policy, when it names one).
    ///
    /// # Errors
    /// [`RequestError::UnacceptedPolicy`].
    pub fn check(&self, request: &TimestampRequest) -> Result<(), RequestError> {
        match request.policy {
            Some(p) if p != self.policy => Err(RequestError::UnacceptedPolicy {
                requested: p.to_string(),
                accepted: self.policy,
            }),
            _ => Ok(()),
        }
    }

    /// The granted `TimeStampResp` for `request`: a token with `serial` (positive, unique per
    /// token: the caller's random bytes) and `genTime` = `now` truncated to the second, signed
    /// by `signer` (the authority's P-256 key; ECDSA with SHA-256). Blocks as long as the
    /// signer does.
    ///
    /// # Errors
    /// [`TsaError::Refused`] when [`TimestampAuthority::check`] refuses the request;
    /// [`TsaError::Signer`], [`TsaError::Time`], [`TsaError::Encoding`] for the authority's own
    /// failures.
    pub fn respond<S, Sig>(
        &self,
        request: &TimestampRequest,
        serial: &[u8; 16],
        now: SystemTime,
        signer: &S,
    ) -> Result<Vec<u8>, TsaError>
    where
        S: Signer<Sig> + ?Sized,
        Sig: SignatureEncoding,
    {
        self.check(request)?;
        let since = now.duration_since(UNIX_EPOCH).map_err(|_| TsaError::Time)?;
        let gen_time = GeneralizedTime::from_unix_duration(Duration::from_secs(since.as_secs()))
            .map_err(|_| TsaError::Time)?;
        // Positive, and never shorter than 16 bytes: the top bit clear, the next set.
        let mut serial = *serial;
        serial[0] = (serial[0] & 0x7f) | 0x40;
        let tst_info = TstInfo {
            version: 1,
            policy: self.policy,
            message_imprint: request.imprint().map_err(encoding("the message imprint"))?,
            serial_number: Uint::new(&serial).map_err(encoding("the serial number"))?,
            gen_time,
            accuracy: Some(Accuracy {
                seconds: Some(ACCURACY.as_secs() as u32),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: request.nonce.clone(),
            tsa: None,
            extensions: None,
        }
        .to_der()
        .map_err(encoding("the TSTInfo"))?;

        let digest = sha2::Sha256::digest(&tst_info);
        let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
            attribute(ATTR_CONTENT_TYPE, &ID_CT_TST_INFO)?,
            attribute(
                ATTR_MESSAGE_DIGEST,
                &OctetString::new(digest.to_vec()).map_err(encoding("the message digest"))?,
            )?,
            self.ess.clone(),
        ])
        .map_err(encoding("the signed attributes"))?;
        // The signature covers the attributes' DER as a SET OF (RFC 5652 §5.4).
        let to_sign = signed_attrs
            .to_der()
            .map_err(encoding("the signed attributes"))?;
        let signature = signer
            .try_sign(&to_sign)
            .map_err(|source| TsaError::Signer { source })?;
        let sha256 = AlgorithmIdentifierOwned {
            oid: oid::SHA256,
            parameters: None,
        };
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: self.sid.clone(),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: oid::ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: OctetString::new(signature.to_vec()).map_err(encoding("the signature"))?,
            unsigned_attrs: None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256])
                .map_err(encoding("the digest algorithms"))?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(
                    Any::encode_from(&OctetString::new(tst_info).map_err(encoding("the TSTInfo"))?)
                        .map_err(encoding("the TSTInfo"))?,
                ),
            },
            certificates: None,
            crls: None,
            signer_infos: SignerInfos(
                SetOfVec::try_from(vec![signer_info]).map_err(encoding("the signer info"))?,
            ),
        };
        let certs_field = request.cert_req.then_some(self.certs_field.as_slice());
        let signed_data = with_certificates(&signed_data, certs_field)?;
        let token = ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::from_der(&signed_data).map_err(encoding("the SignedData"))?,
        };
        TimeStampResp {
            status: PkiStatusInfo {
                status: STATUS_GRANTED,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        }
        .to_der()
        .map_err(encoding("the TimeStampResp"))
    }
}

/// The identifier octet of `SignedData.certificates`: context-specific, constructed, 0.
const CERTIFICATES_TAG: u8 = 0xa0;

/// `certs` as a CMS `CertificateSet`.
fn certificate_set(certs: Vec<Certificate>) -> Result<CertificateSet, TsaError> {
    SetOfVec::try_from(
        certs
            .into_iter()
            .map(cms::cert::CertificateChoices::Certificate)
            .collect::<Vec<_>>(),
    )
    .map(CertificateSet)
    .map_err(encoding("the certificates"))
}

/// The DER of `signed_data` (which has no certificates and no CRLs) with `certs_field`, an
/// encoded `[0] IMPLICIT CertificateSet`, in its place: just before `signerInfos`, the last
/// field, with the outer length adjusted. The same bytes as encoding the `SignedData` with
/// those certificates (a test checks it), without encoding them again.
fn with_certificates(
    signed_data: &SignedData,
    certs_field: Option<&[u8]>,
) -> Result<Vec<u8>, TsaError> {
    let der = signed_data.to_der().map_err(encoding("the SignedData"))?;
    let Some(certs_field) = certs_field else {
        return Ok(der);
    };
    let malformed = || TsaError::Encoding {
        what: "the SignedData",
        source: der::ErrorKind::Length {
            tag: der::Tag::Sequence,
        }
        .into(),
    };
    let signer_infos = signed_data
        .signer_infos
        .encoded_len()
        .map_err(encoding("the signer infos"))
        .and_then(|l| usize::try_from(l).map_err(|_| malformed()))?;
    let header = der::SliceReader::new(&der)
        .and_then(|mut r| der::Header::decode(&mut r))
        .map_err(encoding("the SignedData"))?;
    let content_len = usize::try_from(header.length()).map_err(|_| malformed())?;
    let content = der
        .len()
        .checked_sub(content_len)
        .and_then(|start| der.get(start..))
        .filter(|c| c.len() >= signer_infos)
        .ok_or_else(malformed)?;
    let (head, tail) = content.split_at(content.len() - signer_infos);
    let length = der::Length::try_from(content.len() + certs_field.len())
        .map_err(encoding("the SignedData"))?;
    let mut out = der::Header::new(der::Tag::Sequence, length)
        .to_der()
        .map_err(encoding("the SignedData"))?;
    out.reserve(content.len() + certs_field.len());
    out.extend_from_slice(head);
    out.extend_from_slice(certs_field);
    out.extend_from_slice(tail);
    Ok(out)
}

fn attribute<T: der::EncodeValue + der::Tagged>(
    oid: ObjectIdentifier,
    value: &T,
) -> Result<Attribute, TsaError> {
    let value = Any::encode_from(value).map_err(encoding("a signed attribute"))?;
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(encoding("a signed attribute"))?,
    })
}

/// A `rejection` `TimeStampResp` with `failure` and the human-readable `text`.
///
/// # Errors
/// [`TsaError::Encoding`] (only if `text` cannot be encoded).
pub fn rejection(failure: FailureInfo, text: &str) -> Result<Vec<u8>, TsaError> {
    // Check the text encodes as a UTF8String (it always does for a Rust string).
    Utf8StringRef::new(text).map_err(encoding("the status string"))?;
    TimeStampResp {
        status: PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: Some(vec![text.to_owned()]),
            fail_info: Some(failure.bit_string().map_err(encoding("the failure info"))?),
        },
        time_stamp_token: None,
    }
    .to_der()
    .map_err(encoding("the rejection"))
}

/// What a `TimeStampResp` says, read back (tests, benchmarks and clients checking an answer;
/// verification of the token against a trust root is `hallmark-verify`'s).
#[derive(Clone, Debug)]
pub struct ParsedResponse {
    /// `PKIStatus`.
    pub status: u8,
    /// The failure bits set, by number.
    pub fail_bits: Vec<u8>,
    /// The `TSTInfo`, when granted.
    pub tst_info: Option<TstInfo>,
    /// The signed attributes' DER (as a SET OF, the bytes the signature covers).
    pub signed_attrs_der: Vec<u8>,
    /// The signature (DER ECDSA for Hallmark's tokens).
    pub signature: Vec<u8>,
    /// How many certificates the token carries.
    pub certificates: usize,
}

impl ParsedResponse {
    /// Parses a DER `TimeStampResp`.
    ///
    /// # Errors
    /// The decoder's error for anything that is not a `TimeStampResp` with (when granted) a
    /// `SignedData` over a `TSTInfo` with one signer.
    pub fn from_der(der: &[u8]) -> Result<Self, der::Error> {
        let resp = TimeStampResp::from_der(der)?;
        let fail_bits = resp
            .status
            .fail_info
            .as_ref()
            .map(|b| {
                b.bits()
                    .enumerate()
                    .filter(|(_, set)| *set)
                    .map(|(i, _)| i as u8)
                    .collect()
            })
            .unwrap_or_default();
        let mut parsed = Self {
            status: resp.status.status,
            fail_bits,
            tst_info: None,
            signed_attrs_der: Vec::new(),
            signature: Vec::new(),
            certificates: 0,
        };
        let Some(token) = resp.time_stamp_token else {
            return Ok(parsed);
        };
        let malformed = || der::Error::from(der::ErrorKind::Failed);
        if token.content_type != ID_SIGNED_DATA {
            return Err(malformed());
        }
        let sd: SignedData = token.content.decode_as()?;
        if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
            return Err(malformed());
        }
        let content: OctetString = sd
            .encap_content_info
            .econtent
            .ok_or_else(malformed)?
            .decode_as()?;
        parsed.tst_info = Some(TstInfo::from_der(content.as_bytes())?);
        let [si] = sd.signer_infos.0.as_slice() else {
            return Err(malformed());
        };
        parsed.signed_attrs_der = si.signed_attrs.as_ref().ok_or_else(malformed)?.to_der()?;
        parsed.signature = si.signature.as_bytes().to_vec();
        parsed.certificates = sd.certificates.map_or(0, |c| c.0.len());
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn req(hash: HashAlgorithm, len: usize) -> TimestampRequest {
        TimestampRequest::new(hash, &vec![7u8; len]).unwrap()
    }

    #[test]
    fn failure_bits_encode_as_named_bit_strings() {
        assert_eq!(
            FailureInfo::BadAlg.bit_string().unwrap().to_der().unwrap(),
            [0x03, 0x02, 0x07, 0x80]
        );
        assert_eq!(
            FailureInfo::UnacceptedPolicy
                .bit_string()
                .unwrap()
                .to_der()
                .unwrap(),
            [0x03, 0x03, 0x00, 0x00, 0x01]
        );
        for f in [
            FailureInfo::BadAlg,
            FailureInfo::BadDataFormat,
            FailureInfo::UnacceptedPolicy,
            FailureInfo::UnacceptedExtension,
            FailureInfo::SystemFailure,
        ] {
            let parsed = ParsedResponse::from_der(&rejection(f, "no").unwrap()).unwrap();
            assert_eq!(parsed.status, STATUS_REJECTION);
            assert_eq!(parsed.fail_bits, vec![f.bit()], "{}", f.name());
        }
    }

    #[test]
    fn der_requests_are_checked() {
        let mut r = req(HashAlgorithm::Sha384, 48);
        r.nonce = Some(nonce_of(0x1234_5678).unwrap());
        r.cert_req = true;
        r.policy = Some(DEFAULT_POLICY);
        assert_eq!(TimestampRequest::from_der(&r.to_der().unwrap()).unwrap(), r);

        let bad = |f: &dyn Fn(&mut TimeStampReq)| {
            let mut t = TimeStampReq::from_der(&r.to_der().unwrap()).unwrap();
            f(&mut t);
            TimestampRequest::from_der(&t.to_der().unwrap()).unwrap_err()
        };
        let e = bad(&|t| t.version = 2);
        assert_eq!(e.failure_info(), FailureInfo::BadDataFormat, "{e}");
        let e = bad(&|t| {
            t.message_imprint.hash_algorithm.oid = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        });
        assert_eq!(e.failure_info(), FailureInfo::BadAlg, "{e}");
        let e = bad(&|t| t.message_imprint.hashed_message = OctetString::new(vec![1; 32]).unwrap());
        assert!(
            matches!(e, RequestError::DigestLength { got: 32, .. }),
            "{e}"
        );
        let e = bad(&|t| {
            t.extensions = Some(vec![x509_cert::ext::Extension {
                extn_id: ObjectIdentifier::new_unwrap("1.2.3.4"),
                critical: false,
                extn_value: OctetString::new(vec![5, 0]).unwrap(),
            }]);
        });
        assert_eq!(e.failure_info(), FailureInfo::UnacceptedExtension, "{e}");
        let e = bad(&|t| t.nonce = Some(Int::new(&[0x11; 40]).unwrap()));
        assert_eq!(e.failure_info(), FailureInfo::BadDataFormat, "{e}");
        // NULL parameters are fine, and kept: the token's imprint repeats the request's exactly.
        let mut t = TimeStampReq::from_der(&r.to_der().unwrap()).unwrap();
        t.message_imprint.hash_algorithm.parameters = Some(Any::from(der::asn1::Null));
        let with_null = TimestampRequest::from_der(&t.to_der().unwrap()).unwrap();
        assert!(with_null.null_parameters);
        assert_eq!(
            TimestampRequest {
                null_parameters: false,
                ..with_null.clone()
            },
            r
        );
        assert_eq!(
            TimeStampReq::from_der(&with_null.to_der().unwrap())
                .unwrap()
                .message_imprint,
            t.message_imprint
        );
    }

    #[test]
    fn json_requests_read_like_the_sigstore_tsa() {
        use base64::Engine as _;
        let digest = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let r = TimestampRequest::from_json(
            format!(
                r#"{{"artifactHash":"{digest}","hashAlgorithm":"SHA256","certificates":true,
                "nonce":1234567890123,"tsaPolicyOID":"1.3.6.1.4.1.57264.2","extra":1}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.hash, HashAlgorithm::Sha256);
        assert_eq!(r.digest, [9u8; 32]);
        assert!(r.cert_req);
        assert_eq!(r.policy, Some(DEFAULT_POLICY));
        assert_eq!(r.nonce, Some(nonce_of(1_234_567_890_123).unwrap()));
        let r = TimestampRequest::from_json(
            format!(r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha256"}}"#).as_bytes(),
        )
        .unwrap();
        assert!(!r.cert_req && r.nonce.is_none() && r.policy.is_none());
        for (body, failure) in [
            (
                format!(r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha1"}}"#),
                FailureInfo::BadAlg,
            ),
            (
                r#"{"artifactHash":"!!","hashAlgorithm":"sha256"}"#.to_owned(),
                FailureInfo::BadDataFormat,
            ),
            (
                format!(r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha512"}}"#),
                FailureInfo::BadDataFormat,
            ),
            (
                format!(r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha256","nonce":1e40}}"#),
                FailureInfo::BadDataFormat,
            ),
            (
                format!(r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha256","nonce":-1}}"#),
                FailureInfo::BadDataFormat,
            ),
            (
                format!(
                    r#"{{"artifactHash":"{digest}","hashAlgorithm":"sha256","tsaPolicyOID":"x"}}"#
                ),
                FailureInfo::BadDataFormat,
            ),
            ("[]".to_owned(), FailureInfo::BadDataFormat),
        ] {
            let e = TimestampRequest::from_json(body.as_bytes()).unwrap_err();
            assert_eq!(e.failure_info(), failure, "{body}: {e}");
        }
    }

    /// A self-signed TSA certificate for `key` (enough for the token's shape).
    fn cert_for(key: &p256::ecdsa::SigningKey) -> Vec<u8> {
        use std::str::FromStr as _;
        use x509_cert::builder::{Builder as _, CertificateBuilder, profile};
        let name = x509_cert::name::Name::from_str("CN=tsa,O=test,C=US").unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).unwrap();
        let builder = CertificateBuilder::new(
            profile::cabf::Root::new(false, name).unwrap(),
            SerialNumber::from(7u32),
            x509_cert::time::Validity::from_now(Duration::from_secs(3600)).unwrap(),
            spki,
        )
        .unwrap();
        let cert = builder.build::<_, p256::ecdsa::DerSignature>(key).unwrap();
        cert.to_der().unwrap()
    }

    #[test]
    fn tokens_carry_what_was_asked_and_verify() {
        use signature::Verifier as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
        let cert = cert_for(&key);
        let tsa = TimestampAuthority::new(&[cert.clone(), cert], DEFAULT_POLICY).unwrap();
        let mut r = req(HashAlgorithm::Sha256, 32);
        r.nonce = Some(nonce_of(42).unwrap());
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
        let der = tsa
            .respond::<_, p256::ecdsa::DerSignature>(&r, &[0xff; 16], now, &key)
            .unwrap();
        let parsed = ParsedResponse::from_der(&der).unwrap();
        assert_eq!(parsed.status, STATUS_GRANTED);
        assert_eq!(parsed.certificates, 0, "no certReq, no certificates");
        let info = parsed.tst_info.unwrap();
        assert_eq!(info.nonce, r.nonce);
        assert_eq!(info.policy, DEFAULT_POLICY);
        assert_eq!(info.message_imprint.hashed_message.as_bytes(), &[7u8; 32]);
        assert_eq!(info.gen_time.to_unix_duration().as_secs(), 1_700_000_000);
        assert_eq!(info.serial_number.as_bytes()[0], 0x7f);
        let sig = p256::ecdsa::DerSignature::try_from(parsed.signature.as_slice()).unwrap();
        key.verifying_key()
            .verify(&parsed.signed_attrs_der, &sig)
            .unwrap();

        r.cert_req = true;
        let der = tsa
            .respond::<_, p256::ecdsa::DerSignature>(&r, &[1; 16], now, &key)
            .unwrap();
        assert_eq!(
            ParsedResponse::from_der(&der).unwrap().certificates,
            1,
            "the leaf only"
        );
        // The certificates spliced in as pre-encoded bytes are exactly what encoding the
        // SignedData with them gives, and the leaf is the chain's.
        let resp = TimeStampResp::from_der(&der).unwrap();
        let token = resp.time_stamp_token.unwrap();
        let spliced = token.content.to_der().unwrap();
        let signed_data = SignedData::from_der(&spliced).unwrap();
        assert_eq!(signed_data.to_der().unwrap(), spliced);
        let set = signed_data.certificates.unwrap();
        assert!(matches!(
            set.0.as_slice(),
            [cms::cert::CertificateChoices::Certificate(c)] if c.to_der().unwrap() == cert_for(&key)
        ));
        r.policy = Some(ObjectIdentifier::new_unwrap("1.2.3"));
        let e = tsa
            .respond::<_, p256::ecdsa::DerSignature>(&r, &[1; 16], now, &key)
            .unwrap_err();
        assert!(
            matches!(e, TsaError::Refused(RequestError::UnacceptedPolicy { .. })),
            "{e}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes never panic either parser.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = TimestampRequest::from_der(&bytes);
            let _ = TimestampRequest::from_json(&bytes);
            let _ = ParsedResponse::from_der(&bytes);
        }

        /// Every request the encoder makes parses back to itself; flipping a byte of it never
        /// panics the parser.
        #[test]
        fn requests_round_trip(
            alg in 0usize..3,
            fill in any::<u8>(),
            nonce in proptest::option::of(any::<u64>()),
            cert_req in any::<bool>(),
            policy in any::<bool>(),
            flip in any::<(usize, u8)>(),
        ) {
            let (hash, len) = [
                (HashAlgorithm::Sha256, 32),
                (HashAlgorithm::Sha384, 48),
                (HashAlgorithm::Sha512, 64),
            ][alg];
            let mut r = TimestampRequest::new(hash, &vec![fill; len]).unwrap();
            r.nonce = nonce.map(|n| nonce_of(n).unwrap());
            r.cert_req = cert_req;
            r.policy = policy.then_some(DEFAULT_POLICY);
            let der = r.to_der().unwrap();
            prop_assert_eq!(TimestampRequest::from_der(&der).unwrap(), r);
            let mut broken = der.clone();
            let i = flip.0 % broken.len();
            broken[i] ^= flip.1.max(1);
            let _ = TimestampRequest::from_der(&broken);
        }
    }
}
