//! Fulcio's v2 API documents: the `POST /api/v2/signingCert` request (both forms) and answer,
//! and the `GET /api/v2/trustBundle` answer, built by clients and parsed by the server with the
//! same types.
//!
//! Specification: Fulcio's
//! [`fulcio.proto`](https://github.com/sigstore/fulcio/blob/main/fulcio.proto)
//! (`CreateSigningCertificateRequest`, `SigningCertificate`, `TrustBundle`) in the protobuf JSON
//! mapping. Two request forms reach a Fulcio-compatible CA:
//!
//! - a CSR (sigstore-python, sigstore-rs, cosign): `{"certificateSigningRequest": "<base64>"}`,
//!   the identity token in `Authorization: Bearer`; the CSR's self-signature proves possession;
//! - a public key (sigstore-js): `{"credentials": {"oidcIdentityToken": "<JWT>"},
//!   "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": "<PEM>"},
//!   "proofOfPossession": "<base64 signature>"}}`.
//!
//! The answer is `{"signedCertificateEmbeddedSct": {"chain": {"certificates": [leaf PEM, ...,
//! root PEM]}}}`. Fulcio's detached-SCT form (`signedCertificateDetachedSct`) is neither written
//! nor read by Hallmark: its certificates always embed their SCT.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Why a `POST /api/v2/signingCert` request was rejected before its token or key was checked.
///
/// Every variant is the client's mistake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is not JSON, or not of the request's shape.
    #[error("request body is not valid JSON of the expected shape: {source}")]
    Malformed {
        /// The JSON parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// Neither `credentials.oidcIdentityToken` nor an `Authorization: Bearer` token was sent.
    #[error(
        "no identity token: send it as `Authorization: Bearer <token>` or in credentials.oidcIdentityToken"
    )]
    NoToken,
    /// `certificateSigningRequest` is not base64.
    #[error("certificateSigningRequest is not base64 (of a PEM or DER CSR)")]
    CsrNotBase64 {
        /// The decoder's complaint.
        #[source]
        source: base64::DecodeError,
    },
    /// `publicKeyRequest.proofOfPossession` is not base64.
    #[error("publicKeyRequest.proofOfPossession is not base64")]
    ProofNotBase64 {
        /// The decoder's complaint.
        #[source]
        source: base64::DecodeError,
    },
    /// Both a CSR and a `publicKeyRequest` were sent.
    #[error("send either certificateSigningRequest or publicKeyRequest, not both")]
    BothKeys,
    /// Neither a CSR nor a `publicKeyRequest` was sent.
    #[error(
        "missing the key: send certificateSigningRequest (base64 CSR) or publicKeyRequest with proofOfPossession"
    )]
    NoKey,
}

/// Why a CA's `POST /api/v2/signingCert` answer could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The answer is not JSON with a `signedCertificateEmbeddedSct` certificate chain.
    #[error("the CA's answer has no signedCertificateEmbeddedSct certificate chain")]
    Malformed {
        /// The JSON parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The chain holds no certificate.
    #[error("the CA's answer has an empty certificate chain")]
    EmptyChain,
}

/// `CreateSigningCertificateRequest`: the body of `POST /api/v2/signingCert`.
///
/// Unknown fields are ignored, as Fulcio's JSON gateway does.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SigningCertRequest {
    /// The identity token, when it is not sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// A public key and the proof that the caller holds its private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_request: Option<PublicKeyRequest>,
    /// Base64 of a PEM or DER certificate signing request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_signing_request: Option<String>,
}

/// `Credentials`: the identity token in the body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The OIDC identity token (a JWT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_identity_token: Option<String>,
}

/// `PublicKeyRequest`: a public key and a signature over the identity's challenge.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyRequest {
    /// The key the certificate is for.
    pub public_key: PublicKey,
    /// Base64 of the signature over the token's `email` claim (else its `sub`).
    pub proof_of_possession: String,
}

/// `PublicKey`: a PEM public key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicKey {
    /// `"ECDSA"`, `"ED25519"` or `"RSA_PSS"`; accepted for compatibility and not relied on (the
    /// key itself says its type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// The PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub content: String,
}

/// The key a certificate is requested for, and how its possession is proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyProof {
    /// A CSR (PEM or DER, as sent): its self-signature is the proof.
    Csr(Vec<u8>),
    /// A PEM public key and a signature over the identity's challenge.
    PublicKey {
        /// The PEM `PUBLIC KEY`.
        pem: String,
        /// The signature (decoded from base64).
        proof: Vec<u8>,
    },
}

