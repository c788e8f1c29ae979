//! `mbxa demo`: the whole product end to end on an in-process emulator.
//!
//! Two tenants: Contoso's user1 has a realistic mailbox (and an archive), Fabrikam's user1 an empty
//! one. Mild throttling and faults are on, as a real tenant would have. The demo runs:
//! mailboxes → capture → verify → ls → the mailbox evolves → incremental capture → vault add →
//! dedupe → replay into the second tenant → capture the target → compare item by item. Each step
//! prints what it did and how long it took; the last line says whether the round trip was exact.
//!
//! Everything goes through the same library calls the individual commands use, against real HTTP
//! on 127.0.0.1, so the demo exercises auth, paging, delta, retries and the import protocol.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mbxa_emulator::{Emulator, EmulatorConfig, Faults, TenantSpec};
use mbxa_format::{ArchiveReader, ItemContent, MailboxKind, Manifest};
use mbxa_graph::{ClientAuth, GraphClient, GraphConfig, SecretString};
use serde::Serialize;

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory for the archives, vault and journals (default: a new temporary directory,
    /// removed afterwards). An existing directory must be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Approximate number of items in the source mailbox.
    #[arg(long, default_value_t = 150)]
    items: usize,
    /// Seed of the generated mailboxes and of the injected faults.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Turn off the injected throttling and faults.
    #[arg(long)]
    no_faults: bool,
}

/// One step's line in the summary.
#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    detail: String,
    secs: f64,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    dir: PathBuf,
    steps: Vec<Step>,
    compared: usize,
    identical: usize,
    missing: Vec<String>,
    different: Vec<String>,
    unexpected: usize,
    exact: bool,
}

