//! Turning an archive file into a [`Record`] plus new chunks, shared by `vault add` and
//! `mbxa dedupe` (which counts instead of storing).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::chunker;
use crate::error::{Error, IoCtx, Result};
use crate::id::{hex, sha256, Hash};
use crate::pack::{compress_chunk, read_exact_at};
use crate::recipe::{self, Recipe};
use crate::record::{FrameBody, FrameRec, Record, Summary};

/// Where new chunks go.
pub(crate) trait Sink {
    /// True if the chunk is already stored (or was put earlier in this run).
    fn has(&self, id: &Hash) -> bool;
    /// Stores a chunk given its raw length and compressed bytes.
    fn put(&mut self, id: &Hash, raw_len: u32, stored: &[u8]) -> Result<()>;
}

/// State carried across the archives of one run.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// Frames already stored, by frame SHA-256: their body (so unchanged blobs skip all work).
    pub known_frames: HashMap<Hash, FrameBody>,
    /// Recipes that reproduced earlier frames, most recent first.
    pub hints: Vec<Recipe>,
    /// Store every frame verbatim (never depend on re-compression).
    pub verbatim_only: bool,
}

impl Memo {
    /// Learns the frames of an existing record.
    pub fn learn(&mut self, r: &Record) {
        for f in &r.frames {
            if let FrameBody::Recompressed { recipe, .. } = &f.body {
                self.hint(*recipe);
            }
            self.known_frames
                .entry(f.frame_sha256)
                .or_insert_with(|| f.body.clone());
        }
    }

    fn hint(&mut self, r: Recipe) {
        if self.hints.first() != Some(&r) {
            self.hints.retain(|h| h != &r);
            self.hints.insert(0, r);
            self.hints.truncate(4);
        }
    }
}

/// Counters of one ingest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Blob frames in the archive.
    pub frames: u64,
    /// Frames already known to the vault (no work needed).
    pub frames_known: u64,
    /// Frames stored as verbatim chunks because no recipe reproduced them.
    pub frames_verbatim: u64,
    /// Chunks referenced (with repeats).
    pub chunks: u64,
    /// Chunks newly stored.
    pub new_chunks: u64,
    /// Raw bytes of newly stored chunks.
    pub new_raw_bytes: u64,
    /// Compressed bytes of newly stored chunks.
    pub new_stored_bytes: u64,
}

/// Progress of one archive, for a callback.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Archive bytes processed.
    pub done: u64,
    /// Archive length.
    pub total: u64,
}

/// The blob frames of an archive, as the format's index gives them.
pub(crate) struct FrameRef {
    pub id: Hash,
    pub offset: u64,
    pub stored_len: u64,
    pub len: u64,
}

/// What the archive reader tells us.
pub(crate) struct ArchiveFacts {
    pub archive_id: Hash,
    pub summary: Summary,
    pub frames: Vec<FrameRef>,
    /// End of the range the trailer's file digest covers.
    pub covered: u64,
    /// The trailer's file digest of bytes `0..covered`.
    pub claimed: Hash,
    /// The hasher of that digest (SHA-256 in format 1, BLAKE3 in format 2).
    pub head_hasher: mbxa_format::FileHasher,
}

