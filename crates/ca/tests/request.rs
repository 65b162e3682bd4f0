//! Request checking: CSRs (from openssl, Python `cryptography` as sigstore-python makes them, and
//! x509-cert) and sigstore-js proofs of possession, for every accepted key type; and the
//! failures — tampered, mismatched, weak, garbage — as clean 400s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use common::{generate_memory_p256, generate_memory_p384};
use der::{Decode, Encode};
use hallmark_ca::{
    CaError, CaSubject, Issuance, IssuingKey, KeyAlgorithm, decode_proof_of_possession, parse_csr,
    verify_proof_of_possession,
};
use signature::Signer;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::request::CertReq;

/// A key made by openssl, with its public key in DER.
struct OpensslKey {
    dir: tempfile::TempDir,
    key: PathBuf,
    spki_der: Vec<u8>,
}

impl OpensslKey {
    fn new(genpkey: &[&str]) -> OpensslKey {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(genpkey);
        args.extend_from_slice(&["-out", key.to_str().unwrap()]);
        common::openssl_ok(&args);
        let pubder = dir.path().join("pub.der");
        common::openssl_ok(&[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            pubder.to_str().unwrap(),
        ]);
        let spki_der = std::fs::read(pubder).unwrap();
        OpensslKey { dir, key, spki_der }
    }

    fn ec(curve: &str) -> OpensslKey {
        OpensslKey::new(&[
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
        ])
    }

    fn rsa(bits: u32) -> OpensslKey {
        OpensslKey::new(&[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
        ])
    }

