//! Helpers shared by the end-to-end tests: external tools as subprocesses.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use hallmark_tests::Stack;

pub mod browser;
pub mod login;

/// The `hallmark` binary Cargo built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hallmark"))
}

/// Runs a command, panicking with its output if it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Python with the reference tools (`scripts/test.sh` makes the venv and sets
/// `HALLMARK_PYTHON`). Fails loudly when the tools are missing.
pub fn python() -> PathBuf {
    let repo_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let py = std::env::var_os("HALLMARK_PYTHON")
        .map(PathBuf::from)
        .or_else(|| repo_venv.exists().then_some(repo_venv))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&py)
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import cryptography: run ./scripts/test.sh (it installs the Python reference \
         tools into .venv and sets HALLMARK_PYTHON)",
        py.display()
    );
    py
}

/// Runs a Python script with arguments; returns stdout.
pub fn py(script: &str, args: &[&str]) -> String {
    run(Command::new(python()).arg("-c").arg(script).args(args))
}

/// The bin directory of the venv (pkilint's commands live there).
pub fn venv_bin(tool: &str) -> PathBuf {
    python()
        .parent()
        .map(|d| d.join(tool))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(tool))
}

/// A fresh P-256 key (PEM) and a CSR for it with an empty subject, as sigstore-python makes.
pub fn openssl_key_and_csr(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    run(Command::new("openssl")
        .args([
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
        ])
        .arg(&key));
    run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-subj",
            "/",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-key",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    (key, csr)
}

/// Signs `data` with the PEM key: ECDSA-SHA256, DER.
pub fn openssl_sign(key: &Path, data: &[u8], dir: &Path) -> Vec<u8> {
    let msg = dir.join("msg.bin");
    let sig = dir.join("msg.sig");
    std::fs::write(&msg, data).unwrap();
    run(Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg("-out")
        .arg(&sig)
        .arg(&msg));
    std::fs::read(sig).unwrap()
}

/// The public key of a PEM private key, as PEM.
pub fn openssl_pubkey(key: &Path) -> String {
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(key))
}

/// `openssl verify` accepts `leaf.pem` through `issuing.pem` to `root.pem` in `dir`.
pub fn openssl_verify_chain(dir: &Path) {
    let out = run(Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.join("root.pem"))
        .arg("-untrusted")
        .arg(dir.join("issuing.pem"))
        .arg(dir.join("leaf.pem")));
    assert!(out.contains(": OK"), "{out}");
}

/// A fresh P-256 key and CSR in `dir`, a dev-issuer token for `email`, and the certificate chain
/// the CA answers with (leaf, issuing CA, root as PEM). Asserts a 200.
pub fn request_certificate(
    stack: &Stack,
    dir: &Path,
    name: &str,
    email: &str,
) -> (PathBuf, Vec<String>) {
    use base64::Engine as _;
    let (key, csr) = openssl_key_and_csr(dir, name);
    let token = stack
        .mint(serde_json::json!({"sub": email, "email": email, "email_verified": true}))
        .unwrap();
    let body = serde_json::to_vec(&serde_json::json!({
        "certificateSigningRequest": base64::engine::general_purpose::STANDARD
            .encode(std::fs::read_to_string(&csr).unwrap())
    }))
    .unwrap();
    let (status, resp) = stack
        .post("/api/v2/signingCert", &body, Some(&token))
        .unwrap();
    assert_eq!(status, 200, "{resp}");
    let chain = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no chain in {resp}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (key, chain)
}

/// The DER of the first PEM certificate in `pem`.
pub fn der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// A Rekor v2 `hashedRekordRequestV002` for `artifact`, signed with openssl by `key` (whose
/// certificate is `leaf_der`).
pub fn v2_request(key: &Path, leaf_der: &[u8], artifact: &[u8], dir: &Path) -> serde_json::Value {
    use base64::Engine as _;
    let sig = openssl_sign(key, artifact, dir);
    serde_json::json!({"hashedRekordRequestV002": {
        "digest": base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(artifact)),
        "signature": {"content": base64::engine::general_purpose::STANDARD.encode(sig), "verifier": {
            "x509Certificate": {"rawBytes": base64::engine::general_purpose::STANDARD.encode(leaf_der)},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        }},
    }})
}

/// Writes `stack`'s ClientTrustConfig to `out` with `hallmark trust-root`, merging the retired
/// keys of `previous` when given.
pub fn write_trust_config(stack: &Stack, out: &Path, previous: Option<&Path>) {
    let mut c = stack.command();
    c.args(["trust-root", "--config"])
        .arg(stack.config())
        .args(["--url", &stack.url, "--client-trust-config"])
        .arg(out);
    if let Some(p) = previous {
        c.arg("--previous").arg(p);
    }
    run(&mut c);
}

/// A development token with a verified `email` (and the same `sub`).
pub fn email_token(stack: &Stack, email: &str) -> String {
    stack
        .mint(serde_json::json!({"sub": email, "email": email, "email_verified": true}))
        .unwrap()
}

/// The environment variables through which a signing client may pick up a token from the test's
/// own environment (CI variables, `SIGSTORE_ID_TOKEN`); client commands in the tests remove them.
pub const AMBIENT_TOKEN_VARS: [&str; 6] = [
    "SIGSTORE_ID_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "HALLMARK_IDENTITY_TOKEN",
];

/// A `hallmark` command for the client side: no token source from the test's own environment
/// (CI variables, `SIGSTORE_ID_TOKEN`), the stack's trust config, run in the stack's directory.
pub fn client(stack: &Stack, tc: &Path) -> Command {
    let mut c = Command::new(bin());
    for var in AMBIENT_TOKEN_VARS {
        c.env_remove(var);
    }
    c.env("HALLMARK_TRUST_CONFIG", tc).current_dir(stack.dir());
    c
}

