//! Golden archives of every format version in `fixtures/v1/` and `fixtures/v2/` (regenerated bit
//! for bit; `MBXA_REGEN_FIXTURES=1` rewrites them) and named corrupt archives in
//! `fixtures/vN/corrupt/`, each rejected with its own error.

use std::path::PathBuf;

use mbxa_format::*;

use crate::common::*;

fn dir(major: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/v{major}"))
}

fn writer(major: u16) -> ArchiveWriter<Vec<u8>> {
    ArchiveWriter::with_major(Vec::new(), major).unwrap()
}

fn manifest(items: Vec<Item>, folders: Vec<Folder>) -> Manifest {
    Manifest {
        source: source(),
        capture: capture(),
        folders,
        items,
    }
}

/// `tiny.mbxa`: one folder, one item of 13 bytes (the spec's worked example).
pub fn tiny(major: u16) -> Vec<u8> {
    let mut w = writer(major);
    let data = b"Hello, mbxa!\n";
    let id = w.add_blob(data).unwrap();
    let mut f = folders();
    f.truncate(1);
    f[0].item_count = 1;
    let m = manifest(
        vec![item(
            1,
            "F-inbox",
            ItemContent::Blob {
                id,
                len: data.len() as u64,
            },
        )],
        f,
    );
    w.finish(&m).unwrap().0
}

/// `empty.mbxa`: no folders, no items.
pub fn empty(major: u16) -> Vec<u8> {
    let w = writer(major);
    w.finish(&manifest(vec![], vec![])).unwrap().0
}

/// `small.mbxa`: two folders; a text blob, a blob shared by two items, an incompressible blob,
/// an empty blob, and an item whose export failed.
pub fn small(major: u16) -> Vec<u8> {
    let text = blob_bytes(1, 20_000);
    let shared = blob_bytes(2, 3_000);
    let mut noise = Vec::new();
    let mut r = Rng(77);
    for _ in 0..3000 {
        noise.push(r.next() as u8);
    }
    let blobs = [text, shared.clone(), noise, Vec::new(), shared];
    let mut w = writer(major);
    let mut items = Vec::new();
    for (n, b) in blobs.iter().enumerate() {
        let id = w.add_blob(b).unwrap();
        items.push(item(
            n,
            if n < 3 { "F-inbox" } else { "F-proj" },
            ItemContent::Blob {
                id,
                len: b.len() as u64,
            },
        ));
    }
    items.push(item(
        9,
        "F-proj",
        ItemContent::ExportFailed {
            code: "ErrorItemNotFound".into(),
            message: "The item was deleted.".into(),
        },
    ));
    w.finish(&manifest(items, folders())).unwrap().0
}

/// Finds the offset of the first blob entry's tar header (right after the header entry).
const FIRST_ENTRY: usize = 1024;

fn flip(mut b: Vec<u8>, at: usize) -> Vec<u8> {
    b[at] ^= 0x01;
    b
}

fn trailer_field(b: &[u8], field_off: usize) -> u64 {
    let t = b.len() - 2048 + 512 + field_off;
    u64::from_le_bytes(b[t..t + 8].try_into().unwrap())
}

/// The corrupt fixtures: (file name, bytes, expected error as a predicate and its name).
/// (file name, bytes, expected error name, predicate on the error).
pub type Corrupt = (&'static str, Vec<u8>, &'static str, fn(&Error) -> bool);

