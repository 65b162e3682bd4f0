//! The crate's one error type.

use hallmark_sigstore::ct::CtError;

/// Everything that can go wrong in certificate issuance, request checking and CT encoding.
///
/// Variants carry structured context (what was being parsed, key types, OIDs, offsets). Messages
/// are written for the client or operator who has to fix the problem. Untrusted input is never
/// echoed back in full: only the pieces a client needs (the challenge it signed, an OID).
///
/// [`CaError::is_request_error`] tells the request's mistakes (what a client must fix) from the
/// CA's own failures; the server maps that to HTTP statuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// Input that looked like PEM (it starts with `-----BEGIN`) does not decode.
    #[error("{what} is not valid PEM: {detail}")]
    BadPem {
        /// What was being read, e.g. `"certificate signing request"`.
        what: &'static str,
        /// The PEM decoder's message.
        detail: String,
    },

    /// PEM of another type than the one expected, e.g. a `CERTIFICATE` where a
    /// `CERTIFICATE REQUEST` belongs.
    #[error("{what} is PEM of type {found:?}, expected {expected:?}")]
    WrongPemLabel {
        /// What was being read.
        what: &'static str,
        /// The label found after `-----BEGIN `.
        found: String,
        /// The label expected.
        expected: &'static str,
    },

    /// Client-supplied DER (a CSR, a public key) does not decode, or has trailing data.
    #[error("{what} is malformed: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },

    /// A client-supplied base64 value does not decode.
    #[error("{what} is not valid base64: {detail}")]
    BadBase64 {
        /// What was being read, e.g. `"proofOfPossession"`.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },

    /// A request's public key is of a type or size Hallmark does not certify.
    #[error(
        "{what} holds an unsupported public key ({key}); Hallmark accepts ECDSA P-256 and P-384, \
         Ed25519, and RSA keys of 2048 to 4096 bits"
    )]
    UnsupportedKey {
        /// Where the key came from.
        what: &'static str,
        /// The key's type as found, e.g. `"RSA-1024"`, `"ECDSA secp256k1"`, `"algorithm 1.2.3"`.
        key: String,
    },

    /// A request's public key has a supported type but its value is invalid (e.g. an EC point
    /// not on the curve).
    #[error("{what} holds an invalid {key} public key")]
    InvalidKey {
        /// Where the key came from.
        what: &'static str,
        /// The key's type.
        key: String,
    },

    /// A signature algorithm Hallmark does not verify, or one that does not fit the key.
    #[error("{what} uses signature algorithm {algorithm}, which is not accepted for a {key} key")]
    UnsupportedSignatureAlgorithm {
        /// What carried the signature.
        what: &'static str,
        /// The algorithm's name or OID.
        algorithm: String,
        /// The key's type.
        key: String,
    },

    /// The CSR's self-signature (its proof of possession) does not verify.
    #[error(
        "the certificate signing request's signature does not verify with its own {key} public \
         key: it was altered, or signed by another key"
    )]
    CsrSignature {
        /// The key's type.
        key: String,
    },

    /// The `publicKeyRequest` proof of possession does not verify.
    #[error(
        "proof of possession does not verify: the signature over {challenge:?} was not made by the \
         key in publicKeyRequest"
    )]
    ProofOfPossession {
        /// The challenge the signature had to cover (the token's `email`, else `sub`).
        challenge: String,
    },

    /// The identity cannot be written into a certificate (e.g. a non-ASCII email address, which
    /// an rfc822Name cannot hold).
    #[error("identity {field} {value:?} cannot be written into a certificate: {reason}")]
    UnencodableIdentity {
        /// Which part of the identity: `"email SAN"`, `"URI SAN"`, `"issuer"`, ...
        field: &'static str,
        /// The offending value.
        value: String,
        /// Why it cannot be encoded.
        reason: &'static str,
    },

    /// The signing key (HSM or in-memory) failed. Whether the key's backend is only away for a
    /// while is for the caller, who knows the backend, to read from the source.
    #[error("{operation}: the signing key failed: {}", signer_detail(source))]
    Signer {
        /// What was being signed, e.g. `"signing the leaf certificate"`.
        operation: &'static str,
        /// The signer's error; its source is the key backend's error (`hallmark_keys::KeyError`
        /// for PKCS#11 keys).
        #[source]
        source: signature::Error,
    },

    /// Encoding something Hallmark built itself failed (an internal error).
    #[error("cannot encode {what}: {detail}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },

    /// A CA key (for a root or an intermediate) is not ECDSA P-256 or P-384.
    #[error(
        "{what} has a {key} key; CA keys must be ECDSA P-256 or P-384 (Sigstore clients reject others)"
    )]
    UnsupportedCaKey {
        /// Which key.
        what: &'static str,
        /// The key's type.
        key: String,
    },

    /// A certificate does not hold the public key it was paired with.
    #[error(
        "{what} certificate not matching key: the certificate holds another public key than the \
         signing key (regenerate the certificate, or point at the right key)"
    )]
    CertificateKeyMismatch {
        /// Which certificate, e.g. `"root"`, `"intermediate"`, `"issuing CA"`.
        what: &'static str,
    },

    /// A certificate cannot serve in its role (e.g. an issuing CA certificate without
    /// `keyCertSign`).
    #[error("{what} certificate cannot be used: {reason}")]
    UnsuitableCertificate {
        /// Which certificate.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A certificate was not issued by the certificate it should chain to.
    #[error("{child} certificate was not issued by the {issuer} certificate: {reason}")]
    NotIssuedBy {
        /// The issued certificate's role.
        child: &'static str,
        /// The issuer's role.
        issuer: &'static str,
        /// Which check failed.
        reason: String,
    },

    /// A certificate to be read (not built) does not decode.
    #[error("{what} is not a valid X.509 certificate: {detail}")]
    BadCertificate {
        /// Which certificate.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },

    /// A time cannot be written into a certificate (before 1970 or after 9999).
    #[error("{what} cannot be written into a certificate: {detail}")]
    Time {
        /// Which time, e.g. `"notAfter"`.
        what: &'static str,
        /// The encoder's message.
        detail: String,
    },

    /// The operating system's random number generator failed.
    #[error("random number generator failed: {detail}")]
    Rng {
        /// The RNG's message.
        detail: String,
    },

    /// An RFC 6962 structure cannot be built (a field too long for its TLS length prefix).
    #[error(transparent)]
    Ct(#[from] CtError),
}

impl CaError {
    /// True for the request's mistakes, which the client must fix: malformed or unsupported
    /// CSR/key/PEM/base64, a failed proof of possession, an identity that cannot be encoded.
    /// Everything else is the CA's own failure or its signing key's.
    #[must_use]
    pub fn is_request_error(&self) -> bool {
        matches!(
            self,
            CaError::BadPem { .. }
                | CaError::WrongPemLabel { .. }
                | CaError::Malformed { .. }
                | CaError::BadBase64 { .. }
                | CaError::UnsupportedKey { .. }
                | CaError::InvalidKey { .. }
                | CaError::UnsupportedSignatureAlgorithm { .. }
                | CaError::CsrSignature { .. }
                | CaError::ProofOfPossession { .. }
                | CaError::UnencodableIdentity { .. }
        )
    }

    /// A `Signer` error for `operation`.
    pub(crate) fn signer(operation: &'static str, source: signature::Error) -> CaError {
        CaError::Signer { operation, source }
    }

    /// An `Encoding` error for `what` from a DER error.
    pub(crate) fn encoding(what: &'static str, err: impl std::fmt::Display) -> CaError {
        CaError::Encoding {
            what,
            detail: err.to_string(),
        }
    }

    /// A `Malformed` error for client input `what`.
    pub(crate) fn malformed(what: &'static str, err: impl std::fmt::Display) -> CaError {
        CaError::Malformed {
            what,
            detail: err.to_string(),
        }
    }
}

/// The signer's own message: `signature::Error` displays only "signature error", the cause (the
/// key backend's error) is its source.
fn signer_detail(err: &signature::Error) -> String {
    std::error::Error::source(err).map_or_else(|| err.to_string(), ToString::to_string)
}

/// The crate's result type.
pub type Result<T, E = CaError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_errors_carry_the_key_message_and_are_not_the_request_s_fault() {
        let away = std::io::Error::other("HSM token \"t\" unavailable");
        let err = CaError::signer("signing", signature::Error::from_source(away));
        assert!(!err.is_request_error());
        assert!(
            err.to_string()
                .starts_with("signing: the signing key failed: HSM token \"t\" unavailable"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn client_mistakes_are_request_errors() {
        let err = CaError::ProofOfPossession {
            challenge: "alice@example.com".into(),
        };
        assert!(err.is_request_error());
        assert_eq!(
            err.to_string(),
            "proof of possession does not verify: the signature over \"alice@example.com\" was \
             not made by the key in publicKeyRequest"
        );
        assert!(!CaError::Ct(CtError::NoEmbeddedScts).is_request_error());
    }
}
