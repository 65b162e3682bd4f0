//! Leaf certificate issuance in two sans-I/O steps, so the caller can log the precertificate to
//! its CT log in between:
//!
//! ```text
//! let prepared = issuance.prepare(&leaf_spki_der, &identity, now)?;      // pure
//! let sct = ct_log.add(prepared.merkle_tree_leaf(ts)?, ...)?;            // the caller's I/O
//! let cert = prepared.finish(&sct, &issuing_key)?;                      // one HSM signature
//! ```
//!
//! The leaf profile (what Fulcio issues and sigstore-python, sigstore-js and sigstore-rs accept),
//! extensions in this order:
//!
//! | extension | critical | value |
//! | --- | --- | --- |
//! | keyUsage | yes | digitalSignature |
//! | extKeyUsage | no | codeSigning |
//! | subjectKeyIdentifier | no | SHA-1 of the leaf key bits |
//! | authorityKeyIdentifier | no | the issuing CA's key id |
//! | subjectAltName | yes (the subject is empty) | rfc822Name, URI, or otherName 1.3.6.1.4.1.57264.1.7 (UTF8String) |
//! | 1.3.6.1.4.1.57264.1.1 | no | issuer URL, bare UTF-8 bytes |
//! | 1.3.6.1.4.1.57264.1.2 – .6 | no | deprecated GitHub values, bare UTF-8, when the identity has them |
//! | 1.3.6.1.4.1.57264.1.8 | no | issuer URL, DER UTF8String |
//! | 1.3.6.1.4.1.57264.1.9 – .23 | no | CI identity values, DER UTF8String, those present |
//! | 1.3.6.1.4.1.57264.1.24 | no | the token's `sub` (Token Subject), DER UTF8String |
//! | precertificate: poison 1.3.6.1.4.1.11129.2.4.3 | yes | ASN.1 NULL |
//! | final: SCT list 1.3.6.1.4.1.11129.2.4.2 | no | OCTET STRING of the TLS SCT list, one SCT |
//!
//! Version 3, a 126-bit random serial, an empty subject, validity exactly 10 minutes from `now`
//! (rounded down to a second: notBefore ≤ the log's integrated time), signed with the issuing
//! key's algorithm (ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384). The final
//! certificate's extensions are the precertificate's minus the poison plus the SCT list at the
//! end, so removing the SCT list gives back exactly the TBS the SCT signed.

use std::time::{Duration, SystemTime};

use der::Decode;
use der::asn1::{Any, Ia5String, Null, OctetString, Utf8StringRef};
use hallmark_sigstore::ct::{self, MerkleTreeLeaf, Sct};
use hallmark_sigstore::identity::{Identity, SubjectAltName};
use hallmark_sigstore::oid;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use crate::authority::{self, check_key_matches, subject_key_identifier};
use crate::error::{CaError, Result};
use crate::pubkey;
use crate::signer::{IssuingKey, sign_certificate};
use crate::x509::{self, Tbs};

/// How long a leaf certificate is valid: 10 minutes, as Fulcio.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(600);

/// What the issuing CA contributes to every leaf: its name, key id, key hash and signature
/// algorithm. Built once at start-up from the issuing certificate and its key; cheap to share
/// (`Send + Sync`, no key inside).
#[derive(Clone, Debug)]
pub struct Issuance {
    issuer: Name,
    authority_key_id: OctetString,
    algorithm: AlgorithmIdentifierOwned,
    issuer_key_hash: [u8; 32],
}