/// Reads an archive's id, manifest summary and index via `mbxa-format`.
pub(crate) fn facts(path: &Path) -> Result<ArchiveFacts> {
    let fmt = |source| Error::Format {
        path: path.to_path_buf(),
        source,
    };
    let r = mbxa_format::ArchiveReader::open_path(path).map_err(fmt)?;
    let m = r.manifest();
    let failed = m
        .items
        .iter()
        .filter(|i| matches!(i.content, mbxa_format::ItemContent::ExportFailed { .. }))
        .count() as u64;
    let summary = Summary {
        tenant_id: m.source.tenant_id.clone(),
        user: m.source.user.clone(),
        mailbox_id: m.source.mailbox_id.clone(),
        kind: match m.source.kind {
            mbxa_format::MailboxKind::Primary => "primary".into(),
            mbxa_format::MailboxKind::Archive => "archive".into(),
        },
        started_at: m.capture.started_at.clone(),
        finished_at: m.capture.finished_at.clone(),
        folders: m.folders.len() as u64,
        items: m.items.len() as u64,
        failed_items: failed,
        blobs: r.index().len() as u64,
        blob_bytes: r.index().iter().map(|e| e.len).sum(),
        zstd_version: zstd::zstd_safe::version_string().to_string(),
    };
    let mut frames: Vec<FrameRef> = r
        .index()
        .iter()
        .map(|e| FrameRef {
            id: e.id.0,
            offset: e.offset,
            stored_len: e.stored_len,
            len: e.len,
        })
        .collect();
    frames.sort_by_key(|f| f.offset);
    Ok(ArchiveFacts {
        archive_id: r.archive_id().0,
        summary,
        frames,
        covered: r.trailer_offset(),
        claimed: r.file_digest(),
        head_hasher: r.file_hasher(),
    })
}

/// SHA-256 and length of a whole file, streamed, plus the digest of its first `prefix` bytes by
/// `head_hasher` (the archive's file-digest algorithm). For SHA-256 (format 1) the prefix digest
/// is a snapshot of the whole-file hash, so the file is hashed once.
pub(crate) fn file_digest(
    path: &Path,
    prefix: u64,
    head_hasher: mbxa_format::FileHasher,
) -> Result<(Hash, u64, Hash)> {
    let mut f = File::open(path).ctx(path)?;
    let mut h = Sha256::new();
    // Format 2: the prefix needs its own (BLAKE3) hasher.
    let mut other = match head_hasher {
        mbxa_format::FileHasher::Sha256(_) => None,
        b => Some(b),
    };
    let mut head: Option<Hash> = None;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).ctx(path)?;
        if k == 0 {
            break;
        }
        let chunk = &buf[..k];
        if head.is_none() && n + k as u64 >= prefix {
            let cut = (prefix - n) as usize;
            h.update(&chunk[..cut]);
            head = Some(match other.take() {
                Some(mut b) => {
                    b.update(&chunk[..cut]);
                    b.finalize()
                }
                None => h.clone().finalize().into(),
            });
            h.update(&chunk[cut..]);
        } else {
            h.update(chunk);
            if head.is_none() {
                if let Some(b) = other.as_mut() {
                    b.update(chunk);
                }
            }
        }
        n += k as u64;
    }
    let head = match (head, other) {
        (Some(d), _) => d,
        (None, Some(b)) => b.finalize(),
        (None, None) => h.clone().finalize().into(),
    };
    Ok((h.finalize().into(), n, head))
}

/// Reads the concatenation of byte ranges of a file.
struct GapReader<'a> {
    file: &'a File,
    ranges: Vec<(u64, u64)>,
    i: usize,
    pos: u64,
}

