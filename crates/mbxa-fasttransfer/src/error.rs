//! The crate's error types: parse errors carry the byte offset and what was expected.

use thiserror::Error;

/// What went wrong while parsing a stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended inside an element.
    #[error("truncated: expected {expected}")]
    Truncated {
        /// What the parser was reading.
        expected: &'static str,
    },
    /// The input ended with objects still open (recipient, attachment, embedded message).
    #[error("truncated: stream ended inside {open}")]
    Unclosed {
        /// The innermost open object.
        open: &'static str,
    },
    /// A FxProxy record's length runs past the end of the blob.
    #[error(
        "truncated FxProxy record (opcode {opcode}, length {len}, {available} bytes available)"
    )]
    TruncatedRecord {
        /// Record opcode.
        opcode: u32,
        /// Claimed length.
        len: u32,
        /// Bytes actually available.
        available: u64,
    },
    /// A property type whose size is unknown: the stream cannot be walked past it.
    #[error("unknown property type 0x{ptype:04X} in tag 0x{tag:08X}")]
    UnknownType {
        /// The whole tag.
        tag: u32,
        /// Its type.
        ptype: u16,
    },
    /// namedInfo kind other than 0 or 1.
    #[error("bad named-property kind {kind} (expected 0 or 1)")]
    BadNamedKind {
        /// The byte read.
        kind: u8,
    },
    /// A named-property name without terminator within the cap.
    #[error("named-property name longer than {max} bytes")]
    NameTooLong {
        /// The cap in bytes.
        max: usize,
    },
    /// A variable value length above the cap.
    #[error("value length {len} exceeds the limit {max}")]
    ValueTooLong {
        /// Claimed length.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// A multi-valued count above the cap.
    #[error("multi-valued count {count} exceeds the limit {max}")]
    TooManyValues {
        /// Claimed count.
        count: u32,
        /// The cap.
        max: u32,
    },
    /// Embedded messages nested deeper than the cap.
    #[error("embedded messages nested deeper than {max}")]
    TooDeep {
        /// The cap.
        max: usize,
    },
    /// More properties / objects than the cap.
    #[error("more than {max} {what}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The cap.
        max: usize,
    },
    /// A marker that does not fit where it appears.
    #[error("unexpected marker {name} (0x{marker:08X})")]
    UnexpectedMarker {
        /// The marker value.
        marker: u32,
        /// Its name.
        name: &'static str,
    },
    /// The input is too short to hold any data (e.g. the `AA==` placeholder).
    #[error("no data ({len} bytes)")]
    NoData {
        /// Input length.
        len: usize,
    },
    /// Reading the underlying source failed.
    #[error("read error: {0}")]
    Io(String),
}

/// A parse error with the byte offset where it happened.
///
/// `offset` is in the input as given (the FxProxy blob, or the bare stream); `stream_offset` is the
/// position in the unwrapped FastTransfer stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at byte {offset} (stream offset {stream_offset}): {kind}")]
pub struct ParseError {
    /// Offset in the input bytes.
    pub offset: u64,
    /// Offset in the unwrapped FastTransfer stream.
    pub stream_offset: u64,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// Errors from `.eml` conversion.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EmlError {
    /// Embedded messages nested deeper than the cap.
    #[error("embedded messages nested deeper than {0}")]
    TooDeep(usize),
    /// Writing the MIME output failed.
    #[error("writing MIME output failed: {0}")]
    Write(String),
}

/// Errors from compressed-RTF decoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtfError {
    /// Shorter than the 16-byte header or than COMPSIZE claims.
    #[error("compressed RTF truncated: {0}")]
    Truncated(&'static str),
    /// COMPTYPE is neither LZFu nor MELA.
    #[error("unknown compressed RTF type 0x{0:08X}")]
    UnknownType(u32),
    /// CRC mismatch.
    #[error("compressed RTF CRC mismatch: header 0x{expected:08X}, computed 0x{actual:08X}")]
    Crc {
        /// CRC in the header.
        expected: u32,
        /// CRC computed.
        actual: u32,
    },
    /// RAWSIZE above the cap.
    #[error("compressed RTF raw size {0} exceeds the limit")]
    TooLarge(u32),
}
