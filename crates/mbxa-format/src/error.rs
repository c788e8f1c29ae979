//! The one error type of `mbxa-format`: every variant names where (offset, entry, digest) it went wrong.

use std::path::PathBuf;

use crate::id::{ArchiveId, BlobId};

/// Everything that can go wrong reading or writing an `.mbxa` archive.
///
/// Offsets are byte offsets from the start of the file. Variants are specific so that tests and
/// the verifier can tell damage classes apart (a bad tar header is not a bad blob).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the underlying reader, writer or file system.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    /// An I/O error on a named file.
    #[error("{}: {error}", path.display())]
    IoPath {
        /// The file.
        path: PathBuf,
        /// The underlying error (shown in the message, not chained, so it prints once).
        error: std::io::Error,
    },
    /// The file does not start with an mbxa header entry: it is not an mbxa archive.
    #[error("not an mbxa archive: {reason}")]
    NotMbxa {
        /// What was found instead.
        reason: String,
    },
    /// The archive's major version (or a minor version this reader cannot accept) is unknown.
    #[error("unsupported mbxa version {major}.{minor} (this reader supports 1.x and 2.x)")]
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The file ends without a valid trailer: it was cut short or never finished.
    #[error(
        "archive is truncated or unfinished: no valid trailer at its end (file is {len} bytes)"
    )]
    Truncated {
        /// Length of the file.
        len: u64,
    },
    /// A tar header block is malformed or differs from the fixed form the spec requires.
    #[error("bad tar header at offset {offset}: {reason}")]
    BadTarHeader {
        /// Offset of the 512-byte header block.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry's name is not one the format allows at that place (e.g. `../x`).
    #[error("bad entry name {name:?} at offset {offset}")]
    BadEntryName {
        /// Offset of the entry's tar header.
        offset: u64,
        /// The name found (lossy UTF-8).
        name: String,
    },
    /// Padding after an entry, or the end-of-archive blocks, are not all zero.
    #[error("non-zero padding at offset {offset}")]
    BadPadding {
        /// Offset of the first non-zero byte.
        offset: u64,
    },
    /// The trailer's fields are inconsistent with the file.
    #[error("bad trailer at offset {offset}: {reason}")]
    BadTrailer {
        /// Offset of the trailer entry's data.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The trailer's own SHA-256 does not match its contents.
    #[error("trailer at offset {offset} is damaged: its checksum does not match")]
    TrailerDigestMismatch {
        /// Offset of the trailer entry's data.
        offset: u64,
    },
    /// The file digest of all bytes before the trailer differs from the trailer's record of it.
    #[error(
        "file digest ({algorithm}) mismatch over bytes 0..{covered}: trailer says {expected}, file has {actual}"
    )]
    FileDigestMismatch {
        /// `SHA-256` (format 1) or `BLAKE3` (format 2).
        algorithm: &'static str,
        /// End of the covered range (the trailer's tar header offset).
        covered: u64,
        /// Hex digest recorded in the trailer.
        expected: String,
        /// Hex digest computed.
        actual: String,
    },
    /// The index entry is malformed.
    #[error("bad index at offset {offset}: {reason}")]
    BadIndex {
        /// Offset of the index data, or of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The tar entries in the file and the index disagree.
    #[error("index does not match the archive at offset {offset}: {reason}")]
    IndexMismatch {
        /// Offset where the disagreement was found.
        offset: u64,
        /// What disagrees.
        reason: String,
    },
    /// The same blob appears twice.
    #[error("duplicate blob {id} at offset {offset}")]
    DuplicateBlob {
        /// The blob.
        id: BlobId,
        /// Offset of the second entry's tar header (or index record).
        offset: u64,
    },
    /// A blob was asked for that the archive does not hold.
    #[error("blob {id} is not in the archive")]
    BlobNotFound {
        /// The blob asked for.
        id: BlobId,
    },
    /// A blob's bytes do not hash to its name.
    #[error("blob {id} at offset {offset} is damaged: its content hashes to {actual}")]
    BlobDigestMismatch {
        /// The name (expected digest).
        id: BlobId,
        /// Offset of the blob's zstd frame.
        offset: u64,
        /// The digest of what was decoded.
        actual: BlobId,
    },
    /// A blob decodes to a different length than the index says.
    #[error("blob {id} at offset {offset}: expected {expected} bytes, got {actual}")]
    BlobLengthMismatch {
        /// The blob.
        id: BlobId,
        /// Offset of the blob's zstd frame.
        offset: u64,
        /// Length recorded in the index / frame header.
        expected: u64,
        /// Length decoded (or a lower bound, when decoding stopped early).
        actual: u64,
    },
    /// A blob's zstd frame is malformed (corrupt data, bad checksum, missing content size,
    /// more than one frame, trailing bytes).
    #[error("blob {id} at offset {offset}: bad zstd frame: {reason}")]
    BlobCorrupt {
        /// The blob.
        id: BlobId,
        /// Offset of the blob's zstd frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The manifest entry cannot be decoded.
    #[error("bad manifest at offset {offset}: {reason}")]
    BadManifest {
        /// Offset of the manifest entry's data.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The manifest's SHA-256 (the archive id) differs from the trailer's.
    #[error("manifest does not match the archive id: trailer says {expected}, manifest hashes to {actual}")]
    ManifestDigestMismatch {
        /// Archive id recorded in the trailer.
        expected: ArchiveId,
        /// Digest of the decoded manifest.
        actual: ArchiveId,
    },
    /// An item refers to a blob the archive does not hold, or with another length.
    #[error("item {item_id:?} refers to blob {blob} which is {reason}")]
    MissingBlob {
        /// The item.
        item_id: String,
        /// The blob it names.
        blob: BlobId,
        /// "not in the archive" or a length mismatch.
        reason: String,
    },
    /// A length or count read from the file (or given to the writer) exceeds a [`crate::Limits`] bound.
    #[error("{what} of {value} exceeds the limit of {limit} (at offset {offset})")]
    LimitExceeded {
        /// What was measured.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
        /// Where (0 when not applicable).
        offset: u64,
    },
    /// A `.part` file cannot be resumed.
    #[error("cannot resume {}: {reason}", path.display())]
    NotResumable {
        /// The `.part` file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A 64-hex-digit id could not be parsed.
    #[error("invalid id {input:?}: expected 64 lowercase hex digits")]
    BadId {
        /// The text given.
        input: String,
    },
    /// A ready-made frame given to [`crate::ArchiveWriter::add_frame`] is not a valid frame of
    /// the blob it was given for; nothing was written.
    #[error("frame given for blob {id} rejected: {reason}")]
    FrameRejected {
        /// The blob the frame was given for.
        id: BlobId,
        /// What is wrong with it.
        reason: String,
    },
    /// Compression failed (zstd reported an error while writing).
    #[error("compression failed: {0}")]
    Compress(String),
    /// The writer was given a manifest that does not fit the archive (e.g. names an unknown blob).
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            Error::UnsupportedVersion { .. } => {
                std::io::Error::new(std::io::ErrorKind::Unsupported, e)
            }
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

impl Error {
    /// Recovers an [`Error`] that was carried inside an `io::Error` (by a `Read` adapter).
    pub(crate) fn from_io(e: std::io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            // Unreachable in practice: `is::<Error>` held above.
            return Error::Io(std::io::Error::other("lost inner error"));
        }
        Error::Io(e)
    }
}
