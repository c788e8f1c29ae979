//! End-to-end replay tests against the in-process emulator: capture mailbox A of one tenant,
//! replay into mailbox B of another; re-runs, well-known mapping, `--into`, filters, dry run,
//! throttling + expired sessions + faults, lost results (intent without done), corrupted blobs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mbxa_emulator::{
    Emulator, EmulatorConfig, Faults, Limits, MailboxSnapshot, TenantInfo, TenantSpec,
};
use mbxa_format::{
    ArchiveFile, CaptureInfo, Folder, Item, ItemContent, MailboxKind, Manifest, Source,
};
use mbxa_graph::{ClientAuth, GraphClient, GraphConfig, RetryPolicy, SecretString};
use mbxa_replay::{NoProgress, ReplayOptions, ReplayReport};

struct World {
    emu: Emulator,
    /// Source tenant's client and mailbox A.
    client_a: GraphClient,
    mbx_a: String,
    tenant_a: TenantInfo,
    /// Target tenant's client and mailbox B (empty: only well-known folders).
    client_b: GraphClient,
    mbx_b: String,
    dir: tempfile::TempDir,
}

async fn world(items: usize, tweak: impl FnOnce(&mut EmulatorConfig)) -> World {
    let mut cfg = EmulatorConfig::generated(11, 1, items);
    cfg.tenants.push(TenantSpec::generated(11, 1, 1, 0));
    tweak(&mut cfg);
    let emu = Emulator::start(cfg).await.expect("emulator starts");
    let ts = emu.tenants();
    let (ta, tb) = (ts[0].clone(), ts[1].clone());
    World {
        client_a: client_for(&emu, &ta),
        client_b: client_for(&emu, &tb),
        mbx_a: ta.users[0].primary_mailbox_id.clone(),
        mbx_b: tb.users[0].primary_mailbox_id.clone(),
        tenant_a: ta,
        emu,
        dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn client_for(emu: &Emulator, t: &TenantInfo) -> GraphClient {
    let mut cfg = GraphConfig::new(
        emu.graph_url(),
        emu.login_url(),
        t.tenant_id.clone(),
        t.client_id.clone(),
        ClientAuth::Secret(SecretString::new(t.client_secret.clone())),
    );
    cfg.retry = RetryPolicy {
        max_retries: 12,
        max_throttle_retries: 60,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(3),
    };
    GraphClient::new(cfg).expect("client")
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Captures mailbox A with mbxa-capture.
    async fn capture_a(&self) -> PathBuf {
        let out = self.path("a.mbxa");
        let o = mbxa_capture::CaptureOptions::new(&self.mbx_a, &out).source(
            self.tenant_a.tenant_id.clone(),
            self.tenant_a.users[0].upn.clone(),
            MailboxKind::Primary,
        );
        let r =
            mbxa_capture::capture_mailbox(&self.client_a, o, Arc::new(mbxa_capture::NoProgress))
                .await
                .expect("capture succeeds");
        assert!(r.is_complete(), "capture complete: {r:?}");
        out
    }

    fn opts(&self) -> ReplayOptions {
        let mut o = ReplayOptions::new(&self.mbx_b);
        o.journal = Some(self.path("replay.journal"));
        o
    }

    async fn replay(&self, archive: &Path, o: &ReplayOptions) -> ReplayReport {
        mbxa_replay::replay(&self.client_b, archive, o, &NoProgress)
            .await
            .expect("replay runs")
    }
}

/// Builds an archive straight from a snapshot (test oracle), with a hook to edit the manifest.
fn archive_from_snapshot(
    snap: &MailboxSnapshot,
    path: &Path,
    edit: impl FnOnce(&mut Manifest),
) -> Manifest {
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
    let mut m = Manifest {
        source: Source {
            tenant_id: "t".into(),
            user: snap.upn.clone(),
            mailbox_id: snap.mailbox_id.clone(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "test".into(),
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
    edit(&mut m);
    f.finish(&m).expect("finish archive");
    m
}

/// Items of a snapshot by folder path: path → sorted search keys (hex).
fn keys_by_path(s: &MailboxSnapshot, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in &s.items {
        let k = i.search_key.as_deref().map(hex).unwrap_or_default();
        out.entry(format!("{prefix}{}", i.folder_path))
            .or_default()
            .push(k);
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every search key of `a` appears exactly once in `b`.
fn assert_each_exactly_once(a: &MailboxSnapshot, b: &MailboxSnapshot) {
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for i in &b.items {
        if let Some(k) = &i.search_key {
            *counts.entry(k.clone()).or_default() += 1;
        }
    }
    for i in &a.items {
        let k = i
            .search_key
            .as_ref()
            .expect("generated items have search keys");
        assert_eq!(
            counts.get(k).copied().unwrap_or(0),
            1,
            "item {} ({:?})",
            i.id,
            i.subject
        );
    }
    assert_eq!(b.items.len(), a.items.len(), "no extra items in the target");
}

fn state_changing(stats: &mbxa_emulator::Stats) -> u64 {
    stats
        .routes
        .iter()
        .filter(|(r, _)| {
            (r.starts_with("POST ") || r.starts_with("PATCH ") || r.starts_with("DELETE "))
                && r.as_str() != "POST token"
                && r.as_str() != "POST exportItems"
        })
        .map(|(_, n)| *n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_into_another_tenant_recreates_tree_and_items_once() {
    let w = world(60, |_| {}).await;
    let archive = w.capture_a().await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);

    let mut o = w.opts();
    o.verify = true;
    let r = w.replay(&archive, &o).await;
    assert!(r.failed.is_empty(), "failures: {:?}", r.failed);
    assert_eq!(r.imported as usize, a.items.len());
    let v = r.verify.as_ref().expect("verify ran");
    assert_eq!(v.matched as usize, a.items.len(), "verify: {v:?}");
    assert!(!r.has_problems());

    let b = w.emu.mailbox_snapshot(&w.mbx_b);
    // Same folder tree (paths and classes) and same items, by search key and bytes, per folder.
    for f in &a.folders {
        let g = b
            .folder_by_path(&f.path)
            .unwrap_or_else(|| panic!("folder {} missing in B", f.path));
        assert_eq!(g.folder_type, f.folder_type, "class of {}", f.path);
    }
    assert_eq!(keys_by_path(&a, ""), keys_by_path(&b, ""));
    let bytes_b: HashMap<&[u8], &[u8]> = b
        .items
        .iter()
        .map(|i| (i.search_key.as_deref().unwrap_or_default(), i.data.as_ref()))
        .collect();
    for i in &a.items {
        assert!(
            bytes_b[i.search_key.as_deref().unwrap()] == i.data.as_ref(),
            "bytes of {}",
            i.id
        );
    }
    assert_each_exactly_once(&a, &b);
    // The journal is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path("replay.journal"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A second replay imports nothing.
    let before = w.emu.stats();
    let r2 = w.replay(&archive, &w.opts()).await;
    assert_eq!(r2.imported, 0);
    assert_eq!(r2.already_present as usize, a.items.len());
    assert!(r2.folders_created.is_empty());
    let after = w.emu.stats();
    assert_eq!(after.imports, before.imports);
    assert_eq!(
        after.route("POST createImportSession"),
        before.route("POST createImportSession")
    );

    // Without the journal, the items are found by search key and still not imported again.
    let mut o3 = w.opts();
    o3.journal = Some(w.path("other.journal"));
    let r3 = w.replay(&archive, &o3).await;
    assert_eq!(r3.imported, 0);
    assert_eq!(r3.found_by_search_key as usize, a.items.len());
    assert_eq!(w.emu.stats().imports, before.imports);
    assert_each_exactly_once(&a, &w.emu.mailbox_snapshot(&w.mbx_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_known_folders_map_by_name_whatever_their_display_name() {
    let w = world(30, |_| {}).await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    let inbox = a
        .folders
        .iter()
        .find(|f| f.well_known_name.as_deref() == Some("inbox"))
        .unwrap();
    let inbox_items = a.items.iter().filter(|i| i.folder_id == inbox.id).count();
    assert!(inbox_items > 0);
    archive_from_snapshot(&a, &archive, |m| {
        for f in &mut m.folders {
            if f.well_known_name.as_deref() == Some("inbox") {
                f.display_name = "Posteingang".into();
            }
        }
    });
    let r = w.replay(&archive, &w.opts()).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let b = w.emu.mailbox_snapshot(&w.mbx_b);
    assert!(
        b.folder_by_path("Posteingang").is_none(),
        "no folder created for the localised inbox"
    );
    let b_inbox = b
        .folders
        .iter()
        .find(|f| f.well_known_name.as_deref() == Some("inbox"))
        .unwrap();
    assert_eq!(
        b.items.iter().filter(|i| i.folder_id == b_inbox.id).count(),
        inbox_items
    );
    assert_each_exactly_once(&a, &b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_plans_and_changes_nothing_then_into_and_filters_select() {
    let w = world(60, |_| {}).await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    archive_from_snapshot(&a, &archive, |_| {});

    // Dry run: a plan, no state-changing request, no journal file.
    let before = w.emu.stats();
    let mut o = w.opts();
    o.dry_run = true;
    o.into = Some("Restored/Archive A".into());
    let plan = w.replay(&archive, &o).await;
    assert!(plan.dry_run);
    assert_eq!(plan.imported as usize, a.items.len());
    assert_eq!(plan.planned_items.len(), a.items.len());
    assert!(plan.folders_created.contains(&"Restored".to_string()));
    assert!(
        plan.folders_created
            .contains(&"Restored/Archive A/Inbox".to_string()),
        "{:?}",
        plan.folders_created
    );
    let after = w.emu.stats();
    assert_eq!(
        state_changing(&after),
        state_changing(&before),
        "routes: {:?}",
        after.routes
    );
    assert_eq!(after.imports, before.imports);
    assert!(!w.path("replay.journal").exists());
    assert!(w.emu.mailbox_snapshot(&w.mbx_b).items.is_empty());

    // --into with --folder Inbox and a date window.
    let mut inbox_dates: Vec<&str> = a
        .items
        .iter()
        .filter(|i| i.folder_path == "Inbox" || i.folder_path.starts_with("Inbox/"))
        .map(|i| i.created.as_str())
        .collect();
    inbox_dates.sort();
    assert!(inbox_dates.len() >= 4, "enough inbox items");
    let since = inbox_dates[inbox_dates.len() / 4];
    let until = inbox_dates[inbox_dates.len() * 3 / 4];
    let mut o = w.opts();
    o.into = Some("Restored/Archive A".into());
    o.folders = vec!["inbox".into()];
    o.since = mbxa_replay::plan::parse_date(since, false);
    o.until = mbxa_replay::plan::parse_date(until, false);
    let r = w.replay(&archive, &o).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let want: Vec<&str> = a
        .items
        .iter()
        .filter(|i| i.folder_path == "Inbox" || i.folder_path.starts_with("Inbox/"))
        .filter(|i| i.created.as_str() >= since && i.created.as_str() < until)
        .map(|i| i.id.as_str())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(r.imported as usize, want.len());
    assert_eq!(r.filtered as usize, a.items.len() - want.len());
    let b = w.emu.mailbox_snapshot(&w.mbx_b);
    assert_eq!(b.items.len(), want.len());
    assert!(
        b.items
            .iter()
            .all(|i| i.folder_path.starts_with("Restored/Archive A/Inbox")),
        "all under --into"
    );
    // Nothing went into B's own Inbox.
    assert!(b.items.iter().all(|i| i.folder_path != "Inbox"));

    // The message-class filter selects nothing of a class the mailbox lacks.
    let mut o = w.opts();
    o.message_classes = vec!["IPM.NoSuchClass".into()];
    let r = w.replay(&archive, &o).await;
    assert_eq!(r.imported, 0);
    assert_eq!(r.filtered as usize, a.items.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_expired_sessions_and_faults_still_import_each_item_once() {
    let w = world(60, |c| {
        // A small upload budget so pacing matters, short import sessions, noisy service.
        c.limits = Limits {
            max_upload_bytes: 400_000,
            upload_window: Duration::from_secs(1),
            ..Limits::default()
        };
        c.import_session_lifetime = Duration::from_secs(2);
    })
    .await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    archive_from_snapshot(&a, &archive, |_| {});
    w.emu.set_faults(
        "throttle=0.05x2,retry-after=0.05,error=0.05,drop=0.04,truncate=0.04"
            .parse::<Faults>()
            .unwrap(),
    );
    let mut o = w.opts();
    o.upload_budget = mbxa_replay::Budget {
        limit: 400_000,
        window: Duration::from_secs(1),
    };
    o.max_attempts = 5;
    // Faults may fail a few items; re-runs finish them, never duplicating any.
    let mut last = None;
    for _ in 0..4 {
        let r = w.replay(&archive, &o).await;
        let done = r.failed.is_empty();
        last = Some(r);
        if done {
            break;
        }
    }
    let r = last.unwrap();
    assert!(
        r.failed.is_empty(),
        "still failing after re-runs: {:?}",
        r.failed
    );
    let stats = w.emu.stats();
    assert!(
        stats.faults.values().sum::<u64>() > 0,
        "faults were injected: {:?}",
        stats.faults
    );
    assert!(
        stats.route("POST createImportSession") >= 2,
        "sessions renewed: {:?}",
        stats.routes
    );
    w.emu.set_faults(Faults::default());
    assert_each_exactly_once(&a, &w.emu.mailbox_snapshot(&w.mbx_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expired_by_the_server_mid_run_are_renewed() {
    let w = world(40, |c| c.latency = Duration::from_millis(15)).await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    archive_from_snapshot(&a, &archive, |_| {});
    let o = w.opts();
    // The server forgets every session once some items are in: uploads then get 401.
    let expirer = async {
        for _ in 0..2000 {
            if w.emu.stats().imports >= 8 {
                w.emu.expire_import_sessions();
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    };
    let (r, expired) = tokio::join!(w.replay(&archive, &o), expirer);
    assert!(expired, "the run lasted long enough to expire its session");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.imported as usize, a.items.len());
    assert!(
        w.emu.stats().route("POST createImportSession") >= 2,
        "a new session was created"
    );
    assert_each_exactly_once(&a, &w.emu.mailbox_snapshot(&w.mbx_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_without_results_are_looked_up_not_reimported() {
    let w = world(40, |_| {}).await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    archive_from_snapshot(&a, &archive, |_| {});
    let r = w.replay(&archive, &w.opts()).await;
    assert!(r.failed.is_empty());
    // As if the process died after each upload but before its result reached the disk.
    let j = w.path("replay.journal");
    let text = std::fs::read_to_string(&j).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(r#""k":"done""#))
        .collect();
    std::fs::write(&j, kept.join("\n") + "\n").unwrap();
    let imports = w.emu.stats().imports;
    let r = w.replay(&archive, &w.opts()).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.imported, 0);
    assert_eq!(r.found_by_search_key as usize, a.items.len());
    assert_eq!(w.emu.stats().imports, imports);
    assert_each_exactly_once(&a, &w.emu.mailbox_snapshot(&w.mbx_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_blob_is_refused_and_failed_exports_are_skipped() {
    let w = world(30, |_| {}).await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    let archive = w.path("a.mbxa");
    let victim = a.items[3].clone();
    let skipped = a.items[5].clone();
    archive_from_snapshot(&a, &archive, |m| {
        for i in &mut m.items {
            if i.id == skipped.id {
                i.content = ItemContent::ExportFailed {
                    code: "ErrorItemNotFound".into(),
                    message: "gone".into(),
                };
            }
        }
    });
    // Damage the victim's stored frame in place.
    let entry = {
        let r = mbxa_format::ArchiveReader::open_path(&archive).unwrap();
        let m = r.manifest().clone();
        let it = m.items.iter().find(|i| i.id == victim.id).unwrap();
        let ItemContent::Blob { id, .. } = &it.content else {
            unreachable!()
        };
        let e = r.lookup(id).unwrap();
        (e.offset, e.stored_len)
    };
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = (entry.0 + entry.1 / 2) as usize;
    bytes[at] ^= 0x55;
    std::fs::write(&archive, &bytes).unwrap();

    let r = w.replay(&archive, &w.opts()).await;
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert_eq!(r.failed[0].item_id, victim.id);
    assert!(
        r.failed[0].reason.contains("refused"),
        "{}",
        r.failed[0].reason
    );
    assert!(r.has_problems());
    assert_eq!(r.skipped_export_failed.len(), 1);
    assert_eq!(r.skipped_export_failed[0].item_id, skipped.id);
    assert_eq!(r.imported as usize, a.items.len() - 2);
    let b = w.emu.mailbox_snapshot(&w.mbx_b);
    assert!(
        !b.items.iter().any(|i| i.search_key == victim.search_key),
        "corrupt item not uploaded"
    );
    assert!(!b.items.iter().any(|i| i.search_key == skipped.search_key));
    assert_eq!(b.items.len(), a.items.len() - 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_expanded_archive_target_gets_sessions_in_the_named_mailbox() {
    let w = world(60, |c| {
        c.faults = Faults {
            archive_redirects: true,
            ..Faults::default()
        };
    })
    .await;
    let ts = w.emu.tenants();
    let arch_a = ts[0].users[0]
        .archive_mailbox_id
        .clone()
        .expect("A has an archive");
    let arch_b = ts[1].users[0]
        .archive_mailbox_id
        .clone()
        .expect("B has an archive");
    assert!(
        !ts[1].users[0].archive_auxiliary_ids.is_empty(),
        "B's archive has an auxiliary shard"
    );
    let a = w.emu.mailbox_snapshot(&arch_a);
    assert!(
        a.items
            .iter()
            .any(|i| i.folder_path.starts_with("Archive 2019")),
        "items in folders of the auxiliary shard"
    );
    let archive = w.path("arch.mbxa");
    archive_from_snapshot(&a, &archive, |_| {});
    let mut o = ReplayOptions::new(&arch_b);
    o.journal = Some(w.path("arch.journal"));
    let r = w.replay(&archive, &o).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.imported as usize, a.items.len());
    let stats = w.emu.stats();
    assert!(
        stats.faults.get("import409").copied().unwrap_or(0) > 0,
        "409s were answered: {:?}",
        stats.faults
    );
    let b = w.emu.mailbox_snapshot(&arch_b);
    assert_each_exactly_once(&a, &b);
    assert_eq!(keys_by_path(&a, ""), keys_by_path(&b, ""));
    // Re-run without the journal: found by search key through the redirects, nothing imported.
    let mut o2 = o.clone();
    o2.journal = Some(w.path("arch2.journal"));
    let r2 = w.replay(&archive, &o2).await;
    assert_eq!(r2.imported, 0, "{:?}", r2.failed);
    assert_eq!(r2.found_by_search_key as usize, a.items.len());
}

/// Regression (reliability suite, finding 5): under dropped connections a folder create can fail
/// before it reached the server. Replay must retry it (after checking it does not exist) instead
/// of giving up on the folder, and must never create a folder twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_creation_survives_dropped_connections_without_duplicates() {
    let w = world(40, |_| {}).await;
    let archive = w.capture_a().await;
    let a = w.emu.mailbox_snapshot(&w.mbx_a);
    w.emu.set_faults(Faults {
        drop_rate: 0.15,
        ..Faults::default()
    });
    // `--into` makes replay create the whole tree, so there are many creates to drop.
    let mut o = w.opts();
    o.into = Some("Restored".into());
    let r = w.replay(&archive, &o).await;
    assert!(r.folders_created.len() >= 5, "{:?}", r.folders_created);
    let folder_failures: Vec<_> = r
        .failed
        .iter()
        .filter(|p| p.reason.contains("could not be created"))
        .collect();
    assert!(folder_failures.is_empty(), "{folder_failures:?}");
    let b = w.emu.mailbox_snapshot(&w.mbx_b);
    let restored: Vec<&str> = b
        .folders
        .iter()
        .filter_map(|g| g.path.strip_prefix("Restored/"))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for p in &restored {
        assert!(seen.insert(*p), "folder Restored/{p} exists twice in B");
    }
    assert_eq!(restored.len(), r.folders_created.len() - 1, "{restored:?}");
    // With the weather cleared, a re-run completes the items, each exactly once.
    w.emu.set_faults(Faults::default());
    let r2 = w.replay(&archive, &o).await;
    assert!(r2.failed.is_empty(), "{:?}", r2.failed);
    assert_eq!(
        r2.imported + r.imported,
        a.items.len() as u64 - r2.skipped_system
    );
}
