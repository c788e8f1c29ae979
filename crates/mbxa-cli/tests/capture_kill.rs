//! `mbxa capture` killed with SIGKILL at random points and re-run: the archive is complete and
//! byte-exact, and no item was exported more than once more than needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mbxa_emulator::{Emulator, EmulatorConfig, TenantInfo};
use mbxa_format::{ArchiveReader, ItemContent};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "mbxa-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mbxa(emu: &Emulator, t: &TenantInfo, mbx: &str, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mbxa"));
    c.args(["capture", "--mailbox", mbx, "-o"])
        .arg(out)
        .args([
            "--json",
            "--progress",
            "none",
            "--graph-url",
            &emu.graph_url(),
            "--login-url",
            &emu.login_url(),
        ])
        .env("MBXA_TENANT_ID", &t.tenant_id)
        .env("MBXA_CLIENT_ID", &t.client_id)
        .env("MBXA_CLIENT_SECRET", &t.client_secret)
        .env_remove("MBXA_CLIENT_CERT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Archive items equal the mailbox's, byte for byte.
fn check(out: &Path, emu: &Emulator, mbx: &str) {
    let snap = emu.mailbox_snapshot(mbx);
    let mut r = ArchiveReader::open_path(out).expect("archive opens");
    let m = r.manifest().clone();
    let got: BTreeMap<&str, &ItemContent> = m
        .items
        .iter()
        .map(|i| (i.id.as_str(), &i.content))
        .collect();
    assert_eq!(got.len(), snap.items.len(), "item count");
    for s in &snap.items {
        let Some(ItemContent::Blob { id, .. }) = got.get(s.id.as_str()) else {
            panic!("{} missing or failed", s.id)
        };
        assert!(
            r.read_blob(id).unwrap() == s.data.as_ref(),
            "bytes of {}",
            s.id
        );
    }
}

/// Small deterministic PRNG (xorshift64*): reproducible kill points without a dependency.
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
fn sigkill_at_random_points_then_rerun_completes_without_double_exports() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = EmulatorConfig::generated(21, 1, 300);
    cfg.latency = Duration::from_millis(15);
    let emu = rt.block_on(Emulator::start(cfg)).unwrap();
    let t = emu.tenants().remove(0);
    let mbx = t.users[0].primary_mailbox_id.clone();
    let dir = Dir::new("kill");
    let items = emu.mailbox_snapshot(&mbx).items.len();

    // Calibration: an uninterrupted run, and its JSON summary.
    let cal = dir.0.join("cal.mbxa");
    let t0 = Instant::now();
    let o = mbxa(&emu, &t, &mbx, &cal).output().unwrap();
    let full = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["items"], items);
    assert_eq!(summary["complete"], true);
    check(&cal, &emu, &mbx);

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut interrupted = 0;
    for run in 0..20 {
        emu.reset_stats();
        let out = dir.0.join(format!("k{run}.mbxa"));
        let delay = Duration::from_millis(rng.below(full.as_millis() as u64 * 9 / 10));
        let mut child = mbxa(&emu, &t, &mbx, &out).spawn().unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap(); // SIGKILL
        }
        child.wait().unwrap();
        if !finished {
            interrupted += 1;
        }
        // Killed before the rename, or after it but before the journal was removed: re-run.
        if !out.exists() || mbxa_capture::journal_path(&out).exists() {
            let o = mbxa(&emu, &t, &mbx, &out).output().unwrap();
            assert!(
                o.status.success(),
                "run {run} (killed after {delay:?}): {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        check(&out, &emu, &mbx);
        assert!(!mbxa_capture::journal_path(&out).exists());
        // The killed run's lock (dead pid) was taken over and released.
        assert!(!out.with_extension("mbxa.lock").exists());
        let stats = emu.stats();
        let max = stats.exports.values().copied().max().unwrap_or(0);
        assert!(max <= 2, "run {run}: an item was exported {max} times");
        let twice = stats.exports.values().filter(|&&n| n == 2).count();
        // At most what was not yet journaled:
        // (6 batches in progress + 4 queued + 4 in the writer) × 20 ids.
        assert!(twice <= 280, "run {run}: {twice} items exported twice");
    }
    assert!(
        interrupted >= 10,
        "only {interrupted} runs were interrupted mid-capture"
    );
    rt.block_on(emu.shutdown());
}

