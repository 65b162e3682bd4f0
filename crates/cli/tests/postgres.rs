//! Several `hallmark serve` replicas on one PostgreSQL database (a private cluster started by
//! the test): one sequences, the others stand by, serving reads, verifying writes and handing
//! the verified entries to it; the writers and the certificate requests go to every replica; the sequencer is SIGKILLed again
//! and again, and
//! the database restarted once, under load from concurrent clients. Afterwards every acknowledged
//! entry is in the log exactly once at its index, the root matches a recomputation from the
//! stored entries, every checkpoint handed out is consistent with the final tree, and
//! certificate issuance came back after each failover.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::bin;
use hallmark_log::store::LogStore;
use hallmark_log::testing::PgCluster;
use hallmark_log::{PgStore, StoredEntry};
use hallmark_tests::{Replica, Stack, XorShift};
use hallmark_tlog::tree::Frontier;
use hallmark_tlog::{Hash, leaf_hash};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::pkcs8::EncodePublicKey;
use sha2::Digest;

const REPLICAS: usize = 3;
const KILLS: usize = 10;
const WRITERS: usize = 4;

/// An acknowledged entry: where the log said it is, and the tree it said contains it.
struct Ack {
    index: u64,
    body: Vec<u8>,
    tree_size: u64,
    root: Hash,
}

/// `/readyz`'s answer, when it is 200.
fn ready(url: &str) -> Option<String> {
    let mut r = ureq::get(format!("{url}/readyz"))
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .call()
        .ok()?;
    (r.status().as_u16() == 200)
        .then(|| r.body_mut().read_to_string().ok())
        .flatten()
}

/// Every replica's `/readyz` answer (`None`: not ready).
fn readiness(replicas: &RwLock<Vec<Replica>>) -> Vec<Option<String>> {
    let urls: Vec<String> = replicas
        .read()
        .unwrap()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    urls.iter().map(|u| ready(u)).collect()
}

