//! `hallmark token`: get an identity token the way `sign` and `attest` do (flags, the CI system,
//! Kubernetes, or an interactive login) and write it to a file (created `0600`) or stdout, so a
//! person logs in once for several commands (`--identity-token-file`) and a CI author can see
//! which identity a job would sign as.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::client::{TokenArgs, TrustArgs};

#[derive(Debug, Args)]
pub(crate) struct TokenCmdArgs {
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// Write the token to this file (mode 0600; an existing file or link there is replaced,
    /// never written through) instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
}

/// `hallmark token`.
pub(crate) fn token(args: TokenCmdArgs) -> Result<()> {
    // The trust config only supplies the login's issuer: without one, --oidc-issuer or a
    // non-interactive source will do.
    // (`path` fails only when no config is named and none is at the default place.)
    let trust = args
        .trust
        .path()
        .ok()
        .map(|_| args.trust.load())
        .transpose()?;
    let options = args.token.acquire_options(trust.as_ref());
    let got = crate::sign_cmd::runtime()?
        .block_on(hallmark_oidc_client::acquire(&options))
        .context("getting an identity token")?;
    let secret = got.token.secret();
    match &args.output {
        Some(path) => write_private(path, secret.as_bytes())
            .with_context(|| format!("writing the token to {}", path.display()))?,
        None => println!("{secret}"),
    }
    eprintln!(
        "identity token for {} (issuer {}) from {}, valid until {}",
        got.claims.identity(),
        got.claims.issuer,
        got.source,
        got.claims.expires_at
    );
    Ok(())
}

/// Writes `data` to `path`, readable by its owner only. The data goes into a new file beside
/// `path` (created exclusively, mode 0600, never through a link), which then replaces `path`:
/// a symbolic link planted at `path` is replaced, not followed, and no reader sees a partial
/// token.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".hallmark-token-")
        .tempfile_in(dir)?;
    file.write_all(data)?;
    file.write_all(b"\n")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
