//! CA certificates: the self-signed root and the intermediate that issues leaves, and the checks
//! `hallmark ca init` runs on existing ones (certificate matches key, intermediate chains to
//! root).
//!
//! Profile (after Fulcio's `createca` and its intermediate):
//!
//! | | root | intermediate |
//! | --- | --- | --- |
//! | subject | `O=<organization>, CN=<common name>` | same form |
//! | basicConstraints (critical) | CA, pathLen 1 | CA, pathLen 0 |
//! | keyUsage (critical) | keyCertSign, cRLSign | keyCertSign, cRLSign |
//! | extKeyUsage | — | codeSigning (EKU chaining for code-signing leaves) |
//! | subjectKeyIdentifier | SHA-1 of the key bits | SHA-1 of the key bits |
//! | authorityKeyIdentifier | its own SKI | the root's SKI |
//! | serial | 126 random bits | 126 random bits |
//! | key | ECDSA P-256 / P-384 | ECDSA P-256 / P-384 |
//!
//! The timestamp authority's leaf ([`tsa_certificate`], issued by the root), as RFC 3161 §2.3
//! and the Sigstore TSA require: subject `O=<organization>, CN=<common name>`; basicConstraints
//! CA false (critical); keyUsage digitalSignature (critical); extKeyUsage exactly timeStamping,
//! critical; SKI, and AKI = the root's SKI; 126 random serial bits; an ECDSA P-256 key.

use std::time::{Duration, SystemTime};

use der::asn1::OctetString;
use der::{Decode, DecodePem, Encode, EncodePem};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::error::{CaError, Result};
use crate::pubkey;
use crate::signer::{IssuingKey, sign_certificate};
use crate::x509::{self, Tbs};
use hallmark_sigstore::crypto::KeyAlgorithm;
use hallmark_sigstore::oid;

/// The subject of a CA certificate: `O=<organization>, CN=<common_name>` (UTF8Strings). An empty
/// field is left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaSubject {
    /// The organization (`O`).
    pub organization: String,
    /// The common name (`CN`), e.g. `"Hallmark root CA"`.
    pub common_name: String,
}

impl CaSubject {
    fn to_name(&self) -> Result<Name> {
        x509::ca_name(&self.organization, &self.common_name)
    }
}

/// The CA extensions: basicConstraints, keyUsage, [extKeyUsage], SKI, AKI.
fn ca_extensions(
    path_len: u8,
    code_signing: bool,
    ski: &OctetString,
    authority_key_id: &OctetString,
) -> Result<Extensions> {
    let mut exts = vec![
        x509::extension(
            oid::BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(path_len),
            },
        )?,
        x509::extension(
            oid::KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
    ];
    if code_signing {
        exts.push(x509::extension(
            oid::EXT_KEY_USAGE,
            false,
            &ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]),
        )?);
    }
    exts.extend(x509::key_identifier_extensions(ski, authority_key_id)?);
    Ok(exts)
}

/// Decode a CA public key and check it is ECDSA P-256 or P-384.
fn ca_public_key(what: &'static str, der: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    let key = pubkey::decode_public_key(what, der).map_err(|e| match e {
        CaError::UnsupportedKey { key, .. } => CaError::UnsupportedCaKey { what, key },
        CaError::Malformed { detail, .. } => CaError::Encoding { what, detail },
        other => other,
    })?;
    if !key.algorithm().is_ca_key() {
        return Err(CaError::UnsupportedCaKey {
            what,
            key: key.algorithm().to_string(),
        });
    }
    SubjectPublicKeyInfoOwned::from_der(der).map_err(|e| CaError::encoding(what, e))
}

/// Build the self-signed root certificate for `key`, valid from `not_before` (rounded down to a
/// second) for `validity`.
///
/// # Errors
/// [`CaError::UnsupportedCaKey`] for a key that is not P-256/P-384, [`CaError::Signer`] if the
/// key fails to sign [`CaError::Time`] for a validity that cannot be
/// encoded.
pub fn root_certificate<K: IssuingKey + ?Sized>(
    key: &K,
    subject: &CaSubject,
    not_before: SystemTime,
    validity: Duration,
) -> Result<Certificate> {
    let spki = ca_public_key("the root key", &key.public_key_der()?)?;
    let ski = x509::key_identifier(&spki)?;
    let name = subject.to_name()?;
    let algorithm = key.signature_algorithm()?;
    let tbs = Tbs::v3(
        x509::random_serial()?,
        algorithm.clone(),
        name.clone(),
        x509::validity(not_before, validity)?,
        name,
        spki,
        ca_extensions(1, false, &ski, &ski)?,
    );
    let der = sign_certificate(
        key,
        "signing the root certificate",
        &algorithm,
        &tbs.encode()?,
    )?;
    decode_own(&der)
}

