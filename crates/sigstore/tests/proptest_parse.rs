//! Property tests of [`ProposedEntry::parse`] and [`ProposedEntry::verify`].
//!
//! The generators build structurally valid, correctly signed Rekor v1 entries of every kind the
//! crate accepts: hashedrekord 0.0.1 (a PEM public key or a self-signed PEM certificate, over a
//! SHA-256 digest; SHA-384 and SHA-512 digests, which a P-256 signature binds only in part, must
//! be refused), dsse 0.0.1 `proposedContent` and intoto 0.0.2 (each with
//! one to three signatures, every signer a key or a certificate). The signing side is RustCrypto
//! `p256` (RFC 6979) and x509-cert's builder, independent of the aws-lc-rs verifier under test.
//!
//! Each case first requires the unmutated entry to parse and verify, with every output checked
//! against what was put in (signers, digest, index keys, the canonical body in RFC 8785 form).
//! Then one mutation is applied and its outcome asserted: a change to signed content (signature,
//! digest, payload, payloadType, a verifier, a dropped signature) must be refused by the
//! signature check; a structural change (truncated base64, wrong JSON type, a multi-byte
//! character, a duplicated field) must be refused or, when it cannot change the meaning, verify
//! with the same signers and digest. A panic anywhere fails the case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::asn1::{Ia5String, OctetString};
use der::oid::AssociatedOid;
use der::pem::LineEnding;
use der::{Encode, EncodePem};
use hallmark_sigstore::{
    EntryError, EntryKind, EntrySigner, HashAlgorithm, MAX_INDEX_KEYS, ProposedEntry,
    VerifiedEntry, dsse_pae,
};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

/// Cases per entry kind. Each case signs up to four keys and certificates in debug-mode p256.
const CASES: u32 = 256;

// ---------------------------------------------------------------------------------------------
// Specs: the plain data proptest generates and shrinks.

#[derive(Clone, Debug)]
enum SanSpec {
    Email(String),
    Uri(String),
}

/// A party's verifier: `None` for a bare PEM public key, or a certificate with these SANs.
type PartySpec = Option<Vec<SanSpec>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// dsse: standard base64; intoto: base64 of the base64 text (what sigstore-js sends).
    Standard,
    /// dsse: URL-safe base64 without padding; intoto: base64 once.
    Alternate,
}

#[derive(Clone, Debug)]
struct Spec {
    kind: EntryKind,
    seed: [u8; 32],
    /// The signers, in signature order (hashedrekord: exactly one).
    signers: Vec<PartySpec>,
    /// A party that signs nothing (for swapped verifiers).
    stranger: PartySpec,
    alg: HashAlgorithm,
    payload_type: String,
    payload: Vec<u8>,
    keyids: Vec<Option<String>>,
    encoding: Encoding,
    /// dsse: the verifier list is the signer list rotated by this much.
    rotation: usize,
    /// dsse: send `signatures`, `envelopeHash`, `payloadHash` as explicit nulls (sigstore-python).
    server_nulls: bool,
    envelope_hash: [u8; 32],
}

fn san() -> impl Strategy<Value = SanSpec> {
    prop_oneof![
        "[A-Za-z0-9._+-]{1,10}@[a-z]{1,8}\\.example".prop_map(SanSpec::Email),
        "https://[a-z]{1,8}\\.example/[a-z0-9/@._-]{0,16}".prop_map(SanSpec::Uri),
    ]
}

fn party() -> impl Strategy<Value = PartySpec> {
    prop::option::of(prop::collection::vec(san(), 0..=2))
}

