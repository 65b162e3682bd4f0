//! `hallmark audit` against real stacks (`hallmark serve`, keys in SoftHSM): honest growth
//! verifies across syncs and restarts of server and auditor; a changed entry, a truncated log, a
//! forked history, a head signed by another key and a split view shown to two auditors are each
//! detected, with a message naming the sizes that disagree, and a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer as _};
use redb::{ReadableTable, TableDefinition};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("tree_hashes");
const HISTORY: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// A signer with a certificate from the stack's CA, adding entries to all three logs.
struct Signer {
    key: SigningKey,
    leaf_pem: String,
    leaf_der: Vec<u8>,
    /// Artifacts logged so far (for digest searches).
    artifacts: Vec<Vec<u8>>,
    /// UUIDs of the v1 entries.
    uuids: Vec<String>,
}

impl Signer {
    /// A new key and certificate: one more entry in the CT log.
    fn new(stack: &Stack, name: &str) -> Self {
        let (key_file, chain) = request_certificate(stack, stack.dir(), name, "audit@example.com");
        let pem = std::fs::read_to_string(key_file).unwrap();
        let key = SigningKey::from(p256::SecretKey::from_sec1_pem(&pem).unwrap());
        let b64: String = chain[0]
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        Signer {
            key,
            leaf_der: STANDARD.decode(b64).unwrap(),
            leaf_pem: chain[0].clone(),
            artifacts: Vec::new(),
            uuids: Vec::new(),
        }
    }

    /// `n` entries in each of the Rekor v1 and v2 logs, for artifacts named after `tag`.
    fn add(&mut self, stack: &Stack, n: usize, tag: &str) {
        for i in 0..n {
            let artifact = format!("{tag} {i}\n").into_bytes();
            let sig: DerSignature = self.key.sign(&artifact);
            let digest = Sha256::digest(&artifact);
            let v1 = json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "signature": {"content": STANDARD.encode(sig.as_bytes()),
                                  "publicKey": {"content": STANDARD.encode(&self.leaf_pem)}},
                    "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}}
                }
            });
            let (status, resp) = stack
                .post("/api/v1/log/entries", v1.to_string().as_bytes(), None)
                .unwrap();
            assert_eq!(status, 201, "{resp}");
            self.uuids
                .push(resp.as_object().unwrap().keys().next().unwrap().clone());
            let v2 = json!({"hashedRekordRequestV002": {
                "digest": STANDARD.encode(digest),
                "signature": {"content": STANDARD.encode(sig.as_bytes()), "verifier": {
                    "x509Certificate": {"rawBytes": STANDARD.encode(&self.leaf_der)},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                }},
            }});
            let (status, resp) = stack
                .post("/api/v2/log/entries", v2.to_string().as_bytes(), None)
                .unwrap();
            assert_eq!(status, 201, "{resp}");
            self.artifacts.push(artifact);
        }
    }
}

/// One auditor: its state directory and the trust config it reads.
struct Auditor {
    state: PathBuf,
    tc: PathBuf,
}

impl Auditor {
    fn new(dir: &Path, name: &str) -> Self {
        Auditor {
            state: dir.join(format!("{name}-state")),
            tc: dir.join(format!("{name}-trust.json")),
        }
    }

    /// Points the auditor at `stack` (its trust config: keys and URL).
    fn trust(&self, stack: &Stack) {
        write_trust_config(stack, &self.tc, None);
    }

    /// Runs `hallmark audit <args>`: (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(bin())
            .arg("audit")
            .args(args)
            .arg("--trust-config")
            .arg(&self.tc)
            .arg("--state")
            .arg(&self.state)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "audit {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(
            !ok,
            "audit {args:?} succeeded but should not have:\n{stdout}\n{stderr}"
        );
        stderr
    }
}

fn data(stack: &Stack, file: &str) -> PathBuf {
    stack.dir().join("data").join(file)
}

