//! X.509 plumbing shared by the CA and leaf profiles: a TBS type this crate can build and edit
//! (x509-cert's fields are private), times, serial numbers, key identifiers, names.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{Any, BitString, ObjectIdentifier, OctetString, SetOfVec, Utf8StringRef};
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::Version;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::error::{CaError, Result};

/// `TBSCertificate` (RFC 5280 §4.1) with fields this crate can set. Encodes exactly like
/// x509-cert's `TbsCertificate`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct Tbs {
    #[asn1(context_specific = "0", default = "Default::default")]
    pub(crate) version: Version,
    pub(crate) serial_number: SerialNumber,
    pub(crate) signature: AlgorithmIdentifierOwned,
    pub(crate) issuer: Name,
    pub(crate) validity: Validity,
    pub(crate) subject: Name,
    pub(crate) subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) issuer_unique_id: Option<BitString>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) subject_unique_id: Option<BitString>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) extensions: Option<Extensions>,
}

impl Tbs {
    /// A v3 TBS with no unique ids.
    pub(crate) fn v3(
        serial_number: SerialNumber,
        signature: AlgorithmIdentifierOwned,
        issuer: Name,
        validity: Validity,
        subject: Name,
        subject_public_key_info: SubjectPublicKeyInfoOwned,
        extensions: Extensions,
    ) -> Tbs {
        Tbs {
            version: Version::V3,
            serial_number,
            signature,
            issuer,
            validity,
            subject,
            subject_public_key_info,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        }
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        self.to_der()
            .map_err(|e| CaError::encoding("the TBS certificate", e))
    }
}

/// The pieces of an encoded certificate: the TBS exactly as it appears (the bytes the signature
/// covers), the outer signature algorithm and the signature bytes.
#[derive(Debug)]
pub(crate) struct SplitCertificate<'a> {
    pub(crate) tbs_der: &'a [u8],
    pub(crate) algorithm: spki::AlgorithmIdentifierRef<'a>,
    pub(crate) signature: &'a [u8],
}

/// Split `Certificate ::= SEQUENCE { tbs, algorithm, signature }` (or a PKCS#10
/// `CertificationRequest`, which has the same shape) without re-encoding the TBS.
pub(crate) fn split_signed(der: &[u8]) -> der::Result<SplitCertificate<'_>> {
    use der::Reader;
    let mut reader = der::SliceReader::new(der)?;
    let split = reader.sequence(|r| {
        let tbs_der = r.tlv_bytes()?;
        let algorithm = r.decode()?;
        let signature: der::asn1::BitStringRef<'_> = r.decode()?;
        let signature = signature.as_bytes().ok_or_else(|| {
            der::Error::from(der::ErrorKind::Noncanonical {
                tag: der::Tag::BitString,
            })
        })?;
        Ok::<_, der::Error>(SplitCertificate {
            tbs_der,
            algorithm,
            signature,
        })
    })?;
    reader.finish()?;
    Ok(split)
}

/// An X.509 `Time` for `t` (UTCTime through 2049, GeneralizedTime after; whole seconds).
pub(crate) fn x509_time(what: &'static str, t: SystemTime) -> Result<Time> {
    Time::try_from(t).map_err(|e| CaError::Time {
        what,
        detail: e.to_string(),
    })
}

/// `t` rounded down to a whole second (certificates carry seconds).
pub(crate) fn floor_to_second(t: SystemTime) -> Result<SystemTime> {
    let since = t.duration_since(UNIX_EPOCH).map_err(|_| CaError::Time {
        what: "notBefore",
        detail: "before 1970".to_owned(),
    })?;
    Ok(UNIX_EPOCH + Duration::from_secs(since.as_secs()))
}

/// Validity from `not_before` (rounded down to a second) lasting `duration`.
pub(crate) fn validity(not_before: SystemTime, duration: Duration) -> Result<Validity> {
    let start = floor_to_second(not_before)?;
    let end = start.checked_add(duration).ok_or_else(|| CaError::Time {
        what: "notAfter",
        detail: "overflows".to_owned(),
    })?;
    Ok(Validity::new(
        x509_time("notBefore", start)?,
        x509_time("notAfter", end)?,
    ))
}

