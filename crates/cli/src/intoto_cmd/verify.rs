//! `hallmark intoto verify`.

use anyhow::{Result, bail};
use clap::Args;

/// `hallmark intoto verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {}

pub(crate) fn verify(_args: VerifyArgs) -> Result<()> {
    bail!("hallmark intoto verify is not built yet")
}
