//! Test support: a throwaway SoftHSM token (enabled by the `testing` cargo feature; for tests and
//! benchmarks only, never production).
//!
//! SoftHSM reads `$SOFTHSM2_CONF` once, at `C_Initialize`, and PKCS#11 state (initialisation,
//! login) is per process. So a test binary gets ONE token, made on first use behind a
//! [`OnceLock`]: [`TestToken::shared`]. Tests in the binary share it and keep apart by using
//! distinct key labels ([`unique_label`]).
//!
//! If the SoftHSM module is missing, [`TestToken::shared`] panics with a message saying to install
//! `softhsm2`: HSM tests fail loudly rather than skip.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::{Hsm, PinSource, Pkcs11Config, TokenInit, init_token};

/// Where Debian's `softhsm2` package installs the module. Override with `$HALLMARK_PKCS11_MODULE`.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The environment variable [`TestToken::shared`] sets to the user PIN, for `env:` PIN source
/// tests.
pub const PIN_ENV_VAR: &str = "HALLMARK_TEST_USER_PIN";

/// The label of the shared test token.
pub const TEST_TOKEN_LABEL: &str = "hallmark-test";

/// The SoftHSM configuration template shipped in `hsm/`.
const CONF_TEMPLATE: &str = include_str!("../../../hsm/softhsm2.conf.template");

/// A SoftHSM token in a temporary directory (`hallmark-softhsm-{pid}-*` under the system temp
/// dir). The [`shared`](TestToken::shared) one lives in a static and is never dropped; the next
/// test process removes directories whose process has exited.
#[derive(Debug)]
pub struct TestToken {
    dir: tempfile::TempDir,
    module: PathBuf,
    label: String,
    so_pin_file: PathBuf,
    pin_file: PathBuf,
    conf: PathBuf,
}

/// The SoftHSM module path: `$HALLMARK_PKCS11_MODULE` or [`SOFTHSM_MODULE`].
///
/// # Panics
/// If the module file does not exist, with a message saying how to install it.
#[must_use]
#[allow(
    clippy::panic,
    reason = "test support: a missing HSM must fail the test loudly"
)]
pub fn softhsm_module() -> PathBuf {
    let module = std::env::var_os("HALLMARK_PKCS11_MODULE")
        .map_or_else(|| PathBuf::from(SOFTHSM_MODULE), PathBuf::from);
    if !module.exists() {
        panic!(
            "SoftHSM2 PKCS#11 module not found at {}: install softhsm2 (`apt-get install softhsm2`) \
             or set HALLMARK_PKCS11_MODULE to the module path. HSM tests never skip.",
            module.display()
        );
    }
    module
}

/// A label no other test in this process uses: `{prefix}-{pid}-{n}`.
#[must_use]
pub fn unique_label(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Test token directories are `{TEMP_PREFIX}{pid}-*` in the system temp dir.
const TEMP_PREFIX: &str = "hallmark-softhsm-";

/// The shared token's directory outlives its process (statics are never dropped): remove those
/// whose process is gone.
fn remove_stale_tokens() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().filter(|p| p.parse::<u32>().is_ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn random_pin(tag: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{tag}/{now}/{}", std::process::id()));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

impl TestToken {
    /// The process-wide test token, created (and `SOFTHSM2_CONF` set) on first use.
    ///
    /// # Panics
    /// If SoftHSM is not installed or the token cannot be made.
    #[allow(
        clippy::panic,
        reason = "test support: setup failures must fail the test loudly"
    )]
    pub fn shared() -> &'static TestToken {
        static TOKEN: OnceLock<TestToken> = OnceLock::new();
        TOKEN.get_or_init(|| match TestToken::create(TEST_TOKEN_LABEL) {
            Ok(token) => token,
            Err(e) => panic!("cannot create the SoftHSM test token: {e}"),
        })
    }

    #[allow(
        unsafe_code,
        reason = "SoftHSM is configured only through the environment"
    )]
    fn create(label: &str) -> Result<TestToken, Box<dyn std::error::Error>> {
        let module = softhsm_module();
        remove_stale_tokens();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens)?;
        let conf = dir.path().join("softhsm2.conf");
        let tokens_str = tokens
            .to_str()
            .ok_or("temporary directory path is not UTF-8")?;
        std::fs::write(&conf, CONF_TEMPLATE.replace("@TOKENDIR@", tokens_str))?;
        let user_pin = random_pin("user");
        let so_pin_file = dir.path().join("so-pin");
        let pin_file = dir.path().join("user-pin");
        write_secret(&so_pin_file, &format!("{}\n", random_pin("so")))?;
        write_secret(&pin_file, &format!("{user_pin}\n"))?;
        // SAFETY: `set_var` races with C code reading the environment concurrently. This runs
        // once, inside the OnceLock initialiser, before this process loads any PKCS#11 module
        // (SoftHSM reads SOFTHSM2_CONF only in C_Initialize, which `init_token` below calls
        // first); Rust's own environment accesses are serialised by std's lock.
        unsafe {
            std::env::set_var("SOFTHSM2_CONF", &conf);
            std::env::set_var(PIN_ENV_VAR, &user_pin);
        }
        let outcome = init_token(
            &module,
            label,
            &PinSource::File(so_pin_file.clone()),
            &PinSource::File(pin_file.clone()),
        )?;
        if outcome != TokenInit::Initialised {
            return Err("a fresh SoftHSM token directory already held the test token".into());
        }
        Ok(TestToken {
            dir,
            module,
            label: label.to_owned(),
            so_pin_file,
            pin_file,
            conf,
        })
    }

    /// The module path.
    #[must_use]
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The token label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The file holding the SO PIN (mode 0600).
    #[must_use]
    pub fn so_pin_file(&self) -> &Path {
        &self.so_pin_file
    }

    /// The file holding the user PIN (mode 0600).
    #[must_use]
    pub fn pin_file(&self) -> &Path {
        &self.pin_file
    }

    /// The `softhsm2.conf` written for this token; pass it as `SOFTHSM2_CONF` to child processes.
    #[must_use]
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// SoftHSM's token directory (one subdirectory per token).
    #[must_use]
    pub fn token_dir(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    /// A config for this token with the PIN read from the PIN file.
    #[must_use]
    pub fn config(&self) -> Pkcs11Config {
        Pkcs11Config {
            module: self.module.clone(),
            token_label: self.label.clone(),
            pin: PinSource::File(self.pin_file.clone()),
        }
    }

    /// Open the token.
    ///
    /// # Panics
    /// If it cannot be opened.
    #[must_use]
    #[allow(clippy::panic, reason = "test support")]
    pub fn open(&self) -> Hsm {
        match Hsm::open(self.config()) {
            Ok(hsm) => hsm,
            Err(e) => panic!("cannot open the SoftHSM test token: {e}"),
        }
    }
}

/// Serialises tests that use the shared token.
///
/// SoftHSM 2.6.1's file store intermittently fails `C_GenerateKeyPair` with `CKR_GENERAL_ERROR`
/// while other sessions of the process use the same token (measured: about 1 run in 40 of the
/// key tests even with object creation serialised inside [`crate::Hsm`]). Production generates
/// keys before serving, so only tests, which make keys while other tests sign, meet it. Every
/// test that touches [`TestToken::shared`] holds this guard for its whole body.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
