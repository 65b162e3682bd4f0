//! RFC 3161 signed timestamps ([RFC 3161](https://www.rfc-editor.org/rfc/rfc3161),
//! CMS `SignedData` per [RFC 5652](https://www.rfc-editor.org/rfc/rfc5652)).
//!
//! A timestamp is accepted when, for one timestamp authority of the trusted root:
//! the response status is granted; the token is `SignedData` over a `TSTInfo`; its message
//! imprint is the hash of the bundle's signature; the one `SignerInfo` names the authority's
//! signing certificate, carries the `contentType` and `messageDigest` attributes (and, when
//! present, an ESS signing-certificate hash that matches), and its signature over the signed
//! attributes verifies with that certificate's key; the authority's chain is valid at the
//! timestamp's `genTime` and the leaf may stamp time (extended key usage `timeStamping`); and
//! `genTime` lies in the authority's `validFor` window. Certificates embedded in the token are
//! ignored: trust comes from the trusted root only.

use aws_lc_rs::digest;
use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use crate::asn1::{self, Reader, Tlv};
use crate::cert::{Cert, EKU_TIME_STAMPING};
use crate::crypto::{Scheme, hash, hash_from_oid};
use crate::trust::{Authority, TrustedRoot};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ATTR_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ATTR_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ATTR_SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ATTR_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// Why a timestamp does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TimestampError {
    /// The response or its token is not what RFC 3161 / RFC 5652 describe.
    #[error("{0}")]
    Malformed(&'static str),
    /// The timestamp is over something else than the bundle's signature.
    #[error("the message imprint is not the hash of the bundle's signature")]
    ImprintMismatch,
    /// The trusted root lists no timestamp authority.
    #[error("the trusted root has no timestamp authority")]
    NoAuthority,
    /// No authority of the trusted root verifies it; why, per authority (by URI).
    #[error("no trusted timestamp authority verifies it ({})", reasons(.0))]
    NotVerified(Vec<(String, AuthorityError)>),
}

fn reasons(list: &[(String, AuthorityError)]) -> String {
    list.iter()
        .map(|(uri, e)| format!("{uri}: {}", crate::error::chain(e)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why one timestamp authority does not verify a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthorityError {
    /// The authority's chain is empty.
    #[error("the authority has no certificate")]
    NoCertificate,
    /// The token names another signer.
    #[error("the token's signer is not this authority's certificate")]
    OtherSigner,
    /// A signed attribute is malformed or missing.
    #[error("{0}")]
    Attribute(&'static str),
    /// The ESS signing-certificate attribute is malformed or names another certificate.
    #[error("{0}")]
    Ess(String),
    /// The signature algorithm is not one this crate verifies.
    #[error("unsupported signature algorithm")]
    UnsupportedSignature,
    /// The signature over the signed attributes does not verify.
    #[error("the token's signature does not verify with the authority's key")]
    BadSignature,
    /// The signing certificate may not stamp time.
    #[error("the authority's certificate lacks the timeStamping extended key usage")]
    NotTimeStamping,
    /// `genTime` is outside a chain certificate's validity.
    #[error(
        "genTime {} is outside the validity of the authority's certificate #{index} ({} to {})",
        crate::time::display(*.time),
        crate::time::display(*.not_before),
        crate::time::display(*.not_after)
    )]
    CertificateNotValid {
        /// Position in the chain.
        index: usize,
        /// `genTime`.
        time: i64,
        /// The certificate's notBefore.
        not_before: i64,
        /// The certificate's notAfter.
        not_after: i64,
    },
    /// A chain certificate is not signed by the next.
    #[error("the authority's certificate #{index} is not signed by #{}", .index + 1)]
    ChainBroken {
        /// Position in the chain.
        index: usize,
    },
    /// `genTime` is outside the authority's window in the trusted root.
    #[error("genTime {} is outside the authority's trusted window ({window})", crate::time::display(*.time))]
    OutsideWindow {
        /// `genTime`.
        time: i64,
        /// The window, as text.
        window: String,
    },
}

/// A verified timestamp.
#[derive(Clone, Debug)]
pub(crate) struct Stamp {
    pub(crate) time: i64,
    pub(crate) authority: String,
}

/// How the token names its signer.
enum SignerId<'a> {
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    SubjectKeyId(&'a [u8]),
}

/// The parts of a timestamp token that verification needs.
struct Token<'a> {
    tst_info: &'a [u8],
    sid: SignerId<'a>,
    digest_alg: hallmark_sigstore::HashAlgorithm,
    signed_attrs: Tlv<'a>,
    signature_alg: Tlv<'a>,
    signature: &'a [u8],
}

/// What the `TSTInfo` says.
struct TstInfo<'a> {
    imprint_alg: hallmark_sigstore::HashAlgorithm,
    imprint: &'a [u8],
    gen_time: i64,
}

