//! zstd framing: the writer's deterministic single-frame compressor and the reader's bounded,
//! hash-checking frame decoder.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, InBuffer, OutBuffer, ResetDirective};

use crate::constants::ZSTD_LEVEL;
use crate::error::{Error, Result};
use crate::id::BlobId;

/// Input is fed to zstd in chunks of this size, always, so the output depends only on the bytes.
pub(crate) const CHUNK: usize = 128 * 1024;

/// A reusable single-threaded zstd compressor (level 3, checksum and content size in the header).
pub(crate) struct Compressor {
    cctx: CCtx<'static>,
    out: Vec<u8>,
}

fn zerr(code: usize) -> Error {
    Error::Compress(zstd_safe::get_error_name(code).to_string())
}

impl Compressor {
    pub(crate) fn new() -> Result<Self> {
        let mut cctx = CCtx::try_create()
            .ok_or_else(|| Error::Compress("cannot allocate a zstd context".into()))?;
        cctx.set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
            .map_err(zerr)?;
        cctx.set_parameter(CParameter::ChecksumFlag(true))
            .map_err(zerr)?;
        cctx.set_parameter(CParameter::ContentSizeFlag(true))
            .map_err(zerr)?;
        Ok(Compressor {
            cctx,
            out: vec![0u8; zstd_safe::CCtx::out_size().max(CHUNK + 1024)],
        })
    }

    /// Compresses `len` bytes pulled from `input` as one frame into `sink`.
    ///
    /// `input` is called with buffers of exactly `CHUNK` bytes (the last one shorter) and must
    /// fill them completely.
    pub(crate) fn compress(
        &mut self,
        len: u64,
        input: &mut dyn FnMut(&mut [u8]) -> Result<()>,
        sink: &mut dyn Write,
    ) -> Result<()> {
        self.cctx.reset(ResetDirective::SessionOnly).map_err(zerr)?;
        self.cctx.set_pledged_src_size(Some(len)).map_err(zerr)?;
        let mut chunk = vec![0u8; CHUNK.min(len as usize)];
        let mut left = len;
        while left > 0 {
            let n = CHUNK.min(left as usize);
            let buf = &mut chunk[..n];
            input(buf)?;
            left -= n as u64;
            self.feed(buf, sink)?;
        }
        self.end_frame(sink)
    }

    /// Compresses an in-memory buffer as one frame into `sink`, feeding zstd the same
    /// `CHUNK`-sized pieces as [`Compressor::compress`] (so both give identical frames) but
    /// without copying them first.
    pub(crate) fn compress_slice(&mut self, data: &[u8], sink: &mut dyn Write) -> Result<()> {
        self.cctx.reset(ResetDirective::SessionOnly).map_err(zerr)?;
        self.cctx
            .set_pledged_src_size(Some(data.len() as u64))
            .map_err(zerr)?;
        for chunk in data.chunks(CHUNK) {
            self.feed(chunk, sink)?;
        }
        self.end_frame(sink)
    }

    /// Feeds one piece of input to the frame in progress, writing what zstd emits.
    fn feed(&mut self, piece: &[u8], sink: &mut dyn Write) -> Result<()> {
        use zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_continue;
        let mut inb = InBuffer::around(piece);
        while inb.pos() < piece.len() {
            let mut outb = OutBuffer::around(&mut self.out[..]);
            self.cctx
                .compress_stream2(&mut outb, &mut inb, ZSTD_e_continue)
                .map_err(zerr)?;
            let w = outb.pos();
            sink.write_all(&self.out[..w])?;
        }
        Ok(())
    }

