//! `mbxa replay`: import an archive into a mailbox.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mbxa_replay::{ItemOutcome, PlanTotals, Progress, ReplayOptions, ReplayReport};

use crate::cmd::connect::ConnectArgs;
use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The archive to import.
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// Target user (UPN): their primary mailbox, or their in-place archive with --archive.
    #[arg(
        long,
        value_name = "UPN",
        required_unless_present = "mailbox",
        conflicts_with = "mailbox"
    )]
    pub user: Option<String>,
    /// With --user: replay into the user's in-place archive mailbox.
    #[arg(long = "archive", requires = "user")]
    pub to_archive: bool,
    /// Target mailbox id (`MBX:...`).
    #[arg(long, value_name = "ID")]
    pub mailbox: Option<String>,
    /// Put the whole tree under this folder path (created where missing) instead of merging
    /// into the matching folders.
    #[arg(long, value_name = "PATH")]
    pub into: Option<String>,
    /// Only this archive folder subtree (display-name path like `Inbox/Projects`); repeatable.
    #[arg(long = "folder", value_name = "PATH")]
    pub folders: Vec<String>,
    /// Only items created on or after DATE (`2024-05-01` or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only items created before DATE (a bare date includes that day).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only items of this message class and its subclasses (e.g. `IPM.Note`); repeatable.
    #[arg(long = "class", value_name = "CLASS")]
    pub classes: Vec<String>,
    /// Print the plan (folders to create, items to import, items already there); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After importing, re-export the items and compare them with the archive.
    #[arg(long)]
    pub verify: bool,
    /// Journal file (default: ~/.local/state/mbxa/replay/<archive-id>-<mailbox-hash>.journal).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Uploads in flight (Outlook allows 4 concurrent requests per app and mailbox).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
    /// Upload budget per mailbox as BYTES/SECONDS (Outlook: 150MB/300).
    #[arg(long, value_name = "BYTES/SECS", default_value = "150MB/300")]
    pub upload_budget: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs `mbxa replay`.