fn parse_token(resp: &[u8]) -> Result<Token<'_>, &'static str> {
    let resp = asn1::read_only(resp, asn1::SEQUENCE).ok_or("not a DER TimeStampResp")?;
    let mut r = Reader::new(resp.value);
    let status = r.next(asn1::SEQUENCE).ok_or("no PKIStatusInfo")?;
    let code = Reader::new(status.value)
        .next(asn1::INTEGER)
        .ok_or("no PKIStatus")?;
    if code.value != [0] && code.value != [1] {
        return Err("the timestamp authority did not grant the request");
    }
    let content_info = r.next(asn1::SEQUENCE).ok_or("no timeStampToken")?;
    if !r.is_empty() {
        return Err("trailing data after the token");
    }
    let mut ci = Reader::new(content_info.value);
    if asn1::oid(ci.next(asn1::OID).ok_or("no contentType")?) != Some(ID_SIGNED_DATA) {
        return Err("the token is not CMS SignedData");
    }
    let explicit = ci.next(asn1::context(0)).ok_or("no SignedData content")?;
    let signed_data = asn1::read_only(explicit.value, asn1::SEQUENCE).ok_or("bad SignedData")?;
    let mut sd = Reader::new(signed_data.value);
    sd.next(asn1::INTEGER).ok_or("no SignedData version")?;
    sd.next(asn1::SET).ok_or("no digestAlgorithms")?;
    let encap = sd.next(asn1::SEQUENCE).ok_or("no encapContentInfo")?;
    let mut ec = Reader::new(encap.value);
    if asn1::oid(ec.next(asn1::OID).ok_or("no eContentType")?) != Some(ID_CT_TST_INFO) {
        return Err("the token does not hold a TSTInfo");
    }
    let econtent = ec.next(asn1::context(0)).ok_or("no eContent")?;
    let tst_info = asn1::read_only(econtent.value, asn1::OCTET_STRING)
        .ok_or("eContent is not a DER OCTET STRING")?
        .value;
    sd.optional(asn1::context(0)); // certificates: ignored, trust comes from the root
    sd.optional(asn1::context(1)); // crls
    let infos = sd.next(asn1::SET).ok_or("no signerInfos")?;
    let mut ir = Reader::new(infos.value);
    let info = ir.next(asn1::SEQUENCE).ok_or("no SignerInfo")?;
    if !ir.is_empty() {
        return Err("more than one SignerInfo");
    }
    let mut si = Reader::new(info.value);
    si.next(asn1::INTEGER).ok_or("no SignerInfo version")?;
    let sid = match si.next_any().ok_or("no signer identifier")? {
        t if t.tag == asn1::SEQUENCE => {
            let mut ias = Reader::new(t.value);
            let issuer = ias
                .next(asn1::SEQUENCE)
                .ok_or("bad issuerAndSerialNumber")?;
            let serial = ias.next(asn1::INTEGER).ok_or("bad issuerAndSerialNumber")?;
            SignerId::IssuerSerial {
                issuer: issuer.raw,
                serial: serial.raw,
            }
        }
        t if t.tag == asn1::context_primitive(0) => SignerId::SubjectKeyId(t.value),
        _ => return Err("unknown signer identifier"),
    };
    let digest_alg = si.next(asn1::SEQUENCE).ok_or("no digestAlgorithm")?;
    let digest_oid = asn1::oid(
        Reader::new(digest_alg.value)
            .next(asn1::OID)
            .ok_or("bad digestAlgorithm")?,
    )
    .ok_or("bad digestAlgorithm")?;
    let digest_alg = hash_from_oid(&digest_oid).ok_or("unsupported digest algorithm")?;
    let signed_attrs = si
        .next(asn1::context(0))
        .ok_or("no signed attributes (RFC 3161 requires them)")?;
    let signature_alg = si.next(asn1::SEQUENCE).ok_or("no signatureAlgorithm")?;
    let signature = si.next(asn1::OCTET_STRING).ok_or("no signature")?.value;
    Ok(Token {
        tst_info,
        sid,
        digest_alg,
        signed_attrs,
        signature_alg,
        signature,
    })
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo<'_>, &'static str> {
    let seq = asn1::read_only(der, asn1::SEQUENCE).ok_or("TSTInfo is not DER")?;
    let mut r = Reader::new(seq.value);
    r.next(asn1::INTEGER).ok_or("no TSTInfo version")?;
    r.next(asn1::OID).ok_or("no TSA policy")?;
    let imprint = r.next(asn1::SEQUENCE).ok_or("no messageImprint")?;
    let mut mi = Reader::new(imprint.value);
    let alg = mi.next(asn1::SEQUENCE).ok_or("bad messageImprint")?;
    let alg_oid = asn1::oid(
        Reader::new(alg.value)
            .next(asn1::OID)
            .ok_or("bad messageImprint")?,
    )
    .ok_or("bad messageImprint")?;
    let imprint_alg = hash_from_oid(&alg_oid).ok_or("unsupported messageImprint hash")?;
    let hashed = mi
        .next(asn1::OCTET_STRING)
        .ok_or("bad messageImprint")?
        .value;
    r.next(asn1::INTEGER).ok_or("no serialNumber")?;
    let generalized = r.next(asn1::GENERALIZED_TIME).ok_or("no genTime")?;
    let gen_time = crate::time::parse_generalized_time(generalized.value).ok_or("bad genTime")?;
    Ok(TstInfo {
        imprint_alg,
        imprint: hashed,
        gen_time,
    })
}

/// The single value of attribute `oid` among the signed attributes.
fn attribute<'a>(attrs: &'a [u8], oid: &ObjectIdentifier) -> Result<Option<Tlv<'a>>, &'static str> {
    let mut r = Reader::new(attrs);
    let mut found = None;
    while !r.is_empty() {
        let attr = r.next(asn1::SEQUENCE).ok_or("bad signed attribute")?;
        let mut ar = Reader::new(attr.value);
        let attr_oid = asn1::oid(ar.next(asn1::OID).ok_or("bad signed attribute")?)
            .ok_or("bad signed attribute")?;
        if attr_oid != *oid {
            continue;
        }
        if found.is_some() {
            return Err("a signed attribute appears twice");
        }
        let values = ar.next(asn1::SET).ok_or("bad signed attribute")?;
        let mut vr = Reader::new(values.value);
        let value = vr.next_any().ok_or("empty signed attribute")?;
        if !vr.is_empty() {
            return Err("a signed attribute has several values");
        }
        found = Some(value);
    }
    Ok(found)
}

