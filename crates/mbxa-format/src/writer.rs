//! The streaming writer: header entry, blob entries as they come, then manifest, index, trailer.
//!
//! Memory holds one index record per blob (for dedup and the index) and bounded buffers; blob
//! bytes are never accumulated.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::constants::*;
use crate::digest::FileHasher;
use crate::error::{Error, Result};
use crate::frame::{CheckedFrame, Compressor, CHUNK};
use crate::id::{ArchiveId, BlobId};
use crate::model::{ItemContent, Manifest};
use crate::pool::Pool;
use crate::tarhdr;
use crate::wire::{self, Trailer};
use crate::IndexEntry;

/// Bytes buffered before a write to the inner writer.
const WRITE_BUF: usize = 1 << 20;
/// Spools (blob input in `add_blob_reader`, compressed frames) stay in memory up to this size.
const SPOOL_MEM: usize = 16 << 20;
/// Larger blobs are compressed on the caller's thread (streaming, without a copy in memory).
const POOL_MAX_BLOB: usize = 8 << 20;

/// Counts, hashes and buffers every byte written to the archive.
pub(crate) struct Sink<W: Write> {
    pub(crate) inner: W,
    buf: Vec<u8>,
    pub(crate) offset: u64,
    pub(crate) hasher: FileHasher,
}

impl<W: Write> Sink<W> {
    pub(crate) fn new(inner: W, offset: u64, hasher: FileHasher) -> Self {
        Sink {
            inner,
            buf: Vec::with_capacity(WRITE_BUF),
            offset,
            hasher,
        }
    }
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.hasher.update(data);
        self.offset += data.len() as u64;
        if self.buf.len() + data.len() > WRITE_BUF {
            self.flush_buf()?;
        }
        if data.len() >= WRITE_BUF {
            self.inner.write_all(data)
        } else {
            self.buf.extend_from_slice(data);
            Ok(())
        }
    }
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    /// Writes bytes that are not covered by the file digest (the tail).
    fn put_unhashed(&mut self, data: &[u8]) -> io::Result<()> {
        self.flush_buf()?;
        self.offset += data.len() as u64;
        self.inner.write_all(data)
    }
    fn padding(&mut self, len: u64) -> io::Result<()> {
        let pad = (pad512(len) - len) as usize;
        self.put(&[0u8; BLOCK as usize][..pad])
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.put(data)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.inner.flush()
    }
}

/// Memory up to a cap, then an anonymous temp file.
enum Spool {
    Mem(Vec<u8>),
    File(std::fs::File, u64),
}

struct SpoolWriter<'a> {
    spool: &'a mut Spool,
    dir: Option<&'a PathBuf>,
}

impl Write for SpoolWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Spool::Mem(v) = self.spool {
            if v.len() + data.len() > SPOOL_MEM {
                let mut f = match self.dir {
                    Some(d) => tempfile::tempfile_in(d)?,
                    None => tempfile::tempfile()?,
                };
                f.write_all(v)?;
                let len = v.len() as u64;
                *self.spool = Spool::File(f, len);
            }
        }
        match self.spool {
            Spool::Mem(v) => v.extend_from_slice(data),
            Spool::File(f, len) => {
                f.write_all(data)?;
                *len += data.len() as u64;
            }
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spool {
    fn len(&self) -> u64 {
        match self {
            Spool::Mem(v) => v.len() as u64,
            Spool::File(_, n) => *n,
        }
    }
    /// Copies the spool's content into `w`.
    fn copy_to(&mut self, w: &mut dyn Write) -> io::Result<()> {
        match self {
            Spool::Mem(v) => w.write_all(v),
            Spool::File(f, n) => {
                f.seek(SeekFrom::Start(0))?;
                let copied = io::copy(&mut f.take(*n), w)?;
                if copied != *n {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "spool file shrank",
                    ));
                }
                Ok(())
            }
        }
    }
    /// Fills `buf` from the spool at `pos` (only used for the input spool).
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Spool::Mem(v) => {
                buf.copy_from_slice(&v[pos as usize..pos as usize + buf.len()]);
                Ok(())
            }
            Spool::File(f, _) => {
                f.seek(SeekFrom::Start(pos))?;
                f.read_exact(buf)
            }
        }
    }
}

