//! The `mbxa` binary: parses arguments, resolves them, calls the library crates and renders
//! their results. Only this crate prints, owns progress bars and `--json`, and maps failures to
//! the exit codes of `shared/reference/cli.md` (0 ok, 1 completed with problems, 2 could not work).

mod cmd;
mod exit;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Output;

/// Exchange Online mailbox backups: capture, verify, deduplicate, replay, inspect.
#[derive(Debug, Parser)]
#[command(name = "mbxa", version, about, propagate_version = true)]
pub struct Cli {
    /// Print one JSON document on stdout instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    /// Silence progress and informational messages on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Progress format on stderr for long-running commands.
    #[arg(long, global = true, value_enum, default_value_t = output::ProgressMode::Auto)]
    progress: output::ProgressMode,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a user's primary and in-place archive mailbox ids.
    Mailboxes(cmd::capture::MailboxesArgs),
    /// Capture a mailbox (or folder subtrees) into a .mbxa archive.
    Capture(cmd::capture::CaptureArgs),
    /// Show an archive's format version, id, source, capture times, counts and sizes.
    Info(cmd::info::InfoArgs),
    /// List an archive's folder tree, or its items with --items.
    Ls(cmd::info::LsArgs),
    /// Show one item's parsed properties, recipients and attachments.
    Show(cmd::inspect::ShowArgs),
    /// Write items to files: .eml (MIME) or the raw captured bytes.
    Extract(cmd::inspect::ExtractArgs),
    /// Check every byte of one or more archives.
    Verify(cmd::verify::VerifyArgs),
    /// Items added, removed, changed and moved between two archives.
    Diff(cmd::info::DiffArgs),
    /// Report how much a vault would save across archives.
    Dedupe(cmd::vault::DedupeArgs),
    /// A deduplicating store of archives.
    #[command(subcommand)]
    Vault(cmd::vault::VaultCommand),
    /// Import an archive's items into a mailbox, resumable, never twice.
    Replay(cmd::replay::ReplayArgs),
    /// Run the local Graph emulator.
    Emulator(cmd::emulator::EmulatorArgs),
    /// Run the whole product end to end against an in-process emulator.
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json, cli.quiet, cli.progress);
    let result = match cli.command {
        Command::Mailboxes(a) => cmd::capture::mailboxes(a, &out),
        Command::Capture(a) => cmd::capture::capture(a, &out),
        Command::Info(a) => cmd::info::info(a, &out),
        Command::Ls(a) => cmd::info::ls(a, &out),
        Command::Show(a) => cmd::inspect::show(a, &out),
        Command::Extract(a) => cmd::inspect::extract(a, &out),
        Command::Verify(a) => cmd::verify::verify(a, &out),
        Command::Diff(a) => cmd::info::diff(a, &out),
        Command::Dedupe(a) => cmd::vault::dedupe(a, &out),
        Command::Vault(c) => cmd::vault::vault(c, &out),
        Command::Replay(a) => cmd::replay::replay(a, &out),
        Command::Emulator(a) => cmd::emulator::emulator(a, &out),
        Command::Demo(a) => cmd::demo::demo(a, &out),
    };
    exit::finish(result, &out)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