/// The index of the replica that says it is the sequencer, waiting up to 30 s; the others must
/// be ready standbys by then too.
fn leader(replicas: &RwLock<Vec<Replica>>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answers = readiness(replicas);
        let leaders: Vec<usize> = (0..answers.len())
            .filter(|&i| {
                answers[i]
                    .as_deref()
                    .is_some_and(|a| a.contains("(sequencer)"))
            })
            .collect();
        // Two can say so for up to one lease check (500 ms) after the database restarted: the
        // old holder has not noticed its dead lease connection yet (it cannot commit: its epoch
        // is stale). It must settle to one.
        if let [i] = leaders[..] {
            return i;
        }
        assert!(
            Instant::now() < deadline,
            "not exactly one sequencer within 30 s: {answers:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until every replica is ready (the sequencer, or a standby that knows it).
fn all_ready(replicas: &RwLock<Vec<Replica>>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answers = readiness(replicas);
        if answers.iter().all(Option::is_some) {
            return;
        }
        assert!(Instant::now() < deadline, "replicas not ready: {answers:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// POSTs JSON, with a bearer token if given; any status is an answer.
fn post(
    url: &str,
    body: &[u8],
    bearer: Option<&str>,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let mut req = ureq::post(url)
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .header("content-type", "application/json");
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.send(body)
}

/// POSTs `body` to the sequencer's internal append route as a standby would, with `mac` (hex) if
/// given; the status.
fn post_handed(url: &str, body: &[u8], mac: Option<&str>) -> u16 {
    let mut req = ureq::post(format!("{url}/internal/v1/append/rekor"))
        .config()
        .http_status_as_error(false)
        .build()
        .header("content-type", "application/json");
    if let Some(m) = mac {
        req = req.header("x-hallmark-replica-mac", m);
    }
    req.send(body).unwrap().status().as_u16()
}

/// A counter's value in a replica's `/metrics` (0 when it has not been counted yet).
fn counter(url: &str, series: &str) -> u64 {
    let text = ureq::get(format!("{url}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

const HANDED_OVER: &str = "hallmark_replica_entries_total{role=\"handed_over\"}";

fn hash_of(hex_str: &str) -> Hash {
    let v = hex::decode(hex_str).unwrap();
    Hash(v.try_into().unwrap())
}

#[test]
fn replicas_on_postgres_fail_over_and_lose_nothing_acknowledged() {
    let pg = PgCluster::start().expect("a private PostgreSQL cluster (see scripts/test.sh)");
    let url = pg.fresh_database("failover").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let url_file = scratch.path().join("pg-url");
    std::fs::write(&url_file, &url).unwrap();
    // The replicas' secret from outside the database, the same file for every replica.
    let replica_key = scratch.path().join("replica-key");
    std::fs::write(&replica_key, "0123456789abcdef0123456789abcdef\n").unwrap();

    // Tokens come from an external IdP (another Hallmark's development issuer) that every
    // replica trusts, so a certificate request can go to whichever replica leads.
    let idp = Stack::start(&bin()).unwrap();
    let issuers = scratch.path().join("issuers.json");
    std::fs::write(
        &issuers,
        serde_json::to_vec(&serde_json::json!({"OIDCIssuers": {idp.issuer(): {
            "IssuerURL": idp.issuer(), "ClientID": "sigstore", "Type": "email"}}}))
        .unwrap(),
    )
    .unwrap();
    let mut first = Stack::start_with(
        &bin(),
        &format!(
            "dev_oidc_unsafe_allow_anywhere: true\noidc:\n  issuers_file: {}\n\
             log:\n  accept_any_signer: true\nstorage:\n  backend: postgres\n  postgres:\n    \
             url_file: {}\n    pool_size: 4\n    replica_key_file: {}\n",
            issuers.display(),
            url_file.display(),
            replica_key.display()
        ),
    )
    .unwrap();
    // The stack's own server starts first, so it leads at first; three more replicas join, and
    // it leaves (a first failover before the load starts).
    leader_of_stack(&first);
    let replicas = Arc::new(RwLock::new(
        (0..REPLICAS)
            .map(|_| first.spawn_replica().unwrap())
            .collect::<Vec<_>>(),
    ));
    // Only the spawned replicas from here on.
    first.stop();
    leader(&replicas);
    all_ready(&replicas);

    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let failures = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (replicas, stop, acks, failures) = (
                replicas.clone(),
                stop.clone(),
                acks.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let key = p256::ecdsa::SigningKey::from_slice(&[w as u8 + 1; 32]).unwrap();
                let pem = key
                    .verifying_key()
                    .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let digest = sha2::Sha256::digest(format!("writer {w} entry {n}"));
                    let sig: p256::ecdsa::Signature = key.sign_prehash(&digest).unwrap();
                    let body = hallmark_sigstore::body::Body::hashedrekord(
                        sig.to_der().as_bytes(),
                        pem.as_bytes(),
                        hallmark_sigstore::HashAlgorithm::Sha256,
                        &digest,
                    )
                    .to_json()
                    .unwrap();
                    let target = {
                        let r = replicas.read().unwrap();
                        r[(n as usize + w) % r.len()].url.clone()
                    };
                    let ok = match post(&format!("{target}/api/v1/log/entries"), &body, None) {
                        Ok(mut r) if r.status().as_u16() == 201 => {
                            let v: serde_json::Value = r.body_mut().read_json().unwrap();
                            let (_, e) = v.as_object().unwrap().iter().next().unwrap();
                            let proof = &e["verification"]["inclusionProof"];
                            acks.lock().unwrap().push(Ack {
                                index: e["logIndex"].as_u64().unwrap(),
                                body: base64::engine::general_purpose::STANDARD
                                    .decode(e["body"].as_str().unwrap())
                                    .unwrap(),
                                tree_size: proof["treeSize"].as_u64().unwrap(),
                                root: hash_of(proof["rootHash"].as_str().unwrap()),
                            });
                            true
                        }
                        _ => false,
                    };
                    if !ok {
                        failures.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();

    // Certificates, one request at a time to whichever replica is next; the longest time
    // between two issued certificates is the failover gap.
    let certs = {
        let (replicas, stop) = (replicas.clone(), stop.clone());
        let token_url = idp.url.clone();
        let dir = scratch.path().to_path_buf();
        std::thread::spawn(move || {
            let (_, csr) = common::openssl_key_and_csr(&dir, "failover");
            let csr = base64::engine::general_purpose::STANDARD
                .encode(std::fs::read_to_string(&csr).unwrap());
            let body =
                serde_json::to_vec(&serde_json::json!({"certificateSigningRequest": csr})).unwrap();
            let (mut issued, mut last, mut gap, mut n) = (0u64, Instant::now(), Duration::ZERO, 0);
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let claims = serde_json::json!({"sub": "ci@example.com", "email": "ci@example.com", "email_verified": true});
                let token: serde_json::Value = ureq::post(format!("{token_url}/dev-oidc/token"))
                    .send_json(&claims)
                    .unwrap()
                    .body_mut()
                    .read_json()
                    .unwrap();
                let target = {
                    let r = replicas.read().unwrap();
                    r[n % r.len()].url.clone()
                };
                let ok = post(
                    &format!("{target}/api/v2/signingCert"),
                    &body,
                    token["access_token"].as_str(),
                )
                .is_ok_and(|r| r.status().as_u16() == 200);
                if ok {
                    issued += 1;
                    gap = gap.max(last.elapsed());
                    last = Instant::now();
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            (issued, gap.max(last.elapsed()))
        })
    };

    // Kill the sequencer at random moments; restart the database once.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut failovers = Vec::new();
    for round in 0..KILLS {
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        let i = leader(&replicas);
        let killed_at = Instant::now();
        {
            let mut r = replicas.write().unwrap();
            r[i].kill();
            r[i] = first.spawn_replica().unwrap();
        }
        leader(&replicas);
        failovers.push(killed_at.elapsed());
        if round == KILLS / 2 {
            pg.restart().unwrap();
            leader(&replicas);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let (issued, cert_gap) = certs.join().unwrap();
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    let worst = failovers.iter().max().copied().unwrap_or_default();
    println!(
        "{} entries acknowledged, {} attempts failed; {KILLS} sequencer kills, failover at most \
         {worst:?} (each: {failovers:?}); {issued} certificates, longest gap {cert_gap:?}",
        acks.len(),
        failures.load(Ordering::SeqCst)
    );
    // Every replica takes writes (standbys forward them): only those caught by a failover fail.
    let failed = failures.load(Ordering::SeqCst);
    assert!(acks.len() > 500, "too little got through: {}", acks.len());
    assert!(failed * 4 < acks.len() as u64, "{failed} writes failed");
    assert!(issued > 10, "certificates: {issued}");
    assert!(worst < Duration::from_secs(20), "a failover took {worst:?}");

    // The final log, read from the database.
    let store = PgStore::open(&url, "rekor", 2).unwrap();
    let size = store.state().unwrap().size;
    let entries: Vec<StoredEntry> = store.entries(0, size).unwrap();
    assert_eq!(entries.len() as u64, size);
    // Every acknowledged entry is at its index; no index was given to two entries.
    let mut by_index: HashMap<u64, &[u8]> = HashMap::new();
    for a in &acks {
        assert!(a.index < size, "entry {} beyond the log ({size})", a.index);
        assert_eq!(
            entries[a.index as usize].data, a.body,
            "entry {} was replaced",
            a.index
        );
        if let Some(prev) = by_index.insert(a.index, &a.body) {
            assert_eq!(prev, &a.body[..], "index {} acknowledged twice", a.index);
        }
    }
    let distinct: std::collections::HashSet<&[u8]> =
        entries.iter().map(|e| e.data.as_slice()).collect();
    assert_eq!(distinct.len() as u64, size, "an entry is stored twice");
    // The root, and every tree handed out with an acknowledgement, from the entries alone.
    let mut wanted: BTreeMap<u64, Vec<Hash>> = BTreeMap::new();
    for a in &acks {
        wanted.entry(a.tree_size).or_default().push(a.root);
    }
    let mut f = Frontier::new();
    for (i, e) in entries.iter().enumerate() {
        f.append(leaf_hash(&e.data));
        if let Some(roots) = wanted.get(&(i as u64 + 1)) {
            for r in roots {
                assert_eq!(
                    *r,
                    f.root(),
                    "the tree of size {} handed out differs",
                    i + 1
                );
            }
        }
    }
    assert!(wanted.keys().all(|&s| s <= size));
    let i = leader(&replicas);
    let url_l = replicas.read().unwrap()[i].url.clone();
    let info: serde_json::Value = ureq::get(format!("{url_l}/api/v1/log"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(info["treeSize"].as_u64(), Some(size));
    assert_eq!(hash_of(info["rootHash"].as_str().unwrap()), f.root());
    // Standbys verified what they took (the CPU-heavy part scales out) and handed the sequencer
    // only the verified entry: a bad entry sent to a standby is refused there, nothing handed.
    let standby = replicas.read().unwrap()[(i + 1) % REPLICAS].url.clone();
    // (That it hands over what it verified is checked below, with sigstore-python: this replica
    // may have joined in the last round and taken few writes.)
    let handed = counter(&standby, HANDED_OVER);
    let forged = hallmark_sigstore::body::Body::hashedrekord(
        &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        p256::ecdsa::SigningKey::from_slice(&[9; 32])
            .unwrap()
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
            .as_bytes(),
        hallmark_sigstore::HashAlgorithm::Sha256,
        &[7; 32],
    )
    .to_json()
    .unwrap();
    let r = post(&format!("{standby}/api/v1/log/entries"), &forged, None).unwrap();
    assert_eq!(r.status().as_u16(), 400, "a standby took a forged entry");
    assert_eq!(counter(&standby, HANDED_OVER), handed);
    // Only a replica can hand the sequencer an entry: without the replicas' MAC, or with a wrong
    // one, it is refused and the log does not grow.
    let unverified = serde_json::to_vec(&serde_json::json!({
        "data": base64::engine::general_purpose::STANDARD.encode(b"never verified"),
        "index_keys": ["email:attacker@example.com"],
    }))
    .unwrap();
    assert_eq!(post_handed(&url_l, &unverified, None), 401);
    assert_eq!(
        post_handed(&url_l, &unverified, Some(&"ab".repeat(32))),
        403
    );
    assert_eq!(post_handed(&url_l, &unverified, Some("not hex")), 401);
    // Nor with a MAC under the key stored in the database alone, as someone who read the
    // database (a dump, a backup) would make it: the replicas' secret file is part of the key.
    let stored = store.replica_key(&[0; 32]).unwrap();
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &stored,
    ));
    for part in [
        &b"hallmark entry for the sequencer\nrekor\n"[..],
        &unverified,
    ] {
        ctx.update(part);
    }
    let db_only = hex::encode(ctx.sign().as_ref());
    assert_eq!(post_handed(&url_l, &unverified, Some(&db_only)), 403);
    assert_eq!(
        store.state().unwrap().size,
        size,
        "a handed entry without MAC was stored"
    );
    // The standbys serve the same log from the database, refreshed within a second.
    std::thread::sleep(Duration::from_millis(1500));
    for r in replicas.read().unwrap().iter() {
        let info: serde_json::Value = ureq::get(format!("{}/api/v1/log", r.url))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        assert_eq!(info["treeSize"].as_u64(), Some(size), "{}", r.url);
        assert_eq!(hash_of(info["rootHash"].as_str().unwrap()), f.root());
    }

    // An unmodified client (sigstore-python) signs through a standby alone (certificate, log
    // entry, timestamp) and verifies the bundle offline: what a standby hands back is what the
    // client checks.
    let tc = scratch.path().join("standby-trust-config.json");
    let mut c = first.command();
    c.args(["trust-root", "--config"])
        .arg(first.config())
        .args(["--url", &standby, "--client-trust-config"])
        .arg(&tc);
    common::run(&mut c);
    let artifact = scratch.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed through a standby\n").unwrap();
    let bundle = scratch.path().join("artifact.sigstore.json");
    let token = common::email_token(&idp, "standby@example.com");
    let handed = counter(&standby, HANDED_OVER);
    common::run(
        common::python_sigstore(&first, &tc)
            .args(["sign", "--identity-token", &token, "--bundle"])
            .arg(&bundle)
            .arg(&artifact),
    );
    let out = common::python_sigstore(&first, &tc)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&bundle)
        .args([
            "--cert-identity",
            "standby@example.com",
            "--cert-oidc-issuer",
            &idp.issuer(),
        ])
        .arg(&artifact)
        .output()
        .unwrap();
    common::assert_ok(
        "sigstore-python verify of a bundle made through a standby",
        &out,
    );
    // Its certificate's precertificate and its log entry: two entries handed over.
    assert!(
        counter(&standby, HANDED_OVER) >= handed + 2,
        "the standby did not hand the client's entries over"
    );
}

/// Waits until the stack's own server is ready (the sequencer).
fn leader_of_stack(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(&stack.url).is_some_and(|a| a.contains("(sequencer)")) {
        assert!(
            Instant::now() < deadline,
            "the first replica never became the sequencer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
