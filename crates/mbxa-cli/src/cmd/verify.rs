//! `mbxa verify`: every byte of an archive, in parallel.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Archives to check.
    #[arg(required = true, value_name = "ARCHIVE")]
    pub archives: Vec<PathBuf>,
    /// Also parse every item's FastTransfer stream.
    #[arg(long)]
    pub deep: bool,
}

#[derive(Serialize)]
struct Unreadable {
    path: PathBuf,
    error: String,
}

#[derive(Serialize)]
struct VerifyJson<'a> {
    intact: bool,
    archives: &'a [mbxa_verify::Report],
    unreadable: &'a [Unreadable],
}

/// Human-readable byte count.
pub(crate) fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// A progress reporter for byte-counted work: a bar on a terminal, JSON Lines with
/// `--progress json`, nothing otherwise.
pub(crate) struct Bytes<'a> {
    out: &'a Output,
    label: String,
    bar: Option<indicatif::ProgressBar>,
    last: Mutex<Instant>,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(out: &'a Output, label: String) -> Self {
        let bar = out.bars().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(label.clone());
            b
        });
        Bytes {
            out,
            label,
            bar,
            last: Mutex::new(Instant::now() - Duration::from_secs(10)),
        }
    }

    pub(crate) fn update(&self, done: u64, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(done);
        } else if self.out.json_progress() {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= Duration::from_millis(500) || done == total {
                *last = Instant::now();
                eprintln!(
                    "{}",
                    serde_json::json!({"event": "progress", "what": self.label, "done": done, "total": total})
                );
            }
        }
    }

    pub(crate) fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// Runs `mbxa verify`.
pub fn verify(args: VerifyArgs, out: &Output) -> anyhow::Result<Outcome> {
    let opts = mbxa_verify::Options { deep: args.deep };
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for path in &args.archives {
        let p = Bytes::new(out, path.display().to_string());
        let res = mbxa_verify::verify_archive(path, &opts, &|pr| p.update(pr.done, pr.total));
        p.finish();
        match res {
            Ok(r) => {
                if !out.is_json() {
                    print_report(out, &r);
                }
                reports.push(r);
            }
            Err(e) => {
                out.error(&e.to_string());
                unreadable.push(Unreadable {
                    path: path.clone(),
                    error: e.to_string(),
                });
            }
        }
    }
    let intact = unreadable.is_empty() && reports.iter().all(|r| r.is_intact());
    if out.is_json() {
        out.json(&VerifyJson {
            intact,
            archives: &reports,
            unreadable: &unreadable,
        })?;
    }
    if !unreadable.is_empty() {
        anyhow::bail!(
            "{} of {} archives could not be read",
            unreadable.len(),
            args.archives.len()
        );
    }
    Ok(if intact {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

fn print_report(out: &Output, r: &mbxa_verify::Report) {
    let id = r
        .archive_id
        .as_deref()
        .map(|s| &s[..s.len().min(12)])
        .unwrap_or("-");
    if r.is_intact() {
        let deep = if r.deep {
            format!(", {} items parsed", r.items_parsed)
        } else {
            String::new()
        };
        out.line(&format!(
            "ok       {}  archive {id}: {} blobs, {} uncompressed, {} on disk{deep}",
            r.path.display(),
            r.blobs,
            human(r.blob_bytes),
            human(r.file_len)
        ));
        return;
    }
    out.line(&format!(
        "DAMAGED  {}  archive {id}: {} problem(s)",
        r.path.display(),
        r.problems.len()
    ));
    for p in &r.problems {
        let mut line = format!(
            "  {:?} {} at offset {}: {}",
            p.kind, p.entry, p.offset, p.message
        );
        if let (Some(e), Some(a)) = (&p.expected, &p.actual) {
            line.push_str(&format!(" (expected {e}, actual {a})"));
        }
        out.line(&line);
    }
}
