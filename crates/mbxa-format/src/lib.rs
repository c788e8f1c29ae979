//! The `.mbxa` archive format: a deterministic ustar file holding one zstd frame per unique
//! exported item (named by the SHA-256 of its bytes), a postcard manifest, a sorted index and a
//! trailer whose digests cover every byte. Specified in `spec/mbxa-v1.md`.
//!
//! - [`ArchiveWriter`] streams an archive to any `Write`; [`ArchiveFile`] wraps it for atomic
//!   creation at a path (`<path>.part`, fsync, rename) and resumption of an interrupted `.part`.
//! - [`ArchiveReader`] opens an archive over `Read + Seek`, reading trailer, index and manifest
//!   (bounded by [`Limits`]), then gives random access to blobs by [`BlobId`], hash-checked, and a
//!   one-pass full check ([`ArchiveReader::verify_all`]).
//! - [`Manifest`] and its parts are domain types; their byte form lives in the private `wire`
//!   module only.
//!
//! Choices the spec leaves to the implementation: zstd level 3, single-threaded, input fed in
//! 128 KiB chunks (so the same bytes always give the same frame); tar headers are built by hand
//! (not with the `tar` crate) so every byte is the spec's.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

mod constants;
mod error;
mod file;
mod frame;
mod id;
mod model;
mod pool;
mod reader;
mod tarhdr;
mod wire;
mod writer;

pub use constants::{
    Limits, BLOB_PREFIX, BLOB_SUFFIX, FORMAT_NAME, HEADER_NAME, INDEX_NAME, MANIFEST_NAME,
    TRAILER_NAME, VERSION_MAJOR, VERSION_MINOR, ZSTD_LEVEL,
};
pub use error::{Error, Result};
pub use file::ArchiveFile;
pub use id::{ArchiveId, BlobId};
pub use model::{
    CaptureInfo, Folder, FolderDeltaLink, Item, ItemContent, MailboxKind, Manifest, Source,
};
pub use reader::{ArchiveReader, IndexEntry, Totals};
pub use writer::{blob_name, ArchiveWriter};
