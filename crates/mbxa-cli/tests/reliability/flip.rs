//! Scenario 3: every single-byte change of a small archive is detected: all offsets through the
//! library (`mbxa_verify::verify_archive`), a spread sample through `mbxa verify`.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::craft;
use crate::run::{self, judge, mbxa_cmd};
use crate::summary::Row;

/// Is the archive at `path` reported damaged (or unreadable) by the library?
fn detected(path: &Path) -> bool {
    let opts = mbxa_verify::Options { deep: false };
    match mbxa_verify::verify_archive(path, &opts, &|_| {}) {
        Ok(r) => !r.is_intact(),
        Err(_) => true,
    }
}

pub(crate) fn scenario(work: &Path) -> Vec<Row> {
    let base = craft::base_archive();
    let n = base.len();
    let clean = work.join("flip-clean.mbxa");
    std::fs::write(&clean, &base).expect("write");
    assert!(!detected(&clean), "the unflipped archive verifies clean");

    // Library: every offset, XOR 0x01 and XOR 0x80 (low and high bit of every byte).
    let masks = [0x01u8, 0x80];
    let mut lib = Row::new("byte flips: library, all offsets");
    lib.note = format!("{n}-byte archive, 3 items, masks 0x01 and 0x80");
    let missed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let total = n * masks.len();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (base, missed, next) = (&base, &missed, &next);
            let path = work.join(format!("flip-lib-{t}.mbxa"));
            s.spawn(move || {
                let mut buf = base.clone();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        break;
                    }
                    let (off, mask) = (k / masks.len(), masks[k % masks.len()]);
                    buf[off] ^= mask;
                    std::fs::write(&path, &buf).expect("write flipped");
                    if !detected(&path) {
                        missed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("offset {off} ^ {mask:#04x} not detected"));
                    }
                    buf[off] ^= mask;
                }
            });
        }
    });
    let missed = missed.into_inner().unwrap_or_else(|p| p.into_inner());
    lib.runs = total as u64;
    lib.faults = total as u64;
    lib.failed = missed.len() as u64;
    lib.passed = lib.runs - lib.failed;
    lib.failures = missed.into_iter().take(20).collect();

    // Binary: 50 offsets spread over the file (every region: header, blobs, manifest, index,
    // trailer, zero padding, end blocks): exit 1 and a DAMAGED line.
    let mut bin = Row::new("byte flips: mbxa verify, sample");
    let offsets: Vec<usize> = (0..50)
        .map(|k| (k * n) / 50 + (k * 37) % 11)
        .map(|o| o.min(n - 1))
        .collect();
    for (k, &off) in offsets.iter().enumerate() {
        let mut buf = base.clone();
        buf[off] ^= 0x01;
        let p = work.join(format!("flip-bin-{k}.mbxa"));
        std::fs::write(&p, &buf).expect("write");
        let args: Vec<OsString> = vec!["verify".into(), p.clone().into()];
        let r = run::run(mbxa_cmd(&args, work), run::TIME_BOUND);
        bin.runs += 1;
        bin.faults += 1;
        let v = judge(&r, true).and_then(|()| {
            if r.code == Some(1) {
                Ok(())
            } else {
                Err(format!(
                    "exit {:?} (expected 1: damage found): {}",
                    r.code,
                    r.stderr.lines().last().unwrap_or("")
                ))
            }
        });
        match v {
            Ok(()) => bin.passed += 1,
            Err(e) => {
                bin.failed += 1;
                bin.failures.push(format!("flip at offset {off}/{n}: {e}"));
            }
        }
        let _ = std::fs::remove_file(&p);
    }
    bin.note = "XOR 0x01; exit 1 with a DAMAGED line".into();
    vec![lib, bin]
}