/// Runs `mbxa demo`.
pub fn demo(args: DemoArgs, out: &Output) -> anyhow::Result<Outcome> {
    let (dir, _tmp) = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            if std::fs::read_dir(d)?.next().is_some() {
                bail!(
                    "demo directory {} is not empty; give a new or empty directory",
                    d.display()
                );
            }
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("mbxa-demo-")
                .tempdir()
                .context("creating a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(run(&args, &dir, out))?;
    if out.is_json() {
        out.json(&report)?;
    }
    Ok(if report.exact {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

/// Prints steps as they finish and keeps them for the summary.
struct Steps<'a> {
    out: &'a Output,
    steps: Vec<Step>,
    started: Instant,
}

impl Steps<'_> {
    fn done(&mut self, step: &'static str, since: Instant, detail: String) {
        let secs = since.elapsed().as_secs_f64();
        if !self.out.is_json() {
            self.out.line(&format!("{step:<22} {secs:>6.2}s  {detail}"));
        }
        self.steps.push(Step { step, detail, secs });
    }

    fn note(&self, s: &str) {
        if !self.out.is_json() {
            self.out.line(&format!("{:<22}          {s}", ""));
        }
    }
}

fn client_for(emu: &Emulator, tenant: usize) -> anyhow::Result<GraphClient> {
    let t = emu
        .tenants()
        .into_iter()
        .nth(tenant)
        .context("emulator tenant missing")?;
    let cfg = GraphConfig::new(
        emu.graph_url(),
        emu.login_url(),
        t.tenant_id,
        t.client_id,
        ClientAuth::Secret(SecretString::new(t.client_secret)),
    );
    Ok(GraphClient::new(cfg)?)
}

async fn run(args: &DemoArgs, dir: &Path, out: &Output) -> anyhow::Result<DemoReport> {
    let mut s = Steps {
        out,
        steps: Vec::new(),
        started: Instant::now(),
    };

    // The emulator: Contoso with a full mailbox, Fabrikam with an empty one to replay into.
    let t = Instant::now();
    let mut cfg = EmulatorConfig::generated(args.seed, 1, args.items);
    let mut target = TenantSpec::generated(args.seed, 1, 1, 0);
    for u in &mut target.users {
        u.with_archive = false;
    }
    cfg.tenants.push(target);
    cfg.latency = Duration::from_millis(2);
    if !args.no_faults {
        // Mild weather: occasional throttling bursts, server errors, dropped connections,
        // items silently missing from multi-item exports, and exports that are not byte-stable.
        cfg.faults = Faults {
            throttle_rate: 0.02,
            throttle_burst: 2,
            throttle_retry_after: Duration::from_millis(200),
            server_error_rate: 0.01,
            drop_rate: 0.005,
            export_missing_rate: 0.02,
            unstable_exports: true,
            ..Faults::default()
        };
    }
    let emu = Emulator::start(cfg)
        .await
        .context("starting the emulator")?;
    let tenants = emu.tenants();
    let (src_t, dst_t) = (&tenants[0], &tenants[1]);
    let src_user = src_t.users[0].upn.clone();
    let dst_user = dst_t.users[0].upn.clone();
    s.done(
        "emulator",
        t,
        format!(
            "Graph at {} — tenants {} and {}",
            emu.graph_url(),
            src_t.domain,
            dst_t.domain
        ),
    );

    let src = client_for(&emu, 0)?;
    let dst = client_for(&emu, 1)?;

    // 1. mailboxes
    let t = Instant::now();
    let settings = src.exchange_settings(&src_user).await?;
    let mailbox = settings.primary_mailbox_id.clone();
    s.done(
        "mailboxes",
        t,
        format!(
            "{src_user}: primary {mailbox}, archive {}",
            settings.archive_mailbox_id.as_deref().unwrap_or("none")
        ),
    );

    // 2. capture
    let first = dir.join("contoso-1.mbxa");
    let t = Instant::now();
    let opts = mbxa_capture::CaptureOptions::new(mailbox.clone(), &first).source(
        src_t.tenant_id.clone(),
        src_user.clone(),
        MailboxKind::Primary,
    );
    let r1 = mbxa_capture::capture_mailbox(&src, opts, Arc::new(mbxa_capture::NoProgress))
        .await
        .context("capture")?;
    s.done(
        "capture",
        t,
        format!(
            "{} items in {} folders, {} blobs, {} → {} ({} retries after throttling/faults)",
            r1.items,
            r1.folders,
            r1.blobs,
            crate::cmd::info::human_size(r1.bytes),
            first.display(),
            r1.retries
        ),
    );

    // 3. verify
    let t = Instant::now();
    let v = mbxa_verify::verify_archive(&first, &mbxa_verify::Options { deep: true }, &|_| {})?;
    s.done(
        "verify --deep",
        t,
        format!(
            "{} blobs, {} items parsed: {}",
            v.blobs,
            v.items_parsed,
            if v.is_intact() { "intact" } else { "DAMAGED" }
        ),
    );
    if !v.is_intact() {
        bail!("the fresh archive did not verify: {:?}", v.problems);
    }

    // 4. ls --items (a few lines)
    let t = Instant::now();
    let mut reader = ArchiveReader::open_path(&first)?;
    let manifest = reader.manifest().clone();
    let paths = folder_paths(&manifest, false);
    let mut rows = Vec::new();
    for item in manifest
        .items
        .iter()
        .filter(|i| matches!(i.content, ItemContent::Blob { .. }))
        .take(5)
    {
        let folder = paths
            .get(item.folder_id.as_str())
            .cloned()
            .unwrap_or_default();
        rows.push(crate::cmd::info::item_row(&mut reader, item, &folder));
    }
    drop(reader);
    s.done(
        "ls --items",
        t,
        format!("first {} of {} items:", rows.len(), manifest.items.len()),
    );
    for r in &rows {
        s.note(&format!(
            "{:<20} {:<28} {}",
            r.date.chars().take(19).collect::<String>(),
            truncate(r.sender.as_deref().unwrap_or("-"), 28),
            truncate(r.subject.as_deref().unwrap_or("-"), 40)
        ));
    }

    // 5. time passes
    let t = Instant::now();
    let ev = emu.evolve(&mailbox, args.seed + 1, 25);
    s.done(
        "mailbox evolves",
        t,
        format!(
            "{} new, {} deleted, {} moved, {} edited, {} new folders",
            ev.added.len(),
            ev.deleted.len(),
            ev.moved.len(),
            ev.edited.len(),
            ev.new_folders.len()
        ),
    );

    // 6. incremental capture
    let second = dir.join("contoso-2.mbxa");
    let t = Instant::now();
    let opts = mbxa_capture::CaptureOptions::new(mailbox.clone(), &second)
        .source(
            src_t.tenant_id.clone(),
            src_user.clone(),
            MailboxKind::Primary,
        )
        .base(&first);
    let r2 = mbxa_capture::capture_mailbox(&src, opts, Arc::new(mbxa_capture::NoProgress))
        .await
        .context("incremental capture")?;
    s.done(
        "capture --base",
        t,
        format!(
            "{} items: {} exported, {} copied from the base → {}",
            r2.items,
            r2.exported,
            r2.copied,
            second.display()
        ),
    );

    // 7. vault add of both + dedupe savings
    let vault_dir = dir.join("vault");
    let t = Instant::now();
    let archives = vec![first.clone(), second.clone()];
    let added = tokio::task::spawn_blocking({
        let (vault_dir, archives) = (vault_dir.clone(), archives.clone());
        move || -> anyhow::Result<usize> {
            let vault = mbxa_vault::Vault::create(&vault_dir)?;
            let res = vault.add(&archives, &|_, _| {})?;
            let mut n = 0;
            for (p, r) in res {
                r.with_context(|| format!("vault add {}", p.display()))?;
                n += 1;
            }
            Ok(n)
        }
    })
    .await??;
    let archive_bytes: u64 = archives
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let vault_bytes = dir_size(&vault_dir);
    s.done(
        "vault add",
        t,
        format!(
            "{added} archives, {} → vault of {} ({:.0}% saved)",
            crate::cmd::info::human_size(archive_bytes),
            crate::cmd::info::human_size(vault_bytes),
            saved_pct(archive_bytes, vault_bytes)
        ),
    );
    let t = Instant::now();
    let d = mbxa_vault::dedupe(&archives, &|_, _| {})?;
    s.done(
        "dedupe",
        t,
        format!(
            "{} blobs ({} unique), {} chunks ({} unique): {} of blob data would store as {}",
            d.blobs,
            d.unique_blobs,
            d.chunks,
            d.unique_chunks,
            crate::cmd::info::human_size(d.blob_bytes),
            crate::cmd::info::human_size(d.unique_chunk_bytes)
        ),
    );

    // 8. replay into the other tenant
    let t = Instant::now();
    let dst_mailbox = dst.exchange_settings(&dst_user).await?.primary_mailbox_id;
    let mut ropts = mbxa_replay::ReplayOptions::new(dst_mailbox.clone());
    ropts.journal = Some(dir.join("replay.journal"));
    let rr = mbxa_replay::replay(&dst, &second, &ropts, &mbxa_replay::NoProgress)
        .await
        .context("replay")?;
    s.done(
        "replay",
        t,
        format!(
            "into {dst_user}: {} imported ({}), {} folders created, {} failed, {} skipped (system folders)",
            rr.imported,
            crate::cmd::info::human_size(rr.imported_bytes),
            rr.folders_created.len(),
            rr.failed.len(),
            rr.skipped_system
        ),
    );

    // 9. capture the target and compare item by item
    let third = dir.join("fabrikam.mbxa");
    let t = Instant::now();
    let opts = mbxa_capture::CaptureOptions::new(dst_mailbox.clone(), &third).source(
        dst_t.tenant_id.clone(),
        dst_user.clone(),
        MailboxKind::Primary,
    );
    let r3 = mbxa_capture::capture_mailbox(&dst, opts, Arc::new(mbxa_capture::NoProgress))
        .await
        .context("capture of the replay target")?;
    s.done(
        "capture target",
        t,
        format!("{} items → {}", r3.items, third.display()),
    );

    let t = Instant::now();
    let cmp = tokio::task::spawn_blocking({
        let (a, b) = (second.clone(), third.clone());
        move || compare_archives(&a, &b)
    })
    .await??;
    let exact = cmp.missing.is_empty()
        && cmp.different.is_empty()
        && cmp.unexpected == 0
        && rr.failed.is_empty()
        && cmp.compared > 0;
    s.done(
        "compare",
        t,
        format!(
            "{} items compared: {} identical, {} missing, {} different, {} unexpected",
            cmp.compared,
            cmp.identical,
            cmp.missing.len(),
            cmp.different.len(),
            cmp.unexpected
        ),
    );
    for m in cmp.missing.iter().chain(&cmp.different).take(10) {
        s.note(m);
    }
    // What the weather was: every fault the emulator injected was survived above.
    let stats = emu.stats();
    let injected: u64 = stats.faults.values().sum();
    let kinds: Vec<String> = stats
        .faults
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    s.done(
        "weather",
        Instant::now(),
        format!(
            "{} requests over Graph's limits (429); {injected} faults injected and survived ({})",
            stats.throttled,
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            }
        ),
    );
    let total = s.started.elapsed().as_secs_f64();
    emu.shutdown().await;
    if !out.is_json() {
        out.line(&format!(
            "round trip {}: {} of {} items identical after capture → vault → replay into another tenant ({total:.1}s)",
            if exact { "EXACT" } else { "NOT exact" },
            cmp.identical,
            cmp.compared
        ));
    }
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        steps: s.steps,
        compared: cmp.compared,
        identical: cmp.identical,
        missing: cmp.missing,
        different: cmp.different,
        unexpected: cmp.unexpected,
        exact,
    })
}

