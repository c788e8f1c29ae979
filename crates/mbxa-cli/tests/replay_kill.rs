//! `mbxa replay` killed with SIGKILL at pseudo-random moments, then re-run: every item of the
//! archive ends up in the target mailbox exactly once (counted by search key in the emulator).
#![cfg(unix)]

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mbxa_emulator::{Emulator, EmulatorConfig, MailboxSnapshot, TenantSpec};
use mbxa_format::{
    ArchiveFile, CaptureInfo, Folder, Item, ItemContent, MailboxKind, Manifest, Source,
};

/// Writes an archive holding exactly the snapshot's folders and items.
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
    f.finish(&m).expect("finish archive");
}

/// xorshift64*: reproducible kill points without a dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[test]
fn sigkill_at_random_points_never_imports_twice() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut cfg = EmulatorConfig::generated(23, 1, 120);
    cfg.tenants.push(TenantSpec::generated(23, 1, 1, 0));
    // Slow enough that kills land during folder creation and uploads, not only after.
    cfg.latency = Duration::from_millis(8);
    let emu = rt.block_on(Emulator::start(cfg)).expect("emulator starts");
    let ts = emu.tenants();
    let (ta, tb) = (&ts[0], &ts[1]);
    let a = emu.mailbox_snapshot(&ta.users[0].primary_mailbox_id);
    let mbx_b = tb.users[0].primary_mailbox_id.clone();

    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("a.mbxa");
    archive_from_snapshot(&a, &archive);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, &tb.client_secret).expect("secret file");
    let journal = dir.path().join("replay.journal");

    let command = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mbxa"));
        c.arg("replay")
            .arg(&archive)
            .args(["--mailbox", &mbx_b])
            .args(["--tenant", &tb.tenant_id])
            .args(["--client-id", &tb.client_id])
            .arg("--client-secret-file")
            .arg(&secret)
            .args(["--graph-url", &emu.graph_url()])
            .args(["--login-url", &emu.login_url()])
            .arg("--journal")
            .arg(&journal)
            .args(["--progress", "none"])
            .env_remove("MBXA_CLIENT_SECRET")
            .env_remove("MBXA_CLIENT_CERT")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };

    // Kill points: a quarter of the runs die at a random moment of their first 150 ms (start-up,
    // journal creation, folder creation, search-key lookups); the rest right after the service
    // has stored a random number (1..12) of further items, i.e. in the middle of uploads, between
    // an upload and its journal record, or while a `done` batch is being written.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut killed_mid_run = 0;
    let mut imports_seen = Vec::new();
    for run in 0..20 {
        let early = rng.below(4) == 0;
        let delay = Duration::from_millis(rng.below(150));
        let target = emu.stats().imports + 1 + rng.below(12);
        let jitter = Duration::from_micros(rng.below(3000));
        let mut child = command().spawn().expect("mbxa starts");
        let started = Instant::now();
        let mut finished = None;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                finished = Some(st);
                break;
            }
            let due = if early {
                started.elapsed() >= delay
            } else {
                emu.stats().imports >= target
            };
            if due {
                std::thread::sleep(jitter);
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "run {run} hangs"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        let status = match finished {
            Some(st) => st,
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("wait")
            }
        };
        if status.signal() == Some(9) {
            killed_mid_run += 1;
        } else {
            assert!(status.success(), "run {run} ended with {status:?}");
        }
        imports_seen.push(emu.stats().imports);
        // The invariant holds at every moment, not only at the end.
        let b = emu.mailbox_snapshot(&mbx_b);
        let mut counts: HashMap<&[u8], usize> = HashMap::new();
        for i in &b.items {
            *counts
                .entry(i.search_key.as_deref().unwrap_or_default())
                .or_default() += 1;
        }
        if let Some((k, n)) = counts.iter().find(|(_, n)| **n > 1) {
            panic!("after run {run}: search key {k:02x?} imported {n} times");
        }
    }
    assert!(
        killed_mid_run >= 10,
        "only {killed_mid_run} runs were killed before finishing"
    );
    assert!(
        imports_seen.windows(2).any(|w| w[1] > w[0]),
        "killed runs made progress: {imports_seen:?}"
    );

    // A final uninterrupted run completes the replay.
    let out = command()
        .arg("--json")
        .stdout(Stdio::piped())
        .output()
        .expect("final run");
    assert!(out.status.success(), "final run: {:?}", out.status);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json report");
    assert_eq!(
        report["failed"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );

    let b = emu.mailbox_snapshot(&mbx_b);
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for i in &b.items {
        *counts
            .entry(i.search_key.clone().unwrap_or_default())
            .or_default() += 1;
    }
    for i in &a.items {
        let k = i
            .search_key
            .clone()
            .expect("generated items have search keys");
        assert_eq!(
            counts.get(&k).copied().unwrap_or(0),
            1,
            "item {} ({:?})",
            i.id,
            i.subject
        );
    }
    assert_eq!(b.items.len(), a.items.len(), "no extra items");
    // And the folder tree is there.
    for f in &a.folders {
        assert!(b.folder_by_path(&f.path).is_some(), "folder {}", f.path);
    }
    rt.block_on(emu.shutdown());
}

