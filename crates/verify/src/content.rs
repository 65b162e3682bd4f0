//! The signature over the bundle's content: a message signature over the artifact's digest,
//! or a DSSE envelope over its PAE (and, given an artifact, an in-toto subject naming it).

use std::collections::BTreeMap;

use hallmark_sigstore::{HashAlgorithm, KeyType};
use serde::Deserialize;

use crate::error::{Check, Result, fail};
use crate::verified::Signed;
use crate::{Artifact, Content, Envelope, PublicKey, crypto};

/// The digest of the artifact with `alg`.
fn artifact_digest(artifact: &Artifact<'_>, alg: HashAlgorithm) -> Result<Vec<u8>> {
    match artifact {
        Artifact::Bytes(b) => Ok(crypto::hash(alg, b)),
        Artifact::Sha256(d) if alg == HashAlgorithm::Sha256 => Ok(d.to_vec()),
        Artifact::Sha256(_) => Err(fail(
            Check::ArtifactDigest,
            format!(
                "the bundle signs a {} digest; a SHA-256 digest cannot be checked against it (pass the artifact itself)",
                alg.name()
            ),
        )),
    }
}

pub(crate) type ContentResult = (Signed, Option<(HashAlgorithm, Vec<u8>)>);

pub(crate) fn verify_content(
    content: &Content,
    artifact: Option<&Artifact<'_>>,
    key: &PublicKey,
) -> Result<ContentResult> {
    match content {
        Content::MessageSignature { digest, signature } => {
            let artifact = artifact.ok_or_else(|| {
                fail(
                    Check::ArtifactDigest,
                    "a message-signature bundle needs the artifact or its digest",
                )
            })?;
            let alg = digest.as_ref().map_or(HashAlgorithm::Sha256, |(a, _)| *a);
            let actual = artifact_digest(artifact, alg)?;
            if let Some((_, hint)) = digest
                && *hint != actual
            {
                return Err(fail(
                    Check::ArtifactDigest,
                    format!(
                        "the bundle's message digest {}:{} is not the artifact's {}",
                        alg.name(),
                        hex::encode(hint),
                        hex::encode(&actual)
                    ),
                ));
            }
            let ok = match (key.key_type(), artifact) {
                (KeyType::Ed25519, Artifact::Bytes(b)) => key.verify_message(b, signature),
                _ => key.verify_prehashed(alg, &actual, signature),
            };
            if !ok {
                return Err(fail(
                    Check::ArtifactSignature,
                    format!(
                        "the signature does not verify over {}:{} with the {} key",
                        alg.name(),
                        hex::encode(&actual),
                        key.key_type().name()
                    ),
                ));
            }
            Ok((
                Signed::Artifact {
                    algorithm: alg,
                    digest: actual.clone(),
                },
                Some((alg, actual)),
            ))
        }
        Content::Dsse(env) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(fail(
                    Check::BundleFormat,
                    format!(
                        "the DSSE envelope has {} signatures; a bundle carries exactly one",
                        env.signatures.len()
                    ),
                ));
            };
            let pae = hallmark_sigstore::dsse_pae(&env.payload_type, &env.payload);
            if !key.verify_message(&pae, sig) {
                return Err(fail(
                    Check::DsseSignature,
                    format!(
                        "the envelope signature does not verify with the {} key",
                        key.key_type().name()
                    ),
                ));
            }
            if let Some(artifact) = artifact {
                check_subject(env, artifact)?;
            }
            Ok((
                Signed::Dsse {
                    payload_type: env.payload_type.clone(),
                    payload: env.payload.clone(),
                },
                None,
            ))
        }
    }
}

/// The in-toto statement must name the artifact as a subject.
fn check_subject(env: &Envelope, artifact: &Artifact<'_>) -> Result<()> {
    #[derive(Deserialize)]
    struct Statement {
        #[serde(rename = "_type")]
        type_: String,
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: BTreeMap<String, String>,
    }
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err(fail(
            Check::ArtifactDigest,
            format!(
                "the envelope holds {:?}, not an in-toto statement naming the artifact",
                env.payload_type
            ),
        ));
    }
    let statement: Statement = serde_json::from_slice(&env.payload).map_err(|e| {
        fail(
            Check::ArtifactDigest,
            format!("the in-toto statement does not parse: {e}"),
        )
    })?;
    if !statement.type_.starts_with("https://in-toto.io/Statement/") {
        return Err(fail(
            Check::ArtifactDigest,
            format!("unknown statement type {:?}", statement.type_),
        ));
    }
    for subject in &statement.subject {
        for (name, value) in &subject.digest {
            let Some(alg) = HashAlgorithm::from_name(name) else {
                continue;
            };
            let Ok(want) = hex::decode(value) else {
                continue;
            };
            let matches = match artifact {
                Artifact::Bytes(b) => crypto::hash(alg, b) == want,
                Artifact::Sha256(d) => alg == HashAlgorithm::Sha256 && d[..] == want[..],
            };
            if matches {
                return Ok(());
            }
        }
    }
    Err(fail(
        Check::ArtifactDigest,
        format!(
            "no subject of the in-toto statement has the artifact's digest ({} subjects)",
            statement.subject.len()
        ),
    ))
}
