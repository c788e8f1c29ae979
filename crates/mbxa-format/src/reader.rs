//! The random-access reader: trailer → index → manifest at open; blobs by digest; full checks.

use std::collections::HashSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::constants::*;
use crate::digest::FileHasher;
use crate::error::{Error, Result};
use crate::frame::{decompress_bounded, BlobDecoder};
use crate::id::{parse_hex32, ArchiveId, BlobId};
use crate::model::{ItemContent, Manifest};
use crate::tarhdr;
use crate::wire::{self, HeaderJson, Trailer};

/// One blob's place in the file (spec §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct IndexEntry {
    /// The blob's id.
    pub id: BlobId,
    /// Offset of the blob's zstd frame (the entry's data) in the file.
    pub offset: u64,
    /// Length of the stored frame.
    pub stored_len: u64,
    /// Length of the uncompressed blob.
    pub len: u64,
}

/// Totals recorded in the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Distinct blobs.
    pub blob_count: u64,
    /// Sum of uncompressed blob lengths.
    pub blob_bytes: u64,
    /// Sum of stored frame lengths.
    pub blob_stored_bytes: u64,
    /// Uncompressed manifest length.
    pub manifest_len: u64,
    /// Stored manifest length.
    pub manifest_stored_len: u64,
    /// Length of the whole file.
    pub file_len: u64,
}

/// Reads an `.mbxa` archive from any `Read + Seek`.
pub struct ArchiveReader<R: Read + Seek> {
    r: R,
    limits: Limits,
    file_len: u64,
    trailer: Trailer,
    index: Vec<IndexEntry>,
    manifest: Manifest,
}

impl<R: Read + Seek> std::fmt::Debug for ArchiveReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("archive_id", &self.trailer.archive_id)
            .field("blobs", &self.index.len())
            .field("items", &self.manifest.items.len())
            .finish()
    }
}

fn read_at<R: Read + Seek>(r: &mut R, offset: u64, buf: &mut [u8]) -> Result<()> {
    r.seek(SeekFrom::Start(offset))?;
    r.read_exact(buf)?;
    Ok(())
}

fn check_zero(buf: &[u8], offset: u64) -> Result<()> {
    match buf.iter().position(|&b| b != 0) {
        Some(p) => Err(Error::BadPadding {
            offset: offset + p as u64,
        }),
        None => Ok(()),
    }
}

/// Reads the tar header at `offset`, requires `name` and returns its size.
fn expect_entry<R: Read + Seek>(
    r: &mut R,
    offset: u64,
    name: &str,
    limits: &Limits,
) -> Result<u64> {
    let mut h = [0u8; BLOCK as usize];
    read_at(r, offset, &mut h)?;
    let (found, size) = tarhdr::parse(&h, offset, limits.max_name_len.max(name.len()))?;
    if found != name {
        return Err(Error::BadEntryName {
            offset,
            name: found,
        });
    }
    Ok(size)
}

/// Parses a blob entry name into its id.
pub(crate) fn parse_blob_name(name: &str) -> Option<BlobId> {
    let hex = name.strip_prefix(BLOB_PREFIX)?.strip_suffix(BLOB_SUFFIX)?;
    parse_hex32(hex).map(BlobId)
}

impl ArchiveReader<std::fs::File> {
    /// Opens the archive at `p`.
    ///
    /// # Errors
    /// As [`ArchiveReader::open`], plus [`Error::IoPath`] if the file cannot be opened.
    pub fn open_path(p: &Path) -> Result<Self> {
        let f = std::fs::File::open(p).map_err(|source| Error::IoPath {
            path: p.to_path_buf(),
            error: source,
        })?;
        Self::open(f)
    }
}

impl<R: Read + Seek> ArchiveReader<R> {
    /// Opens an archive with the default [`Limits`].
    ///
    /// # Errors
    /// Any structural problem in the header, trailer, index or manifest (see [`Error`]).
    pub fn open(r: R) -> Result<Self> {
        Self::open_with_limits(r, Limits::default())
    }

