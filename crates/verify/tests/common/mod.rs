//! A miniature Sigstore deployment for tests: a root CA, a CT log, a Rekor v1 log, and a signer
//! that produces bundles and the trusted root that verifies them. Certificates and entries are
//! built by hand (DER and JSON written here, independently of the crate under test), so the
//! tests can break each piece on purpose.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::ObjectIdentifier;
use hallmark_sigstore::trust::{
    CertificateAuthority, TimeRange, TransparencyLogInstance, TrustedRoot,
};
use hallmark_tlog::note::{Checkpoint, NoteKeyId};
use hallmark_tlog::tree::{MemoryHashes, inclusion_proof};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spki::EncodePublicKey;

/// The time everything happens at (2023-11-14T22:13:20Z).
pub const T0: i64 = 1_700_000_000;
/// "Now" for verification: an hour later.
pub const NOW: i64 = T0 + 3600;
pub const SAN: &str = "https://ci.example/org/repo/.ci/release.yml@refs/heads/main";
pub const ISSUER: &str = "https://issuer.example";
pub const REPO: &str = "https://git.example/org/repo";
pub const LOG_URL: &str = "https://rekor.test";
pub const ARTIFACT: &[u8] = b"the artifact\n";

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

pub fn spki(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

pub fn sign(key: &SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: DerSignature = key.sign(msg);
    sig.as_bytes().to_vec()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A DER element: tag, length, then the concatenated parts.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut out = vec![tag];
    match body.len() {
        n @ 0..=127 => out.push(n as u8),
        n @ 128..=255 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend(body);
    out
}

pub fn oid(s: &str) -> Vec<u8> {
    tlv(0x06, &[ObjectIdentifier::new(s).unwrap().as_bytes()])
}

fn utc_time(unix: i64) -> Vec<u8> {
    // 2023-11-14T22:13:20Z -> 231114221320Z
    let s: String = hallmark_sigstore::rfc3339(unix)
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .skip(2)
        .collect();
    tlv(0x17, &[format!("{s}Z").as_bytes()])
}

fn name(cn: Option<&str>) -> Vec<u8> {
    match cn {
        None => tlv(0x30, &[]),
        Some(cn) => tlv(
            0x30,
            &[&tlv(
                0x31,
                &[&tlv(0x30, &[&oid("2.5.4.3"), &tlv(0x0c, &[cn.as_bytes()])])],
            )],
        ),
    }
}

pub fn ext(oid_str: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical {
        tlv(0x01, &[&[0xff]])
    } else {
        Vec::new()
    };
    tlv(0x30, &[&oid(oid_str), &crit, &tlv(0x04, &[value])])
}

fn ecdsa_sha256() -> Vec<u8> {
    tlv(0x30, &[&oid("1.2.840.10045.4.3.2")])
}

/// What goes into a certificate.
pub struct CertSpec<'a> {
    pub serial: u8,
    pub issuer: &'a str,
    pub subject: Option<&'a str>,
    pub spki: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub extensions: Vec<Vec<u8>>,
}

pub fn tbs(spec: &CertSpec<'_>) -> Vec<u8> {
    let exts: Vec<u8> = spec.extensions.concat();
    tlv(
        0x30,
        &[
            &tlv(0xa0, &[&tlv(0x02, &[&[2]])]),
            &tlv(0x02, &[&[spec.serial]]),
            &ecdsa_sha256(),
            &name(Some(spec.issuer)),
            &tlv(
                0x30,
                &[&utc_time(spec.not_before), &utc_time(spec.not_after)],
            ),
            &name(spec.subject),
            &spec.spki,
            &tlv(0xa3, &[&tlv(0x30, &[&exts])]),
        ],
    )
}

pub fn sign_tbs(tbs: &[u8], issuer_key: &SigningKey) -> Vec<u8> {
    let sig = sign(issuer_key, tbs);
    tlv(0x30, &[tbs, &ecdsa_sha256(), &tlv(0x03, &[&[0], &sig])])
}

pub fn pem_cert(der: &[u8]) -> String {
    let body = b64(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

pub fn pem_key(spki: &[u8]) -> String {
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(spki)
    )
}

/// Knobs for [`Deployment::bundle`].
#[derive(Clone)]
pub struct Options {
    pub sct: bool,
    pub integrated_time: i64,
    pub leaf_not_before: i64,
    pub leaf_not_after: i64,
    /// Sign a DSSE in-toto statement instead of the artifact.
    pub dsse: bool,
    /// Sign with a managed key (bundle carries a public key hint, no certificate).
    pub managed_key: bool,
    /// Put the SAN in an email SAN instead of a URI.
    pub san: String,
    /// With `dsse`: this in-toto statement as the payload instead of one about the artifact;
    /// without: sign these bytes instead of the artifact.
    pub payload: Option<Vec<u8>>,
    /// With `dsse`: this payload type instead of in-toto's.
    pub payload_type: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sct: true,
            integrated_time: T0,
            leaf_not_before: T0 - 60,
            leaf_not_after: T0 + 540,
            dsse: false,
            managed_key: false,
            san: SAN.to_owned(),
            payload: None,
            payload_type: None,
        }
    }
}