impl Issuance {
    /// Check that `issuing_certificate` holds `issuing_key`'s public key and may issue
    /// certificates, and capture what leaves need from it.
    ///
    /// # Errors
    /// [`CaError::CertificateKeyMismatch`], [`CaError::UnsuitableCertificate`] (not a CA, no
    /// keyCertSign), [`CaError::UnsupportedCaKey`].
    pub fn new<K: IssuingKey + ?Sized>(
        issuing_certificate: &Certificate,
        issuing_key: &K,
    ) -> Result<Issuance> {
        let key_der = issuing_key.public_key_der()?;
        check_key_matches("issuing CA", issuing_certificate, &key_der)?;
        let tbs = issuing_certificate.tbs_certificate();
        let key = pubkey::decode_public_key("the issuing CA key", &key_der)?;
        if !key.algorithm().is_ca_key() {
            return Err(CaError::UnsupportedCaKey {
                what: "the issuing CA",
                key: key.algorithm().to_string(),
            });
        }
        // The issuer must be allowed to sign certificates.
        authority::check_is_ca("issuing CA", issuing_certificate)?;
        Ok(Issuance {
            issuer: tbs.subject().clone(),
            authority_key_id: subject_key_identifier(issuing_certificate)?,
            algorithm: issuing_key.signature_algorithm()?,
            issuer_key_hash: ct::issuer_key_hash(&key_der),
        })
    }

    /// SHA-256 of the issuing CA's DER `SubjectPublicKeyInfo`: the `issuer_key_hash` of every
    /// precertificate entry.
    #[must_use]
    pub fn issuer_key_hash(&self) -> &[u8; 32] {
        &self.issuer_key_hash
    }

    /// Build the leaf (pre)certificate for `leaf_public_key` (DER `SubjectPublicKeyInfo`, as
    /// [`crate::ProvenKey::spki_der`] returns) and `identity`, valid for [`LEAF_VALIDITY`] from
    /// `now` (rounded down to a second). Pure: no signing, no I/O.
    ///
    /// # Errors
    /// [`CaError::Malformed`] / [`CaError::UnsupportedKey`] for a bad leaf key,
    /// [`CaError::UnencodableIdentity`] for an identity that cannot be written (empty, or
    /// non-ASCII in an rfc822Name/URI), [`CaError::Time`], [`CaError::Rng`].
    pub fn prepare(
        &self,
        leaf_public_key: &[u8],
        identity: &Identity,
        now: SystemTime,
    ) -> Result<Prepared> {
        pubkey::decode_public_key("the leaf public key", leaf_public_key)?;
        let spki = SubjectPublicKeyInfoOwned::from_der(leaf_public_key)
            .map_err(|e| CaError::malformed("the leaf public key", e))?;
        let validity = x509::validity(now, LEAF_VALIDITY)?;
        let extensions = leaf_extensions(&spki, &self.authority_key_id, identity)?;
        let tbs = Tbs::v3(
            x509::random_serial()?,
            self.algorithm.clone(),
            self.issuer.clone(),
            validity,
            Name::default(),
            spki,
            extensions,
        );
        let tbs_der = tbs.encode()?;
        Ok(Prepared {
            tbs,
            tbs_der,
            issuer_key_hash: self.issuer_key_hash,
        })
    }
}

/// A leaf certificate between [`Issuance::prepare`] and [`Prepared::finish`]: the TBS is fixed
/// (serial, validity, extensions); what remains is logging it and signing.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The final TBS minus the SCT list (= the precertificate's TBS minus the poison).
    tbs: Tbs,
    /// `tbs` encoded: what the SCT signs.
    tbs_der: Vec<u8>,
    issuer_key_hash: [u8; 32],
}

impl Prepared {
    /// The precertificate's TBS without the poison extension (DER): what the CT log stores in a
    /// `PreCert` entry and what the SCT signs.
    #[must_use]
    pub fn precert_tbs_der(&self) -> &[u8] {
        &self.tbs_der
    }

