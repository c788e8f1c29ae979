//! Capture throughput and peak memory against the emulator with per-call latency.
//!
//! `cargo bench -p mbxa-capture --bench capture` runs the table of `BENCH.md`. The parent process
//! hosts the emulator; each scenario runs the capture in a child process (this same binary with
//! `child`), so the child's peak RSS (`VmHWM`) is the capture's alone. The ceiling is what Graph's
//! limits allow: `mailboxes × 4 calls in flight × 20 items per call ÷ latency`.
//!
//! Arguments (optional): `--latency-ms N` (default 50), `--quick` (small sizes), `--single`
//! (only the one-mailbox rows), `--only N` (only the N-th row).

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mbxa_capture::{CaptureOptions, Progress, ProgressEvent};
use mbxa_emulator::{Emulator, EmulatorConfig, Limits};
use mbxa_graph::{ClientAuth, GraphClient, GraphConfig, SecretString};

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child: capture the mailboxes named on stdin's first line (JSON), print one JSON result line.
fn child() {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    let job: serde_json::Value = serde_json::from_str(&line).unwrap();
    let s = |k: &str| job[k].as_str().unwrap().to_string();
    let mailboxes: Vec<String> = job["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let dir = std::path::PathBuf::from(s("dir"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = GraphConfig::new(
        s("graph_url"),
        s("login_url"),
        s("tenant"),
        s("client"),
        ClientAuth::Secret(SecretString::new(s("secret"))),
    );
    let client = GraphClient::new(cfg).unwrap();
    let first_commit = Arc::new(Mutex::new(None::<Instant>));
    let fc = first_commit.clone();
    let progress: Arc<dyn Progress> = Arc::new(move |e: &ProgressEvent| {
        if matches!(e, ProgressEvent::Progress(_)) {
            fc.lock().unwrap().get_or_insert_with(Instant::now);
        }
    });
    let jobs: Vec<CaptureOptions> = mailboxes
        .iter()
        .enumerate()
        .map(|(i, m)| CaptureOptions::new(m, dir.join(format!("b{i}.mbxa"))))
        .collect();
    let n = job["parallel"].as_u64().map_or(jobs.len(), |p| p as usize);
    let t0 = Instant::now();
    let results = rt.block_on(mbxa_capture::capture_mailboxes(&client, jobs, n, progress));
    let secs = t0.elapsed().as_secs_f64();
    let mut items = 0;
    let mut bytes = 0;
    let mut retries = 0;
    for r in results {
        let r = r.unwrap();
        items += r.items;
        bytes += r.bytes;
        retries += r.retries;
    }
    let export_secs = first_commit
        .lock()
        .unwrap()
        .map(|t| t.elapsed().as_secs_f64())
        .unwrap_or(secs);
    println!(
        "{}",
        serde_json::json!({"items": items, "bytes": bytes, "secs": secs, "export_secs": export_secs,
                           "retries": retries, "vm_hwm_kb": vm_hwm_kb()})
    );
}

fn emu_items(per_mailbox: &[(String, u64)], m: &str) -> u64 {
    per_mailbox
        .iter()
        .find(|(id, _)| id == m)
        .map_or(0, |(_, n)| *n)
}

