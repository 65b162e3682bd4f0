//! Candidate links as read from files: parsed, not yet verified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hallmark_sigstore::intoto::statement::PAYLOAD_TYPE;
use hallmark_sigstore::intoto::{Link, SignedLink, Statement};
use serde::Deserialize;
use serde_json::Value;

use super::ChainError;
use crate::{Bundle, Content};

/// A link offered to the verifier, parsed but not verified: which step it reports on and what
/// it records are only claims until [`super::verify_steps`] accepts a signature over them.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Where it came from (a file name), for messages.
    pub source: String,
    pub(crate) form: Form,
}

/// The forms a link arrives in.
#[derive(Clone, Debug)]
pub(crate) enum Form {
    /// A classic `{signed, signatures}` link: classic key signatures, or keyless ones carrying
    /// a `bundle`.
    Classic(SignedLink),
    /// A Sigstore bundle whose DSSE envelope holds a link v0.3 Statement (`link` is what the
    /// statement records, read from the envelope's payload).
    Bundle { bundle: Box<Bundle>, link: Link },
    /// in-toto-python's `--use-dsse`: a DSSE envelope holding a classic link, signed with a
    /// classic key.
    Dsse {
        /// The raw payload (the signature is over its PAE).
        payload: Vec<u8>,
        /// `(keyid, signature)` pairs.
        signatures: Vec<(String, Vec<u8>)>,
        link: Link,
    },
}

/// securesystemslib's DSSE envelope JSON (signatures base64, each with its key id).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseJson {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<DsseSig>,
}

#[derive(Deserialize)]
struct DsseSig {
    #[serde(default)]
    keyid: String,
    sig: String,
}

fn bad(
    source: &str,
    reason: &'static str,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> ChainError {
    ChainError::Candidate {
        file: source.to_owned(),
        reason,
        cause,
    }
}

impl Candidate {
    /// Parses a link file of any supported form, told apart by its members: `signed`
    /// (classic link), `mediaType` (Sigstore bundle holding a link Statement in DSSE),
    /// `payloadType` (in-toto-python's DSSE link).
    ///
    /// # Errors
    ///
    /// [`ChainError::Candidate`] naming `source` and what is wrong; [`ChainError::Sublayout`]
    /// for a classic layout in place of a link.
    pub fn parse(source: impl Into<String>, bytes: &[u8]) -> Result<Candidate, ChainError> {
        let source = source.into();
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| bad(&source, "not JSON", Some(Box::new(e))))?;
        let form = if let Some(signed) = doc.get("signed") {
            if signed.get("_type").and_then(Value::as_str) == Some("layout") {
                return Err(ChainError::Sublayout { file: source });
            }
            Form::Classic(
                SignedLink::parse(bytes)
                    .map_err(|e| bad(&source, "not an in-toto link", Some(Box::new(e))))?,
            )
        } else if doc.get("mediaType").is_some() {
            let bundle = Bundle::from_json(bytes)
                .map_err(|e| bad(&source, "not a Sigstore bundle", Some(Box::new(e))))?;
            let Content::Dsse(env) = &bundle.content else {
                return Err(bad(
                    &source,
                    "a message-signature bundle holds no link (keyless classic links carry their bundle inside the .link file)",
                    None,
                ));
            };
            if env.payload_type != PAYLOAD_TYPE {
                return Err(bad(
                    &source,
                    "the bundle's DSSE payload is not an in-toto statement",
                    None,
                ));
            }
            let link = Statement::parse(&env.payload)
                .and_then(|s| s.link_predicate())
                .and_then(|s| s.to_link())
                .map_err(|e| {
                    bad(
                        &source,
                        "the bundle's statement is not an in-toto link v0.3",
                        Some(Box::new(e)),
                    )
                })?;
            Form::Bundle {
                bundle: Box::new(bundle),
                link,
            }
        } else if doc.get("payloadType").is_some() {
            let env: DsseJson = serde_json::from_value(doc)
                .map_err(|e| bad(&source, "not a DSSE envelope", Some(Box::new(e))))?;
            if env.payload_type != PAYLOAD_TYPE {
                return Err(bad(
                    &source,
                    "the DSSE payload type is not application/vnd.in-toto+json",
                    None,
                ));
            }
            let payload = STANDARD
                .decode(&env.payload)
                .map_err(|e| bad(&source, "the DSSE payload is not base64", Some(Box::new(e))))?;
            let link = Link::parse_payload(&payload).map_err(|e| {
                bad(
                    &source,
                    "the DSSE payload is not a classic in-toto link",
                    Some(Box::new(e)),
                )
            })?;
            let signatures = env
                .signatures
                .into_iter()
                .map(|s| {
                    STANDARD
                        .decode(&s.sig)
                        .map(|sig| (s.keyid, sig))
                        .map_err(|e| {
                            bad(&source, "a DSSE signature is not base64", Some(Box::new(e)))
                        })
                })
                .collect::<Result<_, _>>()?;
            Form::Dsse {
                payload,
                signatures,
                link,
            }
        } else {
            return Err(bad(
                &source,
                "neither a classic link ({\"signed\", \"signatures\"}), a Sigstore bundle nor a DSSE envelope",
                None,
            ));
        };
        Ok(Candidate { source, form })
    }

    /// The link as the file records it (unverified until accepted).
    #[must_use]
    pub fn link(&self) -> &Link {
        match &self.form {
            Form::Classic(l) => &l.signed,
            Form::Bundle { link, .. } | Form::Dsse { link, .. } => link,
        }
    }

    /// The step the link claims to report on.
    #[must_use]
    pub fn step(&self) -> &str {
        &self.link().name
    }
}
