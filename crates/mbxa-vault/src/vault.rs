//! The vault directory and its operations: add, export, list, verify, forget, prune.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoCtx, Result};
use crate::fsutil;
use crate::id::{hex, parse_hex, sha256, Hash};
use crate::index::{self, Index};
use crate::ingest::{self, IngestStats, Memo, Progress, Sink};
use crate::lock::VaultLock;
use crate::pack::{self, PackWriter, PackedChunk};
use crate::recipe;
use crate::record::{read_record, record_path, FrameBody, FrameRec, Record, Summary};

/// A file that could not be read, and why.
type BadFile = (PathBuf, Error);

/// A pack's hash, path and scan.
type ScanResult = (Hash, PathBuf, Result<pack::Scan>);

/// Default target size of a pack file.
pub const DEFAULT_PACK_TARGET: u64 = 32 << 20;
/// A pack with at least this share of unused bytes is rewritten by `prune`.
const REPACK_UNUSED_PERCENT: u64 = 20;
/// Upper bound on the uncompressed bytes re-created in parallel at once.
const BATCH_BYTES: u64 = 64 << 20;

/// A vault: a directory anyone can copy or sync.
#[derive(Debug, Clone)]
pub struct Vault {
    root: PathBuf,
    pack_target: u64,
    verbatim_only: bool,
}

/// What `add` did with one archive.
#[derive(Debug, Clone)]
pub struct AddOutcome {
    /// The archive file.
    pub path: PathBuf,
    /// Its id.
    pub archive_id: Hash,
    /// Its length.
    pub file_len: u64,
    /// It was already in the vault with identical bytes; nothing was written.
    pub already_stored: bool,
    /// Counters.
    pub stats: IngestStats,
}

/// One archive as `vault ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveListing {
    /// Archive id (hex).
    pub id: String,
    /// Source and capture facts.
    pub summary: Summary,
    /// Archive file length.
    pub file_len: u64,
    /// When it was added (unix seconds).
    pub added_at: u64,
    /// Distinct chunks it references.
    pub chunks: u64,
    /// Stored bytes no other archive needs (freed by forget + prune).
    pub stored_alone: u64,
}

/// The listing of a whole vault.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// Archives, oldest capture first.
    pub archives: Vec<ArchiveListing>,
    /// Pack files in the index.
    pub packs: u64,
    /// Chunks indexed.
    pub chunks: u64,
    /// Total bytes of pack files on disk.
    pub pack_bytes: u64,
    /// Total bytes of record files.
    pub record_bytes: u64,
    /// Files that could not be read (reported, not fatal).
    pub unreadable: Vec<String>,
}

/// Kinds of damage `vault verify` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A pack's bytes do not hash to its name.
    PackDigest,
    /// A chunk inside a pack is damaged.
    ChunkDamaged,
    /// A pack the index names is missing.
    PackMissing,
    /// An index file cannot be read.
    IndexUnreadable,
    /// An index entry disagrees with its pack.
    IndexMismatch,
    /// A record file cannot be read.
    RecordUnreadable,
    /// A chunk an archive needs is not in the vault (or is damaged).
    ChunkMissing,
    /// An archive could not be re-created byte for byte.
    NotReproducible,
}

/// One problem found by `vault verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VaultProblem {
    /// What kind.
    pub kind: ProblemKind,
    /// The file at fault, relative to the vault.
    pub file: String,
    /// Byte offset in that file, when meaningful.
    pub offset: Option<u64>,
    /// Details (expected/actual digests, chunk ids).
    pub detail: String,
    /// Archive ids (hex) that can no longer be re-created because of it.
    pub archives: Vec<String>,
}

/// Result of `vault verify`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    /// Packs read.
    pub packs: u64,
    /// Chunks decompressed and hashed.
    pub chunks: u64,
    /// Pack bytes read.
    pub bytes: u64,
    /// Archives re-created (hashed, not written).
    pub archives: u64,
    /// Archives found re-creatable: every piece checked (and, with `full`, re-created whole
    /// and matched against their file digest).
    pub archives_ok: u64,
    /// Whether archives were re-created whole (`full`).
    pub full: bool,
    /// Distinct blob frames re-compressed and checked (those of records made by another zstd
    /// version than the linked one).
    pub frames_recompressed: u64,
    /// Packs on disk not in any index (left by an interrupted operation; `prune` removes them).
    pub unindexed_packs: Vec<String>,
    /// Everything wrong.
    pub problems: Vec<VaultProblem>,
}

/// Result of `vault prune`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PruneReport {
    /// Packs deleted because nothing needed them.
    pub packs_deleted: u64,
    /// Packs rewritten to drop unused chunks.
    pub packs_repacked: u64,
    /// New packs written.
    pub packs_written: u64,
    /// Packs left by interrupted operations, deleted.
    pub orphans_deleted: u64,
    /// Chunks dropped.
    pub chunks_dropped: u64,
    /// Bytes of pack files freed (net).
    pub bytes_freed: i64,
    /// Packs that could not be repacked because they are damaged (kept as they are).
    pub damaged_kept: Vec<String>,
}

struct VaultSink<'a> {
    root: &'a Path,
    index: Index,
    writer: Option<(PackWriter, u32)>,
    target: u64,
    packs_written: u64,
}

