//! Scenario 4: a damaged vault. One byte of each vault file (start, middle, end) is flipped in a
//! copy of a vault holding `base.mbxa`; `vault verify --full` must report it (config excepted:
//! parts of it are informative), `vault export` must fail or give back the exact original
//! bytes (never a silently different archive), and `vault ls` must not crash.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::craft;
use crate::run::{self, judge, mbxa_cmd};
use crate::summary::Row;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if e.file_name() != "tmp" {
                    stack.push(p);
                }
            } else if e.file_name() != "lock" {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn scenario(work: &Path) -> Vec<Row> {
    let mut row = Row::new("vault: one byte flipped per file");
    let base = craft::base_archive();
    let archive = work.join("base.mbxa");
    std::fs::write(&archive, &base).expect("write");
    let vault = work.join("vault");
    let args: Vec<OsString> = vec![
        "vault".into(),
        "add".into(),
        vault.clone().into(),
        archive.clone().into(),
    ];
    let r = run::run(mbxa_cmd(&args, work), run::TIME_BOUND);
    if r.code != Some(0) {
        row.failed += 1;
        row.failures.push(format!(
            "vault add of the base archive: exit {:?}: {}",
            r.code, r.stderr
        ));
        return vec![row];
    }
    let id = mbxa_format::ArchiveReader::open(std::io::Cursor::new(&base[..]))
        .expect("base opens")
        .archive_id()
        .to_hex();
    let mut n = 0;
    for f in files(&vault) {
        let rel = f.strip_prefix(&vault).unwrap_or(&f).to_path_buf();
        let len = std::fs::metadata(&f).map(|m| m.len() as usize).unwrap_or(0);
        if len == 0 {
            continue;
        }
        let informative = rel.as_os_str() == "config";
        let mut offsets = vec![0, len / 2, len - 1];
        offsets.dedup();
        for off in offsets {
            n += 1;
            row.faults += 1;
            let v = work.join(format!("v{n}"));
            copy_dir(&vault, &v);
            let target = v.join(&rel);
            let mut b = std::fs::read(&target).expect("read");
            b[off] ^= 0x01;
            std::fs::write(&target, &b).expect("write");
            let out = work.join(format!("export-{n}.mbxa"));
            let cmds: [(&str, Vec<OsString>, bool); 3] = [
                (
                    "verify --full",
                    vec![
                        "vault".into(),
                        "verify".into(),
                        "--full".into(),
                        v.clone().into(),
                    ],
                    !informative,
                ),
                (
                    "export",
                    vec![
                        "vault".into(),
                        "export".into(),
                        v.clone().into(),
                        id.clone().into(),
                        "-o".into(),
                        out.clone().into(),
                    ],
                    false,
                ),
                (
                    "ls",
                    vec!["vault".into(), "ls".into(), v.clone().into()],
                    false,
                ),
            ];
            for (label, args, must_fail) in cmds {
                let r = run::run(mbxa_cmd(&args, work), run::TIME_BOUND);
                row.runs += 1;
                let mut verdict = judge(&r, must_fail);
                if verdict.is_ok() && label == "export" && r.code == Some(0) {
                    let got = std::fs::read(&out).unwrap_or_default();
                    if got != base {
                        verdict =
                            Err("exit 0 but the exported archive differs from the original".into());
                    }
                }
                match verdict {
                    Ok(()) => row.passed += 1,
                    Err(e) => {
                        row.failed += 1;
                        row.failures.push(format!(
                            "vault {} byte {off} flipped / mbxa vault {label}: {e}",
                            rel.display()
                        ));
                    }
                }
                row.details.push(format!(
                    "{:<90} {label:<14} exit {:?}",
                    format!("{} @{off}", rel.display()),
                    r.code
                ));
            }
            let _ = std::fs::remove_dir_all(&v);
            let _ = std::fs::remove_file(&out);
        }
    }
    row.note = "verify must detect (config excepted); export exact or an error".into();
    vec![row]
}
