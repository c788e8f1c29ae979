//! Offline, parallel integrity verification of `.mbxa` archives.
//!
//! [`verify_archive`] checks every byte of an archive: the trailer's file digest (SHA-256 in
//! format 1, BLAKE3 in format 2) over everything before it, the header, manifest, index and
//! trailer (via `mbxa-format`'s reader, which checks
//! their digests and exact form), every blob's tar header and padding, and every blob's zstd
//! frame decompressed and hashed against its name. Blobs are checked in parallel on all cores
//! (rayon), each task streaming its frame with positioned reads on a shared file handle through
//! a zstd decoder into SHA-256, so memory does not grow with the archive. The whole-file digest
//! runs concurrently as one more task. With [`Options::deep`], each blob is also parsed as a
//! FastTransfer stream by `mbxa-fasttransfer` (this holds one blob per task in memory).
//!
//! Every manifest reference must resolve (checked at open), no blob may be unreferenced or
//! listed twice. Damage is reported as [`Problem`]s naming the entry, byte offset and
//! expected/actual digest; only an archive that cannot be read at all is an [`Error`].
//!
//! Choice where the spec is silent: an archive whose header entry is unreadable but whose tail
//! carries an mbxa trailer is reported as damaged (a problem), not as "not an archive".

mod error;
mod tarhdr;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mbxa_format::{ArchiveReader, BlobId, IndexEntry, ItemContent};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::{Error, Result};

/// What to check beyond the bytes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also parse every item's FastTransfer stream.
    pub deep: bool,
}

/// Classes of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Header, trailer, index or manifest damaged or inconsistent (the archive could not be
    /// opened past this point).
    Structure,
    /// The file digest of the bytes before the trailer differs from the trailer's.
    FileDigest,
    /// A blob's tar header differs from the fixed form.
    TarHeader,
    /// Non-zero padding after a blob.
    Padding,
    /// A blob's zstd frame does not decode (or has trailing bytes).
    BlobCorrupt,
    /// A blob decodes to bytes whose SHA-256 is not its name.
    BlobDigest,
    /// A blob decodes to a different length than the index says.
    BlobLength,
    /// A blob no manifest item references.
    UnreferencedBlob,
    /// A blob listed twice.
    DuplicateBlob,
    /// An item names a blob the archive does not hold.
    MissingBlob,
    /// An item's FastTransfer stream does not parse (`--deep`).
    ItemParse,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The archive entry (e.g. `blobs/<id>.zst`, `trailer.bin`, `manifest.zst`).
    pub entry: String,
    /// Byte offset in the file.
    pub offset: u64,
    /// Expected value (digest, length), when there is one.
    pub expected: Option<String>,
    /// Actual value, when there is one.
    pub actual: Option<String>,
    /// Human-readable description.
    pub message: String,
}

/// The result of verifying one archive.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The file.
    pub path: PathBuf,
    /// Archive id (hex), when the archive could be opened.
    pub archive_id: Option<String>,
    /// File length.
    pub file_len: u64,
    /// Blobs checked.
    pub blobs: u64,
    /// Uncompressed blob bytes checked.
    pub blob_bytes: u64,
    /// Items whose FastTransfer stream parsed (`--deep`).
    pub items_parsed: u64,
    /// Whether `--deep` was on.
    pub deep: bool,
    /// Everything wrong, in file order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when no problem was found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Progress of one archive (bytes read so far of the bytes to read).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes processed.
    pub done: u64,
    /// Bytes to process (the covered file range plus every blob frame).
    pub total: u64,
}

fn blob_entry(id: &BlobId) -> String {
    mbxa_format::blob_name(id)
}

fn problem(
    kind: ProblemKind,
    entry: impl Into<String>,
    offset: u64,
    message: impl Into<String>,
) -> Problem {
    Problem {
        kind,
        entry: entry.into(),
        offset,
        expected: None,
        actual: None,
        message: message.into(),
    }
}

