//! Pack files: many zstd-compressed chunks in one write-once file named by its SHA-256.
//!
//! Layout (all integers little-endian): `"MBXAPAK1"`, then entries, each
//! `"MBXC" | chunk id (32) | raw_len u32 | stored_len u32 | stored bytes (one zstd frame)`.
//! Every entry is self-describing, so a pack can be scanned and its index rebuilt without any
//! other file, and the pack's name lets `sha256sum` check it.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoCtx, Result};
use crate::fsutil;
use crate::id::{hex, sha256, Hash};

/// Magic at the start of every pack.
pub const PACK_MAGIC: &[u8; 8] = b"MBXAPAK1";
/// Magic at the start of every chunk entry.
pub const ENTRY_MAGIC: &[u8; 4] = b"MBXC";
/// Size of a chunk entry's header.
pub const ENTRY_HEADER: u64 = 44;
/// Largest chunk (raw or stored) a reader accepts; the chunker never cuts more than 256 KiB.
pub const MAX_CHUNK: u32 = 4 << 20;

/// Where a chunk lives inside its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedChunk {
    /// SHA-256 of the chunk's raw bytes.
    pub id: Hash,
    /// Offset of the entry header in the pack.
    pub offset: u32,
    /// Length of the stored (compressed) bytes after the header.
    pub stored_len: u32,
    /// Length of the raw bytes.
    pub raw_len: u32,
}

/// Path of a pack in the vault.
pub fn pack_path(root: &Path, id: &Hash) -> PathBuf {
    let h = hex(id);
    root.join("packs").join(&h[..2]).join(format!("{h}.pack"))
}

/// Builds one pack in a temp file.
#[derive(Debug)]
pub struct PackWriter {
    file: File,
    tmp: PathBuf,
    hasher: Sha256,
    len: u64,
    entries: Vec<PackedChunk>,
}

