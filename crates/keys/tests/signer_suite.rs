//! One signer test suite, run against every backend: a SoftHSM key (through PKCS#11) and an
//! in-memory key, on P-256 and P-384. Code that signs is generic over the RustCrypto traits, so
//! the suite is too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::Duration;

use der::{Decode, Encode};
use hallmark_keys::testing::{TestToken, unique_label};
use hallmark_keys::{KeyError, Pkcs11Key, generate_memory_p256, generate_memory_p384};
use signature::{Keypair, Signer, Verifier};
use spki::{DynSignatureAlgorithmIdentifier, EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::builder::{Builder, CertificateBuilder, profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

const MESSAGES: [&[u8]; 4] = [b"", b"hello hallmark", &[0xa5; 1000], &[0u8; 100_000]];

/// The suite, written once and instantiated per curve: the signer is any `K` with the RustCrypto
/// traits.
macro_rules! signer_suite {
    ($name:ident, $curve:ident, $curve_type:ty) => {
        fn $name<K>(key: &K)
        where
            K: Signer<$curve::ecdsa::DerSignature>
                + Signer<$curve::ecdsa::Signature>
                + Keypair<VerifyingKey = $curve::ecdsa::VerifyingKey>,
        {
            let vk = key.verifying_key();
            let stranger = *hallmark_keys::generate_memory_key::<$curve_type>()
                .unwrap()
                .verifying_key();
            for msg in MESSAGES {
                let der: $curve::ecdsa::DerSignature = key.try_sign(msg).unwrap();
                vk.verify(msg, &der).expect("DER signature verifies");
                let fixed: $curve::ecdsa::Signature = key.try_sign(msg).unwrap();
                vk.verify(msg, &fixed)
                    .expect("fixed-size signature verifies");
                let parsed = $curve::ecdsa::Signature::from_der(der.as_bytes()).unwrap();
                vk.verify(msg, &parsed).unwrap();

                let mut other = msg.to_vec();
                other.push(1);
                assert!(
                    vk.verify(&other, &der).is_err(),
                    "a changed message must not verify"
                );
                assert!(vk.verify(&other, &fixed).is_err());
                assert!(
                    stranger.verify(msg, &der).is_err(),
                    "another key must not verify"
                );
            }
        }
    };
}

signer_suite!(suite_p256, p256, p256::NistP256);
signer_suite!(suite_p384, p384, p384::NistP384);

#[test]
fn p256_softhsm_key_passes_the_suite() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("suite-p256")).unwrap();
    suite_p256(&key);
}

#[test]
fn p256_memory_key_passes_the_suite() {
    suite_p256(&generate_memory_p256().unwrap());
}

#[test]
fn p384_softhsm_key_passes_the_suite() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p384(&unique_label("suite-p384")).unwrap();
    suite_p384(&key);
}

#[test]
fn p384_memory_key_passes_the_suite() {
    suite_p384(&generate_memory_p384().unwrap());
}

#[test]
fn loaded_key_verifies_like_the_generated_one() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("reload");
    let generated = hsm.generate_p256(&label).unwrap();
    let loaded = hsm.load_p256(&label).unwrap();
    assert_eq!(generated.verifying_key(), loaded.verifying_key());
    let sig: p256::ecdsa::DerSignature = loaded.try_sign(b"m").unwrap();
    generated.verifying_key().verify(b"m", &sig).unwrap();
}

#[test]
fn spki_and_algorithm_identifier_match_the_in_memory_key() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key = hsm.generate_p256(&unique_label("spki")).unwrap();
    let expected = key.verifying_key().to_public_key_der().unwrap();
    assert_eq!(key.public_key_der(), expected.as_bytes());
    let memory = generate_memory_p256().unwrap();
    assert_eq!(
        key.signature_algorithm_identifier().unwrap(),
        memory.signature_algorithm_identifier().unwrap(),
        "ecdsa-with-SHA256"
    );
    let key384 = hsm.generate_p384(&unique_label("spki384")).unwrap();
    assert_eq!(
        key384.signature_algorithm_identifier().unwrap(),
        generate_memory_p384()
            .unwrap()
            .signature_algorithm_identifier()
            .unwrap(),
        "ecdsa-with-SHA384"
    );
}

/// A self-signed root through x509-cert 0.3's builder, with the HSM key as the signer: the
/// builder needs nothing but the traits.
fn self_signed<K, S>(key: &K) -> x509_cert::Certificate
where
    K: Signer<S> + Keypair + DynSignatureAlgorithmIdentifier,
    K::VerifyingKey: EncodePublicKey,
    S: spki::SignatureBitStringEncoding,
{
    let subject = Name::from_str("CN=Hallmark Test Root,O=Hallmark,C=US").unwrap();
    let profile = profile::cabf::Root::new(false, subject).unwrap();
    let spki_der = key.verifying_key().to_public_key_der().unwrap();
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).unwrap();
    let builder = CertificateBuilder::new(
        profile,
        SerialNumber::from(42u32),
        Validity::from_now(Duration::from_secs(3600)).unwrap(),
        spki,
    )
    .unwrap();
    builder.build::<_, S>(key).unwrap()
}

#[test]
fn x509_builder_signs_a_root_with_the_hsm_key() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let key: Pkcs11Key<p256::NistP256> = hsm.generate_p256(&unique_label("root")).unwrap();
    let cert = self_signed::<_, p256::ecdsa::DerSignature>(&key);
    let tbs = cert.tbs_certificate().to_der().unwrap();
    let sig = p256::ecdsa::DerSignature::from_bytes(cert.signature().raw_bytes()).unwrap();
    key.verifying_key().verify(&tbs, &sig).unwrap();

    let key384 = hsm.generate_p384(&unique_label("root384")).unwrap();
    let cert384 = self_signed::<_, p384::ecdsa::DerSignature>(&key384);
    let tbs = cert384.tbs_certificate().to_der().unwrap();
    let sig = p384::ecdsa::DerSignature::from_bytes(cert384.signature().raw_bytes()).unwrap();
    key384.verifying_key().verify(&tbs, &sig).unwrap();

    // And openssl, an independent implementation, accepts both as self-signed roots.
    for (name, cert) in [("p256", cert), ("p384", cert384)] {
        let dir = tempfile::tempdir().unwrap();
        let pem_path = dir.path().join(format!("{name}.pem"));
        let pem = der::EncodePem::to_pem(&cert, der::pem::LineEnding::LF).unwrap();
        std::fs::write(&pem_path, pem).unwrap();
        let out = std::process::Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&pem_path)
            .arg(&pem_path)
            .output()
            .expect("openssl is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(": OK"),
            "openssl verify {name}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn certificates_can_be_stored_on_the_token() {
    let _serial = hallmark_keys::testing::serial();
    let hsm = TestToken::shared().open();
    let label = unique_label("cert");
    let key = hsm.generate_p256(&label).unwrap();
    let der = self_signed::<_, p256::ecdsa::DerSignature>(&key)
        .to_der()
        .unwrap();
    assert_eq!(hsm.find_certificate(&label).unwrap(), None);
    hsm.store_certificate(&label, &der).unwrap();
    assert_eq!(hsm.find_certificate(&label).unwrap(), Some(der.clone()));
    assert!(matches!(
        hsm.store_certificate(&label, &der),
        Err(KeyError::CertificateExists { .. })
    ));
    assert!(matches!(
        hsm.store_certificate(&unique_label("junk"), b"not a certificate"),
        Err(KeyError::BadCertificate { .. })
    ));
}