/// Whether the token's signer identifier names `cert`.
fn names(sid: &SignerId<'_>, cert: &Cert) -> bool {
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            let (Ok(name), Ok(serial)) = (
                Name::from_der(issuer),
                // The INTEGER element as a SerialNumber.
                SerialNumber::<x509_cert::certificate::Rfc5280>::from_der(serial),
            ) else {
                return false;
            };
            cert.parsed.tbs_certificate().issuer() == &name
                && cert.parsed.tbs_certificate().serial_number() == &serial
        }
        SignerId::SubjectKeyId(ski) => cert
            .extension(&ObjectIdentifier::new_unwrap("2.5.29.14"))
            .and_then(|e| asn1::read_only(e.extn_value.as_bytes(), asn1::OCTET_STRING))
            .is_some_and(|t| t.value == *ski),
    }
}

/// Checks an ESS `SigningCertificate(V2)` attribute value against `cert`.
fn check_ess(value: Tlv<'_>, v2: bool, cert: &Cert) -> Result<(), AuthorityError> {
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), ... }
    let bad = || AuthorityError::Attribute("malformed ESS signing-certificate attribute");
    let outer = asn1::read_only(value.raw, asn1::SEQUENCE).ok_or_else(bad)?;
    let certs = Reader::new(outer.value)
        .next(asn1::SEQUENCE)
        .ok_or_else(bad)?;
    let first = Reader::new(certs.value)
        .next(asn1::SEQUENCE)
        .ok_or_else(bad)?;
    let mut r = Reader::new(first.value);
    let (alg, cert_hash) = if v2 {
        // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, ... }
        let alg = match r.optional(asn1::SEQUENCE) {
            None => &digest::SHA256,
            Some(a) => {
                let oid = asn1::oid(Reader::new(a.value).next(asn1::OID).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
                match hash_from_oid(&oid) {
                    Some(hallmark_sigstore::HashAlgorithm::Sha384) => &digest::SHA384,
                    Some(hallmark_sigstore::HashAlgorithm::Sha512) => &digest::SHA512,
                    Some(_) => &digest::SHA256,
                    None => {
                        return Err(AuthorityError::Ess(format!(
                            "unsupported ESS certificate hash {oid}"
                        )));
                    }
                }
            }
        };
        (alg, r.next(asn1::OCTET_STRING).ok_or_else(bad)?.value)
    } else {
        (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            r.next(asn1::OCTET_STRING).ok_or_else(bad)?.value,
        )
    };
    if digest::digest(alg, &cert.der).as_ref() != cert_hash {
        return Err(AuthorityError::Ess(
            "the ESS signing-certificate hash does not match the authority's certificate".into(),
        ));
    }
    Ok(())
}