// One push per fixture reads better than one huge vec! literal.
#[allow(clippy::vec_init_then_push)]
pub fn corrupt(major: u16) -> Vec<Corrupt> {
    let base = small(major);
    let manifest_off = trailer_field(&base, 88) as usize;
    let manifest_len = trailer_field(&base, 96) as usize;
    let mut v: Vec<Corrupt> = Vec::new();
    v.push((
        "truncated.mbxa",
        base[..base.len() / 2].to_vec(),
        "Truncated",
        |e| matches!(e, Error::Truncated { .. }),
    ));
    v.push((
        "flip-blob.mbxa",
        flip(base.clone(), FIRST_ENTRY + 512 + 200),
        "BlobCorrupt",
        |e| matches!(e, Error::BlobCorrupt { .. }),
    ));
    // A '0' in the uid field becomes '1'.
    v.push((
        "flip-tar-header.mbxa",
        flip(base.clone(), FIRST_ENTRY + 110),
        "BadTarHeader",
        |e| matches!(e, Error::BadTarHeader { .. }),
    ));
    v.push((
        "flip-manifest.mbxa",
        flip(base.clone(), manifest_off + manifest_len / 2),
        "BadManifest",
        |e| matches!(e, Error::BadManifest { .. }),
    ));
    // Inside the archive id field of the trailer.
    v.push((
        "flip-trailer.mbxa",
        flip(base.clone(), base.len() - 2048 + 512 + 20),
        "TrailerDigestMismatch",
        |e| matches!(e, Error::TrailerDigestMismatch { .. }),
    ));
    let mut unknown = base.clone();
    let pat = format!("\"major\":{major}");
    let at = unknown
        .windows(pat.len())
        .position(|w| w == pat.as_bytes())
        .unwrap()
        + pat.len()
        - 1;
    unknown[at] = b'9';
    v.push(
        ("unknown-version.mbxa", unknown, "UnsupportedVersion", |e| {
            matches!(e, Error::UnsupportedVersion { major: 9, .. })
        }),
    );

    // Structurally consistent archives (all digests right) that break one rule each.
    let data = b"the real content";
    let claimed = BlobId::of(b"what the name promises");
    let mut w = writer(major);
    w.__testing_add_blob_named(claimed, data).unwrap();
    let m = manifest(
        vec![item(
            1,
            "F-inbox",
            ItemContent::Blob {
                id: claimed,
                len: data.len() as u64,
            },
        )],
        folders(),
    );
    v.push((
        "blob-name-mismatch.mbxa",
        w.finish(&m).unwrap().0,
        "BlobDigestMismatch",
        |e| matches!(e, Error::BlobDigestMismatch { .. }),
    ));

    let data = b"duplicated";
    let id = BlobId::of(data);
    let mut w = writer(major);
    w.add_blob(data).unwrap();
    w.__testing_add_blob_named(id, data).unwrap();
    let m = manifest(
        vec![item(
            1,
            "F-inbox",
            ItemContent::Blob {
                id,
                len: data.len() as u64,
            },
        )],
        folders(),
    );
    v.push((
        "duplicate-entry.mbxa",
        w.finish(&m).unwrap().0,
        "DuplicateBlob",
        |e| matches!(e, Error::DuplicateBlob { .. }),
    ));

    let mut w = writer(major);
    w.add_blob(b"fine").unwrap();
    w.__testing_add_raw_entry("../x", b"escape attempt")
        .unwrap();
    v.push((
        "dotdot-entry.mbxa",
        w.finish(&manifest(vec![], folders())).unwrap().0,
        "BadEntryName",
        |e| matches!(e, Error::BadEntryName { ref name, .. } if name == "../x"),
    ));
    v
}

pub fn golden(major: u16) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tiny.mbxa", tiny(major)),
        ("empty.mbxa", empty(major)),
        ("small.mbxa", small(major)),
    ]
}

/// Opens and fully checks an archive held in memory.
pub fn full_check(bytes: &[u8]) -> Result<()> {
    let mut r = open(bytes)?;
    r.verify_all(&mut |_| {})?;
    for e in r.index().to_vec() {
        r.check_blob(&e.id)?;
    }
    Ok(())
}

#[test]
fn committed_fixtures_are_what_the_writer_produces() {
    let regen = std::env::var_os("MBXA_REGEN_FIXTURES").is_some_and(|v| v == "1");
    let all: Vec<(u16, String, Vec<u8>)> = READABLE_MAJORS
        .into_iter()
        .flat_map(|major| {
            golden(major)
                .into_iter()
                .map(move |(n, b)| (major, n.to_string(), b))
                .chain(
                    corrupt(major)
                        .into_iter()
                        .map(move |(n, b, _, _)| (major, format!("corrupt/{n}"), b)),
                )
        })
        .collect();
    for (major, name, bytes) in all {
        let p = dir(major).join(&name);
        if regen {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &bytes).unwrap();
            continue;
        }
        let committed = std::fs::read(&p)
            .unwrap_or_else(|e| panic!("{}: {e}; run with MBXA_REGEN_FIXTURES=1", p.display()));
        assert!(
            committed == bytes,
            "{} differs from what the writer produces now: the format changed (bump the version and keep the old goldens) or regenerate with MBXA_REGEN_FIXTURES=1",
            p.display()
        );
    }
}

