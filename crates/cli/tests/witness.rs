//! Split-view defence (issue 13, part 4), against real stacks:
//!
//! - `hallmark audit witness serve` cosigns the Rekor v2 log of a `hallmark serve` configured with it
//!   (`log_v2.witnesses`): honest growth is cosigned and published at `/checkpoint` and in each
//!   entry's checkpoint; a checkpoint signed by another key is refused (403); the witness's state
//!   survives a restart (409 naming its size); a log restored from an older copy and extended
//!   with other entries (a fork) is refused (422 naming the sizes) and stays unpublished.
//! - Interop: litewitness (filippo.io/torchwood v0.6.1, an independent witness) cosigns
//!   Hallmark's checkpoints, verified by Hallmark's code; and Hallmark's witness cosigns the
//!   checkpoints of a Tessera log (transparency-dev/tessera v1.0.4, `tests/go/tesscheck`), whose
//!   own witness client verifies the cosignature.
//!
//! Go tools are built with the Go toolchain on PATH into `$CARGO_TARGET_DIR/go` (scripts/test.sh
//! builds them first); the tests fail when Go or `ssh-agent` is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hallmark_tlog::cosignature::CosignatureVerifier;
use hallmark_tlog::note::{Checkpoint, Note, NoteVerifier};
use hallmark_tlog::witness::AddCheckpoint;
use serde_json::Value;

const EMAIL: &str = "witnessed@example.com";

/// Where Go tools are built.
fn go_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("go")
}

/// litewitness and witnessctl: from `$HALLMARK_LITEWITNESS_DIR` (scripts/test.sh builds them
/// there), else `go install`ed at the pinned version into the target directory.
fn litewitness() -> (PathBuf, PathBuf) {
    if let Some(dir) = std::env::var_os("HALLMARK_LITEWITNESS_DIR").map(PathBuf::from) {
        let tools = (dir.join("litewitness"), dir.join("witnessctl"));
        assert!(
            tools.0.exists() && tools.1.exists(),
            "HALLMARK_LITEWITNESS_DIR={} lacks litewitness or witnessctl",
            dir.display()
        );
        return tools;
    }
    let bin = go_dir().join("bin");
    let status = Command::new("go")
        .args([
            "install",
            "filippo.io/torchwood/cmd/litewitness@v0.6.1",
            "filippo.io/torchwood/cmd/witnessctl@v0.6.1",
        ])
        .env("GOBIN", &bin)
        .status()
        .expect("running `go install` for litewitness (is Go installed and on PATH?)");
    assert!(status.success(), "go install of litewitness v0.6.1 failed");
    (bin.join("litewitness"), bin.join("witnessctl"))
}