/// Turns a reader error met while opening into a problem (or `None` when the file is not ours).
fn open_problem(path: &Path, e: mbxa_format::Error) -> std::result::Result<Problem, Error> {
    use mbxa_format::Error as F;
    let msg = e.to_string();
    let p = |kind, entry: &str, offset| Ok(problem(kind, entry, offset, msg.clone()));
    match e {
        e @ (F::Io(_) | F::IoPath { .. }) => Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from(e),
        }),
        F::UnsupportedVersion { major, minor } => Err(Error::Unsupported {
            path: path.to_path_buf(),
            major,
            minor,
        }),
        F::NotMbxa { reason } => {
            if has_trailer_magic(path) {
                p(ProblemKind::Structure, mbxa_format::HEADER_NAME, 0)
            } else {
                Err(Error::NotAnArchive {
                    path: path.to_path_buf(),
                    reason,
                })
            }
        }
        F::Truncated { len } => p(ProblemKind::Structure, mbxa_format::TRAILER_NAME, len),
        F::BadTarHeader { offset, .. } | F::BadEntryName { offset, .. } => {
            p(ProblemKind::TarHeader, "tar header", offset)
        }
        F::BadPadding { offset } => p(ProblemKind::Padding, "padding", offset),
        F::BadTrailer { offset, .. } | F::TrailerDigestMismatch { offset } => {
            p(ProblemKind::Structure, mbxa_format::TRAILER_NAME, offset)
        }
        F::FileDigestMismatch {
            covered,
            expected,
            actual,
            ..
        } => Ok(Problem {
            kind: ProblemKind::FileDigest,
            entry: "(bytes before the trailer)".into(),
            offset: covered,
            expected: Some(expected),
            actual: Some(actual),
            message: msg,
        }),
        F::BadIndex { offset, .. } | F::IndexMismatch { offset, .. } => {
            p(ProblemKind::Structure, mbxa_format::INDEX_NAME, offset)
        }
        F::DuplicateBlob { id, offset } => p(ProblemKind::DuplicateBlob, &blob_entry(&id), offset),
        F::BadManifest { offset, .. } => {
            p(ProblemKind::Structure, mbxa_format::MANIFEST_NAME, offset)
        }
        F::ManifestDigestMismatch { expected, actual } => Ok(Problem {
            kind: ProblemKind::Structure,
            entry: mbxa_format::MANIFEST_NAME.into(),
            offset: 0,
            expected: Some(expected.to_hex()),
            actual: Some(actual.to_hex()),
            message: msg,
        }),
        F::MissingBlob { blob, .. } => p(ProblemKind::MissingBlob, &blob_entry(&blob), 0),
        F::LimitExceeded { offset, .. } => p(ProblemKind::Structure, "limits", offset),
        _ => p(ProblemKind::Structure, "archive", 0),
    }
}

/// Whether the file's tail holds the mbxa trailer magic where a trailer would be.
fn has_trailer_magic(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    // Tail: trailer tar header (512), trailer data (starts with the magic), padding, 2 zero blocks.
    if len < 2048 {
        return false;
    }
    let mut m = [0u8; 8];
    read_exact_at(&f, &mut m, len - 2048 + 512).is_ok() && &m == b"MBXATRLR"
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off)
}

#[cfg(not(unix))]
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = f.try_clone()?;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(buf)
}

/// A `Read` over `[pos, end)` of a shared file, with positioned reads (no shared cursor).
struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.end - self.pos) as usize;
        if n == 0 {
            return Ok(0);
        }
        read_exact_at(self.file, &mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Frames up to this size are read whole into a per-thread buffer; larger ones are streamed.
const SMALL_FRAME: u64 = 4 << 20;
/// Largest content decoded in one piece into a per-thread buffer.
const BULK_MAX: u64 = 16 << 20;

/// Per-thread buffers and decompression context reused across blobs (no per-blob allocation).
#[derive(Default)]
struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
    dctx: Option<zstd::bulk::Decompressor<'static>>,
}

/// One-shot decode of `scratch.input` into `scratch.output` with the thread's reused context,
/// for the common case: exactly one frame filling the input and declaring a content size equal
/// to the index's length. `None` when that is not the case (the caller then streams, which
/// reports the precise problem); `Some(Ok(n))` bytes decoded.
fn decode_whole(scratch: &mut Scratch, len: u64) -> Option<std::result::Result<usize, String>> {
    use zstd::zstd_safe;
    let input = &scratch.input[..];
    let frame_len = zstd_safe::find_frame_compressed_size(input).ok()?;
    if frame_len != input.len() {
        return None;
    }
    let size = zstd_safe::get_frame_content_size(input).ok()??;
    // Bounded: larger (or lying) sizes stream in 128 KiB pieces instead of being allocated.
    if size != len || size > BULK_MAX {
        return None;
    }
    let dctx = match scratch.dctx.as_mut() {
        Some(d) => d,
        None => scratch.dctx.insert(zstd::bulk::Decompressor::new().ok()?),
    };
    let size = size as usize;
    if scratch.output.len() < size {
        scratch.output.resize(size, 0); // grows only: no zero-filling per blob
    }
    Some(
        dctx.decompress_to_buffer(input, &mut scratch.output[..size])
            .map_err(|e| e.to_string()),
    )
}

