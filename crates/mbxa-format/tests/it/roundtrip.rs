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
    assert_eq!(r.version(), (VERSION_MAJOR, 0));
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

#[test]
fn ten_thousand_items_round_trip() {
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    let mut items = Vec::new();
    for n in 0..10_000usize {
        // Every 10th item repeats an earlier blob, as copies of one message do.
        let b = blob_bytes((n - n % 10 * usize::from(n % 10 == 0)) as u64, 64 + n % 700);
        let id = w.add_blob(&b).unwrap();
        items.push(item(
            n,
            if n % 3 == 0 { "F-inbox" } else { "F-proj" },
            ItemContent::Blob {
                id,
                len: b.len() as u64,
            },
        ));
    }
    let blob_count = w.blob_count();
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: folders(),
        items,
    };
    let (bytes, id) = w.finish(&m).unwrap();
    let mut r = open(&bytes).unwrap();
    assert_eq!(r.archive_id(), id);
    assert_eq!(r.manifest(), &m);
    assert_eq!(r.index().len(), blob_count);
    assert_eq!(r.totals().blob_count, blob_count as u64);
    for n in [0usize, 1, 4_999, 9_999] {
        let b = blob_bytes((n - n % 10 * usize::from(n % 10 == 0)) as u64, 64 + n % 700);
        assert_eq!(r.read_blob(&BlobId::of(&b)).unwrap(), b);
    }
    let mut seen = 0;
    r.verify_all(&mut |_| seen += 1).unwrap();
    assert_eq!(seen, blob_count);
}

/// Generates `len` compressible bytes on the fly (never held in memory): a 64 KiB text pattern
/// whose first bytes carry a block counter, so blocks differ.
struct Generated {
    left: u64,
    pos: u64,
    block: Vec<u8>,
}

impl Generated {
    fn new(len: u64) -> Self {
        let block = (0..65_536).map(|i| PATTERN[i % PATTERN.len()]).collect();
        Generated {
            left: len,
            pos: 0,
            block,
        }
    }
}

const PATTERN: &[u8] =
    b"line of a very large attachment, base64-ish QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\r\n";

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let in_block = (self.pos % 65_536) as usize;
        if in_block == 0 {
            self.block[..8].copy_from_slice(&(self.pos / 65_536).to_le_bytes());
        }
        let n = (buf.len() as u64)
            .min(self.left)
            .min((65_536 - in_block) as u64) as usize;
        buf[..n].copy_from_slice(&self.block[in_block..in_block + n]);
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_150_mb_blob_streams_through_writer_and_reader() {
    const LEN: u64 = 150 * 1000 * 1000;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.mbxa");
    let mut f = ArchiveFile::create(&p).unwrap();
    let id = f
        .writer()
        .add_blob_reader(&mut Generated::new(LEN))
        .unwrap();
    // Hash of the same generated stream, computed independently.
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    std::io::copy(&mut Generated::new(LEN), &mut HashW(&mut h)).unwrap();
    assert_eq!(id, BlobId(sha2::Digest::finalize(h).into()));
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: folders(),
        items: vec![item(1, "F-inbox", ItemContent::Blob { id, len: LEN })],
    };
    f.finish(&m).unwrap();
    let mut r = ArchiveReader::open_path(&p).unwrap();
    assert_eq!(r.lookup(&id).unwrap().len, LEN);
    let n = std::io::copy(&mut r.blob_reader(&id).unwrap(), &mut std::io::sink()).unwrap();
    assert_eq!(n, LEN);
    r.verify_all(&mut |_| {}).unwrap();
}

struct HashW<'a>(&'a mut sha2::Sha256);

impl std::io::Write for HashW<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(self.0, b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let blobs: Vec<Vec<u8>> = (0..60)
        .map(|i| blob_bytes(i, 500 + 9_000 * (i as usize % 7)))
        .collect();
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: vec![],
        items: blobs
            .iter()
            .enumerate()
            .map(|(n, b)| {
                item(
                    n,
                    "F",
                    ItemContent::Blob {
                        id: BlobId::of(b),
                        len: b.len() as u64,
                    },
                )
            })
            .collect(),
    };
    let mut outputs = Vec::new();
    for threads in [1, 2, 3] {
        let mut w = ArchiveWriter::new(Vec::new()).unwrap();
        w.set_threads(threads).unwrap();
        for (n, b) in blobs.iter().enumerate() {
            // Mix both entry points and duplicates while blobs are in flight.
            if n % 2 == 0 {
                w.add_blob(b).unwrap();
            } else {
                w.add_blob_reader(&mut &b[..]).unwrap();
            }
            assert!(w.contains(&BlobId::of(b)));
            w.add_blob(b).unwrap();
        }
        outputs.push(w.finish(&m).unwrap().0);
    }
    assert!(outputs[0] == outputs[1] && outputs[1] == outputs[2]);
    let mut r = open(&outputs[1]).unwrap();
    assert_eq!(r.index().len(), 60);
    r.verify_all(&mut |_| {}).unwrap();
}