fn spec(kind: EntryKind) -> impl Strategy<Value = Spec> {
    let signers = if kind == EntryKind::HashedRekord {
        prop::collection::vec(party(), 1..=1).boxed()
    } else {
        // One signer in half the cases, several in the other half.
        prop_oneof![
            prop::collection::vec(party(), 1..=1),
            prop::collection::vec(party(), 2..=3),
        ]
        .boxed()
    };
    // P-256 with a longer digest is refused (ECDSA would sign only part of it): mostly sha256.
    let alg = prop_oneof![
        8 => Just(HashAlgorithm::Sha256),
        1 => Just(HashAlgorithm::Sha384),
        1 => Just(HashAlgorithm::Sha512),
    ];
    let payload_type = prop_oneof![
        Just("application/vnd.in-toto+json".to_owned()),
        "[ -~]{0,24}",
        ".{0,8}",
    ];
    let encoding = prop_oneof![Just(Encoding::Standard), Just(Encoding::Alternate)];
    (
        any::<[u8; 32]>(),
        signers,
        party(),
        alg,
        payload_type,
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(prop::option::of("[a-z0-9]{0,6}"), 3),
        encoding,
        0usize..3,
        any::<bool>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            move |(
                seed,
                signers,
                stranger,
                alg,
                payload_type,
                payload,
                keyids,
                encoding,
                rotation,
                server_nulls,
                envelope_hash,
            )| Spec {
                kind,
                seed,
                signers,
                stranger,
                alg,
                payload_type,
                payload,
                keyids,
                encoding,
                rotation,
                server_nulls,
                envelope_hash,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Parties: keys, verifier strings, self-signed certificates.

struct Party {
    key: SigningKey,
    /// Base64 of the PEM public key or certificate, as an entry carries it.
    verifier: String,
    spki_der: Vec<u8>,
    certificate_der: Option<Vec<u8>>,
    sans: Vec<SanSpec>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("certificate", &self.certificate_der.is_some())
            .field("sans", &self.sans)
            .finish_non_exhaustive()
    }
}

/// A self-signed leaf with the given SANs (nothing else is needed by the verifier).
struct SelfSigned {
    subject: Name,
    sans: Vec<GeneralName>,
}

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        if self.sans.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Extension {
            extn_id: SubjectAltName::OID,
            critical: false,
            extn_value: OctetString::new(SubjectAltName(self.sans.clone()).to_der()?)?,
        }])
    }
}

impl Party {
    /// Party `n` of an entry: its key is derived from the entry seed and `n`, so the parties of
    /// one entry are distinct however proptest shrinks the seed.
    fn new(seed: &[u8; 32], n: u32, spec: &PartySpec) -> Party {
        let key = (0u32..)
            .find_map(|ctr| {
                let d = Sha256::new()
                    .chain_update(seed)
                    .chain_update(n.to_be_bytes())
                    .chain_update(ctr.to_be_bytes())
                    .finalize();
                SigningKey::from_slice(&d).ok()
            })
            .unwrap();
        let vk = *key.verifying_key();
        let spki_der = vk.to_public_key_der().unwrap().as_bytes().to_vec();
        let Some(sans) = spec else {
            let pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
            return Party {
                key,
                verifier: STANDARD.encode(pem),
                spki_der,
                certificate_der: None,
                sans: Vec::new(),
            };
        };
        let names = sans
            .iter()
            .map(|s| match s {
                SanSpec::Email(v) => GeneralName::Rfc822Name(Ia5String::new(v).unwrap()),
                SanSpec::Uri(v) => {
                    GeneralName::UniformResourceIdentifier(Ia5String::new(v).unwrap())
                }
            })
            .collect();
        let profile = SelfSigned {
            subject: Name::from_str(&format!("CN=proptest party {n}")).unwrap(),
            sans: names,
        };
        let builder = CertificateBuilder::new(
            profile,
            SerialNumber::from(n + 1),
            Validity::from_now(Duration::from_secs(3600)).unwrap(),
            SubjectPublicKeyInfoOwned::from_key(&vk).unwrap(),
        )
        .unwrap();
        let cert = builder.build::<_, DerSignature>(&key).unwrap();
        Party {
            key,
            verifier: STANDARD.encode(cert.to_pem(LineEnding::LF).unwrap()),
            spki_der,
            certificate_der: Some(cert.to_der().unwrap()),
            sans: sans.clone(),
        }
    }

    fn signer(&self) -> EntrySigner {
        EntrySigner::new(self.certificate_der.clone(), self.spki_der.clone())
    }

    fn index_keys(&self) -> Vec<String> {
        let mut keys = vec![format!(
            "key:{}",
            hex::encode(Sha256::digest(&self.spki_der))
        )];
        keys.extend(self.sans.iter().map(|s| match s {
            SanSpec::Email(v) => format!("email:{}", v.to_ascii_lowercase()),
            SanSpec::Uri(v) => format!("uri:{v}"),
        }));
        keys
    }
}

// ---------------------------------------------------------------------------------------------
// Entries: a model of what is sent, rendered to JSON.

#[derive(Clone, Debug)]
struct Sig {
    /// DER ECDSA signature.
    bytes: Vec<u8>,
    /// The party (index into `Entry::pool`) listed as this signature's key (hashedrekord
    /// `publicKey`, intoto `publicKey`). For dsse, the party that made it.
    key: usize,
    keyid: Option<String>,
}

#[derive(Debug)]
struct Entry {
    kind: EntryKind,
    /// The signers, then the stranger (last).
    pool: Vec<Party>,
    alg: HashAlgorithm,
    /// hashedrekord: the digest of the payload under `alg`.
    digest: Vec<u8>,
    payload_type: String,
    payload: Vec<u8>,
    sigs: Vec<Sig>,
    /// dsse: `proposedContent.verifiers`, as indexes into `pool`.
    verifiers: Vec<usize>,
    encoding: Encoding,
    server_nulls: bool,
    envelope_hash: [u8; 32],
}

