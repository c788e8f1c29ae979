//! Output policy: data on stdout (human text or one JSON document with `--json`), messages and
//! progress on stderr, progress bars only on a terminal, `NO_COLOR` respected.

use std::io::{IsTerminal, Write};

use serde::Serialize;

/// How long-running commands report progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal and neither `--quiet` nor `--json` is set.
    Auto,
    /// JSON Lines on stderr, one event per line.
    Json,
    /// No progress output.
    None,
}

/// The CLI's single owner of stdout and stderr.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    quiet: bool,
    progress: ProgressMode,
    color: bool,
}

impl Output {
    /// Builds the output policy from the global flags and the environment.
    pub fn new(json: bool, quiet: bool, progress: ProgressMode) -> Self {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        Self {
            json,
            quiet,
            progress,
            color,
        }
    }

    /// True when `--json` was given: commands print one JSON document via [`Output::json`].
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// True when progress bars should be drawn on stderr.
    pub fn bars(&self) -> bool {
        !self.quiet
            && !self.json
            && self.progress == ProgressMode::Auto
            && std::io::stderr().is_terminal()
    }

    /// True when progress should be printed as JSON Lines on stderr.
    pub fn json_progress(&self) -> bool {
        self.progress == ProgressMode::Json
    }

    /// Prints a line of data on stdout (human mode).
    pub fn line(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{s}");
    }

    /// Prints the command's JSON document on stdout.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut o, value)?;
        writeln!(o)?;
        Ok(())
    }

    /// An informational message on stderr, silenced by `--quiet`.
    pub fn info(&self, s: &str) {
        if !self.quiet {
            eprintln!("{s}");
        }
    }

    /// A warning on stderr (never silenced).
    pub fn warn(&self, s: &str) {
        if self.color {
            eprintln!("\x1b[33mwarning:\x1b[0m {s}");
        } else {
            eprintln!("warning: {s}");
        }
    }

    /// An error on stderr (never silenced).
    pub fn error(&self, s: &str) {
        if self.color {
            eprintln!("\x1b[31merror:\x1b[0m {s}");
        } else {
            eprintln!("error: {s}");
        }
    }
}