/// Above the in-memory spool cap, `add_blob_reader` spools to a temp file and compresses from
/// there; the frame must still be the one `add_blob` makes.
#[test]
fn spooled_add_blob_reader_equals_add_blob() {
    let data = blob_bytes(11, 17 << 20);
    let mut w1 = ArchiveWriter::new(Vec::new()).unwrap();
    let id = w1.add_blob(&data).unwrap();
    let mut w2 = ArchiveWriter::new(Vec::new()).unwrap();
    assert_eq!(w2.add_blob_reader(&mut &data[..]).unwrap(), id);
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: vec![],
        items: vec![],
    };
    assert!(w1.finish(&m).unwrap().0 == w2.finish(&m).unwrap().0);
}

/// Copying every blob as its checked raw frame, in the same order, gives byte for byte the same
/// archive as compressing them (same writer settings), with or without worker threads.
#[test]
fn copied_frames_give_the_same_archive() {
    let blobs = vec![
        blob_bytes(11, 70_000),
        blob_bytes(12, 3),
        Vec::new(),
        blob_bytes(13, 300_000),
    ];
    let (bytes, id, m) = write_archive(&blobs);
    for threads in [1, 2] {
        let mut src = open(&bytes).unwrap();
        let mut w = ArchiveWriter::new(Vec::new()).unwrap();
        w.set_threads(threads).unwrap();
        for e in src.entries_in_file_order() {
            let frame = src.raw_frame(&e.id).unwrap();
            let checked = CheckedFrame::new(e.id, e.len, frame).unwrap();
            assert_eq!((checked.id(), checked.len()), (e.id, e.len));
            assert_eq!(w.add_frame(checked).unwrap(), e.id);
        }
        // A second copy of a blob already present writes nothing.
        let first = src.entries_in_file_order()[0];
        let again = CheckedFrame::new(first.id, first.len, src.raw_frame(&first.id).unwrap());
        w.add_frame(again.unwrap()).unwrap();
        let (copy, copy_id) = w.finish(&m).unwrap();
        assert_eq!(copy_id, id, "{threads} thread(s)");
        assert!(copy == bytes, "{threads} thread(s): bytes differ");
    }
}

/// A frame that is not a valid frame of the blob it is offered for is refused, saying why.
#[test]
fn checked_frame_refuses_what_is_not_that_blob() {
    let blobs = vec![blob_bytes(21, 50_000), blob_bytes(22, 40_000)];
    let (bytes, _, _) = write_archive(&blobs);
    let mut r = open(&bytes).unwrap();
    let es = r.entries_in_file_order();
    let (a, b) = (es[0], es[1]);
    let fa = r.raw_frame(&a.id).unwrap();
    let reason = |res: Result<CheckedFrame>| match res {
        Err(Error::FrameRejected { reason, .. }) => reason,
        other => panic!("expected FrameRejected, got {other:?}"),
    };
    // Another blob's id, or another length.
    assert!(reason(CheckedFrame::new(b.id, a.len, fa.clone())).contains("hash"));
    assert!(!reason(CheckedFrame::new(a.id, a.len + 1, fa.clone())).is_empty());
    // Bytes after the frame, a truncated frame, a flipped byte inside it.
    let mut longer = fa.clone();
    longer.push(0);
    assert!(reason(CheckedFrame::new(a.id, a.len, longer)).contains("trailing"));
    let short = fa[..fa.len() - 5].to_vec();
    assert!(!reason(CheckedFrame::new(a.id, a.len, short)).is_empty());
    let mut flipped = fa.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(CheckedFrame::new(a.id, a.len, flipped).is_err());
    // Not zstd at all.
    assert!(reason(CheckedFrame::new(a.id, a.len, b"plain".to_vec())).contains("zstd"));
    // The genuine frame passes.
    assert!(CheckedFrame::new(a.id, a.len, fa).is_ok());
}
