//! Verification of intact and damaged archives, including every single-byte change of a small one.

use std::path::{Path, PathBuf};

use mbxa_format::{ArchiveWriter, CaptureInfo, Item, ItemContent, MailboxKind, Manifest, Source};
use mbxa_vault::synth::Mailbox;
use mbxa_verify::{verify_archive, Error, Options, ProblemKind, Report};

fn run(p: &Path, deep: bool) -> Result<Report, Error> {
    verify_archive(p, &Options { deep }, &|_| {})
}

fn small_archive(dir: &Path, items: usize, text: usize) -> PathBuf {
    let mut m = Mailbox::new(7, items, 1, 1500);
    m.mean_text = text;
    let p = dir.join("small.mbxa");
    m.write_archive(&p).unwrap();
    p
}

fn manifest(items: Vec<Item>) -> Manifest {
    Manifest {
        source: Source {
            tenant_id: "t".into(),
            user: "u@x".into(),
            mailbox_id: "m".into(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "test".into(),
            started_at: "2026-11-27T12:00:00Z".into(),
            finished_at: "2026-11-27T12:00:01Z".into(),
            base_archive: None,
            folders_delta_link: None,
            item_delta_links: Vec::new(),
        },
        folders: Vec::new(),
        items,
    }
}

fn item(id: &str, blob: mbxa_format::BlobId, len: usize) -> Item {
    Item {
        id: id.into(),
        folder_id: "f".into(),
        change_key: "ck".into(),
        created: "2026-01-01T00:00:00Z".into(),
        last_modified: "2026-01-01T00:00:00Z".into(),
        size: len as u64,
        message_class: "IPM.Note".into(),
        content: ItemContent::Blob {
            id: blob,
            len: len as u64,
        },
    }
}

#[test]
fn intact_archive_has_no_problem() {
    let d = tempfile::tempdir().unwrap();
    let mut m = Mailbox::new(1, 40, 4, 50_000);
    let p = d.path().join("a.mbxa");
    m.write_archive(&p).unwrap();
    let seen = std::sync::Mutex::new(0u64);
    let r = verify_archive(&p, &Options::default(), &|pr| {
        let mut s = seen.lock().unwrap();
        assert!(pr.done <= pr.total);
        *s = (*s).max(pr.done);
    })
    .unwrap();
    assert!(r.is_intact(), "{:?}", r.problems);
    assert_eq!(r.blobs, 40);
    assert!(*seen.lock().unwrap() > 0);
}

#[test]
fn every_single_byte_change_is_detected() {
    let d = tempfile::tempdir().unwrap();
    let p = small_archive(d.path(), 2, 100);
    let orig = std::fs::read(&p).unwrap();
    assert!(run(&p, false).unwrap().is_intact());
    let q = d.path().join("flipped.mbxa");
    let mut undetected = Vec::new();
    for i in 0..orig.len() {
        let mut b = orig.clone();
        b[i] ^= 0x01;
        std::fs::write(&q, &b).unwrap();
        match run(&q, false) {
            Ok(r) if r.is_intact() => undetected.push(i),
            Ok(_) => {}
            // Reported as unreadable: still detected, but only "not an archive"-class errors
            // would be wrong for a damaged mbxa file.
            Err(Error::NotAnArchive { .. }) => undetected.push(i),
            Err(_) => {}
        }
    }
    assert!(
        undetected.is_empty(),
        "{} of {} flips undetected, first at {:?}",
        undetected.len(),
        orig.len(),
        &undetected[..undetected.len().min(10)]
    );
}

#[test]
fn damaged_blob_is_named_with_offset_and_digests() {
    let d = tempfile::tempdir().unwrap();
    let p = small_archive(d.path(), 5, 20_000);
    let reader = mbxa_format::ArchiveReader::open_path(&p).unwrap();
    let e = reader.entries_in_file_order()[2];
    drop(reader);
    let mut b = std::fs::read(&p).unwrap();
    b[(e.offset + e.stored_len / 2) as usize] ^= 0x20;
    std::fs::write(&p, &b).unwrap();
    let r = run(&p, false).unwrap();
    let name = mbxa_format::blob_name(&e.id);
    let blob = r
        .problems
        .iter()
        .find(|x| x.entry == name)
        .expect("blob problem");
    assert!(matches!(
        blob.kind,
        ProblemKind::BlobCorrupt | ProblemKind::BlobDigest | ProblemKind::BlobLength
    ));
    assert_eq!(blob.offset, e.offset);
    let fd = r
        .problems
        .iter()
        .find(|x| x.kind == ProblemKind::FileDigest)
        .expect("file digest problem");
    assert!(fd.expected.is_some() && fd.actual.is_some() && fd.expected != fd.actual);
    // Only the damaged blob is blamed.
    assert_eq!(
        r.problems
            .iter()
            .filter(|x| x.entry.starts_with("blobs/"))
            .count(),
        1
    );
}

#[test]
fn damaged_tar_header_of_a_blob_is_located() {
    let d = tempfile::tempdir().unwrap();
    let p = small_archive(d.path(), 3, 2000);
    let reader = mbxa_format::ArchiveReader::open_path(&p).unwrap();
    let e = reader.entries_in_file_order()[1];
    drop(reader);
    let mut b = std::fs::read(&p).unwrap();
    b[(e.offset - 512 + 140) as usize] ^= 0x01; // mtime field
    std::fs::write(&p, &b).unwrap();
    let r = run(&p, false).unwrap();
    let th = r
        .problems
        .iter()
        .find(|x| x.kind == ProblemKind::TarHeader)
        .expect("tar header problem");
    assert_eq!(th.offset, e.offset - 512);
    assert!(th.message.contains("mtime"), "{}", th.message);
}

#[test]
fn truncated_unreadable_and_foreign_files() {
    let d = tempfile::tempdir().unwrap();
    let p = small_archive(d.path(), 3, 2000);
    let b = std::fs::read(&p).unwrap();
    let t = d.path().join("t.mbxa");
    std::fs::write(&t, &b[..b.len() - 1024]).unwrap();
    let r = run(&t, false).unwrap();
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].kind, ProblemKind::Structure);
    assert!(matches!(
        run(&d.path().join("missing.mbxa"), false),
        Err(Error::Io { .. })
    ));
    let f = d.path().join("foreign.bin");
    std::fs::write(&f, vec![7u8; 10_000]).unwrap();
    assert!(matches!(run(&f, false), Err(Error::NotAnArchive { .. })));
}