/// Decodes exactly one zstd frame from `src` into `sink`; `left` says how many input bytes
/// remain after the frame (must be none).
fn decode_frame<B: std::io::BufRead>(
    src: B,
    out: &mut Vec<u8>,
    sink: &mut dyn FnMut(&[u8]) -> std::result::Result<(), String>,
    left: impl Fn(&B) -> u64,
) -> std::result::Result<(), String> {
    let mut dec = zstd::stream::read::Decoder::with_buffer(src)
        .map_err(|e| e.to_string())?
        .single_frame();
    out.resize(128 * 1024, 0);
    loop {
        let n = dec.read(out).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        sink(&out[..n])?;
    }
    let src = dec.finish();
    match left(&src) {
        0 => Ok(()),
        n => Err(format!("{n} bytes after the end of the zstd frame")),
    }
}

/// Checks one blob: tar header, frame (streamed: decode + hash), padding; optionally parses it.
fn check_blob(
    scratch: &mut Scratch,
    file: &File,
    e: &IndexEntry,
    deep: bool,
    items: &HashMap<BlobId, Vec<&str>>,
    parsed: &AtomicU64,
) -> Vec<Problem> {
    let name = blob_entry(&e.id);
    let mut out = Vec::new();
    // 1. Tar header, byte for byte.
    let hoff = e.offset.saturating_sub(512);
    let mut h = [0u8; 512];
    if let Err(err) = read_exact_at(file, &mut h, hoff) {
        out.push(problem(
            ProblemKind::TarHeader,
            &name,
            hoff,
            format!("cannot read header: {err}"),
        ));
        return out;
    }
    let expected = tarhdr::build(&name, e.stored_len);
    if h != expected {
        out.push(problem(
            ProblemKind::TarHeader,
            &name,
            hoff,
            format!(
                "tar header field `{}` differs from the fixed mbxa form",
                tarhdr::first_difference(&expected, &h)
            ),
        ));
    }
    // 2. The frame: one zstd frame exactly filling stored_len, decoding to len bytes named id.
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    let mut keep: Option<Vec<u8>> = deep.then(|| Vec::with_capacity(e.len.min(64 << 20) as usize));
    let mut sink = |buf: &[u8]| -> std::result::Result<(), String> {
        count += buf.len() as u64;
        if count > e.len {
            return Err(format!(
                "decodes to more than the {} bytes the index says",
                e.len
            ));
        }
        hasher.update(buf);
        if let Some(k) = keep.as_mut() {
            k.extend_from_slice(buf);
        }
        Ok(())
    };
    let decoded = if e.stored_len <= SMALL_FRAME {
        // Small frames (most mail): one positioned read into the thread's buffer.
        scratch.input.resize(e.stored_len as usize, 0);
        match read_exact_at(file, &mut scratch.input, e.offset) {
            Ok(()) => match decode_whole(scratch, e.len) {
                Some(Ok(n)) => sink(&scratch.output[..n]),
                Some(Err(msg)) => Err(msg),
                // Not a single frame declaring its size: the streaming decoder says what is wrong.
                None => decode_frame(
                    &scratch.input[..],
                    &mut scratch.output,
                    &mut sink,
                    |rest: &&[u8]| rest.len() as u64,
                ),
            },
            Err(err) => Err(format!("cannot read the frame: {err}")),
        }
    } else {
        let range = RangeReader {
            file,
            pos: e.offset,
            end: e.offset + e.stored_len,
        };
        let br = BufReader::with_capacity(1 << 20, range);
        decode_frame(
            br,
            &mut scratch.output,
            &mut sink,
            |br: &BufReader<RangeReader<'_>>| {
                br.buffer().len() as u64 + (br.get_ref().end - br.get_ref().pos)
            },
        )
    };
    match decoded {
        Err(msg) => out.push(problem(
            ProblemKind::BlobCorrupt,
            &name,
            e.offset,
            format!("blob {} at offset {}: {msg}", e.id, e.offset),
        )),
        Ok(()) => {
            let actual = BlobId(hasher.finalize().into());
            if count != e.len {
                out.push(Problem {
                    kind: ProblemKind::BlobLength,
                    entry: name.clone(),
                    offset: e.offset,
                    expected: Some(e.len.to_string()),
                    actual: Some(count.to_string()),
                    message: format!(
                        "blob {} at offset {}: {count} bytes, index says {}",
                        e.id, e.offset, e.len
                    ),
                });
            } else if actual != e.id {
                out.push(Problem {
                    kind: ProblemKind::BlobDigest,
                    entry: name.clone(),
                    offset: e.offset,
                    expected: Some(e.id.to_hex()),
                    actual: Some(actual.to_hex()),
                    message: format!(
                        "blob at offset {} is damaged: content hashes to {actual}",
                        e.offset
                    ),
                });
            } else if let Some(bytes) = keep {
                if let Err(err) = mbxa_fasttransfer::parse(&bytes) {
                    let who = items.get(&e.id).map(|v| v.join(", ")).unwrap_or_default();
                    out.push(problem(
                        ProblemKind::ItemParse,
                        &name,
                        e.offset,
                        format!("item(s) {who}: FastTransfer stream does not parse: {err}"),
                    ));
                } else {
                    parsed.fetch_add(
                        items.get(&e.id).map_or(0, |v| v.len() as u64),
                        Ordering::Relaxed,
                    );
                }
            }
        }
    }
    // 3. Padding to the next 512-byte block is zero.
    let end = e.offset + e.stored_len;
    let pad = (end.div_ceil(512) * 512 - end) as usize;
    let mut p = [0u8; 512];
    match read_exact_at(file, &mut p[..pad], end) {
        Ok(()) => {
            if let Some(i) = p[..pad].iter().position(|&b| b != 0) {
                out.push(problem(
                    ProblemKind::Padding,
                    &name,
                    end + i as u64,
                    "non-zero padding after the blob",
                ));
            }
        }
        Err(err) => out.push(problem(
            ProblemKind::Padding,
            &name,
            end,
            format!("cannot read padding: {err}"),
        )),
    }
    out
}

