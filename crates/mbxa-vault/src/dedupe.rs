//! `mbxa dedupe`: what a vault would store for a set of archives, without writing anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::id::{hex, Hash};
use crate::ingest::{self, Memo, Progress, Sink};
use crate::pack::ENTRY_HEADER;

/// Savings for one archive, in the order given.
#[derive(Debug, Clone, Serialize)]
pub struct DedupeArchive {
    /// The file.
    pub path: PathBuf,
    /// Its archive id (hex).
    pub archive_id: String,
    /// Its length.
    pub file_len: u64,
    /// Bytes a vault would add for it after the archives before it.
    pub new_bytes: u64,
}

/// The savings report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DedupeReport {
    /// Per archive.
    pub archives: Vec<DedupeArchive>,
    /// Sum of the archive files' lengths.
    pub total_file_bytes: u64,
    /// Blob frames across archives (with repeats).
    pub blobs: u64,
    /// Distinct blob ids.
    pub unique_blobs: u64,
    /// Uncompressed bytes of all blobs (with repeats).
    pub blob_bytes: u64,
    /// Uncompressed bytes of distinct blobs.
    pub unique_blob_bytes: u64,
    /// Chunks referenced (with repeats).
    pub chunks: u64,
    /// Distinct chunks.
    pub unique_chunks: u64,
    /// Raw bytes of distinct chunks.
    pub unique_chunk_bytes: u64,
    /// Frames that no recipe reproduced (stored as their own bytes).
    pub verbatim_frames: u64,
    /// What a vault would hold: packs (compressed chunks + entry headers), index files, records.
    pub vault_bytes: u64,
}

#[derive(Default)]
struct CountSink {
    seen: HashSet<Hash>,
    stored: u64,
    raw: u64,
}

impl Sink for CountSink {
    fn has(&self, id: &Hash) -> bool {
        self.seen.contains(id)
    }
    fn put(&mut self, id: &Hash, raw_len: u32, stored: &[u8]) -> Result<()> {
        if self.seen.insert(*id) {
            // Pack entry (header + bytes) and its 44-byte index file entry.
            self.stored += stored.len() as u64 + ENTRY_HEADER + 44;
            self.raw += u64::from(raw_len);
        }
        Ok(())
    }
}

/// Computes the savings report for `paths`.
pub fn dedupe(
    paths: &[PathBuf],
    progress: &(dyn Fn(&Path, &Progress) + Sync),
) -> Result<DedupeReport> {
    let mut sink = CountSink::default();
    let mut memo = Memo::default();
    let mut report = DedupeReport::default();
    let mut blob_ids = HashSet::new();
    let mut record_bytes = 0u64;
    for path in paths {
        let facts = ingest::facts(path)?;
        let file_len = std::fs::metadata(path)
            .map_err(|source| crate::Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        for f in &facts.frames {
            report.blobs += 1;
            report.blob_bytes += f.len;
            if blob_ids.insert(f.id) {
                report.unique_blobs += 1;
                report.unique_blob_bytes += f.len;
            }
        }
        let id = hex(&facts.archive_id);
        let before = sink.stored;
        let cb = |p: &Progress| progress(path, p);
        let (record, stats) = ingest::ingest(path, facts, file_len, &mut sink, &mut memo, &cb)?;
        let rec_len = record.encode()?.len() as u64;
        record_bytes += rec_len;
        report.chunks += stats.chunks;
        report.verbatim_frames += stats.frames_verbatim;
        report.total_file_bytes += file_len;
        report.archives.push(DedupeArchive {
            path: path.clone(),
            archive_id: id,
            file_len,
            new_bytes: sink.stored - before + rec_len,
        });
    }
    report.unique_chunks = sink.seen.len() as u64;
    report.unique_chunk_bytes = sink.raw;
    // Index files have an 8+32+4+32 byte frame around their entries; count one per 32 MiB pack.
    let packs = sink.stored.div_ceil(crate::DEFAULT_PACK_TARGET).max(1);
    report.vault_bytes = sink.stored + record_bytes + packs * (8 + 8 + 32 + 4 + 32);
    Ok(report)
}