/// Where a blob lives in the file being written.
#[derive(Clone, Copy)]
struct Loc {
    offset: u64,
    stored_len: u64,
    len: u64,
}

/// Writes an `.mbxa` archive to any `Write`, streaming (see spec §2 for the entry order).
pub struct ArchiveWriter<W: Write> {
    sink: Sink<W>,
    blobs: HashMap<BlobId, Loc>,
    compressor: Compressor,
    frame: Spool,
    spool_dir: Option<PathBuf>,
    max_blob_len: u64,
    pool: Option<Pool>,
    /// Format major version being written (1 or 2).
    major: u16,
}

impl<W: Write> std::fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("offset", &self.sink.offset)
            .field("blobs", &self.blobs.len())
            .finish()
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive of the default format ([`VERSION_MAJOR`]): writes the header entry
    /// (`mbxa.json`).
    ///
    /// # Errors
    /// I/O errors from `inner`.
    pub fn new(inner: W) -> Result<Self> {
        Self::with_major(inner, VERSION_MAJOR)
    }

    /// Starts an archive of format major version `major` (1: SHA-256 file digest, 2: BLAKE3;
    /// otherwise identical). Writing 1 keeps archives readable by mbxa 0.1.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] for another major; I/O errors from `inner`.
    pub fn with_major(inner: W, major: u16) -> Result<Self> {
        let (Some(hasher), Some(json)) = (FileHasher::for_major(major), header_json(major)) else {
            return Err(Error::UnsupportedVersion {
                major,
                minor: VERSION_MINOR,
            });
        };
        let mut w = Self::from_parts(inner, 0, hasher, HashMap::new(), major)?;
        let h = tarhdr::build(HEADER_NAME, json.len() as u64)?;
        w.sink.put(&h)?;
        w.sink.put(json)?;
        w.sink.padding(json.len() as u64)?;
        Ok(w)
    }

    /// The format major version being written.
    pub fn major(&self) -> u16 {
        self.major
    }

    /// Continues an archive whose first `offset` bytes (hashing to `hasher`'s state) are already
    /// in `inner`, with the given blobs.
    pub(crate) fn from_resumed(
        inner: W,
        offset: u64,
        hasher: FileHasher,
        entries: Vec<IndexEntry>,
        major: u16,
    ) -> Result<Self> {
        let blobs = entries
            .into_iter()
            .map(|e| {
                (
                    e.id,
                    Loc {
                        offset: e.offset,
                        stored_len: e.stored_len,
                        len: e.len,
                    },
                )
            })
            .collect();
        Self::from_parts(inner, offset, hasher, blobs, major)
    }

    fn from_parts(
        inner: W,
        offset: u64,
        hasher: FileHasher,
        blobs: HashMap<BlobId, Loc>,
        major: u16,
    ) -> Result<Self> {
        Ok(ArchiveWriter {
            sink: Sink::new(inner, offset, hasher),
            blobs,
            compressor: Compressor::new()?,
            frame: Spool::Mem(Vec::new()),
            spool_dir: None,
            max_blob_len: Limits::default().max_blob_len,
            pool: None,
            major,
        })
    }

    /// Directory for temporary spool files (default: the system temp dir).
    pub fn set_spool_dir(&mut self, dir: Option<PathBuf>) {
        self.spool_dir = dir;
    }

    /// Largest blob accepted (default 256 MiB, what readers accept by default).
    pub fn set_max_blob_len(&mut self, max: u64) {
        self.max_blob_len = max;
    }

    pub(crate) fn drain_all(&mut self) -> Result<()> {
        self.drain(true)
    }

    pub(crate) fn sink_mut(&mut self) -> &mut Sink<W> {
        &mut self.sink
    }

    /// The inner writer (bytes may still be buffered; see [`ArchiveWriter::flush`]).
    pub fn get_ref(&self) -> &W {
        &self.sink.inner
    }

    /// Compresses blobs on `threads` worker threads (1 = on the caller's thread, the default of
    /// [`ArchiveWriter::new`]). The output bytes are the same for any thread count.
    ///
    /// With more than one thread, `add_blob` returns once the blob is queued; [`offset`],
    /// [`entry`] and the inner writer see it only after it is written (at the latest on
    /// [`ArchiveWriter::flush`] or [`ArchiveWriter::finish`]).
    ///
    /// [`offset`]: ArchiveWriter::offset
    /// [`entry`]: ArchiveWriter::entry
    ///
    /// # Errors
    /// Errors of blobs still in flight; thread creation failures.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        self.drain(true)?;
        self.pool = None;
        if threads > 1 {
            self.pool = Some(Pool::new(threads)?);
        }
        Ok(())
    }

    /// Writes compressed blobs in submission order: all of them if `all`, else those done.
    fn drain(&mut self, all: bool) -> Result<()> {
        loop {
            let Some(pool) = self.pool.as_mut() else {
                return Ok(());
            };
            let Some(d) = pool.next(all)? else {
                return Ok(());
            };
            self.reset_frame();
            self.frame = Spool::Mem(d.frame?);
            self.emit_frame(d.id, d.len)?;
        }
    }

    /// Bytes written so far (blobs still compressing on worker threads are not counted).
    pub fn offset(&self) -> u64 {
        self.sink.offset
    }

    /// Number of distinct blobs written so far.
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// True if a blob with this id is already in the archive.
    pub fn contains(&self, id: &BlobId) -> bool {
        self.blobs.contains_key(id)
            || self
                .pool
                .as_ref()
                .is_some_and(|p| p.pending.contains_key(id))
    }

    /// The index record of a blob already written.
    pub fn entry(&self, id: &BlobId) -> Option<IndexEntry> {
        self.blobs.get(id).map(|l| IndexEntry {
            id: *id,
            offset: l.offset,
            stored_len: l.stored_len,
            len: l.len,
        })
    }

    fn check_len(&self, len: u64) -> Result<()> {
        if len > self.max_blob_len {
            return Err(Error::LimitExceeded {
                what: "blob length",
                value: len,
                limit: self.max_blob_len,
                offset: self.sink.offset,
            });
        }
        Ok(())
    }

    /// Adds a blob held in memory; returns its id. Adding the same bytes twice writes one entry.
    ///
    /// # Errors
    /// I/O errors; [`Error::LimitExceeded`] above the blob size limit.
    pub fn add_blob(&mut self, data: &[u8]) -> Result<BlobId> {
        let id = BlobId::of(data);
        if self.contains(&id) {
            return Ok(id);
        }
        self.check_len(data.len() as u64)?;
        if data.len() <= POOL_MAX_BLOB && self.pool.is_some() {
            self.submit(id, data.to_vec())?;
            return Ok(id);
        }
        self.drain(true)?;
        self.reset_frame();
        {
            let mut sw = SpoolWriter {
                spool: &mut self.frame,
                dir: self.spool_dir.as_ref(),
            };
            self.compressor.compress_slice(data, &mut sw)?;
        }
        self.emit_frame(id, data.len() as u64)?;
        Ok(id)
    }

    /// Adds a blob read from `r` to its end; memory stays bounded (spooled to a temp file when
    /// large). Produces exactly the bytes [`ArchiveWriter::add_blob`] would.
    ///
    /// # Errors
    /// I/O errors from `r` or the spool; [`Error::LimitExceeded`] above the blob size limit.
    pub fn add_blob_reader(&mut self, r: &mut dyn Read) -> Result<BlobId> {
        let mut input = Spool::Mem(Vec::new());
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut len = 0u64;
        {
            let mut sw = SpoolWriter {
                spool: &mut input,
                dir: self.spool_dir.as_ref(),
            };
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                };
                len += n as u64;
                self.check_len(len)?;
                hasher.update(&buf[..n]);
                sw.write_all(&buf[..n])?;
            }
        }
        let id = BlobId(hasher.finalize().into());
        if self.contains(&id) {
            return Ok(id);
        }
        if let Spool::Mem(v) = input {
            if v.len() <= POOL_MAX_BLOB && self.pool.is_some() {
                self.submit(id, v)?;
                return Ok(id);
            }
            input = Spool::Mem(v);
        }
        self.drain(true)?;
        if let Spool::Mem(v) = &input {
            // Same path as add_blob, so both give identical bytes.
            self.reset_frame();
            let mut sw = SpoolWriter {
                spool: &mut self.frame,
                dir: self.spool_dir.as_ref(),
            };
            self.compressor.compress_slice(v, &mut sw)?;
        } else {
            self.reset_frame();
            let mut pos = 0u64;
            let mut sw = SpoolWriter {
                spool: &mut self.frame,
                dir: self.spool_dir.as_ref(),
            };
            let mut feed = |b: &mut [u8]| -> Result<()> {
                input.read_at(pos, b)?;
                pos += b.len() as u64;
                Ok(())
            };
            self.compressor.compress(len, &mut feed, &mut sw)?;
        }
        self.emit_frame(id, len)?;
        Ok(id)
    }

    /// Adds a blob given as its ready-made zstd frame, e.g. one copied from another archive with
    /// [`crate::ArchiveReader::raw_frame`] and checked by [`CheckedFrame::new`]: no
    /// recompression, which makes copying unchanged items into an incremental capture cheap, and
    /// a damaged source never enters the archive. Adding a blob already present writes nothing.
    ///
    /// The archive then holds the source's frame bytes, which may differ from what this writer
    /// would compress (another level or zstd version); any valid frame is allowed (spec §4).
    ///
    /// # Errors
    /// [`Error::LimitExceeded`]; I/O.
    pub fn add_frame(&mut self, checked: CheckedFrame) -> Result<BlobId> {
        let CheckedFrame { id, len, frame } = checked;
        if self.contains(&id) {
            return Ok(id);
        }
        self.check_len(len)?;
        if frame.len() <= POOL_MAX_BLOB {
            if let Some(pool) = self.pool.as_mut() {
                pool.submit_frame(id, len, frame)?;
                self.drain(false)?;
                return Ok(id);
            }
        }
        self.drain(true)?;
        self.reset_frame();
        self.frame = Spool::Mem(frame);
        self.emit_frame(id, len)?;
        Ok(id)
    }

    fn submit(&mut self, id: BlobId, data: Vec<u8>) -> Result<()> {
        if let Some(pool) = self.pool.as_mut() {
            pool.submit(id, data)?;
        }
        self.drain(false)
    }

    fn reset_frame(&mut self) {
        match &mut self.frame {
            Spool::Mem(v) => {
                v.clear();
                // Do not keep a huge buffer around after one big blob.
                if v.capacity() > SPOOL_MEM {
                    *v = Vec::new();
                }
            }
            Spool::File(..) => self.frame = Spool::Mem(Vec::new()),
        }
    }

    /// Test hook, not part of the API: writes `data` as a blob entry *named* `claimed` (which may
    /// be wrong), without dedup. The first location of a name is the one indexed. Used to build the
    /// corrupt fixtures (`blob-name-mismatch`, `duplicate-entry`).
    #[doc(hidden)]
    pub fn __testing_add_blob_named(&mut self, claimed: BlobId, data: &[u8]) -> Result<()> {
        self.drain(true)?;
        self.reset_frame();
        {
            let mut sw = SpoolWriter {
                spool: &mut self.frame,
                dir: self.spool_dir.as_ref(),
            };
            self.compressor.compress_slice(data, &mut sw)?;
        }
        let keep = self.blobs.get(&claimed).copied();
        self.emit_frame(claimed, data.len() as u64)?;
        if let Some(l) = keep {
            self.blobs.insert(claimed, l);
        }
        Ok(())
    }

    /// Test hook, not part of the API: writes an arbitrary entry (e.g. named `../x`), not indexed.
    #[doc(hidden)]
    pub fn __testing_add_raw_entry(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.drain(true)?;
        self.entry_with(name, data)?;
        Ok(())
    }

    /// Writes the tar header, the spooled frame and padding for a new blob.
    fn emit_frame(&mut self, id: BlobId, len: u64) -> Result<()> {
        let stored_len = self.frame.len();
        let name = blob_name(&id);
        let h = tarhdr::build(&name, stored_len)?;
        self.sink.put(&h)?;
        let offset = self.sink.offset;
        self.frame.copy_to(&mut self.sink)?;
        self.sink.padding(stored_len)?;
        self.blobs.insert(
            id,
            Loc {
                offset,
                stored_len,
                len,
            },
        );
        Ok(())
    }

    fn entry_with(&mut self, name: &str, data: &[u8]) -> Result<u64> {
        let h = tarhdr::build(name, data.len() as u64)?;
        self.sink.put(&h)?;
        let off = self.sink.offset;
        self.sink.put(data)?;
        self.sink.padding(data.len() as u64)?;
        Ok(off)
    }

    /// Writes manifest, index and trailer, flushes, and returns the inner writer and the archive id.
    ///
    /// # Errors
    /// [`Error::InvalidManifest`] if an item names a blob not written (or with another length);
    /// I/O errors.
    pub fn finish(mut self, manifest: &Manifest) -> Result<(W, ArchiveId)> {
        self.drain(true)?;
        self.pool = None;
        for item in &manifest.items {
            if let ItemContent::Blob { id, len } = &item.content {
                match self.blobs.get(id) {
                    Some(l) if l.len == *len => {}
                    Some(l) => {
                        return Err(Error::InvalidManifest(format!(
                            "item {:?} says blob {id} has {len} bytes, it has {}",
                            item.id, l.len
                        )))
                    }
                    None => {
                        return Err(Error::InvalidManifest(format!(
                            "item {:?} names blob {id}, which was not added",
                            item.id
                        )))
                    }
                }
            }
        }
        let payload = wire::encode_manifest(manifest)?;
        let archive_id = ArchiveId::of(&payload);
        let mut frame = Vec::new();
        self.compressor.compress_slice(&payload, &mut frame)?;
        let manifest_offset = self.entry_with(MANIFEST_NAME, &frame)?;

        let mut entries: Vec<IndexEntry> = self
            .blobs
            .iter()
            .map(|(id, l)| IndexEntry {
                id: *id,
                offset: l.offset,
                stored_len: l.stored_len,
                len: l.len,
            })
            .collect();
        entries.sort_unstable_by_key(|e| e.id);
        let index = wire::encode_index(&entries);
        let index_offset = self.entry_with(INDEX_NAME, &index)?;

        let trailer_offset = self.sink.offset;
        let hasher = std::mem::replace(
            &mut self.sink.hasher,
            FileHasher::Sha256(Default::default()),
        );
        let file_digest: [u8; 32] = hasher.finalize();
        let trailer = Trailer {
            major: self.major,
            minor: VERSION_MINOR,
            archive_id,
            file_digest,
            trailer_offset,
            manifest_offset,
            manifest_stored_len: frame.len() as u64,
            manifest_len: payload.len() as u64,
            index_offset,
            index_len: index.len() as u64,
            index_digest: Sha256::digest(&index).into(),
            blob_count: entries.len() as u64,
            blob_bytes: entries.iter().map(|e| e.len).sum(),
            blob_stored_bytes: entries.iter().map(|e| e.stored_len).sum(),
        };
        let mut tail = Vec::with_capacity(TAIL_LEN as usize);
        tail.extend_from_slice(&tarhdr::build(TRAILER_NAME, TRAILER_LEN as u64)?);
        tail.extend_from_slice(&trailer.encode());
        tail.resize(TAIL_LEN as usize, 0);
        self.sink.put_unhashed(&tail)?;
        self.sink.flush()?;
        Ok((self.sink.inner, archive_id))
    }
}

/// The entry name of a blob: `blobs/<64 lowercase hex>.zst`.
pub fn blob_name(id: &BlobId) -> String {
    format!("{BLOB_PREFIX}{}{BLOB_SUFFIX}", id.to_hex())
}
