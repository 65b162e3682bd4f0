//! The crate's one error type, and its mapping to HTTP status codes.

use hallmark_keys::KeyError;

/// Everything that can go wrong in certificate issuance, request checking and CT encoding.
///
/// Variants carry structured context (what was being parsed, key types, OIDs, offsets). Messages
/// are written for the client or operator who has to fix the problem. Untrusted input is never
/// echoed back in full: only the pieces a client needs (the challenge it signed, an OID).
///
/// [`CaError::status`] maps each variant to an HTTP status in one place: 400 for a client's
/// mistake, 503 when the HSM is away (retry later), 500 for everything else.
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

    /// The signing key (HSM or in-memory) failed. When the HSM is away this is a 503: see
    /// [`CaError::is_unavailable`].
    #[error("{operation}: the signing key failed: {}", signer_detail(source))]
    Signer {
        /// What was being signed, e.g. `"signing the leaf certificate"`.
        operation: &'static str,
        /// The signer's error; its source is a [`KeyError`] for PKCS#11 keys.
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

    /// A TLS-encoded CT structure (RFC 6962) does not decode.
    #[error("{what} is malformed at byte {offset}: {reason}")]
    TlsDecode {
        /// The structure, e.g. `"SignedCertificateTimestamp"`.
        what: &'static str,
        /// Byte offset where decoding failed.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },

    /// A field is too long for its TLS length prefix.
    #[error("{what} is {len} bytes, over the {max}-byte limit of its TLS length prefix")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// An SCT this crate cannot verify (version, hash or signature algorithm).
    #[error("unsupported SCT: {reason}")]
    UnsupportedSct {
        /// What is unsupported.
        reason: String,
    },

    /// An SCT's log id is not the id of the CT log key it is checked against.
    #[error("SCT was issued by log {found}, not by the CT log whose key has id {expected}")]
    SctLogMismatch {
        /// The SCT's log id (hex).
        found: String,
        /// The id of the key it was checked against (hex).
        expected: String,
    },

    /// An SCT's signature does not verify over the precertificate entry.
    #[error(
        "SCT signature from log {log_id} does not verify over the precertificate (wrong key, \
         wrong issuer, or the certificate was changed)"
    )]
    SctSignature {
        /// The SCT's log id (hex).
        log_id: String,
    },

    /// A certificate holds no embedded SCT list extension.
    #[error("certificate has no embedded SCT list (extension 1.3.6.1.4.1.11129.2.4.2)")]
    NoEmbeddedScts,
}

impl CaError {
    /// The HTTP status for this error: 400 for a client's mistake (malformed or unsupported
    /// CSR/key/PEM/base64, a failed proof of possession, an identity that cannot be encoded),
    /// 503 when the HSM is away (the key's [`KeyError::is_unavailable`]), 500 for anything else.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            CaError::BadPem { .. }
            | CaError::WrongPemLabel { .. }
            | CaError::Malformed { .. }
            | CaError::BadBase64 { .. }
            | CaError::UnsupportedKey { .. }
            | CaError::InvalidKey { .. }
            | CaError::UnsupportedSignatureAlgorithm { .. }
            | CaError::CsrSignature { .. }
            | CaError::ProofOfPossession { .. }
            | CaError::UnencodableIdentity { .. } => 400,
            CaError::Signer { .. } if self.is_unavailable() => 503,
            _ => 500,
        }
    }

    /// True when a signing key reported that its HSM is unavailable ([`KeyError::Unavailable`]:
    /// the key reconnects by itself) or busy ([`KeyError::SessionsBusy`]), so the request can be
    /// retried later.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            CaError::Signer { source, .. } => std::error::Error::source(source)
                .and_then(|e| e.downcast_ref::<KeyError>())
                .is_some_and(|k| k.is_unavailable() || k.is_busy()),
            _ => false,
        }
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

/// The signer's own message: `signature::Error` displays only "signature error", the cause (a
/// [`KeyError`] for PKCS#11 keys) is its source.
fn signer_detail(err: &signature::Error) -> String {
    std::error::Error::source(err).map_or_else(|| err.to_string(), ToString::to_string)
}

/// The crate's result type.
pub type Result<T, E = CaError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_hsm_is_503_other_signer_errors_500() {
        let away = KeyError::Unavailable {
            token: "t".into(),
            function: "C_Sign".into(),
            code: "CKR_DEVICE_REMOVED".into(),
        };
        let err = CaError::signer("signing", signature::Error::from_source(away));
        assert!(err.is_unavailable());
        assert_eq!(err.status(), 503);
        assert!(
            err.to_string()
                .starts_with("signing: the signing key failed: HSM token \"t\" unavailable"),
            "{err}"
        );

        let other = KeyError::Pkcs11 {
            token: "t".into(),
            function: "C_Sign".into(),
            code: "CKR_FUNCTION_FAILED".into(),
        };
        let err = CaError::signer("signing", signature::Error::from_source(other));
        assert!(!err.is_unavailable());
        assert_eq!(err.status(), 500);

        let bare = CaError::signer("signing", signature::Error::new());
        assert_eq!(bare.status(), 500);
    }

    #[test]
    fn client_mistakes_are_400() {
        let err = CaError::ProofOfPossession {
            challenge: "alice@example.com".into(),
        };
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "proof of possession does not verify: the signature over \"alice@example.com\" was \
             not made by the key in publicKeyRequest"
        );
        assert_eq!(CaError::NoEmbeddedScts.status(), 500);
    }
}
