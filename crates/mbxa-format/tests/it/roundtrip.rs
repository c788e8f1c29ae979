//! Write → read round trips and determinism.

use std::io::Read;

use mbxa_format::*;

use crate::common::*;

#[test]
fn empty_archive_round_trips() {
    let w = ArchiveWriter::new(Vec::new()).unwrap();
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: vec![],
        items: vec![],
    };
    let (bytes, id) = w.finish(&m).unwrap();
    let mut r = open(&bytes).unwrap();
    assert_eq!(r.archive_id(), id);
    assert_eq!(r.version(), (1, 0));
    assert_eq!(r.manifest(), &m);
    assert!(r.index().is_empty());
    r.verify_all(&mut |_| {}).unwrap();
}

#[test]
fn small_archive_round_trips_and_dedups() {
    let blobs = vec![
        blob_bytes(1, 5000),
        blob_bytes(2, 1),
        blob_bytes(1, 5000),
        Vec::new(),
    ];
    let (bytes, id, m) = write_archive(&blobs);
    let mut r = open(&bytes).unwrap();
    assert_eq!(r.archive_id(), id);
    assert_eq!(r.manifest(), &m);
    assert_eq!(r.index().len(), 3, "duplicate bytes give one entry");
    for b in &blobs {
        assert_eq!(&r.read_blob(&BlobId::of(b)).unwrap(), b);
        let mut s = Vec::new();
        r.blob_reader(&BlobId::of(b))
            .unwrap()
            .read_to_end(&mut s)
            .unwrap();
        assert_eq!(&s, b);
        let frame = r.raw_frame(&BlobId::of(b)).unwrap();
        assert_eq!(zstd::decode_all(&frame[..]).unwrap(), *b);
    }
    assert!(matches!(
        r.read_blob(&BlobId::of(b"nope")),
        Err(Error::BlobNotFound { .. })
    ));
    let mut seen = 0;
    r.verify_all(&mut |_| seen += 1).unwrap();
    assert_eq!(seen, 3);
    r.verify_file_digest().unwrap();
}

#[test]
fn two_writes_give_identical_bytes() {
    let blobs: Vec<Vec<u8>> = (0..20)
        .map(|i| blob_bytes(i, 300 * i as usize + 7))
        .collect();
    let (a, ida, _) = write_archive(&blobs);
    let (b, idb, _) = write_archive(&blobs);
    assert_eq!(ida, idb);
    assert!(a == b);
}

#[test]
fn add_blob_reader_equals_add_blob() {
    let data = blob_bytes(9, 300_000);
    let mut w1 = ArchiveWriter::new(Vec::new()).unwrap();
    let id1 = w1.add_blob(&data).unwrap();
    let mut w2 = ArchiveWriter::new(Vec::new()).unwrap();
    let id2 = w2.add_blob_reader(&mut &data[..]).unwrap();
    assert_eq!(id1, id2);
    assert!(w2.contains(&id1));
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: vec![],
        items: vec![],
    };
    assert!(w1.finish(&m).unwrap().0 == w2.finish(&m).unwrap().0);
}