/// Flips a byte of entry `index`'s data (past the 8-byte time in the record) at `offset`.
fn change_entry(path: &Path, index: u64, offset: usize) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(ENTRIES).unwrap();
        let mut record = t.get(index).unwrap().unwrap().value().to_vec();
        record[8 + offset] ^= 0x01;
        t.insert(index, record.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

/// Truncates a log file to the largest size below its current one that has a checkpoint in its
/// history; returns (old size, new size).
fn truncate(path: &Path) -> (u64, u64) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    let sizes;
    {
        let mut meta = txn.open_table(META).unwrap();
        let size = u64::from_be_bytes(
            meta.get("tree_size")
                .unwrap()
                .unwrap()
                .value()
                .try_into()
                .unwrap(),
        );
        let history = txn.open_table(HISTORY).unwrap();
        let (keep, note) = history
            .range(1..size)
            .unwrap()
            .next_back()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value(), v.value().to_owned())
            })
            .expect("the log kept a checkpoint below its size (entries added more than 1 s apart)");
        meta.insert("tree_size", keep.to_be_bytes().as_slice())
            .unwrap();
        meta.insert("checkpoint", note.as_bytes()).unwrap();
        let mut entries = txn.open_table(ENTRIES).unwrap();
        for i in keep..size {
            entries.remove(i).unwrap();
        }
        let mut hashes = txn.open_table(HASHES).unwrap();
        let stored = |n: u64| 2 * n - u64::from(n.count_ones());
        for p in stored(keep)..stored(size) {
            hashes.remove(p).unwrap();
        }
        sizes = (size, keep);
    }
    txn.commit().unwrap();
    drop(db);
    // The search index is rebuilt from the log.
    let _ = std::fs::remove_file(format!("{}.index", path.display()));
    sizes
}

