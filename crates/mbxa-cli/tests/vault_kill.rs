//! `mbxa vault` and `mbxa verify` through the real binary, including SIGKILL at random points
//! of `vault add` and `vault prune`: afterwards the vault verifies and every archive exports
//! byte-identical.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mbxa_vault::synth::{Mailbox, Rng};

const BIN: &str = env!("CARGO_BIN_EXE_mbxa");

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "mbxa-cli-{tag}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
                ^ u128::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                )
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mbxa(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).arg("-q").output().unwrap()
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn archive_id(p: &Path) -> String {
    mbxa_format::ArchiveReader::open_path(p)
        .unwrap()
        .archive_id()
        .to_hex()
}

fn captures(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut m = Mailbox::new(11, 60, 5, 80_000);
    m.mean_text = 10_000;
    (0..n)
        .map(|i| {
            if i > 0 {
                m.evolve(8, 4, 4);
                m.reexport(15);
            }
            let p = dir.join(format!("cap{i}.mbxa"));
            m.write_archive(&p).unwrap();
            p
        })
        .collect()
}

/// The vault verifies clean, and every archive it lists exports identical to its source.
fn assert_sound(vault: &Path, sources: &[PathBuf], out: &Path, must_hold: &[PathBuf]) {
    let v = mbxa(&["vault", "verify", s(vault)]);
    assert_eq!(
        code(&v),
        0,
        "verify: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let ls = mbxa(&["--json", "vault", "ls", s(vault)]);
    assert_eq!(code(&ls), 0);
    let l: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let held: Vec<String> = l["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    for m in must_hold {
        assert!(
            held.contains(&archive_id(m)),
            "{} missing from the vault",
            m.display()
        );
    }
    for src in sources {
        let id = archive_id(src);
        if !held.contains(&id) {
            continue;
        }
        let o = out.join(format!("{id}.mbxa"));
        let _ = std::fs::remove_file(&o);
        let e = mbxa(&["vault", "export", s(vault), &id[..16], "-o", s(&o)]);
        assert_eq!(
            code(&e),
            0,
            "export: {}",
            String::from_utf8_lossy(&e.stderr)
        );
        assert_eq!(
            std::fs::read(&o).unwrap(),
            std::fs::read(src).unwrap(),
            "{} differs",
            src.display()
        );
    }
}

fn kill_after(args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("-q")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL on unix
    let _ = child.wait();
    true
}

#[test]
fn sigkill_during_add_and_prune_leaves_a_sound_vault() {
    let t = TempDir::new("kill");
    let archives = captures(&t.0, 3);
    let out = t.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let pack = "65536";
    let add_args = |v: &Path| {
        let mut a: Vec<String> = vec!["vault".into(), "add".into(), s(v).into()];
        a.extend(archives.iter().map(|p| s(p).to_string()));
        a.extend(["--pack-size".into(), pack.into()]);
        a
    };

    // Calibrate: how long an uninterrupted add takes.
    let v0 = t.0.join("v0");
    let start = Instant::now();
    let a = add_args(&v0);
    let o = mbxa(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let full = start.elapsed();
    assert_sound(&v0, &archives, &out, &archives);

    // Keep going until 10 runs were really killed mid-way (a run that finishes first is still
    // checked); bounded attempts.
    let mut rng = Rng::new(0x5eed);
    let mut interrupted = 0;
    for run in 0..30 {
        if interrupted == 10 {
            break;
        }
        let v = t.0.join(format!("add{run}"));
        let a = add_args(&v);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let delay = Duration::from_micros(rng.below(full.as_micros() as u64 * 3 / 4 + 1));
        interrupted += u32::from(kill_after(&a, delay));
        if v.join("config").exists() {
            // Whatever was committed is sound before any repair.
            assert_sound(&v, &archives, &out, &[]);
        }
        let o = mbxa(&a);
        assert_eq!(
            code(&o),
            0,
            "re-run add: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_sound(&v, &archives, &out, &archives);
    }
    assert_eq!(interrupted, 10, "adds interrupted");

    // Prune: forget the oldest, kill prune at random points, re-run.
    let first = archive_id(&archives[0]);
    let prepare = |v: &Path| {
        let a = add_args(v);
        let o = mbxa(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&o), 0);
        assert_eq!(code(&mbxa(&["vault", "forget", s(v), &first[..10]])), 0);
    };
    prepare(&v0);
    let start = Instant::now();
    assert_eq!(
        code(&mbxa(&["vault", "prune", s(&v0), "--pack-size", pack])),
        0
    );
    let prune_full = start.elapsed();
    assert_sound(&v0, &archives, &out, &archives[1..]);
    let mut interrupted = 0;
    for run in 0..30 {
        if interrupted == 10 {
            break;
        }
        let v = t.0.join(format!("prune{run}"));
        prepare(&v);
        let prune = ["vault", "prune", s(&v), "--pack-size", pack];
        let delay = Duration::from_micros(rng.below(prune_full.as_micros() as u64 * 3 / 4 + 1));
        interrupted += u32::from(kill_after(&prune, delay));
        assert_sound(&v, &archives, &out, &archives[1..]);
        let o = mbxa(&prune);
        assert_eq!(
            code(&o),
            0,
            "re-run prune: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_sound(&v, &archives, &out, &archives[1..]);
    }
    assert_eq!(interrupted, 10, "prunes interrupted");
}

#[test]
fn verify_and_vault_commands_exit_codes_and_json() {
    let t = TempDir::new("cli");
    let archives = captures(&t.0, 2);
    // verify: 0 intact, 1 damaged (listed), 2 unreadable.
    assert_eq!(
        code(&mbxa(&["verify", s(&archives[0]), s(&archives[1])])),
        0
    );
    let bad = t.0.join("bad.mbxa");
    let mut b = std::fs::read(&archives[0]).unwrap();
    let at = b.len() / 3;
    b[at] ^= 0x08;
    std::fs::write(&bad, &b).unwrap();
    let o = mbxa(&["--json", "verify", s(&bad)]);
    assert_eq!(code(&o), 1);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["intact"], false);
    assert!(!j["archives"][0]["problems"].as_array().unwrap().is_empty());
    assert_eq!(code(&mbxa(&["verify", s(&t.0.join("nope.mbxa"))])), 2);

    // dedupe reports without a vault.
    let o = mbxa(&["--json", "dedupe", s(&archives[0]), s(&archives[1])]);
    assert_eq!(code(&o), 0);
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(d["vault_bytes"].as_u64().unwrap() < d["total_file_bytes"].as_u64().unwrap());

    // vault: add (one damaged archive → 1), ls, export by prefix, unknown id → 2.
    let v = t.0.join("vault");
    let o = mbxa(&[
        "vault",
        "add",
        s(&v),
        s(&archives[0]),
        s(&bad),
        s(&archives[1]),
    ]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let o = mbxa(&["--json", "vault", "ls", s(&v)]);
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l["archives"].as_array().unwrap().len(), 2);
    assert_eq!(
        code(&mbxa(&[
            "vault",
            "export",
            s(&v),
            "ffffffffffff",
            "-o",
            s(&t.0.join("x.mbxa"))
        ])),
        2
    );
    assert_sound(&v, &archives, &t.0, &archives);

    // A damaged pack: vault verify exits 1 and names the affected archives.
    let packs = std::fs::read_dir(v.join("packs"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|e| e.path())
        .collect::<Vec<_>>();
    let p = &packs[0];
    let mut b = std::fs::read(p).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x80;
    std::fs::write(p, &b).unwrap();
    let o = mbxa(&["--json", "vault", "verify", s(&v)]);
    assert_eq!(code(&o), 1);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probs = r["problems"].as_array().unwrap();
    assert!(
        probs
            .iter()
            .any(|p| !p["archives"].as_array().unwrap().is_empty()),
        "{probs:?}"
    );
}