impl PackWriter {
    /// Starts a pack in the vault's `tmp/` directory.
    pub fn new(root: &Path) -> Result<Self> {
        let tmp = fsutil::temp_path(&root.join("tmp"), "pack");
        let file = fsutil::create_new(&tmp)?;
        let mut w = PackWriter {
            file,
            tmp,
            hasher: Sha256::new(),
            len: 0,
            entries: Vec::new(),
        };
        w.write(PACK_MAGIC)?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.file.write_all(b).ctx(&self.tmp)?;
        self.hasher.update(b);
        self.len += b.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no chunk has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a chunk given its raw length and compressed bytes; returns where it went.
    pub fn add(&mut self, id: &Hash, raw_len: u32, stored: &[u8]) -> Result<PackedChunk> {
        let offset = u32::try_from(self.len).map_err(|_| Error::TooLarge {
            what: "pack",
            len: self.len,
            max: u64::from(u32::MAX),
        })?;
        let stored_len = u32::try_from(stored.len()).map_err(|_| Error::TooLarge {
            what: "stored chunk",
            len: stored.len() as u64,
            max: u64::from(MAX_CHUNK),
        })?;
        let mut h = [0u8; ENTRY_HEADER as usize];
        h[..4].copy_from_slice(ENTRY_MAGIC);
        h[4..36].copy_from_slice(id);
        h[36..40].copy_from_slice(&raw_len.to_le_bytes());
        h[40..44].copy_from_slice(&stored_len.to_le_bytes());
        self.write(&h)?;
        self.write(stored)?;
        let c = PackedChunk {
            id: *id,
            offset,
            stored_len,
            raw_len,
        };
        self.entries.push(c);
        Ok(c)
    }

    /// Makes the pack durable under its final name; returns its id and entries.
    pub fn finish(mut self, root: &Path) -> Result<(Hash, Vec<PackedChunk>)> {
        self.file.flush().ctx(&self.tmp)?;
        let id: Hash = self.hasher.finalize().into();
        let final_path = pack_path(root, &id);
        if let Some(dir) = final_path.parent() {
            fsutil::ensure_dir(dir)?;
        }
        fsutil::commit(self.file, &self.tmp, &final_path)?;
        Ok((id, self.entries))
    }

    /// Abandons the pack, removing its temp file.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Compresses a chunk for storage.
pub fn compress_chunk(raw: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(raw, 3).map_err(|source| Error::Io {
        path: PathBuf::from("<zstd>"),
        source,
    })
}

thread_local! {
    // One decompression context per thread: creating one per chunk cost ~4% of `vault verify`.
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `zstd::bulk::decompress` with this thread's reused context.
fn decompress_reusing(stored: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        d.decompress(stored, capacity)
    })
}

/// Decompresses a stored chunk, bounded by its declared raw length, and checks its id.
pub fn decode_chunk(
    pack: &Hash,
    offset: u64,
    id: &Hash,
    raw_len: u32,
    stored: &[u8],
) -> Result<Vec<u8>> {
    let corrupt = |detail: String| Error::Corrupt {
        path: PathBuf::from(format!("pack {}", hex(pack))),
        what: "chunk",
        offset,
        detail,
    };
    if raw_len > MAX_CHUNK {
        return Err(corrupt(format!("raw length {raw_len} exceeds {MAX_CHUNK}")));
    }
    let raw =
        decompress_reusing(stored, raw_len as usize).map_err(|e| corrupt(format!("zstd: {e}")))?;
    if raw.len() != raw_len as usize {
        return Err(corrupt(format!(
            "decompressed to {} bytes, expected {raw_len}",
            raw.len()
        )));
    }
    let actual = sha256(&raw);
    if &actual != id {
        return Err(Error::ChunkDigest {
            chunk: hex(id),
            pack: hex(pack),
            offset,
            actual: hex(&actual),
        });
    }
    Ok(raw)
}

/// Reads one chunk at a known place with a positioned read (no shared cursor, so threads can
/// share the `File`), checking the entry header and the chunk's digest.
pub fn read_chunk(file: &File, pack: &Hash, c: &PackedChunk) -> Result<Vec<u8>> {
    let corrupt = |detail: String| Error::Corrupt {
        path: PathBuf::from(format!("pack {}", hex(pack))),
        what: "chunk entry",
        offset: u64::from(c.offset),
        detail,
    };
    if c.stored_len > MAX_CHUNK {
        return Err(corrupt(format!("stored length {} too large", c.stored_len)));
    }
    let mut buf = vec![0u8; ENTRY_HEADER as usize + c.stored_len as usize];
    read_exact_at(file, &mut buf, u64::from(c.offset))
        .map_err(|e| corrupt(format!("read failed: {e}")))?;
    if &buf[..4] != ENTRY_MAGIC || buf[4..36] != c.id {
        return Err(corrupt("entry header does not match the index".into()));
    }
    let raw_len = u32::from_le_bytes([buf[36], buf[37], buf[38], buf[39]]);
    let stored_len = u32::from_le_bytes([buf[40], buf[41], buf[42], buf[43]]);
    if raw_len != c.raw_len || stored_len != c.stored_len {
        return Err(corrupt("entry lengths do not match the index".into()));
    }
    decode_chunk(
        pack,
        u64::from(c.offset),
        &c.id,
        raw_len,
        &buf[ENTRY_HEADER as usize..],
    )
}

/// Reads the stored bytes of a chunk without decompressing (for repacking), checking the header.
pub fn read_stored(file: &File, pack: &Hash, c: &PackedChunk) -> Result<Vec<u8>> {
    // Decoding also proves the copy is sound before it is carried into a new pack.
    let raw = read_chunk(file, pack, c)?;
    let mut buf = vec![0u8; c.stored_len as usize];
    read_exact_at(file, &mut buf, u64::from(c.offset) + ENTRY_HEADER).map_err(|source| {
        Error::Io {
            path: PathBuf::from(format!("pack {}", hex(pack))),
            source,
        }
    })?;
    drop(raw);
    Ok(buf)
}

#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// One problem found while scanning a pack.
#[derive(Debug, Clone)]
pub struct ScanProblem {
    /// Offset of the entry.
    pub offset: u64,
    /// The chunk id the entry claims, if its header was readable.
    pub chunk: Option<Hash>,
    /// What is wrong.
    pub detail: String,
}

/// Result of reading a whole pack.
#[derive(Debug, Clone)]
pub struct Scan {
    /// SHA-256 of the whole file.
    pub digest: Hash,
    /// File length.
    pub len: u64,
    /// Entries whose chunk decoded and matched its id.
    pub good: Vec<PackedChunk>,
    /// Entries (or regions) that did not.
    pub problems: Vec<ScanProblem>,
}

/// Packs up to this size are scanned in memory with chunks decoded in parallel.
const IN_MEMORY_SCAN: u64 = 256 << 20;

/// Reads a pack: its digest, and every chunk decompressed and hashed (in parallel).
pub fn scan(path: &Path, pack: &Hash) -> Result<Scan> {
    let len = std::fs::metadata(path).ctx(path)?.len();
    if len > IN_MEMORY_SCAN {
        return scan_streaming(path, pack);
    }
    let b = std::fs::read(path).ctx(path)?;
    let (digest, (good, problems)) = rayon::join(|| sha256(&b), || scan_bytes(&b, pack));
    Ok(Scan {
        digest,
        len: b.len() as u64,
        good,
        problems,
    })
}

/// Parses the entries of an in-memory pack and decodes them in parallel.
fn scan_bytes(b: &[u8], pack: &Hash) -> (Vec<PackedChunk>, Vec<ScanProblem>) {
    use rayon::prelude::*;
    let mut problems = Vec::new();
    if b.len() < 8 || &b[..8] != PACK_MAGIC {
        problems.push(ScanProblem {
            offset: 0,
            chunk: None,
            detail: "bad pack magic".into(),
        });
        return (Vec::new(), problems);
    }
    let mut entries = Vec::new();
    let mut pos = 8usize;
    while pos < b.len() {
        let h = match b.get(pos..pos + ENTRY_HEADER as usize) {
            Some(h) => h,
            None => {
                problems.push(ScanProblem {
                    offset: pos as u64,
                    chunk: None,
                    detail: "truncated entry header".into(),
                });
                break;
            }
        };
        let mut id = [0u8; 32];
        id.copy_from_slice(&h[4..36]);
        let raw_len = u32::from_le_bytes([h[36], h[37], h[38], h[39]]);
        let stored_len = u32::from_le_bytes([h[40], h[41], h[42], h[43]]);
        if &h[..4] != ENTRY_MAGIC || stored_len > MAX_CHUNK || raw_len > MAX_CHUNK {
            problems.push(ScanProblem {
                offset: pos as u64,
                chunk: Some(id),
                detail: "bad entry header; the rest of the pack cannot be parsed".into(),
            });
            break;
        }
        let start = pos + ENTRY_HEADER as usize;
        let Some(stored) = b.get(start..start + stored_len as usize) else {
            problems.push(ScanProblem {
                offset: pos as u64,
                chunk: Some(id),
                detail: "truncated chunk".into(),
            });
            break;
        };
        entries.push((pos, id, raw_len, stored_len, stored));
        pos = start + stored_len as usize;
    }
    let results: Vec<std::result::Result<PackedChunk, ScanProblem>> = entries
        .par_iter()
        .map(|&(pos, id, raw_len, stored_len, stored)| {
            let bad = |detail: String| ScanProblem {
                offset: pos as u64,
                chunk: Some(id),
                detail,
            };
            decode_chunk(pack, pos as u64, &id, raw_len, stored).map_err(|e| bad(e.to_string()))?;
            let offset = u32::try_from(pos).map_err(|_| bad("offset beyond 4 GiB".into()))?;
            Ok(PackedChunk {
                id,
                offset,
                stored_len,
                raw_len,
            })
        })
        .collect();
    let mut good = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(c) => good.push(c),
            Err(p) => problems.push(p),
        }
    }
    problems.sort_by_key(|p| p.offset);
    (good, problems)
}