/// Build the intermediate certificate for `intermediate_public_key` (DER `SubjectPublicKeyInfo`,
/// ECDSA P-256/P-384), issued and signed by the root (`root_key` holding `root`'s key), valid
/// from `not_before` for `validity`.
///
/// # Errors
/// [`CaError::CertificateKeyMismatch`] if `root` does not hold `root_key`'s public key,
/// [`CaError::UnsuitableCertificate`] if `root` is not a CA, [`CaError::UnsupportedCaKey`],
/// [`CaError::Signer`], [`CaError::Time`].
pub fn intermediate_certificate<K: IssuingKey + ?Sized>(
    root_key: &K,
    root: &Certificate,
    intermediate_public_key: &[u8],
    subject: &CaSubject,
    not_before: SystemTime,
    validity: Duration,
) -> Result<Certificate> {
    check_key_matches("root", root, &root_key.public_key_der()?)?;
    check_is_ca("root", root)?;
    let spki = ca_public_key("the intermediate key", intermediate_public_key)?;
    let ski = x509::key_identifier(&spki)?;
    let root_ski = subject_key_identifier(root)?;
    let algorithm = root_key.signature_algorithm()?;
    let tbs = Tbs::v3(
        x509::random_serial()?,
        algorithm.clone(),
        root.tbs_certificate().subject().clone(),
        x509::validity(not_before, validity)?,
        subject.to_name()?,
        spki,
        ca_extensions(0, true, &ski, &root_ski)?,
    );
    let der = sign_certificate(
        root_key,
        "signing the intermediate certificate",
        &algorithm,
        &tbs.encode()?,
    )?;
    decode_own(&der)
}

/// Build the timestamp authority's leaf for `tsa_public_key` (DER `SubjectPublicKeyInfo`, ECDSA
/// P-256), issued and signed by the root (`root_key` holding `root`'s key), valid from
/// `not_before` for `validity` (but never past the root's notAfter).
///
/// # Errors
/// [`CaError::CertificateKeyMismatch`] if `root` does not hold `root_key`'s public key,
/// [`CaError::UnsuitableCertificate`] if `root` is not a CA, [`CaError::UnsupportedCaKey`] for a
/// key that is not P-256, [`CaError::Signer`], [`CaError::Time`].
pub fn tsa_certificate<K: IssuingKey + ?Sized>(
    root_key: &K,
    root: &Certificate,
    tsa_public_key: &[u8],
    subject: &CaSubject,
    not_before: SystemTime,
    validity: Duration,
) -> Result<Certificate> {
    check_key_matches("root", root, &root_key.public_key_der()?)?;
    check_is_ca("root", root)?;
    let what = "the timestamp authority key";
    let key = pubkey::decode_public_key(what, tsa_public_key)?;
    if key.algorithm() != KeyAlgorithm::EcdsaP256 {
        return Err(CaError::UnsupportedCaKey {
            what,
            key: key.algorithm().to_string(),
        });
    }
    let spki = ca_public_key(what, tsa_public_key)?;
    let ski = x509::key_identifier(&spki)?;
    let root_ski = subject_key_identifier(root)?;
    // Within the root's validity: a verifier checks the whole chain at genTime.
    let root_end = root.tbs_certificate().validity().not_after.to_system_time();
    let start = x509::floor_to_second(not_before)?;
    let validity = match root_end.duration_since(start) {
        Ok(left) => validity.min(left),
        Err(_) => {
            return Err(CaError::UnsuitableCertificate {
                what: "root",
                reason: "it has expired".to_owned(),
            });
        }
    };
    let mut exts = vec![
        x509::extension(
            oid::BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        )?,
        x509::extension(
            oid::KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        )?,
        x509::extension(
            oid::EXT_KEY_USAGE,
            true,
            &ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]),
        )?,
    ];
    exts.extend(x509::key_identifier_extensions(&ski, &root_ski)?);
    let algorithm = root_key.signature_algorithm()?;
    let tbs = Tbs::v3(
        x509::random_serial()?,
        algorithm.clone(),
        root.tbs_certificate().subject().clone(),
        x509::validity(start, validity)?,
        subject.to_name()?,
        spki,
        exts,
    );
    let der = sign_certificate(
        root_key,
        "signing the timestamp authority certificate",
        &algorithm,
        &tbs.encode()?,
    )?;
    decode_own(&der)
}