/// Keys and certificates of one deployment.
pub struct Deployment {
    pub root_key: SigningKey,
    pub root_der: Vec<u8>,
    pub ct_key: SigningKey,
    pub rekor_key: SigningKey,
    pub leaf_key: SigningKey,
}

impl Deployment {
    /// A deployment whose keys derive from `seed`.
    pub fn new(seed: u8) -> Self {
        let root_key = key(seed);
        let root_spki = spki(&root_key);
        let bc = ext("2.5.29.19", true, &tlv(0x30, &[&tlv(0x01, &[&[0xff]])]));
        let ku = ext("2.5.29.15", true, &tlv(0x03, &[&[1, 0x06]]));
        let root_tbs = tbs(&CertSpec {
            serial: 1,
            issuer: "test root",
            subject: Some("test root"),
            spki: root_spki,
            not_before: T0 - 86_400 * 365,
            not_after: T0 + 86_400 * 3650,
            extensions: vec![bc, ku],
        });
        Deployment {
            root_der: sign_tbs(&root_tbs, &root_key),
            root_key,
            ct_key: key(seed.wrapping_add(1)),
            rekor_key: key(seed.wrapping_add(2)),
            leaf_key: key(seed.wrapping_add(3)),
        }
    }

    pub fn log_id(&self) -> [u8; 32] {
        sha256(&spki(&self.rekor_key))
    }

    /// The trusted root for this deployment (tlog valid from `tlog_start`).
    pub fn trusted_root_with(&self, tlog_valid: TimeRange) -> Value {
        let chain = [self.root_der.clone()];
        let ca = CertificateAuthority::new(
            "Test",
            "test root",
            "https://ca.test",
            &chain,
            TimeRange::from(T0 - 86_400 * 365).unwrap(),
        );
        let rekor_spki = spki(&self.rekor_key);
        let ct_spki = spki(&self.ct_key);
        let tlog = TransparencyLogInstance::new(LOG_URL, &rekor_spki, tlog_valid).unwrap();
        let ctlog = TransparencyLogInstance::new(
            "https://ct.test",
            &ct_spki,
            TimeRange::from(T0 - 86_400 * 365).unwrap(),
        )
        .unwrap();
        serde_json::to_value(TrustedRoot::new(vec![ca], vec![tlog], vec![ctlog])).unwrap()
    }

    pub fn trusted_root(&self) -> Value {
        self.trusted_root_with(TimeRange::from(T0 - 86_400 * 365).unwrap())
    }

    /// The leaf certificate, with or without an embedded SCT.
    pub fn leaf(&self, o: &Options) -> Vec<u8> {
        let mut exts = vec![
            ext("2.5.29.15", true, &tlv(0x03, &[&[7, 0x80]])),
            ext("2.5.29.37", false, &tlv(0x30, &[&oid("1.3.6.1.5.5.7.3.3")])),
            ext(
                "2.5.29.17",
                true,
                &tlv(0x30, &[&tlv(0x86, &[o.san.as_bytes()])]),
            ),
            ext("1.3.6.1.4.1.57264.1.1", false, ISSUER.as_bytes()),
            ext(
                "1.3.6.1.4.1.57264.1.8",
                false,
                &tlv(0x0c, &[ISSUER.as_bytes()]),
            ),
            ext(
                "1.3.6.1.4.1.57264.1.12",
                false,
                &tlv(0x0c, &[REPO.as_bytes()]),
            ),
        ];
        let mut spec = CertSpec {
            serial: 9,
            issuer: "test root",
            subject: None,
            spki: spki(&self.leaf_key),
            not_before: o.leaf_not_before,
            not_after: o.leaf_not_after,
            extensions: exts.clone(),
        };
        if o.sct {
            // The SCT signs the TBS without the SCT extension; adding it last means removing it
            // gives those bytes back.
            let precert = tbs(&spec);
            let sct = self.sct(&precert, (o.leaf_not_before as u64) * 1000);
            let list = tlv(0x04, &[&u16_vec(&u16_vec(&sct))]);
            exts.push(ext("1.3.6.1.4.1.11129.2.4.2", false, &list));
            spec.extensions = exts;
        }
        sign_tbs(&tbs(&spec), &self.root_key)
    }

