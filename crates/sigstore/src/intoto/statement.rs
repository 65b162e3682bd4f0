//! in-toto attestation framework: the [Statement v1](https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
//! and the [link predicate v0.3](https://github.com/in-toto/attestation/blob/main/spec/predicates/link.md).
//!
//! A link as a Statement: `subject` = the step's products, `predicate` = `{name, command,
//! materials: [ResourceDescriptor], byproducts, environment}`. [`Link::to_statement`] and
//! [`Statement::to_link`] convert as the predicate's spec describes. In DSSE the payload type is
//! [`PAYLOAD_TYPE`]. Unknown fields are ignored when parsing, as the framework requires of
//! consumers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::IntotoError;
use super::link::{Artifacts, DigestSet, Link};

/// `_type` of a Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of the link predicate v0.3.
pub const LINK_PREDICATE_V03: &str = "https://in-toto.io/attestation/link/v0.3";
/// DSSE `payloadType` of in-toto statements (and of in-toto-python's DSSE links).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum StatementTag {
    #[default]
    #[serde(rename = "https://in-toto.io/Statement/v1")]
    V1,
}

/// A [ResourceDescriptor](https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// Name (for links: the artifact's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests: algorithm to lowercase hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: DigestSet,
    /// The content itself, base64 in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where it can be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
}

impl ResourceDescriptor {
    /// A descriptor with a name and digests (how links write artifacts).
    #[must_use]
    pub fn artifact(name: impl Into<String>, digest: DigestSet) -> Self {
        ResourceDescriptor {
            name: Some(name.into()),
            digest,
            ..Self::default()
        }
    }
}

/// An in-toto Statement v1 with predicate type `P` (a JSON value unless typed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement<P = Value> {
    #[serde(rename = "_type")]
    tag: StatementTag,
    /// What the statement is about (at least one, each with a digest).
    pub subject: Vec<ResourceDescriptor>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: P,
}

/// The link predicate v0.3 (the products are the statement's subjects).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkPredicate {
    /// The step's name.
    pub name: String,
    /// The command run.
    #[serde(default)]
    pub command: Vec<String>,
    /// The step's materials.
    #[serde(default)]
    pub materials: Vec<ResourceDescriptor>,
    /// Free-form byproducts (`return-value`, `stdout`, `stderr`).
    #[serde(default)]
    pub byproducts: Map<String, Value>,
    /// Free-form environment.
    #[serde(default)]
    pub environment: Map<String, Value>,
}

impl<P: Serialize> Statement<P> {
    /// Serializes the statement as the DSSE payload.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Json`] when the predicate cannot be serialized (never for JSON values).
    pub fn to_json(&self) -> Result<Vec<u8>, IntotoError> {
        serde_json::to_vec(self).map_err(|source| IntotoError::Json {
            what: "in-toto statement",
            source,
        })
    }
}