fn digest(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
        HashAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
        other => panic!("no test digest for {other:?}"),
    }
}

impl Entry {
    fn build(spec: &Spec) -> Entry {
        let mut pool: Vec<Party> = spec
            .signers
            .iter()
            .zip(0u32..)
            .map(|(p, n)| Party::new(&spec.seed, n, p))
            .collect();
        let stranger = u32::try_from(pool.len()).unwrap();
        pool.push(Party::new(&spec.seed, stranger, &spec.stranger));
        let signers = spec.signers.len();
        let digest = digest(spec.alg, &spec.payload);
        let pae = dsse_pae(&spec.payload_type, &spec.payload);
        let sigs = (0..signers)
            .map(|i| {
                let key = &pool[i].key;
                let sig: DerSignature = if spec.kind == EntryKind::HashedRekord {
                    key.sign_prehash(&digest).unwrap()
                } else {
                    key.sign(&pae)
                };
                Sig {
                    bytes: sig.as_bytes().to_vec(),
                    key: i,
                    keyid: spec.keyids[i % spec.keyids.len()].clone(),
                }
            })
            .collect();
        let mut verifiers: Vec<usize> = (0..signers).collect();
        verifiers.rotate_left(spec.rotation % signers);
        Entry {
            kind: spec.kind,
            pool,
            alg: spec.alg,
            digest,
            payload_type: spec.payload_type.clone(),
            payload: spec.payload.clone(),
            sigs,
            verifiers,
            encoding: spec.encoding,
            server_nulls: spec.server_nulls,
            envelope_hash: spec.envelope_hash,
        }
    }

    fn stranger(&self) -> usize {
        self.pool.len() - 1
    }

    /// Encodes a signature or payload the way this entry's kind and encoding send it.
    fn enc(&self, bytes: &[u8]) -> String {
        match (self.kind, self.encoding) {
            (EntryKind::Dsse, Encoding::Alternate) => URL_SAFE_NO_PAD.encode(bytes),
            (EntryKind::Intoto, Encoding::Standard) => STANDARD.encode(STANDARD.encode(bytes)),
            _ => STANDARD.encode(bytes),
        }
    }

    /// The proposed entry as JSON; for dsse, the envelope separately (it is sent as a string).
    fn render(&self) -> Doc {
        match self.kind {
            EntryKind::HashedRekord => {
                let mut signature = json!({
                    "publicKey": {"content": self.pool[self.sigs.first().map_or(0, |s| s.key)].verifier},
                });
                if let Some(s) = self.sigs.first() {
                    signature["content"] = json!(self.enc(&s.bytes));
                }
                Doc {
                    outer: json!({
                        "apiVersion": "0.0.1",
                        "kind": "hashedrekord",
                        "spec": {
                            "signature": signature,
                            "data": {"hash": {
                                "algorithm": self.alg.name(),
                                "value": hex::encode(&self.digest),
                            }},
                        },
                    }),
                    envelope: None,
                }
            }
            EntryKind::Dsse => {
                let sigs: Vec<Value> = self
                    .sigs
                    .iter()
                    .map(|s| {
                        let mut v = json!({"sig": self.enc(&s.bytes)});
                        if let Some(k) = &s.keyid {
                            v["keyid"] = json!(k);
                        }
                        v
                    })
                    .collect();
                let verifiers: Vec<&str> = self
                    .verifiers
                    .iter()
                    .map(|&i| self.pool[i].verifier.as_str())
                    .collect();
                let mut spec = json!({
                    "proposedContent": {"envelope": "", "verifiers": verifiers},
                });
                if self.server_nulls {
                    for k in ["signatures", "envelopeHash", "payloadHash"] {
                        spec[k] = Value::Null;
                    }
                }
                Doc {
                    outer: json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": spec}),
                    envelope: Some(json!({
                        "payload": self.enc(&self.payload),
                        "payloadType": self.payload_type,
                        "signatures": sigs,
                    })),
                }
            }
            EntryKind::Intoto => {
                let sigs: Vec<Value> = self
                    .sigs
                    .iter()
                    .map(|s| {
                        let mut v = json!({
                            "sig": self.enc(&s.bytes),
                            "publicKey": self.pool[s.key].verifier,
                        });
                        if let Some(k) = &s.keyid {
                            v["keyid"] = json!(k);
                        }
                        v
                    })
                    .collect();
                Doc {
                    outer: json!({
                        "apiVersion": "0.0.2",
                        "kind": "intoto",
                        "spec": {"content": {
                            "envelope": {
                                "payload": self.enc(&self.payload),
                                "payloadType": self.payload_type,
                                "signatures": sigs,
                            },
                            "hash": {"algorithm": "sha256", "value": hex::encode(self.envelope_hash)},
                        }},
                    }),
                    envelope: None,
                }
            }
            other => panic!("no generator for {other}"),
        }
    }