    /// Opens an archive: checks the header entry, the tail (trailer header, trailer, end blocks),
    /// then reads and checks the index and the manifest. Blob data is not read.
    ///
    /// # Errors
    /// Any structural problem in the header, trailer, index or manifest (see [`Error`]).
    pub fn open_with_limits(mut r: R, limits: Limits) -> Result<Self> {
        let file_len = r.seek(SeekFrom::End(0))?;
        // 1. Header entry.
        if file_len < 2 * BLOCK {
            return Err(Error::NotMbxa {
                reason: format!("file is only {file_len} bytes"),
            });
        }
        let mut h = [0u8; BLOCK as usize];
        read_at(&mut r, 0, &mut h)?;
        let (name, size) = tarhdr::parse(&h, 0, 100).map_err(|e| Error::NotMbxa {
            reason: e.to_string(),
        })?;
        if name != HEADER_NAME {
            return Err(Error::NotMbxa {
                reason: format!("first entry is {name:?}, not {HEADER_NAME:?}"),
            });
        }
        if size > MAX_HEADER_LEN || BLOCK + pad512(size) > file_len {
            return Err(Error::NotMbxa {
                reason: format!("header entry of {size} bytes"),
            });
        }
        let mut hj = vec![0u8; pad512(size) as usize];
        read_at(&mut r, BLOCK, &mut hj)?;
        check_zero(&hj[size as usize..], BLOCK + size)?;
        let header: HeaderJson =
            serde_json::from_slice(&hj[..size as usize]).map_err(|e| Error::NotMbxa {
                reason: format!("header entry is not mbxa JSON: {e}"),
            })?;
        if header.format != FORMAT_NAME {
            return Err(Error::NotMbxa {
                reason: format!("header names format {:?}", header.format),
            });
        }
        if !READABLE_MAJORS.contains(&header.major) {
            return Err(Error::UnsupportedVersion {
                major: header.major,
                minor: header.minor,
            });
        }
        let first_entry = BLOCK + pad512(size);

        // 2. Tail: trailer header, trailer data, zero padding, two zero blocks.
        if file_len < first_entry + TAIL_LEN + 4 * BLOCK || file_len % BLOCK != 0 {
            return Err(Error::Truncated { len: file_len });
        }
        let tail_at = file_len - TAIL_LEN;
        let mut tail = vec![0u8; TAIL_LEN as usize];
        read_at(&mut r, tail_at, &mut tail)?;
        let expected_hdr = tarhdr::build(TRAILER_NAME, TRAILER_LEN as u64)?;
        if tail[..BLOCK as usize] != expected_hdr {
            // Tell a cut-short file from a damaged trailer header: a truncated or unfinished file
            // has no trailer magic where the trailer data should be.
            if tail[BLOCK as usize..BLOCK as usize + 8] != TRAILER_MAGIC[..] {
                return Err(Error::Truncated { len: file_len });
            }
            let mut hb = [0u8; BLOCK as usize];
            hb.copy_from_slice(&tail[..BLOCK as usize]);
            return Err(match tarhdr::parse(&hb, tail_at, limits.max_name_len) {
                Ok((name, _)) => Error::BadEntryName {
                    offset: tail_at,
                    name,
                },
                Err(e) => e,
            });
        }
        let data_at = tail_at + BLOCK;
        let mut tb = [0u8; TRAILER_LEN];
        tb.copy_from_slice(&tail[BLOCK as usize..BLOCK as usize + TRAILER_LEN]);
        if tb[..8] != TRAILER_MAGIC[..] {
            return Err(Error::Truncated { len: file_len });
        }
        let trailer = Trailer::decode(&tb, data_at)?;
        if trailer.major != header.major {
            return Err(Error::BadTrailer {
                offset: data_at,
                reason: format!(
                    "trailer says major version {}, the header {}",
                    trailer.major, header.major
                ),
            });
        }
        check_zero(
            &tail[BLOCK as usize + TRAILER_LEN..],
            data_at + TRAILER_LEN as u64,
        )?;
        let bad = |reason: &str| Error::BadTrailer {
            offset: data_at,
            reason: reason.to_string(),
        };
        if trailer.minor != header.minor {
            return Err(bad("trailer and header disagree on the minor version"));
        }
        if trailer.trailer_offset != tail_at {
            return Err(bad("trailer offset does not match the file length"));
        }

        // 3. Index entry: directly before the trailer.
        let t = &trailer;
        if t.index_len > INDEX_HEADER_LEN + limits.max_entries.saturating_mul(INDEX_RECORD_LEN) {
            return Err(Error::LimitExceeded {
                what: "index length",
                value: t.index_len,
                limit: INDEX_HEADER_LEN + limits.max_entries.saturating_mul(INDEX_RECORD_LEN),
                offset: data_at,
            });
        }
        if t.index_offset.checked_add(pad512(t.index_len)) != Some(tail_at)
            || t.index_offset < first_entry + BLOCK
        {
            return Err(bad("index does not end where the trailer starts"));
        }
        if expect_entry(&mut r, t.index_offset - BLOCK, INDEX_NAME, &limits)? != t.index_len {
            return Err(bad("index entry size differs from the trailer's"));
        }
        // 4. Manifest entry: directly before the index entry.
        if t.manifest_stored_len > limits.max_manifest_len
            || t.manifest_len > limits.max_manifest_len
        {
            return Err(Error::LimitExceeded {
                what: "manifest length",
                value: t.manifest_stored_len.max(t.manifest_len),
                limit: limits.max_manifest_len,
                offset: data_at,
            });
        }
        if t.manifest_offset
            .checked_add(pad512(t.manifest_stored_len) + BLOCK)
            != Some(t.index_offset)
            || t.manifest_offset < first_entry + BLOCK
        {
            return Err(bad("manifest does not end where the index entry starts"));
        }
        if expect_entry(&mut r, t.manifest_offset - BLOCK, MANIFEST_NAME, &limits)?
            != t.manifest_stored_len
        {
            return Err(bad("manifest entry size differs from the trailer's"));
        }

        let mut index_bytes = vec![0u8; pad512(t.index_len) as usize];
        read_at(&mut r, t.index_offset, &mut index_bytes)?;
        check_zero(
            &index_bytes[t.index_len as usize..],
            t.index_offset + t.index_len,
        )?;
        index_bytes.truncate(t.index_len as usize);
        let d: [u8; 32] = Sha256::digest(&index_bytes).into();
        if d != t.index_digest {
            return Err(Error::BadIndex {
                offset: t.index_offset,
                reason: "index digest differs from the trailer's".into(),
            });
        }
        let blob_end = t.manifest_offset - BLOCK;
        let index = wire::decode_index(&index_bytes, t.index_offset, blob_end, &limits)?;
        drop(index_bytes);
        let sum =
            |f: fn(&IndexEntry) -> u64| index.iter().try_fold(0u64, |a, e| a.checked_add(f(e)));
        if index.len() as u64 != t.blob_count
            || sum(|e| e.len) != Some(t.blob_bytes)
            || sum(|e| e.stored_len) != Some(t.blob_stored_bytes)
        {
            return Err(bad("blob totals differ from the index"));
        }

        let mut mbytes = vec![0u8; pad512(t.manifest_stored_len) as usize];
        read_at(&mut r, t.manifest_offset, &mut mbytes)?;
        check_zero(
            &mbytes[t.manifest_stored_len as usize..],
            t.manifest_offset + t.manifest_stored_len,
        )?;
        mbytes.truncate(t.manifest_stored_len as usize);
        let payload =
            decompress_bounded(&mbytes, t.manifest_len).map_err(|reason| Error::BadManifest {
                offset: t.manifest_offset,
                reason,
            })?;
        drop(mbytes);
        if payload.len() as u64 != t.manifest_len {
            return Err(Error::BadManifest {
                offset: t.manifest_offset,
                reason: "manifest length differs from the trailer's".into(),
            });
        }
        let actual = ArchiveId::of(&payload);
        if actual != t.archive_id {
            return Err(Error::ManifestDigestMismatch {
                expected: t.archive_id,
                actual,
            });
        }
        let manifest = wire::decode_manifest(&payload, &limits, t.manifest_offset)?;
        drop(payload);

        let reader = ArchiveReader {
            r,
            limits,
            file_len,
            trailer,
            index,
            manifest,
        };
        for item in &reader.manifest.items {
            if let ItemContent::Blob { id, len } = &item.content {
                match reader.lookup(id) {
                    Some(e) if e.len == *len => {}
                    Some(e) => {
                        return Err(Error::MissingBlob {
                            item_id: item.id.clone(),
                            blob: *id,
                            reason: format!("{} bytes long, not {len}", e.len),
                        })
                    }
                    None => {
                        return Err(Error::MissingBlob {
                            item_id: item.id.clone(),
                            blob: *id,
                            reason: "not in the archive".into(),
                        })
                    }
                }
            }
        }
        Ok(reader)
    }