    /// Ends the frame in progress (epilogue and checksum), writing what zstd emits.
    fn end_frame(&mut self, sink: &mut dyn Write) -> Result<()> {
        use zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_end;
        loop {
            let mut inb = InBuffer::around(&[]);
            let mut outb = OutBuffer::around(&mut self.out[..]);
            let remaining = self
                .cctx
                .compress_stream2(&mut outb, &mut inb, ZSTD_e_end)
                .map_err(zerr)?;
            let w = outb.pos();
            sink.write_all(&self.out[..w])?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }
}

/// Checks the zstd frame header prefix: magic, content size present and equal to `len`,
/// checksum flag set.
pub(crate) fn check_frame_header(head: &[u8], len: u64) -> std::result::Result<(), String> {
    if head.len() < 5 || head[..4] != [0x28, 0xB5, 0x2F, 0xFD] {
        return Err("not a zstd frame (bad magic)".into());
    }
    let fhd = head[4];
    if fhd & 0x04 == 0 {
        return Err("frame has no content checksum".into());
    }
    let has_size = fhd & 0xC0 != 0 || fhd & 0x20 != 0;
    if !has_size {
        return Err("frame header does not declare the content size".into());
    }
    match zstd_safe::get_frame_content_size(head) {
        Ok(Some(n)) if n == len => Ok(()),
        Ok(Some(n)) => Err(format!("frame declares {n} bytes, index says {len}")),
        _ => Err("cannot read the frame's content size".into()),
    }
}

/// A `Read` over one stored blob frame that decodes it, bounds its length, and at EOF checks
/// length, single-frame-ness and SHA-256. Errors are [`Error`]s carried in `io::Error`s.
pub(crate) struct BlobDecoder<S: Read> {
    src: S,
    src_left: u64,
    inbuf: Vec<u8>,
    in_pos: usize,
    in_len: usize,
    dctx: DCtx<'static>,
    hasher: Sha256,
    produced: u64,
    id: BlobId,
    len: u64,
    offset: u64,
    frame_done: bool,
    finished: bool,
    header_checked: bool,
}

impl<S: Read> BlobDecoder<S> {
    /// `src` must yield exactly the `stored_len` bytes of the frame at `offset`.
    pub(crate) fn new(src: S, id: BlobId, offset: u64, stored_len: u64, len: u64) -> Result<Self> {
        let dctx = DCtx::try_create()
            .ok_or_else(|| Error::Compress("cannot allocate a zstd context".into()))?;
        Ok(BlobDecoder {
            src,
            src_left: stored_len,
            inbuf: vec![0u8; CHUNK.min(stored_len.max(32) as usize)],
            in_pos: 0,
            in_len: 0,
            dctx,
            hasher: Sha256::new(),
            produced: 0,
            id,
            len,
            offset,
            frame_done: false,
            finished: false,
            header_checked: false,
        })
    }

    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::BlobCorrupt {
            id: self.id,
            offset: self.offset,
            reason: reason.into(),
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        // Keep unconsumed bytes (only possible before the header check).
        if self.in_pos > 0 {
            self.inbuf.copy_within(self.in_pos..self.in_len, 0);
            self.in_len -= self.in_pos;
            self.in_pos = 0;
        }
        let want = (self.inbuf.len() - self.in_len).min(self.src_left as usize);
        if want == 0 {
            return Ok(());
        }
        let n = self
            .src
            .read(&mut self.inbuf[self.in_len..self.in_len + want])?;
        if n == 0 {
            return Err(io::Error::from(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "file ends inside blob {} at offset {}",
                    self.id, self.offset
                ),
            ))));
        }
        self.in_len += n;
        self.src_left -= n as u64;
        Ok(())
    }

    fn finish_checks(&mut self) -> Result<()> {
        if self.in_pos != self.in_len || self.src_left != 0 {
            return Err(self.corrupt("trailing bytes after the zstd frame"));
        }
        if self.produced != self.len {
            return Err(Error::BlobLengthMismatch {
                id: self.id,
                offset: self.offset,
                expected: self.len,
                actual: self.produced,
            });
        }
        let actual = BlobId(std::mem::take(&mut self.hasher).finalize().into());
        if actual != self.id {
            return Err(Error::BlobDigestMismatch {
                id: self.id,
                offset: self.offset,
                actual,
            });
        }
        Ok(())
    }

    fn read_inner(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.finished || out.is_empty() {
            return Ok(0);
        }
        if !self.header_checked {
            // The frame header is at most 18 bytes; read until we have them or the frame ends.
            while self.in_len < 18 && self.src_left > 0 {
                self.fill()?;
            }
            let head = &self.inbuf[..self.in_len];
            check_frame_header(head, self.len).map_err(|r| io::Error::from(self.corrupt(r)))?;
            self.header_checked = true;
        }
        loop {
            if self.frame_done {
                self.finished = true;
                self.finish_checks().map_err(io::Error::from)?;
                return Ok(0);
            }
            if self.in_pos == self.in_len {
                if self.src_left == 0 {
                    return Err(io::Error::from(self.corrupt("frame is incomplete")));
                }
                self.fill()?;
            }
            let mut inb = InBuffer::around(&self.inbuf[self.in_pos..self.in_len]);
            let mut outb = OutBuffer::around(&mut *out);
            let r = self.dctx.decompress_stream(&mut outb, &mut inb);
            let (read, written) = (inb.pos(), outb.pos());
            self.in_pos += read;
            let hint =
                r.map_err(|code| io::Error::from(self.corrupt(zstd_safe::get_error_name(code))))?;
            if hint == 0 {
                self.frame_done = true;
            }
            if written > 0 {
                self.produced += written as u64;
                if self.produced > self.len {
                    return Err(io::Error::from(Error::BlobLengthMismatch {
                        id: self.id,
                        offset: self.offset,
                        expected: self.len,
                        actual: self.produced,
                    }));
                }
                self.hasher.update(&out[..written]);
                return Ok(written);
            }
        }
    }
}

