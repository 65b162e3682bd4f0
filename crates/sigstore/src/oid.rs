//! The object identifier registry: every OID Hallmark writes into or reads from a certificate,
//! a key or a signature, in one place.
//!
//! Sigstore's (Fulcio's) extensions live under the Private Enterprise Number 57264; see
//! [Fulcio's OID directory](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
//! Extensions `.1` to `.6` hold the bare UTF-8 bytes; `.8` onwards hold a DER UTF8String.
//! [`CiExtension`] names the CI-identity extensions a verifier's policy can match.

use std::fmt;

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
/// 1.3.6.1.5.5.7.3.8: extended key usage id-kp-timeStamping.
pub const KP_TIME_STAMPING: ObjectIdentifier = oid("1.3.6.1.5.5.7.3.8");

/// 2.5.29.14: subjectKeyIdentifier.
pub const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.14");
/// 2.5.29.15: keyUsage.
pub const KEY_USAGE: ObjectIdentifier = oid("2.5.29.15");
/// 2.5.29.17: subjectAltName.
pub const SUBJECT_ALT_NAME: ObjectIdentifier = oid("2.5.29.17");
/// 2.5.29.19: basicConstraints.
pub const BASIC_CONSTRAINTS: ObjectIdentifier = oid("2.5.29.19");
/// 2.5.29.35: authorityKeyIdentifier.
pub const AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = oid("2.5.29.35");
/// 2.5.29.37: extKeyUsage.
pub const EXT_KEY_USAGE: ObjectIdentifier = oid("2.5.29.37");

/// 2.5.4.10: organizationName.
pub const ORGANIZATION_NAME: ObjectIdentifier = oid("2.5.4.10");
/// 2.5.4.3: commonName.
pub const COMMON_NAME: ObjectIdentifier = oid("2.5.4.3");

/// 1.2.840.10045.2.1: id-ecPublicKey.
pub const EC_PUBLIC_KEY: ObjectIdentifier = oid("1.2.840.10045.2.1");
/// 1.2.840.10045.3.1.7: secp256r1 (P-256).
pub const SECP256R1: ObjectIdentifier = oid("1.2.840.10045.3.1.7");
/// 1.3.132.0.34: secp384r1 (P-384).
pub const SECP384R1: ObjectIdentifier = oid("1.3.132.0.34");
/// 1.3.132.0.35: secp521r1 (P-521), named in errors.
pub const SECP521R1: ObjectIdentifier = oid("1.3.132.0.35");
/// 1.3.132.0.10: secp256k1, named in errors.
pub const SECP256K1: ObjectIdentifier = oid("1.3.132.0.10");
/// 1.2.840.113549.1.1.1: rsaEncryption.
pub const RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.1");
/// 1.2.840.113549.1.1.10: RSASSA-PSS, named in errors.
pub const RSA_PSS: ObjectIdentifier = oid("1.2.840.113549.1.1.10");
/// 1.2.840.113549.1.1.11: sha256WithRSAEncryption.
pub const SHA256_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.11");
/// 1.2.840.113549.1.1.12: sha384WithRSAEncryption.
pub const SHA384_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.12");
/// 1.2.840.113549.1.1.13: sha512WithRSAEncryption.
pub const SHA512_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.13");
/// 1.3.101.112: Ed25519 (key and signature algorithm).
pub const ED25519: ObjectIdentifier = oid("1.3.101.112");
/// 1.2.840.10045.4.3.2: ecdsa-with-SHA256.
pub const ECDSA_WITH_SHA256: ObjectIdentifier = oid("1.2.840.10045.4.3.2");
/// 1.2.840.10045.4.3.3: ecdsa-with-SHA384.
pub const ECDSA_WITH_SHA384: ObjectIdentifier = oid("1.2.840.10045.4.3.3");
/// 1.2.840.10045.4.3.4: ecdsa-with-SHA512.
pub const ECDSA_WITH_SHA512: ObjectIdentifier = oid("1.2.840.10045.4.3.4");

