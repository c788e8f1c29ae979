//! The verifier's error type: only for archives that cannot be read at all (exit 2). Damage in
//! a readable archive is never an error; it is a [`crate::Problem`] in the report (exit 1).

use std::path::PathBuf;

/// Why an archive could not be verified at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an mbxa archive (no mbxa header and no mbxa trailer).
    #[error("{}: not an mbxa archive: {reason}", path.display())]
    NotAnArchive {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The archive's version is not one this build reads.
    #[error("{}: unsupported mbxa version {major}.{minor}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
}

/// Result with the verifier's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