/// A random positive serial number of 16 bytes (126 random bits; RFC 5280 allows 20 octets, the
/// CA/Browser Forum asks for at least 64 random bits).
pub(crate) fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CaError::Rng {
        detail: e.to_string(),
    })?;
    // Top bit clear: positive without a leading zero byte. Next bit set: always 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| CaError::encoding("the serial number", e))
}

/// The key identifier of RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits — what
/// Go (Fulcio), OpenSSL and x509-cert compute. (SHA-1 as a name, not for security.)
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<OctetString> {
    let bits = spki.subject_public_key.raw_bytes();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bits);
    OctetString::new(digest.as_ref()).map_err(|e| CaError::encoding("the key identifier", e))
}

/// A name of `O=<organization>, CN=<common name>`, both UTF8String.
pub(crate) fn ca_name(organization: &str, common_name: &str) -> Result<Name> {
    let mut rdns = RdnSequence::default();
    for (oid, value) in [
        (hallmark_sigstore::oid::ORGANIZATION_NAME, organization),
        (hallmark_sigstore::oid::COMMON_NAME, common_name),
    ] {
        if value.is_empty() {
            continue;
        }
        let value = Utf8StringRef::new(value)
            .and_then(|s| Any::encode_from(&s))
            .map_err(|e| CaError::encoding("the CA subject", e))?;
        let atv = AttributeTypeAndValue { oid, value };
        let set =
            SetOfVec::try_from(vec![atv]).map_err(|e| CaError::encoding("the CA subject", e))?;
        rdns.push(RelativeDistinguishedName::from(set));
    }
    let der = rdns
        .to_der()
        .map_err(|e| CaError::encoding("the CA subject", e))?;
    Name::from_der(&der).map_err(|e| CaError::encoding("the CA subject", e))
}

/// An extension whose value is the DER of `value`.
pub(crate) fn extension<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension> {
    let der = value
        .to_der()
        .map_err(|e| CaError::encoding("an extension", e))?;
    raw_extension(oid, critical, der)
}

/// The SubjectKeyIdentifier and AuthorityKeyIdentifier extensions (both non-critical), as every
/// certificate Hallmark makes carries them.
pub(crate) fn key_identifier_extensions(
    subject_key_id: &OctetString,
    authority_key_id: &OctetString,
) -> Result<[Extension; 2]> {
    use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};
    Ok([
        extension(
            hallmark_sigstore::oid::SUBJECT_KEY_IDENTIFIER,
            false,
            &SubjectKeyIdentifier(subject_key_id.clone()),
        )?,
        extension(
            hallmark_sigstore::oid::AUTHORITY_KEY_IDENTIFIER,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(authority_key_id.clone()),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
    ])
}

/// An extension whose value is `bytes` as they are (no DER wrapping inside the OCTET STRING).
pub(crate) fn raw_extension(
    oid: ObjectIdentifier,
    critical: bool,
    bytes: impl Into<Box<[u8]>>,
) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(bytes).map_err(|e| CaError::encoding("an extension", e))?,
    })
}

/// The value of extension `oid` in `extensions`, if present.
pub(crate) fn find_extension<'a>(
    extensions: Option<&'a Extensions>,
    oid: &ObjectIdentifier,
) -> Option<&'a Extension> {
    extensions?.iter().find(|e| e.extn_id == *oid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn serials_are_positive_16_bytes_and_differ() {
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_eq!(a.as_bytes().len(), 16);
        assert!(a.as_bytes()[0] & 0x80 == 0);
        assert_ne!(a, b);
    }

    #[test]
    fn names_encode_as_utf8() {
        let name = ca_name("Hallmark, Inc.", "root \"CA\"").unwrap();
        assert_eq!(name.len(), 2);
        let s = name.to_string();
        assert!(s.contains("Hallmark"), "{s}");
    }
}
