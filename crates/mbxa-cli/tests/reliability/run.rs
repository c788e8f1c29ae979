//! Runs `mbxa` as a child under an address-space limit, with a deadline, sampling its peak
//! resident memory, and judges how it ended.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address-space limit of every child (`ulimit -v`): an allocation beyond it aborts the child,
/// which the judge reports as a signal.
pub(crate) const AS_LIMIT: u64 = 1 << 30;
/// Peak resident memory any run may reach.
pub(crate) const RSS_BOUND: u64 = 512 << 20;
/// Wall-clock bound of one offline run.
pub(crate) const TIME_BOUND: Duration = Duration::from_secs(20);

/// How a run ended.
#[derive(Debug, Clone)]
pub(crate) struct RunOut {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
    /// Highest VmHWM seen while polling, in bytes.
    pub(crate) peak: u64,
    pub(crate) timed_out: bool,
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A `mbxa` command wrapped as `sh -c 'ulimit -v …; exec mbxa "$@"'` (same pid after exec),
/// with a clean environment for the MBXA_* variables.
pub(crate) fn mbxa_cmd(args: &[OsString], cwd: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "ulimit -v {} && exec \"$0\" \"$@\"",
            AS_LIMIT / 1024
        ))
        .arg(env!("CARGO_BIN_EXE_mbxa"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    without_mbxa_env(&mut c);
    c
}

/// Removes the caller's `MBXA_*` connection settings, so a run sees only what the test gives.
pub(crate) fn without_mbxa_env(c: &mut Command) {
    for k in [
        "MBXA_TENANT_ID",
        "MBXA_CLIENT_ID",
        "MBXA_CLIENT_SECRET",
        "MBXA_CLIENT_CERT",
        "MBXA_GRAPH_URL",
        "MBXA_LOGIN_URL",
    ] {
        c.env_remove(k);
    }
}

/// Spawns `c`, drains its output, polls its peak memory, kills it at `deadline`.
pub(crate) fn run(mut c: Command, deadline: Duration) -> RunOut {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    let mut child = c.spawn().expect("spawn mbxa");
    let pid = child.id();
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let mut peak = 0;
    let mut timed_out = false;
    let mut sleep = Duration::from_millis(1);
    let status = loop {
        if let Some(h) = vm_hwm(pid) {
            peak = peak.max(h);
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(8));
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&to.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&te.join().unwrap_or_default()).into_owned();
    RunOut {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        elapsed,
        peak,
        timed_out,
    }
}

/// Checks a run of an offline command on hostile input. `must_fail`: exit 0 is wrong.
pub(crate) fn judge(r: &RunOut, must_fail: bool) -> Result<(), String> {
    let tail = |s: &str| -> String {
        let t: Vec<&str> = s.lines().rev().take(4).collect();
        t.into_iter().rev().collect::<Vec<_>>().join(" | ")
    };
    if r.timed_out {
        return Err(format!("did not finish within {:?}", TIME_BOUND));
    }
    for bad in [
        "panicked",
        "stack overflow",
        "memory allocation of",
        "RUST_BACKTRACE",
    ] {
        if r.stderr.contains(bad) {
            return Err(format!("stderr contains {bad:?}: {}", tail(&r.stderr)));
        }
    }
    if let Some(sig) = r.signal {
        return Err(format!("killed by signal {sig}: {}", tail(&r.stderr)));
    }
    if r.peak > RSS_BOUND {
        return Err(format!(
            "peak memory {} MiB > {} MiB",
            r.peak >> 20,
            RSS_BOUND >> 20
        ));
    }
    match r.code {
        Some(0) if must_fail => Err(format!(
            "exit 0 on hostile input (stdout: {})",
            tail(&r.stdout)
        )),
        Some(0) => Ok(()),
        Some(2) => {
            let named = r.stderr.lines().any(|l| {
                l.strip_prefix("error: ")
                    .is_some_and(|m| m.trim().len() >= 8)
            });
            if named {
                Ok(())
            } else {
                Err(format!(
                    "exit 2 without an `error:` line: {}",
                    tail(&r.stderr)
                ))
            }
        }
        Some(1) => {
            // `verify` prints DAMAGED lines, `vault verify` a list of problems, the others
            // warnings naming each item.
            let named = r.stdout.contains("DAMAGED")
                || r.stdout.contains("problem(s)")
                || r.stderr
                    .lines()
                    .any(|l| l.starts_with("error: ") || l.starts_with("warning: "));
            if named {
                Ok(())
            } else {
                Err(format!(
                    "exit 1 without naming a problem: {} / {}",
                    tail(&r.stdout),
                    tail(&r.stderr)
                ))
            }
        }
        Some(c) => Err(format!("exit code {c}: {}", tail(&r.stderr))),
        None => Err("no exit code".into()),
    }
}