/// The file digest of `[0, len)` of the file, streamed, reporting bytes as they go.
fn digest_prefix(
    path: &Path,
    len: u64,
    mut h: mbxa_format::FileHasher,
    done: &AtomicU64,
    tick: &(dyn Fn(u64) + Sync),
) -> std::io::Result<([u8; 32], u64)> {
    let f = File::open(path)?;
    let mut r = BufReader::with_capacity(1 << 20, f).take(len);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
        tick(done.fetch_add(k as u64, Ordering::Relaxed) + k as u64);
    }
    Ok((h.finalize(), n))
}

/// Verifies one archive. `Err` only when it cannot be read at all; damage is in the report.
pub fn verify_archive(
    path: &Path,
    opts: &Options,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Report> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut report = Report {
        path: path.to_path_buf(),
        archive_id: None,
        file_len,
        blobs: 0,
        blob_bytes: 0,
        items_parsed: 0,
        deep: opts.deep,
        problems: Vec::new(),
    };
    let reader = match ArchiveReader::open_path(path) {
        Ok(r) => r,
        Err(e) => {
            report.problems.push(open_problem(path, e)?);
            return Ok(report);
        }
    };
    report.archive_id = Some(reader.archive_id().to_hex());
    let entries = reader.entries_in_file_order();
    report.blobs = entries.len() as u64;
    report.blob_bytes = entries.iter().map(|e| e.len).sum();

    // References: every item's blob resolves (the reader checked); every blob is referenced once.
    let mut items: HashMap<BlobId, Vec<&str>> = HashMap::new();
    for it in &reader.manifest().items {
        if let ItemContent::Blob { id, .. } = &it.content {
            items.entry(*id).or_default().push(it.id.as_str());
        }
    }
    let mut seen = HashSet::new();
    for e in &entries {
        if !seen.insert(e.id) {
            report.problems.push(problem(
                ProblemKind::DuplicateBlob,
                blob_entry(&e.id),
                e.offset,
                format!("blob {} is listed twice", e.id),
            ));
        }
        if !items.contains_key(&e.id) {
            report.problems.push(problem(
                ProblemKind::UnreferencedBlob,
                blob_entry(&e.id),
                e.offset,
                format!("blob {} is not referenced by any item", e.id),
            ));
        }
    }

    // Layout: the blob entries must tile the region between the header entry and the manifest
    // entry exactly, so no entry hides outside the index (a second copy, a stray name).
    report
        .problems
        .extend(check_layout(&file, &reader, &entries));

    let covered = reader.trailer_offset();
    let claimed = reader.file_digest();
    let hasher = reader.file_hasher();
    let algorithm = hasher.algorithm();
    let total = covered + entries.iter().map(|e| e.stored_len).sum::<u64>();
    let done = AtomicU64::new(0);
    let tick = |d: u64| progress(&Progress { done: d, total });
    let parsed = AtomicU64::new(0);
    let (digest, mut blob_problems) = rayon::join(
        || digest_prefix(path, covered, hasher, &done, &tick),
        || {
            entries
                .par_iter()
                .map_init(Scratch::default, |scratch, e| {
                    let p = check_blob(scratch, &file, e, opts.deep, &items, &parsed);
                    tick(done.fetch_add(e.stored_len, Ordering::Relaxed) + e.stored_len);
                    p
                })
                .flatten_iter()
                .collect::<Vec<Problem>>()
        },
    );
    match digest {
        Ok((actual, n)) if n == covered => {
            if actual != claimed {
                report.problems.push(Problem {
                    kind: ProblemKind::FileDigest,
                    entry: "(bytes before the trailer)".into(),
                    offset: covered,
                    expected: Some(hex(&claimed)),
                    actual: Some(hex(&actual)),
                    message: format!(
                        "{algorithm} of bytes 0..{covered} differs from the trailer's"
                    ),
                });
            }
        }
        Ok((_, n)) => report.problems.push(problem(
            ProblemKind::Structure,
            "file",
            n,
            "file shorter than the trailer says",
        )),
        Err(e) => return Err(io(e)),
    }
    report.problems.append(&mut blob_problems);
    report.problems.sort_by_key(|p| p.offset);
    report.items_parsed = parsed.load(Ordering::Relaxed);
    Ok(report)
}