/// `hallmark verify ARTIFACT --bundle BUNDLE` with an exact identity policy: `identity` as the
/// SAN, the stack's development issuer.
pub fn hallmark_verify(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
    bundle: &Path,
    identity: &str,
) -> Output {
    client(stack, tc)
        .arg("verify")
        .arg(artifact)
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            &stack.issuer(),
        ])
        .output()
        .unwrap()
}

/// sigstore-python's `sigstore` with the trust config `tc`, run in the stack's directory.
pub fn python_sigstore(stack: &Stack, tc: &Path) -> Command {
    let mut c = Command::new(venv_bin("sigstore"));
    c.arg("--trust-config").arg(tc).current_dir(stack.dir());
    c
}

/// `sigstore verify identity --offline` (sigstore-python) with the trust config `tc`, `email` as
/// the identity and the stack's development issuer.
pub fn python_verify(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
    bundle: &Path,
    email: &str,
) -> Output {
    python_sigstore(stack, tc)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args([
            "--cert-identity",
            email,
            "--cert-oidc-issuer",
            &stack.issuer(),
        ])
        .arg(artifact)
        .output()
        .unwrap()
}

/// `sigstore attest` (sigstore-python): a SLSA provenance `predicate` about `artifact`, signed
/// with `token`, bundle written to `bundle`. Fails the test if it fails.
pub fn python_attest_slsa(
    stack: &Stack,
    tc: &Path,
    token: &str,
    predicate: &Path,
    bundle: &Path,
    artifact: &Path,
) {
    run(python_sigstore(stack, tc)
        .args([
            "attest",
            "--identity-token",
            token,
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--predicate",
        ])
        .arg(predicate)
        .arg("--bundle")
        .arg(bundle)
        .arg(artifact));
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
}

/// The command succeeded (else fail with its output); returns its stdout.
pub fn assert_ok(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The sigstore-js side of the interop tests: `package.json`, `package-lock.json`, the `.mjs`
/// scripts, and (installed, git-ignored) `node_modules`.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// A `node` command running `script` from [`js_dir`] with the sigstore-js packages pinned in its
/// `package-lock.json`. `scripts/test.sh` (`ensure_node_clients`) installs Node.js when the
/// machine has none, runs `npm ci` there and sets `HALLMARK_NODE`. Fails loudly when Node.js is
/// missing or the installed packages are absent or not the ones the lock file pins.
pub fn node(script: &str) -> Command {
    const HINT: &str = "run ./scripts/test.sh (its ensure_node_clients installs Node.js and \
                        the pinned sigstore-js packages with npm ci, and sets HALLMARK_NODE)";
    let node = std::env::var_os("HALLMARK_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    let version = Command::new(&node).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "cannot run {} ({version:?}): {HINT}",
        node.display()
    );
    let dir = js_dir();
    // ensure_node_clients copies the lock file here after a successful `npm ci`.
    let stamp = dir.join("node_modules/.hallmark-package-lock.json");
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap();
    assert!(
        dir.join("node_modules/sigstore/package.json").exists(),
        "{} has no sigstore-js: {HINT}",
        dir.join("node_modules").display()
    );
    assert!(
        std::fs::read(&stamp).is_ok_and(|s| s == lock),
        "{} was not installed from the current package-lock.json: {HINT}",
        dir.join("node_modules").display()
    );
    let mut c = Command::new(node);
    c.arg(dir.join(script)).current_dir(dir);
    c
}

/// What `tests/js/verify.mjs` said: `Ok(identity)` or `Err(the rejection)`, both as its JSON.
pub fn js_verify(
    root: &Path,
    bundle: &Path,
    artifact: Option<&Path>,
    identity: &str,
    issuer: &str,
) -> Result<serde_json::Value, serde_json::Value> {
    let mut c = node("verify.mjs");
    c.arg("--trusted-root")
        .arg(root)
        .arg("--bundle")
        .arg(bundle);
    if let Some(a) = artifact {
        c.arg("--artifact").arg(a);
    }
    let out = c
        .args(["--identity", identity, "--issuer", issuer])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed: Option<serde_json::Value> = serde_json::from_str(stdout.trim()).ok();
    match (out.status.code(), parsed) {
        (Some(0), Some(v)) if v["verified"] == true => Ok(v),
        (Some(1), Some(v)) if v["verified"] == false => Err(v),
        (code, _) => panic!(
            "verify.mjs neither verified nor rejected (exit {code:?}):\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// `stack`'s ClientTrustConfig (for `hallmark`, sigstore-python, cosign) and trusted_root.json
/// (for sigstore-js), both written by `hallmark trust-root` into the stack's directory.
pub fn write_trust_roots(stack: &Stack) -> (PathBuf, PathBuf) {
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(stack, &tc, None);
    let root = stack.dir().join("trusted_root.json");
    run(stack
        .command()
        .args(["trust-root", "--config"])
        .arg(stack.config())
        .args(["--url", &stack.url, "--trusted-root"])
        .arg(&root));
    (tc, root)
}

/// Builds the Go program in `tests/go/<name>` with the Go toolchain on PATH into
/// `$CARGO_TARGET_DIR/go/<name>` and returns its path; fails the test if Go is missing or the
/// build fails.
pub fn go_build(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let out = target.join("go").join(name);
    let status = Command::new("go")
        .args(["build", "-mod=readonly", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(root.join("tests/go").join(name))
        .status()
        .unwrap_or_else(|e| panic!("running `go build` for tests/go/{name} (is Go on PATH?): {e}"));
    assert!(status.success(), "go build of tests/go/{name} failed");
    out
}
