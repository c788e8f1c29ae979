//! Damage detection: every single-byte change anywhere in a small archive is detected; readers
//! survive short reads.

use std::io::{Cursor, Read, Seek, SeekFrom};

use mbxa_format::*;

use crate::common::*;
use crate::fixtures::{full_check, small};

#[test]
fn every_single_byte_change_is_detected() {
    let good = crate::fixtures::tiny(VERSION_MAJOR);
    full_check(&good).unwrap();
    let mut b = good.clone();
    for at in 0..good.len() {
        // Three different changes per position: low bit, high bit, and a value derived from `at`.
        for mask in [0x01u8, 0x80, (at as u8) | 0x02] {
            b[at] = good[at] ^ mask;
            assert!(
                full_check(&b).is_err(),
                "change of byte {at} (^{mask:#04x}) went undetected"
            );
        }
        b[at] = good[at];
    }
}

#[test]
fn truncation_and_extension_are_detected() {
    let good = small(VERSION_MAJOR);
    for cut in [
        1,
        511,
        512,
        1024,
        2048,
        2049,
        good.len() / 2,
        good.len() - 1,
    ] {
        assert!(full_check(&good[..good.len() - cut]).is_err(), "cut {cut}");
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0u8; 512]);
    assert!(full_check(&longer).is_err());
    assert!(full_check(&[]).is_err());
    assert!(full_check(&[0u8; 4096]).is_err());
}

/// A `Read + Seek` that returns 1..=n bytes per read, from a seeded generator.
pub struct ShortReader<T> {
    inner: T,
    rng: Rng,
}

impl<T: Read> Read for ShortReader<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = 1 + self.rng.below(buf.len().min(37) as u64) as usize;
        self.inner.read(&mut buf[..n])
    }
}

impl<T: Seek> Seek for ShortReader<T> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn short_reads_give_the_same_results() {
    let blobs: Vec<Vec<u8>> = (0..6)
        .map(|i| blob_bytes(i, 40_000 * i as usize + 3))
        .collect();
    let (bytes, id, m) = write_archive(&blobs);
    for seed in 1..4 {
        let mut r = ArchiveReader::open(ShortReader {
            inner: Cursor::new(&bytes[..]),
            rng: Rng(seed),
        })
        .unwrap();
        assert_eq!(r.archive_id(), id);
        assert_eq!(r.manifest(), &m);
        for b in &blobs {
            assert_eq!(&r.read_blob(&BlobId::of(b)).unwrap(), b);
        }
        r.verify_all(&mut |_| {}).unwrap();
        r.verify_file_digest().unwrap();
    }
    // Damage is still found through short reads.
    let mut bad = bytes.clone();
    bad[1024 + 512 + 100] ^= 0x40;
    let mut r = ArchiveReader::open(ShortReader {
        inner: Cursor::new(&bad[..]),
        rng: Rng(5),
    })
    .unwrap();
    assert!(r.verify_all(&mut |_| {}).is_err());
}

#[test]
fn blob_reader_reports_damage_instead_of_eof() {
    let data = blob_bytes(3, 100_000);
    let (mut bytes, _, _) = write_archive(std::slice::from_ref(&data));
    let id = BlobId::of(&data);
    let off = open(&bytes).unwrap().lookup(&id).unwrap().offset as usize;
    bytes[off + 500] ^= 0x10;
    let mut r = open(&bytes).unwrap();
    let mut out = Vec::new();
    assert!(r.blob_reader(&id).unwrap().read_to_end(&mut out).is_err());
    assert!(matches!(
        r.read_blob(&id),
        Err(Error::BlobCorrupt { .. } | Error::BlobDigestMismatch { .. })
    ));
}

#[test]
fn limits_are_enforced() {
    let data = blob_bytes(4, 10_000);
    let (bytes, _, _) = write_archive(std::slice::from_ref(&data));
    let limits = Limits {
        max_blob_len: 9_999,
        ..Limits::default()
    };
    assert!(matches!(
        ArchiveReader::open_with_limits(Cursor::new(&bytes[..]), limits),
        Err(Error::LimitExceeded { .. })
    ));
    let limits = Limits {
        max_entries: 1,
        ..Limits::default()
    };
    // Two items (one blob, one failed) exceed one entry.
    assert!(matches!(
        ArchiveReader::open_with_limits(Cursor::new(&bytes[..]), limits),
        Err(Error::LimitExceeded { .. })
    ));
    let limits = Limits {
        max_manifest_len: 100,
        ..Limits::default()
    };
    assert!(matches!(
        ArchiveReader::open_with_limits(Cursor::new(&bytes[..]), limits),
        Err(Error::LimitExceeded { .. })
    ));
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    w.set_max_blob_len(10);
    assert!(matches!(
        w.add_blob(&[0u8; 11]),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        w.add_blob_reader(&mut &[0u8; 11][..]),
        Err(Error::LimitExceeded { .. })
    ));
}