    /// The signers `verify` must report, in order.
    fn expected_signers(&self) -> Vec<&Party> {
        match self.kind {
            EntryKind::Dsse => self.verifiers.iter().map(|&i| &self.pool[i]).collect(),
            _ => self.sigs.iter().map(|s| &self.pool[s.key]).collect(),
        }
    }

    /// Checks everything `verify` reported for this (valid) entry. `envelope` is the dsse
    /// envelope text exactly as sent.
    fn check(&self, envelope: Option<&str>, v: &VerifiedEntry) {
        let signers = self.expected_signers();
        assert_eq!(v.kind, self.kind);
        assert_eq!(
            v.signers,
            signers.iter().map(|p| p.signer()).collect::<Vec<_>>()
        );

        // The first signer: for dsse, the verifier of the first signature in canonical order.
        let first = match self.kind {
            EntryKind::Dsse => {
                let s = self.sigs.iter().min_by_key(|s| self.enc(&s.bytes)).unwrap();
                &self.pool[s.key]
            }
            _ => signers[0],
        };
        assert_eq!(v.certificate_der, first.certificate_der);
        assert_eq!(v.public_key_der, first.spki_der);
        assert_eq!(
            v.san.as_deref(),
            first.sans.first().map(|s| match s {
                SanSpec::Email(v) | SanSpec::Uri(v) => v.as_str(),
            })
        );

        let payload_hash = hex::encode(Sha256::digest(&self.payload));
        let (alg, artifact) = match self.kind {
            EntryKind::HashedRekord => (self.alg, hex::encode(&self.digest)),
            _ => (HashAlgorithm::Sha256, payload_hash.clone()),
        };
        assert_eq!(v.artifact_digest, Some((alg, artifact.clone())));

        let mut keys = vec![format!("{}:{artifact}", alg.name())];
        for p in &signers {
            keys.extend(p.index_keys());
        }
        keys.sort();
        keys.dedup();
        assert_eq!(v.index_keys, keys);
        assert!(v.index_keys.len() <= MAX_INDEX_KEYS);

        // The canonical body: JSON, in RFC 8785 form, holding exactly what was sent.
        let text = std::str::from_utf8(&v.canonical_body).expect("canonical body is UTF-8");
        let body: Value = serde_json::from_str(text).expect("canonical body is JSON");
        assert_eq!(jcs(&body), text, "canonical body is not in RFC 8785 form");
        let expected = match self.kind {
            EntryKind::HashedRekord => json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": self.alg.name(), "value": artifact}},
                    "signature": {
                        "content": self.enc(&self.sigs[0].bytes),
                        "publicKey": {"content": signers[0].verifier},
                    },
                },
            }),
            EntryKind::Dsse => {
                let mut pairs: Vec<(String, &str)> = self
                    .sigs
                    .iter()
                    .map(|s| (self.enc(&s.bytes), self.pool[s.key].verifier.as_str()))
                    .collect();
                pairs.sort();
                let envelope = envelope.expect("dsse entries have an envelope");
                json!({
                    "apiVersion": "0.0.1",
                    "kind": "dsse",
                    "spec": {
                        "envelopeHash": {
                            "algorithm": "sha256",
                            "value": hex::encode(Sha256::digest(envelope.as_bytes())),
                        },
                        "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                        "signatures": pairs
                            .iter()
                            .map(|(s, v)| json!({"signature": s, "verifier": v}))
                            .collect::<Vec<_>>(),
                    },
                })
            }
            _ => {
                let sigs: Vec<Value> = self
                    .sigs
                    .iter()
                    .map(|s| {
                        let mut v = json!({
                            "publicKey": self.pool[s.key].verifier,
                            "sig": self.enc(&s.bytes),
                        });
                        if let Some(k) = s.keyid.as_ref().filter(|k| !k.is_empty()) {
                            v["keyid"] = json!(k);
                        }
                        v
                    })
                    .collect();
                json!({
                    "apiVersion": "0.0.2",
                    "kind": "intoto",
                    "spec": {"content": {
                        "envelope": {"payloadType": self.payload_type, "signatures": sigs},
                        "hash": {"algorithm": "sha256", "value": hex::encode(self.envelope_hash)},
                        "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                    }},
                })
            }
        };
        assert_eq!(body, expected);

        // A hashedrekord canonical body is itself a proposed entry: it must verify to the same.
        if self.kind == EntryKind::HashedRekord {
            let again = ProposedEntry::parse(&v.canonical_body)
                .and_then(|p| p.verify())
                .expect("the canonical body re-parses and verifies");
            assert_eq!(&again, v);
        }
    }
}

