//! `hallmark intoto run`, `record start|stop` and `sign-layout`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

/// `hallmark intoto run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {}

/// `hallmark intoto record`.
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// Record the materials before the step.
    Start,
    /// Record the products after the step and sign the link.
    Stop,
}

/// `hallmark intoto sign-layout`.
#[derive(Debug, Args)]
pub(crate) struct SignLayoutArgs {}

pub(crate) fn run(_args: RunArgs) -> Result<()> {
    bail!("hallmark intoto run is not built yet")
}

pub(crate) fn record(_command: RecordCommand) -> Result<()> {
    bail!("hallmark intoto record is not built yet")
}

pub(crate) fn sign_layout(_args: SignLayoutArgs) -> Result<()> {
    bail!("hallmark intoto sign-layout is not built yet")
}