#[test]
fn unreferenced_blob_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("u.mbxa");
    let mut w = ArchiveWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
    let a = w.add_blob(b"referenced").unwrap();
    let orphan = w.add_blob(b"nobody points here").unwrap();
    w.finish(&manifest(vec![item("i1", a, 10)])).unwrap();
    let r = run(&p, false).unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!(r.problems[0].kind, ProblemKind::UnreferencedBlob);
    assert_eq!(r.problems[0].entry, mbxa_format::blob_name(&orphan));
}

#[test]
fn deep_parses_fasttransfer_streams() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ft.mbxa");
    let mut w = ArchiveWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
    let good = mbxa_fasttransfer::MessageBuilder::new("IPM.Note")
        .subject("Quarterly report")
        .from("Alice", "alice@contoso.example")
        .to("Bob", "bob@contoso.example")
        .body_text("Please find it attached.")
        .attachment("r.pdf", "application/pdf", b"%PDF-1.4 tiny")
        .build();
    let g = w.add_blob(&good).unwrap();
    let bad_bytes = b"this is not a FastTransfer stream at all".to_vec();
    let b = w.add_blob(&bad_bytes).unwrap();
    w.finish(&manifest(vec![
        item("good", g, good.len()),
        item("bad", b, bad_bytes.len()),
    ]))
    .unwrap();
    let shallow = run(&p, false).unwrap();
    assert!(shallow.is_intact());
    let deep = run(&p, true).unwrap();
    assert_eq!(deep.items_parsed, 1);
    assert_eq!(deep.problems.len(), 1, "{:?}", deep.problems);
    assert_eq!(deep.problems[0].kind, ProblemKind::ItemParse);
    assert!(deep.problems[0].message.contains("bad"));
}

