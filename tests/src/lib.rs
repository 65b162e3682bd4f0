//! End-to-end tests for Hallmark, and the harness they share.
//!
//! `tests/` holds the crash test (its helper program is `src/bin/crash_child.rs`). The tests that
//! drive the `hallmark` binary live in `crates/cli/tests`, where Cargo provides the binary's path,
//! and use [`Stack`] from here.
//!
//! A [`Stack`] is the real thing on loopback: `hallmark hsm init-token`, `hallmark ca init` and
//! `hallmark serve` as child processes, keys in a SoftHSM token of its own (its own token
//! directory: SoftHSM processes that share a directory while one of them creates objects can miss
//! the token entirely), embedded storage in a temporary directory, and the development OIDC issuer
//! minting real signed JWTs that the CA verifies against the JWKS it fetches over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hallmark_keys::testing::softhsm_module;

/// Shared by the crash test and its child process.
pub mod crash {
    /// What the crash child's entry signer signs: index and time (big-endian), then the data.
    pub fn entry_message(index: u64, integrated_ms: u64, data: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(16 + data.len());
        m.extend_from_slice(&index.to_be_bytes());
        m.extend_from_slice(&integrated_ms.to_be_bytes());
        m.extend_from_slice(data);
        m
    }
}

/// The SoftHSM configuration template shipped in `hsm/`.
const CONF_TEMPLATE: &str = include_str!("../../hsm/softhsm2.conf.template");

/// A SoftHSM token in a directory of its own, for one stack.
#[derive(Debug)]
pub struct Token {
    /// `softhsm2.conf` pointing at the token directory.
    pub conf: PathBuf,
    /// The token directory.
    pub dir: PathBuf,
    /// The user PIN file.
    pub pin_file: PathBuf,
    /// The module.
    pub module: PathBuf,
    /// The token label.
    pub label: String,
}

impl Token {
    /// Makes the directory, config and PIN files, and initialises the token through
    /// `hallmark hsm init-token` (PINs from files, never argv).
    fn create(bin: &Path, base: &Path) -> Result<Self> {
        Self::create_labelled(bin, base, "hallmark", "")
    }

