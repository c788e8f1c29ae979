//! The chunk index: per-pack index files on disk, one sorted array in memory.
//!
//! On disk each pack has `index/<pack id>.idx`: `"MBXAIDX1" | pack id (32) | count u32 |
//! count × (chunk id 32 | offset u32 | stored_len u32 | raw_len u32) | SHA-256 of all before (32)`.
//! In memory the whole vault's index is a `Vec<IndexEntry>` sorted by chunk id: 48 bytes per
//! chunk, no per-entry allocation. Chunks written during the current operation live in a small
//! hash map until the operation ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::{hex, parse_hex, sha256, Hash};
use crate::pack::PackedChunk;

/// Magic at the start of an index file.
pub const INDEX_MAGIC: &[u8; 8] = b"MBXAIDX1";
const ENTRY_LEN: usize = 44;
/// Largest index file a reader accepts (a 4 GiB pack of 64-byte chunks would need less).
pub const MAX_INDEX_FILE: u64 = 1 << 30;

/// One chunk's location: 48 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// SHA-256 of the chunk's raw bytes.
    pub id: Hash,
    /// Number of the pack in [`Index::packs`].
    pub pack: u32,
    /// Offset of the chunk's entry header in the pack.
    pub offset: u32,
    /// Stored (compressed) length.
    pub stored_len: u32,
    /// Raw length.
    pub raw_len: u32,
}

impl IndexEntry {
    /// The location as the pack module describes it.
    pub fn packed(&self) -> PackedChunk {
        PackedChunk {
            id: self.id,
            offset: self.offset,
            stored_len: self.stored_len,
            raw_len: self.raw_len,
        }
    }
}

/// Path of a pack's index file.
pub fn index_path(root: &Path, pack: &Hash) -> PathBuf {
    root.join("index").join(format!("{}.idx", hex(pack)))
}

/// Encodes an index file.
pub fn encode(pack: &Hash, entries: &[PackedChunk]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 32 + 4 + entries.len() * ENTRY_LEN + 32);
    b.extend_from_slice(INDEX_MAGIC);
    b.extend_from_slice(pack);
    b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        b.extend_from_slice(&e.id);
        b.extend_from_slice(&e.offset.to_le_bytes());
        b.extend_from_slice(&e.stored_len.to_le_bytes());
        b.extend_from_slice(&e.raw_len.to_le_bytes());
    }
    let d = sha256(&b);
    b.extend_from_slice(&d);
    b
}

/// Decodes an index file, checking magic, length and checksum.
pub fn decode(path: &Path, b: &[u8]) -> Result<(Hash, Vec<PackedChunk>)> {
    let corrupt = |offset: usize, detail: &str| Error::Corrupt {
        path: path.to_path_buf(),
        what: "index file",
        offset: offset as u64,
        detail: detail.to_string(),
    };
    if b.len() < 8 + 32 + 4 + 32 || &b[..8] != INDEX_MAGIC {
        return Err(corrupt(0, "bad magic or too short"));
    }
    let body = &b[..b.len() - 32];
    if sha256(body)[..] != b[b.len() - 32..] {
        return Err(corrupt(b.len() - 32, "checksum mismatch"));
    }
    let mut pack = [0u8; 32];
    pack.copy_from_slice(&b[8..40]);
    let count = u32::from_le_bytes([b[40], b[41], b[42], b[43]]) as usize;
    let rest = &body[44..];
    if rest.len() != count.saturating_mul(ENTRY_LEN) {
        return Err(corrupt(40, "entry count does not match the file length"));
    }
    let mut out = Vec::with_capacity(count);
    for e in rest.chunks_exact(ENTRY_LEN) {
        let mut id = [0u8; 32];
        id.copy_from_slice(&e[..32]);
        let u = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
        out.push(PackedChunk {
            id,
            offset: u(32),
            stored_len: u(36),
            raw_len: u(40),
        });
    }
    Ok((pack, out))
}

/// Writes a pack's index file (after the pack itself is durable).
pub fn write_index_file(root: &Path, pack: &Hash, entries: &[PackedChunk]) -> Result<()> {
    fsutil::write_atomic(
        &root.join("tmp"),
        &index_path(root, pack),
        &encode(pack, entries),
    )
}

/// A problem met while loading index files.
#[derive(Debug, Clone)]
pub struct LoadProblem {
    /// The index file.
    pub path: PathBuf,
    /// What was wrong.
    pub detail: String,
}

/// The vault's chunk index in memory.
#[derive(Debug, Default)]
pub struct Index {
    packs: Vec<Hash>,
    sorted: Vec<IndexEntry>,
    session: HashMap<Hash, IndexEntry>,
}