impl Read for GapReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(&(start, len)) = self.ranges.get(self.i) {
            if self.pos >= len {
                self.i += 1;
                self.pos = 0;
                continue;
            }
            let n = buf.len().min((len - self.pos) as usize);
            read_exact_at(self.file, &mut buf[..n], start + self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}

/// Upper bound on the uncompressed bytes processed in parallel at once (memory bound of add).
const BATCH_BYTES: u64 = 64 << 20;

struct FrameOut {
    rec: FrameRec,
    new_chunks: Vec<(Hash, u32, Vec<u8>)>,
    known: bool,
}

fn process_frame(
    file: &File,
    path: &Path,
    f: &FrameRef,
    gap: u64,
    memo: &Memo,
    has: &(dyn Fn(&Hash) -> bool + Sync),
    max_blob: u64,
) -> Result<FrameOut> {
    let bad = |detail: String| Error::BadArchive {
        path: path.to_path_buf(),
        detail,
    };
    if f.len > max_blob || f.stored_len > max_blob.saturating_add(max_blob / 8 + (1 << 20)) {
        return Err(Error::TooLarge {
            what: "blob",
            len: f.len.max(f.stored_len),
            max: max_blob,
        });
    }
    let mut frame = vec![0u8; f.stored_len as usize];
    read_exact_at(file, &mut frame, f.offset).ctx(path)?;
    let frame_sha256 = sha256(&frame);
    if let Some(body) = memo.known_frames.get(&frame_sha256) {
        let chunks = match body {
            FrameBody::Recompressed { chunks, .. } | FrameBody::Verbatim { chunks } => chunks,
        };
        if chunks.iter().all(has) {
            return Ok(FrameOut {
                rec: FrameRec {
                    gap,
                    frame_len: f.stored_len,
                    frame_sha256,
                    blob_id: f.id,
                    blob_len: f.len,
                    body: body.clone(),
                },
                new_chunks: Vec::new(),
                known: true,
            });
        }
    }
    let blob = zstd::bulk::decompress(&frame, f.len as usize).map_err(|e| {
        bad(format!(
            "blob {} at offset {}: zstd: {e}",
            hex(&f.id),
            f.offset
        ))
    })?;
    if blob.len() as u64 != f.len {
        return Err(bad(format!(
            "blob {} at offset {}: {} bytes, index says {}",
            hex(&f.id),
            f.offset,
            blob.len(),
            f.len
        )));
    }
    let actual = sha256(&blob);
    if actual != f.id {
        return Err(bad(format!(
            "blob {} at offset {} is damaged: content hashes to {}",
            hex(&f.id),
            f.offset,
            hex(&actual)
        )));
    }
    let found = if memo.verbatim_only {
        None
    } else {
        recipe::find(&frame, &blob, &memo.hints)
    };
    let (source, recipe) = match found {
        Some(r) => (&blob[..], Some(r)),
        None => (&frame[..], None),
    };
    let mut ids = Vec::new();
    let mut new_chunks = Vec::new();
    for c in chunker::cut(source) {
        let id = sha256(c);
        if !has(&id)
            && !new_chunks
                .iter()
                .any(|(n, _, _): &(Hash, u32, Vec<u8>)| n == &id)
        {
            new_chunks.push((id, c.len() as u32, compress_chunk(c)?));
        }
        ids.push(id);
    }
    let body = match recipe {
        Some(recipe) => FrameBody::Recompressed {
            recipe,
            chunks: ids,
        },
        None => FrameBody::Verbatim { chunks: ids },
    };
    Ok(FrameOut {
        rec: FrameRec {
            gap,
            frame_len: f.stored_len,
            frame_sha256,
            blob_id: f.id,
            blob_len: f.len,
            body,
        },
        new_chunks,
        known: false,
    })
}

/// Stores a chunk into the sink if new, counting it.
fn put(
    sink: &mut dyn Sink,
    stats: &mut IngestStats,
    id: &Hash,
    raw_len: u32,
    stored: &[u8],
) -> Result<()> {
    if !sink.has(id) {
        sink.put(id, raw_len, stored)?;
        stats.new_chunks += 1;
        stats.new_raw_bytes += u64::from(raw_len);
        stats.new_stored_bytes += stored.len() as u64;
    }
    Ok(())
}

/// Reads `path` into chunks (new ones go to `sink`) and returns the record that re-creates it
/// (with `file_sha256` left zero for the caller to fill).
pub(crate) fn ingest(
    path: &Path,
    facts: ArchiveFacts,
    file_len: u64,
    sink: &mut (dyn Sink + Sync),
    memo: &mut Memo,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(Record, IngestStats)> {
    let bad = |detail: String| Error::BadArchive {
        path: path.to_path_buf(),
        detail,
    };
    let file = File::open(path).ctx(path)?;
    let max_blob = mbxa_format::Limits::default().max_blob_len;
    let mut stats = IngestStats {
        frames: facts.frames.len() as u64,
        ..IngestStats::default()
    };

    // Layout: frames must be disjoint, in bounds; everything else is the raw stream.
    let mut gaps = Vec::with_capacity(facts.frames.len() + 1);
    let mut ranges = Vec::with_capacity(facts.frames.len() + 1);
    let mut pos = 0u64;
    for f in &facts.frames {
        let end = f
            .offset
            .checked_add(f.stored_len)
            .filter(|&e| e <= file_len);
        let Some(end) = end.filter(|_| f.offset >= pos) else {
            return Err(bad(format!(
                "blob {} frame at offset {} overlaps or is out of bounds",
                hex(&f.id),
                f.offset
            )));
        };
        gaps.push(f.offset - pos);
        ranges.push((pos, f.offset - pos));
        pos = end;
    }
    ranges.push((pos, file_len - pos));
    let raw_len: u64 = ranges.iter().map(|r| r.1).sum();

    // The raw stream (tar headers, header, manifest, index, trailer): chunked as one stream.
    let mut raw_chunks = Vec::new();
    let rd = GapReader {
        file: &file,
        ranges,
        i: 0,
        pos: 0,
    };
    for c in fastcdc::v2020::StreamCDC::new(
        rd,
        chunker::MIN_CHUNK,
        chunker::AVG_CHUNK,
        chunker::MAX_CHUNK,
    ) {
        let c = c.map_err(|e| bad(format!("reading the raw stream: {e}")))?;
        let id = sha256(&c.data);
        stats.chunks += 1;
        if !sink.has(&id) {
            let stored = compress_chunk(&c.data)?;
            put(sink, &mut stats, &id, c.data.len() as u32, &stored)?;
        }
        raw_chunks.push(id);
    }
    progress(&Progress {
        done: raw_len,
        total: file_len,
    });

    // Frames, in parallel batches of bounded size, stored in file order.
    let mut frames = Vec::with_capacity(facts.frames.len());
    let mut done = raw_len;
    let mut i = 0;
    while i < facts.frames.len() {
        let mut j = i;
        let mut bytes = 0u64;
        while j < facts.frames.len() && (j == i || bytes + facts.frames[j].len <= BATCH_BYTES) {
            bytes += facts.frames[j].len;
            j += 1;
        }
        let outs: Vec<Result<FrameOut>> = {
            let s: &(dyn Sink + Sync) = &*sink;
            let has = |id: &Hash| s.has(id);
            let memo_ref: &Memo = memo;
            (i..j)
                .into_par_iter()
                .map(|k| {
                    process_frame(
                        &file,
                        path,
                        &facts.frames[k],
                        gaps[k],
                        memo_ref,
                        &has,
                        max_blob,
                    )
                })
                .collect()
        };
        for out in outs {
            let out = out?;
            if out.known {
                stats.frames_known += 1;
            }
            match &out.rec.body {
                FrameBody::Verbatim { chunks } => {
                    stats.frames_verbatim += 1;
                    stats.chunks += chunks.len() as u64;
                }
                FrameBody::Recompressed { recipe, chunks } => {
                    memo.hint(*recipe);
                    stats.chunks += chunks.len() as u64;
                }
            }
            for (id, raw, stored) in &out.new_chunks {
                put(sink, &mut stats, id, *raw, stored)?;
            }
            memo.known_frames
                .entry(out.rec.frame_sha256)
                .or_insert_with(|| out.rec.body.clone());
            done += out.rec.frame_len;
            frames.push(out.rec);
        }
        progress(&Progress {
            done,
            total: file_len,
        });
        i = j;
    }

    let record = Record {
        version: 1,
        archive_id: facts.archive_id,
        file_len,
        // The caller hashes the file concurrently and fills this in.
        file_sha256: [0u8; 32],
        added_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        summary: facts.summary,
        raw_len,
        raw_chunks,
        frames,
    };
    record.check_layout().map_err(bad)?;
    Ok((record, stats))
}
