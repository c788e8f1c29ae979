//! Scenario 2: against an emulator injecting throttling, 5xx, dropped and truncated responses
//! and archive redirects (308, moved-folder errors, import 409), the Graph commands of the
//! binary — mailboxes, capture (JSON progress, --json, killed mid-way and resumed, certificate
//! auth), replay into a second tenant (--journal and the default journal), replay --dry-run,
//! failing auth, vault add — leak no client secret, private key, access token or importUrl into
//! stdout, stderr or any file they write (archives and `.part` files are scanned decompressed).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mbxa_emulator::{Emulator, EmulatorConfig, Faults, TenantSpec};

use crate::run::{self, RunOut};
use crate::summary::Row;

const CERT_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mbxa-emulator/tests/fixtures"
);
const NET_BOUND: Duration = Duration::from_secs(90);

/// What must never be seen, by label.
struct Needles(Vec<(String, Vec<u8>)>);

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A base64url JWT segment start (`eyJ` = `{"`) of 16+ characters followed by a dot.
fn jwt_like(hay: &[u8]) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut i = 0;
    while i + 3 <= hay.len() {
        if &hay[i..i + 3] == b"eyJ" {
            let mut j = i + 3;
            while j < hay.len() && ok(hay[j]) {
                j += 1;
            }
            if j - i >= 16 && j < hay.len() && hay[j] == b'.' {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

impl Needles {
    fn leaks(&self, hay: &[u8]) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .iter()
            .filter(|(_, n)| find(hay, n))
            .map(|(l, _)| l.clone())
            .collect();
        if jwt_like(hay) {
            out.push("a JWT-looking string (access token or client assertion)".into());
        }
        let lower = hay.to_ascii_lowercase();
        if find(&lower, b"authtoken") {
            out.push("`authtoken` (an importUrl)".into());
        }
        if find(&lower, b"/api/gbeta/") || find(&lower, b"/api/gv1.0/") {
            out.push("an importUrl path".into());
        }
        out
    }
}

/// The bytes of a file plus the content of every zstd frame in it (archives, `.part` files and
/// vault packs store their data compressed), at most 256 MiB in all.
fn expand(bytes: &[u8]) -> Vec<Vec<u8>> {
    use std::io::Read;
    let mut v = vec![bytes.to_vec()];
    let mut budget: u64 = 256 << 20;
    let magic = [0x28, 0xB5, 0x2F, 0xFD];
    let mut i = 0;
    while i + 4 <= bytes.len() && budget > 0 {
        if bytes[i..i + 4] == magic {
            if let Ok(d) = zstd::stream::read::Decoder::new(&bytes[i..]) {
                let mut out = Vec::new();
                let _ = d.single_frame().take(budget).read_to_end(&mut out);
                budget = budget.saturating_sub(out.len() as u64);
                if !out.is_empty() {
                    v.push(out);
                }
            }
        }
        i += 1;
    }
    v
}

fn all_files(root: &Path, skip: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d == skip {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

struct Ctx {
    work: PathBuf,
    graph: String,
    login: String,
}

impl Ctx {
    /// `mbxa ARGS` with the work dir as HOME/XDG dirs/TMPDIR (so anything written lands where it
    /// is scanned), connection URLs, and `env` (credentials).
    fn cmd(&self, args: &[OsString], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mbxa"));
        c.args(args);
        // Offline commands (vault) take no connection flags.
        if args.first().is_none_or(|a| a != "vault") {
            c.args(["--graph-url", &self.graph, "--login-url", &self.login]);
        }
        c.current_dir(self.work.join("cwd"))
            .env("HOME", self.work.join("home"))
            .env("XDG_STATE_HOME", self.work.join("state"))
            .env("XDG_CACHE_HOME", self.work.join("cache"))
            .env("XDG_CONFIG_HOME", self.work.join("config"))
            .env("TMPDIR", self.work.join("tmp"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run::without_mbxa_env(&mut c);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

pub(crate) fn scenario(work: &Path) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let crt = std::fs::read_to_string(format!("{CERT_DIR}/test-client.crt")).expect("test cert");
    let pem = std::fs::read_to_string(format!("{CERT_DIR}/test-client.pem")).expect("test pem");
    let mut cfg = EmulatorConfig::generated(0x5EC2E7, 1, 60);
    cfg.tenants[0].certificates.push(crt);
    cfg.tenants.push(TenantSpec::generated(0x5EC2E7, 1, 1, 0));
    cfg.latency = Duration::from_millis(1);
    let faults: Faults =
        "throttle=0.05x2,retry-after=0.1,error=0.03,drop=0.02,truncate=0.01,archive"
            .parse()
            .expect("faults");
    cfg.faults = faults;
    let emu = rt.block_on(Emulator::start(cfg)).expect("emulator starts");
    let ts = emu.tenants();
    let (ta, tb) = (&ts[0], &ts[1]);
    let (ua, ub) = (&ta.users[0], &tb.users[0]);

    for d in [
        "cwd", "home", "state", "cache", "config", "tmp", "out", "creds",
    ] {
        std::fs::create_dir_all(work.join(d)).expect("mkdir");
    }
    let creds = work.join("creds");
    let pem_path = creds.join("client.pem");
    std::fs::write(&pem_path, &pem).expect("pem");
    let secret_b = creds.join("secret-b");
    std::fs::write(&secret_b, &tb.client_secret).expect("secret file");
    let wrong = "Wr0ng~Secret.Value_for-reliability-1234";

    let mut needles = vec![
        (
            "tenant A client secret".to_string(),
            ta.client_secret.as_bytes().to_vec(),
        ),
        (
            "tenant B client secret".to_string(),
            tb.client_secret.as_bytes().to_vec(),
        ),
        (
            "the wrong secret given".to_string(),
            wrong.as_bytes().to_vec(),
        ),
    ];
    let mut in_key = false;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            in_key = line.contains("PRIVATE KEY");
            continue;
        }
        if in_key && line.len() >= 32 {
            needles.push(("a private key PEM line".into(), line.as_bytes().to_vec()));
        }
    }
    assert!(
        needles.len() > 10,
        "private key lines found in the test PEM"
    );
    let needles = Needles(needles);
    // The scanner is honest: it finds what the credential files hold.
    assert!(!needles.leaks(pem.as_bytes()).is_empty());
    assert!(!needles.leaks(tb.client_secret.as_bytes()).is_empty());
    assert!(jwt_like(
        b"Bearer eyJ0eXAiOiJKV1QiLCJlbXUiOnRydWV9.abcdefghijklmnop"
    ));

    let ctx = Ctx {
        work: work.to_path_buf(),
        graph: emu.graph_url(),
        login: emu.login_url(),
    };
    let env_a = [
        ("MBXA_TENANT_ID", ta.tenant_id.as_str()),
        ("MBXA_CLIENT_ID", ta.client_id.as_str()),
        ("MBXA_CLIENT_SECRET", ta.client_secret.as_str()),
    ];
    let env_wrong = [
        ("MBXA_TENANT_ID", ta.tenant_id.as_str()),
        ("MBXA_CLIENT_ID", ta.client_id.as_str()),
        ("MBXA_CLIENT_SECRET", wrong),
    ];
    let out = |n: &str| work.join("out").join(n).into_os_string();
    let pa = out("a.mbxa");
    let parch = out("a-archive.mbxa");
    let sb = secret_b.clone().into_os_string();
    let b_flags = |mut v: Vec<OsString>| {
        v.extend(os(&[
            "--tenant",
            &tb.tenant_id,
            "--client-id",
            &tb.client_id,
        ]));
        v.push("--client-secret-file".into());
        v.push(sb.clone());
        v
    };

    // (label, args, env, allowed exit codes)
    type Step<'a> = (&'a str, Vec<OsString>, Vec<(&'a str, &'a str)>, &'a [i32]);
    let mut steps: Vec<Step<'_>> = vec![
        (
            "mailboxes",
            os(&["mailboxes", "--user", &ua.upn]),
            env_a.to_vec(),
            &[0],
        ),
        (
            "mailboxes --json",
            os(&["--json", "mailboxes", "--user", &ua.upn]),
            env_a.to_vec(),
            &[0],
        ),
        (
            "capture --progress json",
            [
                os(&["capture", "--user", &ua.upn, "--progress", "json", "-o"]),
                vec![pa.clone()],
            ]
            .concat(),
            env_a.to_vec(),
            &[0, 1],
        ),
        (
            "capture --archive --json (308 / moved folders)",
            [
                os(&["--json", "capture", "--user", &ua.upn, "--archive", "-o"]),
                vec![parch.clone()],
            ]
            .concat(),
            env_a.to_vec(),
            &[0, 1],
        ),
        (
            "capture --client-cert",
            [
                os(&[
                    "capture",
                    "--user",
                    &ua.upn,
                    "--tenant",
                    &ta.tenant_id,
                    "--client-id",
                    &ta.client_id,
                    "--client-cert",
                ]),
                vec![
                    pem_path.clone().into_os_string(),
                    "-o".into(),
                    out("cert.mbxa"),
                ],
            ]
            .concat(),
            vec![],
            &[0, 1],
        ),
        (
            "mailboxes, wrong secret",
            os(&["mailboxes", "--user", &ua.upn]),
            env_wrong.to_vec(),
            &[2],
        ),
        (
            "capture, wrong secret",
            [
                os(&["--json", "capture", "--user", &ua.upn, "-o"]),
                vec![out("wrong.mbxa")],
            ]
            .concat(),
            env_wrong.to_vec(),
            &[2],
        ),
        (
            "replay --dry-run --json",
            b_flags(
                [
                    os(&["--json", "replay"]),
                    vec![pa.clone()],
                    os(&["--user", &ub.upn, "--dry-run"]),
                ]
                .concat(),
            ),
            vec![],
            &[0],
        ),
        (
            "replay --journal, tenant B",
            b_flags(
                [
                    os(&["replay"]),
                    vec![pa.clone()],
                    os(&["--user", &ub.upn, "--progress", "json", "--journal"]),
                    vec![out("replay-a.journal")],
                ]
                .concat(),
            ),
            vec![],
            &[0, 1],
        ),
        (
            "replay into archive (409), default journal",
            b_flags(
                [
                    os(&["--json", "replay"]),
                    vec![parch.clone()],
                    os(&["--user", &ub.upn, "--archive"]),
                ]
                .concat(),
            ),
            vec![],
            &[0, 1],
        ),
        (
            "replay again (nothing twice)",
            b_flags(
                [
                    os(&["replay"]),
                    vec![pa.clone()],
                    os(&["--user", &ub.upn, "--journal"]),
                    vec![out("replay-a.journal")],
                ]
                .concat(),
            ),
            vec![],
            &[0, 1],
        ),
        (
            "vault add",
            [
                os(&["vault", "add"]),
                vec![out("vault"), pa.clone(), parch.clone()],
            ]
            .concat(),
            vec![],
            &[0],
        ),
    ];

    let mut rows_run = Row::new("secrets: commands vs faulty Graph");
    let mut failures = Vec::new();
    let mut runs: Vec<(String, RunOut)> = Vec::new();
    let check = |label: &str, r: &RunOut, allowed: &[i32], failures: &mut Vec<String>| -> bool {
        let mut ok = true;
        if r.timed_out || r.signal.is_some() || r.stderr.contains("panicked") {
            failures.push(format!(
                "{label}: crashed or hung ({:?}, signal {:?})",
                r.code, r.signal
            ));
            ok = false;
        } else if !r.code.is_some_and(|c| allowed.contains(&c)) {
            let last: Vec<&str> = r.stderr.lines().rev().take(3).collect();
            failures.push(format!(
                "{label}: exit {:?}, expected {allowed:?}: {last:?}",
                r.code
            ));
            ok = false;
        }
        if r.code == Some(2) && !r.stderr.lines().any(|l| l.starts_with("error: ")) {
            failures.push(format!("{label}: exit 2 without an `error:` line"));
            ok = false;
        }
        ok
    };

    // A capture killed mid-way leaves a `.part` and a journal: scanned, then resumed.
    let mut killed_scanned = 0u64;
    let mut killed_leaks: Vec<String> = Vec::new();
    let killed = work.join("out").join("killed.mbxa");
    {
        let args = [
            os(&["capture", "--user", &ua.upn, "--progress", "json", "-o"]),
            vec![killed.clone().into_os_string()],
        ]
        .concat();
        let mut c = ctx.cmd(&args, &env_a);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().expect("spawn capture");
        let journal = mbxa_capture::journal_path(&killed);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            let grown = std::fs::metadata(&journal)
                .map(|m| m.len() > 200)
                .unwrap_or(false);
            if grown || child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        rows_run.runs += 1;
        rows_run.faults += 1; // the SIGKILL
        let part = mbxa_format::ArchiveFile::part_path(&killed);
        if !(part.exists() || killed.exists()) {
            failures.push("killed capture left neither a .part nor an archive".into());
        }
        // Scan now: the next run will finish and remove them.
        for p in [part, journal] {
            if let Ok(b) = std::fs::read(&p) {
                killed_scanned += 1;
                let found: std::collections::BTreeSet<String> =
                    expand(&b).iter().flat_map(|c| needles.leaks(c)).collect();
                for l in found {
                    killed_leaks.push(format!("{}: contains {l}", p.display()));
                }
            }
        }
        steps.insert(
            5,
            (
                "capture resumed after SIGKILL",
                args,
                env_a.to_vec(),
                &[0, 1],
            ),
        );
    }

    for (label, args, env, allowed) in &steps {
        let r = run::run(ctx.cmd(args, env), NET_BOUND);
        rows_run.runs += 1;
        if check(label, &r, allowed, &mut failures) {
            rows_run.passed += 1;
        } else {
            rows_run.failed += 1;
        }
        rows_run.details.push(format!(
            "{label:<46} exit {:<4} {:>6} ms",
            r.code.map_or_else(
                || format!("sig{}", r.signal.unwrap_or(0)),
                |c| c.to_string()
            ),
            r.elapsed.as_millis()
        ));
        runs.push((label.to_string(), r));
    }

    // Outputs and every file written.
    let mut scan = Row::new("secrets: outputs and files scanned");
    for (label, r) in &runs {
        for (which, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            scan.runs += 1;
            let l = needles.leaks(text.as_bytes());
            if l.is_empty() {
                scan.passed += 1;
            } else {
                scan.failed += 1;
                failures.push(format!("{label}: {which} contains {}", l.join(", ")));
            }
        }
    }
    scan.runs += killed_scanned;
    scan.passed += killed_scanned.saturating_sub(killed_leaks.len() as u64);
    scan.failed += killed_leaks.len() as u64;
    failures.extend(killed_leaks);
    if killed_scanned < 2 {
        failures.push(format!(
            "the killed capture left {killed_scanned} of .part and journal to scan"
        ));
    }
    let files = all_files(work, &creds);
    let mut kinds = std::collections::BTreeSet::new();
    for p in &files {
        let Ok(b) = std::fs::read(p) else { continue };
        if let Some(e) = p.extension() {
            kinds.insert(e.to_string_lossy().into_owned());
        }
        scan.runs += 1;
        let mut found = std::collections::BTreeSet::new();
        for chunk in expand(&b) {
            found.extend(needles.leaks(&chunk));
        }
        if found.is_empty() {
            scan.passed += 1;
        } else {
            scan.failed += 1;
            let rel = p.strip_prefix(work).unwrap_or(p);
            failures.push(format!(
                "file {} contains {}",
                rel.display(),
                found.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let replay_journals = files
        .iter()
        .filter(|p| p.starts_with(work.join("state")) && p.to_string_lossy().contains("replay"))
        .count();

    // The paths under test really ran: tokens issued, importUrls used, faults fired.
    let stats = emu.stats();
    let fired: u64 = stats.faults.values().sum();
    rows_run.faults += fired + 2; // + the two wrong-secret runs
    if stats.tokens_issued == 0 {
        failures.push("the emulator issued no access token".into());
    }
    if stats.imports == 0 {
        failures.push("no item was imported (importUrls unused)".into());
    }
    for k in ["redirect308", "import409"] {
        if stats.faults.get(k).copied().unwrap_or(0) == 0 {
            failures.push(format!("fault {k} never fired"));
        }
    }
    if replay_journals == 0 {
        failures.push("no default replay journal under XDG_STATE_HOME was written".into());
    }
    rows_run.note = format!(
        "faults fired {:?}; {} tokens, {} imports",
        stats.faults, stats.tokens_issued, stats.imports
    );
    scan.faults = needles.0.len() as u64;
    scan.note = format!(
        "{} files ({}) + .part and journal of a killed capture + {} outputs; needles: 3 secrets, {} key lines, JWTs, importUrls",
        files.len(),
        kinds.into_iter().collect::<Vec<_>>().join(","),
        runs.len() * 2,
        needles.0.len() - 3
    );
    // Failures not tied to one counted check are charged to the run row.
    let counted = (rows_run.failed + scan.failed) as usize;
    if failures.len() > counted {
        rows_run.failed += (failures.len() - counted) as u64;
    }
    rows_run.failures = failures;
    rt.block_on(emu.shutdown());
    vec![rows_run, scan]
}