impl Index {
    /// Loads every `index/*.idx`; unreadable files are returned as problems, not errors, so that
    /// `add` can re-store what they described and `verify` can report them.
    pub fn load(root: &Path) -> Result<(Index, Vec<LoadProblem>)> {
        let dir = root.join("index");
        let mut idx = Index::default();
        let mut problems = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((idx, problems)),
            Err(source) => return Err(Error::Io { path: dir, source }),
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        files.sort();
        for path in files {
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len > MAX_INDEX_FILE {
                problems.push(LoadProblem {
                    path,
                    detail: format!("{len} bytes is too large"),
                });
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(LoadProblem {
                        path,
                        detail: e.to_string(),
                    });
                    continue;
                }
            };
            match decode(&path, &bytes) {
                Ok((pack, entries)) => {
                    let name_ok = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(parse_hex)
                        .is_some_and(|h| h == pack);
                    if !name_ok {
                        problems.push(LoadProblem {
                            path,
                            detail: "file name does not match the pack id inside".into(),
                        });
                        continue;
                    }
                    let n = idx.packs.len() as u32;
                    idx.packs.push(pack);
                    idx.sorted.extend(entries.iter().map(|e| IndexEntry {
                        id: e.id,
                        pack: n,
                        offset: e.offset,
                        stored_len: e.stored_len,
                        raw_len: e.raw_len,
                    }));
                }
                Err(e) => problems.push(LoadProblem {
                    path,
                    detail: e.to_string(),
                }),
            }
        }
        // Sorting by (id, pack) keeps the choice among duplicate copies deterministic.
        idx.sorted.sort_unstable_by(|a, b| {
            a.id.cmp(&b.id)
                .then(idx.packs[a.pack as usize].cmp(&idx.packs[b.pack as usize]))
        });
        idx.sorted.dedup_by(|a, b| a.id == b.id);
        idx.sorted.shrink_to_fit();
        Ok((idx, problems))
    }

    /// Where a chunk is, if stored.
    pub fn get(&self, id: &Hash) -> Option<IndexEntry> {
        if let Ok(i) = self.sorted.binary_search_by(|e| e.id.cmp(id)) {
            return Some(self.sorted[i]);
        }
        self.session.get(id).copied()
    }

    /// True if the chunk is stored (or being stored by this operation).
    pub fn contains(&self, id: &Hash) -> bool {
        self.get(id).is_some()
    }

    /// Pack id of a pack number.
    pub fn pack_id(&self, n: u32) -> Option<&Hash> {
        self.packs.get(n as usize)
    }

    /// All pack ids known to the index.
    pub fn packs(&self) -> &[Hash] {
        &self.packs
    }

    /// Reserves a pack number for a pack being written (its id is known only at the end).
    pub fn reserve_pack(&mut self) -> u32 {
        self.packs.push([0u8; 32]);
        (self.packs.len() - 1) as u32
    }

    /// Records a chunk written into the reserved pack `n`.
    pub fn insert_session(&mut self, n: u32, c: &PackedChunk) {
        self.session.insert(
            c.id,
            IndexEntry {
                id: c.id,
                pack: n,
                offset: c.offset,
                stored_len: c.stored_len,
                raw_len: c.raw_len,
            },
        );
    }

    /// Names the reserved pack `n` once it is durable.
    pub fn name_pack(&mut self, n: u32, id: Hash) {
        if let Some(p) = self.packs.get_mut(n as usize) {
            *p = id;
        }
    }

    /// Every entry (sorted ones, then this session's), for accounting.
    pub fn iter(&self) -> impl Iterator<Item = &IndexEntry> {
        self.sorted.iter().chain(self.session.values())
    }

    /// Number of chunks indexed.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.session.len()
    }

    /// True if no chunk is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of heap this index holds (measured from capacities), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<IndexEntry>()
            + self.packs.capacity() * 32
            + self.session.capacity() * (std::mem::size_of::<(Hash, IndexEntry)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_48_bytes() {
        assert_eq!(std::mem::size_of::<IndexEntry>(), 48);
    }

    #[test]
    fn codec_round_trip_and_checksum() {
        let entries: Vec<PackedChunk> = (0..5u32)
            .map(|i| PackedChunk {
                id: sha256(&i.to_le_bytes()),
                offset: i * 100,
                stored_len: i,
                raw_len: i * 2,
            })
            .collect();
        let pack = sha256(b"pack");
        let b = encode(&pack, &entries);
        assert_eq!(decode(Path::new("x"), &b).unwrap(), (pack, entries));
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 1;
            assert!(
                decode(Path::new("x"), &c).is_err(),
                "flip at {i} undetected"
            );
        }
        assert!(decode(Path::new("x"), &b[..b.len() - 1]).is_err());
    }

    #[test]
    fn memory_per_chunk_is_within_budget() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("index")).unwrap();
        std::fs::create_dir_all(d.path().join("tmp")).unwrap();
        let n = 100_000u32;
        for p in 0..10u32 {
            let entries: Vec<PackedChunk> = (0..n / 10)
                .map(|i| PackedChunk {
                    id: sha256(&(p * n + i).to_le_bytes()),
                    offset: i,
                    stored_len: 1,
                    raw_len: 1,
                })
                .collect();
            write_index_file(d.path(), &sha256(&p.to_le_bytes()), &entries).unwrap();
        }
        let (idx, problems) = Index::load(d.path()).unwrap();
        assert!(problems.is_empty());
        assert_eq!(idx.len(), n as usize);
        let per_chunk = idx.heap_bytes() as f64 / f64::from(n);
        assert!(per_chunk <= 64.0, "{per_chunk} bytes per chunk");
        let probe = sha256(&(5 * n + 7).to_le_bytes());
        assert_eq!(idx.get(&probe).map(|e| e.offset), Some(7));
        assert!(idx.get(&sha256(b"absent")).is_none());
    }
}