/// Builds `tests/go/tesscheck` (a Tessera log with Tessera's witness client).
fn tesscheck() -> PathBuf {
    go_build("tesscheck")
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `hallmark audit witness serve`.
struct HallmarkWitness {
    proc: Option<Proc>,
    args: Vec<String>,
    url: String,
}

impl HallmarkWitness {
    fn start(args: &[String]) -> Self {
        let mut w = Self {
            proc: None,
            args: args.to_vec(),
            url: String::new(),
        };
        w.restart();
        w
    }

    fn restart(&mut self) {
        self.proc = None;
        let mut child = Command::new(bin())
            .args(["audit", "witness", "serve", "--listen", "127.0.0.1:0"])
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        self.url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hallmark audit witness serve did not report its address");
        self.proc = Some(Proc(child));
    }

    fn add_checkpoint(&self, body: &str) -> (u16, String, String) {
        post_witness(&self.url, body)
    }
}

/// POSTs an add-checkpoint body: (status, content type, body).
fn post_witness(url: &str, body: &str) -> (u16, String, String) {
    let resp = ureq::post(format!("{url}/add-checkpoint"))
        .config()
        .http_status_as_error(false)
        .build()
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.into_body().read_to_string().unwrap();
    (status, ct, text)
}

/// The v2 log's origin and C2SP vkey, from its trusted root entry and its checkpoint.
fn log_vkey(stack: &Stack) -> (String, String) {
    let tc = stack.dir().join("trust.json");
    write_trust_config(stack, &tc, None);
    let trust: Value = serde_json::from_slice(&std::fs::read(&tc).unwrap()).unwrap();
    let v2 = trust["trustedRoot"]["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t.get("checkpointKeyId").is_some())
        .unwrap()
        .clone();
    let spki = STANDARD
        .decode(v2["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    let (_, cp) = stack.get("/checkpoint").unwrap();
    let origin = cp.lines().next().unwrap().to_owned();
    let verifier = if v2["publicKey"]["keyDetails"] == "PKIX_ED25519" {
        let key = ed25519_dalek::VerifyingKey::from_bytes(spki[12..].try_into().unwrap()).unwrap();
        NoteVerifier::ed25519(&origin, key).unwrap()
    } else {
        use p256::pkcs8::DecodePublicKey as _;
        NoteVerifier::ecdsa(
            &origin,
            p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap(),
        )
        .unwrap()
    };
    (origin, verifier.vkey().unwrap())
}

/// Posts entries `range` to the v2 log; their responses.
fn post_entries(stack: &Stack, range: std::ops::Range<u32>, tag: &str) -> Vec<Value> {
    let dir = stack.dir().to_path_buf();
    let (key, chain) = request_certificate(stack, &dir, &format!("signer-{tag}"), EMAIL);
    let leaf = der(&chain[0]);
    range
        .map(|i| {
            let body = v2_request(&key, &leaf, format!("{tag} entry {i}\n").as_bytes(), &dir);
            let (status, resp) = stack
                .post("/api/v2/log/entries", body.to_string().as_bytes(), None)
                .unwrap();
            assert_eq!(status, 201, "{resp}");
            resp
        })
        .collect()
}

fn entry_checkpoint(entry: &Value) -> String {
    entry["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The size of a checkpoint note.
fn size_of(note: &str) -> u64 {
    Checkpoint::parse(&Note::parse(note).unwrap().text)
        .unwrap()
        .size
}

/// The log-signed part of a note (its text and first signature line).
fn log_signed(note: &str) -> String {
    let parsed = Note::parse(note).unwrap();
    format!("{}\n{}", parsed.text, parsed.signatures[0].to_line())
}

fn make_witness_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join("witness.key");
    let vkey = run(Command::new(bin())
        .args(["audit", "witness", "init", "--key"])
        .arg(&key)
        .args(["--name", name]))
    .trim()
    .to_owned();
    (key, vkey)
}

/// Adds `log_v2.witnesses` (all required) to the stack's config and restarts it.
fn configure_witnesses(stack: &mut Stack, witnesses: &[(&str, &str)]) {
    let mut yaml = format!("  witness_quorum: {}\n  witnesses:\n", witnesses.len());
    for (url, vkey) in witnesses {
        yaml.push_str(&format!("    - url: {url}\n      vkey: \"{vkey}\"\n"));
    }
    let mut config = std::fs::read_to_string(stack.config()).unwrap();
    if config.contains("\nlog_v2:\n") {
        config = config.replacen("\nlog_v2:\n", &format!("\nlog_v2:\n{yaml}"), 1);
    } else {
        config.push_str(&format!("log_v2:\n{yaml}"));
    }
    std::fs::write(stack.config(), config).unwrap();
    stack.restart().unwrap();
}

/// Waits until `/checkpoint` is a witnessed checkpoint of at least `size`; returns it.
fn published_at_least(stack: &Stack, size: u64) -> String {
    for _ in 0..100 {
        let (status, note) = stack.get("/checkpoint").unwrap();
        if status == 200 && size_of(&note) >= size {
            return note;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the log did not publish a witnessed checkpoint of size {size}");
}

#[test]
fn hallmark_witness_cosigns_honest_growth_and_refuses_forks_and_forgeries() {
    let mut stack = Stack::start(&bin()).unwrap();
    let (origin, log_key) = log_vkey(&stack);
    let wdir = tempfile::tempdir().unwrap();
    let (key, wvkey) = make_witness_key(wdir.path(), "witness.test/hallmark");
    let verifier = CosignatureVerifier::from_vkey(&wvkey).unwrap();
    let mut witness = HallmarkWitness::start(&[
        "--key".into(),
        key.display().to_string(),
        "--log".into(),
        format!("{origin}={log_key}"),
        "--state".into(),
        wdir.path().join("state").display().to_string(),
    ]);
    configure_witnesses(&mut stack, &[(&witness.url, &wvkey)]);

    // Honest growth: every entry's checkpoint and /checkpoint carry a valid cosignature.
    let entries = post_entries(&stack, 0..3, "a");
    for e in &entries {
        let note = Note::parse(&entry_checkpoint(e)).unwrap();
        verifier
            .verify(&note)
            .expect("the entry's checkpoint is cosigned");
    }
    let published = published_at_least(&stack, 3);
    verifier.verify(&Note::parse(&published).unwrap()).unwrap();
    NoteVerifier::from_vkey(&log_key)
        .unwrap()
        .verify(&published)
        .expect("the log's own signature is still there");
    let hash = hallmark_audit::witness::http::origin_hash(&origin);
    let gossip = ureq::get(format!("{}/{hash}/checkpoint", witness.url))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(size_of(&gossip) >= 3);
    verifier.verify(&Note::parse(&gossip).unwrap()).unwrap();

    // `hallmark sign` (Rekor v2) gets a witnessed checkpoint in its bundle; `hallmark verify
    // --witness` requires it, and refuses a witness that did not cosign.
    let (bundle, artifact, tc) = sign_v2(&stack, "witnessed artifact\n");
    let other = hallmark_tlog::cosignature::cosigner_vkey(
        "witness.test/other",
        &ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key(),
    )
    .unwrap();
    assert_ok(
        "verify --witness",
        &verify_witnessed(&stack, &tc, &artifact, &bundle, &[&wvkey], None),
    );
    let out = verify_witnessed(&stack, &tc, &artifact, &bundle, &[&wvkey, &other], None);
    assert!(!out.status.success(), "verified without the second witness");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of the required witnesses") && stderr.contains("2 needed"),
        "{stderr}"
    );
    assert_ok(
        "verify --witness A --witness B --min-witnesses 1",
        &verify_witnessed(&stack, &tc, &artifact, &bundle, &[&other, &wvkey], Some(1)),
    );

    // The witness's state survives a restart: a replay from 0 is told the size it cosigned.
    let published = published_at_least(&stack, 4);
    witness.restart();
    let replay = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: log_signed(&published),
    };
    let (status, ct, body) = witness.add_checkpoint(&replay.encode());
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (
            409,
            "text/x.tlog.size",
            format!("{}\n", size_of(&published)).as_str()
        )
    );
    // The log's idea of the witness's size is stale after the witness restart only if the
    // witness lost state; it did not, so growth goes on being cosigned (at the new address).
    configure_witnesses_url(&mut stack, &witness.url);
    let more = post_entries(&stack, 3..5, "b");
    verifier
        .verify(&Note::parse(&entry_checkpoint(&more[1])).unwrap())
        .unwrap();
    let cosigned_before_fork = published_at_least(&stack, 6);

    let base = size_of(&cosigned_before_fork);
    // A checkpoint for the same origin signed by another key: 403.
    let other = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
    let forged = Checkpoint::new(
        origin.clone(),
        base + 1,
        hallmark_tlog::leaf_hash(b"forged"),
    )
    .sign(
        &hallmark_tlog::note::NoteSigner::note_key(&other, &origin).unwrap(),
        &other,
    )
    .unwrap();
    let (status, _, body) = witness.add_checkpoint(
        &AddCheckpoint {
            old_size: base,
            proof: vec![],
            checkpoint: forged,
        }
        .encode(),
    );
    assert_eq!(status, 403, "{body}");

    // A fork: the log's data is restored from a copy at size `base` and extended with other
    // entries than the ones it had; with the witness at size `base + 2` of the first history.
    stack.stop();
    let db = stack.dir().join("data/log-v2.redb");
    let backup = stack.dir().join("log-v2.redb.backup");
    std::fs::copy(&db, &backup).unwrap();
    stack.restart().unwrap();
    post_entries(&stack, 10..12, "c");
    published_at_least(&stack, base + 2);
    stack.stop();
    std::fs::copy(&backup, &db).unwrap();
    stack.restart().unwrap();
    let forked = post_entries(&stack, 10..12, "d");
    let forked_cp = entry_checkpoint(&forked[1]);
    assert_eq!(size_of(&forked_cp), base + 2);
    assert!(
        verifier.verify(&Note::parse(&forked_cp).unwrap()).is_err(),
        "the forked checkpoint must not be cosigned"
    );
    // The log does not publish the fork: /checkpoint has no witnessed checkpoint since the
    // restore.
    let (status, _) = stack.get("/checkpoint").unwrap();
    assert_eq!(status, 503);
    // Asked directly, the witness says which sizes disagree.
    let (status, _, body) = witness.add_checkpoint(
        &AddCheckpoint {
            old_size: base + 2,
            proof: vec![],
            checkpoint: forked_cp.clone(),
        }
        .encode(),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains(&format!("size {}", base + 2)) && body.contains("fork"),
        "{body}"
    );
    // And a request from the restored size does not help: 409, it cosigned more.
    let (status, _, body) = witness.add_checkpoint(
        &AddCheckpoint {
            old_size: base,
            proof: vec![],
            checkpoint: forked_cp,
        }
        .encode(),
    );
    assert_eq!((status, body), (409, format!("{}\n", base + 2)));
}

/// `hallmark sign` of a new file through the stack's Rekor v2 log: (bundle, artifact, trust
/// config).
fn sign_v2(stack: &Stack, content: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = stack.dir();
    let tc = dir.join("trust.json");
    write_trust_config(stack, &tc, None);
    let artifact = dir.join("artifact.txt");
    std::fs::write(&artifact, content).unwrap();
    let tok = dir.join("token.jwt");
    std::fs::write(&tok, email_token(stack, EMAIL)).unwrap();
    run(client(stack, &tc)
        .args(["sign", "--no-login", "--identity-token-file"])
        .arg(&tok)
        .arg(&artifact));
    let bundle = PathBuf::from(format!("{}.sigstore.json", artifact.display()));
    let json: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert!(
        json["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"].is_object(),
        "a Rekor v2 entry: {json}"
    );
    (bundle, artifact, tc)
}

/// `hallmark verify` with `--witness` keys.
fn verify_witnessed(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
    bundle: &Path,
    witnesses: &[&str],
    min: Option<usize>,
) -> std::process::Output {
    let mut c = client(stack, tc);
    c.arg("verify")
        .arg(artifact)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            &stack.issuer(),
        ]);
    for w in witnesses {
        c.args(["--witness", w]);
    }
    if let Some(n) = min {
        c.args(["--min-witnesses", &n.to_string()]);
    }
    c.output().unwrap()
}

/// sigstore-python verifies a bundle whose checkpoint carries a witness cosignature line after
/// the log's signature (needs the reference tools: HALLMARK_PYTHON, see scripts/test.sh).
#[test]
fn sigstore_python_accepts_witnessed_bundles() {
    let _ = python();
    let mut stack = Stack::start(&bin()).unwrap();
    let (origin, log_key) = log_vkey(&stack);
    let wdir = tempfile::tempdir().unwrap();
    let (key, wvkey) = make_witness_key(wdir.path(), "witness.test/hallmark");
    let witness = HallmarkWitness::start(&[
        "--key".into(),
        key.display().to_string(),
        "--log".into(),
        format!("{origin}={log_key}"),
        "--state".into(),
        wdir.path().join("state").display().to_string(),
    ]);
    configure_witnesses(&mut stack, &[(&witness.url, &wvkey)]);
    let (bundle, artifact, tc) = sign_v2(&stack, "for sigstore-python\n");
    let json: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let cp =
        json["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
    assert_eq!(Note::parse(cp).unwrap().signatures.len(), 2, "{cp}");
    assert_ok(
        "sigstore-python on a witnessed bundle",
        &python_verify(&stack, &tc, &artifact, &bundle, EMAIL),
    );
}

/// Points the log's witness config at a new witness URL (the witness restarted on a new port).
fn configure_witnesses_url(stack: &mut Stack, url: &str) {
    let config = std::fs::read_to_string(stack.config()).unwrap();
    let config: String = config
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("- url: ") {
                format!("    - url: {url}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(stack.config(), format!("{config}\n")).unwrap();
    stack.restart().unwrap();
}

/// litewitness's vkey for an OpenSSH Ed25519 public key file, as its startup log prints it.
fn ssh_cosigner_vkey(name: &str, pub_file: &Path) -> String {
    let text = std::fs::read_to_string(pub_file).unwrap();
    let blob = STANDARD
        .decode(text.split_whitespace().nth(1).unwrap())
        .unwrap();
    let key: [u8; 32] = blob[blob.len() - 32..].try_into().unwrap();
    hallmark_tlog::cosignature::cosigner_vkey(
        name,
        &ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
    )
    .unwrap()
}

#[test]
fn litewitness_cosigns_hallmark_checkpoints() {
    let (litewitness, witnessctl) = litewitness();
    // litewitness only takes Ed25519 log keys: an Ed25519 v2 log.
    let mut stack = Stack::start_with(&bin(), "log_v2:\n  key_type: ed25519\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (origin, log_key) = log_vkey(&stack);
    assert_eq!(
        STANDARD
            .decode(log_key.splitn(3, '+').nth(2).unwrap())
            .unwrap()[0],
        0x01,
        "an Ed25519 note key: {log_key}"
    );

    // litewitness's key lives in an ssh-agent of its own.
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "litewitness", "-f"])
        .arg(d.join("lw")));
    let sock = d.join("agent.sock");
    let _agent = Proc(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client) is needed to run litewitness"),
    );
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run(Command::new("ssh-add")
        .env("SSH_AUTH_SOCK", &sock)
        .arg(d.join("lw")));
    let fpr = run(Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(d.join("lw.pub")));
    let fpr = fpr.split_whitespace().nth(1).unwrap().to_owned();
    let name = "witness.test/litewitness";
    let wvkey = ssh_cosigner_vkey(name, &d.join("lw.pub"));
    let db = d.join("lw.db");
    run(Command::new(&witnessctl)
        .args(["add-log", "-db"])
        .arg(&db)
        .args(["-origin", &origin]));
    run(Command::new(&witnessctl)
        .args(["add-key", "-db"])
        .arg(&db)
        .args(["-origin", &origin, "-key", &log_key]));
    let port = free_port();
    let _lw = Proc(
        Command::new(&litewitness)
            .arg("-db")
            .arg(&db)
            .args([
                "-name",
                name,
                "-key",
                &fpr,
                "-listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("-ssh-agent")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_for_port(port);
    configure_witnesses(&mut stack, &[(&url, &wvkey)]);

    let verifier = CosignatureVerifier::from_vkey(&wvkey).unwrap();
    let entries = post_entries(&stack, 0..3, "lw");
    let published = published_at_least(&stack, 3);
    let ts = verifier.verify(&Note::parse(&published).unwrap()).unwrap();
    assert!(ts > 1_600_000_000, "{ts}");
    verifier
        .verify(&Note::parse(&entry_checkpoint(&entries[2])).unwrap())
        .unwrap();
    // Growth from the size litewitness cosigned: a consistency proof it checked.
    post_entries(&stack, 3..20, "lw2");
    let published = published_at_least(&stack, 20);
    verifier.verify(&Note::parse(&published).unwrap()).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on port {port}");
}

#[test]
fn a_tessera_log_verifies_hallmarks_cosignature() {
    let tool = tesscheck();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen = run(Command::new(&tool).args(["-keygen", "example.com/tessera-test-log"]));
    let mut lines = keygen.lines();
    let (skey, log_vkey) = (lines.next().unwrap(), lines.next().unwrap());
    std::fs::write(d.join("log.skey"), skey).unwrap();
    let (key, wvkey) = make_witness_key(d, "witness.test/hallmark");
    let witness = HallmarkWitness::start(&[
        "--key".into(),
        key.display().to_string(),
        "--log".into(),
        log_vkey.to_owned(),
        "--state".into(),
        d.join("state").display().to_string(),
    ]);
    let tess = |vkey: &str, entries: &str| {
        Command::new(&tool)
            .arg("-storage_dir")
            .arg(d.join("log"))
            .arg("-log_key")
            .arg(d.join("log.skey"))
            .args(["-witness_url", &witness.url, "-witness_vkey", vkey])
            .args(["-entries", entries, "-timeout", "10s"])
            .output()
            .unwrap()
    };
    // A fresh log (old 0), then growth (old 4 and a consistency proof from Tessera's tiles).
    for n in ["4", "6"] {
        let out = tess(&wvkey, n);
        assert!(
            out.status.success(),
            "tesscheck failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\u{2014} witness.test/hallmark "),
            "{stdout}"
        );
    }
    let published = std::fs::read_to_string(d.join("log/checkpoint")).unwrap();
    assert_eq!(size_of(&published), 10);
    CosignatureVerifier::from_vkey(&wvkey)
        .unwrap()
        .verify(&Note::parse(&published).unwrap())
        .unwrap();
    // Negative control: Tessera refuses a cosignature it cannot verify (another witness key).
    let other = hallmark_tlog::cosignature::cosigner_vkey(
        "witness.test/hallmark",
        &ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key(),
    )
    .unwrap();
    let out = tess(&other, "1");
    assert!(
        !out.status.success(),
        "Tessera accepted a cosignature by an unexpected key"
    );
}

/// The witness key in the HSM: `audit witness init` generates an Ed25519 key on the token
/// (CKM_EDDSA), `audit witness vkey` reads the same public key back, and `audit witness serve`
/// cosigns with it: the cosignature of a log checkpoint verifies under the printed vkey.
#[test]
fn a_witness_key_in_the_hsm_cosigns() {
    let stack = Stack::start(&bin()).unwrap();
    post_entries(&stack, 0..2, "hsm");
    let (origin, log_vkey) = log_vkey(&stack);
    let uri = format!(
        "pkcs11:token={};object=hallmark-witness",
        stack.token_info().label
    );
    let name = "hsm-witness.test";
    let vkey = run(stack
        .command()
        .args(["audit", "witness", "init", "--key", &uri, "--name", name]))
    .trim()
    .to_owned();
    let again = run(stack
        .command()
        .args(["audit", "witness", "vkey", "--key", &uri, "--name", name]))
    .trim()
    .to_owned();
    assert_eq!(vkey, again, "the vkey read back from the token");
    let verifier = CosignatureVerifier::from_vkey(&vkey).unwrap();

    let state = tempfile::tempdir().unwrap();
    let mut child = stack
        .command()
        .args(["audit", "witness", "serve", "--listen", "127.0.0.1:0"])
        .args(["--key", &uri, "--name", name, "--state"])
        .arg(state.path())
        .arg("--log")
        .arg(format!("{origin}={log_vkey}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("the witness did not report its address");
    let _witness = Proc(child);

    let (_, note) = stack.get("/checkpoint").unwrap();
    let checkpoint = log_signed(&note);
    let (status, _, body) = post_witness(
        &url,
        &AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: checkpoint.clone(),
        }
        .encode(),
    );
    assert_eq!(status, 200, "{body}");
    let cosigned = Note::parse(&format!("{checkpoint}{body}")).unwrap();
    verifier.verify(&cosigned).unwrap();
}