/// RFC 8785 serialization: keys sorted by UTF-16 code units, no whitespace (strings and numbers
/// as serde_json writes them, which for the strings here is JCS's escaping).
fn jcs(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), jcs(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(jcs).collect::<Vec<_>>().join(",")),
        other => serde_json::to_string(other).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// Documents, locations and emission (with duplicate keys or reversed key order on request).

struct Doc {
    outer: Value,
    /// dsse: the envelope, sent as a string at `spec.proposedContent.envelope`.
    envelope: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Idx(usize),
}

/// A node of a document: in the dsse envelope, or in the outer body.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Loc {
    envelope: bool,
    path: Vec<Seg>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `keyid`: not signed, optional.
    KeyId,
    /// dsse `spec.signatures` / `envelopeHash` / `payloadHash`, sent as null.
    ServerNull,
    /// dsse `spec.proposedContent.envelope`: a JSON document as text.
    EnvelopeText,
    /// A base64 field (signature, payload, verifier).
    Base64,
    /// Any other required field.
    Required,
}

impl Loc {
    fn role(&self, kind: EntryKind) -> Role {
        let keys: Vec<&str> = self
            .path
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Idx(_) => None,
            })
            .collect();
        match (self.envelope, kind, keys.as_slice()) {
            (_, _, [.., "keyid"]) => Role::KeyId,
            (false, EntryKind::Dsse, ["spec", "signatures" | "envelopeHash" | "payloadHash"]) => {
                Role::ServerNull
            }
            (false, EntryKind::Dsse, ["spec", "proposedContent", "envelope"]) => Role::EnvelopeText,
            (_, _, [.., "content" | "sig" | "payload" | "publicKey"])
                if matches!(self.path.last(), Some(Seg::Key(_))) =>
            {
                Role::Base64
            }
            (_, _, [.., "verifiers"]) if matches!(self.path.last(), Some(Seg::Idx(_))) => {
                Role::Base64
            }
            _ => Role::Required,
        }
    }
}

fn locs(v: &Value, envelope: bool, path: &mut Vec<Seg>, out: &mut Vec<Loc>) {
    let children: Vec<(Seg, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (Seg::Key(k.clone()), c)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (Seg::Idx(i), c))
            .collect(),
        _ => Vec::new(),
    };
    for (seg, child) in children {
        path.push(seg);
        out.push(Loc {
            envelope,
            path: path.clone(),
        });
        locs(child, envelope, path, out);
        path.pop();
    }
}

fn node_mut<'a>(mut v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    for seg in path {
        v = match seg {
            Seg::Key(k) => v.get_mut(k.as_str()).unwrap(),
            Seg::Idx(i) => v.get_mut(*i).unwrap(),
        };
    }
    v
}

#[derive(Clone, Copy, Debug)]
enum DupMode {
    /// The same member twice.
    Same,
    /// A junk value first, then the real one.
    JunkFirst,
    /// The real one first, then a junk value.
    JunkLast,
}

/// Writes `v` as JSON; with `reverse`, object members in reverse order; the member at `dup`
/// (a path ending in a key) is written twice.
fn emit(v: &Value, path: &mut Vec<Seg>, reverse: bool, dup: Option<(&[Seg], DupMode)>) -> String {
    match v {
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            if reverse {
                members.reverse();
            }
            let mut out = Vec::new();
            for (k, child) in members {
                path.push(Seg::Key(k.clone()));
                let name = serde_json::to_string(k).unwrap();
                let value = emit(child, path, reverse, dup);
                let junk = || format!("{name}:\"hallmark-junk\"");
                match dup {
                    Some((at, mode)) if at == path.as_slice() => match mode {
                        DupMode::Same => out.extend(vec![format!("{name}:{value}"); 2]),
                        DupMode::JunkFirst => out.extend([junk(), format!("{name}:{value}")]),
                        DupMode::JunkLast => out.extend([format!("{name}:{value}"), junk()]),
                    },
                    _ => out.push(format!("{name}:{value}")),
                }
                path.pop();
            }
            format!("{{{}}}", out.join(","))
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, child) in a.iter().enumerate() {
                path.push(Seg::Idx(i));
                out.push(emit(child, path, reverse, dup));
                path.pop();
            }
            format!("[{}]", out.join(","))
        }
        other => serde_json::to_string(other).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// An edit of one node of the document.