/// Decode a certificate this crate just built.
pub(crate) fn decode_own(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| CaError::encoding("the certificate", e))
}

/// The certificate's subjectKeyIdentifier, or the RFC 5280 method (1) identifier of its key
/// when it has none.
pub(crate) fn subject_key_identifier(cert: &Certificate) -> Result<OctetString> {
    let tbs = cert.tbs_certificate();
    match x509::find_extension(tbs.extensions(), &oid::SUBJECT_KEY_IDENTIFIER) {
        Some(ext) => SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
            .map(|ski| ski.0)
            .map_err(|e| CaError::UnsuitableCertificate {
                what: "issuing",
                reason: format!("malformed subjectKeyIdentifier: {e}"),
            }),
        None => x509::key_identifier(tbs.subject_public_key_info()),
    }
}

/// Check that `cert` holds the public key `public_key_der` (DER `SubjectPublicKeyInfo`).
/// `what` names the certificate in the error (`"root"`, `"intermediate"`).
///
/// # Errors
/// [`CaError::CertificateKeyMismatch`] when the keys differ (or `public_key_der` does not
/// decode), [`CaError::Encoding`] if the certificate's key cannot be re-encoded.
pub fn check_key_matches(
    what: &'static str,
    cert: &Certificate,
    public_key_der: &[u8],
) -> Result<()> {
    let ours = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| CaError::encoding("the certificate's public key", e))?;
    // Compare canonical encodings: decode the given key and encode it again.
    let theirs = SubjectPublicKeyInfoOwned::from_der(public_key_der)
        .and_then(|k| k.to_der())
        .map_err(|_| CaError::CertificateKeyMismatch { what })?;
    if ours == theirs {
        Ok(())
    } else {
        Err(CaError::CertificateKeyMismatch { what })
    }
}

/// The certificate's basicConstraints and keyUsage allow it to issue certificates.
pub(crate) fn check_is_ca(what: &'static str, cert: &Certificate) -> Result<()> {
    let unsuitable = |reason: String| CaError::UnsuitableCertificate { what, reason };
    let tbs = cert.tbs_certificate();
    let bc = match x509::find_extension(tbs.extensions(), &oid::BASIC_CONSTRAINTS) {
        Some(ext) => BasicConstraints::from_der(ext.extn_value.as_bytes())
            .map_err(|e| unsuitable(format!("malformed basicConstraints: {e}")))?,
        None => {
            return Err(unsuitable(
                "it has no basicConstraints extension".to_owned(),
            ));
        }
    };
    if !bc.ca {
        return Err(unsuitable(
            "basicConstraints says it is not a CA".to_owned(),
        ));
    }
    if let Some(ext) = x509::find_extension(tbs.extensions(), &oid::KEY_USAGE) {
        let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
            .map_err(|e| unsuitable(format!("malformed keyUsage: {e}")))?;
        if !ku.key_cert_sign() {
            return Err(unsuitable("its keyUsage lacks keyCertSign".to_owned()));
        }
    }
    Ok(())
}

