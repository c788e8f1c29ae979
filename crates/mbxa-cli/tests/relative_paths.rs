//! Commands given bare relative names (`vault`, `a.mbxa`) in the current directory: the parent of
//! such a path is the empty path, which must mean "." wherever a directory is fsynced.

use std::path::Path;
use std::process::Command;

fn mbxa(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mbxa"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mbxa")
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn vault_add_export_and_verify_work_with_one_component_paths() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v1/small.mbxa");
    std::fs::copy(&fixture, dir.path().join("a.mbxa")).unwrap();

    ok(
        &mbxa(dir.path(), &["vault", "add", "v", "a.mbxa"]),
        "vault add",
    );
    ok(&mbxa(dir.path(), &["vault", "verify", "v"]), "vault verify");
    let ls = mbxa(dir.path(), &["--json", "vault", "ls", "v"]);
    ok(&ls, "vault ls");
    let text = String::from_utf8_lossy(&ls.stdout);
    let id = text
        .split("\"id\":")
        .nth(1)
        .and_then(|s| s.split('"').nth(1))
        .expect("an archive id in vault ls --json")
        .to_string();
    ok(
        &mbxa(dir.path(), &["vault", "export", "v", &id, "-o", "b.mbxa"]),
        "vault export",
    );
    assert_eq!(
        std::fs::read(dir.path().join("a.mbxa")).unwrap(),
        std::fs::read(dir.path().join("b.mbxa")).unwrap(),
        "export to a bare name is byte-identical to the archive added"
    );
    ok(&mbxa(dir.path(), &["verify", "b.mbxa"]), "verify");
}
