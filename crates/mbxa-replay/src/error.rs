//! The crate's one error type: what stopped a replay as a whole (item failures are report entries).

use std::path::{Path, PathBuf};

/// Why a replay (or its plan) could not run. Per-item failures are not errors: they are listed in
/// [`crate::ReplayReport::failed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The archive could not be opened or read.
    #[error("archive {path}: {source}")]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// What the format reader said.
        #[source]
        source: Box<mbxa_format::Error>,
    },
    /// A Graph call that the whole replay depends on failed.
    #[error("{what}: {source}")]
    Graph {
        /// Which operation (e.g. "listing folders of MBX:...").
        what: String,
        /// The client's error (never holds a token or an importUrl).
        #[source]
        source: Box<mbxa_graph::Error>,
    },
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The journal is damaged before its last record.
    #[error("journal {path} line {line}: {reason}")]
    JournalCorrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The journal belongs to another archive or mailbox.
    #[error("journal {path} belongs to archive {archive} and mailbox {mailbox}, not this replay")]
    JournalMismatch {
        /// The journal file.
        path: PathBuf,
        /// Archive id in its header.
        archive: String,
        /// Mailbox id in its header.
        mailbox: String,
    },
    /// Another replay holds this journal (the same archive into the same mailbox, right now).
    #[error(
        "journal {path} is in use by another `mbxa replay` of this archive into this mailbox; \
         wait for it to finish (or stop it) and run again"
    )]
    JournalInUse {
        /// The journal file.
        path: PathBuf,
    },
    /// A write to a journal opened read-only (dry run).
    #[error("journal {path} is open read-only")]
    JournalReadOnly {
        /// The journal file.
        path: PathBuf,
    },
    /// No journal path given and neither `XDG_STATE_HOME` nor `HOME` is set.
    #[error("no journal path: set --journal, XDG_STATE_HOME or HOME")]
    NoStateDir,
    /// A `--folder` path names no folder of the archive.
    #[error("no folder {path:?} in the archive")]
    FolderNotInArchive {
        /// The path as given.
        path: String,
    },
    /// An `--into` path is empty or has an empty segment.
    #[error("invalid --into path {path:?}")]
    InvalidInto {
        /// The path as given.
        path: String,
    },
    /// An internal task (the archive reader thread) stopped unexpectedly.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