impl SigningCertRequest {
    /// The CSR form: base64 of `csr` (PEM or DER); the token goes in `Authorization: Bearer`.
    #[must_use]
    pub fn csr(csr: &[u8]) -> Self {
        Self {
            certificate_signing_request: Some(STANDARD.encode(csr)),
            ..Self::default()
        }
    }

    /// The public-key form with the token in the body (as sigstore-js sends it).
    #[must_use]
    pub fn public_key(token: &str, algorithm: &str, pem: &str, proof: &[u8]) -> Self {
        Self {
            credentials: Some(Credentials {
                oidc_identity_token: Some(token.to_owned()),
            }),
            public_key_request: Some(PublicKeyRequest {
                public_key: PublicKey {
                    algorithm: Some(algorithm.to_owned()),
                    content: pem.to_owned(),
                },
                proof_of_possession: STANDARD.encode(proof),
            }),
            certificate_signing_request: None,
        }
    }

    /// The JSON body.
    ///
    /// # Errors
    /// Never in practice (the type holds only strings); serde's error is passed on.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }

    /// Parse a request body.
    ///
    /// # Errors
    /// [`RequestError::Malformed`].
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        serde_json::from_slice(body).map_err(|source| RequestError::Malformed { source })
    }

    /// The identity token (from the body, else `bearer`, the `Authorization: Bearer` token) and
    /// the key with its proof, decoded.
    ///
    /// # Errors
    /// [`RequestError::NoToken`], then [`RequestError::BothKeys`], [`RequestError::NoKey`] or a
    /// base64 error.
    pub fn into_parts(self, bearer: Option<&str>) -> Result<(String, KeyProof), RequestError> {
        let token = self
            .credentials
            .and_then(|c| c.oidc_identity_token)
            .or_else(|| bearer.map(str::to_owned))
            .ok_or(RequestError::NoToken)?;
        let key = match (self.certificate_signing_request, self.public_key_request) {
            (Some(csr), None) => KeyProof::Csr(
                STANDARD
                    .decode(csr.trim())
                    .map_err(|source| RequestError::CsrNotBase64 { source })?,
            ),
            (None, Some(pk)) => KeyProof::PublicKey {
                proof: STANDARD
                    .decode(pk.proof_of_possession.trim())
                    .map_err(|source| RequestError::ProofNotBase64 { source })?,
                pem: pk.public_key.content,
            },
            (Some(_), Some(_)) => return Err(RequestError::BothKeys),
            (None, None) => return Err(RequestError::NoKey),
        };
        Ok((token, key))
    }
}

/// `CertificateChain`: PEM certificates, leaf (or issuing CA) first, root last.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateChain {
    /// The PEM certificates.
    pub certificates: Vec<String>,
}

/// `SigningCertificateEmbeddedSct`: the issued chain, the leaf carrying its SCT.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmbeddedSctChain {
    /// Leaf, issuing CA, ..., root.
    pub chain: CertificateChain,
}

/// `SigningCertificate`: the answer of `POST /api/v2/signingCert` (HTTP 200), in its
/// embedded-SCT form.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SigningCertResponse {
    /// The issued chain.
    pub signed_certificate_embedded_sct: EmbeddedSctChain,
}

impl SigningCertResponse {
    /// The answer for a chain of PEM certificates: leaf, issuing CA, ..., root.
    #[must_use]
    pub fn new(certificates: Vec<String>) -> Self {
        Self {
            signed_certificate_embedded_sct: EmbeddedSctChain {
                chain: CertificateChain { certificates },
            },
        }
    }

    /// Parse a CA's answer.
    ///
    /// # Errors
    /// [`ResponseError::Malformed`] when it is not JSON of this shape (a detached-SCT answer
    /// included), [`ResponseError::EmptyChain`] when it holds no certificate.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let response: Self =
            serde_json::from_slice(body).map_err(|source| ResponseError::Malformed { source })?;
        if response.certificates().is_empty() {
            return Err(ResponseError::EmptyChain);
        }
        Ok(response)
    }

    /// The chain: leaf, issuing CA, ..., root.
    #[must_use]
    pub fn certificates(&self) -> &[String] {
        &self.signed_certificate_embedded_sct.chain.certificates
    }

    /// The leaf certificate's PEM.
    ///
    /// # Errors
    /// [`ResponseError::EmptyChain`].
    pub fn leaf(&self) -> Result<&str, ResponseError> {
        self.certificates()
            .first()
            .map(String::as_str)
            .ok_or(ResponseError::EmptyChain)
    }
}

