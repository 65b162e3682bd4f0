//! `hallmark serve`, `hallmark ca init` and `hallmark dev-oidc token`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hallmark_server::Settings;

/// Where the configuration comes from.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// YAML configuration file (every setting optional; see the hallmark-server docs).
    #[arg(long, env = "HALLMARK_CONFIG")]
    config: Option<PathBuf>,
}

impl ConfigArgs {
    pub(crate) fn load(&self) -> Result<Settings> {
        hallmark_server::config::load(self.config.as_deref(), |k| std::env::var(k).ok())
            .context("loading configuration")
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// Create the CA's root and issuing keys inside the HSM, the root and issuing certificates,
    /// and the CT log key. Refuses to overwrite anything that exists.
    Init(ConfigArgs),
    /// Add the RFC 3161 timestamp authority to an existing CA: a P-256 key inside the HSM and
    /// its certificate (timeStamping only) signed by the root, in ca/tsa.pem. Opens the root's
    /// token; refuses to overwrite an existing TSA certificate. (`ca init` makes it too.)
    InitTsa(ConfigArgs),
    /// Bring a CA made by an earlier version up to this one: add what is missing (the Rekor v2
    /// log key, the timestamp authority), never replacing anything. Opens the root's token only
    /// to certify a new timestamp authority. Safe to run again.
    Upgrade(ConfigArgs),
}

/// `hallmark trust-root`.
#[derive(Debug, Args)]
pub(crate) struct TrustRootArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The URL clients reach the server at (default: the configured public_url).
    #[arg(long)]
    url: Option<String>,
    /// Write the trusted_root.json here.
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// Write the ClientTrustConfig (trusted root + signing config; sigstore-python's
    /// --trust-config) here. Printed on stdout when neither file is named.
    #[arg(long)]
    client_trust_config: Option<PathBuf>,
    /// Key rotation: the trust root (or ClientTrustConfig) clients had before. CAs and keys it
    /// lists that this configuration no longer uses are kept, their validity ending now, so
    /// bundles signed before the rotation still verify.
    #[arg(long)]
    previous: Option<PathBuf>,
}

pub(crate) fn trust_root(args: TrustRootArgs) -> Result<()> {
    let settings = args.config.load()?;
    let url = args.url.unwrap_or_else(|| settings.public_url());
    let (mut root, mut client) = hallmark_server::trust_root(&settings, &url)?;
    if let Some(path) = &args.previous {
        let previous =
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        // The next whole second: validity windows end exclusively (sigstore-python keeps a
        // timestamp only if it is before the end) and RFC 3161 times are whole seconds, so a
        // timestamp from the current second stays inside the retired authority's window.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64 + 1);
        let retired_at = hallmark_sigstore::trust::Timestamp::from_unix(now)?;
        let carried = hallmark_server::merge_previous(&mut root, &previous, &retired_at)
            .with_context(|| format!("merging {}", path.display()))?;
        client.trusted_root = Some(root.clone());
        eprintln!(
            "kept {carried} retired CA(s)/key(s) from {} (validity ending {})",
            path.display(),
            retired_at.as_str()
        );
    }
    let write = |path: &PathBuf, json: Vec<u8>| -> Result<()> {
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(p) = &args.trusted_root {
        write(p, serde_json::to_vec_pretty(&root)?)?;
    }
    if let Some(p) = &args.client_trust_config {
        write(p, serde_json::to_vec_pretty(&client)?)?;
    }
    if args.trusted_root.is_none() && args.client_trust_config.is_none() {
        println!("{}", serde_json::to_string_pretty(&client)?);
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevOidcCommand {
    /// Ask a running server's development issuer for a token (development only).
    Token {
        /// The server's base URL.
        #[arg(long, env = "HALLMARK_URL", default_value = "http://127.0.0.1:3000")]
        server: String,
        /// Email claim (verified) of the token.
        #[arg(long, default_value = "developer@hallmark.local")]
        email: String,
    },
}

pub(crate) fn serve(args: ConfigArgs) -> Result<()> {
    let settings = args.load()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The process-wide metrics recorder: installed here, once, by the binary; the server renders
    // `/metrics` through its handle.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    rt.block_on(hallmark_server::serve(settings, metrics))
}

pub(crate) fn ca(cmd: CaCommand) -> Result<()> {
    match cmd {
        CaCommand::Init(args) => {
            let settings = args.load()?;
            let report = hallmark_server::ca_init(&settings)?;
            print!("{report}");
            Ok(())
        }
        CaCommand::InitTsa(args) => {
            let settings = args.load()?;
            let report = hallmark_server::ca_init_tsa(&settings)?;
            print!("{report}");
            Ok(())
        }
        CaCommand::Upgrade(args) => {
            let settings = args.load()?;
            let report = hallmark_server::ca_upgrade(&settings)?;
            print!("{report}");
            Ok(())
        }
    }
}

/// A token with a verified `email` (and the same `sub`) from a running server's development
/// issuer.
pub(crate) fn dev_token(server: &str, email: &str) -> Result<String> {
    let url = format!("{}/dev-oidc/token", server.trim_end_matches('/'));
    let body = serde_json::json!({ "email": email, "email_verified": true, "sub": email });
    let resp =
        crate::client::post_json_blocking(&url, serde_json::to_vec(&body)?).with_context(|| {
            format!("asking {url} for a token (is the server running with dev_oidc enabled?)")
        })?;
    Ok(resp["access_token"]
        .as_str()
        .context("the development issuer answered without access_token")?
        .to_owned())
}

pub(crate) fn dev_oidc(cmd: DevOidcCommand) -> Result<()> {
    match cmd {
        DevOidcCommand::Token { server, email } => {
            let token = dev_token(&server, &email)?;
            println!("{token}");
            Ok(())
        }
    }
}
