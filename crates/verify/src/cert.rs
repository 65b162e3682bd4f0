//! X.509 certificates as this crate needs them: the signed bytes kept exactly as received,
//! issuer signatures, validity, and the extensions a Sigstore verifier reads (SANs, the OIDC
//! issuer, Fulcio's CI extensions, key usages).

use der::asn1::{ObjectIdentifier, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use crate::asn1;
use crate::crypto::{PublicKey, Scheme};
use crate::error::Document;

pub(crate) use hallmark_sigstore::oid::{
    BASIC_CONSTRAINTS as OID_BASIC_CONSTRAINTS, CT_POISON as OID_CT_POISON,
    EXT_KEY_USAGE as OID_EKU, FULCIO_OTHERNAME_SAN as OID_FULCIO_USERNAME,
    KEY_USAGE as OID_KEY_USAGE, KP_CODE_SIGNING as EKU_CODE_SIGNING,
    KP_TIME_STAMPING as EKU_TIME_STAMPING, SUBJECT_ALT_NAME as OID_SAN,
};

/// Why a certificate (or one of its extensions) cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CertError {
    /// Not a DER X.509 certificate.
    #[error("not a DER certificate")]
    Der(#[source] der::Error),
    /// The outer structure lacks a part (`tbsCertificate`, `signatureAlgorithm`, ...).
    #[error("not a DER certificate: no {0}")]
    Missing(&'static str),
    /// The signature BIT STRING has unused bits.
    #[error("signature bit string has unused bits")]
    SignatureUnusedBits,
    /// The subject public key cannot be encoded or is not a supported key.
    #[error("subject public key")]
    SubjectKey(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The subjectAltName extension does not decode.
    #[error("malformed subjectAltName")]
    SubjectAltName(#[source] der::Error),
    /// A legacy Fulcio extension (raw UTF-8 bytes) is not UTF-8.
    #[error("extension {oid} is not UTF-8")]
    NotUtf8 {
        /// The extension.
        oid: ObjectIdentifier,
    },
    /// A Fulcio extension is not a DER UTF8String.
    #[error("extension {oid} is not a DER UTF8String")]
    NotUtf8String {
        /// The extension.
        oid: ObjectIdentifier,
    },
}

/// A parsed certificate with its raw parts.
#[derive(Clone, Debug)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) parsed: Certificate,
    pub(crate) key: PublicKey,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    tbs: std::ops::Range<usize>,
    scheme: Option<Scheme>,
    signature: Vec<u8>,
}

impl Cert {
    /// Parses a DER certificate; the error says what was wrong.
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, CertError> {
        let parsed = Certificate::from_der(der).map_err(CertError::Der)?;
        let outer =
            asn1::read_only(der, asn1::SEQUENCE).ok_or(CertError::Missing("outer SEQUENCE"))?;
        let mut r = asn1::Reader::new(outer.value);
        let tbs = r
            .next(asn1::SEQUENCE)
            .ok_or(CertError::Missing("tbsCertificate"))?;
        let alg = r
            .next(asn1::SEQUENCE)
            .ok_or(CertError::Missing("signatureAlgorithm"))?;
        let sig = r
            .next(asn1::BIT_STRING)
            .ok_or(CertError::Missing("signatureValue"))?;
        let signature = match sig.value.split_first() {
            Some((0, s)) => s.to_vec(),
            _ => return Err(CertError::SignatureUnusedBits),
        };
        // The TBS is the first element of the outer SEQUENCE's content.
        let start = der.len() - outer.value.len();
        let spki = parsed
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CertError::SubjectKey(Box::new(e)))?;
        let key = PublicKey::parse(Document::Bundle, "certificate", &spki)
            .map_err(|e| CertError::SubjectKey(Box::new(e)))?;
        let validity = parsed.tbs_certificate().validity();
        Ok(Cert {
            der: der.to_vec(),
            not_before: crate::time::x509_time(&validity.not_before),
            not_after: crate::time::x509_time(&validity.not_after),
            key,
            tbs: start..start + tbs.raw.len(),
            scheme: Scheme::from_algorithm_identifier(alg.raw, None),
            signature,
            parsed,
        })
    }

    /// The DER `tbsCertificate`, as signed.
    pub(crate) fn tbs(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or_default()
    }

    /// Whether `issuer`'s subject is this certificate's issuer and its key signed this one.
    pub(crate) fn issued_by(&self, issuer: &Cert) -> bool {
        self.parsed.tbs_certificate().issuer() == issuer.parsed.tbs_certificate().subject()
            && self
                .scheme
                .is_some_and(|s| issuer.key.verify_scheme(s, self.tbs(), &self.signature))
    }

    /// Subject equals issuer (a root).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.parsed.tbs_certificate().issuer() == self.parsed.tbs_certificate().subject()
    }

    /// Whether the validity period contains `t` (both ends inclusive, as RFC 5280 says).
    pub(crate) fn valid_at(&self, t: i64) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    pub(crate) fn extensions(&self) -> &[Extension] {
        self.parsed
            .tbs_certificate()
            .extensions()
            .map_or(&[][..], |e| e.as_slice())
    }

    pub(crate) fn extension(&self, oid: &ObjectIdentifier) -> Option<&Extension> {
        self.extensions().iter().find(|e| e.extn_id == *oid)
    }

    /// Whether basicConstraints says this is a CA.
    pub(crate) fn is_ca(&self) -> bool {
        self.extension(&OID_BASIC_CONSTRAINTS)
            .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
            .is_some_and(|bc| bc.ca)
    }

    /// The key usage extension, if present and decodable.
    pub(crate) fn key_usage(&self) -> Option<KeyUsage> {
        self.extension(&OID_KEY_USAGE)
            .and_then(|e| KeyUsage::from_der(e.extn_value.as_bytes()).ok())
    }

    /// The extended key usages (empty when absent or undecodable).
    pub(crate) fn extended_key_usages(&self) -> Vec<ObjectIdentifier> {
        self.extension(&OID_EKU)
            .and_then(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
            .map(|eku| eku.0)
            .unwrap_or_default()
    }

    /// Critical extensions this crate does not understand.
    pub(crate) fn unknown_critical_extensions(&self) -> Vec<ObjectIdentifier> {
        const KNOWN: [ObjectIdentifier; 4] =
            [OID_KEY_USAGE, OID_EKU, OID_BASIC_CONSTRAINTS, OID_SAN];
        self.extensions()
            .iter()
            .filter(|e| e.critical && !KNOWN.contains(&e.extn_id))
            .map(|e| e.extn_id)
            .collect()
    }

    /// The subject alternative names: email, URI, DNS and Fulcio username values.
    pub(crate) fn sans(&self) -> Result<Vec<String>, CertError> {
        sans_of(self.extensions())
    }

    /// The value of a Fulcio extension: a DER UTF8String (`.1.8` and later), or raw UTF-8
    /// bytes for the legacy ones (`.1.1` to `.1.6`).
    pub(crate) fn fulcio_value(
        &self,
        oid: &ObjectIdentifier,
        raw: bool,
    ) -> Option<Result<String, CertError>> {
        fulcio_value_of(self.extensions(), oid, raw)
    }
}

/// The subject alternative names among `extensions`: email, URI, DNS and Fulcio username values.
pub(crate) fn sans_of(extensions: &[Extension]) -> Result<Vec<String>, CertError> {
    let mut out = Vec::new();
    for ext in extensions.iter().filter(|e| e.extn_id == OID_SAN) {
        let san = SubjectAltName::from_der(ext.extn_value.as_bytes())
            .map_err(CertError::SubjectAltName)?;
        for name in san.0 {
            match name {
                GeneralName::Rfc822Name(v) => out.push(v.to_string()),
                GeneralName::UniformResourceIdentifier(v) => out.push(v.to_string()),
                GeneralName::DnsName(v) => out.push(v.to_string()),
                GeneralName::OtherName(other) if other.type_id == OID_FULCIO_USERNAME => {
                    if let Ok(s) = other.value.decode_as::<Utf8StringRef<'_>>() {
                        out.push(s.as_str().to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// The value of Fulcio extension `oid` among `extensions`: a DER UTF8String (`.1.8` and later),
/// or raw UTF-8 bytes for the legacy ones (`.1.1` to `.1.6`, `raw`).
pub(crate) fn fulcio_value_of(
    extensions: &[Extension],
    oid: &ObjectIdentifier,
    raw: bool,
) -> Option<Result<String, CertError>> {
    let ext = extensions.iter().find(|e| e.extn_id == *oid)?;
    let bytes = ext.extn_value.as_bytes();
    Some(if raw {
        String::from_utf8(bytes.to_vec()).map_err(|_| CertError::NotUtf8 { oid: *oid })
    } else {
        asn1::read_only(bytes, asn1::UTF8_STRING)
            .and_then(|t| std::str::from_utf8(t.value).ok())
            .map(str::to_owned)
            .ok_or(CertError::NotUtf8String { oid: *oid })
    })
}
