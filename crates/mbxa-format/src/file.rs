//! [`ArchiveFile`]: atomic creation at a path via `<path>.part`, and resuming an unfinished `.part`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::digest::FileHasher;

use crate::constants::*;
use crate::error::{Error, Result};
use crate::frame::BlobDecoder;
use crate::id::{ArchiveId, BlobId};
use crate::model::Manifest;
use crate::reader::parse_blob_name;
use crate::tarhdr;
use crate::writer::ArchiveWriter;
use crate::IndexEntry;

/// An archive being written at a path. The final name appears only in [`ArchiveFile::finish`].
///
/// Its writer compresses on up to 4 threads (see [`ArchiveWriter::set_threads`]; the bytes do not
/// depend on it); call [`ArchiveFile::sync`] to make everything added so far durable.
#[derive(Debug)]
pub struct ArchiveFile {
    path: PathBuf,
    writer: ArchiveWriter<File>,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::IoPath {
        path: path.to_path_buf(),
        error: source,
    }
}

fn open_part(part: &Path, truncate: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(part).map_err(io_at(part))?;
    // An existing file keeps its old mode on open; mail must not be world-readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_at(part))?;
    }
    Ok(f)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Compression threads of an [`ArchiveFile`]'s writer: the CPUs available, at most 4.
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(1)
}

/// The exact first bytes an archive of major version `major` starts with (header entry).
fn header_bytes(major: u16) -> Result<Vec<u8>> {
    let json = header_json(major).unwrap_or(HEADER_JSON);
    let mut v = tarhdr::build(HEADER_NAME, json.len() as u64)?.to_vec();
    v.extend_from_slice(json);
    v.resize((BLOCK + pad512(json.len() as u64)) as usize, 0);
    Ok(v)
}

impl ArchiveFile {
    /// `<path>.part`.
    pub fn part_path(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(".part");
        PathBuf::from(s)
    }

    /// Starts a fresh `<path>.part` (mode 0600), replacing any existing one.
    ///
    /// # Errors
    /// I/O errors creating the file.
    pub fn create(path: &Path) -> Result<ArchiveFile> {
        let part = Self::part_path(path);
        let f = open_part(&part, true)?;
        let mut writer = ArchiveWriter::new(f)?;
        writer.set_spool_dir(Some(parent_dir(path)));
        writer.set_threads(default_threads())?;
        Ok(ArchiveFile {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// The writer, to add blobs.
    pub fn writer(&mut self) -> &mut ArchiveWriter<File> {
        &mut self.writer
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every blob added so far durable in the `.part` file (flush + fsync), so a later
    /// [`ArchiveFile::resume`] keeps them.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&mut self) -> Result<()> {
        self.writer.flush()?;
        let part = Self::part_path(&self.path);
        self.writer.get_ref().sync_data().map_err(io_at(&part))
    }

    /// Writes manifest, index and trailer, fsyncs, renames `<path>.part` to `<path>` and fsyncs
    /// the directory. Returns the archive id.
    ///
    /// # Errors
    /// As [`ArchiveWriter::finish`]; I/O errors.
    pub fn finish(self, manifest: &Manifest) -> Result<ArchiveId> {
        let part = Self::part_path(&self.path);
        let (f, id) = self.writer.finish(manifest)?;
        f.sync_all().map_err(io_at(&part))?;
        drop(f);
        std::fs::rename(&part, &self.path).map_err(io_at(&self.path))?;
        let dir = parent_dir(&self.path);
        // Directory fsync makes the rename durable; not possible on every platform.
        #[cfg(unix)]
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at(&dir))?;
        Ok(id)
    }

    /// Resumes `<path>.part`: keeps every complete, hash-valid blob entry from the start, truncates
    /// after the last one, and continues appending. Returns the blob ids kept (file order).
    ///
    /// A missing or empty `.part`, or one too short to hold the header entry, starts afresh.
    ///
    /// # Errors
    /// [`Error::NotResumable`] if the file does not start with an mbxa header entry; I/O errors.
    pub fn resume(path: &Path) -> Result<(ArchiveFile, Vec<BlobId>)> {
        let part = Self::part_path(path);
        // Every version's header entry has the same length (92 bytes of JSON).
        let header = header_bytes(VERSION_MAJOR)?;
        let len = match std::fs::metadata(&part) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_at(&part)(e)),
        };
        if len < header.len() as u64 {
            return Ok((Self::create(path)?, Vec::new()));
        }
        let mut f = open_part(&part, false)?;
        let (keep, hasher, entries, major) = scan_part(&mut f, len, &part)?;
        f.set_len(keep).map_err(io_at(&part))?;
        f.seek(SeekFrom::Start(keep)).map_err(io_at(&part))?;
        let ids = entries.iter().map(|e| e.id).collect();
        // A .part begun by an older version is finished in that version.
        let mut writer = ArchiveWriter::from_resumed(f, keep, hasher, entries, major)?;
        writer.set_spool_dir(Some(parent_dir(path)));
        writer.set_threads(default_threads())?;
        Ok((
            ArchiveFile {
                path: path.to_path_buf(),
                writer,
            },
            ids,
        ))
    }
}

