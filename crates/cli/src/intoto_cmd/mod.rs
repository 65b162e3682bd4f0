//! `hallmark intoto`: record supply-chain steps as in-toto links signed by workload identity
//! (or a classic key), sign layouts, and verify a supply chain against its layout.
//!
//! `run.rs` (and the files it uses) records and signs; `verify.rs` verifies. The formats are
//! `hallmark_sigstore::intoto`'s.

use anyhow::Result;
use clap::Subcommand;

mod classic_key;
mod run;
mod verify;

/// `hallmark intoto ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum IntotoCommand {
    /// Run a step's command, record its materials, products and byproducts, and sign the
    /// link (keylessly by default, logged; or with --key).
    Run(run::RunArgs),
    /// Record a step that is not one command: `start` before it, `stop` after it.
    #[command(subcommand)]
    Record(run::RecordCommand),
    /// Sign a layout (keylessly, logged; or with --key).
    SignLayout(run::SignLayoutArgs),
    /// Verify a supply chain: the layout, each step's links and functionaries, thresholds,
    /// artifact rules and inspections.
    Verify(Box<verify::VerifyArgs>),
}

/// Runs one `hallmark intoto` command.
pub(crate) fn run(command: IntotoCommand) -> Result<()> {
    match command {
        IntotoCommand::Run(a) => run::run(a),
        IntotoCommand::Record(c) => run::record(c),
        IntotoCommand::SignLayout(a) => run::sign_layout(a),
        IntotoCommand::Verify(a) => verify::verify(*a),
    }
}