#[derive(Clone, Debug)]
enum Edit {
    /// Cut characters off the end of a string.
    Truncate { by: usize },
    /// Replace the node with a value of another JSON type.
    WrongType { to: u8 },
    /// Insert a multi-byte character into a string.
    InsertUtf8 { at: Index, ch: char },
    /// Write the member twice.
    Duplicate(DupMode),
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip a bit of a signature's bytes.
    FlipSignature { sig: Index, byte: Index, bit: u8 },
    /// Flip a bit of the signed data: hashedrekord's digest, the DSSE payload.
    FlipSignedData { byte: Index, bit: u8 },
    /// Change the DSSE payloadType (hashedrekord: the hash algorithm).
    ChangePayloadType { to: String },
    /// List another key with a signature (a stranger, or another signer of the entry).
    SwapVerifier { which: Index, other_signer: bool },
    /// Remove a signature (dsse: and, with `with_verifier`, its verifier).
    DropSignature { which: Index, with_verifier: bool },
    /// Rotate the signatures and verifiers and write every object's members in reverse order.
    Reorder { by: usize },
    /// A structural edit of one node: `node` picks among the nodes the edit applies to.
    Structural { node: Index, edit: Edit },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let edit = prop_oneof![
        (1usize..=8).prop_map(|by| Edit::Truncate { by }),
        any::<u8>().prop_map(|to| Edit::WrongType { to }),
        (
            any::<Index>(),
            prop_oneof![
                Just('é'),
                Just('€'),
                Just('😀'),
                prop::char::range('\u{80}', char::MAX)
            ]
        )
            .prop_map(|(at, ch)| Edit::InsertUtf8 { at, ch }),
        prop_oneof![
            Just(DupMode::Same),
            Just(DupMode::JunkFirst),
            Just(DupMode::JunkLast)
        ]
        .prop_map(Edit::Duplicate),
    ];
    prop_oneof![
        1 => (any::<Index>(), any::<Index>(), 0u8..8)
            .prop_map(|(sig, byte, bit)| Mutation::FlipSignature { sig, byte, bit }),
        1 => (any::<Index>(), 0u8..8).prop_map(|(byte, bit)| Mutation::FlipSignedData { byte, bit }),
        1 => ".{0,12}".prop_map(|to| Mutation::ChangePayloadType { to }),
        1 => (any::<Index>(), any::<bool>())
            .prop_map(|(which, other_signer)| Mutation::SwapVerifier { which, other_signer }),
        1 => (any::<Index>(), any::<bool>())
            .prop_map(|(which, with_verifier)| Mutation::DropSignature {
                which,
                with_verifier
            }),
        1 => (1usize..3).prop_map(|by| Mutation::Reorder { by }),
        6 => (any::<Index>(), edit).prop_map(|(node, edit)| Mutation::Structural { node, edit }),
    ]
}

/// What a mutated entry must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Verify, with every output matching the mutated model.
    Verifies,
    /// Verify, with the same signers, digest and index keys as the original.
    Same,
    /// Be refused (any error), or verify as `Same`.
    RefusedOrSame,
    /// Be refused, with any error.
    Refused,
    /// Be refused by a signature check.
    BadSignature,
    /// Be refused for a missing field.
    MissingField,
    /// Be refused for a hex field of the wrong length.
    Hex,
}

/// Everything a verified entry says except its canonical body.
fn meaning(v: &VerifiedEntry) -> impl PartialEq + fmt::Debug + '_ {
    (
        v.kind,
        &v.signers,
        &v.certificate_der,
        &v.public_key_der,
        &v.artifact_digest,
        &v.san,
        &v.index_keys,
    )
}

fn json_kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn of_kind(k: u8) -> Value {
    match k % 6 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(7),
        3 => json!("hallmark"),
        4 => json!([]),
        _ => json!({}),
    }
}