/// Verifies `token` as signed by `tsa`; returns `genTime`.
fn verify_with(
    token: &Token<'_>,
    info: &TstInfo<'_>,
    tsa: &Authority,
) -> Result<i64, AuthorityError> {
    let signer = tsa.chain.first().ok_or(AuthorityError::NoCertificate)?;
    if !names(&token.sid, signer) {
        return Err(AuthorityError::OtherSigner);
    }
    let attrs = token.signed_attrs.value;
    let attribute = |oid| attribute(attrs, oid).map_err(AuthorityError::Attribute);
    let content_type = attribute(&ATTR_CONTENT_TYPE)?.ok_or(AuthorityError::Attribute(
        "the contentType attribute is missing",
    ))?;
    if asn1::oid(content_type) != Some(ID_CT_TST_INFO) {
        return Err(AuthorityError::Attribute(
            "the contentType attribute is not id-ct-TSTInfo",
        ));
    }
    let md = attribute(&ATTR_MESSAGE_DIGEST)?.ok_or(AuthorityError::Attribute(
        "the messageDigest attribute is missing",
    ))?;
    if md.tag != asn1::OCTET_STRING || md.value != hash(token.digest_alg, token.tst_info) {
        return Err(AuthorityError::Attribute(
            "the messageDigest attribute does not match the TSTInfo",
        ));
    }
    if let Some(ess) = attribute(&ATTR_SIGNING_CERT_V2)? {
        check_ess(ess, true, signer)?;
    } else if let Some(ess) = attribute(&ATTR_SIGNING_CERT)? {
        check_ess(ess, false, signer)?;
    }
    // The signature covers the DER SET OF the attributes, not their [0] IMPLICIT form.
    let mut signed = Vec::with_capacity(token.signed_attrs.raw.len());
    signed.push(asn1::SET);
    signed.extend_from_slice(token.signed_attrs.raw.get(1..).unwrap_or_default());
    let scheme = Scheme::from_algorithm_identifier(token.signature_alg.raw, Some(token.digest_alg))
        .ok_or(AuthorityError::UnsupportedSignature)?;
    if !signer.key.verify_scheme(scheme, &signed, token.signature) {
        return Err(AuthorityError::BadSignature);
    }
    let t = info.gen_time;
    if !signer.extended_key_usages().contains(&EKU_TIME_STAMPING) {
        return Err(AuthorityError::NotTimeStamping);
    }
    for (index, cert) in tsa.chain.iter().enumerate() {
        if !cert.valid_at(t) {
            return Err(AuthorityError::CertificateNotValid {
                index,
                time: t,
                not_before: cert.not_before,
                not_after: cert.not_after,
            });
        }
        if let Some(parent) = tsa.chain.get(index + 1)
            && !cert.issued_by(parent)
        {
            return Err(AuthorityError::ChainBroken { index });
        }
    }
    if !tsa.valid_for.contains(t) {
        return Err(AuthorityError::OutsideWindow {
            time: t,
            window: tsa.valid_for.display(),
        });
    }
    Ok(t)
}

