//! Archive records: everything needed to re-create one archive byte for byte.
//!
//! File `archives/<archive id>.rec`: `"MBXAREC1" | zstd frame of the postcard encoding of
//! [`Record`] | SHA-256 of all bytes before it (32)`. Writing this file is the commit point of
//! `vault add`; deleting it is the commit point of `vault forget`.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoCtx, Result};
use crate::id::{hex, sha256, Hash};
use crate::recipe::Recipe;

/// Magic at the start of a record file.
pub const RECORD_MAGIC: &[u8; 8] = b"MBXAREC1";
/// Largest decoded record accepted.
pub const MAX_RECORD: u64 = 1 << 30;

/// What `vault ls` shows about an archive without opening it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Tenant id of the source mailbox.
    pub tenant_id: String,
    /// User (UPN) of the source mailbox.
    pub user: String,
    /// Exchange mailbox id.
    pub mailbox_id: String,
    /// "primary" or "archive".
    pub kind: String,
    /// Capture start (RFC 3339).
    pub started_at: String,
    /// Capture end (RFC 3339).
    pub finished_at: String,
    /// Folders in the manifest.
    pub folders: u64,
    /// Items in the manifest.
    pub items: u64,
    /// Items whose export failed.
    pub failed_items: u64,
    /// Distinct blobs.
    pub blobs: u64,
    /// Uncompressed bytes of all blobs.
    pub blob_bytes: u64,
    /// zstd library version that verified the frame recipes at add time.
    pub zstd_version: String,
}

/// How one blob frame is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameBody {
    /// The blob's uncompressed bytes are these chunks; compressing them with the recipe gives the
    /// frame.
    Recompressed {
        /// The parameters.
        recipe: Recipe,
        /// Chunks of the uncompressed blob, in order.
        chunks: Vec<Hash>,
    },
    /// The frame's own bytes are these chunks (used when no recipe reproduced the frame).
    Verbatim {
        /// Chunks of the frame bytes, in order.
        chunks: Vec<Hash>,
    },
}

/// One blob frame of the archive, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRec {
    /// Raw (non-frame) bytes between the end of the previous frame (or the file start) and this
    /// frame; they are the next `gap` bytes of the raw stream.
    pub gap: u64,
    /// Length of the frame.
    pub frame_len: u64,
    /// SHA-256 of the frame bytes.
    pub frame_sha256: Hash,
    /// The blob's id (SHA-256 of its uncompressed bytes).
    pub blob_id: Hash,
    /// Uncompressed length.
    pub blob_len: u64,
    /// Where the bytes come from.
    pub body: FrameBody,
}

/// Everything needed to re-create one archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Record layout version (1).
    pub version: u32,
    /// The archive's id (as `mbxa info` prints it).
    pub archive_id: Hash,
    /// Length of the archive file.
    pub file_len: u64,
    /// SHA-256 of the whole archive file.
    pub file_sha256: Hash,
    /// When it was added (unix seconds).
    pub added_at: u64,
    /// Facts for listing.
    pub summary: Summary,
    /// Length of the raw stream: every byte of the file outside blob frames, concatenated.
    pub raw_len: u64,
    /// Chunks of the raw stream, in order.
    pub raw_chunks: Vec<Hash>,
    /// Blob frames in file order.
    pub frames: Vec<FrameRec>,
}

impl Record {
    /// Every chunk this record references (with repeats).
    pub fn chunks(&self) -> impl Iterator<Item = &Hash> {
        self.raw_chunks
            .iter()
            .chain(self.frames.iter().flat_map(|f| match &f.body {
                FrameBody::Recompressed { chunks, .. } | FrameBody::Verbatim { chunks } => {
                    chunks.iter()
                }
            }))
    }

    /// Checks the layout adds up: gaps within the raw stream, frames + raw = file.
    pub fn check_layout(&self) -> std::result::Result<(), String> {
        let mut gaps: u64 = 0;
        let mut frames: u64 = 0;
        for f in &self.frames {
            gaps = gaps.checked_add(f.gap).ok_or("gap overflow")?;
            frames = frames
                .checked_add(f.frame_len)
                .ok_or("frame length overflow")?;
        }
        if gaps > self.raw_len {
            return Err(format!(
                "gaps total {gaps} exceed the raw stream of {}",
                self.raw_len
            ));
        }
        if frames.checked_add(self.raw_len) != Some(self.file_len) {
            return Err(format!(
                "frames ({frames}) + raw ({}) != file length {}",
                self.raw_len, self.file_len
            ));
        }
        Ok(())
    }

