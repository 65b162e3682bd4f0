//! The identity a verified OIDC token proves: the contract between token verification
//! (`hallmark-oidc`) and certificate issuance (`hallmark-ca`), and what a Fulcio certificate
//! says about its subject (SAN, issuer, CI extensions; see [`crate::oid`]).

use crate::oid::CiExtension;

/// The Subject Alternative Name a certificate carries for an identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectAltName {
    /// rfc822Name: email identities.
    Email(String),
    /// URI: CI workflows, Kubernetes service accounts, SPIFFE IDs, `uri` issuers.
    Uri(String),
    /// otherName with OID 1.3.6.1.4.1.57264.1.7 (a UTF8String): `username` issuers, as
    /// `<username>!<subject domain>`.
    OtherName(String),
}

impl SubjectAltName {
    /// The SAN's value as text (what a verifier's identity policy matches).
    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            Self::Email(v) | Self::Uri(v) | Self::OtherName(v) => v,
        }
    }
}

/// Fulcio's CI-identity certificate extensions (OIDs 1.3.6.1.4.1.57264.1.9 to .1.23), filled from
/// the token's claims where the issuer type defines them. Each is written as a DER UTF8String.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiExtensions {
    /// .9 Build Signer URI (e.g. the workflow file at its ref).
    pub build_signer_uri: Option<String>,
    /// .10 Build Signer Digest.
    pub build_signer_digest: Option<String>,
    /// .11 Runner Environment (`github-hosted`, `self-hosted`).
    pub runner_environment: Option<String>,
    /// .12 Source Repository URI.
    pub source_repository_uri: Option<String>,
    /// .13 Source Repository Digest (commit).
    pub source_repository_digest: Option<String>,
    /// .14 Source Repository Ref.
    pub source_repository_ref: Option<String>,
    /// .15 Source Repository Identifier.
    pub source_repository_identifier: Option<String>,
    /// .16 Source Repository Owner URI.
    pub source_repository_owner_uri: Option<String>,
    /// .17 Source Repository Owner Identifier.
    pub source_repository_owner_identifier: Option<String>,
    /// .18 Build Config URI.
    pub build_config_uri: Option<String>,
    /// .19 Build Config Digest.
    pub build_config_digest: Option<String>,
    /// .20 Build Trigger (the event).
    pub build_trigger: Option<String>,
    /// .21 Run Invocation URI.
    pub run_invocation_uri: Option<String>,
    /// .22 Source Repository Visibility At Signing.
    pub source_repository_visibility_at_signing: Option<String>,
    /// .23 Deployment Environment (the token's `environment` claim, when the job targets one).
    pub deployment_environment: Option<String>,
}

impl CiExtensions {
    /// Each extension with its value, in OID order (`.9` to `.23`).
    #[must_use]
    pub fn values(&self) -> [(CiExtension, Option<&str>); 15] {
        [
            (
                CiExtension::BuildSignerUri,
                self.build_signer_uri.as_deref(),
            ),
            (
                CiExtension::BuildSignerDigest,
                self.build_signer_digest.as_deref(),
            ),
            (
                CiExtension::RunnerEnvironment,
                self.runner_environment.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryUri,
                self.source_repository_uri.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryDigest,
                self.source_repository_digest.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryRef,
                self.source_repository_ref.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryIdentifier,
                self.source_repository_identifier.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryOwnerUri,
                self.source_repository_owner_uri.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryOwnerIdentifier,
                self.source_repository_owner_identifier.as_deref(),
            ),
            (
                CiExtension::BuildConfigUri,
                self.build_config_uri.as_deref(),
            ),
            (
                CiExtension::BuildConfigDigest,
                self.build_config_digest.as_deref(),
            ),
            (CiExtension::BuildTrigger, self.build_trigger.as_deref()),
            (
                CiExtension::RunInvocationUri,
                self.run_invocation_uri.as_deref(),
            ),
            (
                CiExtension::SourceRepositoryVisibility,
                self.source_repository_visibility_at_signing.as_deref(),
            ),
            (
                CiExtension::DeploymentEnvironment,
                self.deployment_environment.as_deref(),
            ),
        ]
    }
}

/// A verified token's identity: everything issuance needs, nothing it must re-check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The issuer URL to certify (extensions .1 and .8): the token's `iss`, which for a
    /// meta-issuer is the concrete issuer that matched the wildcard.
    pub issuer: String,
    /// The certificate's SAN.
    pub san: SubjectAltName,
    /// The string the client's proof of possession signs: the `email` claim when present,
    /// else `sub`.
    pub challenge: String,
    /// The token's raw `sub` claim (Fulcio's extension .24, Token Subject).
    pub subject: String,
    /// CI extensions the token carries.
    pub extensions: CiExtensions,
    /// Fulcio's deprecated GitHub-specific extensions (.2 trigger, .3 sha, .4 workflow name,
    /// .5 repository, .6 ref), emitted for `github-workflow` tokens for clients whose policies
    /// still read them.
    pub github_v1: Option<GithubV1Extensions>,
}

/// Values of Fulcio's deprecated (v1) GitHub extensions, written as raw bytes like .1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GithubV1Extensions {
    /// .2 GitHub Workflow Trigger.
    pub trigger: String,
    /// .3 GitHub Workflow SHA.
    pub sha: String,
    /// .4 GitHub Workflow Name.
    pub name: String,
    /// .5 GitHub Workflow Repository.
    pub repository: String,
    /// .6 GitHub Workflow Ref.
    pub git_ref: String,
}

impl GithubV1Extensions {
    /// Each extension with its value, in OID order (`.2` to `.6`).
    #[must_use]
    pub fn values(&self) -> [(CiExtension, &str); 5] {
        [
            (CiExtension::GithubWorkflowTrigger, &self.trigger),
            (CiExtension::GithubWorkflowSha, &self.sha),
            (CiExtension::GithubWorkflowName, &self.name),
            (CiExtension::GithubWorkflowRepository, &self.repository),
            (CiExtension::GithubWorkflowRef, &self.git_ref),
        ]
    }
}
