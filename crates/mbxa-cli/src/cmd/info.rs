//! `mbxa info`, `mbxa ls` and `mbxa diff`: what an archive holds.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {}

/// Runs `mbxa info`.
pub fn info(_args: InfoArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa info` is not built yet")
}

/// Arguments of `mbxa ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {}

/// Runs `mbxa ls`.
pub fn ls(_args: LsArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa ls` is not built yet")
}

/// Arguments of `mbxa diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {}

/// Runs `mbxa diff`.
pub fn diff(_args: DiffArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa diff` is not built yet")
}