    /// A token labelled `label` in the SoftHSM directory under `base` (shared with the other
    /// tokens there), with its own PIN files `<prefix>user-pin` and `<prefix>so-pin`.
    fn create_labelled(bin: &Path, base: &Path, label: &str, prefix: &str) -> Result<Self> {
        let dir = base.join("tokens");
        std::fs::create_dir_all(&dir)?;
        let conf = base.join("softhsm2.conf");
        let dir_s = dir.to_str().context("temp path is not UTF-8")?;
        std::fs::write(&conf, CONF_TEMPLATE.replace("@TOKENDIR@", dir_s))?;
        let pin_file = base.join(format!("{prefix}user-pin"));
        let so_pin_file = base.join(format!("{prefix}so-pin"));
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        std::fs::write(
            &pin_file,
            format!("u{prefix}{:x}\n", nonce ^ u128::from(std::process::id())),
        )?;
        std::fs::write(&so_pin_file, format!("s{nonce:x}\n"))?;
        let token = Self {
            conf,
            dir,
            pin_file,
            module: softhsm_module(),
            label: label.into(),
        };
        let mut c = Command::new(bin);
        token.apply_env(&mut c);
        let out = c
            .args([
                "hsm",
                "init-token",
                "--label",
                &token.label,
                "--so-pin-file",
            ])
            .arg(&so_pin_file)
            .output()
            .context("running hallmark hsm init-token")?;
        if !out.status.success() {
            bail!(
                "hallmark hsm init-token failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(token)
    }

    fn apply_env(&self, c: &mut Command) {
        c.env("SOFTHSM2_CONF", &self.conf)
            .env("HALLMARK_PKCS11_MODULE", &self.module)
            .env("HALLMARK_PKCS11_PIN_FILE", &self.pin_file)
            .env_remove("HALLMARK_PKCS11_PIN")
            .env("RUST_LOG", "info,hallmark=debug");
    }
}

/// A running `hallmark serve` and everything it needs.
#[derive(Debug)]
pub struct Stack {
    child: Child,
    bin: PathBuf,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// What the server printed on stdout before `listening on` (banners).
    pub startup_stdout: String,
    dir: tempfile::TempDir,
    config: PathBuf,
    token: Token,
}

impl Stack {
    /// Initialises a CA with fresh keys on the shared test token and starts the server on a free
    /// loopback port, with the development OIDC issuer enabled.
    pub fn start(bin: &Path) -> Result<Self> {
        Self::start_with(bin, "")
    }

    /// Like [`Stack::start`], with extra YAML appended to the generated config file. The `ca:`
    /// block comes last, so indented lines (`"  curve: p384\n"`) extend it.
    pub fn start_with(bin: &Path, extra_yaml: &str) -> Result<Self> {
        Self::start_inner(bin, extra_yaml, false)
    }

    /// Like [`Stack::start`], with the CA root key on a token of its own (`hallmark-root`, its
    /// own PIN), which only `hallmark ca init` opens: the server is never given its PIN.
    pub fn start_with_separate_root(bin: &Path) -> Result<Self> {
        Self::start_inner(bin, "", true)
    }

    fn start_inner(bin: &Path, extra_yaml: &str, separate_root: bool) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("hallmark-e2e-").tempdir()?;
        let token = Token::create(bin, &dir.path().join("hsm"))?;
        let root_token = if separate_root {
            Some(Token::create_labelled(
                bin,
                &dir.path().join("hsm"),
                "hallmark-root",
                "root-",
            )?)
        } else {
            None
        };
        let key = |name: &str| format!("pkcs11:token={};object={name}", token.label);
        let root_key = match &root_token {
            Some(root) => format!("pkcs11:token={};object=ca-root", root.label),
            None => key("ca-root"),
        };
        let config = dir.path().join("hallmark.yaml");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:0\ndata_dir: {data}\ndev_oidc: true\nct_log:\n  key: \"{ct}\"\nca:\n  root_key: \"{root}\"\n  issuing_key: \"{issuing}\"\n  organization: Hallmark Test\n  common_name: Hallmark Test CA\n{extra_yaml}",
                data = dir.path().join("data").display(),
                root = root_key,
                issuing = key("ca-issuing"),
                ct = key("ct-log"),
            ),
        )?;
        let mut init = Command::new(bin);
        token.apply_env(&mut init);
        if let Some(root) = &root_token {
            init.env("HALLMARK_ROOT_PKCS11_PIN_FILE", &root.pin_file);
        }
        let out = init
            .args(["ca", "init", "--config"])
            .arg(&config)
            .output()
            .context("running hallmark ca init")?;
        if !out.status.success() {
            bail!(
                "hallmark ca init failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (child, url, startup_stdout) = spawn_serve(bin, &config, &token)?;
        Ok(Self {
            child,
            bin: bin.to_path_buf(),
            url,
            startup_stdout,
            dir,
            config,
            token,
        })
    }

    /// The working directory (config, data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config file the server runs with.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// This stack's SoftHSM token.
    pub fn token_info(&self) -> &Token {
        &self.token
    }

    /// The `hallmark` binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A `hallmark` command with the token's environment set.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        self.token.apply_env(&mut c);
        c
    }

    /// Stops the server (SIGKILL) so that its data can be read or changed; [`Stack::restart`]
    /// starts it again.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A second stack made from a copy of this one, stopped for the copy and started again:
    /// the same CA and log keys (a copy of the SoftHSM token), the same log data so far, its
    /// own directory and port. From here on the two grow apart, as a log that shows different
    /// clients different trees would.
    pub fn duplicate(&mut self) -> Result<Stack> {
        self.stop();
        let dir = tempfile::Builder::new()
            .prefix("hallmark-e2e-dup-")
            .tempdir()?;
        copy_dir(self.dir.path(), dir.path())?;
        let old = self.dir.path().to_str().context("temp path is not UTF-8")?;
        let new = dir.path().to_str().context("temp path is not UTF-8")?;
        let rebase = |p: &Path| PathBuf::from(p.to_string_lossy().replacen(old, new, 1));
        for file in [dir.path().join("hallmark.yaml"), rebase(&self.token.conf)] {
            let text = std::fs::read_to_string(&file)?;
            std::fs::write(&file, text.replace(old, new))?;
        }
        let token = Token {
            conf: rebase(&self.token.conf),
            dir: rebase(&self.token.dir),
            pin_file: rebase(&self.token.pin_file),
            module: self.token.module.clone(),
            label: self.token.label.clone(),
        };
        let config = rebase(&self.config);
        self.restart()?;
        let (child, url, startup_stdout) = spawn_serve(&self.bin, &config, &token)?;
        Ok(Stack {
            child,
            bin: self.bin.clone(),
            url,
            startup_stdout,
            dir,
            config,
            token,
        })
    }

