//! Exit codes of the command-line contract, and the one place that turns a command's result
//! into a process exit status.

use std::process::ExitCode;

use crate::output::Output;

/// What a command that ran to its end reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: everything was done and nothing is wrong.
    Ok,
    /// Exit 1: the command completed but found or left problems (damage, failed items).
    Problems,
}

/// Exit 2: the command could not do its job.
pub const FAILURE: u8 = 2;

/// Prints the error chain (never a secret: library errors redact them) and maps to exit codes.
pub fn finish(result: anyhow::Result<Outcome>, out: &Output) -> ExitCode {
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            out.error(&format!("{err:#}"));
            ExitCode::from(FAILURE)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
