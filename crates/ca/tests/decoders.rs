//! Property tests: TLS encodings round-trip, and every decoder of untrusted input returns an
//! error instead of panicking — on random bytes and on mutations of valid encodings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::Encode;
use ecdsa::elliptic_curve::Generate as _;
use hallmark_ca::{CaSubject, Issuance, IssuingKey};
use hallmark_sigstore::ct::{
    self, DigitallySigned, HashAlgorithm, LogEntry, MerkleTreeLeaf, PrecertChainEntry, Sct,
    SctVersion, SignatureAlgorithm,
};
use hallmark_sigstore::identity::{CiExtensions, Identity, SubjectAltName};
use proptest::prelude::*;

fn hash_alg() -> impl Strategy<Value = HashAlgorithm> {
    prop_oneof![
        Just(HashAlgorithm::None),
        Just(HashAlgorithm::Md5),
        Just(HashAlgorithm::Sha1),
        Just(HashAlgorithm::Sha224),
        Just(HashAlgorithm::Sha256),
        Just(HashAlgorithm::Sha384),
        Just(HashAlgorithm::Sha512),
    ]
}

fn sig_alg() -> impl Strategy<Value = SignatureAlgorithm> {
    prop_oneof![
        Just(SignatureAlgorithm::Anonymous),
        Just(SignatureAlgorithm::Rsa),
        Just(SignatureAlgorithm::Dsa),
        Just(SignatureAlgorithm::Ecdsa),
    ]
}

prop_compose! {
    fn sct()(
        log_id in any::<[u8; 32]>(),
        timestamp_ms in any::<u64>(),
        extensions in proptest::collection::vec(any::<u8>(), 0..40),
        hash in hash_alg(),
        signature_algorithm in sig_alg(),
        signature in proptest::collection::vec(any::<u8>(), 0..120),
    ) -> Sct {
        Sct {
            version: SctVersion::V1,
            log_id,
            timestamp_ms,
            extensions,
            signature: DigitallySigned { hash, signature_algorithm, signature },
        }
    }
}

fn log_entry() -> impl Strategy<Value = LogEntry> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|certificate| LogEntry::X509 { certificate }),
        (
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(issuer_key_hash, tbs_certificate)| LogEntry::Precert {
                issuer_key_hash,
                tbs_certificate
            }),
    ]
}

prop_compose! {
    fn merkle_leaf()(
        timestamp_ms in any::<u64>(),
        entry in log_entry(),
        extensions in proptest::collection::vec(any::<u8>(), 0..40),
    ) -> MerkleTreeLeaf {
        MerkleTreeLeaf { timestamp_ms, entry, extensions }
    }
}

prop_compose! {
    fn chain_entry()(
        pre_certificate in proptest::collection::vec(any::<u8>(), 0..200),
        precertificate_chain in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..100), 0..4),
    ) -> PrecertChainEntry {
        PrecertChainEntry { pre_certificate, precertificate_chain }
    }
}

/// Valid inputs to mutate: a final leaf certificate, a CSR, a public key.
struct Samples {
    leaf: Vec<u8>,
    csr: Vec<u8>,
    spki: Vec<u8>,
}

fn samples() -> &'static Samples {
    static S: OnceLock<Samples> = OnceLock::new();
    S.get_or_init(|| {
        let ca = p256::ecdsa::SigningKey::try_generate().unwrap();
        let ct_key = p256::ecdsa::SigningKey::try_generate().unwrap();
        let client = p256::ecdsa::SigningKey::try_generate().unwrap();
        let now = SystemTime::now();
        let root = hallmark_ca::root_certificate(
            &ca,
            &CaSubject {
                organization: "o".into(),
                common_name: "c".into(),
            },
            now,
            Duration::from_secs(60),
        )
        .unwrap();
        let identity = Identity {
            issuer: "https://issuer.example".into(),
            san: SubjectAltName::Email("a@example.com".into()),
            challenge: "a@example.com".into(),
            subject: "a@example.com".into(),
            extensions: CiExtensions::default(),
            github_v1: None,
        };
        let spki = client.public_key_der().unwrap();
        let prepared = Issuance::new(&root, &ca)
            .unwrap()
            .prepare(&spki, &identity, now)
            .unwrap();
        let ct_spki = ct_key.public_key_der().unwrap();
        let sct = hallmark_ca::ct::sign_sct(
            &ct_key,
            ct::log_id(&ct_spki),
            1,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        let leaf = prepared.finish(&sct, &ca).unwrap().to_der().unwrap();
        let builder =
            x509_cert::builder::RequestBuilder::new(x509_cert::name::Name::default()).unwrap();
        let csr =
            x509_cert::builder::Builder::build::<_, p256::ecdsa::DerSignature>(builder, &client)
                .unwrap()
                .to_der()
                .unwrap();
        Samples { leaf, csr, spki }
    })
}

