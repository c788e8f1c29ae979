//! FxProxy record framing: turns an exported blob into the bare FastTransfer stream, incrementally.
//!
//! A blob that starts with the Config record header `01 00 00 00 08 00 00 00` is a sequence of
//! `u32 opcode, u32 length, payload` records; the payloads of opcode 2 (TransferBuffer) concatenate
//! to the stream. Anything else is taken to be a bare stream.

use std::io::Read;

use crate::error::{ParseError, ParseErrorKind};

/// FxProxy opcode: Config.
pub const OP_CONFIG: u32 = 1;
/// FxProxy opcode: TransferBuffer (a chunk of the FastTransfer stream).
pub const OP_TRANSFER_BUFFER: u32 = 2;
/// FxProxy opcode: IsInterfaceOk.
pub const OP_IS_INTERFACE_OK: u32 = 3;
/// FxProxy opcode: TellPartnerVersion.
pub const OP_TELL_PARTNER_VERSION: u32 = 4;

const CONFIG_HEADER: [u8; 8] = [1, 0, 0, 0, 8, 0, 0, 0];

/// Whether `bytes` begins with the FxProxy preamble (Config record header).
pub fn is_fxproxy(bytes: &[u8]) -> bool {
    bytes.starts_with(&CONFIG_HEADER)
}

#[derive(Debug)]
enum Mode {
    Detect,
    Bare,
    Framed { remaining: u32 },
    Done,
}

/// Incremental unwrapper: reads a blob from `R` and yields the FastTransfer stream bytes.
#[derive(Debug)]
pub struct Unwrap<R> {
    inner: R,
    mode: Mode,
    /// Bytes consumed from `inner`.
    blob_pos: u64,
    /// Stream bytes produced.
    stream_pos: u64,
    /// (stream offset, blob offset) at the start of each TransferBuffer payload.
    map: Vec<(u64, u64)>,
    /// Bytes peeked during detection that belong to a bare stream.
    pending: Vec<u8>,
    records: u64,
    record_start: u64,
    current_len: u32,
    deferred: Option<ParseError>,
}

impl<R: Read> Unwrap<R> {
    /// Wraps a reader positioned at the start of a blob.
    pub fn new(inner: R) -> Self {
        Unwrap {
            inner,
            mode: Mode::Detect,
            blob_pos: 0,
            stream_pos: 0,
            map: Vec::new(),
            pending: Vec::new(),
            records: 0,
            record_start: 0,
            current_len: 0,
            deferred: None,
        }
    }

    /// Whether the blob turned out to be FxProxy-framed (known after the first read).
    pub fn is_framed(&self) -> bool {
        !self.map.is_empty() || matches!(self.mode, Mode::Framed { .. })
    }

    /// Number of FxProxy records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Maps an offset in the unwrapped stream to an offset in the blob.
    pub fn blob_offset(&self, stream_off: u64) -> u64 {
        if self.map.is_empty() {
            return stream_off;
        }
        let i = self.map.partition_point(|(s, _)| *s <= stream_off);
        if i == 0 {
            return stream_off;
        }
        let (s, b) = self.map[i - 1];
        b + (stream_off - s)
    }

    fn err(&self, kind: ParseErrorKind, blob_off: u64) -> ParseError {
        ParseError {
            offset: blob_off,
            stream_offset: self.stream_pos,
            kind,
        }
    }

    /// Reads as many bytes as possible (up to `buf.len()`) or until EOF.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, ParseError> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(
                        self.err(ParseErrorKind::Io(e.to_string()), self.blob_pos + n as u64)
                    )
                }
            }
        }
        self.blob_pos += n as u64;
        Ok(n)
    }

    /// Fills `out` with stream bytes; returns 0 at the end of the stream.
    pub fn read_stream(&mut self, out: &mut [u8]) -> Result<usize, ParseError> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.mode {
                Mode::Done => return Ok(0),
                Mode::Detect => {
                    let mut head = [0u8; 8];
                    let n = self.read_full(&mut head)?;
                    if n < 8 {
                        self.mode = Mode::Done;
                        return Err(self.err(ParseErrorKind::NoData { len: n }, 0));
                    }
                    if head == CONFIG_HEADER {
                        self.records += 1;
                        self.skip(8, OP_CONFIG, 0)?;
                        self.mode = Mode::Framed { remaining: 0 };
                    } else {
                        self.pending = head.to_vec();
                        self.mode = Mode::Bare;
                    }
                }
                Mode::Bare => {
                    if !self.pending.is_empty() {
                        let n = self.pending.len().min(out.len());
                        out[..n].copy_from_slice(&self.pending[..n]);
                        self.pending.drain(..n);
                        self.stream_pos += n as u64;
                        return Ok(n);
                    }
                    let n = self.read_full(out)?;
                    if n == 0 {
                        self.mode = Mode::Done;
                    }
                    self.stream_pos += n as u64;
                    return Ok(n);
                }
                Mode::Framed { remaining } if remaining > 0 => {
                    let want = out.len().min(remaining as usize);
                    let n = self.read_full(&mut out[..want])?;
                    self.stream_pos += n as u64;
                    let left = remaining - n as u32;
                    self.mode = Mode::Framed { remaining: left };
                    if n < want {
                        let claimed = self.current_len;
                        self.mode = Mode::Done;
                        if n > 0 {
                            // Deliver what we have; the next call reports the truncation.
                            self.deferred = Some(self.err(
                                ParseErrorKind::TruncatedRecord {
                                    opcode: OP_TRANSFER_BUFFER,
                                    len: claimed,
                                    available: u64::from(claimed - left),
                                },
                                self.record_start,
                            ));
                            return Ok(n);
                        }
                        return Err(self.err(
                            ParseErrorKind::TruncatedRecord {
                                opcode: OP_TRANSFER_BUFFER,
                                len: claimed,
                                available: u64::from(claimed - left),
                            },
                            self.record_start,
                        ));
                    }
                    return Ok(n);
                }
                Mode::Framed { .. } => {
                    let rec_start = self.blob_pos;
                    let mut hdr = [0u8; 8];
                    let n = self.read_full(&mut hdr)?;
                    if n == 0 {
                        self.mode = Mode::Done;
                        return Ok(0);
                    }
                    if n < 8 {
                        self.mode = Mode::Done;
                        return Err(self.err(
                            ParseErrorKind::Truncated {
                                expected: "FxProxy record header",
                            },
                            rec_start,
                        ));
                    }
                    let opcode = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
                    let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
                    self.records += 1;
                    self.record_start = rec_start;
                    self.current_len = len;
                    if opcode == OP_TRANSFER_BUFFER {
                        if len > 0 {
                            self.map.push((self.stream_pos, self.blob_pos));
                        }
                        self.mode = Mode::Framed { remaining: len };
                    } else {
                        self.skip(len, opcode, rec_start)?;
                    }
                }
            }
        }
    }

    fn skip(&mut self, len: u32, opcode: u32, rec_start: u64) -> Result<(), ParseError> {
        let mut left = u64::from(len);
        let mut scratch = [0u8; 512];
        while left > 0 {
            let want = left.min(scratch.len() as u64) as usize;
            let n = self.read_full(&mut scratch[..want])?;
            left -= n as u64;
            if n < want {
                self.mode = Mode::Done;
                return Err(self.err(
                    ParseErrorKind::TruncatedRecord {
                        opcode,
                        len,
                        available: u64::from(len) - left,
                    },
                    rec_start,
                ));
            }
        }
        Ok(())
    }
}