    fn ed25519() -> OpensslKey {
        OpensslKey::new(&["-algorithm", "ed25519"])
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A CSR with `subj`, signed with `digest` (None for Ed25519), as PEM and DER.
    fn csr(&self, subj: &str, digest: Option<&str>) -> (Vec<u8>, Vec<u8>) {
        let pem = self.path("req.pem");
        let mut args = vec![
            "req",
            "-new",
            "-key",
            self.key.to_str().unwrap(),
            "-subj",
            subj,
            "-out",
            pem.to_str().unwrap(),
        ];
        if let Some(d) = digest {
            args.push(d);
        }
        common::openssl_ok(&args);
        let der = self.path("req.der");
        common::openssl_ok(&[
            "req",
            "-in",
            pem.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        (std::fs::read(pem).unwrap(), std::fs::read(der).unwrap())
    }

    /// Sign `msg` as sigstore-js does for the key type.
    fn sign(&self, msg: &[u8], digest: Option<&str>) -> Vec<u8> {
        let input = self.path("msg");
        std::fs::write(&input, msg).unwrap();
        let out = self.path("sig");
        match digest {
            Some(d) => common::openssl_ok(&[
                "dgst",
                d,
                "-sign",
                self.key.to_str().unwrap(),
                "-out",
                out.to_str().unwrap(),
                input.to_str().unwrap(),
            ]),
            None => common::openssl_ok(&[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                self.key.to_str().unwrap(),
                "-in",
                input.to_str().unwrap(),
                "-out",
                out.to_str().unwrap(),
            ]),
        };
        std::fs::read(out).unwrap()
    }

    fn public_pem(&self) -> Vec<u8> {
        let out = self.path("pub.pem");
        common::openssl_ok(&[
            "pkey",
            "-in",
            self.key.to_str().unwrap(),
            "-pubout",
            "-out",
            out.to_str().unwrap(),
        ]);
        std::fs::read(out).unwrap()
    }
}

/// Issue a leaf for `spki_der` under a throwaway CA and have openssl verify the chain.
fn issue_and_verify(spki_der: &[u8], dir: &Path) {
    let ca_key = generate_memory_p256().unwrap();
    let ct_key = generate_memory_p256().unwrap();
    let now = SystemTime::now();
    let subject = CaSubject {
        organization: "Hallmark Test".into(),
        common_name: "leaf-types".into(),
    };
    let root =
        hallmark_ca::root_certificate(&ca_key, &subject, now, Duration::from_secs(3600)).unwrap();
    let issuance = Issuance::new(&root, &ca_key).unwrap();
    let prepared = issuance
        .prepare(spki_der, &common::email_identity(), now)
        .unwrap();
    let ct_spki = ct_key.public_key_der().unwrap();
    let sct = hallmark_ca::ct::sign_sct(
        &ct_key,
        hallmark_sigstore::ct::log_id(&ct_spki),
        1,
        prepared.issuer_key_hash(),
        prepared.precert_tbs_der(),
    )
    .unwrap();
    let leaf = prepared.finish(&sct, &ca_key).unwrap();
    let root_pem = common::write(
        dir,
        "root.pem",
        hallmark_ca::certificate_pem(&root).unwrap(),
    );
    let leaf_pem = common::write(
        dir,
        "leaf.pem",
        hallmark_ca::certificate_pem(&leaf).unwrap(),
    );
    let out = common::openssl_ok(&[
        "verify",
        "-CAfile",
        root_pem.to_str().unwrap(),
        "-purpose",
        "any",
        leaf_pem.to_str().unwrap(),
    ]);
    assert!(out.contains(": OK"), "{out}");
}

#[test]
fn openssl_csrs_for_every_accepted_key_type() {
    let cases: Vec<(OpensslKey, Option<&str>, KeyAlgorithm)> = vec![
        (
            OpensslKey::ec("P-256"),
            Some("-sha256"),
            KeyAlgorithm::EcdsaP256,
        ),
        (
            OpensslKey::ec("P-384"),
            Some("-sha384"),
            KeyAlgorithm::EcdsaP384,
        ),
        (
            OpensslKey::ec("P-384"),
            Some("-sha256"),
            KeyAlgorithm::EcdsaP384,
        ),
        (OpensslKey::ed25519(), None, KeyAlgorithm::Ed25519),
        (
            OpensslKey::rsa(2048),
            Some("-sha256"),
            KeyAlgorithm::Rsa { bits: 2048 },
        ),
        (
            OpensslKey::rsa(3072),
            Some("-sha384"),
            KeyAlgorithm::Rsa { bits: 3072 },
        ),
        (
            OpensslKey::rsa(4096),
            Some("-sha512"),
            KeyAlgorithm::Rsa { bits: 4096 },
        ),
    ];
    for (key, digest, algorithm) in &cases {
        let (pem, der) = key.csr("/", *digest);
        for input in [&pem, &der] {
            let proven = parse_csr(input).unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            assert_eq!(proven.algorithm(), *algorithm);
            assert_eq!(proven.spki_der(), key.spki_der.as_slice());
        }
        // A subject and extension requests in the CSR are ignored, not rejected.
        let (pem, _) = key.csr("/CN=ignored/O=whatever", *digest);
        assert_eq!(parse_csr(&pem).unwrap().spki_der(), key.spki_der.as_slice());
        // Every accepted key type gets a leaf that openssl verifies.
        issue_and_verify(&key.spki_der, key.dir.path());
    }
}

#[test]
fn weak_and_unknown_keys_are_rejected_with_their_name() {
    for (key, digest, named) in [
        (OpensslKey::rsa(1024), Some("-sha256"), "RSA-1024"),
        (OpensslKey::ec("secp256k1"), Some("-sha256"), "secp256k1"),
        (OpensslKey::ec("P-521"), Some("-sha512"), "P-521"),
        (OpensslKey::new(&["-algorithm", "ed448"]), None, "Ed448"),
    ] {
        let (pem, _) = key.csr("/", digest);
        let err = parse_csr(&pem).unwrap_err();
        assert!(
            matches!(err, CaError::UnsupportedKey { .. }),
            "{named}: {err}"
        );
        assert!(err.is_request_error());
        let msg = err.to_string();
        assert!(msg.contains(named), "{msg}");
        assert!(msg.contains("accepts ECDSA P-256 and P-384"), "{msg}");
        // The same keys in the proof-of-possession form.
        let err = verify_proof_of_possession(&key.public_pem(), "x", b"sig").unwrap_err();
        assert!(
            matches!(err, CaError::UnsupportedKey { .. }),
            "{named}: {err}"
        );
    }
}

#[test]
fn sigstore_python_style_csr_from_cryptography() {
    // Exactly how sigstore-python builds its CSR.
    let script = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([]))
       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
       .sign(key, hashes.SHA256()))
print("csr=" + csr.public_bytes(serialization.Encoding.PEM).hex())
print("spki=" + key.public_key().public_bytes(serialization.Encoding.DER,
      serialization.PublicFormat.SubjectPublicKeyInfo).hex())
"#;
    let out = common::python_kv(script, &[]);
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let proven = parse_csr(&unhex(&out["csr"])).unwrap();
    assert_eq!(proven.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(proven.spki_der(), unhex(&out["spki"]).as_slice());
}

fn rust_csr<K>(key: &K) -> Vec<u8>
where
    K: Signer<p256::ecdsa::DerSignature>
        + signature::Keypair<VerifyingKey = p256::ecdsa::VerifyingKey>
        + spki::DynSignatureAlgorithmIdentifier,
{
    let mut builder = RequestBuilder::new(Name::default()).unwrap();
    builder
        .add_extension(&BasicConstraints {
            ca: false,
            path_len_constraint: None,
        })
        .unwrap();
    let req = builder.build::<_, p256::ecdsa::DerSignature>(key).unwrap();
    req.to_der().unwrap()
}

#[test]
fn x509_cert_csrs_verify_and_tampering_is_caught() {
    let key = generate_memory_p256().unwrap();
    let der = rust_csr(&key);
    let proven = parse_csr(&der).unwrap();
    assert_eq!(proven.spki_der(), key.public_key_der().unwrap().as_slice());

    // Flip each byte of the signature's last 8 bytes: the self-signature no longer verifies.
    for back in 1..=8 {
        let mut bad = der.clone();
        let i = bad.len() - back;
        bad[i] ^= 0x01;
        let err = parse_csr(&bad).unwrap_err();
        assert!(err.is_request_error(), "{err}");
    }
    let mut req = CertReq::from_der(&der).unwrap();
    let sig = req.signature.raw_bytes().to_vec();
    let mut flipped = sig.clone();
    flipped[10] ^= 0x40;
    req.signature = der::asn1::BitString::from_bytes(&flipped).unwrap();
    let err = parse_csr(&req.to_der().unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            CaError::CsrSignature { .. } | CaError::Malformed { .. }
        ),
        "{err}"
    );

    // Changing the signed content (the subject) breaks the signature.
    let mut req = CertReq::from_der(&der).unwrap();
    req.info.subject = Name::from_str("CN=mallory").unwrap();
    let err = parse_csr(&req.to_der().unwrap()).unwrap_err();
    assert!(matches!(err, CaError::CsrSignature { .. }), "{err}");
    assert!(err.is_request_error());
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn csr_claiming_another_key_fails() {
    // The CSR names key A but was signed by key B: possession of A is not proven.
    let a = generate_memory_p256().unwrap();
    let b = generate_memory_p256().unwrap();
    let mut req = CertReq::from_der(&rust_csr(&b)).unwrap();
    req.info.public_key =
        spki::SubjectPublicKeyInfoOwned::from_der(&a.public_key_der().unwrap()).unwrap();
    let sig: p256::ecdsa::DerSignature = b.sign(&req.info.to_der().unwrap());
    req.signature = der::asn1::BitString::from_bytes(sig.as_bytes()).unwrap();
    let err = parse_csr(&req.to_der().unwrap()).unwrap_err();
    assert!(matches!(err, CaError::CsrSignature { .. }), "{err}");

    // And a P-384 key's CSR signed by a P-256 key (mismatched curve) fails too.
    let c = generate_memory_p384().unwrap();
    req.info.public_key =
        spki::SubjectPublicKeyInfoOwned::from_der(&c.public_key_der().unwrap()).unwrap();
    let sig: p256::ecdsa::DerSignature = b.sign(&req.info.to_der().unwrap());
    req.signature = der::asn1::BitString::from_bytes(sig.as_bytes()).unwrap();
    assert!(
        parse_csr(&req.to_der().unwrap())
            .unwrap_err()
            .is_request_error()
    );
}

#[test]
fn garbage_truncated_and_wrong_pem_fail_cleanly() {
    let key = generate_memory_p256().unwrap();
    let der = rust_csr(&key);
    for n in 0..der.len() {
        let err = parse_csr(&der[..n]).unwrap_err();
        assert!(err.is_request_error(), "truncated at {n}: {err}");
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        parse_csr(&trailing).unwrap_err(),
        CaError::Malformed { .. }
    ));
    for garbage in [
        &b""[..],
        b"hello",
        b"\x30\x80\x00\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
        b"-----BEGIN CERTIFICATE REQUEST-----\n",
    ] {
        let err = parse_csr(garbage).unwrap_err();
        assert!(err.is_request_error(), "{garbage:?}: {err}");
    }
    // PEM of another type.
    let ca_key = generate_memory_p256().unwrap();
    let cert = hallmark_ca::root_certificate(
        &ca_key,
        &CaSubject {
            organization: "o".into(),
            common_name: "c".into(),
        },
        SystemTime::now(),
        Duration::from_secs(60),
    )
    .unwrap();
    let cert_pem = hallmark_ca::certificate_pem(&cert).unwrap();
    let err = parse_csr(cert_pem.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, CaError::WrongPemLabel { found, .. } if found == "CERTIFICATE"),
        "{err}"
    );
    assert!(err.is_request_error());
    // A certificate's DER is not a CSR either.
    assert!(
        parse_csr(&cert.to_der().unwrap())
            .unwrap_err()
            .is_request_error()
    );
    // A public key where a CSR belongs.
    let spki_pem = OpensslKey::ec("P-256").public_pem();
    assert!(matches!(
        parse_csr(&spki_pem).unwrap_err(),
        CaError::WrongPemLabel { .. }
    ));
}