/// Every corrupt fixture of the format is caught, with the problem class its damage calls for;
/// the golden ones are intact.
#[test]
fn format_fixtures() {
    for major in mbxa_format::READABLE_MAJORS {
        format_fixtures_of(major);
    }
}

fn format_fixtures_of(major: u16) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/v{major}"));
    for golden in ["tiny.mbxa", "empty.mbxa", "small.mbxa"] {
        let r = run(&dir.join(golden), true).unwrap_or_else(|e| panic!("{golden}: {e}"));
        assert!(
            r.problems.iter().all(|p| p.kind == ProblemKind::ItemParse),
            "{golden}: {:?}",
            r.problems
        );
        assert!(
            run(&dir.join(golden), false).unwrap().is_intact(),
            "{golden}"
        );
    }
    let expect: &[(&str, &[ProblemKind])] = &[
        ("truncated.mbxa", &[ProblemKind::Structure]),
        (
            "flip-blob.mbxa",
            &[ProblemKind::BlobCorrupt, ProblemKind::BlobDigest],
        ),
        ("flip-tar-header.mbxa", &[ProblemKind::TarHeader]),
        ("flip-manifest.mbxa", &[ProblemKind::Structure]),
        ("flip-trailer.mbxa", &[ProblemKind::Structure]),
        ("blob-name-mismatch.mbxa", &[ProblemKind::BlobDigest]),
        ("duplicate-entry.mbxa", &[ProblemKind::DuplicateBlob]),
        ("dotdot-entry.mbxa", &[ProblemKind::Structure]),
    ];
    for (name, kinds) in expect {
        let r =
            run(&dir.join("corrupt").join(name), false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            r.problems.iter().any(|p| kinds.contains(&p.kind)),
            "{name}: {:?}",
            r.problems
        );
    }
    let dotdot = run(&dir.join("corrupt/dotdot-entry.mbxa"), false).unwrap();
    assert!(
        dotdot.problems.iter().any(|p| p.message.contains("../x")),
        "{:?}",
        dotdot.problems
    );
    let flip = run(&dir.join("corrupt/flip-manifest.mbxa"), false).unwrap();
    assert_eq!(flip.problems[0].entry, mbxa_format::MANIFEST_NAME);
    let trailer = run(&dir.join("corrupt/flip-trailer.mbxa"), false).unwrap();
    assert_eq!(trailer.problems[0].entry, mbxa_format::TRAILER_NAME);
    match run(&dir.join("corrupt/unknown-version.mbxa"), false) {
        Err(Error::Unsupported { major: 9, .. }) => {}
        other => panic!("unknown-version: {other:?}"),
    }
}

#[test]
fn large_frames_are_streamed_and_checked() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.mbxa");
    let mut rng = mbxa_vault::synth::Rng::new(9);
    let big: Vec<u8> = (0..5 << 20).map(|_| rng.next_u64() as u8).collect();
    let mut w = ArchiveWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
    let id = w.add_blob(&big).unwrap();
    w.finish(&manifest(vec![item("big", id, big.len())]))
        .unwrap();
    let r = run(&p, false).unwrap();
    assert!(r.is_intact(), "{:?}", r.problems);
    let e = mbxa_format::ArchiveReader::open_path(&p)
        .unwrap()
        .entries_in_file_order()[0];
    assert!(e.stored_len > 4 << 20, "frame must take the streaming path");
    let mut b = std::fs::read(&p).unwrap();
    b[(e.offset + e.stored_len - 100) as usize] ^= 0x04;
    std::fs::write(&p, &b).unwrap();
    let r = run(&p, false).unwrap();
    assert!(
        r.problems.iter().any(|x| x.offset == e.offset
            && matches!(x.kind, ProblemKind::BlobCorrupt | ProblemKind::BlobDigest)),
        "{:?}",
        r.problems
    );
}