/// Check that `child` was issued by `issuer`: the names chain, `issuer` is a CA, the
/// authorityKeyIdentifier (if any) is the issuer's key id, and the signature verifies with the
/// issuer's key. Validity periods are not checked (that is the verifier's, at a given time).
/// `child_role` and `issuer_role` name the two in errors.
///
/// # Errors
/// [`CaError::NotIssuedBy`] naming the failed check, [`CaError::UnsuitableCertificate`] if
/// `issuer` is not a CA.
pub fn verify_issued_by(
    child_role: &'static str,
    child: &Certificate,
    issuer_role: &'static str,
    issuer: &Certificate,
) -> Result<()> {
    let fail = |reason: String| CaError::NotIssuedBy {
        child: child_role,
        issuer: issuer_role,
        reason,
    };
    let ctbs = child.tbs_certificate();
    let itbs = issuer.tbs_certificate();
    if ctbs.issuer() != itbs.subject() {
        return Err(fail(format!(
            "its issuer is {:?} but the {issuer_role} certificate's subject is {:?}",
            ctbs.issuer().to_string(),
            itbs.subject().to_string()
        )));
    }
    check_is_ca(issuer_role, issuer)?;
    if let Some(ext) = x509::find_extension(ctbs.extensions(), &oid::AUTHORITY_KEY_IDENTIFIER) {
        let aki = AuthorityKeyIdentifier::from_der(ext.extn_value.as_bytes())
            .map_err(|e| fail(format!("malformed authorityKeyIdentifier: {e}")))?;
        if let Some(id) = aki.key_identifier
            && id != subject_key_identifier(issuer)?
        {
            return Err(fail(
                "its authorityKeyIdentifier is not the issuer's key identifier".to_owned(),
            ));
        }
    }
    if ctbs.signature() != child.signature_algorithm() {
        return Err(fail(
            "its inner and outer signature algorithms differ".to_owned(),
        ));
    }
    let issuer_key = itbs
        .subject_public_key_info()
        .to_der()
        .map_err(|e| CaError::encoding("the issuer's public key", e))?;
    let key = pubkey::decode_public_key("the issuer certificate", &issuer_key)
        .map_err(|e| fail(e.to_string()))?;
    let tbs_der = ctbs
        .to_der()
        .map_err(|e| CaError::encoding("the certificate", e))?;
    let sig_alg = child.signature_algorithm();
    let sig_alg_ref = spki::AlgorithmIdentifierRef {
        oid: sig_alg.oid,
        parameters: sig_alg.parameters.as_ref().map(Into::into),
    };
    let scheme = pubkey::x509_scheme(key.algorithm(), &sig_alg_ref).ok_or_else(|| {
        fail(format!(
            "signature algorithm {} does not fit the issuer's {} key",
            oid::algorithm_name(&sig_alg.oid),
            key.algorithm()
        ))
    })?;
    let signature = child
        .signature()
        .as_bytes()
        .ok_or_else(|| fail("its signature is not a whole number of bytes".to_owned()))?;
    pubkey::verify(
        "the issuer certificate",
        &key,
        scheme,
        &tbs_der,
        signature,
        || fail("the signature does not verify with the issuer's key".to_owned()),
    )
    .map_err(|e| match e {
        CaError::NotIssuedBy { .. } => e,
        other => fail(other.to_string()),
    })
}

/// Check a CA pair as `hallmark ca init` finds it: `root` is a self-signed CA whose signature
/// verifies, and `intermediate` is a CA issued by it with codeSigning in its extended key usage
/// (needed to issue code-signing leaves).
///
/// # Errors
/// [`CaError::NotIssuedBy`] or [`CaError::UnsuitableCertificate`] naming what is wrong.
pub fn check_ca_chain(root: &Certificate, intermediate: &Certificate) -> Result<()> {
    verify_issued_by("root", root, "root", root)?;
    verify_issued_by("intermediate", intermediate, "root", root)?;
    check_is_ca("intermediate", intermediate)?;
    let tbs = intermediate.tbs_certificate();
    if let Some(ext) = x509::find_extension(tbs.extensions(), &oid::EXT_KEY_USAGE) {
        let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            CaError::UnsuitableCertificate {
                what: "intermediate",
                reason: format!("malformed extKeyUsage: {e}"),
            }
        })?;
        if !eku.0.contains(&oid::KP_CODE_SIGNING) {
            return Err(CaError::UnsuitableCertificate {
                what: "intermediate",
                reason: "its extKeyUsage lacks codeSigning, so it cannot issue code-signing \
                         certificates"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// Read a certificate from PEM (`CERTIFICATE`) or DER. `what` names it in errors.
///
/// # Errors
/// [`CaError::BadCertificate`], [`CaError::WrongPemLabel`].
pub fn parse_certificate(what: &'static str, pem_or_der: &[u8]) -> Result<Certificate> {
    if looks_like_pem(pem_or_der) {
        let label = der::pem::decode_label(trim_start(pem_or_der)).map_err(|e| {
            CaError::BadCertificate {
                what,
                detail: e.to_string(),
            }
        })?;
        if label != "CERTIFICATE" {
            return Err(CaError::WrongPemLabel {
                what,
                found: label.to_owned(),
                expected: "CERTIFICATE",
            });
        }
        Certificate::from_pem(trim_start(pem_or_der)).map_err(|e| CaError::BadCertificate {
            what,
            detail: e.to_string(),
        })
    } else {
        Certificate::from_der(pem_or_der).map_err(|e| CaError::BadCertificate {
            what,
            detail: e.to_string(),
        })
    }
}

/// The certificate as PEM (`-----BEGIN CERTIFICATE-----`, LF line endings).
///
/// # Errors
/// [`CaError::Encoding`].
pub fn certificate_pem(cert: &Certificate) -> Result<String> {
    cert.to_pem(der::pem::LineEnding::LF)
        .map_err(|e| CaError::encoding("the certificate as PEM", e))
}

/// A certificate's DER as PEM (`-----BEGIN CERTIFICATE-----`, LF line endings), without
/// decoding it.
///
/// # Errors
/// [`CaError::Encoding`].
pub fn certificate_der_to_pem(der: &[u8]) -> Result<String> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| CaError::encoding("the certificate as PEM", e))
}

/// The certificate's DER.
///
/// # Errors
/// [`CaError::Encoding`].
pub fn certificate_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der()
        .map_err(|e| CaError::encoding("the certificate", e))
}