#[test]
fn proof_of_possession_for_every_key_type() {
    let challenge = "alice@example.com";
    let cases = [
        (
            OpensslKey::ec("P-256"),
            Some("-sha256"),
            KeyAlgorithm::EcdsaP256,
        ),
        (
            OpensslKey::ec("P-384"),
            Some("-sha384"),
            KeyAlgorithm::EcdsaP384,
        ),
        (OpensslKey::ed25519(), None, KeyAlgorithm::Ed25519),
        (
            OpensslKey::rsa(2048),
            Some("-sha256"),
            KeyAlgorithm::Rsa { bits: 2048 },
        ),
    ];
    for (key, digest, algorithm) in &cases {
        let sig = key.sign(challenge.as_bytes(), *digest);
        for public in [key.public_pem(), key.spki_der.clone()] {
            let proven = verify_proof_of_possession(&public, challenge, &sig)
                .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            assert_eq!(proven.algorithm(), *algorithm);
            assert_eq!(proven.spki_der(), key.spki_der.as_slice());
        }
        // Over another challenge: refused, with the message the client needs.
        let err = verify_proof_of_possession(&key.spki_der, "bob@example.com", &sig).unwrap_err();
        assert!(err.is_request_error());
        assert_eq!(
            err.to_string(),
            "proof of possession does not verify: the signature over \"bob@example.com\" was \
             not made by the key in publicKeyRequest"
        );
    }
    // The wrong hash for the curve (sigstore-js signs P-384 with SHA-384, as Fulcio verifies).
    let p384 = &cases[1].0;
    let sig = p384.sign(challenge.as_bytes(), Some("-sha256"));
    assert!(matches!(
        verify_proof_of_possession(&p384.spki_der, challenge, &sig),
        Err(CaError::ProofOfPossession { .. })
    ));
}

