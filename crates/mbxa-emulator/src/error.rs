//! The emulator's one error type.

use std::path::PathBuf;

/// What can go wrong starting, configuring or persisting the emulator. Request-level problems
/// are never errors here: they are HTTP answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing the state file failed.
    #[error("state file {path}: {source}")]
    StateIo {
        /// The state file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state file exists but does not decode.
    #[error("state file {path} is not a valid emulator state: {reason}")]
    StateDecode {
        /// The state file.
        path: PathBuf,
        /// Why decoding failed.
        reason: String,
    },
    /// A configuration string (`--faults`, `--throttle`) or spec is invalid.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// A registered client certificate could not be read.
    #[error("tenant {tenant_id}: certificate {index} is unusable: {reason}")]
    Certificate {
        /// The tenant whose certificate is bad.
        tenant_id: String,
        /// Position in `TenantSpec::certificates`.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result with the emulator's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
