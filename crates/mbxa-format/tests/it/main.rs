//! Integration tests of `mbxa-format`, one binary. Where new tests go:
//! - `roundtrip`: write → read equality, determinism, large/streamed blobs;
//! - `fixtures`: golden archives in `fixtures/v1/` (regenerated bit for bit) and corrupt ones;
//! - `external`: GNU tar / zstd / sha256sum agree with the spec;
//! - `damage`: every single-byte change is detected; short reads;
//! - `file`: `ArchiveFile` atomicity and resume.
//!
//! Shared builders live in `common`.

mod common;
mod damage;
mod external;
mod file;
mod fixtures;
mod roundtrip;