    /// Stops the server (SIGKILL) and starts it again on the same data and a new port.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let (child, url, startup_stdout) = spawn_serve(&self.bin, &self.config, &self.token)?;
        self.child = child;
        self.url = url;
        self.startup_stdout = startup_stdout;
        Ok(())
    }

    /// A development token for `claims` (merged over the issuer's defaults), minted by the
    /// server's development issuer over HTTP.
    pub fn mint(&self, claims: serde_json::Value) -> Result<String> {
        let resp: serde_json::Value = ureq::post(format!("{}/dev-oidc/token", self.url))
            .send_json(&claims)?
            .body_mut()
            .read_json()?;
        resp["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("dev issuer answered without access_token")
    }

    /// The development issuer's URL (what tokens carry as `iss`).
    pub fn issuer(&self) -> String {
        format!("{}/dev-oidc", self.url)
    }

    /// POSTs JSON; returns the status and the body parsed as JSON (or a JSON string of the text).
    pub fn post(
        &self,
        path: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> Result<(u16, serde_json::Value)> {
        self.post_as(path, body, bearer, "application/json")
    }

    /// POSTs `body` with the given `Content-Type`; returns the status and the body parsed as
    /// JSON (or a JSON string of the text).
    pub fn post_as(
        &self,
        path: &str,
        body: &[u8],
        bearer: Option<&str>,
        content_type: &str,
    ) -> Result<(u16, serde_json::Value)> {
        let mut req = ureq::post(format!("{}{path}", self.url))
            .config()
            .http_status_as_error(false)
            .build()
            .header("content-type", content_type);
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = req.send(body)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        ))
    }

    /// POSTs JSON without credentials; returns the status, the value of the response header
    /// `header` (if present) and the body parsed as JSON (or a JSON string of the text).
    pub fn post_header(
        &self,
        path: &str,
        body: &[u8],
        header: &str,
    ) -> Result<(u16, Option<String>, serde_json::Value)> {
        let mut resp = ureq::post(format!("{}{path}", self.url))
            .config()
            .http_status_as_error(false)
            .build()
            .header("content-type", "application/json")
            .send(body)?;
        let status = resp.status().as_u16();
        let value = resp
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.body_mut().read_to_string()?;
        Ok((
            status,
            value,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        ))
    }

    /// GETs a path; returns the status and the body text.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        let mut resp = ureq::get(format!("{}{path}", self.url))
            .config()
            .http_status_as_error(false)
            .build()
            .call()?;
        let status = resp.status().as_u16();
        Ok((
            status,
            resp.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()?,
        ))
    }
}

/// A small deterministic generator for kill schedules (xorshift64; seed it non-zero).
#[derive(Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Another `hallmark serve` on a stack's config, token and data: a replica of it on shared
/// storage (PostgreSQL), on its own port. Killed when dropped.
#[derive(Debug)]
pub struct Replica {
    child: Child,
    /// Base URL.
    pub url: String,
}

impl Replica {
    /// SIGKILLs the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Stack {
    /// Starts another server on this stack's config and token (see [`Replica`]).
    pub fn spawn_replica(&self) -> Result<Replica> {
        let (child, url, _) = spawn_serve(&self.bin, &self.config, &self.token)?;
        Ok(Replica { child, url })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the directory tree `from` into `to` (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Starts `hallmark serve` and waits for its `listening on <url>` line. The `String` returned is
/// the URL; the server's stdout before that line is kept in [`Stack::startup_stdout`].
fn spawn_serve(bin: &Path, config: &Path, token: &Token) -> Result<(Child, String, String)> {
    let mut c = Command::new(bin);
    token.apply_env(&mut c);
    let mut child = c
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting hallmark serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut before = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send((url.trim().to_owned(), std::mem::take(&mut before)));
            } else {
                before.push_str(&line);
                before.push('\n');
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok((url, before)) => Ok((child, url, before)),
        Err(_) => {
            let _ = child.kill();
            bail!("hallmark serve did not report its address within 60 s")
        }
    }
}
