//! End-to-end capture tests against the in-process emulator: full, faulty, incremental, expired
//! delta, folder selection, archive mailboxes with redirects, interrupted + resumed, many at once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mbxa_capture::{CaptureOptions, CaptureReport, NoProgress, Progress, ProgressEvent};
use mbxa_emulator::{Emulator, EmulatorConfig, Faults, MailboxSnapshot, TenantInfo};
use mbxa_format::{ArchiveReader, Folder, ItemContent, MailboxKind, Manifest};
use mbxa_graph::{ClientAuth, GraphClient, GraphConfig, RetryPolicy, SecretString};

async fn start(cfg: EmulatorConfig) -> (Emulator, GraphClient, TenantInfo) {
    let emu = Emulator::start(cfg).await.expect("emulator starts");
    let t = emu.tenants().remove(0);
    let client = client_for(&emu, &t);
    (emu, client, t)
}

fn client_for(emu: &Emulator, t: &TenantInfo) -> GraphClient {
    let mut cfg = GraphConfig::new(
        emu.graph_url(),
        emu.login_url(),
        t.tenant_id.clone(),
        t.client_id.clone(),
        ClientAuth::Secret(SecretString::new(t.client_secret.clone())),
    );
    // Fast retries: the emulator's faults are dense, its Retry-After short.
    cfg.retry = RetryPolicy {
        max_retries: 12,
        max_throttle_retries: 40,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(2),
    };
    GraphClient::new(cfg).expect("client")
}

fn cfg(items: usize) -> EmulatorConfig {
    EmulatorConfig::generated(7, 1, items)
}

fn opts(mbx: &str, out: &Path) -> CaptureOptions {
    CaptureOptions::new(mbx, out).source("tenant", "user1", MailboxKind::Primary)
}

async fn capture(client: &GraphClient, o: CaptureOptions) -> CaptureReport {
    mbxa_capture::capture_mailbox(client, o, Arc::new(NoProgress))
        .await
        .expect("capture succeeds")
}

/// Display-name paths of manifest folders, as a reader would compute them.
fn paths(folders: &[Folder]) -> HashMap<String, String> {
    let by_id: HashMap<&str, &Folder> = folders.iter().map(|f| (f.id.as_str(), f)).collect();
    folders
        .iter()
        .map(|f| {
            let mut parts = vec![];
            let mut cur = Some(f);
            while let Some(c) = cur {
                if c.well_known_name.as_deref() != Some("msgfolderroot") {
                    parts.push(c.display_name.clone());
                }
                cur = c.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
                if parts.len() > 64 {
                    break;
                }
            }
            parts.reverse();
            (f.id.clone(), parts.join("/"))
        })
        .collect()
}

/// The archive holds exactly the snapshot's items (restricted to `prefix` subtrees), byte for
/// byte, and the whole folder tree with the same paths.
fn assert_archive_is(path: &Path, snap: &MailboxSnapshot, prefix: Option<&str>) -> Manifest {
    let mut r = ArchiveReader::open_path(path).expect("archive opens");
    let m = r.manifest().clone();
    let fpaths = paths(&m.folders);
    let mine: HashMap<&str, &Folder> = m.folders.iter().map(|f| (f.id.as_str(), f)).collect();
    for sf in &snap.folders {
        let f = mine
            .get(sf.id.as_str())
            .unwrap_or_else(|| panic!("folder {} missing", sf.path));
        assert_eq!(f.display_name, sf.display_name);
        assert_eq!(f.parent_id, sf.parent_id, "parent of {}", sf.path);
        assert_eq!(fpaths[&sf.id], sf.path);
    }
    let in_scope = |p: &str| match prefix {
        None => true,
        Some(x) => p == x || p.starts_with(&format!("{x}/")),
    };
    let want: BTreeMap<&str, _> = snap
        .items
        .iter()
        .filter(|i| in_scope(&i.folder_path))
        .map(|i| (i.id.as_str(), i))
        .collect();
    let got: BTreeMap<&str, _> = m.items.iter().map(|i| (i.id.as_str(), i)).collect();
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "item ids"
    );
    assert!(!want.is_empty(), "the test mailbox has items");
    for (id, s) in &want {
        let it = got[id];
        assert_eq!(it.folder_id, s.folder_id, "folder of {id}");
        assert_eq!(it.change_key, s.change_key, "change key of {id}");
        assert_eq!(it.message_class, s.message_class);
        let ItemContent::Blob { id: blob, len } = &it.content else {
            panic!("{id} failed: {:?}", it.content)
        };
        let bytes = r.read_blob(blob).expect("blob reads");
        assert_eq!(bytes.len() as u64, *len);
        assert!(bytes == s.data.as_ref(), "bytes of {id}");
    }
    m
}

