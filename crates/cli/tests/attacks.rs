//! The attack suite: what a hostile caller or a careless operator tries against a real
//! `hallmark serve` on SoftHSM, and what must come of it (a clear refusal; never a 5xx, a
//! panic, an entry in the log, or a certificate that should not exist).
//!
//! - The development issuer cannot reach production: a production build has none and refuses
//!   `dev_oidc: true`; a development build refuses it off loopback, beside real issuers, or when
//!   the file and the environment disagree, and says on stdout that it is on.
//! - Slow and idle connections (slowloris) do not stop a real client from signing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// The production build `scripts/test.sh` makes before the tests (`cargo build -p
/// hallmark-cli`, no `dev-oidc` feature).
fn production_bin() -> PathBuf {
    let path = std::env::var_os("HALLMARK_PRODUCTION_BIN").map(PathBuf::from);
    match path {
        Some(p) if p.exists() => p,
        _ => panic!(
            "HALLMARK_PRODUCTION_BIN does not name the production build: run ./scripts/test.sh \
             (it builds hallmark without the dev-oidc feature and exports the path)"
        ),
    }
}

/// `hallmark serve --config FILE` with `env`, for a configuration that must be refused before
/// anything is opened; returns its output (the server is killed if it starts after all).
fn serve_refused(bin: &Path, dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Output {
    let config = dir.join("refused.yaml");
    std::fs::write(&config, yaml).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--config"]).arg(&config);
    for var in [
        "HALLMARK_DEV_OIDC",
        "HALLMARK_DEV_OIDC_UNSAFE_ALLOW_ANYWHERE",
        "HALLMARK_LISTEN",
        "HALLMARK_PUBLIC_URL",
        "HALLMARK_OIDC_ISSUERS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .env("HALLMARK_DATA_DIR", dir.join("data"));
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hallmark serve started with {yaml:?} {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{yaml:?} {env:?} was accepted");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_production_build_has_no_development_issuer() {
    let production = production_bin();
    let dir = tempfile::tempdir().unwrap();
    let out = serve_refused(&production, dir.path(), "dev_oidc: true\n", &[]);
    let message = stderr(&out);
    assert!(
        message.contains("production build without the development issuer"),
        "{message}"
    );
    let out = serve_refused(&production, dir.path(), "", &[("HALLMARK_DEV_OIDC", "1")]);
    assert!(
        stderr(&out).contains("production build"),
        "{}",
        stderr(&out)
    );

    // Not merely switched off: its code is not in the binary. (The test build has it, which
    // shows the marker is the right one to look for.)
    let marker: &[u8] = b"DEVELOPMENT OIDC ISSUER ON";
    let has = |bin: &Path| {
        std::fs::read(bin)
            .unwrap()
            .windows(marker.len())
            .any(|w| w == marker)
    };
    assert!(
        has(&bin()),
        "the test build should carry the development issuer"
    );
    assert!(
        !has(&production),
        "the production build carries the development issuer"
    );
}

#[test]
fn the_development_issuer_is_refused_where_it_could_reach_production() {
    let dir = tempfile::tempdir().unwrap();
    let issuers = dir.path().join("issuers.yaml");
    std::fs::write(
        &issuers,
        "issuers:\n  - url: https://token.actions.githubusercontent.com\n    type: github-workflow\n",
    )
    .unwrap();
    let issuers_line = format!("oidc:\n  issuers_file: {}\n", issuers.display());
    // (config file, environment, what the refusal says)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        // The file turns it off, the environment on (or the reverse): neither wins.
        (
            "dev_oidc: false\n".into(),
            vec![("HALLMARK_DEV_OIDC", "1")],
            "neither overrides",
        ),
        (
            "dev_oidc: true\n".into(),
            vec![("HALLMARK_DEV_OIDC", "0")],
            "neither overrides",
        ),
        // Reachable from other machines.
        (
            "dev_oidc: true\nlisten: 0.0.0.0:0\n".into(),
            vec![],
            "non-loopback listen address",
        ),
        (
            "dev_oidc: true\n".into(),
            vec![("HALLMARK_PUBLIC_URL", "https://sign.example.com")],
            "non-loopback public_url",
        ),
        // Beside the real issuers, where its certificates would chain to the same root.
        (
            format!("dev_oidc: true\n{issuers_line}"),
            vec![],
            "beside an issuers file",
        ),
    ];
    for (yaml, env, says) in cases {
        let out = serve_refused(&bin(), dir.path(), &yaml, &env);
        let message = stderr(&out);
        assert!(message.contains(says), "{yaml:?} {env:?}: {message}");
    }
}

#[test]
fn the_development_issuer_announces_itself_on_stdout() {
    let stack = Stack::start(&bin()).unwrap();
    let banner = &stack.startup_stdout;
    assert!(
        banner.contains("DEVELOPMENT OIDC ISSUER ON at http://127.0.0.1:"),
        "{banner}"
    );
    assert!(banner.contains("ANY email address"), "{banner}");
}

/// The address `host:port` of a stack's URL.
fn addr(stack: &Stack) -> String {
    stack.url.trim_start_matches("http://").to_owned()
}

/// Slowloris: `n` connections that dribble a request head one byte every 300 ms, and `n` that
/// send nothing, each reopened when the server closes it, for `for_how_long` (then all close).
/// Returns how many times the server closed one of them.
fn slowloris(addr: String, n: usize, for_how_long: Duration) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let head = b"POST /api/v2/signingCert HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        let open = |addr: &str| {
            let s = TcpStream::connect(addr).ok()?;
            s.set_nonblocking(true).ok()?;
            Some(s)
        };
        let mut conns: Vec<(Option<TcpStream>, usize, bool)> =
            (0..2 * n).map(|i| (open(&addr), 0, i % 2 == 0)).collect();
        let mut closed_by_server = 0;
        let end = Instant::now() + for_how_long;
        let mut buf = [0u8; 512];
        while Instant::now() < end {
            for (conn, sent, dribbles) in &mut conns {
                let alive = match conn.as_mut() {
                    None => false,
                    Some(s) => match s.read(&mut buf) {
                        Ok(0) => false,
                        Ok(_) => false,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            if *dribbles {
                                let byte = head.get(*sent).copied().unwrap_or(b'a');
                                *sent += 1;
                                s.write_all(&[byte]).is_ok()
                            } else {
                                true
                            }
                        }
                        Err(_) => false,
                    },
                };
                if !alive {
                    if conn.is_some() {
                        closed_by_server += 1;
                    }
                    *conn = open(&addr);
                    *sent = 0;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        closed_by_server
    })
}