/// Applies a semantic mutation to the model; returns what the result must do.
fn mutate(e: &mut Entry, m: &Mutation) -> Expect {
    let n = e.sigs.len();
    match m {
        Mutation::FlipSignature { sig, byte, bit } => {
            let s = &mut e.sigs[sig.index(n)].bytes;
            let i = byte.index(s.len());
            s[i] ^= 1 << bit;
            Expect::BadSignature
        }
        Mutation::FlipSignedData { byte, bit } => {
            let data = if e.kind == EntryKind::HashedRekord {
                &mut e.digest
            } else {
                &mut e.payload
            };
            if data.is_empty() {
                data.push(1 << bit);
            } else {
                let i = byte.index(data.len());
                data[i] ^= 1 << bit;
            }
            Expect::BadSignature
        }
        Mutation::ChangePayloadType { to } => {
            if e.kind == EntryKind::HashedRekord {
                // The digest no longer has the algorithm's length.
                e.alg = match e.alg {
                    HashAlgorithm::Sha256 => HashAlgorithm::Sha384,
                    HashAlgorithm::Sha384 => HashAlgorithm::Sha512,
                    _ => HashAlgorithm::Sha256,
                };
                return Expect::Hex;
            }
            e.payload_type = if *to == e.payload_type {
                format!("{to}x")
            } else {
                to.clone()
            };
            Expect::BadSignature
        }
        Mutation::SwapVerifier {
            which,
            other_signer,
        } => {
            let i = which.index(n);
            let stranger = e.stranger();
            let other = |k: usize| if *other_signer && n > 1 { k } else { stranger };
            if e.kind == EntryKind::Dsse {
                e.verifiers[i] = other(e.verifiers[(i + 1) % n]);
            } else {
                e.sigs[i].key = other(e.sigs[(i + 1) % n].key);
            }
            Expect::BadSignature
        }
        Mutation::DropSignature {
            which,
            with_verifier,
        } => {
            let i = which.index(n);
            let dropped = e.sigs.remove(i);
            if e.kind == EntryKind::Dsse && *with_verifier {
                e.verifiers.retain(|&v| v != dropped.key);
            }
            match e.kind {
                _ if n == 1 => Expect::MissingField,
                EntryKind::Dsse if !with_verifier => Expect::BadSignature,
                _ => Expect::Verifies,
            }
        }
        Mutation::Reorder { by } => {
            e.sigs.rotate_left(by % n);
            e.verifiers.rotate_left(by % n);
            Expect::Verifies
        }
        Mutation::Structural { .. } => Expect::Same,
    }
}

