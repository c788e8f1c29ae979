//! Scenario 1: every hostile file (committed crafted fixtures, truncations, the fuzz corpora, the
//! format's corrupt fixtures) through six offline commands of the real binary.

use std::ffi::OsString;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::craft::{self, Expect};
use crate::run::{self, judge, mbxa_cmd, RunOut};
use crate::summary::Row;

/// Where a suspicious absolute or `..` path in the crafted names points; must never appear.
pub(crate) const ESCAPE: &str = "/tmp/mbxa-hostile-escape";

/// At most this many fxstream corpus files go through the binary (a long fuzzing session can
/// leave tens of thousands); all of them are small.
const MAX_CORPUS_STREAMS: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Info,
    Ls,
    Verify,
    Show,
    Extract,
    VaultAdd,
}

const CMDS: [Cmd; 6] = [
    Cmd::Info,
    Cmd::Ls,
    Cmd::Verify,
    Cmd::Show,
    Cmd::Extract,
    Cmd::VaultAdd,
];

impl Cmd {
    fn label(self) -> &'static str {
        match self {
            Cmd::Info => "info",
            Cmd::Ls => "ls",
            Cmd::Verify => "verify",
            Cmd::Show => "show",
            Cmd::Extract => "extract",
            Cmd::VaultAdd => "vault",
        }
    }
}

/// What a case demands of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Exit 0, 1 or 2 (no crash, bounded), a named error when not 0.
    Survive,
    /// As `Survive`, and exit 0 must come with a `warning:` naming the problem.
    Report,
    /// Exit 1 or 2.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crafted(Expect),
    Truncated,
    /// The format crate's corrupt fixtures: verify must fail.
    Corrupt,
    /// Fuzz corpus entries and the format's golden files: anything but a crash.
    Corpus,
}

struct Case {
    scenario: &'static str,
    label: String,
    path: PathBuf,
    item: String,
    kind: Kind,
    cmds: &'static [Cmd],
}