    /// The archive id (SHA-256 of the uncompressed manifest).
    pub fn archive_id(&self) -> ArchiveId {
        self.trailer.archive_id
    }

    /// Format version (major, minor).
    pub fn version(&self) -> (u16, u16) {
        (self.trailer.major, self.trailer.minor)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The index, sorted by blob id.
    pub fn index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Totals from the trailer.
    pub fn totals(&self) -> Totals {
        let t = &self.trailer;
        Totals {
            blob_count: t.blob_count,
            blob_bytes: t.blob_bytes,
            blob_stored_bytes: t.blob_stored_bytes,
            manifest_len: t.manifest_len,
            manifest_stored_len: t.manifest_stored_len,
            file_len: self.file_len,
        }
    }

    /// The limits this reader enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The index record of a blob.
    pub fn lookup(&self, id: &BlobId) -> Option<&IndexEntry> {
        self.index
            .binary_search_by(|e| e.id.cmp(id))
            .ok()
            .map(|i| &self.index[i])
    }

    /// Index records in file order (by offset).
    pub fn entries_in_file_order(&self) -> Vec<IndexEntry> {
        let mut v = self.index.clone();
        v.sort_unstable_by_key(|e| e.offset);
        v
    }

    fn entry_or_err(&self, id: &BlobId) -> Result<IndexEntry> {
        self.lookup(id)
            .copied()
            .ok_or(Error::BlobNotFound { id: *id })
    }

    /// Checks the blob's tar header (name and size) and positions the reader at its frame.
    fn seek_blob(&mut self, e: &IndexEntry) -> Result<()> {
        let hoff = e.offset - BLOCK;
        let mut h = [0u8; BLOCK as usize];
        read_at(&mut self.r, hoff, &mut h)?;
        let (name, size) = tarhdr::parse(&h, hoff, self.limits.max_name_len)?;
        if parse_blob_name(&name) != Some(e.id) {
            return Err(Error::IndexMismatch {
                offset: hoff,
                reason: format!("entry is {name:?}, index says blob {}", e.id),
            });
        }
        if size != e.stored_len {
            return Err(Error::IndexMismatch {
                offset: hoff,
                reason: format!("entry has {size} bytes, index says {}", e.stored_len),
            });
        }
        Ok(())
    }

    /// Reads a whole blob, checking its length and SHA-256.
    ///
    /// # Errors
    /// [`Error::BlobNotFound`], [`Error::BlobCorrupt`], [`Error::BlobDigestMismatch`], ….
    pub fn read_blob(&mut self, id: &BlobId) -> Result<Vec<u8>> {
        let e = self.entry_or_err(id)?;
        // Cap the up-front allocation: `len` is bounded by limits but may still be a lie.
        let mut out = Vec::with_capacity(e.len.min(16 << 20) as usize);
        let mut rd = self.blob_reader(id)?;
        rd.read_to_end(&mut out).map_err(Error::from_io)?;
        Ok(out)
    }

    /// Streams a blob; the reader returns an error instead of EOF if the length or hash is wrong.
    ///
    /// # Errors
    /// [`Error::BlobNotFound`]; tar header problems. Data errors surface from `read`.
    pub fn blob_reader(&mut self, id: &BlobId) -> Result<Box<dyn Read + '_>> {
        let e = self.entry_or_err(id)?;
        self.seek_blob(&e)?;
        let src = (&mut self.r).take(e.stored_len);
        Ok(Box::new(BlobDecoder::new(
            src,
            e.id,
            e.offset,
            e.stored_len,
            e.len,
        )?))
    }

