//! `mbxa mailboxes` and `mbxa capture`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use mbxa_capture::{CaptureOptions, CaptureReport, Progress, ProgressEvent};
use mbxa_format::MailboxKind;
use mbxa_graph::GraphClient;

use crate::cmd::connect::ConnectArgs;
use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa mailboxes`.
#[derive(Debug, clap::Args)]
pub struct MailboxesArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The user (UPN or id) whose mailbox ids to print.
    #[arg(long, value_name = "UPN")]
    user: String,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn client(connect: &ConnectArgs) -> anyhow::Result<GraphClient> {
    let cfg = connect.to_config()?;
    GraphClient::new(cfg).context("cannot configure the Graph client")
}

/// Runs `mbxa mailboxes`.
pub fn mailboxes(args: MailboxesArgs, out: &Output) -> anyhow::Result<Outcome> {
    let client = client(&args.connect)?;
    let rt = runtime()?;
    let s = rt
        .block_on(client.exchange_settings(&args.user))
        .with_context(|| format!("cannot read the mailbox ids of {}", args.user))?;
    if out.is_json() {
        out.json(&serde_json::json!({
            "user": args.user,
            "primary_mailbox_id": s.primary_mailbox_id,
            "archive_mailbox_id": s.archive_mailbox_id,
        }))?;
    } else {
        out.line(&format!("primary\t{}", s.primary_mailbox_id));
        match &s.archive_mailbox_id {
            Some(a) => out.line(&format!("archive\t{a}")),
            None => out.line("archive\t-"),
        }
    }
    Ok(Outcome::Ok)
}

/// Arguments of `mbxa capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Capture this user's mailbox (UPN); its id is looked up.
    #[arg(
        long,
        value_name = "UPN",
        required_unless_present = "mailbox",
        conflicts_with = "mailbox"
    )]
    user: Option<String>,
    /// With --user: capture the user's in-place archive mailbox instead of the primary. With
    /// --mailbox: the id is an in-place archive's (recorded in the archive as such).
    #[arg(long)]
    archive: bool,
    /// Capture this mailbox id (`MBX:...`) directly.
    #[arg(long, value_name = "ID")]
    mailbox: Option<String>,
    /// The archive to write; it appears only when complete.
    #[arg(short = 'o', long = "output", value_name = "OUT.mbxa")]
    output: PathBuf,
    /// Previous archive of the same mailbox: export only new and changed items.
    #[arg(long, value_name = "PREV.mbxa")]
    base: Option<PathBuf>,
    /// Only this folder subtree, by display-name path (e.g. `Inbox/Projects`); repeatable.
    #[arg(long = "folder", value_name = "PATH")]
    folders: Vec<String>,
}

/// Renders capture progress: indicatif bars, JSON Lines, or nothing.
struct Render {
    json: bool,
    bar: Option<indicatif::ProgressBar>,
    /// Throttle waits seen, for the bar's message.
    waits: Mutex<(u64, f64)>,
}