#[test]
fn mailboxes_json_progress_and_bad_folder_exit_codes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig::generated(4, 1, 40)))
        .unwrap();
    let t = emu.tenants().remove(0);
    let u = &t.users[0];
    let dir = Dir::new("cli");

    let o = Command::new(env!("CARGO_BIN_EXE_mbxa"))
        .args([
            "mailboxes",
            "--user",
            &u.upn,
            "--json",
            "--graph-url",
            &emu.graph_url(),
            "--login-url",
            &emu.login_url(),
        ])
        .env("MBXA_TENANT_ID", &t.tenant_id)
        .env("MBXA_CLIENT_ID", &t.client_id)
        .env("MBXA_CLIENT_SECRET", &t.client_secret)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["primary_mailbox_id"], u.primary_mailbox_id.as_str());
    assert_eq!(
        v["archive_mailbox_id"],
        u.archive_mailbox_id.as_deref().unwrap()
    );

    // --user --archive with JSON Lines progress on stderr.
    let out = dir.0.join("arch.mbxa");
    let mut c = Command::new(env!("CARGO_BIN_EXE_mbxa"));
    c.args(["capture", "--user", &u.upn, "--archive", "-o"])
        .arg(&out)
        .args([
            "--progress",
            "json",
            "--graph-url",
            &emu.graph_url(),
            "--login-url",
            &emu.login_url(),
        ])
        .env("MBXA_TENANT_ID", &t.tenant_id)
        .env("MBXA_CLIENT_ID", &t.client_id)
        .env("MBXA_CLIENT_SECRET", &t.client_secret);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "started");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "finished");
    let n = emu
        .mailbox_snapshot(u.archive_mailbox_id.as_deref().unwrap())
        .items
        .len();
    assert_eq!(last["items_done"], n);
    let m = ArchiveReader::open_path(&out).unwrap().manifest().clone();
    assert_eq!(m.source.kind, mbxa_format::MailboxKind::Archive);
    assert_eq!(m.source.user, u.upn);
    assert_eq!(m.source.tenant_id, t.tenant_id);

    // A folder that does not exist: exit 2, nothing written.
    let bad = dir.0.join("bad.mbxa");
    let o = mbxa(&emu, &t, &u.primary_mailbox_id, &bad)
        .args(["--folder", "No/Such"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No/Such"));
    assert!(!bad.exists());
    rt.block_on(emu.shutdown());
}

/// `--mailbox ID` records a primary mailbox unless `--archive` says the id is an archive's.
#[test]
fn mailbox_id_with_archive_is_recorded_as_an_archive() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig::generated(6, 1, 20)))
        .unwrap();
    let t = emu.tenants().remove(0);
    let archive = t.users[0]
        .archive_mailbox_id
        .clone()
        .expect("generated users have an archive");
    let primary = t.users[0].primary_mailbox_id.clone();
    let dir = Dir::new("kind");
    for (mbx, flag, want) in [
        (&archive, true, mbxa_format::MailboxKind::Archive),
        (&primary, false, mbxa_format::MailboxKind::Primary),
    ] {
        let out = dir.0.join(format!("{want:?}.mbxa"));
        let mut c = mbxa(&emu, &t, mbx, &out);
        if flag {
            c.arg("--archive");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = ArchiveReader::open_path(&out).unwrap();
        assert_eq!(r.manifest().source.kind, want);
        assert_eq!(&r.manifest().source.mailbox_id, mbx);
        check(&out, &emu, mbx);
    }
    rt.block_on(emu.shutdown());
}
