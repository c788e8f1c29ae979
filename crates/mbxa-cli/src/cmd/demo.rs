//! `mbxa demo`: the whole product end to end on an in-process emulator.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `mbxa demo`.
pub fn demo(_args: DemoArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa demo` is not built yet")
}