impl VaultSink<'_> {
    fn flush(&mut self) -> Result<()> {
        if let Some((w, n)) = self.writer.take() {
            if w.is_empty() {
                w.abandon();
                return Ok(());
            }
            // Pack first, then its index file: an index never names a pack that is not durable.
            let (id, entries) = w.finish(self.root)?;
            index::write_index_file(self.root, &id, &entries)?;
            self.index.name_pack(n, id);
            self.packs_written += 1;
        }
        Ok(())
    }
}

impl Sink for VaultSink<'_> {
    fn has(&self, id: &Hash) -> bool {
        self.index.contains(id)
    }

    fn put(&mut self, id: &Hash, raw_len: u32, stored: &[u8]) -> Result<()> {
        if self.writer.is_none() {
            let w = PackWriter::new(self.root)?;
            let n = self.index.reserve_pack();
            self.writer = Some((w, n));
        }
        if let Some((w, n)) = self.writer.as_mut() {
            let c = w.add(id, raw_len, stored)?;
            self.index.insert_session(*n, &c);
            if w.len() >= self.target {
                self.flush()?;
            }
        }
        Ok(())
    }
}

/// Reads chunks by id, sharing open pack files between threads.
struct ChunkReader<'a> {
    root: &'a Path,
    index: &'a Index,
    files: Mutex<HashMap<u32, Arc<File>>>,
}

impl<'a> ChunkReader<'a> {
    fn new(root: &'a Path, index: &'a Index) -> Self {
        ChunkReader {
            root,
            index,
            files: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, id: &Hash, archive: &Hash) -> Result<Vec<u8>> {
        let missing = || Error::MissingChunk {
            chunk: hex(id),
            archive: hex(archive),
        };
        let e = self.index.get(id).ok_or_else(missing)?;
        let pack_id = *self.index.pack_id(e.pack).ok_or_else(missing)?;
        let file = {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            match files.get(&e.pack) {
                Some(f) => Arc::clone(f),
                None => {
                    let p = pack::pack_path(self.root, &pack_id);
                    let f = Arc::new(File::open(&p).ctx(&p)?);
                    if files.len() > 256 {
                        files.clear();
                    }
                    files.insert(e.pack, Arc::clone(&f));
                    f
                }
            }
        };
        pack::read_chunk(&file, &pack_id, &e.packed())
    }

    fn concat(&self, chunks: &[Hash], expected_len: u64, archive: &Hash) -> Result<Vec<u8>> {
        let mut total = 0u64;
        for c in chunks {
            let e = self.index.get(c).ok_or_else(|| Error::MissingChunk {
                chunk: hex(c),
                archive: hex(archive),
            })?;
            total += u64::from(e.raw_len);
        }
        if total != expected_len {
            return Err(Error::NotReproducible {
                archive: hex(archive),
                what: "chunk list".into(),
                expected: format!("{expected_len} bytes"),
                actual: format!("{total} bytes"),
            });
        }
        let mut out = Vec::with_capacity(total as usize);
        for c in chunks {
            out.extend_from_slice(&self.get(c, archive)?);
        }
        Ok(out)
    }
}

/// Re-creates one frame's bytes and checks them against the record.
fn frame_bytes(r: &ChunkReader<'_>, archive: &Hash, f: &FrameRec) -> Result<Vec<u8>> {
    let frame = match &f.body {
        FrameBody::Verbatim { chunks } => r.concat(chunks, f.frame_len, archive)?,
        FrameBody::Recompressed { recipe, chunks } => {
            let blob = r.concat(chunks, f.blob_len, archive)?;
            let actual = sha256(&blob);
            if actual != f.blob_id {
                return Err(Error::NotReproducible {
                    archive: hex(archive),
                    what: format!("blob {}", hex(&f.blob_id)),
                    expected: hex(&f.blob_id),
                    actual: hex(&actual),
                });
            }
            recipe::compress(recipe, &blob).map_err(|source| Error::Io {
                path: PathBuf::from("<zstd>"),
                source,
            })?
        }
    };
    let actual = sha256(&frame);
    if actual != f.frame_sha256 {
        return Err(Error::NotReproducible {
            archive: hex(archive),
            what: format!("frame of blob {}", hex(&f.blob_id)),
            expected: hex(&f.frame_sha256),
            actual: hex(&actual),
        });
    }
    Ok(frame)
}

/// Writes the next bytes of the raw stream.
struct RawStream<'a> {
    chunks: &'a [Hash],
    next: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl RawStream<'_> {
    fn copy(
        &mut self,
        r: &ChunkReader<'_>,
        archive: &Hash,
        mut n: u64,
        out: &mut dyn Write,
    ) -> Result<()> {
        while n > 0 {
            if self.pos == self.buf.len() {
                let Some(id) = self.chunks.get(self.next) else {
                    return Err(Error::NotReproducible {
                        archive: hex(archive),
                        what: "raw bytes".into(),
                        expected: format!("{n} more bytes"),
                        actual: "end of the raw stream".into(),
                    });
                };
                self.buf = r.get(id, archive)?;
                self.pos = 0;
                self.next += 1;
                continue;
            }
            let k = ((self.buf.len() - self.pos) as u64).min(n) as usize;
            out.write_all(&self.buf[self.pos..self.pos + k])
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<output>"),
                    source,
                })?;
            self.pos += k;
            n -= k as u64;
        }
        Ok(())
    }
}