fn pad512(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Finds bytes between the header entry and the manifest entry that no index entry accounts for.
fn check_layout<R: Read + std::io::Seek>(
    file: &File,
    reader: &ArchiveReader<R>,
    entries: &[IndexEntry],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut h = [0u8; 512];
    if read_exact_at(file, &mut h, 0).is_err() {
        return out;
    }
    let header_len = octal(&h[124..135]);
    let start = 512 + pad512(header_len);
    // spec/mbxa-v1.md: index data = 16-byte header + 56 bytes per blob; manifest entry before it.
    let index_len = 16 + 56 * entries.len() as u64;
    let index_hdr = reader
        .trailer_offset()
        .saturating_sub(pad512(index_len) + 512);
    let end = index_hdr.saturating_sub(pad512(reader.totals().manifest_stored_len) + 512);
    let mut pos = start;
    let names: HashSet<String> = entries.iter().map(|e| blob_entry(&e.id)).collect();
    let stray = |at: u64, out: &mut Vec<Problem>| {
        let mut b = [0u8; 512];
        let name = if read_exact_at(file, &mut b, at).is_ok() {
            let n = b[..100].iter().position(|&c| c == 0).unwrap_or(100);
            String::from_utf8_lossy(&b[..n]).into_owned()
        } else {
            String::new()
        };
        let kind = if names.contains(&name) {
            ProblemKind::DuplicateBlob
        } else {
            ProblemKind::Structure
        };
        out.push(problem(
            kind,
            name.clone(),
            at,
            format!("entry {name:?} at offset {at} is not in the index"),
        ));
    };
    for e in entries {
        let hdr = e.offset.saturating_sub(512);
        if hdr != pos {
            if hdr > pos {
                stray(pos, &mut out);
            } else {
                out.push(problem(
                    ProblemKind::Structure,
                    blob_entry(&e.id),
                    e.offset,
                    "index entries overlap",
                ));
            }
        }
        pos = pos.max(e.offset + pad512(e.stored_len));
    }
    if pos < end {
        stray(pos, &mut out);
    }
    out
}

fn octal(b: &[u8]) -> u64 {
    b.iter()
        .filter(|c| (b'0'..=b'7').contains(c))
        .fold(0u64, |a, &c| {
            a.saturating_mul(8).saturating_add(u64::from(c - b'0'))
        })
}

fn hex(b: &[u8; 32]) -> String {
    BlobId(*b).to_hex()
}