impl<S: Read> Read for BlobDecoder<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_inner(out)
    }
}

/// A blob's zstd frame that was checked to be a valid frame of that blob, ready to be written
/// by [`crate::ArchiveWriter::add_frame`] without decompressing and recompressing the blob.
/// The only way to make one is [`CheckedFrame::new`], which checks.
#[derive(Debug)]
pub struct CheckedFrame {
    pub(crate) id: BlobId,
    pub(crate) len: u64,
    pub(crate) frame: Vec<u8>,
}

impl CheckedFrame {
    /// Checks that `frame` is a blob frame this format accepts for blob `id` of `len` bytes:
    /// one zstd frame filling `frame`, declaring its content size and checksum, decoding to
    /// exactly `len` bytes whose SHA-256 is `id` (spec §4). Streams the output: memory does not
    /// grow with `len`.
    ///
    /// # Errors
    /// [`Error::FrameRejected`] saying what is wrong.
    pub fn new(id: BlobId, len: u64, frame: Vec<u8>) -> Result<CheckedFrame> {
        let rejected = |e: Error| Error::FrameRejected {
            id,
            reason: e.to_string(),
        };
        {
            let mut dec =
                BlobDecoder::new(&frame[..], id, 0, frame.len() as u64, len).map_err(rejected)?;
            io::copy(&mut dec, &mut io::sink())
                .map_err(Error::from_io)
                .map_err(rejected)?;
        }
        Ok(CheckedFrame { id, len, frame })
    }

    /// The blob's id.
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// The blob's (uncompressed) length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Decompresses a whole in-memory frame (manifest), bounded by `limit` bytes of output.
pub(crate) fn decompress_bounded(frame: &[u8], limit: u64) -> std::result::Result<Vec<u8>, String> {
    let declared = match zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => n,
        _ => return Err("frame does not declare its content size".into()),
    };
    if declared > limit {
        return Err(format!("frame declares {declared} bytes, limit is {limit}"));
    }
    match zstd_safe::find_frame_compressed_size(frame) {
        Ok(n) if n == frame.len() => {}
        Ok(_) => return Err("trailing bytes after the zstd frame".into()),
        Err(code) => return Err(zstd_safe::get_error_name(code).to_string()),
    }
    let mut out = Vec::with_capacity(declared as usize);
    let mut dctx = DCtx::try_create().ok_or("cannot allocate a zstd context")?;
    dctx.decompress(&mut out, frame)
        .map_err(|code| zstd_safe::get_error_name(code).to_string())?;
    if out.len() as u64 != declared {
        return Err(format!(
            "frame decodes to {} bytes, declares {declared}",
            out.len()
        ));
    }
    Ok(out)
}