#[test]
fn golden_fixtures_read_and_check() {
    for major in READABLE_MAJORS {
        for (name, _) in golden(major) {
            let bytes = std::fs::read(dir(major).join(name)).unwrap();
            full_check(&bytes).unwrap_or_else(|e| panic!("v{major}/{name}: {e}"));
            assert_eq!(open(&bytes).unwrap().version(), (major, 0));
        }
        let bytes = std::fs::read(dir(major).join("small.mbxa")).unwrap();
        let mut r = open(&bytes).unwrap();
        assert_eq!(r.manifest().items.len(), 6);
        assert_eq!(r.index().len(), 4);
        let shared = r.manifest().items[1].blob().unwrap();
        assert_eq!(r.read_blob(&shared).unwrap(), blob_bytes(2, 3_000));
    }
    // Versions differ only in the header's major and the file digest: same blobs, same
    // manifest (archive id), same layout.
    let (a, b) = (small(1), small(2));
    let (ra, rb) = (open(&a).unwrap(), open(&b).unwrap());
    assert_eq!(a.len(), b.len());
    assert_eq!(ra.archive_id(), rb.archive_id());
    assert_eq!(ra.index(), rb.index());
    assert_ne!(ra.file_digest(), rb.file_digest());
    assert_eq!(ra.file_hasher().algorithm(), "SHA-256");
    assert_eq!(rb.file_hasher().algorithm(), "BLAKE3");
}

/// A header and trailer that disagree on the major version are refused.
#[test]
fn header_and_trailer_versions_must_agree() {
    let v2 = small(2);
    let mut mixed = v2.clone();
    let pat = b"\"major\":2";
    let at = mixed.windows(pat.len()).position(|w| w == pat).unwrap() + pat.len() - 1;
    mixed[at] = b'1';
    match open(&mixed) {
        Err(Error::BadTrailer { reason, .. }) => assert!(reason.contains("major"), "{reason}"),
        other => panic!("expected BadTrailer, got {other:?}"),
    }
}

#[test]
fn golden_fixtures_pass_gnu_tar_and_sha256sum() {
    for major in READABLE_MAJORS {
        for (name, _) in golden(major) {
            crate::external::check_with_tools(&dir(major).join(name));
        }
    }
}

#[test]
fn each_corrupt_fixture_is_rejected_with_its_own_error() {
    for major in READABLE_MAJORS {
        for (name, _, expected, pred) in corrupt(major) {
            let bytes = std::fs::read(dir(major).join("corrupt").join(name)).unwrap();
            match full_check(&bytes) {
                Ok(()) => panic!("v{major}/{name}: accepted"),
                Err(e) => assert!(pred(&e), "v{major}/{name}: expected {expected}, got {e:?}"),
            }
        }
    }
}

/// Damage that leaves the tar structure intact is invisible to tar: GNU tar still lists those
/// corrupt fixtures from `mbxa.json` to `trailer.bin` (only mbxa's digests catch them).
#[test]
fn gnu_tar_lists_the_structurally_intact_corrupt_fixtures() {
    for (major, (name, _, _, _)) in READABLE_MAJORS
        .into_iter()
        .flat_map(|m| corrupt(m).into_iter().map(move |c| (m, c)))
    {
        if matches!(name, "truncated.mbxa" | "flip-tar-header.mbxa") {
            continue;
        }
        let names = crate::external::tar_lists("tar", &dir(major).join("corrupt").join(name));
        assert_eq!(
            names.first().map(String::as_str),
            Some(HEADER_NAME),
            "{name}"
        );
        assert_eq!(
            names.last().map(String::as_str),
            Some(TRAILER_NAME),
            "{name}"
        );
    }
}