struct Comparison {
    compared: usize,
    identical: usize,
    missing: Vec<String>,
    different: Vec<String>,
    unexpected: usize,
}

/// Folder paths by id. With `canonical`, a folder with a well-known name is named by it
/// (`#inbox`), so trees in different languages or tenants compare equal.
fn folder_paths(m: &Manifest, canonical: bool) -> HashMap<&str, String> {
    let by_id: HashMap<&str, &mbxa_format::Folder> =
        m.folders.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in &m.folders {
        let mut parts = Vec::new();
        let mut cur = Some(f);
        let mut hops = 0;
        while let Some(c) = cur {
            hops += 1;
            if hops > 64 {
                break;
            }
            let name = match (&c.well_known_name, canonical) {
                (Some(w), true) => format!("#{}", w.to_ascii_lowercase()),
                _ => c.display_name.clone(),
            };
            if c.well_known_name.as_deref() == Some("msgfolderroot") || c.parent_id.is_none() {
                break;
            }
            parts.push(name);
            cur = c.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
        }
        parts.reverse();
        out.insert(f.id.as_str(), parts.join("/"));
    }
    out
}

/// Items of `source` (the archive replayed) against `target` (a capture of the replay target),
/// matched by PidTagSearchKey, which import preserves. Content is compared by parsed properties,
/// recipients and attachments (bytes may legitimately differ after import).
fn compare_archives(source: &Path, target: &Path) -> anyhow::Result<Comparison> {
    let load = |p: &Path| -> anyhow::Result<Vec<(String, String, mbxa_fasttransfer::Message)>> {
        let mut r = ArchiveReader::open_path(p)?;
        let m = r.manifest().clone();
        let paths = folder_paths(&m, true);
        let mut v = Vec::new();
        for it in &m.items {
            if let ItemContent::Blob { id, .. } = &it.content {
                let bytes = r.read_blob(id)?;
                let msg = mbxa_fasttransfer::parse(&bytes)
                    .with_context(|| format!("parsing item {}", it.id))?;
                let folder = paths
                    .get(it.folder_id.as_str())
                    .cloned()
                    .unwrap_or_default();
                v.push((it.id.clone(), folder, msg));
            }
        }
        Ok(v)
    };
    let src = load(source)?;
    let dst = load(target)?;
    let mut by_key: BTreeMap<Vec<u8>, (String, mbxa_fasttransfer::Message)> = BTreeMap::new();
    for (_, folder, msg) in dst {
        if let Some(k) = msg.search_key() {
            by_key.insert(k.to_vec(), (folder, msg));
        }
    }
    let mut c = Comparison {
        compared: 0,
        identical: 0,
        missing: Vec::new(),
        different: Vec::new(),
        unexpected: 0,
    };
    for (id, folder, msg) in &src {
        if is_system_path(folder) {
            continue;
        }
        c.compared += 1;
        let Some(key) = msg.search_key() else {
            c.missing.push(format!("{id}: no search key"));
            continue;
        };
        match by_key.remove(key) {
            None => c.missing.push(format!("missing in target: {folder} {id}")),
            Some((tfolder, tmsg)) => {
                let mut diffs = mbxa_replay::verify::compare(msg, &tmsg);
                if &tfolder != folder {
                    diffs.push(format!("folder {folder} → {tfolder}"));
                }
                if diffs.is_empty() {
                    c.identical += 1;
                } else {
                    c.different.push(format!("{id}: {}", diffs.join("; ")));
                }
            }
        }
    }
    c.unexpected = by_key.len();
    Ok(c)
}

/// Folders replay never writes into (recoverable items, search folders, sync issues…), by their
/// canonical path.
fn is_system_path(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or("");
    matches!(
        first,
        "#recoverableitemsroot"
            | "#recoverableitemsdeletions"
            | "#recoverableitemspurges"
            | "#recoverableitemsversions"
            | "#searchfolders"
            | "#syncissues"
            | "#conflicts"
            | "#localfailures"
            | "#serverfailures"
    )
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

fn saved_pct(before: u64, after: u64) -> f64 {
    if before == 0 {
        0.0
    } else {
        100.0 * (1.0 - after as f64 / before as f64)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