/// Run every decoder on `bytes`; any may fail, none may panic.
fn feed_all(bytes: &[u8]) {
    let _ = Sct::decode(bytes);
    let _ = ct::decode_sct_list(bytes);
    let _ = MerkleTreeLeaf::decode(bytes);
    let _ = PrecertChainEntry::decode(bytes);
    let _ = ct::reconstruct_precert_tbs(bytes);
    let _ = ct::embedded_scts(bytes);
    let _ = ct::verify_embedded_scts(bytes, bytes, bytes);
    let _ = hallmark_ca::parse_csr(bytes);
    let _ = hallmark_ca::verify_proof_of_possession(bytes, "challenge", bytes);
    let _ = hallmark_ca::parse_certificate("input", bytes);
    let _ = hallmark_ca::decode_proof_of_possession(&String::from_utf8_lossy(bytes));
    let _ = ct::verify_sct(
        &Sct {
            version: SctVersion::V1,
            log_id: ct::log_id(bytes),
            timestamp_ms: 0,
            extensions: vec![],
            signature: DigitallySigned {
                hash: HashAlgorithm::Sha256,
                signature_algorithm: SignatureAlgorithm::Ecdsa,
                signature: bytes.to_vec(),
            },
        },
        bytes,
        &[0; 32],
        bytes,
    );
}

/// Apply `edits` (position, xor mask) and a truncation to `base`.
fn mutate(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for (pos, mask) in edits {
        if !v.is_empty() {
            let i = pos % v.len();
            v[i] ^= mask;
        }
    }
    let keep = if v.is_empty() {
        0
    } else {
        v.len() - cut % v.len()
    };
    v.truncate(keep.max(1));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sct_round_trips(s in sct()) {
        let enc = s.encode().unwrap();
        prop_assert_eq!(Sct::decode(&enc).unwrap(), s.clone());
        let list = ct::encode_sct_list(&[s.clone(), s.clone()]).unwrap();
        prop_assert_eq!(ct::decode_sct_list(&list).unwrap(), vec![s.clone(), s]);
    }

    #[test]
    fn merkle_tree_leaf_round_trips(leaf in merkle_leaf()) {
        let enc = leaf.encode().unwrap();
        prop_assert_eq!(MerkleTreeLeaf::decode(&enc).unwrap(), leaf);
    }

    #[test]
    fn precert_chain_entry_round_trips(entry in chain_entry()) {
        let enc = entry.encode().unwrap();
        prop_assert_eq!(PrecertChainEntry::decode(&enc).unwrap(), entry);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        feed_all(&bytes);
    }

    #[test]
    fn mutated_tls_never_panics(
        s in sct(),
        leaf in merkle_leaf(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        for base in [s.encode().unwrap(), leaf.encode().unwrap(),
                     ct::encode_sct_list(&[s]).unwrap()] {
            feed_all(&mutate(&base, &edits, cut % 8));
            feed_all(&mutate(&base, &edits, 0));
        }
    }

    #[test]
    fn mutated_certificates_csrs_and_keys_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let s = samples();
        for base in [&s.leaf, &s.csr, &s.spki] {
            feed_all(&mutate(base, &edits, 0));
            feed_all(&mutate(base, &edits, cut));
        }
    }
}

#[test]
fn valid_samples_decode() {
    let s = samples();
    assert_eq!(ct::embedded_scts(&s.leaf).unwrap().len(), 1);
    assert_eq!(
        hallmark_ca::parse_csr(&s.csr).unwrap().spki_der(),
        s.spki.as_slice()
    );
}