    /// SHA-256 of the issuing CA's DER `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn issuer_key_hash(&self) -> &[u8; 32] {
        &self.issuer_key_hash
    }

    /// The CT log's leaf for this precertificate, with the SCT's `timestamp_ms`.
    #[must_use]
    pub fn merkle_tree_leaf(&self, timestamp_ms: u64) -> MerkleTreeLeaf {
        MerkleTreeLeaf::precert(timestamp_ms, self.issuer_key_hash, self.tbs_der.clone())
    }

    /// The certificate's serial number.
    #[must_use]
    pub fn serial_number(&self) -> &SerialNumber {
        &self.tbs.serial_number
    }

    /// notBefore (`now` rounded down to a second).
    #[must_use]
    pub fn not_before(&self) -> SystemTime {
        self.tbs.validity.not_before.to_system_time()
    }

    /// notAfter (notBefore + [`LEAF_VALIDITY`]).
    #[must_use]
    pub fn not_after(&self) -> SystemTime {
        self.tbs.validity.not_after.to_system_time()
    }

    /// The signed precertificate (DER): the TBS plus the critical poison extension, signed by
    /// the issuing key. Only needed for a CT log's `extra_data` (RFC 6962 `PrecertChainEntry`);
    /// it costs one more signature, so it is a separate step.
    ///
    /// # Errors
    /// [`CaError::CertificateKeyMismatch`] if `issuing_key` is not the issuing CA's key,
    /// [`CaError::Signer`].
    pub fn precertificate_der<K: IssuingKey + ?Sized>(&self, issuing_key: &K) -> Result<Vec<u8>> {
        self.check_key(issuing_key)?;
        let mut tbs = self.tbs.clone();
        push_extension(&mut tbs, x509::extension(oid::CT_POISON, true, &Null)?);
        sign_certificate(
            issuing_key,
            "signing the precertificate",
            &tbs.signature,
            &tbs.encode()?,
        )
    }

    /// Embed `sct` (the CT log's SCT for [`Prepared::precert_tbs_der`]) and sign the final
    /// certificate with the issuing key. Blocks on the HSM: call from a blocking thread.
    ///
    /// The SCT is not verified here (the caller got it from its own log); verifiers check it
    /// with [`ct::verify_embedded_scts`].
    ///
    /// # Errors
    /// [`CaError::CertificateKeyMismatch`] if `issuing_key` is not the issuing CA's key,
    /// [`CaError::Signer`], [`CaError::Ct`].
    pub fn finish<K: IssuingKey + ?Sized>(self, sct: &Sct, issuing_key: &K) -> Result<Certificate> {
        authority::decode_own(&self.finish_der(sct, issuing_key)?)
    }

    /// [`Prepared::finish`], returning the certificate's DER as the issuing key signed it,
    /// without decoding it again (the server answers with it as PEM at once).
    ///
    /// # Errors
    /// As [`Prepared::finish`].
    pub fn finish_der<K: IssuingKey + ?Sized>(self, sct: &Sct, issuing_key: &K) -> Result<Vec<u8>> {
        self.check_key(issuing_key)?;
        let mut tbs = self.tbs;
        push_extension(
            &mut tbs,
            x509::raw_extension(
                oid::CT_SCT_LIST,
                false,
                ct::sct_list_extension_value(std::slice::from_ref(sct))?,
            )?,
        );
        sign_certificate(
            issuing_key,
            "signing the leaf certificate",
            &tbs.signature,
            &tbs.encode()?,
        )
    }

    fn check_key<K: IssuingKey + ?Sized>(&self, key: &K) -> Result<()> {
        if ct::issuer_key_hash(&key.public_key_der()?) == self.issuer_key_hash {
            Ok(())
        } else {
            Err(CaError::CertificateKeyMismatch { what: "issuing CA" })
        }
    }
}

fn push_extension(tbs: &mut Tbs, ext: Extension) {
    tbs.extensions.get_or_insert_with(Vec::new).push(ext);
}

