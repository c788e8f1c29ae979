//! `mbxa emulator`: the local Graph emulator.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

/// Runs `mbxa emulator`.
pub fn emulator(_args: EmulatorArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa emulator` is not built yet")
}
