//! `mbxa verify`: every byte of an archive, in parallel.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

/// Runs `mbxa verify`.
pub fn verify(_args: VerifyArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa verify` is not built yet")
}