/// Re-creates an archive into `out`, checking every frame; returns the SHA-256 of what was written.
fn recreate(r: &ChunkReader<'_>, rec: &Record, out: &mut dyn Write) -> Result<(Hash, u64)> {
    struct Hashing<'w> {
        inner: &'w mut dyn Write,
        h: Sha256,
        n: u64,
    }
    impl Write for Hashing<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let k = self.inner.write(b)?;
            self.h.update(&b[..k]);
            self.n += k as u64;
            Ok(k)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut hw = Hashing {
        inner: out,
        h: Sha256::new(),
        n: 0,
    };
    let a = &rec.archive_id;
    let mut raw = RawStream {
        chunks: &rec.raw_chunks,
        next: 0,
        buf: Vec::new(),
        pos: 0,
    };
    let mut gaps = 0u64;
    let mut i = 0;
    while i < rec.frames.len() {
        let mut j = i;
        let mut bytes = 0u64;
        while j < rec.frames.len() && (j == i || bytes + rec.frames[j].blob_len <= BATCH_BYTES) {
            bytes += rec.frames[j].blob_len;
            j += 1;
        }
        let frames: Vec<Result<Vec<u8>>> = rec.frames[i..j]
            .par_iter()
            .map(|f| frame_bytes(r, a, f))
            .collect();
        for (f, bytes) in rec.frames[i..j].iter().zip(frames) {
            raw.copy(r, a, f.gap, &mut hw)?;
            gaps += f.gap;
            hw.write_all(&bytes?).map_err(|source| Error::Io {
                path: PathBuf::from("<output>"),
                source,
            })?;
        }
        i = j;
    }
    raw.copy(r, a, rec.raw_len - gaps, &mut hw)?;
    if raw.pos != raw.buf.len() || raw.next != rec.raw_chunks.len() {
        return Err(Error::NotReproducible {
            archive: hex(a),
            what: "raw bytes".into(),
            expected: format!("{} bytes", rec.raw_len),
            actual: "more chunks than the layout uses".into(),
        });
    }
    hw.flush().map_err(|source| Error::Io {
        path: PathBuf::from("<output>"),
        source,
    })?;
    Ok((hw.h.finalize().into(), hw.n))
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

impl Vault {
    /// Opens the vault at `root`, creating it if the directory is missing or empty.
    pub fn create(root: &Path) -> Result<Vault> {
        fsutil::ensure_dir(root)?;
        let config = root.join("config");
        if !config.exists() {
            // A directory holding anything but the (empty) skeleton of a vault whose creation
            // was interrupted is not ours to take over.
            let foreign = std::fs::read_dir(root).ctx(root)?.flatten().any(|e| {
                let name = e.file_name();
                let skeleton = ["packs", "index", "archives", "tmp"]
                    .iter()
                    .any(|d| name == *d);
                // tmp/ may hold a half-written config: garbage by definition.
                !skeleton
                    || (name != "tmp"
                        && std::fs::read_dir(e.path())
                            .map(|mut r| r.next().is_some())
                            .unwrap_or(true))
            });
            if foreign {
                return Err(Error::NotAVault {
                    path: root.to_path_buf(),
                });
            }
            for d in ["packs", "index", "archives", "tmp"] {
                fsutil::ensure_dir(&root.join(d))?;
            }
            let body = format!(
                "{{\"format\":\"mbxa-vault\",\"version\":1,\"spec\":\"spec/vault-v1.md\",\"chunker\":{{\"algorithm\":\"fastcdc-2020\",\"min\":{},\"avg\":{},\"max\":{}}}}}\n",
                crate::chunker::MIN_CHUNK,
                crate::chunker::AVG_CHUNK,
                crate::chunker::MAX_CHUNK
            );
            // The config is written last: a directory without it is not (yet) a vault.
            fsutil::write_atomic(&root.join("tmp"), &config, body.as_bytes())?;
        }
        Vault::open(root)
    }

