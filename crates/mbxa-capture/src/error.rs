//! The crate's single error type.

use std::path::PathBuf;

/// Why a capture could not run to its end. Items that Graph could not export are *not* errors:
/// they are recorded in the archive and listed in [`crate::CaptureReport::failed`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Graph call failed after the client's retries (auth, transport, HTTP status + code).
    #[error("graph: {0}")]
    Graph(#[from] mbxa_graph::Error),
    /// Reading the base archive or writing the new one failed.
    #[error("archive: {0}")]
    Format(#[from] mbxa_format::Error),
    /// A local file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("create", "read", "fsync", ...).
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output archive already exists; capture never overwrites a finished archive.
    #[error("{} already exists (capture never overwrites a finished archive)", .0.display())]
    OutputExists(PathBuf),
    /// Another live process is capturing into the same archive (it holds `<output>.lock`).
    #[error("{} is being written by process {pid} (lock {})", path.display(), lock.display())]
    Busy {
        /// The archive.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The process holding it.
        pid: u32,
    },
    /// The journal beside the unfinished archive belongs to a different capture (other mailbox,
    /// base or folder selection), so it cannot be resumed with these options.
    #[error(
        "{} belongs to a different capture ({what}); re-run the original command or delete it and the .part to start over",
        path.display()
    )]
    JournalMismatch {
        /// The journal file.
        path: PathBuf,
        /// Which option differs.
        what: String,
    },
    /// The journal could not be parsed at a place where it must be valid (its header).
    #[error("journal {}: {message}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The base archive captured a different mailbox: its delta links cannot be used.
    #[error("base archive {} captured mailbox {found}, not {expected}", path.display())]
    BaseMismatch {
        /// The base archive.
        path: PathBuf,
        /// The mailbox being captured now.
        expected: String,
        /// The mailbox the base archive holds.
        found: String,
    },
    /// A `--folder` path matched no folder of the mailbox.
    #[error("no folder matches {path:?} in mailbox {mailbox_id}")]
    FolderNotFound {
        /// The display-name path asked for.
        path: String,
        /// The mailbox searched.
        mailbox_id: String,
    },
    /// A pipeline task panicked or was cancelled (a bug, not an input problem).
    #[error("capture task failed: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
