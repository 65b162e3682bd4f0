//! Object identifiers this crate writes and reads.
//!
//! Sigstore's (Fulcio's) extensions live under the Private Enterprise Number 57264; see
//! [Fulcio's OID directory](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
//! Extensions `.1` to `.6` hold the bare UTF-8 bytes; `.8` onwards hold a DER UTF8String.

use der::asn1::ObjectIdentifier;

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

/// 1.3.6.1.4.1.57264.1.1: OIDC issuer, raw UTF-8 (deprecated by `.8`, still required by
/// sigstore-python and sigstore-rs).
pub const FULCIO_ISSUER_V1: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.1");
/// 1.3.6.1.4.1.57264.1.2: GitHub Workflow Trigger, raw UTF-8 (deprecated).
pub const FULCIO_GITHUB_WORKFLOW_TRIGGER: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.2");
/// 1.3.6.1.4.1.57264.1.3: GitHub Workflow SHA, raw UTF-8 (deprecated).
pub const FULCIO_GITHUB_WORKFLOW_SHA: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.3");
/// 1.3.6.1.4.1.57264.1.4: GitHub Workflow Name, raw UTF-8 (deprecated).
pub const FULCIO_GITHUB_WORKFLOW_NAME: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.4");
/// 1.3.6.1.4.1.57264.1.5: GitHub Workflow Repository, raw UTF-8 (deprecated).
pub const FULCIO_GITHUB_WORKFLOW_REPOSITORY: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.5");
/// 1.3.6.1.4.1.57264.1.6: GitHub Workflow Ref, raw UTF-8 (deprecated).
pub const FULCIO_GITHUB_WORKFLOW_REF: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.6");
/// 1.3.6.1.4.1.57264.1.7: the otherName SAN type for `username` identities (UTF8String).
pub const FULCIO_OTHERNAME_SAN: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.7");
/// 1.3.6.1.4.1.57264.1.8: OIDC issuer, DER UTF8String.
pub const FULCIO_ISSUER_V2: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.8");
/// 1.3.6.1.4.1.57264.1.9: Build Signer URI.
pub const FULCIO_BUILD_SIGNER_URI: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.9");
/// 1.3.6.1.4.1.57264.1.10: Build Signer Digest.
pub const FULCIO_BUILD_SIGNER_DIGEST: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.10");
/// 1.3.6.1.4.1.57264.1.11: Runner Environment.
pub const FULCIO_RUNNER_ENVIRONMENT: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.11");
/// 1.3.6.1.4.1.57264.1.12: Source Repository URI.
pub const FULCIO_SOURCE_REPOSITORY_URI: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.12");
/// 1.3.6.1.4.1.57264.1.13: Source Repository Digest.
pub const FULCIO_SOURCE_REPOSITORY_DIGEST: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.13");
/// 1.3.6.1.4.1.57264.1.14: Source Repository Ref.
pub const FULCIO_SOURCE_REPOSITORY_REF: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.14");
/// 1.3.6.1.4.1.57264.1.15: Source Repository Identifier.
pub const FULCIO_SOURCE_REPOSITORY_IDENTIFIER: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.15");
/// 1.3.6.1.4.1.57264.1.16: Source Repository Owner URI.
pub const FULCIO_SOURCE_REPOSITORY_OWNER_URI: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.16");
/// 1.3.6.1.4.1.57264.1.17: Source Repository Owner Identifier.
pub const FULCIO_SOURCE_REPOSITORY_OWNER_IDENTIFIER: ObjectIdentifier =
    oid("1.3.6.1.4.1.57264.1.17");
/// 1.3.6.1.4.1.57264.1.18: Build Config URI.
pub const FULCIO_BUILD_CONFIG_URI: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.18");
/// 1.3.6.1.4.1.57264.1.19: Build Config Digest.
pub const FULCIO_BUILD_CONFIG_DIGEST: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.19");
/// 1.3.6.1.4.1.57264.1.20: Build Trigger.
pub const FULCIO_BUILD_TRIGGER: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.20");
/// 1.3.6.1.4.1.57264.1.21: Run Invocation URI.
pub const FULCIO_RUN_INVOCATION_URI: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.21");
/// 1.3.6.1.4.1.57264.1.22: Source Repository Visibility At Signing.
pub const FULCIO_SOURCE_REPOSITORY_VISIBILITY: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.22");
/// 1.3.6.1.4.1.57264.1.23: Deployment Environment.
pub const FULCIO_DEPLOYMENT_ENVIRONMENT: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.23");
/// 1.3.6.1.4.1.57264.1.24: Token Subject (the token's `sub` claim).
pub const FULCIO_TOKEN_SUBJECT: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1.24");

/// 1.3.6.1.4.1.11129.2.4.2: the embedded SignedCertificateTimestampList (RFC 6962 §3.3).
pub const CT_SCT_LIST: ObjectIdentifier = oid("1.3.6.1.4.1.11129.2.4.2");
/// 1.3.6.1.4.1.11129.2.4.3: the critical precertificate poison (RFC 6962 §3.1).
pub const CT_POISON: ObjectIdentifier = oid("1.3.6.1.4.1.11129.2.4.3");