/// 2.16.840.1.101.3.4.2.1: SHA-256 (a digest `AlgorithmIdentifier`).
pub const SHA256: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.1");
/// 2.16.840.1.101.3.4.2.2: SHA-384.
pub const SHA384: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.2");
/// 2.16.840.1.101.3.4.2.3: SHA-512.
pub const SHA512: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.3");

/// A readable name for a signature or key algorithm OID, for error messages.
pub fn algorithm_name(o: &ObjectIdentifier) -> String {
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

/// A Fulcio certificate extension describing the CI run (`.2`–`.6` and `.9`–`.23` under
/// 1.3.6.1.4.1.57264.1; [OID directory](https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CiExtension {
    /// `.1.2` GitHub workflow trigger (deprecated, raw UTF-8).
    GithubWorkflowTrigger,
    /// `.1.3` GitHub workflow SHA (deprecated, raw UTF-8).
    GithubWorkflowSha,
    /// `.1.4` GitHub workflow name (deprecated, raw UTF-8).
    GithubWorkflowName,
    /// `.1.5` GitHub workflow repository (deprecated, raw UTF-8).
    GithubWorkflowRepository,
    /// `.1.6` GitHub workflow ref (deprecated, raw UTF-8).
    GithubWorkflowRef,
    /// `.1.9` build signer URI.
    BuildSignerUri,
    /// `.1.10` build signer digest.
    BuildSignerDigest,
    /// `.1.11` runner environment.
    RunnerEnvironment,
    /// `.1.12` source repository URI.
    SourceRepositoryUri,
    /// `.1.13` source repository digest.
    SourceRepositoryDigest,
    /// `.1.14` source repository ref.
    SourceRepositoryRef,
    /// `.1.15` source repository identifier.
    SourceRepositoryIdentifier,
    /// `.1.16` source repository owner URI.
    SourceRepositoryOwnerUri,
    /// `.1.17` source repository owner identifier.
    SourceRepositoryOwnerIdentifier,
    /// `.1.18` build config URI.
    BuildConfigUri,
    /// `.1.19` build config digest.
    BuildConfigDigest,
    /// `.1.20` build trigger.
    BuildTrigger,
    /// `.1.21` run invocation URI.
    RunInvocationUri,
    /// `.1.22` source repository visibility at signing.
    SourceRepositoryVisibility,
    /// `.1.23` deployment environment.
    DeploymentEnvironment,
}

impl CiExtension {
    /// Every extension, in OID order.
    pub const ALL: [CiExtension; 20] = [
        CiExtension::GithubWorkflowTrigger,
        CiExtension::GithubWorkflowSha,
        CiExtension::GithubWorkflowName,
        CiExtension::GithubWorkflowRepository,
        CiExtension::GithubWorkflowRef,
        CiExtension::BuildSignerUri,
        CiExtension::BuildSignerDigest,
        CiExtension::RunnerEnvironment,
        CiExtension::SourceRepositoryUri,
        CiExtension::SourceRepositoryDigest,
        CiExtension::SourceRepositoryRef,
        CiExtension::SourceRepositoryIdentifier,
        CiExtension::SourceRepositoryOwnerUri,
        CiExtension::SourceRepositoryOwnerIdentifier,
        CiExtension::BuildConfigUri,
        CiExtension::BuildConfigDigest,
        CiExtension::BuildTrigger,
        CiExtension::RunInvocationUri,
        CiExtension::SourceRepositoryVisibility,
        CiExtension::DeploymentEnvironment,
    ];

