//! `ArchiveFile`: the final name appears only when complete; `.part` files resume.

use std::io::Write;

use mbxa_format::*;

use crate::common::*;

fn manifest_for(blobs: &[Vec<u8>]) -> Manifest {
    let items = blobs
        .iter()
        .enumerate()
        .map(|(n, b)| {
            item(
                n,
                "F-inbox",
                ItemContent::Blob {
                    id: BlobId::of(b),
                    len: b.len() as u64,
                },
            )
        })
        .collect();
    Manifest {
        source: source(),
        capture: capture(),
        folders: folders(),
        items,
    }
}

#[test]
fn final_name_appears_only_at_finish_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.mbxa");
    let blobs: Vec<Vec<u8>> = (0..3).map(|i| blob_bytes(i, 5000)).collect();
    let mut f = ArchiveFile::create(&p).unwrap();
    for b in &blobs {
        f.writer().add_blob(b).unwrap();
    }
    assert!(!p.exists());
    assert!(ArchiveFile::part_path(&p).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ArchiveFile::part_path(&p))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let id = f.finish(&manifest_for(&blobs)).unwrap();
    assert!(p.exists());
    assert!(!ArchiveFile::part_path(&p).exists());
    let mut r = ArchiveReader::open_path(&p).unwrap();
    assert_eq!(r.archive_id(), id);
    r.verify_all(&mut |_| {}).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Same bytes as writing to memory.
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    for b in &blobs {
        w.add_blob(b).unwrap();
    }
    assert!(w.finish(&manifest_for(&blobs)).unwrap().0 == std::fs::read(&p).unwrap());
}

#[test]
fn a_failed_finish_leaves_no_final_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.mbxa");
    let mut f = ArchiveFile::create(&p).unwrap();
    f.writer().add_blob(b"x").unwrap();
    // The manifest names a blob never added: finish refuses.
    let err = f.finish(&manifest_for(&[b"y".to_vec()])).unwrap_err();
    assert!(matches!(err, Error::InvalidManifest(_)));
    assert!(!p.exists());
}

/// Interrupt after `k` blobs at every possible cut of the last entry; resume must keep exactly the
/// complete blobs and produce the same file as an uninterrupted write.
#[test]
fn resume_keeps_complete_blobs_and_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.mbxa");
    let blobs: Vec<Vec<u8>> = (0..5)
        .map(|i| blob_bytes(i, 3000 + 2000 * i as usize))
        .collect();
    let m = manifest_for(&blobs);
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    let mut ends = vec![w.offset()];
    for b in &blobs {
        w.add_blob(b).unwrap();
        ends.push(w.offset());
    }
    let (reference, ref_id) = w.finish(&m).unwrap();

    // Cut points: exact entry boundaries, and inside the 3rd entry (header, frame, padding).
    let mut cuts: Vec<u64> = ends.clone();
    cuts.extend([
        ends[2] + 100,
        ends[2] + 512,
        ends[2] + 600,
        ends[3] - 1,
        500,
    ]);
    for cut in cuts {
        std::fs::write(ArchiveFile::part_path(&p), &reference[..cut as usize]).unwrap();
        let (mut f, kept) = ArchiveFile::resume(&p).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1);
        assert_eq!(kept.len(), complete, "cut at {cut}");
        assert_eq!(
            kept,
            blobs[..complete]
                .iter()
                .map(|b| BlobId::of(b))
                .collect::<Vec<_>>()
        );
        for b in &blobs {
            if !f.writer().contains(&BlobId::of(b)) {
                f.writer().add_blob(b).unwrap();
            }
        }
        let id = f.finish(&m).unwrap();
        assert_eq!(id, ref_id);
        assert!(
            std::fs::read(&p).unwrap() == reference,
            "cut at {cut}: resumed archive differs"
        );
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn resume_stops_at_a_damaged_blob_and_rejects_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.mbxa");
    let blobs: Vec<Vec<u8>> = (0..3).map(|i| blob_bytes(i, 4000)).collect();
    let mut f = ArchiveFile::create(&p).unwrap();
    let mut ends = vec![];
    for b in &blobs {
        f.writer().add_blob(b).unwrap();
        // With compression threads, a blob reaches the file (and `offset`) on flush.
        f.writer().flush().unwrap();
        ends.push(f.writer().offset());
    }
    f.sync().unwrap();
    drop(f);
    let part = ArchiveFile::part_path(&p);
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[ends[0] as usize + 512 + 40] ^= 1; // inside the 2nd blob's frame
    std::fs::write(&part, &bytes).unwrap();
    let (mut f, kept) = ArchiveFile::resume(&p).unwrap();
    assert_eq!(kept, vec![BlobId::of(&blobs[0])]);
    assert_eq!(f.writer().offset(), ends[0]);
    drop(f);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), ends[0]);

    std::fs::File::create(&part)
        .unwrap()
        .write_all(&[7u8; 4096])
        .unwrap();
    assert!(matches!(
        ArchiveFile::resume(&p),
        Err(Error::NotResumable { .. })
    ));
    std::fs::remove_file(&part).unwrap();
    let (f, kept) = ArchiveFile::resume(&p).unwrap();
    assert!(kept.is_empty());
    drop(f);
}

