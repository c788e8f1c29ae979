//! The vault's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing a vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a named file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The directory exists but holds no vault `config`.
    #[error("{} is not an mbxa vault (no readable `config`)", path.display())]
    NotAVault {
        /// The directory.
        path: PathBuf,
    },
    /// The vault was written by a newer, incompatible version.
    #[error("{}: vault format version {version} is not supported (this mbxa reads version 1)", path.display())]
    UnsupportedVersion {
        /// The config file.
        path: PathBuf,
        /// The version it declares.
        version: u32,
    },
    /// Another live process holds the vault's lock.
    #[error("vault is locked by pid {pid} on host {host} since unix time {since} ({operation}); if that process is gone, remove {}", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Holder's pid.
        pid: u32,
        /// Holder's host name.
        host: String,
        /// When it was taken (unix seconds).
        since: u64,
        /// What the holder is doing.
        operation: String,
    },
    /// A vault file (pack, index, record, config, lock) does not parse or fails its checksum.
    #[error("{}: corrupt {what} at offset {offset}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What kind of structure was being read.
        what: &'static str,
        /// Byte offset in the file.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// A chunk's bytes do not hash to its id.
    #[error("chunk {chunk} in pack {pack} at offset {offset}: content hashes to {actual}")]
    ChunkDigest {
        /// The chunk id (hex).
        chunk: String,
        /// The pack id (hex).
        pack: String,
        /// Offset of the chunk's entry in the pack.
        offset: u64,
        /// SHA-256 of what was read.
        actual: String,
    },
    /// A record references a chunk the index does not know.
    #[error("chunk {chunk} needed by archive {archive} is not in the vault")]
    MissingChunk {
        /// The chunk id (hex).
        chunk: String,
        /// The archive id (hex).
        archive: String,
    },
    /// No archive id matches the given prefix.
    #[error("no archive in the vault matches `{0}`")]
    UnknownArchive(String),
    /// More than one archive id matches the given prefix.
    #[error("archive id prefix `{prefix}` is ambiguous: {count} archives match")]
    AmbiguousArchive {
        /// The prefix given.
        prefix: String,
        /// How many matched.
        count: usize,
    },
    /// An archive with the same id but different bytes is already stored.
    #[error("archive {archive} is already in the vault with different bytes (stored sha256 {stored}, new {new})")]
    ArchiveConflict {
        /// The archive id (hex).
        archive: String,
        /// SHA-256 of the stored file.
        stored: String,
        /// SHA-256 of the file being added.
        new: String,
    },
    /// Re-creating an archive (or one of its frames) did not give the recorded bytes.
    #[error("archive {archive}: re-created {what} does not match (expected sha256 {expected}, got {actual})")]
    NotReproducible {
        /// The archive id (hex).
        archive: String,
        /// "file" or "frame of blob <id>" or "raw bytes".
        what: String,
        /// Recorded SHA-256.
        expected: String,
        /// SHA-256 of what was produced.
        actual: String,
    },
    /// The archive being added is damaged or unreadable; it was not added.
    #[error("{}: {detail}", path.display())]
    BadArchive {
        /// The archive file.
        path: PathBuf,
        /// What is wrong, naming the entry and offset.
        detail: String,
    },
    /// The archive's format crate reported an error.
    #[error("{}: {source}", path.display())]
    Format {
        /// The archive file.
        path: PathBuf,
        /// The format error.
        #[source]
        source: mbxa_format::Error,
    },
    /// A length read from a vault file or archive exceeds a safety bound.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its claimed length.
        len: u64,
        /// The bound.
        max: u64,
    },
}

/// Result with the vault's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an `io::Error`.
pub(crate) trait IoCtx<T> {
    fn ctx(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoCtx<T> for std::io::Result<T> {
    fn ctx(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
