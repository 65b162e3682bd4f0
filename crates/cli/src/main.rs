//! `hallmark`: the command-line entry point of Hallmark.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use hallmark_keys::{Hsm, KeyError, KeyRef, PinSource, Pkcs11Key};

/// mimalloc: the server allocates per request from many threads; glibc malloc spent ~10% of
/// the log-api benchmark in malloc/free and arena contention.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod audit_cmd;
mod bench;
mod client;
mod demo;
mod hsm_cmd;
mod intoto_cmd;
mod serve_cmd;
mod sign_cmd;
mod storage_cmd;
mod token_cmd;
mod verify_cmd;
mod witness_cmd;

/// Hallmark: a private keyless-signing authority (CA + transparency logs) with keys in an HSM.
#[derive(Debug, Parser)]
#[command(name = "hallmark", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the PKCS#11 token and the keys on it.
    #[command(subcommand)]
    Hsm(hsm_cmd::HsmCommand),
    /// Measure this machine: log appends, proof generation, HSM signing.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Append entries to a log whose checkpoint key is in the HSM, and check its proofs.
    Demo(demo::DemoArgs),
    /// Keyless signing: an ephemeral key, a certificate for your OIDC identity, a log entry,
    /// and a Sigstore bundle per file (FILE.sigstore.json).
    Sign(sign_cmd::SignArgs),
    /// Sign an in-toto Statement v1 (SLSA provenance, in-toto links, any predicate) in a DSSE
    /// envelope, log it and write a Sigstore bundle.
    Attest(sign_cmd::AttestArgs),
    /// in-toto supply chains: record and sign steps by workload identity, sign layouts,
    /// verify.
    #[command(subcommand)]
    Intoto(intoto_cmd::IntotoCommand),
    /// Verify a Sigstore bundle offline against a trust root and an identity policy or key.
    Verify(verify_cmd::VerifyArgs),
    /// Get an identity token as `sign` would (CI system, Kubernetes, or a login) and print it
    /// or write it to a file, to log in once for several commands.
    Token(token_cmd::TokenCmdArgs),
    /// Run the server: CA, CT log, health and metrics.
    Serve(serve_cmd::ConfigArgs),
    /// Manage the certificate authority.
    #[command(subcommand)]
    Ca(serve_cmd::CaCommand),
    /// Write the trusted root and client trust config Sigstore clients take.
    TrustRoot(serve_cmd::TrustRootArgs),
    /// Audit the logs: verify their signed heads and consistency, recompute roots, check
    /// inclusion and other auditors' checkpoints.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Storage maintenance: move the embedded logs into PostgreSQL.
    #[command(subcommand)]
    Storage(storage_cmd::StorageCommand),
    /// The development OIDC issuer (never for production).
    #[command(subcommand)]
    DevOidc(serve_cmd::DevOidcCommand),
}

/// How to reach the HSM. PINs come from a file or an environment variable, never from argv.
#[derive(Debug, Clone, Args)]
pub(crate) struct HsmArgs {
    /// PKCS#11 module to load.
    #[arg(
        long,
        env = "HALLMARK_PKCS11_MODULE",
        default_value = "/usr/lib/softhsm/libsofthsm2.so"
    )]
    module: PathBuf,
    /// File holding the token's user PIN.
    #[arg(long, env = "HALLMARK_PKCS11_PIN_FILE")]
    pin_file: Option<PathBuf>,
}

/// Name of the environment variable that may hold the user PIN directly.
const PIN_ENV: &str = "HALLMARK_PKCS11_PIN";

impl HsmArgs {
    /// The default PIN source: `--pin-file`, else `$HALLMARK_PKCS11_PIN` if set.
    fn default_pin(&self) -> Option<PinSource> {
        match &self.pin_file {
            Some(p) => Some(PinSource::File(p.clone())),
            None => std::env::var_os(PIN_ENV).map(|_| PinSource::Env(PIN_ENV.to_owned())),
        }
    }

    /// Opens the token `key` lives on.
    fn open(&self, key: &KeyRef) -> Result<Hsm> {
        let config = key.config(&self.module, self.default_pin().as_ref())?;
        Ok(Hsm::open(config)?)
    }

    /// Opens the token and loads the P-256 key `key`, generating it on the token if it does not
    /// exist yet. Any other failure (wrong curve, HSM unavailable) is an error.
    fn load_or_generate_p256(&self, key: &KeyRef) -> Result<Pkcs11Key<p256::NistP256>> {
        let token = self.open(key)?;
        match token.load_p256(key.object()) {
            Ok(k) => Ok(k),
            Err(KeyError::KeyNotFound { .. }) => {
                tracing::info!(key = %key, "generating a P-256 key pair inside the HSM");
                Ok(token.generate_p256(key.object())?)
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn main() -> std::process::ExitCode {
    // Logs go to stderr: key=value text by default, one JSON object per line with
    // HALLMARK_LOG_FORMAT=json (for log shippers). RUST_LOG filters.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("HALLMARK_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hsm(c) => hsm_cmd::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Ca(c) => serve_cmd::ca(c),
        Command::DevOidc(c) => serve_cmd::dev_oidc(c),
        Command::TrustRoot(a) => serve_cmd::trust_root(a),
        Command::Sign(a) => sign_cmd::sign(a),
        Command::Attest(a) => sign_cmd::attest(a),
        Command::Verify(a) => verify_cmd::verify(a),
        Command::Intoto(c) => intoto_cmd::run(c),
        Command::Token(a) => token_cmd::token(a),
        Command::Audit(c) => audit_cmd::run(c),
        Command::Storage(c) => storage_cmd::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