/// A crash between the final fsync and the rename leaves a complete archive under `.part`:
/// resume keeps every blob and drops manifest, index and trailer; an unfinished `.part` does not
/// open as an archive.
#[test]
fn resume_of_a_finished_part_and_open_of_an_unfinished_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.mbxa");
    let blobs: Vec<Vec<u8>> = (0..4).map(|i| blob_bytes(i, 2500)).collect();
    let (complete, _, _) = write_archive(&blobs);
    std::fs::write(ArchiveFile::part_path(&p), &complete).unwrap();
    let (mut f, kept) = ArchiveFile::resume(&p).unwrap();
    assert_eq!(kept.len(), 4);
    f.sync().unwrap();
    let part = std::fs::read(ArchiveFile::part_path(&p)).unwrap();
    assert!(matches!(
        ArchiveReader::open(std::io::Cursor::new(&part)),
        Err(Error::Truncated { .. })
    ));
    // Exactly the header entry and the blob entries remain.
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    for b in &blobs {
        w.add_blob(b).unwrap();
    }
    assert_eq!(part.len() as u64, w.offset());
    assert_eq!(&part[..], &complete[..part.len()]);
}

/// A `.part` begun in format 1 (by mbxa 0.1) is finished in format 1, byte for byte what a
/// format-1 writer gives: upgrading mid-capture would need re-hashing everything written.
#[test]
fn a_format_1_part_is_finished_in_format_1() {
    let blobs = vec![blob_bytes(31, 9_000), blob_bytes(32, 4_000)];
    let m = manifest_for(&blobs);
    let mut w = ArchiveWriter::with_major(Vec::new(), 1).unwrap();
    for b in &blobs {
        w.add_blob(b).unwrap();
    }
    let (whole, id) = w.finish(&m).unwrap();
    // The .part as an interrupted run leaves it: header and blobs, no manifest yet.
    let manifest_at = {
        let r = open(&whole).unwrap();
        let last = r.entries_in_file_order().last().copied().unwrap();
        (last.offset + last.stored_len).div_ceil(512) * 512
    };
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("old.mbxa");
    std::fs::write(ArchiveFile::part_path(&p), &whole[..manifest_at as usize]).unwrap();
    let (f, kept) = ArchiveFile::resume(&p).unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(f.finish(&m).unwrap(), id);
    let bytes = std::fs::read(&p).unwrap();
    assert!(bytes == whole, "resumed format-1 archive differs");
    assert_eq!(open(&bytes).unwrap().version(), (1, 0));
}