/// Verifies one `TimeStampResp` over `signature` against the trusted root's authorities.
pub(crate) fn verify(
    resp: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<Stamp, TimestampError> {
    let token = parse_token(resp).map_err(TimestampError::Malformed)?;
    let info = parse_tst_info(token.tst_info).map_err(TimestampError::Malformed)?;
    if info.imprint != hash(info.imprint_alg, signature) {
        return Err(TimestampError::ImprintMismatch);
    }
    if root.tsas.is_empty() {
        return Err(TimestampError::NoAuthority);
    }
    let mut reasons = Vec::new();
    for tsa in &root.tsas {
        match verify_with(&token, &info, tsa) {
            Ok(time) => {
                return Ok(Stamp {
                    time,
                    authority: tsa.uri.clone(),
                });
            }
            Err(e) => reasons.push((tsa.uri.clone(), e)),
        }
    }
    Err(TimestampError::NotVerified(reasons))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use hallmark_sigstore::HashAlgorithm;
    use hallmark_sigstore::rfc3161::{DEFAULT_POLICY, TimestampAuthority, TimestampRequest};
    use hallmark_sigstore::trust::{CertificateAuthority, TimeRange};

    use super::*;

    /// A Hallmark authority as `ca init` makes it (root, TSA leaf), a token from
    /// `hallmark_sigstore::rfc3161` over a signature, and the trusted root naming the authority.
    fn hallmark_token(signature: &[u8], now: SystemTime) -> (Vec<u8>, TrustedRoot) {
        let subject = |cn: &str| hallmark_ca::CaSubject {
            organization: "Hallmark test".into(),
            common_name: cn.into(),
        };
        let day = Duration::from_secs(86_400);
        let root_key = p256::ecdsa::SigningKey::from_slice(&[1; 32]).unwrap();
        let tsa_key = p256::ecdsa::SigningKey::from_slice(&[2; 32]).unwrap();
        let start = now - day;
        let root =
            hallmark_ca::root_certificate(&root_key, &subject("root"), start, 30 * day).unwrap();
        let spki = hallmark_ca::IssuingKey::public_key_der(&tsa_key).unwrap();
        let leaf =
            hallmark_ca::tsa_certificate(&root_key, &root, &spki, &subject("tsa"), start, 30 * day)
                .unwrap();
        let chain = vec![
            hallmark_ca::certificate_der(&leaf).unwrap(),
            hallmark_ca::certificate_der(&root).unwrap(),
        ];
        let authority = TimestampAuthority::new(&chain, DEFAULT_POLICY).unwrap();
        let digest = aws_lc_rs::digest::digest(&digest::SHA256, signature);
        let mut request = TimestampRequest::new(HashAlgorithm::Sha256, digest.as_ref()).unwrap();
        request.cert_req = true;
        let resp = authority
            .respond::<_, p256::ecdsa::DerSignature>(&request, &[9; 16], now, &tsa_key)
            .unwrap();
        let start_s = start.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let mut trusted = hallmark_sigstore::trust::TrustedRoot::new(vec![], vec![], vec![]);
        trusted
            .timestamp_authorities
            .push(CertificateAuthority::new(
                "Hallmark test",
                "tsa",
                "http://hallmark.test/api/v1/timestamp",
                &chain,
                TimeRange::from(start_s).unwrap(),
            ));
        let json = serde_json::to_vec(&trusted).unwrap();
        (resp, TrustedRoot::from_json(&json).unwrap())
    }

    #[test]
    fn hallmark_timestamps_verify_and_only_for_their_data() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (resp, root) = hallmark_token(b"the bundle's signature", now);
        let stamp = verify(&resp, b"the bundle's signature", &root).unwrap();
        assert_eq!(stamp.time, 1_800_000_000);
        assert_eq!(stamp.authority, "http://hallmark.test/api/v1/timestamp");
        let e = verify(&resp, b"another signature", &root).unwrap_err();
        assert!(matches!(e, TimestampError::ImprintMismatch), "{e}");
    }
}