fn need(kind: Kind, cmd: Cmd) -> Need {
    match kind {
        Kind::Crafted(Expect::OpenFails) | Kind::Truncated => Need::Fail,
        Kind::Crafted(Expect::VerifyFails) | Kind::Corrupt if cmd == Cmd::Verify => Need::Fail,
        Kind::Crafted(Expect::DeepFails) => match cmd {
            Cmd::Verify | Cmd::Extract => Need::Fail,
            Cmd::Show => Need::Report,
            _ => Need::Survive,
        },
        _ => Need::Survive,
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn fixtures_dir() -> PathBuf {
    workspace().join("fixtures/hostile")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

/// First item id of an archive that opens, else a placeholder.
fn first_item(bytes: &[u8]) -> String {
    mbxa_format::ArchiveReader::open(Cursor::new(bytes))
        .ok()
        .and_then(|r| r.manifest().items.first().map(|i| i.id.clone()))
        .unwrap_or_else(|| "item-1".into())
}

fn cases(work: &Path) -> Vec<Case> {
    let mut cs = Vec::new();
    // Crafted fixtures, as committed (the generator test keeps them current).
    let by_name: std::collections::HashMap<&str, (Expect, &str)> = craft::fixtures()
        .iter()
        .map(|f| (f.name, (f.expect, f.item)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    for p in files_in(&fixtures_dir()) {
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if p.extension().and_then(|e| e.to_str()) != Some("mbxa") {
            continue;
        }
        let Some(&(expect, item)) = by_name.get(stem) else {
            continue;
        };
        cs.push(Case {
            scenario: "hostile: crafted archives",
            label: stem.to_string(),
            path: p.clone(),
            item: item.to_string(),
            kind: Kind::Crafted(expect),
            cmds: &CMDS,
        });
    }
    // The base archive cut short at many offsets.
    let base = std::fs::read(fixtures_dir().join("base.mbxa")).expect("fixtures/hostile/base.mbxa");
    let n = base.len();
    let mut cuts: Vec<usize> = vec![
        0,
        1,
        511,
        512,
        1023,
        1024,
        1536,
        n / 2,
        n - 2049,
        n - 2048,
        n - 1536,
        n - 1024,
        n - 512,
        n - 1,
    ];
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        let p = work.join(format!("truncated-{cut}.mbxa"));
        std::fs::write(&p, &base[..cut]).expect("write truncation");
        cs.push(Case {
            scenario: "hostile: truncations",
            label: format!("truncated at {cut}/{n}"),
            path: p,
            item: "item-1".into(),
            kind: Kind::Truncated,
            cmds: &[Cmd::Info, Cmd::Verify, Cmd::VaultAdd],
        });
    }
    // Fuzz corpora: archives as they are, item streams inside a byte-valid archive.
    let ws = workspace();
    for p in files_in(&ws.join("fuzz/corpus/read_archive")) {
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        cs.push(Case {
            scenario: "fuzz corpora",
            label: format!(
                "read_archive/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
            item: first_item(&bytes),
            path: p,
            kind: Kind::Corpus,
            cmds: &CMDS,
        });
    }
    // The fxstream corpus may hold thousands of streams (and a running fuzzer adds and removes
    // files): they go into archives of up to 250 items each; files that vanish are skipped.
    let streams: Vec<(String, Vec<u8>)> = files_in(&ws.join("fuzz/corpus/fxstream"))
        .into_iter()
        .take(MAX_CORPUS_STREAMS)
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((format!("fx-{name}"), std::fs::read(&p).ok()?))
        })
        .collect();
    for (k, chunk) in streams.chunks(250).enumerate() {
        let a = work.join(format!("fxstream-{k}.mbxa"));
        std::fs::write(&a, craft::archive_with_streams(chunk)).expect("write");
        cs.push(Case {
            scenario: "fuzz corpora",
            label: format!(
                "fxstream corpus, {} streams from {}",
                chunk.len(),
                chunk[0].0
            ),
            path: a,
            item: chunk[0].0.clone(),
            kind: Kind::Corpus,
            cmds: &CMDS,
        });
    }
    for p in files_in(&ws.join("fixtures/v1/corrupt")) {
        let bytes = std::fs::read(&p).expect("fixture");
        cs.push(Case {
            scenario: "format corrupt fixtures",
            label: format!(
                "v1/corrupt/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
            item: first_item(&bytes),
            path: p,
            kind: Kind::Corrupt,
            cmds: &CMDS,
        });
    }
    cs
}

/// Every path under `root` (files and directories), relative.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    out
}

/// A run and the verdict on it.
type Judged = (RunOut, Result<(), String>);

struct Job<'a> {
    case: &'a Case,
    cmd: Cmd,
    n: usize,
}

/// One command on one case, in its own sandbox directory; `Err` says what went wrong.
fn one(job: &Job<'_>, work: &Path) -> Judged {
    let sandbox = work.join(format!("run-{}", job.n));
    let cwd = sandbox.join("cwd");
    let out = sandbox.join("out");
    std::fs::create_dir_all(&cwd).expect("sandbox");
    let a: OsString = job.case.path.clone().into();
    let args: Vec<OsString> = match job.cmd {
        Cmd::Info => vec!["info".into(), a],
        Cmd::Ls => vec!["ls".into(), a, "--items".into()],
        Cmd::Verify => vec!["verify".into(), "--deep".into(), a],
        Cmd::Show => vec!["show".into(), a, job.case.item.clone().into()],
        Cmd::Extract => vec![
            "extract".into(),
            a,
            "-o".into(),
            out.clone().into(),
            "--format".into(),
            "eml".into(),
        ],
        Cmd::VaultAdd => vec![
            "vault".into(),
            "add".into(),
            sandbox.join("vault").into(),
            a,
        ],
    };
    let r = run::run(mbxa_cmd(&args, &cwd), run::TIME_BOUND);
    let mut verdict = judge(&r, need(job.case.kind, job.cmd) == Need::Fail);
    if verdict.is_ok()
        && need(job.case.kind, job.cmd) == Need::Report
        && r.code == Some(0)
        && !r.stderr.lines().any(|l| l.starts_with("warning: "))
    {
        verdict = Err("exit 0 and no warning about the hostile item".into());
    }
    if verdict.is_ok() {
        // Nothing may be written outside the output (or vault) directory.
        let stray: Vec<PathBuf> = tree(&sandbox)
            .into_iter()
            .filter(|p| !(p.starts_with("out") || p.starts_with("vault") || p.as_os_str() == "cwd"))
            .collect();
        if !stray.is_empty() {
            verdict = Err(format!("wrote outside its output directory: {stray:?}"));
        } else if Path::new(ESCAPE).exists() {
            verdict = Err(format!("{ESCAPE} was created"));
        }
    }
    let _ = std::fs::remove_dir_all(&sandbox);
    (r, verdict)
}

/// Runs the scenario; returns summary rows and a per-case exit-code matrix.
pub(crate) fn scenario(work: &Path) -> (Vec<Row>, Vec<String>) {
    let _ = std::fs::remove_dir_all(ESCAPE);
    let cs = cases(work);
    let jobs: Vec<Job<'_>> = cs
        .iter()
        .flat_map(|c| c.cmds.iter().map(move |&cmd| (c, cmd)))
        .enumerate()
        .map(|(n, (case, cmd))| Job { case, cmd, n })
        .collect();
    let results: Mutex<Vec<Option<Judged>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(k) else { break };
                let res = one(job, work);
                results.lock().unwrap_or_else(|p| p.into_inner())[k] = Some(res);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());

    let mut rows: Vec<Row> = Vec::new();
    let mut matrix = Vec::new();
    for c in &cs {
        let row = match rows.iter_mut().position(|r| r.scenario == c.scenario) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(Row::new(c.scenario));
                rows.last_mut().expect("just pushed")
            }
        };
        row.faults += 1;
        let mut cells = Vec::new();
        let mut peak = 0;
        let mut slowest = std::time::Duration::ZERO;
        for (job, res) in jobs.iter().zip(&results) {
            if !std::ptr::eq(job.case, c) {
                continue;
            }
            let Some((r, verdict)) = res else { continue };
            row.runs += 1;
            peak = peak.max(r.peak);
            slowest = slowest.max(r.elapsed);
            let code = r
                .code
                .map(|c| c.to_string())
                .unwrap_or_else(|| format!("sig{}", r.signal.unwrap_or(0)));
            match verdict {
                Ok(()) => {
                    row.passed += 1;
                    cells.push(format!("{}={code}", job.cmd.label()));
                }
                Err(e) => {
                    row.failed += 1;
                    cells.push(format!("{}={code}!", job.cmd.label()));
                    row.failures
                        .push(format!("{} / mbxa {}: {e}", c.label, job.cmd.label()));
                }
            }
        }
        matrix.push(format!(
            "  {:<44} {:<62} peak {:>4} MiB, slowest {:>5} ms",
            c.label,
            cells.join(" "),
            peak >> 20,
            slowest.as_millis()
        ));
    }
    (rows, matrix)
}
