//! `mbxa dedupe` and `mbxa vault …`: the deduplicating store.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa dedupe`.
#[derive(Debug, clap::Args)]
pub struct DedupeArgs {}

/// `mbxa vault` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {}

/// Runs `mbxa dedupe`.
pub fn dedupe(_args: DedupeArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa dedupe` is not built yet")
}

/// Runs `mbxa vault …`.
pub fn vault(cmd: VaultCommand, _out: &Output) -> anyhow::Result<Outcome> {
    match cmd {}
}
