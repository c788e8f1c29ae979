//! `mbxa replay`: import an archive into a mailbox.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

/// Runs `mbxa replay`.
pub fn replay(_args: ReplayArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa replay` is not built yet")
}
