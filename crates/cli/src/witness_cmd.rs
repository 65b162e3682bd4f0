//! `hallmark audit witness`: the auditor as a C2SP tlog-witness.
//!
//! - `init --key K --name N`: makes the witness key and prints its vkey. `K` is a file (written
//!   mode 0600, in Go's note signer format `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || seed)`,
//!   which omniwitness also reads) or a `pkcs11:` URI (an Ed25519 key generated in the HSM; the
//!   PIN comes from the URI's pin-source, `--pin-file` or `$HALLMARK_PKCS11_PIN`).
//! - `vkey --key K [--name N]`: prints the vkey of an existing key.
//! - `serve --listen ADDR --key K [--name N] --log <origin>=<vkey>... [--logs-file F] --state DIR`:
//!   serves `POST /add-checkpoint` and `GET /<origin hash>/checkpoint`; the state (the latest
//!   cosigned checkpoint per log) is `DIR/witness.redb`.
//!
//! A file key's name is the one in the file; an HSM key needs `--name`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use hallmark_audit::witness::{LogRegistry, RedbState, Witness, WitnessKey, http};
use hallmark_keys::KeyRef;
use hallmark_tlog::cosignature::cosigner_vkey;
use hallmark_tlog::note::NoteKeyId;
use signature::Keypair;

use crate::HsmArgs;

/// `hallmark audit witness ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum WitnessCommand {
    /// Make the witness's Ed25519 key (in a file or the HSM) and print its vkey.
    Init(KeyArgs),
    /// Print the witness's vkey (what logs and verifiers trust).
    Vkey(KeyArgs),
    /// Serve the C2SP tlog-witness API.
    Serve(ServeArgs),
}

/// The witness key.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// A key file (Go note signer format) or a `pkcs11:` URI of an Ed25519 key.
    #[arg(long)]
    key: String,
    /// The witness name (a file key's name is in the file; required for an HSM key).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    hsm: HsmArgs,
}

/// `hallmark audit witness serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
    /// A log to witness: `<origin>=<vkey>` or a bare `<vkey>` (origin = key name). Repeatable.
    #[arg(long = "log")]
    logs: Vec<String>,
    /// A file of logs to witness, one `<origin>=<vkey>` or `<vkey>` per line (`#` comments).
    #[arg(long)]
    logs_file: Option<PathBuf>,
    /// Directory of the witness's state (`witness.redb`).
    #[arg(long)]
    state: PathBuf,
}

pub(crate) fn run(cmd: WitnessCommand) -> Result<()> {
    match cmd {
        WitnessCommand::Init(k) => {
            let vkey = if let Some(uri) = pkcs11(&k.key)? {
                let name = hsm_name(&k)?;
                let key = k.hsm.open(&uri)?.generate_ed25519(uri.object())?;
                cosigner_vkey(name, &key.verifying_key())?
            } else {
                let name = hsm_name(&k)?;
                init_file_key(Path::new(&k.key), name)?
            };
            println!("{vkey}");
            Ok(())
        }
        WitnessCommand::Vkey(k) => {
            let vkey = match pkcs11(&k.key)? {
                Some(uri) => {
                    let key = k.hsm.open(&uri)?.load_ed25519(uri.object())?;
                    cosigner_vkey(hsm_name(&k)?, &key.verifying_key())?
                }
                None => {
                    let (name, key) = read_file_key(Path::new(&k.key))?;
                    cosigner_vkey(&name, &key.verifying_key())?
                }
            };
            println!("{vkey}");
            Ok(())
        }
        WitnessCommand::Serve(a) => match pkcs11(&a.key.key)? {
            Some(uri) => {
                let key = a.key.hsm.open(&uri)?.load_ed25519(uri.object())?;
                let name = hsm_name(&a.key)?.to_owned();
                serve(&a, &name, key)
            }
            None => {
                let (name, key) = read_file_key(Path::new(&a.key.key))?;
                if a.key.name.as_ref().is_some_and(|n| *n != name) {
                    bail!("--name differs from the name in the key file ({name})");
                }
                serve(&a, &name, key)
            }
        },
    }
}

fn pkcs11(key: &str) -> Result<Option<KeyRef>> {
    if key.starts_with("pkcs11:") {
        Ok(Some(key.parse().context("parsing the witness key URI")?))
    } else {
        Ok(None)
    }
}

fn hsm_name(k: &KeyArgs) -> Result<&str> {
    k.name
        .as_deref()
        .context("--name is required: the witness name its cosignatures carry")
}

/// Go's note signer key text for an Ed25519 seed.
fn signer_text(name: &str, key: &ed25519_dalek::SigningKey) -> Result<String> {
    let id = NoteKeyId::ed25519(name, &key.verifying_key())?;
    let mut raw = vec![0x01];
    raw.extend_from_slice(key.as_bytes());
    Ok(format!(
        "PRIVATE+KEY+{name}+{}+{}",
        hex::encode(id.id()),
        STANDARD.encode(raw)
    ))
}

fn init_file_key(path: &Path, name: &str) -> Result<String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let text = signer_text(name, &key)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(format!("{text}\n").as_bytes())?;
    f.sync_all()?;
    Ok(cosigner_vkey(name, &key.verifying_key())?)
}

/// Reads a note signer key file: `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || 32-byte seed)`.
fn read_file_key(path: &Path) -> Result<(String, ed25519_dalek::SigningKey)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the witness key {}", path.display()))?;
    let bad = || {
        anyhow::anyhow!(
            "{} is not a PRIVATE+KEY+<name>+<id>+<base64> Ed25519 note key",
            path.display()
        )
    };
    let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let raw = STANDARD.decode(b64).map_err(|_| bad())?;
    let seed: [u8; 32] = match raw.split_first() {
        Some((0x01, seed)) => seed.try_into().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let want = NoteKeyId::ed25519(name, &key.verifying_key())?;
    if hex::encode(want.id()) != id {
        bail!("{}: the key ID does not match the key", path.display());
    }
    Ok((name.to_owned(), key))
}

fn serve<K>(a: &ServeArgs, name: &str, key: K) -> Result<()>
where
    K: WitnessKey,
{
    let mut logs = LogRegistry::new();
    let mut specs = a.logs.clone();
    if let Some(f) = &a.logs_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        specs.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if specs.is_empty() {
        bail!("no logs to witness: give --log <origin>=<vkey> or --logs-file");
    }
    for s in &specs {
        logs.add_spec(s)?;
    }
    std::fs::create_dir_all(&a.state).with_context(|| format!("creating {}", a.state.display()))?;
    let state = Arc::new(RedbState::open(&a.state.join("witness.redb"))?);
    let witness = Arc::new(Witness::new(name, key, logs, state)?);
    tracing::info!(vkey = %witness.vkey(), logs = ?witness.logs().origins().collect::<Vec<_>>(), "witness");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "witness listening");
        // Scripts and tests wait for this line.
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        axum::serve(listener, http::router(witness)).await?;
        Ok(())
    })
}