pub fn replay(args: ReplayArgs, out: &Output) -> anyhow::Result<Outcome> {
    let mut opts = ReplayOptions::new(String::new());
    opts.into = args.into.clone();
    opts.folders = args.folders.clone();
    opts.since = match &args.since {
        Some(s) => Some(
            mbxa_replay::plan::parse_date(s, false)
                .with_context(|| format!("--since {s:?}: expected YYYY-MM-DD or RFC 3339"))?,
        ),
        None => None,
    };
    opts.until = match &args.until {
        Some(s) => Some(
            mbxa_replay::plan::parse_date(s, true)
                .with_context(|| format!("--until {s:?}: expected YYYY-MM-DD or RFC 3339"))?,
        ),
        None => None,
    };
    opts.message_classes = args.classes.clone();
    opts.dry_run = args.dry_run;
    opts.verify = args.verify;
    opts.journal = args.journal.clone();
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    opts.concurrency = args.concurrency;
    opts.upload_budget = parse_budget(&args.upload_budget)?;
    if !args.archive.is_file() {
        bail!("archive {} not found", args.archive.display());
    }

    let cfg = args.connect.to_config()?;
    let client = mbxa_graph::GraphClient::new(cfg).context("cannot set up the Graph client")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let progress = CliProgress::new(out);
    let report = rt.block_on(async {
        opts.mailbox_id = match (&args.mailbox, &args.user) {
            (Some(m), _) => m.clone(),
            (None, Some(u)) => {
                let s = client
                    .exchange_settings(u)
                    .await
                    .with_context(|| format!("cannot look up the mailboxes of {u}"))?;
                if args.to_archive {
                    s.archive_mailbox_id
                        .with_context(|| format!("{u} has no in-place archive mailbox"))?
                } else {
                    s.primary_mailbox_id
                }
            }
            (None, None) => bail!("--user or --mailbox is required"),
        };
        let r = mbxa_replay::replay(&client, &args.archive, &opts, &progress)
            .await
            .with_context(|| format!("cannot replay {}", args.archive.display()))?;
        anyhow::Ok(r)
    })?;
    progress.finish();
    render(&report, out)?;
    Ok(if report.has_problems() {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

/// Parses `150MB/300` (decimal units KB, MB, GB; seconds).
fn parse_budget(s: &str) -> anyhow::Result<mbxa_replay::Budget> {
    let bad = || anyhow::anyhow!("--upload-budget {s:?}: expected BYTES/SECONDS like 150MB/300");
    let (b, w) = s.split_once('/').ok_or_else(bad)?;
    let b = b.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = b.strip_suffix("GB") {
        (n, 1_000_000_000u64)
    } else if let Some(n) = b.strip_suffix("MB") {
        (n, 1_000_000)
    } else if let Some(n) = b.strip_suffix("KB") {
        (n, 1000)
    } else {
        (b.as_str(), 1)
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs: f64 = w.trim().trim_end_matches('s').parse().map_err(|_| bad())?;
    if !(n.is_finite() && n >= 1.0 && secs.is_finite() && secs > 0.0) {
        return Err(bad());
    }
    Ok(mbxa_replay::Budget {
        limit: (n * mult as f64) as u64,
        window: Duration::from_secs_f64(secs),
    })
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn render(r: &ReplayReport, out: &Output) -> anyhow::Result<()> {
    if out.is_json() {
        return out.json(r);
    }
    let verb = if r.dry_run {
        "plan (dry run)"
    } else {
        "replay"
    };
    out.line(&format!(
        "{verb}: archive {} into {}",
        r.archive_id, r.mailbox_id
    ));
    if !r.folders_created.is_empty() {
        let what = if r.dry_run {
            "folders to create"
        } else {
            "folders created"
        };
        out.line(&format!("{what}: {}", r.folders_created.len()));
        for f in &r.folders_created {
            out.line(&format!("  {f}"));
        }
    }
    if r.dry_run {
        for f in r
            .folders
            .iter()
            .filter(|f| f.to_import > 0 || f.already_present > 0)
        {
            out.line(&format!(
                "  {}: {} to import, {} already there",
                f.path, f.to_import, f.already_present
            ));
        }
        out.line(&format!(
            "items to import: {} ({})",
            r.imported,
            human_bytes(r.imported_bytes)
        ));
        out.line(&format!("items already imported: {}", r.already_present));
    } else {
        out.line(&format!(
            "imported: {} ({}) in {:.1} s",
            r.imported,
            human_bytes(r.imported_bytes),
            r.elapsed_secs
        ));
        out.line(&format!(
            "already present: {} ({} found by search key)",
            r.already_present, r.found_by_search_key
        ));
    }
    out.line(&format!(
        "skipped: {} capture failed, {} in system folders, {} filtered",
        r.skipped_export_failed.len(),
        r.skipped_system,
        r.filtered
    ));
    for s in &r.skipped_export_failed {
        out.line(&format!("  {} ({}): {}", s.item_id, s.folder, s.reason));
    }
    out.line(&format!("failed: {}", r.failed.len()));
    for f in &r.failed {
        out.line(&format!("  {} ({}): {}", f.item_id, f.folder, f.reason));
    }
    if let Some(v) = &r.verify {
        out.line(&format!(
            "verify: {} checked, {} equal, {} differ, {} errors",
            v.checked,
            v.matched,
            v.mismatched.len(),
            v.errors.len()
        ));
        for m in &v.mismatched {
            out.line(&format!(
                "  {} -> {}: {}",
                m.item_id,
                m.target_id,
                m.differences.join("; ")
            ));
        }
        for e in &v.errors {
            out.line(&format!("  {}: {}", e.item_id, e.reason));
        }
    }
    Ok(())
}

/// Progress: an indicatif bar on a terminal, JSON Lines with `--progress json`, else nothing.
struct CliProgress {
    bar: Option<indicatif::ProgressBar>,
    json: bool,
    total_items: AtomicU64,
    done_items: AtomicU64,
    done_bytes: AtomicU64,
    started: Mutex<Instant>,
}

impl CliProgress {
    fn new(out: &Output) -> Self {
        let bar = out.bars().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} replay [{bar:30}] {pos}/{len} items {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        CliProgress {
            bar,
            json: out.json_progress(),
            total_items: AtomicU64::new(0),
            done_items: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
            started: Mutex::new(Instant::now()),
        }
    }

    fn event(&self, v: serde_json::Value) {
        if self.json {
            eprintln!("{v}");
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn planned(&self, t: &PlanTotals) {
        self.total_items.store(t.items_to_import, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        if let Some(b) = &self.bar {
            b.set_length(t.items_to_import);
        }
        self.event(serde_json::json!({
            "event": "plan",
            "folders_to_create": t.folders_to_create,
            "items_to_import": t.items_to_import,
            "bytes_to_import": t.bytes_to_import,
            "already_imported": t.already_imported,
        }));
    }

    fn folder_created(&self, path: &str) {
        self.event(serde_json::json!({"event": "folder_created", "path": path}));
    }

    fn item(&self, item_id: &str, outcome: &ItemOutcome, bytes: u64) {
        let done = self.done_items.fetch_add(1, Ordering::Relaxed) + 1;
        let done_bytes = if matches!(outcome, ItemOutcome::Imported) {
            self.done_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes
        } else {
            self.done_bytes.load(Ordering::Relaxed)
        };
        let elapsed = self
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            .as_secs_f64();
        if let Some(b) = &self.bar {
            b.set_position(done);
            let rate = if elapsed > 0.0 {
                done_bytes as f64 / elapsed
            } else {
                0.0
            };
            b.set_message(format!(
                "{} ({}/s)",
                human_bytes(done_bytes),
                human_bytes(rate as u64)
            ));
        }
        if self.json {
            let total = self.total_items.load(Ordering::Relaxed);
            let eta = if done > 0 && total > done {
                elapsed / done as f64 * (total - done) as f64
            } else {
                0.0
            };
            let (kind, reason) = match outcome {
                ItemOutcome::Imported => ("imported", None),
                ItemOutcome::AlreadyPresent => ("already_present", None),
                ItemOutcome::Failed(r) => ("failed", Some(r.as_str())),
            };
            self.event(serde_json::json!({
                "event": "item",
                "item_id": item_id,
                "outcome": kind,
                "reason": reason,
                "bytes": bytes,
                "items_done": done,
                "items_total": total,
                "bytes_done": done_bytes,
                "eta_secs": (eta * 10.0).round() / 10.0,
            }));
        }
    }

    fn paced(&self, wait: Duration) {
        self.event(serde_json::json!({"event": "paced", "wait_secs": wait.as_secs_f64()}));
    }

    fn verified(&self, done: u64, total: u64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("verified {done}/{total}"));
        }
        self.event(serde_json::json!({"event": "verified", "done": done, "total": total}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        let b = parse_budget("150MB/300").unwrap();
        assert_eq!(b.limit, 150_000_000);
        assert_eq!(b.window, Duration::from_secs(300));
        assert_eq!(parse_budget("2.5mb/10s").unwrap().limit, 2_500_000);
        assert!(parse_budget("0/1").is_err());
        assert!(parse_budget("10MB").is_err());
        assert!(parse_budget("10MB/0").is_err());
    }
}
