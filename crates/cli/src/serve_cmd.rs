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
    rt.block_on(hallmark_server::serve(settings))
}

pub(crate) fn ca(cmd: CaCommand) -> Result<()> {
    match cmd {
        CaCommand::Init(args) => {
            let settings = args.load()?;
            let report = hallmark_server::ca_init(&settings)?;
            print!("{report}");
            Ok(())
        }
    }
}

pub(crate) fn dev_oidc(cmd: DevOidcCommand) -> Result<()> {
    match cmd {
        DevOidcCommand::Token { server, email } => {
            let url = format!("{}/dev-oidc/token", server.trim_end_matches('/'));
            let body = serde_json::json!({ "email": email, "email_verified": true, "sub": email });
            let resp: serde_json::Value = ureq::post(&url)
                .send_json(&body)
                .with_context(|| {
                    format!(
                        "asking {url} for a token (is the server running with dev_oidc enabled?)"
                    )
                })?
                .body_mut()
                .read_json()?;
            let token = resp["access_token"]
                .as_str()
                .context("the development issuer answered without access_token")?;
            println!("{token}");
            Ok(())
        }
    }
}