/// The body to send: the rendered document with at most one structural edit, and the dsse
/// envelope text. Returns `None` when the edit applies to no node.
fn body(e: &Entry, reverse: bool, edit: Option<(&Index, &Edit)>) -> Option<Sent> {
    let Doc {
        mut outer,
        mut envelope,
    } = e.render();
    let env_path = [
        Seg::Key("spec".into()),
        Seg::Key("proposedContent".into()),
        Seg::Key("envelope".into()),
    ];
    // Freeze the envelope text first (the outer document's locations include its string).
    let freeze = |outer: &mut Value, envelope: &Option<Value>, dup: Option<(&[Seg], DupMode)>| {
        envelope.as_ref().map(|env| {
            let text = emit(env, &mut Vec::new(), reverse, dup);
            *node_mut(outer, &env_path) = Value::String(text.clone());
            text
        })
    };
    let Some((node, edit)) = edit else {
        let envelope_text = freeze(&mut outer, &envelope, None);
        let body = emit(&outer, &mut Vec::new(), reverse, None);
        return Some(Sent {
            body: body.into_bytes(),
            envelope_text,
            expect: Expect::Verifies,
            loc: None,
        });
    };
    freeze(&mut outer, &envelope, None);
    let mut all = Vec::new();
    locs(&outer, false, &mut Vec::new(), &mut all);
    if let Some(env) = &envelope {
        locs(env, true, &mut Vec::new(), &mut all);
    }
    let doc_of = |outer: &Value, envelope: &Option<Value>, loc: &Loc| -> Value {
        let root = if loc.envelope {
            envelope.as_ref().unwrap()
        } else {
            outer
        };
        let mut v = root.clone();
        node_mut(&mut v, &loc.path).clone()
    };
    let candidates: Vec<Loc> = all
        .into_iter()
        .filter(|loc| match edit {
            Edit::Truncate { .. } | Edit::InsertUtf8 { .. } => {
                doc_of(&outer, &envelope, loc).is_string()
            }
            Edit::WrongType { .. } => true,
            Edit::Duplicate(_) => matches!(loc.path.last(), Some(Seg::Key(_))),
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let loc = candidates[node.index(candidates.len())].clone();
    let role = loc.role(e.kind);
    let target = if loc.envelope {
        envelope.as_mut().unwrap()
    } else {
        &mut outer
    };
    let mut dup = None;
    let expect = match edit {
        Edit::Truncate { by } => {
            let v = node_mut(target, &loc.path);
            let s = v.as_str().unwrap();
            let len = s.chars().count();
            *v = Value::String(s.chars().take(len.saturating_sub(*by)).collect());
            match role {
                _ if len == 0 => Expect::Same,
                Role::KeyId => Expect::Same,
                // Lenient base64 may decode the shorter text to the same bytes.
                Role::Base64 => Expect::RefusedOrSame,
                _ => Expect::Refused,
            }
        }
        Edit::WrongType { to } => {
            let v = node_mut(target, &loc.path);
            let mut k = *to % 6;
            if k == json_kind(v) {
                k = (k + 1) % 6;
            }
            *v = of_kind(k);
            if role == Role::KeyId && v.is_null() {
                Expect::Same
            } else {
                Expect::Refused
            }
        }
        Edit::InsertUtf8 { at, ch } => {
            let v = node_mut(target, &loc.path);
            let mut s = v.as_str().unwrap().to_owned();
            let offsets: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
            s.insert(offsets[at.index(offsets.len())], *ch);
            *v = Value::String(s);
            match role {
                Role::KeyId => Expect::Same,
                Role::EnvelopeText => Expect::RefusedOrSame,
                _ => Expect::Refused,
            }
        }
        Edit::Duplicate(mode) => {
            dup = Some((loc.path.as_slice(), *mode));
            match mode {
                DupMode::Same => Expect::Same,
                DupMode::JunkFirst | DupMode::JunkLast => Expect::RefusedOrSame,
            }
        }
    };
    // Re-freeze: an edit inside the envelope changes its text; an edit of the outer envelope
    // string must survive.
    let envelope_text = if loc.envelope {
        freeze(&mut outer, &envelope, dup)
    } else {
        None
    };
    let body = emit(
        &outer,
        &mut Vec::new(),
        reverse,
        if loc.envelope { None } else { dup },
    );
    Some(Sent {
        body: body.into_bytes(),
        envelope_text,
        expect,
        loc: Some((loc, role)),
    })
}

struct Sent {
    body: Vec<u8>,
    envelope_text: Option<String>,
    expect: Expect,
    loc: Option<(Loc, Role)>,
}

fn outcome(body: &[u8]) -> Result<VerifiedEntry, EntryError> {
    ProposedEntry::parse(body)?.verify()
}

fn run(spec: &Spec, m: &Mutation) {
    let mut entry = Entry::build(spec);

    // 1. The generated entry parses and verifies, and every output matches what was put in.
    let sent = body(&entry, false, None).unwrap();
    if entry.kind == EntryKind::HashedRekord && entry.alg != HashAlgorithm::Sha256 {
        // A P-256 signature binds only the first 32 bytes of a longer digest: refused.
        let err = outcome(&sent.body).unwrap_err();
        assert!(matches!(err, EntryError::UnsupportedKey { .. }), "{err}");
        return;
    }
    let original = outcome(&sent.body).unwrap_or_else(|err| {
        panic!(
            "a valid {} entry was refused: {err}\n{}",
            entry.kind,
            String::from_utf8_lossy(&sent.body)
        )
    });
    entry.check(sent.envelope_text.as_deref(), &original);

    // 2. One mutation, and the outcome it must have.
    let expect = mutate(&mut entry, m);
    let sent = match m {
        Mutation::Structural { node, edit } => match body(&entry, false, Some((node, edit))) {
            Some(sent) => sent,
            None => return,
        },
        Mutation::Reorder { .. } => body(&entry, true, None).unwrap(),
        _ => body(&entry, false, None).unwrap(),
    };
    let expect = if matches!(m, Mutation::Structural { .. }) {
        sent.expect
    } else {
        expect
    };
    let got = outcome(&sent.body);
    let ctx = || {
        format!(
            "mutation {m:?} at {:?}: expected {expect:?}, got {got:?}\nbody: {}",
            sent.loc,
            String::from_utf8_lossy(&sent.body)
        )
    };
    match (&got, expect) {
        (Ok(v), Expect::Verifies) => entry.check(sent.envelope_text.as_deref(), v),
        (Ok(v), Expect::Same | Expect::RefusedOrSame) => {
            assert_eq!(meaning(v), meaning(&original), "{}", ctx());
        }
        (Err(_), Expect::Refused | Expect::RefusedOrSame) => {}
        (Err(EntryError::BadSignature { .. }), Expect::BadSignature)
        | (Err(EntryError::MissingField { .. }), Expect::MissingField)
        | (Err(EntryError::Hex { .. }), Expect::Hex) => {}
        _ => panic!("{}", ctx()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn hashedrekord_entries_verify_and_mutations_are_refused(
        spec in spec(EntryKind::HashedRekord),
        m in mutation(),
    ) {
        run(&spec, &m);
    }

    #[test]
    fn dsse_entries_verify_and_mutations_are_refused(
        spec in spec(EntryKind::Dsse),
        m in mutation(),
    ) {
        run(&spec, &m);
    }

    #[test]
    fn intoto_entries_verify_and_mutations_are_refused(
        spec in spec(EntryKind::Intoto),
        m in mutation(),
    ) {
        run(&spec, &m);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(p) = ProposedEntry::parse(&body) {
            let _ = p.verify();
        }
    }
}