    /// Reads a blob and discards it, checking length and hash.
    ///
    /// # Errors
    /// As [`ArchiveReader::read_blob`].
    pub fn check_blob(&mut self, id: &BlobId) -> Result<()> {
        let mut rd = self.blob_reader(id)?;
        io::copy(&mut rd, &mut io::sink()).map_err(Error::from_io)?;
        Ok(())
    }

    /// The stored zstd frame of a blob, as in the file (not decoded, not checked).
    ///
    /// # Errors
    /// [`Error::BlobNotFound`]; I/O.
    pub fn raw_frame(&mut self, id: &BlobId) -> Result<Vec<u8>> {
        let e = self.entry_or_err(id)?;
        self.seek_blob(&e)?;
        let mut v = vec![0u8; e.stored_len as usize];
        self.r.read_exact(&mut v)?;
        Ok(v)
    }

    /// The trailer's file digest of every byte before the trailer entry (SHA-256 in format 1,
    /// BLAKE3 in format 2: see [`ArchiveReader::file_hasher`]).
    pub fn file_digest(&self) -> [u8; 32] {
        self.trailer.file_digest
    }

    /// End of the range the file digest covers (offset of the trailer's tar header).
    pub fn trailer_offset(&self) -> u64 {
        self.trailer.trailer_offset
    }