/// The leaf's extensions in profile order, without poison or SCT list.
fn leaf_extensions(
    spki: &SubjectPublicKeyInfoOwned,
    authority_key_id: &OctetString,
    identity: &Identity,
) -> Result<Vec<Extension>> {
    let mut exts = Vec::with_capacity(12);
    exts.push(x509::extension(
        oid::KEY_USAGE,
        true,
        &KeyUsage(KeyUsages::DigitalSignature.into()),
    )?);
    exts.push(x509::extension(
        oid::EXT_KEY_USAGE,
        false,
        &ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]),
    )?);
    exts.extend(x509::key_identifier_extensions(
        &x509::key_identifier(spki)?,
        authority_key_id,
    )?);
    exts.push(x509::extension(
        oid::SUBJECT_ALT_NAME,
        true,
        &vec![general_name(&identity.san)?],
    )?);

    if identity.issuer.is_empty() {
        return Err(CaError::UnencodableIdentity {
            field: "issuer",
            value: String::new(),
            reason: "it is empty",
        });
    }
    exts.push(x509::raw_extension(
        oid::FULCIO_ISSUER_V1,
        false,
        identity.issuer.as_bytes(),
    )?);
    if let Some(gh) = &identity.github_v1 {
        for (ext, value) in gh.values() {
            if !value.is_empty() {
                exts.push(x509::raw_extension(ext.oid(), false, value.as_bytes())?);
            }
        }
    }
    exts.push(utf8_extension(
        oid::FULCIO_ISSUER_V2,
        "issuer",
        &identity.issuer,
    )?);

    for (ext, value) in identity.extensions.values() {
        // Like Fulcio, an empty value is left out.
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            exts.push(utf8_extension(ext.oid(), ext.name(), value)?);
        }
    }
    if !identity.subject.is_empty() {
        exts.push(utf8_extension(
            oid::FULCIO_TOKEN_SUBJECT,
            "token subject",
            &identity.subject,
        )?);
    }
    Ok(exts)
}

/// An extension holding `value` as a DER UTF8String.
fn utf8_extension(
    o: der::asn1::ObjectIdentifier,
    field: &'static str,
    value: &str,
) -> Result<Extension> {
    let s = Utf8StringRef::new(value).map_err(|_| CaError::UnencodableIdentity {
        field,
        value: value.to_owned(),
        reason: "it is too long for a UTF8String",
    })?;
    x509::extension(o, false, &s)
}

/// The SAN entry for an identity.
fn general_name(san: &SubjectAltName) -> Result<GeneralName> {
    let (field, value) = match san {
        SubjectAltName::Email(v) => ("email SAN", v),
        SubjectAltName::Uri(v) => ("URI SAN", v),
        SubjectAltName::OtherName(v) => ("username SAN", v),
        // `SubjectAltName` is non-exhaustive: a new kind must be added to the profile here.
        other => {
            return Err(CaError::UnencodableIdentity {
                field: "SAN",
                value: other.value().to_owned(),
                reason: "this SAN kind is not in the certificate profile",
            });
        }
    };
    if value.is_empty() {
        return Err(CaError::UnencodableIdentity {
            field,
            value: String::new(),
            reason: "it is empty",
        });
    }
    let ia5 = |v: &str| {
        Ia5String::new(v).map_err(|_| CaError::UnencodableIdentity {
            field,
            value: v.to_owned(),
            reason: "an rfc822Name or URI SAN holds ASCII only (IA5String)",
        })
    };
    Ok(match san {
        SubjectAltName::Email(v) => GeneralName::Rfc822Name(ia5(v)?),
        SubjectAltName::Uri(v) => GeneralName::UniformResourceIdentifier(ia5(v)?),
        _ => {
            let utf8 = Utf8StringRef::new(value.as_str())
                .and_then(|s| Any::encode_from(&s))
                .map_err(|_| CaError::UnencodableIdentity {
                    field,
                    value: value.clone(),
                    reason: "it is too long for a UTF8String",
                })?;
            GeneralName::OtherName(OtherName {
                type_id: oid::FULCIO_OTHERNAME_SAN,
                value: utf8,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_sync() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
        check::<Issuance>();
        check::<Prepared>();
    }
}