fn scenario(
    rt: &tokio::runtime::Runtime,
    mailboxes: usize,
    parallel: usize,
    items: usize,
    latency: Duration,
) -> String {
    let mut cfg = EmulatorConfig::generated(1, mailboxes, items);
    for u in &mut cfg.tenants[0].users {
        u.with_archive = false;
    }
    cfg.latency = latency;
    cfg.limits = Limits::default();
    let emu = rt.block_on(Emulator::start(cfg)).unwrap();
    let t = emu.tenants().remove(0);
    let ids: Vec<String> = t
        .users
        .iter()
        .map(|u| u.primary_mailbox_id.clone())
        .collect();
    let per_mailbox: Vec<(String, u64)> = ids
        .iter()
        .map(|m| (m.clone(), emu.mailbox_snapshot(m).items.len() as u64))
        .collect();
    let total: usize = per_mailbox.iter().map(|(_, n)| *n as usize).sum();
    let dir = std::env::temp_dir().join(format!(
        "mbxa-bench-{}-{mailboxes}-{items}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let job = serde_json::json!({
        "graph_url": emu.graph_url(), "login_url": emu.login_url(), "tenant": t.tenant_id,
        "client": t.client_id, "secret": t.client_secret, "mailboxes": ids, "dir": dir,
        "parallel": parallel,
    });
    let mut c = Command::new(std::env::current_exe().unwrap())
        .arg("child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{job}").unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stats = emu.stats();
    let exports = stats.route("POST exportItems");
    let lists = stats.requests - exports - stats.route("POST token");
    rt.block_on(emu.shutdown());
    let got = r["items"].as_u64().unwrap() as usize;
    assert_eq!(got, total);
    let secs = r["secs"].as_f64().unwrap();
    let export_secs = r["export_secs"].as_f64().unwrap();
    let ceiling = parallel as f64 * 4.0 * 20.0 / latency.as_secs_f64();
    // The limits count listing calls too: with the calls this mailbox set cannot do without
    // (its listing pages, and one export call per 20 items), the best the limits allow is this.
    let needed_exports: u64 = ids
        .iter()
        .map(|m| emu_items(&per_mailbox, m).div_ceil(20))
        .sum();
    let slot_secs =
        (lists + needed_exports) as f64 * latency.as_secs_f64() / (4.0 * parallel as f64);
    let call_ceiling = got as f64 / slot_secs;
    let rate = got as f64 / secs;
    let xrate = got as f64 / export_secs;
    format!(
        "| {mailboxes} ({parallel} at once), {} ms | {got} | {:.1} MB | {secs:.2} s | {rate:.0} | {xrate:.0} | {ceiling:.0} | {:.0}% | {:.0}% | {lists} / {exports} | {call_ceiling:.0} | {:.0}% | {} | {:.1} MB |",
        latency.as_millis(),
        r["bytes"].as_f64().unwrap() / 1e6,
        100.0 * rate / ceiling,
        100.0 * xrate / ceiling,
        100.0 * rate / call_ceiling,
        r["retries"],
        r["vm_hwm_kb"].as_f64().unwrap() / 1024.0
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child();
    }
    let latency_ms: u64 = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let quick = args.iter().any(|a| a == "--quick");
    let latency = Duration::from_millis(latency_ms);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("latency {latency_ms} ms per call");
    println!("| mailboxes, latency | items | bytes | wall | items/s | items/s (export phase) | ceiling | % (wall) | % (export) | calls list / export | ceiling with the listing calls | % of it (wall) | retries | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // (mailboxes, captured at once, items per mailbox, latency multiplier)
    // `--single`: only the one-mailbox rows (to iterate on the scheduling quickly).
    let single = args.iter().any(|a| a == "--single");
    let runs: &[(usize, usize, usize, u32)] = if quick {
        &[(1, 1, 500, 1), (4, 4, 200, 1)]
    } else if single {
        &[(1, 1, 2000, 1), (1, 1, 8000, 1)]
    } else {
        // The last row gives each call 20× the latency, so that 50 mailboxes at once are bound
        // by Graph's limits and not by this machine's 2 cores: it measures the scheduling.
        &[
            (1, 1, 2000, 1),
            (1, 1, 8000, 1),
            (50, 50, 400, 1),
            (50, 10, 400, 1),
            (50, 50, 400, 20),
        ]
    };
    // `--only N`: only the N-th row (1-based) of the chosen set.
    let only: Option<usize> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    for (i, &(m, p, n, x)) in runs.iter().enumerate() {
        if only.is_some_and(|o| o != i + 1) {
            continue;
        }
        println!("{}", scenario(&rt, m, p, n, latency * x));
    }
}
