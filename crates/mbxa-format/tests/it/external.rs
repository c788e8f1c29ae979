//! GNU tar, bsdtar (if present), zstd and sha256sum agree with the spec: the archive is a plain
//! tar, and `tar -xOf A blobs/<h>.zst | zstd -d | sha256sum` prints `<h>`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn require_zstd() {
    assert!(
        have("zstd"),
        "the `zstd` command is required by this test: install it (apt-get install zstd)"
    );
}

/// `tar -tf` lists exactly the expected entries, in order.
pub fn tar_lists(tar: &str, path: &Path) -> Vec<String> {
    let out = Command::new(tar).arg("-tf").arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{tar} -tf {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn check_with_tools(path: &Path) {
    require_zstd();
    let bytes = std::fs::read(path).unwrap();
    let r = open(&bytes).unwrap();
    let mut expected = vec![mbxa_format::HEADER_NAME.to_string()];
    let mut by_offset = r.index().to_vec();
    by_offset.sort_by_key(|e| e.offset);
    expected.extend(by_offset.iter().map(|e| mbxa_format::blob_name(&e.id)));
    expected.extend(
        [
            mbxa_format::MANIFEST_NAME,
            mbxa_format::INDEX_NAME,
            mbxa_format::TRAILER_NAME,
        ]
        .map(String::from),
    );
    assert_eq!(
        tar_lists("tar", path),
        expected,
        "GNU tar listing of {}",
        path.display()
    );
    if have("bsdtar") {
        assert_eq!(
            tar_lists("bsdtar", path),
            expected,
            "bsdtar listing of {}",
            path.display()
        );
    }
    // The header entry is readable JSON naming the format.
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(path)
        .arg(mbxa_format::HEADER_NAME)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "mbxa");
    assert_eq!(v["major"], r.version().0);
    for e in &by_offset {
        let name = mbxa_format::blob_name(&e.id);
        let sh = format!(
            "tar -xOf '{}' '{name}' | zstd -d -q | sha256sum",
            path.display()
        );
        let out = Command::new("sh").arg("-c").arg(&sh).output().unwrap();
        assert!(
            out.status.success(),
            "{sh}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            printed.split_whitespace().next(),
            Some(e.id.to_hex().as_str()),
            "{sh}"
        );
    }
}

#[test]
fn gnu_tar_lists_and_sha256_names_hold() {
    let blobs: Vec<Vec<u8>> = (0..5)
        .map(|i| blob_bytes(i, 1000 * i as usize + 1))
        .collect();
    let (bytes, _, _) = write_archive(&blobs);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.mbxa");
    std::fs::File::create(&p)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    check_with_tools(&p);
}
