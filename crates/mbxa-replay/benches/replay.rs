//! Replay throughput against the emulator's limits: upload budget, concurrency, latency.
//!
//! `cargo bench -p mbxa-replay --bench replay` prints a Markdown table (copied into BENCH.md).
//! Each scenario replays one generated mailbox into an empty mailbox of another tenant and
//! compares the rate with the ceiling the limits allow:
//! - budget-bound: the emulator counts request bodies in a sliding window (B bytes per W); the
//!   first B bytes may go at once, the rest at B/W at best, so the least possible time for S
//!   body bytes is (S − B)·W/B, and efficiency = that / measured time;
//! - latency-bound: 4 requests in flight, each at least the emulator latency L, so the least
//!   possible time for N uploads is N·L/4;
//! - unlimited: no limits, no latency (the client's own overhead).

use std::path::Path;
use std::time::{Duration, Instant};

use mbxa_emulator::{Emulator, EmulatorConfig, Limits, MailboxSnapshot, TenantSpec};
use mbxa_format::{
    ArchiveFile, CaptureInfo, Folder, Item, ItemContent, MailboxKind, Manifest, Source,
};
use mbxa_graph::{ClientAuth, GraphClient, GraphConfig, SecretString};
use mbxa_replay::{Budget, PlanTotals, Progress, ReplayOptions};

/// Records when the upload phase starts: after the plan and the last folder creation.
struct Phase(std::sync::Mutex<Option<Instant>>);

impl Progress for Phase {
    fn planned(&self, _t: &PlanTotals) {
        *self.0.lock().unwrap() = Some(Instant::now());
    }
    fn folder_created(&self, _path: &str) {
        *self.0.lock().unwrap() = Some(Instant::now());
    }
}