/// The key type of a certificate's public key, if Hallmark knows it.
#[must_use]
pub fn certificate_key_algorithm(cert: &Certificate) -> Option<KeyAlgorithm> {
    let der = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    pubkey::decode_public_key("certificate", &der)
        .ok()
        .map(|k| k.algorithm())
}

pub(crate) fn looks_like_pem(input: &[u8]) -> bool {
    trim_start(input).starts_with(b"-----BEGIN ")
}

pub(crate) fn trim_start(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(input.len());
    &input[start..]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ecdsa::elliptic_curve::Generate as _;

    #[test]
    fn the_tsa_leaf_may_only_stamp_time_and_ends_with_the_root() {
        let root_key = p256::ecdsa::SigningKey::try_generate().unwrap();
        let tsa_key = p256::ecdsa::SigningKey::try_generate().unwrap();
        let subject = |cn: &str| CaSubject {
            organization: "Test".into(),
            common_name: cn.into(),
        };
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let root = root_certificate(&root_key, &subject("root"), now, 30 * day).unwrap();
        let leaf = tsa_certificate(
            &root_key,
            &root,
            &tsa_key.public_key_der().unwrap(),
            &subject("tsa"),
            now,
            3650 * day,
        )
        .unwrap();
        verify_issued_by("tsa", &leaf, "root", &root).unwrap();
        let tbs = leaf.tbs_certificate();
        assert_eq!(
            tbs.validity().not_after,
            root.tbs_certificate().validity().not_after
        );
        let eku = x509::find_extension(tbs.extensions(), &oid::EXT_KEY_USAGE).unwrap();
        assert!(eku.critical);
        assert_eq!(
            ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
                .unwrap()
                .0,
            vec![oid::KP_TIME_STAMPING]
        );
        let bc = x509::find_extension(tbs.extensions(), &oid::BASIC_CONSTRAINTS).unwrap();
        assert!(
            !BasicConstraints::from_der(bc.extn_value.as_bytes())
                .unwrap()
                .ca
        );
        assert!(check_is_ca("tsa", &leaf).is_err());
        // Only P-256 keys, and only from the root's key.
        let p384 = p384::ecdsa::SigningKey::try_generate().unwrap();
        let spki = p384.public_key_der().unwrap();
        assert!(tsa_certificate(&root_key, &root, &spki, &subject("t"), now, day).is_err());
        let other = p256::ecdsa::SigningKey::try_generate().unwrap();
        let spki = tsa_key.public_key_der().unwrap();
        assert!(tsa_certificate(&other, &root, &spki, &subject("t"), now, day).is_err());
    }

    #[test]
    fn pem_from_der_is_the_certificates_own_pem() {
        let key = p256::ecdsa::SigningKey::try_generate().unwrap();
        let subject = CaSubject {
            organization: "Test".into(),
            common_name: "root".into(),
        };
        let root =
            root_certificate(&key, &subject, SystemTime::now(), Duration::from_secs(60)).unwrap();
        let der = certificate_der(&root).unwrap();
        assert_eq!(
            certificate_der_to_pem(&der).unwrap(),
            certificate_pem(&root).unwrap()
        );
    }
}