    /// Hashes bytes `0..trailer_offset` and compares with the trailer.
    ///
    /// # Errors
    /// [`Error::FileDigestMismatch`]; I/O.
    pub fn verify_file_digest(&mut self) -> Result<()> {
        self.r.seek(SeekFrom::Start(0))?;
        let mut h = self.file_hasher();
        let mut src =
            BufReader::with_capacity(1 << 20, (&mut self.r).take(self.trailer.trailer_offset));
        let n = io::copy(&mut src, &mut HashWriter(&mut h))?;
        if n != self.trailer.trailer_offset {
            return Err(Error::Truncated { len: n });
        }
        self.compare_digest(h)
    }

    /// A hasher for this archive's file digest (SHA-256 in format 1, BLAKE3 in format 2).
    pub fn file_hasher(&self) -> FileHasher {
        // The major was checked at open to be one we read, which all have a hasher.
        FileHasher::for_major(self.trailer.major)
            .unwrap_or_else(|| FileHasher::Blake3(Box::default()))
    }

    fn compare_digest(&self, h: FileHasher) -> Result<()> {
        let algorithm = h.algorithm();
        let actual: [u8; 32] = h.finalize();
        if actual != self.trailer.file_digest {
            return Err(Error::FileDigestMismatch {
                algorithm,
                covered: self.trailer.trailer_offset,
                expected: hex::encode(self.trailer.file_digest),
                actual: hex::encode(actual),
            });
        }
        Ok(())
    }