/// The command-line contract around the same machinery: `--dry-run --json` plans without
/// changing anything (exit 0), a corrupted blob makes the run exit 1 listing the item, and a
/// missing target is a usage error (exit 2).
#[test]
fn dry_run_exit_codes_and_json() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut cfg = EmulatorConfig::generated(29, 1, 20);
    cfg.tenants.push(TenantSpec::generated(29, 1, 1, 0));
    let emu = rt.block_on(Emulator::start(cfg)).expect("emulator starts");
    let ts = emu.tenants();
    let (ta, tb) = (&ts[0], &ts[1]);
    let a = emu.mailbox_snapshot(&ta.users[0].primary_mailbox_id);
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("a.mbxa");
    archive_from_snapshot(&a, &archive);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, &tb.client_secret).expect("secret file");

    let base = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mbxa"));
        c.arg("replay")
            .arg(&archive)
            .args(["--tenant", &tb.tenant_id])
            .args(["--client-id", &tb.client_id])
            .arg("--client-secret-file")
            .arg(&secret)
            .args(["--graph-url", &emu.graph_url()])
            .args(["--login-url", &emu.login_url()])
            .arg("--journal")
            .arg(dir.path().join("j"))
            .args(extra)
            .env_remove("MBXA_CLIENT_SECRET")
            .env_remove("MBXA_CLIENT_CERT");
        c.output().expect("mbxa runs")
    };

    // No target mailbox: usage error.
    let out = base(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Dry run by --user: a plan, nothing imported.
    let out = base(&["--user", &tb.users[0].upn, "--dry-run", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json plan");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["imported"].as_u64(), Some(a.items.len() as u64));
    assert_eq!(emu.stats().imports, 0);
    assert!(
        !dir.path().join("j").exists(),
        "a dry run writes no journal"
    );

    // Damage one stored blob: the run completes, lists it, exits 1.
    let victim = {
        let r = mbxa_format::ArchiveReader::open_path(&archive).expect("open");
        let it = r.manifest().items[2].clone();
        let ItemContent::Blob { id, .. } = &it.content else {
            panic!("blob expected")
        };
        let e = r.lookup(id).expect("indexed");
        (it.id.clone(), e.offset + e.stored_len / 2)
    };
    let mut bytes = std::fs::read(&archive).expect("read");
    bytes[victim.1 as usize] ^= 0x5A;
    std::fs::write(&archive, &bytes).expect("write");
    let out = base(&["--mailbox", &tb.users[0].primary_mailbox_id]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed: 1"), "{text}");
    assert!(text.contains(&victim.0), "{text}");
    assert_eq!(emu.stats().imports as usize, a.items.len() - 1);
    rt.block_on(emu.shutdown());
}
