//! `mbxa demo` end to end through the real binary: the whole product (capture, verify, ls,
//! incremental capture, vault, dedupe, replay into a second tenant, capture of the target and
//! item-by-item comparison) must report an exact round trip, with faults on.

use std::process::{Command, Stdio};

#[test]
fn demo_round_trip_is_exact_and_reported_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_mbxa"))
        .args(["demo", "--json", "--items", "80", "--dir"])
        .arg(&work)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["exact"], true, "{v:#}");
    let compared = v["compared"].as_u64().unwrap();
    assert!(compared >= 40, "compared only {compared} items");
    assert_eq!(v["identical"].as_u64().unwrap(), compared);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for want in [
        "mailboxes",
        "capture",
        "verify --deep",
        "ls --items",
        "mailbox evolves",
        "capture --base",
        "vault add",
        "dedupe",
        "replay",
        "capture target",
        "compare",
    ] {
        assert!(steps.contains(&want), "step {want} missing from {steps:?}");
    }
    // The archives and the vault are left in --dir for the user to explore.
    for f in ["contoso-1.mbxa", "contoso-2.mbxa", "fabrikam.mbxa", "vault"] {
        assert!(work.join(f).exists(), "{f} not kept in --dir");
    }
    // No secret of the emulator's tenants (derived from the demo's default seed) appears in
    // anything the demo printed.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for index in 0..2 {
        let secret = mbxa_emulator::TenantSpec::generated(7, index, 1, 0).client_secret;
        assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    }
}

#[test]
fn demo_refuses_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), b"precious").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mbxa"))
        .args(["demo", "--dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read(dir.path().join("keep.txt")).unwrap(),
        b"precious"
    );
}