#[test]
fn proof_of_possession_failures_are_400_with_clear_messages() {
    let challenge = "alice@example.com";
    let key = generate_memory_p256().unwrap();
    let other = generate_memory_p256().unwrap();
    let spki = key.public_key_der().unwrap();
    let good: p256::ecdsa::DerSignature = key.sign(challenge.as_bytes());
    verify_proof_of_possession(&spki, challenge, good.as_bytes()).unwrap();

    // Through base64 as the JSON carries it.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(good.as_bytes());
    let decoded = decode_proof_of_possession(&b64).unwrap();
    verify_proof_of_possession(&spki, challenge, &decoded).unwrap();
    let unpadded = b64.trim_end_matches('=');
    assert_eq!(decode_proof_of_possession(unpadded).unwrap(), decoded);

    // Signed by another key.
    let by_other: p256::ecdsa::DerSignature = other.sign(challenge.as_bytes());
    let err = verify_proof_of_possession(&spki, challenge, by_other.as_bytes()).unwrap_err();
    assert!(err.is_request_error());
    assert_eq!(
        err.to_string(),
        "proof of possession does not verify: the signature over \"alice@example.com\" was not \
         made by the key in publicKeyRequest"
    );
    // Over the wrong challenge.
    let wrong: p256::ecdsa::DerSignature = key.sign(b"mallory@example.com");
    let err = verify_proof_of_possession(&spki, challenge, wrong.as_bytes()).unwrap_err();
    assert!(matches!(err, CaError::ProofOfPossession { .. }));
    // Garbage signatures.
    for sig in [&b""[..], b"\x30\x00", &[0u8; 64][..], &[0xff; 200][..]] {
        let err = verify_proof_of_possession(&spki, challenge, sig).unwrap_err();
        assert!(matches!(err, CaError::ProofOfPossession { .. }), "{err}");
    }
    // Malformed base64.
    for bad in ["not base64!", "YWJj*", "%%%%"] {
        let err = decode_proof_of_possession(bad).unwrap_err();
        assert!(matches!(
            err,
            CaError::BadBase64 {
                what: "proofOfPossession",
                ..
            }
        ));
        assert!(err.is_request_error());
        assert!(
            err.to_string()
                .starts_with("proofOfPossession is not valid base64"),
            "{err}"
        );
    }
    // Keys that are not keys.
    for bad_key in [
        &b""[..],
        b"garbage",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
        &spki[..spki.len() - 1],
    ] {
        let err = verify_proof_of_possession(bad_key, challenge, good.as_bytes()).unwrap_err();
        assert!(err.is_request_error(), "{err}");
    }
    // A P-256 point that is not on the curve.
    let mut off_curve = spki.clone();
    let n = off_curve.len();
    off_curve[n - 1] ^= 0x01;
    let err = verify_proof_of_possession(&off_curve, challenge, good.as_bytes()).unwrap_err();
    assert!(matches!(err, CaError::InvalidKey { .. }), "{err}");
    assert!(err.is_request_error());
}