    /// Opens an existing vault, checking its config.
    pub fn open(root: &Path) -> Result<Vault> {
        let config = root.join("config");
        let text = std::fs::read(&config).map_err(|_| Error::NotAVault {
            path: root.to_path_buf(),
        })?;
        let v: serde_json::Value = serde_json::from_slice(&text).map_err(|_| Error::NotAVault {
            path: root.to_path_buf(),
        })?;
        if v.get("format").and_then(|f| f.as_str()) != Some("mbxa-vault") {
            return Err(Error::NotAVault {
                path: root.to_path_buf(),
            });
        }
        let version = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0);
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                path: config,
                version: version as u32,
            });
        }
        for d in ["packs", "index", "archives", "tmp"] {
            fsutil::ensure_dir(&root.join(d))?;
        }
        Ok(Vault {
            root: root.to_path_buf(),
            pack_target: DEFAULT_PACK_TARGET,
            verbatim_only: false,
        })
    }

    /// Sets the pack target size (tests use small packs to exercise many of them).
    pub fn with_pack_target(mut self, bytes: u64) -> Self {
        self.pack_target = bytes.max(1);
        self
    }

    /// Makes `add` store every blob frame as its own bytes instead of re-creating it by
    /// re-compression: no dependence on zstd determinism, but re-exports deduplicate less.
    pub fn with_verbatim_frames(mut self, on: bool) -> Self {
        self.verbatim_only = on;
        self
    }

    /// The vault directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes temp files left by interrupted operations (only while holding the lock).
    fn clean_tmp(&self, _lock: &VaultLock) {
        if let Ok(rd) = std::fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn record_files(&self) -> Result<Vec<(Hash, PathBuf)>> {
        let dir = self.root.join("archives");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).ctx(&dir)?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rec") {
                if let Some(h) = p.file_stem().and_then(|s| s.to_str()).and_then(parse_hex) {
                    out.push((h, p));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Loads every readable record; unreadable ones are returned by path with the error.
    fn records(&self) -> Result<(Vec<Record>, Vec<BadFile>)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (h, p) in self.record_files()? {
            match read_record(&p) {
                Ok(r) if r.archive_id == h => good.push(r),
                Ok(_) => bad.push((
                    p.clone(),
                    Error::Corrupt {
                        path: p,
                        what: "record",
                        offset: 0,
                        detail: "archive id differs from the file name".into(),
                    },
                )),
                Err(e) => bad.push((p, e)),
            }
        }
        Ok((good, bad))
    }

    /// Resolves an archive id or unambiguous prefix of one.
    pub fn resolve(&self, prefix: &str) -> Result<Hash> {
        let p = prefix.to_ascii_lowercase();
        if p.is_empty() {
            return Err(Error::UnknownArchive(prefix.to_string()));
        }
        let matches: Vec<Hash> = self
            .record_files()?
            .into_iter()
            .map(|(h, _)| h)
            .filter(|h| hex(h).starts_with(&p))
            .collect();
        match matches.len() {
            0 => Err(Error::UnknownArchive(prefix.to_string())),
            1 => Ok(matches[0]),
            count => Err(Error::AmbiguousArchive {
                prefix: prefix.to_string(),
                count,
            }),
        }
    }

    /// Adds archives. Each archive is committed on its own (packs, then index files, then its
    /// record), so an interruption keeps every archive already added and the chunks already
    /// packed; re-running finishes the job. Per-archive failures (a damaged archive) are returned
    /// in the list; vault-level failures (lock, disk) are the `Err`.
    pub fn add(
        &self,
        paths: &[PathBuf],
        progress: &(dyn Fn(&Path, &Progress) + Sync),
    ) -> Result<Vec<(PathBuf, Result<AddOutcome>)>> {
        let lock = VaultLock::acquire(&self.root, "add")?;
        self.clean_tmp(&lock);
        let (index, _problems) = Index::load(&self.root)?;
        let mut memo = Memo {
            verbatim_only: self.verbatim_only,
            ..Memo::default()
        };
        let (records, _) = self.records()?;
        for r in &records {
            memo.learn(r);
        }
        drop(records);
        let mut sink = VaultSink {
            root: &self.root,
            index,
            writer: None,
            target: self.pack_target,
            packs_written: 0,
        };
        let mut out = Vec::new();
        for path in paths {
            let res = self.add_one(path, &mut sink, &mut memo, progress);
            let fatal = matches!(&res, Err(Error::Io { path: p, .. }) if p.starts_with(&self.root));
            match res {
                Err(e) if fatal => {
                    if let Some((w, _)) = sink.writer.take() {
                        w.abandon();
                    }
                    return Err(e);
                }
                r => out.push((path.clone(), r)),
            }
        }
        sink.flush()?;
        drop(lock);
        Ok(out)
    }

    fn add_one(
        &self,
        path: &Path,
        sink: &mut VaultSink<'_>,
        memo: &mut Memo,
        progress: &(dyn Fn(&Path, &Progress) + Sync),
    ) -> Result<AddOutcome> {
        let facts = ingest::facts(path)?;
        let archive_id = facts.archive_id;
        let rp = record_path(&self.root, &archive_id);
        if rp.exists() {
            if let Ok(existing) = read_record(&rp) {
                let (sha, len, _) = ingest::file_digest(
                    path,
                    0,
                    mbxa_format::FileHasher::Sha256(Default::default()),
                )?;
                if existing.file_sha256 == sha && existing.file_len == len {
                    return Ok(AddOutcome {
                        path: path.to_path_buf(),
                        archive_id,
                        file_len: len,
                        already_stored: true,
                        stats: IngestStats::default(),
                    });
                }
                return Err(Error::ArchiveConflict {
                    archive: hex(&archive_id),
                    stored: hex(&existing.file_sha256),
                    new: hex(&sha),
                });
            }
            // An unreadable record is replaced by re-adding the archive.
        }
        let file_len = std::fs::metadata(path).ctx(path)?.len();
        let cb = |p: &Progress| progress(path, p);
        let (covered, claimed) = (facts.covered, facts.claimed);
        let head_hasher = facts.head_hasher.clone();
        let algorithm = head_hasher.algorithm();
        let (digest, ingested) = std::thread::scope(|s| {
            let h = s.spawn(|| ingest::file_digest(path, covered, head_hasher));
            let ing = ingest::ingest(path, facts, file_len, sink, memo, &cb);
            (h.join(), ing)
        });
        let (mut record, stats) = ingested?;
        let (sha, len, head) = digest.map_err(|_| Error::BadArchive {
            path: path.to_path_buf(),
            detail: "hashing thread panicked".into(),
        })??;
        if head != claimed {
            return Err(Error::BadArchive {
                path: path.to_path_buf(),
                detail: format!(
                    "damaged: {algorithm} of bytes 0..{covered} is {}, the trailer says {} (run `mbxa verify`)",
                    hex(&head),
                    hex(&claimed)
                ),
            });
        }
        if len != file_len {
            return Err(Error::BadArchive {
                path: path.to_path_buf(),
                detail: "the file changed while it was being added".into(),
            });
        }
        record.file_sha256 = sha;
        // Commit: every chunk is in a durable pack with a durable index file; then the record.
        sink.flush()?;
        fsutil::write_atomic(&self.root.join("tmp"), &rp, &record.encode()?)?;
        Ok(AddOutcome {
            path: path.to_path_buf(),
            archive_id,
            file_len,
            already_stored: false,
            stats,
        })
    }

    /// Re-creates archive `id` (or unique prefix) at `out`, byte for byte; the file appears only
    /// when complete and checked. Returns the archive id.
    pub fn export(&self, id: &str, out: &Path) -> Result<Hash> {
        let _lock = VaultLock::acquire(&self.root, "export")?;
        let archive = self.resolve(id)?;
        let rec = read_record(&record_path(&self.root, &archive))?;
        let (index, _) = Index::load(&self.root)?;
        let reader = ChunkReader::new(&self.root, &index);
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = fsutil::temp_path(&dir, &format!(".{name}.export"));
        let file = fsutil::create_new(&tmp)?;
        let result = (|| {
            let mut w = BufWriter::with_capacity(1 << 20, &file);
            let (sha, len) = recreate(&reader, &rec, &mut w)?;
            w.flush().ctx(&tmp)?;
            drop(w);
            if sha != rec.file_sha256 || len != rec.file_len {
                return Err(Error::NotReproducible {
                    archive: hex(&archive),
                    what: "file".into(),
                    expected: hex(&rec.file_sha256),
                    actual: hex(&sha),
                });
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                fsutil::commit(file, &tmp, out)?;
                Ok(archive)
            }
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Lists the archives held, with what each alone needs.
    pub fn list(&self) -> Result<Listing> {
        let (index, _) = Index::load(&self.root)?;
        let (records, bad) = self.records()?;
        let mut refs: HashMap<Hash, u32> = HashMap::new();
        let distinct: Vec<HashSet<Hash>> = records
            .iter()
            .map(|r| r.chunks().copied().collect())
            .collect();
        for set in &distinct {
            for c in set {
                *refs.entry(*c).or_insert(0) += 1;
            }
        }
        let mut archives: Vec<ArchiveListing> = records
            .iter()
            .zip(&distinct)
            .map(|(r, set)| ArchiveListing {
                id: hex(&r.archive_id),
                summary: r.summary.clone(),
                file_len: r.file_len,
                added_at: r.added_at,
                chunks: set.len() as u64,
                stored_alone: set
                    .iter()
                    .filter(|c| refs.get(*c) == Some(&1))
                    .filter_map(|c| index.get(c))
                    .map(|e| u64::from(e.stored_len) + pack::ENTRY_HEADER)
                    .sum(),
            })
            .collect();
        archives
            .sort_by(|a, b| (&a.summary.started_at, &a.id).cmp(&(&b.summary.started_at, &b.id)));
        let mut pack_bytes = 0;
        for p in index.packs() {
            pack_bytes += std::fs::metadata(pack::pack_path(&self.root, p))
                .map(|m| m.len())
                .unwrap_or(0);
        }
        let mut record_bytes = 0;
        for (_, p) in self.record_files()? {
            record_bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
        Ok(Listing {
            archives,
            packs: index.packs().len() as u64,
            chunks: index.len() as u64,
            pack_bytes,
            record_bytes,
            unreadable: bad
                .iter()
                .map(|(p, e)| format!("{}: {e}", rel(&self.root, p)))
                .collect(),
        })
    }

    fn pack_files(&self) -> Result<Vec<(Hash, PathBuf)>> {
        let dir = self.root.join("packs");
        let mut out = Vec::new();
        for sub in std::fs::read_dir(&dir).ctx(&dir)?.flatten() {
            let Ok(rd) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "pack") {
                    if let Some(h) = p.file_stem().and_then(|s| s.to_str()).and_then(parse_hex) {
                        out.push((h, p));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Reads every stored byte and checks every archive can be re-created (see [`Vault::verify_with`]).
    pub fn verify(&self, progress: &(dyn Fn(&str) + Sync)) -> Result<VerifyReport> {
        self.verify_with(false, progress)
    }

    /// Like [`Vault::verify`]. Every pack is read and every chunk hashed; every record is
    /// decoded, its chunks must be present and sound, and its raw stream and every frame's chunks
    /// must add up to the recorded lengths. Records are checksummed, every piece they name is
    /// checked, and zstd is deterministic for one library version, so for records whose
    /// `zstd_version` is the linked library this proves each archive can be re-created (`add`
    /// saw every recipe reproduce its frame). Records made by another zstd version have every
    /// distinct frame re-created and checked against its SHA-256 (once, even when many archives
    /// share it). `full` additionally re-creates every archive into a hash and compares it with
    /// the recorded file digest.
    pub fn verify_with(
        &self,
        full: bool,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<VerifyReport> {
        let _lock = VaultLock::acquire(&self.root, "verify")?;
        let mut report = VerifyReport::default();
        let (index, load_problems) = Index::load(&self.root)?;
        for lp in load_problems {
            report.problems.push(VaultProblem {
                kind: ProblemKind::IndexUnreadable,
                file: rel(&self.root, &lp.path),
                offset: None,
                detail: lp.detail,
                archives: Vec::new(),
            });
        }
        // 1. Every pack: whole-file digest and every chunk.
        let on_disk = self.pack_files()?;
        let disk_set: HashSet<Hash> = on_disk.iter().map(|(h, _)| *h).collect();
        let indexed: HashSet<Hash> = index.packs().iter().copied().collect();
        progress(&format!("reading {} packs", on_disk.len()));
        let scans: Vec<ScanResult> = on_disk
            .par_iter()
            .map(|(h, p)| (*h, p.clone(), pack::scan(p, h)))
            .collect();
        // Chunks that are damaged or missing, with the pack problem they belong to.
        let mut bad_chunks: HashMap<Hash, usize> = HashMap::new();
        let mut good_at: HashMap<Hash, HashSet<(Hash, u32)>> = HashMap::new();
        for (h, p, scan) in scans {
            if !indexed.contains(&h) {
                report.unindexed_packs.push(rel(&self.root, &p));
            }
            let scan = match scan {
                Ok(s) => s,
                Err(e) => {
                    report.problems.push(VaultProblem {
                        kind: ProblemKind::PackDigest,
                        file: rel(&self.root, &p),
                        offset: None,
                        detail: e.to_string(),
                        archives: Vec::new(),
                    });
                    continue;
                }
            };
            report.packs += 1;
            report.bytes += scan.len;
            report.chunks += scan.good.len() as u64;
            if scan.digest != h {
                report.problems.push(VaultProblem {
                    kind: ProblemKind::PackDigest,
                    file: rel(&self.root, &p),
                    offset: None,
                    detail: format!("expected sha256 {}, actual {}", hex(&h), hex(&scan.digest)),
                    archives: Vec::new(),
                });
            }
            for sp in &scan.problems {
                report.problems.push(VaultProblem {
                    kind: ProblemKind::ChunkDamaged,
                    file: rel(&self.root, &p),
                    offset: Some(sp.offset),
                    detail: match &sp.chunk {
                        Some(c) => format!("chunk {}: {}", hex(c), sp.detail),
                        None => sp.detail.clone(),
                    },
                    archives: Vec::new(),
                });
            }
            good_at.insert(h, scan.good.iter().map(|c| (c.id, c.offset)).collect());
        }
        for p in index.packs() {
            if !disk_set.contains(p) {
                report.problems.push(VaultProblem {
                    kind: ProblemKind::PackMissing,
                    file: rel(&self.root, &pack::pack_path(&self.root, p)),
                    offset: None,
                    detail: format!(
                        "pack {} is named by index/{}.idx but missing",
                        hex(p),
                        hex(p)
                    ),
                    archives: Vec::new(),
                });
            }
        }
        // Index entries whose chunk is not good where the index says it is.
        for e in index.iter() {
            let Some(pid) = index.pack_id(e.pack) else {
                continue;
            };
            let ok = good_at
                .get(pid)
                .is_some_and(|g| g.contains(&(e.id, e.offset)));
            if !ok {
                let problem = report
                    .problems
                    .iter()
                    .position(|pr| {
                        let f = rel(&self.root, &pack::pack_path(&self.root, pid));
                        pr.file == f
                            && matches!(
                                pr.kind,
                                ProblemKind::ChunkDamaged | ProblemKind::PackMissing
                            )
                            && (pr.kind == ProblemKind::PackMissing
                                || pr.offset == Some(u64::from(e.offset)))
                    })
                    .unwrap_or_else(|| {
                        report.problems.push(VaultProblem {
                            kind: ProblemKind::IndexMismatch,
                            file: rel(&self.root, &index::index_path(&self.root, pid)),
                            offset: Some(u64::from(e.offset)),
                            detail: format!(
                                "chunk {} is not where the index says in pack {}",
                                hex(&e.id),
                                hex(pid)
                            ),
                            archives: Vec::new(),
                        });
                        report.problems.len() - 1
                    });
                bad_chunks.insert(e.id, problem);
            }
        }
        // 2. Every record: its chunks, and a full re-creation.
        let (records, bad) = self.records()?;
        for (p, e) in bad {
            report.problems.push(VaultProblem {
                kind: ProblemKind::RecordUnreadable,
                file: rel(&self.root, &p),
                offset: None,
                detail: e.to_string(),
                archives: p
                    .file_stem()
                    .map(|s| vec![s.to_string_lossy().to_string()])
                    .unwrap_or_default(),
            });
        }
        let reader = ChunkReader::new(&self.root, &index);
        // Archives whose chunks are all present and sound; their frames are then re-created,
        // each distinct frame once (in parallel), and their raw streams checked for length.
        let mut sound: Vec<&Record> = Vec::new();
        for rec in &records {
            let a = hex(&rec.archive_id);
            report.archives += 1;
            let mut damaged = false;
            let mut missing = Vec::new();
            let mut seen = HashSet::new();
            for c in rec.chunks() {
                if !seen.insert(*c) {
                    continue;
                }
                if let Some(&pi) = bad_chunks.get(c) {
                    damaged = true;
                    if !report.problems[pi].archives.contains(&a) {
                        report.problems[pi].archives.push(a.clone());
                    }
                } else if !index.contains(c) {
                    missing.push(*c);
                }
            }
            if !missing.is_empty() {
                damaged = true;
                report.problems.push(VaultProblem {
                    kind: ProblemKind::ChunkMissing,
                    file: rel(&self.root, &record_path(&self.root, &rec.archive_id)),
                    offset: None,
                    detail: format!(
                        "{} chunks are not in the vault, first {}",
                        missing.len(),
                        hex(&missing[0])
                    ),
                    archives: vec![a.clone()],
                });
            }
            // Bytes the indexed chunks hold: the raw stream and each frame must add up to what
            // the record says, a cheap structural check that the assembly is what `add`
            // recorded, without re-compressing.
            let held = |chunks: &[Hash]| -> u64 {
                chunks
                    .iter()
                    .filter_map(|c| index.get(c))
                    .map(|e| u64::from(e.raw_len))
                    .sum()
            };
            let mismatch = if damaged {
                None
            } else if held(&rec.raw_chunks) != rec.raw_len {
                Some(format!(
                    "raw stream chunks hold {} bytes, the record needs {}",
                    held(&rec.raw_chunks),
                    rec.raw_len
                ))
            } else {
                rec.frames.iter().find_map(|f| {
                    let (chunks, want) = match &f.body {
                        FrameBody::Recompressed { chunks, .. } => (chunks, f.blob_len),
                        FrameBody::Verbatim { chunks } => (chunks, f.frame_len),
                    };
                    let have = held(chunks);
                    (have != want).then(|| {
                        format!(
                            "blob {}: its chunks hold {have} bytes, the record needs {want}",
                            hex(&f.blob_id)
                        )
                    })
                })
            };
            if let Some(detail) = mismatch {
                damaged = true;
                report.problems.push(VaultProblem {
                    kind: ProblemKind::NotReproducible,
                    file: rel(&self.root, &record_path(&self.root, &rec.archive_id)),
                    offset: None,
                    detail,
                    archives: vec![a.clone()],
                });
            }
            if !damaged {
                sound.push(rec);
            }
        }
        // Frame re-creation. zstd output is a deterministic function of library version,
        // parameters and input, and `add` kept a recipe only after seeing it reproduce the frame
        // with the library named in the record. So for a record made by the zstd linked here, the
        // checks above (every chunk sound, every record intact, lengths adding up) already prove
        // it re-creates; its frames are re-compressed only by `--full` (which re-creates whole
        // archives below) or when the record names another zstd version (then each distinct frame
        // is re-created once, so a failure names the blob).
        let linked = zstd::zstd_safe::version_string();
        let mut frames: HashMap<Hash, (&Hash, &FrameRec, Vec<String>)> = HashMap::new();
        for rec in sound.iter().filter(|r| r.summary.zstd_version != linked) {
            for f in &rec.frames {
                frames
                    .entry(f.frame_sha256)
                    .or_insert_with(|| (&rec.archive_id, f, Vec::new()))
                    .2
                    .push(hex(&rec.archive_id));
            }
        }
        report.full = full;
        report.frames_recompressed = frames.len() as u64;
        if !frames.is_empty() {
            progress(&format!(
                "re-creating {} distinct blob frames (records of another zstd version)",
                frames.len()
            ));
        }
        let failed: Vec<VaultProblem> = frames
            .par_iter()
            .filter_map(|(_, (a, f, archives))| {
                frame_bytes(&reader, a, f).err().map(|e| {
                    let mut archives = archives.clone();
                    archives.sort();
                    archives.dedup();
                    VaultProblem {
                        kind: ProblemKind::NotReproducible,
                        file: rel(&self.root, &record_path(&self.root, a)),
                        offset: None,
                        detail: e.to_string(),
                        archives,
                    }
                })
            })
            .collect();
        let broken: HashSet<&String> = failed.iter().flat_map(|p| p.archives.iter()).collect();
        for rec in &sound {
            let a = hex(&rec.archive_id);
            if broken.contains(&a) {
                continue;
            }
            if full {
                // Byte-for-byte re-creation of the whole file into a hash.
                progress(&format!("re-creating archive {a}"));
                match recreate(&reader, rec, &mut std::io::sink()) {
                    Ok((sha, len)) if sha == rec.file_sha256 && len == rec.file_len => {
                        report.archives_ok += 1
                    }
                    Ok((sha, _)) => report.problems.push(VaultProblem {
                        kind: ProblemKind::NotReproducible,
                        file: rel(&self.root, &record_path(&self.root, &rec.archive_id)),
                        offset: None,
                        detail: format!(
                            "expected sha256 {}, re-created {}",
                            hex(&rec.file_sha256),
                            hex(&sha)
                        ),
                        archives: vec![a.clone()],
                    }),
                    Err(e) => report.problems.push(VaultProblem {
                        kind: ProblemKind::NotReproducible,
                        file: rel(&self.root, &record_path(&self.root, &rec.archive_id)),
                        offset: None,
                        detail: e.to_string(),
                        archives: vec![a.clone()],
                    }),
                }
            } else {
                report.archives_ok += 1;
            }
        }
        report.problems.extend(failed);
        // A pack whose digest is wrong affects the archives its damaged chunks affect.
        let by_file: Vec<(String, Vec<String>)> = report
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::ChunkDamaged || p.kind == ProblemKind::IndexMismatch)
            .map(|p| (p.file.clone(), p.archives.clone()))
            .collect();
        for p in report
            .problems
            .iter_mut()
            .filter(|p| p.kind == ProblemKind::PackDigest)
        {
            for (f, archives) in &by_file {
                if *f == p.file {
                    for a in archives {
                        if !p.archives.contains(a) {
                            p.archives.push(a.clone());
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// Drops archives from the vault (their data stays until `prune`). Returns the ids removed.
    pub fn forget(&self, ids: &[String]) -> Result<Vec<Hash>> {
        let _lock = VaultLock::acquire(&self.root, "forget")?;
        let resolved = ids
            .iter()
            .map(|i| self.resolve(i))
            .collect::<Result<Vec<_>>>()?;
        for h in &resolved {
            fsutil::remove_durable(&record_path(&self.root, h))?;
        }
        Ok(resolved)
    }

    /// Deletes or rewrites packs holding chunks no remaining archive needs. Crash-safe order:
    /// new packs and their index files are made durable first, then old index files are
    /// removed, then old packs.
    pub fn prune(&self) -> Result<PruneReport> {
        let lock = VaultLock::acquire(&self.root, "prune")?;
        self.clean_tmp(&lock);
        let mut report = PruneReport::default();
        let (index, load_problems) = Index::load(&self.root)?;
        if let Some(lp) = load_problems.first() {
            // An unreadable index file may describe a pack we must not judge blindly.
            return Err(Error::Corrupt {
                path: lp.path.clone(),
                what: "index file",
                offset: 0,
                detail: format!(
                    "{}; prune refuses to run until `vault verify` is clean",
                    lp.detail
                ),
            });
        }
        let (records, bad) = self.records()?;
        if let Some((p, e)) = bad.into_iter().next() {
            return Err(Error::Corrupt {
                path: p,
                what: "record",
                offset: 0,
                detail: format!("{e}; prune would not know what it needs"),
            });
        }
        let used: HashSet<Hash> = records.iter().flat_map(|r| r.chunks().copied()).collect();
        drop(records);
        // Per pack: live entries (used, and this pack holds the copy the index resolves to).
        let mut keep_entries: Vec<(u32, Vec<PackedChunk>, u64, u64)> = Vec::new();
        for (n, pid) in index.packs().iter().enumerate() {
            let path = index::index_path(&self.root, pid);
            let bytes = std::fs::read(&path).ctx(&path)?;
            let (_, entries) = index::decode(&path, &bytes)?;
            let mut live = Vec::new();
            let (mut live_bytes, mut dead_bytes) = (0u64, 0u64);
            for e in entries {
                let sz = u64::from(e.stored_len) + pack::ENTRY_HEADER;
                let canonical = index
                    .get(&e.id)
                    .is_some_and(|x| x.pack == n as u32 && x.offset == e.offset);
                if canonical && used.contains(&e.id) {
                    live_bytes += sz;
                    live.push(e);
                } else {
                    dead_bytes += sz;
                    report.chunks_dropped += u64::from(!used.contains(&e.id));
                }
            }
            keep_entries.push((n as u32, live, live_bytes, dead_bytes));
        }
        let mut to_delete: Vec<Hash> = Vec::new();
        let mut writer: Option<PackWriter> = None;
        let mut new_packs: Vec<(Hash, Vec<PackedChunk>)> = Vec::new();
        let before: u64 = self
            .pack_files()?
            .iter()
            .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        for (n, live, live_bytes, dead_bytes) in keep_entries {
            let Some(pid) = index.pack_id(n).copied() else {
                continue;
            };
            if dead_bytes == 0 {
                continue;
            }
            if live.is_empty() {
                to_delete.push(pid);
                report.packs_deleted += 1;
                continue;
            }
            if dead_bytes * 100 < (live_bytes + dead_bytes) * REPACK_UNUSED_PERCENT {
                continue;
            }
            let p = pack::pack_path(&self.root, &pid);
            let Ok(f) = File::open(&p) else {
                report.damaged_kept.push(hex(&pid));
                continue;
            };
            let mut copies = Vec::with_capacity(live.len());
            let mut ok = true;
            for c in &live {
                match pack::read_stored(&f, &pid, c) {
                    Ok(s) => copies.push((c, s)),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                report.damaged_kept.push(hex(&pid));
                continue;
            }
            for (c, stored) in copies {
                if writer.is_none() {
                    writer = Some(PackWriter::new(&self.root)?);
                }
                if let Some(w) = writer.as_mut() {
                    w.add(&c.id, c.raw_len, &stored)?;
                    if w.len() >= self.pack_target {
                        if let Some(w) = writer.take() {
                            let (id, entries) = w.finish(&self.root)?;
                            index::write_index_file(&self.root, &id, &entries)?;
                            new_packs.push((id, entries));
                        }
                    }
                }
            }
            to_delete.push(pid);
            report.packs_repacked += 1;
        }
        if let Some(w) = writer.take() {
            if w.is_empty() {
                w.abandon();
            } else {
                let (id, entries) = w.finish(&self.root)?;
                index::write_index_file(&self.root, &id, &entries)?;
                new_packs.push((id, entries));
            }
        }
        report.packs_written = new_packs.len() as u64;
        // Commit point passed: every live chunk is now indexed in a durable pack outside
        // `to_delete`. Remove old index files first, then the packs.
        let new_ids: HashSet<Hash> = new_packs.iter().map(|(h, _)| *h).collect();
        for pid in &to_delete {
            if !new_ids.contains(pid) {
                fsutil::remove_durable(&index::index_path(&self.root, pid))?;
            }
        }
        for pid in &to_delete {
            if !new_ids.contains(pid) {
                fsutil::remove_durable(&pack::pack_path(&self.root, pid))?;
            }
        }
        // Packs with no index file: left by an add interrupted between pack and index.
        let indexed: HashSet<Hash> = index
            .packs()
            .iter()
            .copied()
            .chain(new_ids.iter().copied())
            .collect();
        for (h, p) in self.pack_files()? {
            if !indexed.contains(&h) {
                fsutil::remove_durable(&p)?;
                report.orphans_deleted += 1;
            }
        }
        let after: u64 = self
            .pack_files()?
            .iter()
            .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        report.bytes_freed = before as i64 - after as i64;
        drop(lock);
        Ok(report)
    }
}