/// [`scan`] for very large packs: one pass, bounded memory.
fn scan_streaming(path: &Path, pack: &Hash) -> Result<Scan> {
    let f = File::open(path).ctx(path)?;
    let len = f.metadata().ctx(path)?.len();
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hasher = Sha256::new();
    let mut good = Vec::new();
    let mut problems = Vec::new();
    let mut magic = [0u8; 8];
    let mut pos = 0u64;
    let read = |r: &mut BufReader<File>, buf: &mut [u8], hasher: &mut Sha256| -> bool {
        if r.read_exact(buf).is_err() {
            return false;
        }
        hasher.update(&*buf);
        true
    };
    if !read(&mut r, &mut magic, &mut hasher) || &magic != PACK_MAGIC {
        problems.push(ScanProblem {
            offset: 0,
            chunk: None,
            detail: "bad pack magic".into(),
        });
        // Still hash the rest so the digest reported is the file's.
        let mut rest = Vec::new();
        let _ = r.read_to_end(&mut rest);
        hasher.update(&rest);
        return Ok(Scan {
            digest: hasher.finalize().into(),
            len,
            good,
            problems,
        });
    }
    pos += 8;
    while pos < len {
        let mut h = [0u8; ENTRY_HEADER as usize];
        if !read(&mut r, &mut h, &mut hasher) {
            problems.push(ScanProblem {
                offset: pos,
                chunk: None,
                detail: "truncated entry header".into(),
            });
            break;
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&h[4..36]);
        let raw_len = u32::from_le_bytes([h[36], h[37], h[38], h[39]]);
        let stored_len = u32::from_le_bytes([h[40], h[41], h[42], h[43]]);
        if &h[..4] != ENTRY_MAGIC || stored_len > MAX_CHUNK || raw_len > MAX_CHUNK {
            problems.push(ScanProblem {
                offset: pos,
                chunk: Some(id),
                detail: "bad entry header; the rest of the pack cannot be parsed".into(),
            });
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
            hasher.update(&rest);
            break;
        }
        let mut stored = vec![0u8; stored_len as usize];
        if !read(&mut r, &mut stored, &mut hasher) {
            problems.push(ScanProblem {
                offset: pos,
                chunk: Some(id),
                detail: "truncated chunk".into(),
            });
            break;
        }
        match decode_chunk(pack, pos, &id, raw_len, &stored) {
            Ok(_) => match u32::try_from(pos) {
                Ok(offset) => good.push(PackedChunk {
                    id,
                    offset,
                    stored_len,
                    raw_len,
                }),
                Err(_) => problems.push(ScanProblem {
                    offset: pos,
                    chunk: Some(id),
                    detail: "offset beyond 4 GiB".into(),
                }),
            },
            Err(e) => problems.push(ScanProblem {
                offset: pos,
                chunk: Some(id),
                detail: e.to_string(),
            }),
        }
        pos += ENTRY_HEADER + u64::from(stored_len);
    }
    Ok(Scan {
        digest: hasher.finalize().into(),
        len,
        good,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_scan_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("tmp")).unwrap();
        let mut w = PackWriter::new(d.path()).unwrap();
        let a = b"hello hello hello".to_vec();
        let b = vec![7u8; 10000];
        for raw in [&a, &b] {
            w.add(
                &sha256(raw),
                raw.len() as u32,
                &compress_chunk(raw).unwrap(),
            )
            .unwrap();
        }
        let (id, entries) = w.finish(d.path()).unwrap();
        let p = pack_path(d.path(), &id);
        assert_eq!(sha256(&std::fs::read(&p).unwrap()), id);
        let s = scan(&p, &id).unwrap();
        assert!(s.problems.is_empty());
        assert_eq!(s.good, entries);
        let f = File::open(&p).unwrap();
        assert_eq!(read_chunk(&f, &id, &entries[1]).unwrap(), b);

        // Flip one byte inside the second chunk's stored bytes.
        let mut bytes = std::fs::read(&p).unwrap();
        let at = entries[1].offset as usize + ENTRY_HEADER as usize + 3;
        bytes[at] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        for s in [scan(&p, &id).unwrap(), scan_streaming(&p, &id).unwrap()] {
            assert_ne!(s.digest, id);
            assert_eq!(s.good.len(), 1);
            assert_eq!(s.problems.len(), 1);
            assert_eq!(s.problems[0].offset, u64::from(entries[1].offset));
        }
        let f = File::open(&p).unwrap();
        assert!(read_chunk(&f, &id, &entries[1]).is_err());
    }
}
