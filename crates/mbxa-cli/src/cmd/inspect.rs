//! `mbxa show` and `mbxa extract`: items as parsed properties, .eml or raw bytes.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

/// Runs `mbxa show`.
pub fn show(_args: ShowArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa show` is not built yet")
}

/// Arguments of `mbxa extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {}

/// Runs `mbxa extract`.
pub fn extract(_args: ExtractArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa extract` is not built yet")
}