/// Many slow and idle connections, more than the server's connection cap, while a real client
/// signs: the client's bundle verifies, and the server closed the slow ones.
#[test]
fn slow_and_idle_connections_do_not_stop_a_real_client() {
    let stack = Stack::start_with(
        &bin(),
        "http:\n  header_read_timeout_secs: 2\n  body_timeout_secs: 2\n  max_connections: 64\n",
    )
    .unwrap();
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let token = stack.dir().join("token.jwt");
    std::fs::write(&token, email_token(&stack, "ci@example.com")).unwrap();

    let attack = slowloris(addr(&stack), 100, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let artifact = stack.dir().join("during-attack.txt");
    std::fs::write(&artifact, b"signed while 200 connections hold on").unwrap();
    let started = Instant::now();
    let out = client(&stack, &tc)
        .args(["sign", "--identity-token-file"])
        .arg(&token)
        .arg(&artifact)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "signing under slowloris failed after {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("signed under slowloris (200 connections, cap 64) in {took:?}");
    let bundle = PathBuf::from(format!("{}.sigstore.json", artifact.display()));
    assert_ok(
        "the bundle signed under attack",
        &hallmark_verify(&stack, &tc, &artifact, &bundle, "ci@example.com"),
    );
    let closed = attack.join().unwrap();
    // Every slow connection is cut within the 2 s header timeout: ~200 per 2 s over 20 s.
    assert!(
        closed >= 400,
        "the server closed only {closed} slow connections"
    );

    // A body that stalls: a 4xx saying so, not a held connection.
    let mut s = TcpStream::connect(addr(&stack)).unwrap();
    s.write_all(
        b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"apiVersion\":",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer:?}");
    assert!(answer.contains("not received within"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Idle connections and request heads dribbled byte by byte are closed once the header timeout
/// passes.
#[test]
fn idle_and_dribbling_connections_are_closed_at_the_header_timeout() {
    let stack = Stack::start_with(&bin(), "http:\n  header_read_timeout_secs: 2\n").unwrap();
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(addr(&stack)).unwrap())
        .collect();
    let mut dribbling: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(addr(&stack)).unwrap())
        .collect();
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed_at = vec![None; 20];
    let mut buf = [0u8; 64];
    for s in idle.iter_mut().chain(dribbling.iter_mut()) {
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    }
    for step in 0..30 {
        for (i, s) in idle.iter_mut().chain(dribbling.iter_mut()).enumerate() {
            if closed_at[i].is_some() {
                continue;
            }
            if i >= 10 {
                let _ = s.write_all(&head[step..=step]);
            }
            match s.read(&mut buf) {
                Ok(_) => closed_at[i] = Some(started.elapsed()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => closed_at[i] = Some(started.elapsed()),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (i, at) in closed_at.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("connection {i} still open after 6 s"));
        assert!(
            at < Duration::from_secs(5),
            "connection {i} closed only after {at:?}"
        );
    }
}

/// `hallmark token -o PATH` where someone planted a symbolic link at PATH: the link is replaced
/// by a private file; what it pointed to is untouched.
#[test]
fn hallmark_token_replaces_a_link_at_its_output_instead_of_writing_through_it() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("token.jwt");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let jwt = format!(
        "{}.{}.c2ln",
        b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(
            serde_json::json!({"iss": "https://issuer.example", "sub": "a@example.com",
            "aud": "sigstore", "iat": now, "exp": now + 600})
        )
    );
    let given = dir.path().join("given.jwt");
    std::fs::write(&given, &jwt).unwrap();
    run(Command::new(bin())
        .env_remove("SIGSTORE_ID_TOKEN")
        .env("CI", "true")
        .args(["token", "--identity-token-file"])
        .arg(&given)
        .arg("-o")
        .arg(&link));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_file(), "{meta:?}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&link).unwrap(), format!("{jwt}\n"));
}

/// The CA root key on a token of its own: `ca init` opens it with its own PIN, the server never
/// does (no warning, and the serving PIN cannot open it), and certificates still chain to it.
/// With the root on the serving token, start-up warns that the root is reachable.
#[test]
fn the_root_key_lives_on_a_token_the_server_cannot_open() {
    let shared = Stack::start(&bin()).unwrap();
    assert!(
        shared
            .startup_stdout
            .contains("WARNING: the CA root key pkcs11:token=hallmark;object=ca-root"),
        "{}",
        shared.startup_stdout
    );
    drop(shared);

    let stack = Stack::start_with_separate_root(&bin()).unwrap();
    assert!(
        !stack.startup_stdout.contains("root key"),
        "{}",
        stack.startup_stdout
    );
    // The serving PIN does not open the root's token.
    let out = stack
        .command()
        .args(["ca", "init", "--config"])
        .arg(stack.config())
        .env_remove("HALLMARK_ROOT_PKCS11_PIN_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("root key's token"),
        "{}",
        stderr(&out)
    );

    // Issuance goes on, and the chain ends at the root made on the other token.
    let dir = stack.dir().join("chain");
    std::fs::create_dir_all(&dir).unwrap();
    let (_key, chain) = request_certificate(&stack, &dir, "leaf", "ci@example.com");
    for (name, pem) in ["leaf.pem", "issuing.pem", "root.pem"].iter().zip(&chain) {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    openssl_verify_chain(&dir);
}

/// Anonymous readers hammering the log (entries by index, 100-entry retrieves, tree heads) while
/// certificates are issued: every certificate request succeeds, no reader gets a 5xx, and the
/// issuance latency is reported.
#[test]
fn read_storms_do_not_stop_issuance() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let stack = Arc::new(Stack::start(&bin()).unwrap());
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let token = stack.dir().join("token.jwt");
    std::fs::write(&token, email_token(&stack, "ci@example.com")).unwrap();
    let files: Vec<PathBuf> = (0..20)
        .map(|i| {
            let f = stack.dir().join(format!("a{i}.txt"));
            std::fs::write(&f, format!("artifact {i}")).unwrap();
            f
        })
        .collect();
    run(client(&stack, &tc)
        .args(["sign", "--identity-token-file"])
        .arg(&token)
        .args(&files));

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let server_errors = Arc::new(AtomicUsize::new(0));
    let retrieve: Vec<u64> = (0..100).map(|i| i % 20).collect::<Vec<_>>();
    let retrieve = serde_json::to_vec(&serde_json::json!({ "logIndexes": retrieve })).unwrap();
    let readers: Vec<_> = (0..8)
        .map(|r| {
            let (stack, stop, reads, errors, retrieve) = (
                Arc::clone(&stack),
                Arc::clone(&stop),
                Arc::clone(&reads),
                Arc::clone(&server_errors),
                retrieve.clone(),
            );
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    let status = match (r + i) % 3 {
                        0 => stack.get(&format!("/api/v1/log/entries?logIndex={}", i % 20)),
                        1 => stack.get("/ct/v1/get-sth"),
                        _ => stack
                            .post("/api/v1/log/entries/retrieve", &retrieve, None)
                            .map(|(s, v)| (s, v.to_string())),
                    }
                    .map_or(0, |(s, _)| s);
                    if status >= 500 || status == 0 {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                    reads.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    let dir = stack.dir().join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut latencies = Vec::new();
    for n in 0..40 {
        let started = Instant::now();
        let _ = request_certificate(&stack, &dir, &format!("c{n}"), "ci@example.com");
        latencies.push(started.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    let reads = reads.load(Ordering::SeqCst);
    eprintln!(
        "issuance under a read storm ({reads} reads by 8 readers): 40 certificates, \
         p50 {p50:?}, p99 {p99:?}"
    );
    assert!(reads > 100, "the readers made only {reads} requests");
    assert_eq!(server_errors.load(Ordering::SeqCst), 0, "readers got 5xx");
}
