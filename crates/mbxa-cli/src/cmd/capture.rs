//! `mbxa mailboxes` and `mbxa capture`.

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa mailboxes`.
#[derive(Debug, clap::Args)]
pub struct MailboxesArgs {}

/// Runs `mbxa mailboxes`.
pub fn mailboxes(_args: MailboxesArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa mailboxes` is not built yet")
}

/// Arguments of `mbxa capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {}

/// Runs `mbxa capture`.
pub fn capture(_args: CaptureArgs, _out: &Output) -> anyhow::Result<Outcome> {
    anyhow::bail!("`mbxa capture` is not built yet")
}