/// `TrustBundle`: the answer of `GET /api/v2/trustBundle`, the CA chains a client trusts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrustBundle {
    /// One chain per CA: issuing CA first, root last.
    pub chains: Vec<CertificateChain>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// The exact bytes each client sends, and what they mean.
    #[test]
    fn both_request_forms_build_the_clients_bytes_and_parse_back() {
        let csr = SigningCertRequest::csr(b"CSR");
        assert_eq!(
            String::from_utf8(csr.to_json().unwrap()).unwrap(),
            r#"{"certificateSigningRequest":"Q1NS"}"#
        );
        let (token, key) = SigningCertRequest::parse(&csr.to_json().unwrap())
            .unwrap()
            .into_parts(Some("jwt"))
            .unwrap();
        assert_eq!(
            (token.as_str(), key),
            ("jwt", KeyProof::Csr(b"CSR".to_vec()))
        );

        let pk = SigningCertRequest::public_key("jwt", "ECDSA", "PEM\n", b"sig");
        assert_eq!(
            String::from_utf8(pk.to_json().unwrap()).unwrap(),
            r#"{"credentials":{"oidcIdentityToken":"jwt"},"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA","content":"PEM\n"},"proofOfPossession":"c2ln"}}"#
        );
        // The body's token wins over a bearer token.
        let (token, key) = SigningCertRequest::parse(&pk.to_json().unwrap())
            .unwrap()
            .into_parts(Some("other"))
            .unwrap();
        assert_eq!(token, "jwt");
        assert_eq!(
            key,
            KeyProof::PublicKey {
                pem: "PEM\n".into(),
                proof: b"sig".to_vec()
            }
        );
    }

    #[test]
    fn malformed_requests_name_the_problem() {
        let parts = |body: &str, bearer| {
            SigningCertRequest::parse(body.as_bytes()).and_then(|r| r.into_parts(bearer))
        };
        assert!(matches!(
            parts("{not json", Some("t")),
            Err(RequestError::Malformed { .. })
        ));
        assert!(matches!(
            parts(r#"{"certificateSigningRequest":"Q1NS"}"#, None),
            Err(RequestError::NoToken)
        ));
        assert!(matches!(
            parts(r#"{"certificateSigningRequest":"%%%"}"#, Some("t")),
            Err(RequestError::CsrNotBase64 { .. })
        ));
        assert!(matches!(
            parts(
                r#"{"publicKeyRequest":{"publicKey":{"content":"P"},"proofOfPossession":"%"}}"#,
                Some("t")
            ),
            Err(RequestError::ProofNotBase64 { .. })
        ));
        assert!(matches!(
            parts(
                r#"{"certificateSigningRequest":"Q1NS","publicKeyRequest":{"publicKey":{"content":"P"},"proofOfPossession":"c2ln"}}"#,
                Some("t")
            ),
            Err(RequestError::BothKeys)
        ));
        assert!(matches!(parts("{}", Some("t")), Err(RequestError::NoKey)));
    }

    #[test]
    fn the_answer_builds_fulcios_bytes_and_parses_back() {
        let answer = SigningCertResponse::new(vec!["leaf".into(), "root".into()]);
        let bytes = serde_json::to_vec(&answer).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["leaf","root"]}}}"#
        );
        let parsed = SigningCertResponse::parse(&bytes).unwrap();
        assert_eq!(parsed, answer);
        assert_eq!(parsed.leaf().unwrap(), "leaf");
        assert!(matches!(
            SigningCertResponse::parse(
                br#"{"signedCertificateDetachedSct":{"chain":{"certificates":["a"]}}}"#
            ),
            Err(ResponseError::Malformed { .. })
        ));
        assert!(matches!(
            SigningCertResponse::parse(
                br#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":[]}}}"#
            ),
            Err(ResponseError::EmptyChain)
        ));
        let bundle = TrustBundle {
            chains: vec![CertificateChain {
                certificates: vec!["ca".into()],
            }],
        };
        assert_eq!(
            serde_json::to_string(&bundle).unwrap(),
            r#"{"chains":[{"certificates":["ca"]}]}"#
        );
    }
}