    /// The extension's OID, its last arc under 1.3.6.1.4.1.57264.1, and its name.
    fn entry(self) -> (ObjectIdentifier, u32, &'static str) {
        match self {
            CiExtension::GithubWorkflowTrigger => {
                (FULCIO_GITHUB_WORKFLOW_TRIGGER, 2, "GitHub workflow trigger")
            }
            CiExtension::GithubWorkflowSha => {
                (FULCIO_GITHUB_WORKFLOW_SHA, 3, "GitHub workflow SHA")
            }
            CiExtension::GithubWorkflowName => {
                (FULCIO_GITHUB_WORKFLOW_NAME, 4, "GitHub workflow name")
            }
            CiExtension::GithubWorkflowRepository => (
                FULCIO_GITHUB_WORKFLOW_REPOSITORY,
                5,
                "GitHub workflow repository",
            ),
            CiExtension::GithubWorkflowRef => {
                (FULCIO_GITHUB_WORKFLOW_REF, 6, "GitHub workflow ref")
            }
            CiExtension::BuildSignerUri => (FULCIO_BUILD_SIGNER_URI, 9, "build signer URI"),
            CiExtension::BuildSignerDigest => {
                (FULCIO_BUILD_SIGNER_DIGEST, 10, "build signer digest")
            }
            CiExtension::RunnerEnvironment => (FULCIO_RUNNER_ENVIRONMENT, 11, "runner environment"),
            CiExtension::SourceRepositoryUri => {
                (FULCIO_SOURCE_REPOSITORY_URI, 12, "source repository URI")
            }
            CiExtension::SourceRepositoryDigest => (
                FULCIO_SOURCE_REPOSITORY_DIGEST,
                13,
                "source repository digest",
            ),
            CiExtension::SourceRepositoryRef => {
                (FULCIO_SOURCE_REPOSITORY_REF, 14, "source repository ref")
            }
            CiExtension::SourceRepositoryIdentifier => (
                FULCIO_SOURCE_REPOSITORY_IDENTIFIER,
                15,
                "source repository identifier",
            ),
            CiExtension::SourceRepositoryOwnerUri => (
                FULCIO_SOURCE_REPOSITORY_OWNER_URI,
                16,
                "source repository owner URI",
            ),
            CiExtension::SourceRepositoryOwnerIdentifier => (
                FULCIO_SOURCE_REPOSITORY_OWNER_IDENTIFIER,
                17,
                "source repository owner identifier",
            ),
            CiExtension::BuildConfigUri => (FULCIO_BUILD_CONFIG_URI, 18, "build config URI"),
            CiExtension::BuildConfigDigest => {
                (FULCIO_BUILD_CONFIG_DIGEST, 19, "build config digest")
            }
            CiExtension::BuildTrigger => (FULCIO_BUILD_TRIGGER, 20, "build trigger"),
            CiExtension::RunInvocationUri => (FULCIO_RUN_INVOCATION_URI, 21, "run invocation URI"),
            CiExtension::SourceRepositoryVisibility => (
                FULCIO_SOURCE_REPOSITORY_VISIBILITY,
                22,
                "source repository visibility",
            ),
            CiExtension::DeploymentEnvironment => {
                (FULCIO_DEPLOYMENT_ENVIRONMENT, 23, "deployment environment")
            }
        }
    }

    /// The extension's OID.
    #[must_use]
    pub fn oid(self) -> ObjectIdentifier {
        self.entry().0
    }

    /// Its last arc under 1.3.6.1.4.1.57264.1.
    #[must_use]
    pub fn arc(self) -> u32 {
        self.entry().1
    }

    /// A readable name, e.g. `"build signer URI"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// Whether the value is raw UTF-8 bytes (the deprecated `.2`–`.6`); the others hold a DER
    /// UTF8String.
    #[must_use]
    pub fn is_raw(self) -> bool {
        self.arc() < 7
    }

    /// The extension named by its OID (`1.3.6.1.4.1.57264.1.12`) or its last arc (`12`).
    #[must_use]
    pub fn from_oid_str(s: &str) -> Option<Self> {
        let arc = s.strip_prefix("1.3.6.1.4.1.57264.1.").unwrap_or(s);
        CiExtension::ALL
            .into_iter()
            .find(|e| e.arc().to_string() == arc)
    }
}

