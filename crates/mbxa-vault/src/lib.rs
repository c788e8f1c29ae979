//! A deduplicating, crash-safe vault of `.mbxa` archives that re-creates each one byte for byte.
//!
//! The vault is a plain directory (see `spec/vault-v1.md`): `config`, `packs/xx/<sha256>.pack`
//! (zstd-compressed chunks), `index/<pack>.idx` (one per pack), `archives/<archive id>.rec`
//! (one record per archive), `tmp/` and a `lock` file. Blobs are cut by content-defined
//! chunking of their *uncompressed* bytes, so near-identical re-exports and shared attachments
//! are stored once; each blob's zstd frame is re-created by re-compressing with recorded
//! parameters (checked at add time; frames that do not reproduce are stored verbatim). Every
//! other byte of the archive (tar headers, header, manifest, index, trailer) is one "raw
//! stream", chunked the same way.
//!
//! Crash safety: files are write-once (temp, fsync, rename, fsync dir); `add` writes packs,
//! then their index files, then the archive's record (the commit point); `prune` writes new
//! packs and index files before deleting old index files and then old packs. One exclusive
//! lock file serialises writers; a lock left by a dead process on the same host is broken.
//!
//! Memory: the chunk index costs 48 bytes per chunk in memory (sorted array of
//! id 32 + pack u32 + offset u32 + stored u32 + raw u32); chunks added by the running operation
//! sit in a hash map (≈ 81 bytes each at full load) until it ends. The test
//! `index::tests::memory_per_chunk_is_within_budget` measures it.

mod chunker;
mod dedupe;
mod error;
mod fsutil;
mod id;
mod index;
mod ingest;
mod lock;
mod pack;
mod recipe;
mod record;
pub mod synth;
mod vault;

pub use chunker::{AVG_CHUNK, MAX_CHUNK as MAX_CDC_CHUNK, MIN_CHUNK};
pub use dedupe::{dedupe, DedupeArchive, DedupeReport};
pub use error::{Error, Result};
pub use id::{hex, parse_hex, sha256, Hash};
pub use index::{decode as decode_index_file, encode as encode_index_file, Index, IndexEntry};
pub use ingest::{IngestStats, Progress};
pub use lock::VaultLock;
pub use pack::PackedChunk;
pub use recipe::Recipe;
pub use record::{FrameBody, FrameRec, Record, Summary};
pub use vault::{
    AddOutcome, ArchiveListing, Listing, ProblemKind, PruneReport, Vault, VaultProblem,
    VerifyReport, DEFAULT_PACK_TARGET,
};