impl<P> Statement<P> {
    /// A statement about `subject` with this predicate.
    pub fn new(
        subject: Vec<ResourceDescriptor>,
        predicate_type: impl Into<String>,
        predicate: P,
    ) -> Self {
        Statement {
            tag: StatementTag::V1,
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    fn check_subjects(&self) -> Result<(), IntotoError> {
        if self.subject.is_empty() {
            return Err(IntotoError::Invalid {
                field: "subject".into(),
                reason: "a statement needs at least one subject".into(),
            });
        }
        for (i, s) in self.subject.iter().enumerate() {
            if s.digest.is_empty() {
                return Err(IntotoError::Invalid {
                    field: format!("subject[{i}].digest"),
                    reason: "a subject needs at least one digest".into(),
                });
            }
        }
        Ok(())
    }
}

impl Statement<Value> {
    /// Parses a statement (the DSSE payload), with any predicate.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Json`] when it is not a Statement v1, [`IntotoError::Invalid`] for a
    /// statement without subjects or a subject without digests.
    pub fn parse(bytes: &[u8]) -> Result<Self, IntotoError> {
        let s: Statement = serde_json::from_slice(bytes).map_err(|source| IntotoError::Json {
            what: "in-toto statement",
            source,
        })?;
        s.check_subjects()?;
        Ok(s)
    }

    /// The link predicate, when the predicate type is link v0.3.
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] for another predicate type, [`IntotoError::Json`] for a
    /// predicate that is not a link.
    pub fn link_predicate(&self) -> Result<Statement<LinkPredicate>, IntotoError> {
        if self.predicate_type != LINK_PREDICATE_V03 {
            return Err(IntotoError::Invalid {
                field: "predicateType".into(),
                reason: format!("{:?} is not {LINK_PREDICATE_V03}", self.predicate_type),
            });
        }
        let predicate =
            serde_json::from_value(self.predicate.clone()).map_err(|source| IntotoError::Json {
                what: "link predicate",
                source,
            })?;
        Ok(Statement::new(
            self.subject.clone(),
            LINK_PREDICATE_V03,
            predicate,
        ))
    }
}

impl Statement<LinkPredicate> {
    /// The classic link this statement records (products from the subjects).
    ///
    /// # Errors
    ///
    /// [`IntotoError::Invalid`] for a subject or material without a name, or a name used twice.
    pub fn to_link(&self) -> Result<Link, IntotoError> {
        let p = &self.predicate;
        let mut link = Link::new(p.name.clone());
        link.command.clone_from(&p.command);
        link.materials = artifacts("predicate.materials", &p.materials)?;
        link.products = artifacts("subject", &self.subject)?;
        link.byproducts.clone_from(&p.byproducts);
        link.environment.clone_from(&p.environment);
        link.validate()?;
        Ok(link)
    }
}

fn artifacts(field: &str, list: &[ResourceDescriptor]) -> Result<Artifacts, IntotoError> {
    let mut out = Artifacts::new();
    for (i, rd) in list.iter().enumerate() {
        let name = rd.name.clone().ok_or_else(|| IntotoError::Invalid {
            field: format!("{field}[{i}].name"),
            reason: "link artifacts need a name".into(),
        })?;
        if out.insert(name.clone(), rd.digest.clone()).is_some() {
            return Err(IntotoError::Invalid {
                field: format!("{field}[{i}].name"),
                reason: format!("{name:?} appears twice"),
            });
        }
    }
    Ok(out)
}

impl Link {
    /// This link as a Statement v1 with the link predicate v0.3.
    #[must_use]
    pub fn to_statement(&self) -> Statement<LinkPredicate> {
        let rds = |a: &Artifacts| {
            a.iter()
                .map(|(name, digest)| ResourceDescriptor::artifact(name.clone(), digest.clone()))
                .collect::<Vec<_>>()
        };
        Statement::new(
            rds(&self.products),
            LINK_PREDICATE_V03,
            LinkPredicate {
                name: self.name.clone(),
                command: self.command.clone(),
                materials: rds(&self.materials),
                byproducts: self.byproducts.clone(),
                environment: self.environment.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// The example of the link predicate v0.3 spec, with products as subjects.
    fn example() -> Value {
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "dist/app.tar.gz", "digest": {"sha256": "aa"}}],
            "predicateType": "https://in-toto.io/attestation/link/v0.3",
            "predicate": {
                "name": "package",
                "command": ["tar", "czf", "dist/app.tar.gz", "build"],
                "materials": [{"name": "build/app", "digest": {"sha256": "bb"}}],
                "byproducts": {"return-value": 0, "stdout": "", "stderr": ""},
                "environment": {},
                "someFutureField": true
            },
            "unknownTopLevel": 1
        })
    }

    #[test]
    fn statement_round_trips_through_link() {
        let bytes = serde_json::to_vec(&example()).unwrap();
        let st = Statement::parse(&bytes).unwrap().link_predicate().unwrap();
        assert_eq!(st.predicate.name, "package");
        let link = st.to_link().unwrap();
        assert_eq!(link.products["dist/app.tar.gz"]["sha256"], "aa");
        assert_eq!(link.materials["build/app"]["sha256"], "bb");
        let again = link.to_statement();
        assert_eq!(again, st);
        let json: Value = serde_json::from_slice(&again.to_json().unwrap()).unwrap();
        assert_eq!(json["_type"], STATEMENT_V1);
        assert_eq!(json["predicateType"], LINK_PREDICATE_V03);
        assert_eq!(
            json["subject"][0],
            json!({"name": "dist/app.tar.gz", "digest": {"sha256": "aa"}})
        );
    }

    #[test]
    fn refusals() {
        let mut v = example();
        v["_type"] = json!("https://in-toto.io/Statement/v0.1");
        assert!(Statement::parse(&serde_json::to_vec(&v).unwrap()).is_err());
        let mut v = example();
        v["subject"] = json!([]);
        assert!(Statement::parse(&serde_json::to_vec(&v).unwrap()).is_err());
        let mut v = example();
        v["subject"][0]["digest"] = json!({});
        let e = Statement::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("subject[0].digest"), "{e}");
        let mut v = example();
        v["predicateType"] = json!("https://slsa.dev/provenance/v1");
        let s = Statement::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert!(s.link_predicate().is_err());
        let mut v = example();
        v["subject"] = json!([{"name": "a", "digest": {"sha256": "aa"}}, {"name": "a", "digest": {"sha256": "bb"}}]);
        let s = Statement::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        let e = s.link_predicate().unwrap().to_link().unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }
}