    fn sct(&self, precert_tbs: &[u8], timestamp_ms: u64) -> Vec<u8> {
        let issuer_key_hash = sha256(&spki(&self.root_key));
        let mut signed = vec![0u8, 0];
        signed.extend(timestamp_ms.to_be_bytes());
        signed.extend([0, 1]);
        signed.extend(issuer_key_hash);
        signed.extend(&(precert_tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend(precert_tbs);
        signed.extend([0, 0]);
        let sig = sign(&self.ct_key, &signed);
        let mut sct = vec![0u8];
        sct.extend(sha256(&spki(&self.ct_key)));
        sct.extend(timestamp_ms.to_be_bytes());
        sct.extend([0, 0]); // no extensions
        sct.extend([4, 3]); // sha256, ecdsa
        sct.extend(u16_vec(&sig));
        sct
    }

    /// A v0.3 bundle for the artifact (or a DSSE statement naming it).
    pub fn bundle(&self, o: &Options) -> Value {
        let leaf = self.leaf(o);
        let verifier_pem = if o.managed_key {
            pem_key(&spki(&self.leaf_key))
        } else {
            pem_cert(&leaf)
        };
        let message = o.payload.as_deref().unwrap_or(ARTIFACT);
        let digest = sha256(message);
        let (content_key, content, body) = if o.dsse {
            let statement = json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "artifact", "digest": {"sha256": hex::encode(digest)}}],
                "predicateType": "https://example/predicate",
                "predicate": {},
            });
            let payload = o
                .payload
                .clone()
                .unwrap_or_else(|| serde_json::to_vec(&statement).unwrap());
            let payload_type = o
                .payload_type
                .as_deref()
                .unwrap_or("application/vnd.in-toto+json");
            let pae = hallmark_sigstore::dsse_pae(payload_type, &payload);
            let sig = sign(&self.leaf_key, &pae);
            let envelope = json!({
                "payload": b64(&payload),
                "payloadType": payload_type,
                "signatures": [{"sig": b64(&sig), "keyid": ""}],
            });
            let body = format!(
                r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}},"signatures":[{{"signature":"{}","verifier":"{}"}}]}}}}"#,
                hex::encode(sha256(envelope.to_string().as_bytes())),
                hex::encode(sha256(&payload)),
                b64(&sig),
                b64(verifier_pem.as_bytes()),
            );
            ("dsseEnvelope", envelope, body)
        } else {
            let sig = sign(&self.leaf_key, message);
            let body = format!(
                r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
                hex::encode(digest),
                b64(&sig),
                b64(verifier_pem.as_bytes()),
            );
            let content = json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&digest)},
                "signature": b64(&sig),
            });
            ("messageSignature", content, body)
        };
        let kind = if o.dsse { "dsse" } else { "hashedrekord" };
        let entry = self.log_entry(body.as_bytes(), kind, o.integrated_time);
        let material = if o.managed_key {
            json!({"publicKey": {"hint": "managed"}, "tlogEntries": [entry]})
        } else {
            json!({"certificate": {"rawBytes": b64(&leaf)}, "tlogEntries": [entry]})
        };
        let mut bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
        });
        bundle[content_key] = content;
        bundle
    }

    /// A Rekor v1 entry at index 3 of a 5-leaf log, with SET, proof and checkpoint.
    fn log_entry(&self, body: &[u8], kind: &str, integrated_time: i64) -> Value {
        const INDEX: u64 = 3;
        let mut tree = MemoryHashes::new();
        for i in 0..5u64 {
            if i == INDEX {
                tree.append(hallmark_tlog::leaf_hash(body));
            } else {
                tree.append(hallmark_tlog::leaf_hash(format!("other {i}").as_bytes()));
            }
        }
        let root = tree.root();
        let proof = inclusion_proof(INDEX, 5, &tree).unwrap();
        let note_key = NoteKeyId::ecdsa("rekor.test", self.rekor_key.verifying_key()).unwrap();
        let checkpoint = Checkpoint::new("rekor.test - 42", 5, root)
            .sign(&note_key, &self.rekor_key)
            .unwrap();
        let log_id = self.log_id();
        let set = sign(
            &self.rekor_key,
            &hallmark_sigstore::set_payload(
                &b64(body),
                integrated_time,
                &hex::encode(log_id),
                INDEX,
            ),
        );
        json!({
            "logIndex": INDEX.to_string(),
            "logId": {"keyId": b64(&log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
            "inclusionProof": {
                "logIndex": INDEX.to_string(),
                "rootHash": b64(&root.0),
                "treeSize": "5",
                "hashes": proof.iter().map(|h| b64(&h.0)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(body),
        })
    }
}

fn u16_vec(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend(bytes);
    out
}