impl Render {
    fn new(out: &Output) -> Self {
        let bar = out.bars().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos}/{len} items {bar:30} {msg} [{elapsed_precise}, eta {eta}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Render {
            json: out.json_progress(),
            bar,
            waits: Mutex::new((0, 0.0)),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Render {
    fn event(&self, e: &ProgressEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(e) {
                eprintln!("{line}");
            }
        }
        let Some(b) = &self.bar else { return };
        match e {
            ProgressEvent::Started {
                items_already_done,
                resumed,
                ..
            } => {
                if *resumed {
                    b.println(format!(
                        "resuming: {items_already_done} items already captured"
                    ));
                }
            }
            ProgressEvent::Folders {
                selected, total, ..
            } => {
                b.set_message(format!("listing {selected} of {total} folders"));
            }
            ProgressEvent::Retry {
                throttle,
                wait_secs,
                ..
            } => {
                if *throttle {
                    let mut w = self.waits.lock().unwrap_or_else(|p| p.into_inner());
                    w.0 += 1;
                    w.1 += wait_secs;
                }
            }
            ProgressEvent::Progress(s) | ProgressEvent::Finished(s) => {
                b.set_length(s.items_total);
                b.set_position(s.items_done);
                let w = *self.waits.lock().unwrap_or_else(|p| p.into_inner());
                b.set_message(format!(
                    "{} MB exported, {} copied, {} failed, {} throttle waits ({:.0} s){}",
                    s.bytes / 1_000_000,
                    s.copied,
                    s.failed,
                    w.0,
                    w.1,
                    if s.listing_done { "" } else { ", listing…" }
                ));
            }
            ProgressEvent::FolderListed { .. } => {}
        }
    }
}

fn report_json(r: &CaptureReport) -> serde_json::Value {
    serde_json::json!({
        "archive": r.path,
        "archive_id": r.archive_id.to_hex(),
        "mailbox_id": r.mailbox_id,
        "base_archive": r.base_archive.map(|b| b.to_hex()),
        "resumed": r.resumed,
        "complete": r.is_complete(),
        "folders": r.folders,
        "folders_captured": r.folders_captured,
        "items": r.items,
        "blobs": r.blobs,
        "bytes": r.bytes,
        "exported": r.exported,
        "copied_from_base": r.copied,
        "failed": r.failed,
        "vanished": r.vanished,
        "delta_expired_folders": r.delta_expired,
        "retries": r.retries,
        "retry_wait_secs": r.retry_wait_secs,
        "elapsed_secs": r.elapsed.as_secs_f64(),
    })
}

/// Runs `mbxa capture`.
pub fn capture(args: CaptureArgs, out: &Output) -> anyhow::Result<Outcome> {
    let client = client(&args.connect)?;
    let tenant = args.connect.tenant.clone().unwrap_or_default();
    let rt = runtime()?;
    let render = Arc::new(Render::new(out));
    let progress: Arc<dyn Progress> = render.clone();
    let result = rt.block_on(async {
        let (mailbox_id, user, kind) = match (&args.mailbox, &args.user) {
            (Some(m), _) if args.archive => (m.clone(), String::new(), MailboxKind::Archive),
            (Some(m), _) => (m.clone(), String::new(), MailboxKind::Primary),
            (None, Some(u)) => {
                let s = client
                    .exchange_settings(u)
                    .await
                    .with_context(|| format!("cannot read the mailbox ids of {u}"))?;
                if args.archive {
                    let a = s
                        .archive_mailbox_id
                        .with_context(|| format!("{u} has no in-place archive mailbox"))?;
                    (a, u.clone(), MailboxKind::Archive)
                } else {
                    (s.primary_mailbox_id, u.clone(), MailboxKind::Primary)
                }
            }
            (None, None) => anyhow::bail!("give --user or --mailbox"),
        };
        let mut opts = CaptureOptions::new(mailbox_id, args.output.clone())
            .source(tenant, user, kind)
            .folders(args.folders.clone());
        opts.base = args.base.clone();
        tokio::select! {
            r = mbxa_capture::capture_mailbox(&client, opts, progress) => {
                r.with_context(|| format!("capture into {} failed", args.output.display()))
            }
            _ = tokio::signal::ctrl_c() => {
                anyhow::bail!(
                    "interrupted; progress is saved in {}: re-run the same command to resume",
                    mbxa_capture::journal_path(&args.output).display()
                )
            }
        }
    });
    render.finish();
    let report = result?;
    if out.is_json() {
        out.json(&report_json(&report))?;
    } else {
        out.line(&format!(
            "{}: {} items in {} folders ({} exported, {} copied from base, {} failed, {} vanished), {} blobs, {} bytes, archive id {}{}",
            report.path.display(),
            report.items,
            report.folders_captured,
            report.exported,
            report.copied,
            report.failed.len(),
            report.vanished.len(),
            report.blobs,
            report.bytes,
            report.archive_id.to_hex(),
            if report.resumed { " (resumed)" } else { "" },
        ));
        for f in &report.failed {
            out.line(&format!(
                "failed\t{}\t{}\t{}: {}",
                f.id, f.folder, f.code, f.message
            ));
        }
        for p in &report.delta_expired {
            out.info(&format!("delta token expired for {p}: listed in full (unchanged items still copied from base)"));
        }
    }
    if report.is_complete() {
        Ok(Outcome::Ok)
    } else {
        out.warn(&format!(
            "{} items could not be exported (recorded in the archive as failed)",
            report.failed.len()
        ));
        Ok(Outcome::Problems)
    }
}
