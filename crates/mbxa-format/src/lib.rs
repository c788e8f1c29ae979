//! The `.mbxa` archive format: a deterministic ustar file holding one zstd frame per unique
//! exported item (named by the SHA-256 of its bytes), a postcard manifest, a sorted index and a
//! trailer whose digests cover every byte. Specified in `spec/mbxa-v1.md`; format 2.0
//! (`spec/mbxa-v2.md`, written by default) differs only in its whole-file digest (BLAKE3).
//!
//! - [`ArchiveWriter`] streams an archive to any `Write`; [`ArchiveFile`] wraps it for atomic
//!   creation at a path (`<path>.part`, fsync, rename) and resumption of an interrupted `.part`.
//! - [`ArchiveReader`] opens an archive over `Read + Seek`, reading trailer, index and manifest
//!   (bounded by [`Limits`]), then gives random access to blobs by [`BlobId`], hash-checked, and a
//!   one-pass full check ([`ArchiveReader::verify_all`]).
//! - [`Manifest`] and its parts are domain types; their byte form lives in the private `wire`
//!   module only.
//!
//! ```ignore
//! use mbxa_format::*;
//! let mut f = ArchiveFile::create(Path::new("out.mbxa"))?;          // writes out.mbxa.part
//! let id = f.writer().add_blob(&exported_bytes)?;                     // dedups by SHA-256
//! f.sync()?;                                                          // durable: resume keeps it
//! let archive_id = f.finish(&manifest)?;                              // out.mbxa appears
//!
//! let mut r = ArchiveReader::open_path(Path::new("out.mbxa"))?;      // trailer, index, manifest
//! let bytes = r.read_blob(&id)?;                                      // hash-checked
//! r.verify_all(&mut |_entry| {})?;                                    // every byte, one pass
//! ```
//!
//! Choices the spec leaves to the implementation: zstd level 3 without zstd's own
//! multithreading, input fed in 128 KiB chunks (so the same bytes always give the same frame);
//! whole blobs may be compressed on worker threads ([`ArchiveWriter::set_threads`]) and are
//! written in the order they were added, so the output does not depend on the thread count; tar
//! headers are built by hand (not with the `tar` crate) so every byte is the spec's.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

mod constants;
mod digest;
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
    header_json, Limits, BLOB_PREFIX, BLOB_SUFFIX, FORMAT_NAME, HEADER_JSON, HEADER_JSON_V1,
    HEADER_NAME, INDEX_NAME, MANIFEST_NAME, READABLE_MAJORS, TRAILER_NAME, VERSION_MAJOR,
    VERSION_MINOR, ZSTD_LEVEL,
};
pub use digest::FileHasher;
pub use error::{Error, Result};
pub use file::ArchiveFile;
pub use frame::CheckedFrame;
pub use id::{ArchiveId, BlobId};
pub use model::{
    CaptureInfo, Folder, FolderDeltaLink, Item, ItemContent, MailboxKind, Manifest, Source,
};
pub use reader::{ArchiveReader, IndexEntry, Totals};
pub use writer::{blob_name, ArchiveWriter};