fn latest_sizes(a: &Auditor) -> Vec<(String, u64)> {
    a.ok(&["checkpoints"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn honest_growth_verifies_across_syncs_and_restarts() {
    let mut stack = Stack::start(&bin()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    a.trust(&stack);
    let mut s = Signer::new(&stack, "one");
    s.add(&stack, 3, "first");
    let out = a.ok(&["sync"]);
    assert_eq!(out.matches("trusted on first use").count(), 3, "{out}");
    assert_eq!(
        latest_sizes(&a),
        [("v1".into(), 3), ("v2".into(), 3), ("ct".into(), 1)]
    );

    let mut s = Signer::new(&stack, "two");
    s.add(&stack, 4, "second");
    let out = a.ok(&["sync"]);
    assert!(out.contains("grew from 3 to 7"), "{out}");
    assert!(out.contains("grew from 1 to 2"), "{out}");

    // The server restarts (new port: new trust config), the auditor is a new process each time.
    stack.restart().unwrap();
    a.trust(&stack);
    s.add(&stack, 2, "third");
    let out = a.ok(&["sync", "--full"]);
    assert_eq!(
        out.matches("full sync: 9 entries recomputed").count(),
        2,
        "{out}"
    );
    assert!(out.contains("full sync: 2 entries recomputed"), "{out}");
    let out = a.ok(&["sync"]);
    assert_eq!(out.matches("unchanged").count(), 3, "{out}");

    // Inclusion, against checkpoints this auditor verified.
    let out = a.ok(&["inclusion", "--uuid", &s.uuids[1]]);
    assert!(
        out.contains("entry 4 is included in the verified checkpoint of size 9"),
        "{out}"
    );
    let out = a.ok(&["inclusion", "--log", "v2", "--index", "8"]);
    assert!(
        out.contains("entry 8 is included in the verified checkpoint of size 9"),
        "{out}"
    );
    let out = a.ok(&["inclusion", "--log", "ct", "--index", "0"]);
    assert!(
        out.contains("entry 0 is included in the verified checkpoint of size 2"),
        "{out}"
    );
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&s.artifacts[0])));
    let out = a.ok(&["inclusion", "--digest", &digest]);
    assert!(out.contains("entry 3 is included"), "{out}");
    // An entry beyond the log: the auditor syncs, then says how large the verified tree is.
    let err = a.fails(&["inclusion", "--log", "v2", "--index", "50"]);
    assert!(err.contains("size 9"), "{err}");

    // Bundles `hallmark sign` wrote, with an entry in either log.
    let tok = tmp.path().join("token");
    std::fs::write(&tok, email_token(&stack, "audit@example.com")).unwrap();
    for (name, extra) in [
        ("v1.txt", &["--rekor-version", "1"][..]),
        ("default.txt", &[][..]),
    ] {
        let file = tmp.path().join(name);
        std::fs::write(&file, name).unwrap();
        run(client(&stack, &a.tc)
            .arg("sign")
            .arg("--identity-token-file")
            .arg(&tok)
            .args(extra)
            .arg(&file));
        let bundle = format!("{}.sigstore.json", file.display());
        let out = a.ok(&["inclusion", "--bundle", &bundle]);
        assert!(
            out.contains("is included in the verified checkpoint of size"),
            "{name}: {out}"
        );
    }
}

#[test]
fn a_changed_entry_is_caught_by_full_sync_and_inclusion() {
    let mut stack = Stack::start(&bin()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    a.trust(&stack);
    let mut s = Signer::new(&stack, "one");
    s.add(&stack, 5, "x");
    let _ = Signer::new(&stack, "two");
    a.ok(&["sync"]);

    stack.stop();
    change_entry(&data(&stack, "log-v2.redb"), 2, 20);
    change_entry(&data(&stack, "log.redb"), 3, 20);
    // The CT leaf's timestamp: the MerkleTreeLeaf still parses, its hash changes.
    change_entry(&data(&stack, "ct-log.redb"), 1, 9);
    stack.restart().unwrap();
    a.trust(&stack);

    // The signed heads did not change: an incremental sync cannot see it ...
    a.ok(&["sync"]);
    // ... re-reading every entry does.
    let err = a.fails(&["sync", "--full"]);
    for log in ["Rekor v1 log", "Rekor v2 log", "CT log"] {
        assert!(
            err.lines().any(|l| l.contains(log)
                && l.contains("the entries 0..")
                && l.contains("recompute to root")),
            "{log}: {err}"
        );
    }
    assert!(err.contains("the entries 0..5 the log serves"), "{err}");
    assert!(err.contains("the entries 0..2 the log serves"), "{err}");
    let err = a.fails(&["inclusion", "--log", "v2", "--index", "2"]);
    assert!(
        err.contains("entry 2")
            && err.contains("not included in the verified checkpoint of size 5"),
        "{err}"
    );
    let err = a.fails(&["inclusion", "--log", "ct", "--index", "1"]);
    assert!(err.contains("entry 1") && err.contains("size 2"), "{err}");
    // Untouched entries still prove.
    a.ok(&["inclusion", "--log", "v2", "--index", "3"]);
}

#[test]
fn a_truncated_log_is_caught() {
    let mut stack = Stack::start(&bin()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    a.trust(&stack);
    let mut s = Signer::new(&stack, "one");
    s.add(&stack, 3, "x");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let mut s = Signer::new(&stack, "two");
    s.add(&stack, 3, "y");
    a.ok(&["sync"]);

    stack.stop();
    let (v2_from, v2_to) = truncate(&data(&stack, "log-v2.redb"));
    let (ct_from, ct_to) = truncate(&data(&stack, "ct-log.redb"));
    stack.restart().unwrap();
    a.trust(&stack);
    let err = a.fails(&["sync", "--log", "v2"]);
    assert!(
        err.contains(&format!("shrank from {v2_from} to {v2_to}")),
        "{err}"
    );
    let err = a.fails(&["sync", "--log", "ct"]);
    assert!(
        err.contains(&format!("shrank from {ct_from} to {ct_to}")),
        "{err}"
    );
}

#[test]
fn a_forked_history_is_caught() {
    let mut stack = Stack::start(&bin()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    a.trust(&stack);
    let mut s = Signer::new(&stack, "one");
    s.add(&stack, 3, "common");
    a.ok(&["sync"]);

    // A copy of the data at v1/v2 size 3, CT size 1.
    stack.stop();
    let backup = tmp.path().join("backup");
    hallmark_tests::copy_dir(&stack.dir().join("data"), &backup).unwrap();
    stack.restart().unwrap();
    a.trust(&stack);
    let mut s = Signer::new(&stack, "two");
    s.add(&stack, 2, "honest");
    a.ok(&["sync"]);

    // The old copy restored and extended with other entries: the same sizes, other roots.
    stack.stop();
    std::fs::remove_dir_all(stack.dir().join("data")).unwrap();
    hallmark_tests::copy_dir(&backup, &stack.dir().join("data")).unwrap();
    stack.restart().unwrap();
    a.trust(&stack);
    let mut s = Signer::new(&stack, "three");
    s.add(&stack, 2, "forked");
    let err = a.fails(&["sync"]);
    assert_eq!(err.matches("fork at size 5").count(), 2, "{err}");
    assert!(
        err.contains("CT log") && err.contains("fork at size 2"),
        "{err}"
    );

    // Grown past the trusted size, the fork cannot be proven consistent.
    s.add(&stack, 1, "more");
    let err = a.fails(&["sync", "--log", "v1"]);
    assert!(
        err.contains("checkpoint of size 6")
            && err.contains("not consistent with the checkpoint of size 5"),
        "{err}"
    );
    let err = a.fails(&["sync", "--log", "v2"]);
    assert!(
        err.contains("checkpoint of size 6")
            && err.contains("not consistent with the checkpoint of size 5"),
        "{err}"
    );
}

#[test]
fn a_head_signed_by_another_key_is_refused() {
    let stack = Stack::start(&bin()).unwrap();
    let other = Stack::start(&bin()).unwrap();
    let mut s = Signer::new(&other, "one");
    s.add(&other, 2, "x");
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    // The trust root of `stack`, but its URL answered by `other`.
    a.trust(&stack);
    let text = std::fs::read_to_string(&a.tc).unwrap();
    std::fs::write(&a.tc, text.replace(&stack.url, &other.url)).unwrap();
    let err = a.fails(&["sync"]);
    for (log, size) in [("Rekor v1 log", 2), ("Rekor v2 log", 2), ("CT log", 1)] {
        assert!(
            err.lines().any(|l| l.contains(log)
                && l.contains(&format!(
                    "the checkpoint of size {size} is not signed by the log's key"
                ))),
            "{log}: {err}"
        );
    }
    // Nothing was trusted.
    assert_eq!(a.ok(&["checkpoints"]), "");
}

#[test]
fn a_split_view_is_caught_by_gossip() {
    let mut stack = Stack::start(&bin()).unwrap();
    let mut s = Signer::new(&stack, "one");
    s.add(&stack, 2, "common");
    // A second server with the same keys and data: the log shows each auditor its own tree.
    let twin = stack.duplicate().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    let b = Auditor::new(tmp.path(), "b");
    a.trust(&stack);
    b.trust(&twin);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    let a_view = tmp.path().join("a-checkpoints.jsonl");
    std::fs::write(&a_view, a.ok(&["checkpoints"])).unwrap();
    // So far they agree.
    let out = b.ok(&["sync", "--gossip", a_view.to_str().unwrap()]);
    assert_eq!(
        out.matches("agrees with this auditor's view").count(),
        3,
        "{out}"
    );

    let mut s = Signer::new(&stack, "two");
    s.add(&stack, 2, "shown to a");
    let mut t = Signer::new(&twin, "two");
    t.add(&twin, 2, "shown to b");
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    std::fs::write(&a_view, a.ok(&["checkpoints"])).unwrap();
    let err = b.fails(&["sync", "--gossip", a_view.to_str().unwrap()]);
    assert!(
        err.contains("fork at size 4") && err.contains("gossiped by"),
        "{err}"
    );
    // The twin serves its checkpoint over HTTP too: gossip from a URL, the other way round.
    let err = a.fails(&[
        "sync",
        "--log",
        "v2",
        "--gossip",
        &format!("{}/checkpoint", twin.url),
    ]);
    assert!(err.contains("fork at size 4"), "{err}");
    // An older head of the other view is not a prefix of this one (for an auditor that never
    // saw size 4 itself: the log's own consistency proof refutes it).
    t.add(&twin, 1, "more for b");
    let c = Auditor::new(tmp.path(), "c");
    c.trust(&twin);
    c.ok(&["sync", "--log", "v2"]);
    std::fs::write(&a_view, a.ok(&["checkpoints", "--log", "v2"])).unwrap();
    let err = c.fails(&["sync", "--log", "v2", "--gossip", a_view.to_str().unwrap()]);
    assert!(
        err.contains("checkpoint of size 5")
            && err.contains("not consistent with the checkpoint of size 4"),
        "{err}"
    );
}

/// `audit watch` against a stack whose logs hold thousands of certificates and signatures of
/// other identities: it reports the watched identity's certificate (CT log) and signatures (v1
/// and v2 logs), every one and nothing else; a run with nothing expected exits non-zero; the
/// next run resumes and reports only what is new; a config file's expectation makes them
/// expected.
#[test]
fn watch_finds_every_certificate_of_an_identity_and_nothing_else() {
    let stack = Stack::start(&bin()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let a = Auditor::new(tmp.path(), "a");
    a.trust(&stack);
    // Others: certificates for bench-N@hallmark.local (one CT entry each), and signatures in
    // both signature logs by one of them.
    // With the HSM ceiling measured on the stack's token beside each (bench ca: two signatures
    // per certificate on two threads; Rekor v1: a SET per entry on one session), as a ratio.
    let ceiling = [
        "--hsm-key",
        "pkcs11:token=hallmark;object=bench-key",
        "--hsm-seconds",
        "0.5",
    ];
    // bench ca checks every answer after the run, its SCT with the trust config's CT log key.
    let ca = run(stack
        .command()
        .args(["bench", "ca", "--url", &stack.url])
        .args(["--clients", "4", "--seconds", "6", "--trust-config"])
        .arg(&a.tc)
        .args(ceiling));
    // The number after `marker` on the line starting with `line`.
    let count = |line: &str, marker: &str| -> u64 {
        ca.lines()
            .filter_map(|l| l.strip_prefix(line))
            .find_map(|rest| rest.split_once(marker).map(|(_, r)| r.trim_start()))
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {line}: {ca}"))
    };
    let issued = count("certificates/s", "checks out: ");
    assert!(issued > 100, "{ca}");
    assert_eq!(count("checked", ""), issued, "{ca}");
    assert!(
        ca.contains("the embedded SCT with the trust config's CT log key"),
        "{ca}"
    );
    assert_eq!(
        ca.lines().filter(|l| l.starts_with("HSM ceiling")).count(),
        2,
        "before and after: {ca}"
    );
    // With another key in the trust config's CT log, no certificate checks out.
    let mut tc: Value = serde_json::from_slice(&std::fs::read(&a.tc).unwrap()).unwrap();
    let root = if tc["trustedRoot"].is_object() {
        &mut tc["trustedRoot"]
    } else {
        &mut tc
    };
    root["ctlogs"][0]["publicKey"]["rawBytes"] = root["tlogs"][0]["publicKey"]["rawBytes"].clone();
    let bad_tc = tmp.path().join("wrong-ct-key.json");
    std::fs::write(&bad_tc, serde_json::to_vec(&tc).unwrap()).unwrap();
    let out = stack
        .command()
        .args(["bench", "ca", "--url", &stack.url])
        .args(["--clients", "2", "--seconds", "1", "--trust-config"])
        .arg(&bad_tc)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("checks out: 0,"), "{stdout}");
    assert!(
        stdout.contains("no embedded SCT verifies with a CT log key of the trust config"),
        "{stdout}"
    );
    for out in [
        ca,
        run(stack
            .command()
            .args(["bench", "log-api", "--api", "1", "--url", &stack.url])
            .args(["--entries", "1500", "--clients", "16"])
            .args(ceiling)),
    ] {
        assert_eq!(
            out.lines().filter(|l| l.starts_with("HSM ceiling")).count(),
            2,
            "measured before and after the run: {out}"
        );
        assert!(out.lines().any(|l| l.starts_with("checked")), "{out}");
        let ratio: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("ratio"))
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no ratio: {out}"));
        assert!(ratio > 0.0 && ratio < 1.5, "{out}");
    }
    run(Command::new(bin())
        .args(["bench", "log-api", "--api", "2", "--url", &stack.url])
        .args(["--entries", "1500", "--clients", "16", "--trust-config"])
        .arg(&a.tc));
    // The watched identity: one certificate, three signatures in each signature log.
    let mut watched = Signer::new(&stack, "watched");
    watched.add(&stack, 3, "watched");
    let issuer = stack.issuer();
    let identity = [
        "--identity",
        "audit@example.com",
        "--issuer",
        issuer.as_str(),
    ];

    let (ok, stdout, stderr) = a.run(&[&["watch"][..], &identity[..]].concat());
    assert!(
        !ok,
        "nothing was expected, so the findings must fail the run:\n{stderr}"
    );
    assert!(stderr.contains("7 finding(s), 7 unexpected"), "{stderr}");
    let findings: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |log: &str| findings.iter().filter(|f| f["log"] == log).count();
    assert_eq!(
        (count("ct"), count("rekor-v1"), count("rekor-v2")),
        (1, 3, 3),
        "{stdout}"
    );
    for f in &findings {
        assert_eq!(f["identity"], json!(["audit@example.com"]), "{f}");
        assert_eq!(f["issuer"], json!(issuer), "{f}");
        assert_eq!(f["expected"], json!(false), "{f}");
    }
    let digests: Vec<String> = watched
        .artifacts
        .iter()
        .map(|a| format!("sha256:{}", hex::encode(Sha256::digest(a))))
        .collect();
    for log in ["rekor-v1", "rekor-v2"] {
        let mut seen: Vec<String> = findings
            .iter()
            .filter(|f| f["log"] == log)
            .map(|f| f["digest"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut want = digests.clone();
        want.sort();
        assert_eq!(seen, want, "{log}");
    }
    // The logs really held thousands of others' entries, read and passed over.
    let sizes = latest_sizes(&a);
    let ct = sizes.iter().find(|(l, _)| l == "ct").unwrap().1;
    assert!(ct > 1000, "only {ct} certificates in the CT log: {sizes:?}");
    assert!(sizes.iter().all(|(_, n)| *n > 1000), "{sizes:?}");

    // Resumed: nothing new, nothing reported.
    let out = a.ok(&[&["watch"][..], &identity[..]].concat());
    assert!(out.is_empty(), "{out}");
    // One more signature: only it is reported.
    watched.add(&stack, 1, "later");
    let (ok, stdout, _) = a.run(&[&["watch"][..], &identity[..]].concat());
    assert!(!ok);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");

    // Another cursor with a config that expects this identity's signatures: all expected.
    let config = tmp.path().join("watch.yaml");
    std::fs::write(
        &config,
        format!(
            "watch:\n  - name: release\n    identity_regex: \"audit@example\\\\.(com|org)\"\n    issuer: {issuer}\n    expected:\n      - {{}}\n"
        ),
    )
    .unwrap();
    let out = a.ok(&[
        "watch",
        "--cursor",
        "second",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.lines().count(), 9, "{out}");
    assert!(
        out.lines().all(|l| l.contains("\"expected\":true")),
        "{out}"
    );
}