#[cfg(unix)]
fn assert_owner_only(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
        0o600,
        "{}",
        p.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_capture_holds_exactly_the_mailbox() {
    let (emu, client, t) = start(cfg(150)).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.mbxa");
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ev2 = events.clone();
    let progress: Arc<dyn Progress> =
        Arc::new(move |e: &ProgressEvent| ev2.lock().unwrap().push(e.clone()));
    let report = mbxa_capture::capture_mailbox(&client, opts(&mbx, &out), progress)
        .await
        .unwrap();
    let snap = emu.mailbox_snapshot(&mbx);
    let m = assert_archive_is(&out, &snap, None);
    assert_eq!(report.items, snap.items.len());
    assert_eq!(report.exported as usize, snap.items.len());
    assert!(report.is_complete() && !report.resumed);
    assert_eq!(m.source.mailbox_id, mbx);
    assert!(m.capture.base_archive.is_none());
    assert!(m.capture.folders_delta_link.is_some());
    assert!(!m.capture.item_delta_links.is_empty());
    // One blob per unique content.
    let uniq: std::collections::HashSet<_> = snap.items.iter().map(|i| i.data.clone()).collect();
    assert_eq!(report.blobs, uniq.len());
    // Nothing exported twice, no leftovers, private file.
    let stats = emu.stats();
    assert!(snap.items.iter().all(|i| stats.exports_of(&i.id) == 1));
    // Folders Graph reported empty (totalItemCount 0) are not listed: one items/delta page per
    // non-empty folder (150 items fit a page), none for the empty ones.
    let non_empty: std::collections::HashSet<&str> =
        snap.items.iter().map(|i| i.folder_id.as_str()).collect();
    assert!(
        non_empty.len() < snap.folders.len(),
        "the mailbox has empty folders"
    );
    assert_eq!(stats.route("GET items/delta"), non_empty.len() as u64);
    assert!(!mbxa_capture::journal_path(&out).exists());
    assert!(!dir.path().join("a.mbxa.part").exists());
    assert!(!dir.path().join("a.mbxa.lock").exists());
    #[cfg(unix)]
    assert_owner_only(&out);
    let last = events.lock().unwrap().last().cloned();
    assert!(
        matches!(last, Some(ProgressEvent::Finished(s)) if s.items_done == snap.items.len() as u64)
    );
    // Never overwrites a finished archive.
    let again =
        mbxa_capture::capture_mailbox(&client, opts(&mbx, &out), Arc::new(NoProgress)).await;
    assert!(matches!(again, Err(mbxa_capture::Error::OutputExists(_))));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_survives_throttling_faults_drops_and_token_expiry() {
    let mut c = cfg(150);
    c.faults = Faults {
        throttle_rate: 0.1,
        throttle_burst: 3,
        throttle_retry_after: Duration::from_millis(20),
        server_error_rate: 0.05,
        drop_rate: 0.03,
        truncate_rate: 0.03,
        export_missing_rate: 0.2,
        export_vanish_rate: 0.03,
        ..Faults::default()
    };
    let (emu, client, t) = start(c).await;
    let emu = Arc::new(emu);
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.mbxa");
    // Expire every access token in the middle of the capture: the client must refresh.
    let fired = Arc::new(AtomicBool::new(false));
    let (e2, f2) = (emu.clone(), fired.clone());
    let progress: Arc<dyn Progress> = Arc::new(move |e: &ProgressEvent| {
        if matches!(e, ProgressEvent::Progress(_)) && !f2.swap(true, Ordering::SeqCst) {
            e2.expire_access_tokens();
        }
    });
    let report = mbxa_capture::capture_mailbox(&client, opts(&mbx, &out), progress)
        .await
        .unwrap();
    assert!(fired.load(Ordering::SeqCst));
    let snap = emu.mailbox_snapshot(&mbx);
    // Vanished items are gone from the mailbox: the archive holds exactly what is left.
    assert_archive_is(&out, &snap, None);
    assert!(report.is_complete(), "failed: {:?}", report.failed);
    let stats = emu.stats();
    assert!(stats.all_429s() > 0, "throttling happened");
    assert!(stats.tokens_issued >= 2, "token refreshed");
    assert!(report.retries > 0);
    for kind in ["missing", "throttle"] {
        assert!(
            stats.faults.get(kind).copied().unwrap_or(0) > 0,
            "{kind} injected: {:?}",
            stats.faults
        );
    }
    assert_eq!(report.items, report.exported as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_exports_only_changes_and_equals_a_fresh_capture() {
    let (emu, client, t) = start(cfg(150)).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, fresh) = (
        dir.path().join("a.mbxa"),
        dir.path().join("b.mbxa"),
        dir.path().join("c.mbxa"),
    );
    let ra = capture(&client, opts(&mbx, &a)).await;
    let before = emu.mailbox_snapshot(&mbx);
    let ev = emu.evolve(&mbx, 11, 40);
    assert!(
        !ev.added.is_empty()
            && !ev.deleted.is_empty()
            && !ev.edited.is_empty()
            && !ev.moved.is_empty()
    );
    emu.reset_stats();
    let rb = capture(&client, opts(&mbx, &b).base(&a)).await;
    let snap = emu.mailbox_snapshot(&mbx);
    let mb = assert_archive_is(&b, &snap, None);
    assert_eq!(mb.capture.base_archive, Some(ra.archive_id));
    assert_eq!(rb.base_archive, Some(ra.archive_id));
    // Exported exactly the items whose (id, change key) the base did not have.
    let old: HashMap<&str, &str> = before
        .items
        .iter()
        .map(|i| (i.id.as_str(), i.change_key.as_str()))
        .collect();
    let changed: Vec<&str> = snap
        .items
        .iter()
        .filter(|i| old.get(i.id.as_str()) != Some(&i.change_key.as_str()))
        .map(|i| i.id.as_str())
        .collect();
    let stats = emu.stats();
    let exported: Vec<&String> = stats.exports.keys().collect();
    assert_eq!(
        exported.len(),
        changed.len(),
        "exported {exported:?}, changed {changed:?}"
    );
    assert!(changed.iter().all(|id| stats.exports_of(id) == 1));
    assert_eq!(rb.exported as usize, changed.len());
    assert_eq!(rb.copied as usize, snap.items.len() - changed.len());
    assert!(rb.copied > 0);
    // Moved items (same id, new folder) reuse their blob and sit in their new folder.
    for (id, _, to) in &ev.moved {
        if let Some(it) = mb.items.iter().find(|i| &i.id == id) {
            assert_eq!(&it.folder_id, to);
            if !ev.edited.contains(id) {
                assert_eq!(
                    stats.exports_of(id),
                    0,
                    "moved item {id} was copied, not exported"
                );
            }
        }
    }
    // Deleted items dropped out.
    assert!(ev
        .deleted
        .iter()
        .all(|d| !mb.items.iter().any(|i| &i.id == d)));
    // Same item set and bytes as a fresh full capture.
    capture(&client, opts(&mbx, &fresh)).await;
    let mf = assert_archive_is(&fresh, &snap, None);
    let key = |m: &Manifest| {
        let mut v: Vec<_> = m
            .items
            .iter()
            .map(|i| (i.id.clone(), i.folder_id.clone(), i.content.clone()))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    assert_eq!(key(&mb), key(&mf));
    emu.shutdown().await;
}

/// Unchanged items are copied from the base frame by frame, without recompression; a base frame
/// that no longer decodes to its blob is not copied: the item is exported again instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_base_frame_is_exported_again_not_copied() {
    let (emu, client, t) = start(cfg(60)).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.mbxa"), dir.path().join("b.mbxa"));
    capture(&client, opts(&mbx, &a)).await;
    // Flip one byte in the middle of one blob's frame.
    let (victim, offset, stored) = {
        let r = mbxa_format::ArchiveReader::open_path(&a).unwrap();
        let e = r.entries_in_file_order()[3];
        (e.id, e.offset, e.stored_len)
    };
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[(offset + stored / 2) as usize] ^= 0x20;
    std::fs::write(&a, &bytes).unwrap();
    let holders: Vec<String> = {
        let r = mbxa_format::ArchiveReader::open_path(&a).unwrap();
        r.manifest()
            .items
            .iter()
            .filter(|i| matches!(&i.content, ItemContent::Blob { id, .. } if *id == victim))
            .map(|i| i.id.clone())
            .collect()
    };
    assert!(!holders.is_empty());
    emu.reset_stats();
    let rb = capture(&client, opts(&mbx, &b).base(&a)).await;
    let snap = emu.mailbox_snapshot(&mbx);
    assert_archive_is(&b, &snap, None);
    let stats = emu.stats();
    assert_eq!(
        rb.exported as usize,
        holders.len(),
        "only the damaged blob's items"
    );
    assert!(holders.iter().all(|h| stats.exports_of(h) == 1));
    assert_eq!(rb.copied as usize, snap.items.len() - holders.len());
    // The copies are the base's frames byte for byte.
    let mut ra = mbxa_format::ArchiveReader::open_path(&a).unwrap();
    let mut rb2 = mbxa_format::ArchiveReader::open_path(&b).unwrap();
    for e in ra.entries_in_file_order() {
        if e.id != victim {
            assert_eq!(ra.raw_frame(&e.id).unwrap(), rb2.raw_frame(&e.id).unwrap());
        }
    }
    rb2.verify_all(&mut |_| {}).unwrap();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_delta_tokens_fall_back_to_full_listing_reusing_blobs() {
    let mut c = cfg(120);
    c.faults.delta_expiry = mbxa_emulator::DeltaExpiry::SyncStateNotFound;
    let (emu, client, t) = start(c).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.mbxa"), dir.path().join("b.mbxa"));
    capture(&client, opts(&mbx, &a)).await;
    let before = emu.mailbox_snapshot(&mbx);
    emu.evolve(&mbx, 5, 20);
    emu.expire_delta_tokens(Some(&mbx));
    emu.reset_stats();
    let rb = capture(&client, opts(&mbx, &b).base(&a)).await;
    assert!(
        !rb.delta_expired.is_empty(),
        "folders were re-listed in full"
    );
    let snap = emu.mailbox_snapshot(&mbx);
    assert_archive_is(&b, &snap, None);
    let old: HashMap<&str, &str> = before
        .items
        .iter()
        .map(|i| (i.id.as_str(), i.change_key.as_str()))
        .collect();
    let changed = snap
        .items
        .iter()
        .filter(|i| old.get(i.id.as_str()) != Some(&i.change_key.as_str()))
        .count();
    assert_eq!(
        emu.stats().exports.len(),
        changed,
        "unchanged items were copied, not exported"
    );
    assert!(rb.copied > 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_selection_captures_only_that_subtree() {
    let (emu, client, t) = start(cfg(150)).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let snap = emu.mailbox_snapshot(&mbx);
    // The subtree with most items that has a child folder, else Inbox.
    let sub = snap
        .folders
        .iter()
        .find(|f| {
            snap.folders
                .iter()
                .any(|c| c.parent_id.as_deref() == Some(f.id.as_str()))
        })
        .map(|f| f.path.clone())
        .unwrap_or_else(|| "Inbox".into());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.mbxa");
    let r = capture(&client, opts(&mbx, &out).folders(vec![sub.to_lowercase()])).await;
    let m = assert_archive_is(&out, &snap, Some(&sub));
    assert!(r.folders_captured >= 1 && r.folders_captured < m.folders.len());
    let bad = mbxa_capture::capture_mailbox(
        &client,
        opts(&mbx, &dir.path().join("x.mbxa")).folders(vec!["No/Such/Folder".into()]),
        Arc::new(NoProgress),
    )
    .await;
    assert!(matches!(
        bad,
        Err(mbxa_capture::Error::FolderNotFound { .. })
    ));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_mailbox_with_redirects() {
    let mut c = cfg(240);
    c.faults.archive_redirects = true;
    let (emu, client, t) = start(c).await;
    let user = &t.users[0];
    let arch = user
        .archive_mailbox_id
        .clone()
        .expect("user has an archive");
    let settings = client.exchange_settings(&user.upn).await.unwrap();
    assert_eq!(settings.archive_mailbox_id.as_deref(), Some(arch.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("arch.mbxa");
    let o = CaptureOptions::new(&arch, &out).source(
        t.tenant_id.clone(),
        user.upn.clone(),
        MailboxKind::Archive,
    );
    let r = capture(&client, o).await;
    let snap = emu.mailbox_snapshot(&arch);
    let m = assert_archive_is(&out, &snap, None);
    assert_eq!(m.source.kind, MailboxKind::Archive);
    assert!(r.is_complete());
    let stats = emu.stats();
    assert!(
        !user.archive_auxiliary_ids.is_empty(),
        "the archive is auto-expanded"
    );
    assert!(
        stats.faults.get("redirect308").copied().unwrap_or(0) > 0,
        "308s: {:?}",
        stats.faults
    );
    assert!(
        stats.faults.get("archiveMoved").copied().unwrap_or(0) > 0,
        "moved: {:?}",
        stats.faults
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_capture_resumes_without_re_exporting_committed_items() {
    let mut c = cfg(300);
    c.latency = Duration::from_millis(5);
    let (emu, client, t) = start(c).await;
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.mbxa");
    // Stop the first run once some items are committed (dropping the future = Ctrl-C).
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let notify = Arc::new(tokio::sync::Notify::new());
    let n2 = notify.clone();
    let progress: Arc<dyn Progress> = Arc::new(move |e: &ProgressEvent| {
        if let ProgressEvent::Progress(s) = e {
            d2.store(s.items_done, Ordering::SeqCst);
            if s.items_done >= 60 {
                n2.notify_one();
            }
        }
    });
    tokio::select! {
        r = mbxa_capture::capture_mailbox(&client, opts(&mbx, &out), progress) => panic!("finished too early: {:?}", r.map(|r| r.items)),
        _ = notify.notified() => {}
    }
    // Give the writer thread a moment to see its channel close (it journals what it has).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!out.exists());
    assert!(mbxa_capture::journal_path(&out).exists());
    #[cfg(unix)]
    {
        assert_owner_only(&mbxa_capture::journal_path(&out));
        assert_owner_only(&dir.path().join("r.mbxa.part"));
    }
    let r = capture(&client, opts(&mbx, &out)).await;
    assert!(r.resumed);
    let snap = emu.mailbox_snapshot(&mbx);
    assert_archive_is(&out, &snap, None);
    let stats = emu.stats();
    let twice = snap
        .items
        .iter()
        .filter(|i| stats.exports_of(&i.id) > 1)
        .count();
    assert!(snap.items.iter().all(|i| stats.exports_of(&i.id) <= 2));
    // Re-exported at most what was not yet journaled: (6 batches in progress + 4 queued + 4 in
    // the writer) × 20 ids.
    assert!(twice <= 14 * 20, "{twice} items exported twice");
    assert!(
        (r.exported as usize) < snap.items.len(),
        "the resumed run skipped committed items"
    );
    // A journal for other options is refused rather than overwritten.
    let other = dir.path().join("o.mbxa");
    let stop = Arc::new(tokio::sync::Notify::new());
    let s2 = stop.clone();
    let p2: Arc<dyn Progress> = Arc::new(move |e: &ProgressEvent| {
        if matches!(e, ProgressEvent::Progress(_)) {
            s2.notify_one();
        }
    });
    tokio::select! {
        _ = mbxa_capture::capture_mailbox(&client, opts(&mbx, &other), p2) => {}
        _ = stop.notified() => {}
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    if !other.exists() {
        let mism = mbxa_capture::capture_mailbox(
            &client,
            opts(&mbx, &other).folders(vec!["Inbox".into()]),
            Arc::new(NoProgress),
        )
        .await;
        assert!(matches!(
            mism,
            Err(mbxa_capture::Error::JournalMismatch { .. })
        ));
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_mailboxes_at_once() {
    let (emu, client, t) = start(EmulatorConfig::generated(3, 3, 60)).await;
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<CaptureOptions> = t
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            opts(
                &u.primary_mailbox_id,
                &dir.path().join(format!("m{i}.mbxa")),
            )
        })
        .collect();
    let results = mbxa_capture::capture_mailboxes(&client, jobs, 3, Arc::new(NoProgress)).await;
    assert_eq!(results.len(), 3);
    for (i, (r, u)) in results.into_iter().zip(&t.users).enumerate() {
        let r = r.unwrap();
        assert_eq!(r.mailbox_id, u.primary_mailbox_id);
        assert_archive_is(
            &dir.path().join(format!("m{i}.mbxa")),
            &emu.mailbox_snapshot(&u.primary_mailbox_id),
            None,
        );
    }
    emu.shutdown().await;
}

/// A scripted Graph with one folder of two items, one of which Graph refuses to export: the
/// emulator has no permanent per-item failure, so this is the only way to see one.
async fn refusing_graph() -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::Bytes;
    use axum::http::{Method, Uri};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b2 = base.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let base = b2.clone();
        async move {
            let p = uri.path().to_string();
            let json = |v: serde_json::Value| {
                ([(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string())
            };
            if method == Method::POST && p.ends_with("/oauth2/v2.0/token") {
                return json(serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":"t"}));
            }
            let mbx = format!("{base}/beta/admin/exchange/mailboxes/MBX1");
            if p.ends_with("/folders/delta") {
                return json(serde_json::json!({"value":[{"id":"F1","parentFolderId":"ROOT","displayName":"Inbox",
                    "type":"IPF.Note","totalItemCount":2,"childFolderCount":0,"wellKnownName":"inbox"}],
                    "@odata.deltaLink": format!("{mbx}/folders/delta?$deltatoken=1")}));
            }
            if p.ends_with("/items/delta") {
                let item = |id: &str| serde_json::json!({"id":id,"changeKey":format!("ck-{id}"),
                    "createdDateTime":"2026-01-01T00:00:00Z","lastModifiedDateTime":"2026-01-01T00:00:00Z",
                    "size":5,"type":"IPM.Note","categories":[]});
                return json(serde_json::json!({"value":[item("I1"), item("I2")],
                    "@odata.deltaLink": format!("{mbx}/folders/F1/items/delta?$deltatoken=1")}));
            }
            if p.ends_with("/exportItems") {
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let ids: Vec<String> = req["itemIds"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                let value: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| {
                        if id == "I1" {
                            serde_json::json!({"itemId":id,"changeKey":"ck-I1","data":"aGVsbG8="})
                        } else {
                            serde_json::json!({"itemId":id,"error":{"code":"ErrorCorruptData","message":"cannot export"}})
                        }
                    })
                    .collect();
                return json(serde_json::json!({ "value": value }));
            }
            json(serde_json::json!({"error":{"code":"itemNotFound","message":p}}))
        }
    });
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_graph_refuses_are_recorded_as_failed() {
    let (base, server) = refusing_graph().await;
    let cfg = GraphConfig::new(
        format!("{base}/beta"),
        base.clone(),
        "tenant",
        "client",
        ClientAuth::Secret(SecretString::new("s")),
    );
    let client = GraphClient::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mbxa");
    let r = capture(&client, opts("MBX1", &out)).await;
    assert!(!r.is_complete());
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].id, "I2");
    assert_eq!(r.failed[0].code, "ErrorCorruptData");
    assert_eq!(r.failed[0].folder, "Inbox");
    let mut rd = ArchiveReader::open_path(&out).unwrap();
    let m = rd.manifest().clone();
    assert_eq!(m.items.len(), 2);
    let i2 = m.items.iter().find(|i| i.id == "I2").unwrap();
    assert!(
        matches!(&i2.content, ItemContent::ExportFailed { code, .. } if code == "ErrorCorruptData")
    );
    let i1 = m.items.iter().find(|i| i.id == "I1").unwrap();
    let ItemContent::Blob { id, .. } = i1.content else {
        panic!("I1 not captured")
    };
    assert_eq!(rd.read_blob(&id).unwrap(), b"hello");
    server.abort();
}

/// Minimal base64 (standard alphabet, padded), for the hand-made Graph servers' `data`.
fn b64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A two-folder mailbox: F1 holds I01..I20 (one full export batch), F2 holds I21, I22. While
/// `healthy` is false, I02 cannot be exported and listing F2 never answers (the run hangs
/// there, as if killed); once healthy, everything works. Each item's content is its id.
async fn flaky_graph(healthy: Arc<AtomicBool>) -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::Bytes;
    use axum::http::{Method, Uri};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b2 = base.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let base = b2.clone();
        let healthy = healthy.load(Ordering::SeqCst);
        async move {
            let p = uri.path().to_string();
            let json = |v: serde_json::Value| {
                ([(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string())
            };
            if method == Method::POST && p.ends_with("/oauth2/v2.0/token") {
                return json(serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":"t"}));
            }
            let mbx = format!("{base}/beta/admin/exchange/mailboxes/MBX1");
            let folder = |id: &str, name: &str, n: u32| serde_json::json!({"id":id,"parentFolderId":"ROOT",
                "displayName":name,"type":"IPF.Note","totalItemCount":n,"childFolderCount":0});
            if p.ends_with("/folders/delta") {
                return json(serde_json::json!({"value":[folder("F1","Inbox",20), folder("F2","Later",2)],
                    "@odata.deltaLink": format!("{mbx}/folders/delta?$deltatoken=1")}));
            }
            let items = |r: std::ops::RangeInclusive<u32>| -> Vec<serde_json::Value> {
                r.map(|n| {
                    let id = format!("I{n:02}");
                    serde_json::json!({"id":id,"changeKey":format!("ck-{id}"),
                        "createdDateTime":"2026-01-01T00:00:00Z","lastModifiedDateTime":"2026-01-01T00:00:00Z",
                        "size":3,"type":"IPM.Note","categories":[]})
                })
                .collect()
            };
            if p.ends_with("/folders/F1/items/delta") {
                return json(serde_json::json!({"value": items(1..=20),
                    "@odata.deltaLink": format!("{mbx}/folders/F1/items/delta?$deltatoken=1")}));
            }
            if p.ends_with("/folders/F2/items/delta") {
                if !healthy {
                    std::future::pending::<()>().await;
                }
                return json(serde_json::json!({"value": items(21..=22),
                    "@odata.deltaLink": format!("{mbx}/folders/F2/items/delta?$deltatoken=1")}));
            }
            if p.ends_with("/exportItems") {
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let value: Vec<serde_json::Value> = req["itemIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .map(|id| {
                        if id == "I02" && !healthy {
                            serde_json::json!({"itemId":id,"error":{"code":"ErrorMailboxStoreUnavailable","message":"try later"}})
                        } else {
                            serde_json::json!({"itemId":id,"changeKey":format!("ck-{id}"),"data":b64(id.as_bytes())})
                        }
                    })
                    .collect();
                return json(serde_json::json!({ "value": value }));
            }
            json(serde_json::json!({"error":{"code":"itemNotFound","message":p}}))
        }
    });
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, h)
}

/// An item Graph refused before the run was interrupted is tried again when it resumes (and
/// committed items are not): a transient refusal does not stay in the archive for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_retries_items_that_failed_before_the_interruption() {
    assert_eq!(b64(b"I02"), "STAy");
    assert_eq!(b64(b"ab"), "YWI=");
    let healthy = Arc::new(AtomicBool::new(false));
    let (base, server) = flaky_graph(healthy.clone()).await;
    let cfg = GraphConfig::new(
        format!("{base}/beta"),
        base.clone(),
        "tenant",
        "client",
        ClientAuth::Secret(SecretString::new("s")),
    );
    let client = GraphClient::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.mbxa");
    // First run: F1's batch is committed (I02 as failed), then it hangs listing F2: interrupt it.
    let notify = Arc::new(tokio::sync::Notify::new());
    let n2 = notify.clone();
    let progress: Arc<dyn Progress> = Arc::new(move |e: &ProgressEvent| {
        if matches!(e, ProgressEvent::Progress(s) if s.items_done >= 20) {
            n2.notify_one();
        }
    });
    tokio::select! {
        r = mbxa_capture::capture_mailbox(&client, opts("MBX1", &out), progress) => panic!("finished while F2 hangs: {:?}", r.map(|r| r.items)),
        _ = notify.notified() => {}
        // A guard, not a wait: fail rather than hang if F1's batch is never committed.
        _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("F1's batch was not committed"),
    }
    // Second run, Graph healthy again.
    healthy.store(true, Ordering::SeqCst);
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ev2 = events.clone();
    let progress: Arc<dyn Progress> =
        Arc::new(move |e: &ProgressEvent| ev2.lock().unwrap().push(e.clone()));
    let r = mbxa_capture::capture_mailbox(&client, opts("MBX1", &out), progress)
        .await
        .unwrap();
    assert!(r.resumed);
    assert!(r.is_complete(), "failed: {:?}", r.failed);
    // The 19 items committed by the first run were not exported again; I02 was retried.
    assert_eq!(r.exported, 3, "I02, I21 and I22");
    let started = events.lock().unwrap().iter().find_map(|e| match e {
        ProgressEvent::Started {
            items_already_done, ..
        } => Some(*items_already_done),
        _ => None,
    });
    assert_eq!(started, Some(19), "the failed item does not count as done");
    let mut rd = ArchiveReader::open_path(&out).unwrap();
    let m = rd.manifest().clone();
    assert_eq!(m.items.len(), 22);
    let i2 = m.items.iter().find(|i| i.id == "I02").unwrap();
    let ItemContent::Blob { id, .. } = i2.content else {
        panic!("I02 still failed: {:?}", i2.content)
    };
    assert_eq!(rd.read_blob(&id).unwrap(), b"I02");
    server.abort();
}