    /// The full check in one sequential pass: walks every tar entry between the header and the
    /// manifest (each header exact, each name a blob name, no duplicates, each in the index at
    /// its offset, each blob decoding to its name, padding zero), checks every index record was
    /// seen, and compares the file digest of all bytes before the trailer with the trailer's.
    ///
    /// `on_blob` is called after each blob is checked (for progress).
    ///
    /// # Errors
    /// The first problem found.
    pub fn verify_all(&mut self, on_blob: &mut dyn FnMut(&IndexEntry)) -> Result<()> {
        self.r.seek(SeekFrom::Start(0))?;
        let mut hasher = self.file_hasher();
        let end = self.trailer.manifest_offset - BLOCK;
        let limits = self.limits.clone();
        let mut seen: HashSet<BlobId> = HashSet::with_capacity(self.index.len());
        let mut pos;
        {
            let mut tee = Tee {
                r: BufReader::with_capacity(1 << 20, &mut self.r),
                h: &mut hasher,
            };
            // Header entry (already validated at open; hashed here).
            let mut first = [0u8; BLOCK as usize];
            tee.read_exact(&mut first)?;
            let (_, hsize) = tarhdr::parse(&first, 0, 100)?;
            pos = BLOCK;
            io::copy(&mut (&mut tee).take(pad512(hsize)), &mut io::sink())?;
            pos += pad512(hsize);
            while pos < end {
                let mut h = [0u8; BLOCK as usize];
                tee.read_exact(&mut h)?;
                let (name, size) = tarhdr::parse(&h, pos, limits.max_name_len)?;
                let id = parse_blob_name(&name).ok_or(Error::BadEntryName {
                    offset: pos,
                    name: name.clone(),
                })?;
                if !seen.insert(id) {
                    return Err(Error::DuplicateBlob { id, offset: pos });
                }
                let data_at = pos + BLOCK;
                let e = match self.index.binary_search_by(|e| e.id.cmp(&id)) {
                    Ok(i) => self.index[i],
                    Err(_) => {
                        return Err(Error::IndexMismatch {
                            offset: pos,
                            reason: format!("blob {id} is not in the index"),
                        })
                    }
                };
                if e.offset != data_at || e.stored_len != size {
                    return Err(Error::IndexMismatch {
                        offset: pos,
                        reason: format!("blob {id}: index says offset {} size {}, entry is at {data_at} size {size}", e.offset, e.stored_len),
                    });
                }
                if data_at + pad512(size) > end {
                    return Err(Error::IndexMismatch {
                        offset: pos,
                        reason: "blob entry runs into the manifest".into(),
                    });
                }
                {
                    let mut src = (&mut tee).take(size);
                    let mut dec = BlobDecoder::new(&mut src, id, data_at, size, e.len)?;
                    io::copy(&mut dec, &mut io::sink()).map_err(Error::from_io)?;
                }
                let pad = (pad512(size) - size) as usize;
                let mut p = [0u8; BLOCK as usize];
                tee.read_exact(&mut p[..pad])?;
                check_zero(&p[..pad], data_at + size)?;
                pos = data_at + pad512(size);
                on_blob(&e);
            }
            // Manifest, index (checked at open): hash through to the trailer.
            let rest = self.trailer.trailer_offset - pos;
            let n = io::copy(&mut (&mut tee).take(rest), &mut io::sink())?;
            if n != rest {
                return Err(Error::Truncated { len: pos + n });
            }
        }
        if seen.len() != self.index.len() {
            let missing = self
                .index
                .iter()
                .find(|e| !seen.contains(&e.id))
                .map(|e| e.id);
            return Err(Error::IndexMismatch {
                offset: self.trailer.index_offset,
                reason: match missing {
                    Some(id) => format!("index lists blob {id} which has no entry"),
                    None => "index and entries differ".into(),
                },
            });
        }
        self.compare_digest(hasher)
    }

    /// Returns the underlying reader.
    pub fn into_inner(self) -> R {
        self.r
    }
}

/// Reads through and hashes every byte read.
struct Tee<'h, T: Read> {
    r: T,
    h: &'h mut FileHasher,
}

impl<T: Read> Read for Tee<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

struct HashWriter<'h>(&'h mut FileHasher);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
