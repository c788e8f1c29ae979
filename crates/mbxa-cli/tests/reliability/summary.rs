//! The summary table: one row per scenario (runs, faults injected, passed, failed), printed and
//! written to `target/reliability-summary.txt` for CI.

use std::path::PathBuf;
use std::time::Duration;

/// One scenario's counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    /// Runs of the binary or library calls.
    pub(crate) runs: u64,
    /// Faults injected: hostile inputs, emulator faults fired, bytes flipped.
    pub(crate) faults: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) failures: Vec<String>,
    pub(crate) note: String,
    /// Extra lines shown under the table.
    pub(crate) details: Vec<String>,
}

impl Row {
    pub(crate) fn new(scenario: &str) -> Row {
        Row {
            scenario: scenario.into(),
            ..Row::default()
        }
    }
}

/// Renders the table, the details and every failure.
pub(crate) fn render(rows: &[Row], details: &[String], took: Duration) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "mbxa reliability summary ({:.1} s)\n\n{:<34} {:>6} {:>8} {:>7} {:>7}  {}\n",
        took.as_secs_f64(),
        "scenario",
        "runs",
        "faults",
        "passed",
        "failed",
        "note"
    ));
    s.push_str(&format!("{}\n", "-".repeat(100)));
    let mut tot = Row::new("total");
    for r in rows {
        s.push_str(&format!(
            "{:<34} {:>6} {:>8} {:>7} {:>7}  {}\n",
            r.scenario, r.runs, r.faults, r.passed, r.failed, r.note
        ));
        tot.runs += r.runs;
        tot.faults += r.faults;
        tot.passed += r.passed;
        tot.failed += r.failed;
    }
    s.push_str(&format!("{}\n", "-".repeat(100)));
    s.push_str(&format!(
        "{:<34} {:>6} {:>8} {:>7} {:>7}\n",
        "total", tot.runs, tot.faults, tot.passed, tot.failed
    ));
    if !details.is_empty() {
        s.push_str("\nhostile inputs (exit codes per command; `!` = judged wrong):\n");
        for d in details {
            s.push_str(d);
            s.push('\n');
        }
    }
    for r in rows.iter().filter(|r| !r.details.is_empty()) {
        s.push_str(&format!("\n{}:\n", r.scenario));
        for d in &r.details {
            s.push_str(&format!("  {d}\n"));
        }
    }
    let failures: Vec<&String> = rows.iter().flat_map(|r| &r.failures).collect();
    if !failures.is_empty() {
        s.push_str(&format!("\nFAILURES ({}):\n", failures.len()));
        for f in failures {
            s.push_str(&format!("  {f}\n"));
        }
    }
    s
}

/// `target/reliability-summary.txt` (or under `CARGO_TARGET_DIR`).
pub(crate) fn path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("reliability-summary.txt")
}