/// 1.3.6.1.5.5.7.3.3: extended key usage id-kp-codeSigning.
pub const KP_CODE_SIGNING: ObjectIdentifier = oid("1.3.6.1.5.5.7.3.3");

/// 2.5.29.14: subjectKeyIdentifier.
pub(crate) const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.14");
/// 2.5.29.15: keyUsage.
pub(crate) const KEY_USAGE: ObjectIdentifier = oid("2.5.29.15");
/// 2.5.29.17: subjectAltName.
pub(crate) const SUBJECT_ALT_NAME: ObjectIdentifier = oid("2.5.29.17");
/// 2.5.29.19: basicConstraints.
pub(crate) const BASIC_CONSTRAINTS: ObjectIdentifier = oid("2.5.29.19");
/// 2.5.29.35: authorityKeyIdentifier.
pub(crate) const AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.35");
/// 2.5.29.37: extKeyUsage.
pub(crate) const EXT_KEY_USAGE: ObjectIdentifier = oid("2.5.29.37");

/// 2.5.4.10: organizationName.
pub(crate) const ORGANIZATION_NAME: ObjectIdentifier = oid("2.5.4.10");
/// 2.5.4.3: commonName.
pub(crate) const COMMON_NAME: ObjectIdentifier = oid("2.5.4.3");

/// 1.2.840.10045.2.1: id-ecPublicKey.
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier = oid("1.2.840.10045.2.1");
/// 1.2.840.10045.3.1.7: secp256r1 (P-256).
pub(crate) const SECP256R1: ObjectIdentifier = oid("1.2.840.10045.3.1.7");
/// 1.3.132.0.34: secp384r1 (P-384).
pub(crate) const SECP384R1: ObjectIdentifier = oid("1.3.132.0.34");
/// 1.3.132.0.35: secp521r1 (P-521), named in errors.
pub(crate) const SECP521R1: ObjectIdentifier = oid("1.3.132.0.35");
/// 1.3.132.0.10: secp256k1, named in errors.
pub(crate) const SECP256K1: ObjectIdentifier = oid("1.3.132.0.10");
/// 1.2.840.113549.1.1.1: rsaEncryption.
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.1");
/// 1.2.840.113549.1.1.10: RSASSA-PSS, named in errors.
pub(crate) const RSA_PSS: ObjectIdentifier = oid("1.2.840.113549.1.1.10");
/// 1.2.840.113549.1.1.11: sha256WithRSAEncryption.
pub(crate) const SHA256_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.11");
/// 1.2.840.113549.1.1.12: sha384WithRSAEncryption.
pub(crate) const SHA384_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.12");
/// 1.2.840.113549.1.1.13: sha512WithRSAEncryption.
pub(crate) const SHA512_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.13");
/// 1.3.101.112: Ed25519 (key and signature algorithm).
pub(crate) const ED25519: ObjectIdentifier = oid("1.3.101.112");
/// 1.2.840.10045.4.3.2: ecdsa-with-SHA256.
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier = oid("1.2.840.10045.4.3.2");
/// 1.2.840.10045.4.3.3: ecdsa-with-SHA384.
pub(crate) const ECDSA_WITH_SHA384: ObjectIdentifier = oid("1.2.840.10045.4.3.3");
/// 1.2.840.10045.4.3.4: ecdsa-with-SHA512.
pub(crate) const ECDSA_WITH_SHA512: ObjectIdentifier = oid("1.2.840.10045.4.3.4");

/// A readable name for a signature or key algorithm OID, for error messages.
pub(crate) fn algorithm_name(o: &ObjectIdentifier) -> String {
    let known = [
        (ECDSA_WITH_SHA256, "ecdsa-with-SHA256"),
        (ECDSA_WITH_SHA384, "ecdsa-with-SHA384"),
        (ECDSA_WITH_SHA512, "ecdsa-with-SHA512"),
        (SHA256_WITH_RSA, "sha256WithRSAEncryption"),
        (SHA384_WITH_RSA, "sha384WithRSAEncryption"),
        (SHA512_WITH_RSA, "sha512WithRSAEncryption"),
        (RSA_PSS, "RSASSA-PSS"),
        (ED25519, "Ed25519"),
        (oid("1.2.840.113549.1.1.5"), "sha1WithRSAEncryption"),
        (oid("1.2.840.113549.1.1.4"), "md5WithRSAEncryption"),
        (oid("1.2.840.10045.4.1"), "ecdsa-with-SHA1"),
        (oid("1.3.101.113"), "Ed448"),
        (oid("1.2.840.10040.4.3"), "dsa-with-sha1"),
    ];
    known
        .iter()
        .find(|(k, _)| k == o)
        .map_or_else(|| o.to_string(), |(_, name)| (*name).to_owned())
}