    /// Encodes the record file.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = postcard::to_stdvec(self).map_err(|e| Error::Corrupt {
            path: PathBuf::from("<record>"),
            what: "record",
            offset: 0,
            detail: e.to_string(),
        })?;
        let z = zstd::bulk::compress(&body, 3).map_err(|source| Error::Io {
            path: PathBuf::from("<zstd>"),
            source,
        })?;
        let mut b = Vec::with_capacity(8 + z.len() + 32);
        b.extend_from_slice(RECORD_MAGIC);
        b.extend_from_slice(&z);
        let d = sha256(&b);
        b.extend_from_slice(&d);
        Ok(b)
    }

    /// Decodes a record file, checking magic, checksum, bounds and layout.
    pub fn decode(path: &Path, b: &[u8]) -> Result<Record> {
        let corrupt = |offset: usize, detail: String| Error::Corrupt {
            path: path.to_path_buf(),
            what: "record",
            offset: offset as u64,
            detail,
        };
        if b.len() < 8 + 32 || &b[..8] != RECORD_MAGIC {
            return Err(corrupt(0, "bad magic or too short".into()));
        }
        let body = &b[..b.len() - 32];
        if sha256(body)[..] != b[b.len() - 32..] {
            return Err(corrupt(b.len() - 32, "checksum mismatch".into()));
        }
        let mut raw = Vec::new();
        zstd::stream::read::Decoder::new(&body[8..])
            .map_err(|e| corrupt(8, e.to_string()))?
            .take(MAX_RECORD + 1)
            .read_to_end(&mut raw)
            .map_err(|e| corrupt(8, format!("zstd: {e}")))?;
        if raw.len() as u64 > MAX_RECORD {
            return Err(Error::TooLarge {
                what: "record",
                len: raw.len() as u64,
                max: MAX_RECORD,
            });
        }
        let r: Record =
            postcard::from_bytes(&raw).map_err(|e| corrupt(8, format!("postcard: {e}")))?;
        if r.version != 1 {
            return Err(corrupt(
                8,
                format!("record version {} is not supported", r.version),
            ));
        }
        r.check_layout().map_err(|e| corrupt(8, e))?;
        Ok(r)
    }
}

/// Path of an archive's record.
pub fn record_path(root: &Path, archive: &Hash) -> PathBuf {
    root.join("archives").join(format!("{}.rec", hex(archive)))
}

/// Reads and decodes a record file.
pub fn read_record(path: &Path) -> Result<Record> {
    let len = std::fs::metadata(path).ctx(path)?.len();
    if len > MAX_RECORD {
        return Err(Error::TooLarge {
            what: "record file",
            len,
            max: MAX_RECORD,
        });
    }
    let b = std::fs::read(path).ctx(path)?;
    Record::decode(path, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            version: 1,
            archive_id: sha256(b"a"),
            file_len: 1000,
            file_sha256: sha256(b"f"),
            added_at: 5,
            summary: Summary {
                user: "u@x".into(),
                items: 2,
                ..Summary::default()
            },
            raw_len: 900,
            raw_chunks: vec![sha256(b"r")],
            frames: vec![FrameRec {
                gap: 512,
                frame_len: 100,
                frame_sha256: sha256(b"fr"),
                blob_id: sha256(b"b"),
                blob_len: 300,
                body: FrameBody::Recompressed {
                    recipe: Recipe {
                        level: 3,
                        checksum: true,
                        content_size: true,
                        streaming: false,
                    },
                    chunks: vec![sha256(b"c")],
                },
            }],
        }
    }

    #[test]
    fn round_trip_and_every_flip_detected() {
        let r = sample();
        let b = r.encode().unwrap();
        assert_eq!(Record::decode(Path::new("x"), &b).unwrap(), r);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(Record::decode(Path::new("x"), &c).is_err(), "flip at {i}");
        }
        let mut bad = sample();
        bad.file_len = 1;
        assert!(Record::decode(Path::new("x"), &bad.encode().unwrap()).is_err());
    }
}