/// Scans a `.part`: returns (bytes to keep, hash of those bytes, blobs kept in file order, the
/// major version its header entry names).
fn scan_part(
    f: &mut File,
    len: u64,
    part: &Path,
) -> Result<(u64, FileHasher, Vec<IndexEntry>, u16)> {
    let limits = Limits::default();
    f.seek(SeekFrom::Start(0)).map_err(io_at(part))?;
    let mut br = BufReader::with_capacity(1 << 20, f);
    let mut first = vec![0u8; header_bytes(VERSION_MAJOR)?.len()];
    br.read_exact(&mut first).map_err(io_at(part))?;
    let mut found = None;
    for major in READABLE_MAJORS {
        if header_bytes(major)? == first {
            found = FileHasher::for_major(major).map(|h| (major, h));
        }
    }
    let Some((major, mut hasher)) = found else {
        return Err(Error::NotResumable {
            path: part.to_path_buf(),
            reason: "it does not start with an mbxa header entry".into(),
        });
    };
    hasher.update(&first);
    let mut pos = first.len() as u64;
    let mut kept: Vec<IndexEntry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        // Each attempt works on a clone of the hasher; it is kept only if the entry is whole and valid.
        let mut h = hasher.clone();
        let Some(e) = try_entry(&mut br, &mut h, pos, len, &limits) else {
            break;
        };
        if !seen.insert(e.id) {
            break;
        }
        pos = e.offset + pad512(e.stored_len);
        hasher = h;
        kept.push(e);
    }
    Ok((pos, hasher, kept, major))
}

/// Reads one blob entry at `pos`; `None` if it is incomplete, not a blob, or invalid.
fn try_entry<T: Read>(
    br: &mut T,
    h: &mut FileHasher,
    pos: u64,
    len: u64,
    limits: &Limits,
) -> Option<IndexEntry> {
    struct Tee<'a, T: Read> {
        r: &'a mut T,
        h: &'a mut FileHasher,
    }
    impl<T: Read> Read for Tee<'_, T> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.r.read(buf)?;
            self.h.update(&buf[..n]);
            Ok(n)
        }
    }
    if pos + BLOCK > len {
        return None;
    }
    let mut tee = Tee { r: br, h };
    let mut hb = [0u8; BLOCK as usize];
    tee.read_exact(&mut hb).ok()?;
    let (name, size) = tarhdr::parse(&hb, pos, limits.max_name_len).ok()?;
    let id = parse_blob_name(&name)?;
    let data_at = pos + BLOCK;
    if size == 0 || data_at + pad512(size) > len {
        return None;
    }
    // The frame header declares the blob's length; read it first to bound the decode.
    let mut head = vec![0u8; size.min(18) as usize];
    tee.read_exact(&mut head).ok()?;
    let blen = zstd::zstd_safe::get_frame_content_size(&head).ok()??;
    if blen > limits.max_blob_len {
        return None;
    }
    let rest = (&mut tee).take(size - head.len() as u64);
    let mut dec =
        BlobDecoder::new(io::Cursor::new(head).chain(rest), id, data_at, size, blen).ok()?;
    io::copy(&mut dec, &mut io::sink()).ok()?;
    drop(dec);
    let pad = (pad512(size) - size) as usize;
    let mut p = [0u8; BLOCK as usize];
    tee.read_exact(&mut p[..pad]).ok()?;
    if p[..pad].iter().any(|&b| b != 0) {
        return None;
    }
    Some(IndexEntry {
        id,
        offset: data_at,
        stored_len: size,
        len: blen,
    })
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes blobs still compressing on worker threads, then flushes buffered bytes to the
    /// inner writer.
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush(&mut self) -> Result<()> {
        self.drain_all()?;
        self.sink_mut().flush()?;
        Ok(())
    }
}