impl CiExtension {
    /// The extension's name in JSON policies (sigstore-go's `certificate.Extensions` field
    /// names, e.g. `"sourceRepositoryURI"`), as Hallmark's in-toto layouts write constraints.
    #[must_use]
    pub fn json_name(self) -> &'static str {
        match self {
            CiExtension::GithubWorkflowTrigger => "githubWorkflowTrigger",
            CiExtension::GithubWorkflowSha => "githubWorkflowSHA",
            CiExtension::GithubWorkflowName => "githubWorkflowName",
            CiExtension::GithubWorkflowRepository => "githubWorkflowRepository",
            CiExtension::GithubWorkflowRef => "githubWorkflowRef",
            CiExtension::BuildSignerUri => "buildSignerURI",
            CiExtension::BuildSignerDigest => "buildSignerDigest",
            CiExtension::RunnerEnvironment => "runnerEnvironment",
            CiExtension::SourceRepositoryUri => "sourceRepositoryURI",
            CiExtension::SourceRepositoryDigest => "sourceRepositoryDigest",
            CiExtension::SourceRepositoryRef => "sourceRepositoryRef",
            CiExtension::SourceRepositoryIdentifier => "sourceRepositoryIdentifier",
            CiExtension::SourceRepositoryOwnerUri => "sourceRepositoryOwnerURI",
            CiExtension::SourceRepositoryOwnerIdentifier => "sourceRepositoryOwnerIdentifier",
            CiExtension::BuildConfigUri => "buildConfigURI",
            CiExtension::BuildConfigDigest => "buildConfigDigest",
            CiExtension::BuildTrigger => "buildTrigger",
            CiExtension::RunInvocationUri => "runInvocationURI",
            CiExtension::SourceRepositoryVisibility => "sourceRepositoryVisibilityAtSigning",
            CiExtension::DeploymentEnvironment => "deploymentEnvironment",
        }
    }

    /// The extension named by its [`Self::json_name`], its OID or its last arc.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        CiExtension::ALL
            .into_iter()
            .find(|e| e.json_name() == s)
            .or_else(|| CiExtension::from_oid_str(s))
    }
}

/// `1.3.6.1.4.1.57264.1.<arc>`: the Fulcio extension with this last arc.
#[must_use]
pub fn fulcio_extension(arc: u32) -> ObjectIdentifier {
    const BASE: ObjectIdentifier = oid("1.3.6.1.4.1.57264.1");
    // Appending one arc to this short OID cannot exceed the OID length limit.
    BASE.push_arc(arc).unwrap_or(BASE)
}

impl fmt::Display for CiExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.oid())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ci_extensions_are_under_fulcio_arc_one() {
        for e in CiExtension::ALL {
            assert_eq!(
                e.oid().to_string(),
                format!("1.3.6.1.4.1.57264.1.{}", e.arc())
            );
            assert_eq!(CiExtension::from_oid_str(&e.to_string()), Some(e));
            assert_eq!(CiExtension::from_oid_str(&e.arc().to_string()), Some(e));
        }
        assert_eq!(CiExtension::from_oid_str("7"), None);
        assert_eq!(fulcio_extension(8), FULCIO_ISSUER_V2);
        assert!(CiExtension::GithubWorkflowRef.is_raw());
        assert!(!CiExtension::BuildSignerUri.is_raw());
    }

    #[test]
    fn json_names_are_distinct_and_read_back() {
        for e in CiExtension::ALL {
            assert_eq!(CiExtension::from_name(e.json_name()), Some(e));
        }
        assert_eq!(
            CiExtension::from_name("1.3.6.1.4.1.57264.1.12"),
            Some(CiExtension::SourceRepositoryUri)
        );
        assert_eq!(CiExtension::from_name("issuer"), None);
    }
}
