//! Reliability suite of the `mbxa` binary:
//! 1. hostile inputs (crafted archives and item streams in `fixtures/hostile/`, truncations, the
//!    fuzz corpora, the format's corrupt fixtures) through `info`, `ls --items`, `verify --deep`,
//!    `show`, `extract --format eml` and `vault add`: each ends with exit 0/1/2 and a named error,
//!    never a panic or signal, within a time bound and under an address-space limit, and writes
//!    nothing outside its output directory;
//! 2. secrets: capture, replay, mailboxes, failing auth and certificate auth against a faulty
//!    emulator leak no client secret, private key, access token or importUrl into any output or
//!    file written;
//! 3. every single-byte change of a small archive is detected by `verify`.
//!
//! A summary table (runs, faults injected, outcomes) is printed and written to
//! `target/reliability-summary.txt`. Regenerate the fixtures with
//! `MBXA_REGEN_HOSTILE=1 cargo test -p mbxa-cli --test reliability hostile_fixtures`.
#![cfg(unix)]

#[path = "reliability/craft.rs"]
mod craft;
#[path = "reliability/flip.rs"]
mod flip;
#[path = "reliability/hostile.rs"]
mod hostile;
#[path = "reliability/run.rs"]
mod run;
#[path = "reliability/secrets.rs"]
mod secrets;
#[path = "reliability/summary.rs"]
mod summary;

use std::time::Instant;

use summary::Row;

/// The committed `fixtures/hostile/*.mbxa` are exactly what the generator makes, and each one's
/// declared expectation about opening holds for the reference reader.
#[test]
fn hostile_fixtures_are_what_the_generator_makes() {
    let dir = hostile::fixtures_dir();
    let regen = std::env::var_os("MBXA_REGEN_HOSTILE").is_some();
    let fx = craft::fixtures();
    let mut index = String::new();
    for f in &fx {
        let opens = mbxa_format::ArchiveReader::open(std::io::Cursor::new(&f.bytes[..])).is_ok();
        assert_eq!(
            opens,
            f.expect != craft::Expect::OpenFails,
            "{}: reference reader {} it",
            f.name,
            if opens { "opens" } else { "rejects" }
        );
        let path = dir.join(format!("{}.mbxa", f.name));
        if regen {
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(&path, &f.bytes).expect("write fixture");
        } else {
            let committed = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (regenerate: MBXA_REGEN_HOSTILE=1)", path.display()));
            assert!(
                committed == f.bytes,
                "{} differs from the generator (regenerate: MBXA_REGEN_HOSTILE=1)",
                path.display()
            );
        }
        index.push_str(&format!(
            "| `{}.mbxa` | {} | {:?} | {} |\n",
            f.name,
            f.what,
            f.expect,
            f.bytes.len()
        ));
    }
    if regen {
        std::fs::write(dir.join("INDEX.md.generated"), index).expect("index");
    }
}

#[test]
fn reliability_suite() {
    let t0 = Instant::now();
    let work = tempfile::tempdir().expect("tempdir");
    let (w1, w2, w3) = (
        work.path().join("hostile"),
        work.path().join("secrets"),
        work.path().join("flip"),
    );
    for d in [&w1, &w2, &w3] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let (hostile, secrets, flips) = std::thread::scope(|s| {
        let h = s.spawn(|| hostile::scenario(&w1));
        let sec = s.spawn(|| secrets::scenario(&w2));
        let f = s.spawn(|| flip::scenario(&w3));
        (
            h.join().expect("hostile scenario"),
            sec.join().expect("secrets scenario"),
            f.join().expect("flip scenario"),
        )
    });
    let (mut rows, details): (Vec<Row>, Vec<String>) = hostile;
    rows.extend(secrets);
    rows.extend(flips);
    let text = summary::render(&rows, &details, t0.elapsed());
    println!("{text}");
    let p = summary::path();
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::write(&p, &text).expect("write summary");
    let failed: u64 = rows.iter().map(|r| r.failed).sum();
    assert_eq!(failed, 0, "reliability failures (see {}):\n{text}", p.display());
}