fn archive_from_snapshot(snap: &MailboxSnapshot, path: &Path) {
    let mut f = ArchiveFile::create(path).expect("create archive");
    let mut items = Vec::new();
    for i in &snap.items {
        let id = f.writer().add_blob(&i.data).expect("add blob");
        items.push(Item {
            id: i.id.clone(),
            folder_id: i.folder_id.clone(),
            change_key: i.change_key.clone(),
            created: i.created.clone(),
            last_modified: i.last_modified.clone(),
            size: i.size,
            message_class: i.message_class.clone(),
            content: ItemContent::Blob {
                id,
                len: i.data.len() as u64,
            },
        });
    }
    let m = Manifest {
        source: Source {
            tenant_id: "t".into(),
            user: snap.upn.clone(),
            mailbox_id: snap.mailbox_id.clone(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "bench".into(),
            started_at: "2026-11-27T12:00:00Z".into(),
            finished_at: "2026-11-27T12:00:01Z".into(),
            base_archive: None,
            folders_delta_link: None,
            item_delta_links: Vec::new(),
        },
        folders: snap
            .folders
            .iter()
            .map(|f| Folder {
                id: f.id.clone(),
                parent_id: f.parent_id.clone(),
                display_name: f.display_name.clone(),
                folder_class: f.folder_type.clone(),
                well_known_name: f.well_known_name.clone(),
                item_count: f.item_count,
            })
            .collect(),
        items,
    };
    f.finish(&m).expect("finish archive");
}

struct Outcome {
    items: u64,
    data_bytes: u64,
    body_bytes: u64,
    secs: f64,
    /// Seconds of the upload phase (after listing, planning and folder creation).
    upload_secs: f64,
    throttled: u64,
}

async fn run(items: usize, limits: Limits, latency: Duration, budget: Budget) -> Outcome {
    let mut cfg = EmulatorConfig::generated(5, 1, items);
    cfg.tenants.push(TenantSpec::generated(5, 1, 1, 0));
    cfg.limits = limits;
    cfg.latency = latency;
    let emu = Emulator::start(cfg).await.expect("emulator");
    let ts = emu.tenants();
    let a = emu.mailbox_snapshot(&ts[0].users[0].primary_mailbox_id);
    let tb = &ts[1];
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("a.mbxa");
    archive_from_snapshot(&a, &archive);
    let client = GraphClient::new(GraphConfig::new(
        emu.graph_url(),
        emu.login_url(),
        tb.tenant_id.clone(),
        tb.client_id.clone(),
        ClientAuth::Secret(SecretString::new(tb.client_secret.clone())),
    ))
    .expect("client");
    let mut o = ReplayOptions::new(&tb.users[0].primary_mailbox_id);
    o.journal = Some(dir.path().join("j"));
    o.upload_budget = budget;
    emu.reset_stats();
    let t = Instant::now();
    let phase = Phase(std::sync::Mutex::new(None));
    let r = mbxa_replay::replay(&client, &archive, &o, &phase)
        .await
        .expect("replay");
    let secs = t.elapsed().as_secs_f64();
    let upload_secs = phase
        .0
        .lock()
        .unwrap()
        .map_or(secs, |p| p.elapsed().as_secs_f64());
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let stats = emu.stats();
    let body_bytes: u64 = a
        .items
        .iter()
        .map(|i| (i.data.len() as u64).div_ceil(3) * 4 + 80)
        .sum();
    if stats.all_429s() > 0 {
        eprintln!("429s: {:?} faults {:?}", stats.throttled_by, stats.faults);
    }
    emu.shutdown().await;
    Outcome {
        items: r.imported,
        data_bytes: r.imported_bytes,
        body_bytes,
        secs,
        upload_secs,
        throttled: stats.all_429s(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("| scenario | items | data MB | body MB | total s | upload phase s | items/s | data MB/s | ceiling | efficiency (upload phase) | efficiency (total) | 429s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");

    // Budget-bound: 4 MB of request bodies per 2 s (2 MB/s), concurrency 4, 2 ms latency.
    let b = Budget {
        limit: 4_000_000,
        window: Duration::from_secs(2),
    };
    let limits = Limits {
        max_upload_bytes: b.limit,
        upload_window: b.window,
        ..Limits::default()
    };
    let o = rt.block_on(run(400, limits, Duration::from_millis(2), b));
    let rate = b.limit as f64 / b.window.as_secs_f64();
    let t_min = (o.body_bytes.saturating_sub(b.limit)) as f64 / rate;
    row(
        "budget 4 MB / 2 s, 4 in flight, 2 ms",
        &o,
        format!("{:.1} MB/s body", rate / 1e6),
        t_min,
    );

    // Latency-bound: no byte budget, 4 in flight, 25 ms per request.
    let lat = Duration::from_millis(25);
    let limits = Limits {
        max_upload_bytes: u64::MAX / 4,
        ..Limits::default()
    };
    let o = rt.block_on(run(
        300,
        limits,
        lat,
        Budget {
            limit: u64::MAX / 4,
            window: Duration::from_secs(1),
        },
    ));
    let t_min = o.items as f64 * lat.as_secs_f64() / 4.0;
    row(
        "no budget, 4 in flight, 25 ms",
        &o,
        format!("{:.0} items/s", 4.0 / lat.as_secs_f64()),
        t_min,
    );

    // Unlimited: the client's own overhead.
    let o = rt.block_on(run(
        300,
        Limits::off(),
        Duration::ZERO,
        Budget {
            limit: u64::MAX / 4,
            window: Duration::from_secs(1),
        },
    ));
    row("no limits, no latency", &o, "-".into(), f64::NAN);
}

fn row(name: &str, o: &Outcome, ceiling: String, t_min: f64) {
    let pct = |secs: f64| {
        if t_min.is_nan() {
            "-".to_string()
        } else {
            format!("{:.0} %", t_min / secs * 100.0)
        }
    };
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} | {:.2} | {ceiling} | {} | {} | {} |",
        o.items,
        o.data_bytes as f64 / 1e6,
        o.body_bytes as f64 / 1e6,
        o.secs,
        o.upload_secs,
        o.items as f64 / o.upload_secs,
        o.data_bytes as f64 / 1e6 / o.upload_secs,
        pct(o.upload_secs),
        pct(o.secs),
        o.throttled
    );
}
