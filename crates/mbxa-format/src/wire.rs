//! The serialized forms (spec §5–§7): manifest records (postcard), index records and the trailer.
//!
//! Only this module knows the byte layout; the rest of the crate works with [`crate::model`] types.
//! Manifest records are length-prefixed so a minor version can append fields to any record and an
//! older reader skips what it does not know.

use serde::{Deserialize, Serialize};

use crate::constants::*;
use crate::error::{Error, Result};
use crate::id::{ArchiveId, BlobId};
use crate::model::*;
use crate::IndexEntry;

/// `Source` record (spec §5.2).
#[derive(Serialize, Deserialize)]
pub(crate) struct SourceV1 {
    pub tenant_id: String,
    pub user: String,
    pub mailbox_id: String,
    pub kind: KindV1,
}

/// Mailbox kind: varint 0 = primary, 1 = archive.
#[derive(Serialize, Deserialize)]
pub(crate) enum KindV1 {
    Primary,
    Archive,
}

/// `Capture` record (spec §5.3).
#[derive(Serialize, Deserialize)]
pub(crate) struct CaptureV1 {
    pub tool_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub base_archive: Option<[u8; 32]>,
    pub folders_delta_link: Option<String>,
    pub item_delta_links: Vec<(String, String)>,
}

/// `Folder` record (spec §5.4).
#[derive(Serialize, Deserialize)]
pub(crate) struct FolderV1 {
    pub id: String,
    pub parent_id: Option<String>,
    pub display_name: String,
    pub folder_class: String,
    pub well_known_name: Option<String>,
    pub item_count: u64,
}

/// `Item` record (spec §5.5).
#[derive(Serialize, Deserialize)]
pub(crate) struct ItemV1 {
    pub id: String,
    pub folder_id: String,
    pub change_key: String,
    pub created: String,
    pub last_modified: String,
    pub size: u64,
    pub message_class: String,
    pub content: ContentV1,
}

/// Item content: varint 0 = blob, 1 = export failed.
#[derive(Serialize, Deserialize)]
pub(crate) enum ContentV1 {
    Blob { digest: [u8; 32], len: u64 },
    ExportFailed { code: String, message: String },
}

/// The manifest payload (spec §5.1), as written.
#[derive(Serialize)]
struct EnvelopeV1<'a> {
    schema_major: u16,
    schema_minor: u16,
    source: &'a [u8],
    capture: &'a [u8],
    folders: Vec<&'a [u8]>,
    items: Vec<&'a [u8]>,
}

fn ser<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| Error::InvalidManifest(e.to_string()))
}

/// Encodes a manifest into its uncompressed payload bytes.
pub(crate) fn encode_manifest(m: &Manifest) -> Result<Vec<u8>> {
    let source = ser(&SourceV1 {
        tenant_id: m.source.tenant_id.clone(),
        user: m.source.user.clone(),
        mailbox_id: m.source.mailbox_id.clone(),
        kind: match m.source.kind {
            MailboxKind::Primary => KindV1::Primary,
            MailboxKind::Archive => KindV1::Archive,
        },
    })?;
    let c = &m.capture;
    let capture = ser(&CaptureV1 {
        tool_version: c.tool_version.clone(),
        started_at: c.started_at.clone(),
        finished_at: c.finished_at.clone(),
        base_archive: c.base_archive.map(|a| a.0),
        folders_delta_link: c.folders_delta_link.clone(),
        item_delta_links: c
            .item_delta_links
            .iter()
            .map(|l| (l.folder_id.clone(), l.delta_link.clone()))
            .collect(),
    })?;
    let folders = m
        .folders
        .iter()
        .map(|f| {
            ser(&FolderV1 {
                id: f.id.clone(),
                parent_id: f.parent_id.clone(),
                display_name: f.display_name.clone(),
                folder_class: f.folder_class.clone(),
                well_known_name: f.well_known_name.clone(),
                item_count: f.item_count,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let items = m
        .items
        .iter()
        .map(|i| {
            ser(&ItemV1 {
                id: i.id.clone(),
                folder_id: i.folder_id.clone(),
                change_key: i.change_key.clone(),
                created: i.created.clone(),
                last_modified: i.last_modified.clone(),
                size: i.size,
                message_class: i.message_class.clone(),
                content: match &i.content {
                    ItemContent::Blob { id, len } => ContentV1::Blob {
                        digest: id.0,
                        len: *len,
                    },
                    ItemContent::ExportFailed { code, message } => ContentV1::ExportFailed {
                        code: code.clone(),
                        message: message.clone(),
                    },
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    ser(&EnvelopeV1 {
        schema_major: MANIFEST_SCHEMA_MAJOR,
        schema_minor: MANIFEST_SCHEMA_MINOR,
        source: &source,
        capture: &capture,
        folders: folders.iter().map(|v| v.as_slice()).collect(),
        items: items.iter().map(|v| v.as_slice()).collect(),
    })
}

/// A cursor over postcard-encoded bytes that bounds every count before allocating.
struct Cursor<'a> {
    rest: &'a [u8],
    offset: u64,
}

impl<'a> Cursor<'a> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::BadManifest {
            offset: self.offset,
            reason: reason.into(),
        }
    }
    fn take<T: Deserialize<'a>>(&mut self, what: &str) -> Result<T> {
        let (v, rest) = postcard::take_from_bytes::<T>(self.rest)
            .map_err(|e| self.bad(format!("{what}: {e}")))?;
        self.rest = rest;
        Ok(v)
    }
    fn count(&mut self, what: &'static str, limit: u64) -> Result<u64> {
        let n: u64 = self.take(what)?;
        if n > limit {
            return Err(Error::LimitExceeded {
                what,
                value: n,
                limit,
                offset: self.offset,
            });
        }
        // Every record is at least one byte (its length prefix), so a count larger than the bytes
        // left is corrupt; checking it here bounds the Vec allocations below.
        if n > self.rest.len() as u64 {
            return Err(self.bad(format!("{what} count {n} exceeds the remaining bytes")));
        }
        Ok(n)
    }
}

/// Decodes one record, ignoring trailing fields only when the writer's minor is newer than ours.
fn record<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    newer_minor: bool,
    what: &str,
    offset: u64,
) -> Result<T> {
    let (v, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| Error::BadManifest {
        offset,
        reason: format!("{what} record: {e}"),
    })?;
    if !rest.is_empty() && !newer_minor {
        return Err(Error::BadManifest {
            offset,
            reason: format!("{what} record has {} unexpected trailing bytes", rest.len()),
        });
    }
    Ok(v)
}

/// Most list elements preallocated before decoding.
const PREALLOC: u64 = 1 << 16;

/// Decodes a manifest payload. `offset` is only used in error messages (the manifest entry's data).
pub(crate) fn decode_manifest(bytes: &[u8], limits: &Limits, offset: u64) -> Result<Manifest> {
    let mut c = Cursor {
        rest: bytes,
        offset,
    };
    let major: u16 = c.take("schema_major")?;
    let minor: u16 = c.take("schema_minor")?;
    if major != MANIFEST_SCHEMA_MAJOR {
        return Err(c.bad(format!("unsupported manifest schema {major}.{minor}")));
    }
    let newer = minor > MANIFEST_SCHEMA_MINOR;
    let src: &[u8] = c.take("source")?;
    let s: SourceV1 = record(src, newer, "source", offset)?;
    let cap: &[u8] = c.take("capture")?;
    let k: CaptureV1 = record(cap, newer, "capture", offset)?;
    let nf = c.count("folder count", limits.max_entries)?;
    // Preallocate modestly: a record of a few bytes expands to a much larger `Folder`/`Item`.
    let mut folders = Vec::with_capacity(nf.min(PREALLOC) as usize);
    for _ in 0..nf {
        let r: &[u8] = c.take("folder")?;
        let f: FolderV1 = record(r, newer, "folder", offset)?;
        folders.push(Folder {
            id: f.id,
            parent_id: f.parent_id,
            display_name: f.display_name,
            folder_class: f.folder_class,
            well_known_name: f.well_known_name,
            item_count: f.item_count,
        });
    }
    let ni = c.count("item count", limits.max_entries)?;
    let mut items = Vec::with_capacity(ni.min(PREALLOC) as usize);
    for _ in 0..ni {
        let r: &[u8] = c.take("item")?;
        let i: ItemV1 = record(r, newer, "item", offset)?;
        items.push(Item {
            id: i.id,
            folder_id: i.folder_id,
            change_key: i.change_key,
            created: i.created,
            last_modified: i.last_modified,
            size: i.size,
            message_class: i.message_class,
            content: match i.content {
                ContentV1::Blob { digest, len } => ItemContent::Blob {
                    id: BlobId(digest),
                    len,
                },
                ContentV1::ExportFailed { code, message } => {
                    ItemContent::ExportFailed { code, message }
                }
            },
        });
    }
    if !c.rest.is_empty() && !newer {
        return Err(c.bad(format!(
            "{} unexpected trailing bytes after the item list",
            c.rest.len()
        )));
    }
    Ok(Manifest {
        source: Source {
            tenant_id: s.tenant_id,
            user: s.user,
            mailbox_id: s.mailbox_id,
            kind: match s.kind {
                KindV1::Primary => MailboxKind::Primary,
                KindV1::Archive => MailboxKind::Archive,
            },
        },
        capture: CaptureInfo {
            tool_version: k.tool_version,
            started_at: k.started_at,
            finished_at: k.finished_at,
            base_archive: k.base_archive.map(ArchiveId),
            folders_delta_link: k.folders_delta_link,
            item_delta_links: k
                .item_delta_links
                .into_iter()
                .map(|(folder_id, delta_link)| FolderDeltaLink {
                    folder_id,
                    delta_link,
                })
                .collect(),
        },
        folders,
        items,
    })
}

/// Encodes the index (entries must be sorted by id, without duplicates).
pub(crate) fn encode_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity((INDEX_HEADER_LEN + INDEX_RECORD_LEN * entries.len() as u64) as usize);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&e.id.0);
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.stored_len.to_le_bytes());
        out.extend_from_slice(&e.len.to_le_bytes());
    }
    out
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Decodes and checks the index: magic, count, strict order, record sanity.
///
/// `blob_end` is the offset of the manifest entry's tar header: every blob frame lies before it.
pub(crate) fn decode_index(
    b: &[u8],
    offset: u64,
    blob_end: u64,
    limits: &Limits,
) -> Result<Vec<IndexEntry>> {
    let bad = |off: u64, reason: String| Error::BadIndex {
        offset: off,
        reason,
    };
    if (b.len() as u64) < INDEX_HEADER_LEN || &b[..8] != INDEX_MAGIC {
        return Err(bad(offset, "missing index magic".into()));
    }
    let n = le64(b, 8);
    if n > limits.max_entries {
        return Err(Error::LimitExceeded {
            what: "index entry count",
            value: n,
            limit: limits.max_entries,
            offset,
        });
    }
    if INDEX_HEADER_LEN + n * INDEX_RECORD_LEN != b.len() as u64 {
        return Err(bad(
            offset,
            format!("index of {} bytes cannot hold {n} records", b.len()),
        ));
    }
    let mut out: Vec<IndexEntry> = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let at = INDEX_HEADER_LEN as usize + i * INDEX_RECORD_LEN as usize;
        let roff = offset + at as u64;
        let mut id = [0u8; 32];
        id.copy_from_slice(&b[at..at + 32]);
        let e = IndexEntry {
            id: BlobId(id),
            offset: le64(b, at + 32),
            stored_len: le64(b, at + 40),
            len: le64(b, at + 48),
        };
        if let Some(prev) = out.last() {
            if prev.id == e.id {
                return Err(Error::DuplicateBlob {
                    id: e.id,
                    offset: roff,
                });
            }
            if prev.id > e.id {
                return Err(bad(roff, "records are not sorted by blob id".into()));
            }
        }
        if e.len > limits.max_blob_len {
            return Err(Error::LimitExceeded {
                what: "blob length",
                value: e.len,
                limit: limits.max_blob_len,
                offset: roff,
            });
        }
        // The first blob frame can start at 3*512: header entry (2 blocks) + the blob's tar header.
        if !e.offset.is_multiple_of(BLOCK)
            || e.offset < 3 * BLOCK
            || e.stored_len == 0
            || e.offset
                .checked_add(pad512(e.stored_len))
                .is_none_or(|end| end > blob_end)
        {
            return Err(bad(
                roff,
                format!("record for {} points outside the blob area", e.id),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// The trailer fields (spec §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub major: u16,
    pub minor: u16,
    pub archive_id: ArchiveId,
    pub file_digest: [u8; 32],
    pub trailer_offset: u64,
    pub manifest_offset: u64,
    pub manifest_stored_len: u64,
    pub manifest_len: u64,
    pub index_offset: u64,
    pub index_len: u64,
    pub index_digest: [u8; 32],
    pub blob_count: u64,
    pub blob_bytes: u64,
    pub blob_stored_bytes: u64,
}

impl Trailer {
    /// The 256 trailer bytes, ending with the SHA-256 of the first 224.
    pub(crate) fn encode(&self) -> [u8; TRAILER_LEN] {
        use sha2::{Digest, Sha256};
        let mut t = [0u8; TRAILER_LEN];
        t[0..8].copy_from_slice(TRAILER_MAGIC);
        t[8..10].copy_from_slice(&self.major.to_le_bytes());
        t[10..12].copy_from_slice(&self.minor.to_le_bytes());
        // 12..16 flags: zero in v1.0
        t[16..48].copy_from_slice(&self.archive_id.0);
        t[48..80].copy_from_slice(&self.file_digest);
        let fields = [
            self.trailer_offset,
            self.manifest_offset,
            self.manifest_stored_len,
            self.manifest_len,
            self.index_offset,
            self.index_len,
        ];
        for (i, v) in fields.iter().enumerate() {
            t[80 + 8 * i..88 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        t[128..160].copy_from_slice(&self.index_digest);
        t[160..168].copy_from_slice(&self.blob_count.to_le_bytes());
        t[168..176].copy_from_slice(&self.blob_bytes.to_le_bytes());
        t[176..184].copy_from_slice(&self.blob_stored_bytes.to_le_bytes());
        // 184..224 reserved: zero
        let d = Sha256::digest(&t[..224]);
        t[224..256].copy_from_slice(&d);
        t
    }

    /// Parses trailer bytes read at `offset` (of the trailer data), checking magic, version and
    /// the self-digest.
    pub(crate) fn decode(t: &[u8; TRAILER_LEN], offset: u64) -> Result<Trailer> {
        use sha2::{Digest, Sha256};
        if &t[0..8] != TRAILER_MAGIC {
            return Err(Error::BadTrailer {
                offset,
                reason: "missing trailer magic".into(),
            });
        }
        let d: [u8; 32] = Sha256::digest(&t[..224]).into();
        if d[..] != t[224..256] {
            return Err(Error::TrailerDigestMismatch { offset });
        }
        let major = u16::from_le_bytes([t[8], t[9]]);
        let minor = u16::from_le_bytes([t[10], t[11]]);
        if !READABLE_MAJORS.contains(&major) {
            return Err(Error::UnsupportedVersion { major, minor });
        }
        let newer = minor > VERSION_MINOR;
        if !newer && (t[12..16] != [0; 4] || t[184..224].iter().any(|&b| b != 0)) {
            return Err(Error::BadTrailer {
                offset,
                reason: "reserved bytes are not zero".into(),
            });
        }
        let mut archive_id = [0u8; 32];
        archive_id.copy_from_slice(&t[16..48]);
        let mut file_digest = [0u8; 32];
        file_digest.copy_from_slice(&t[48..80]);
        let mut index_digest = [0u8; 32];
        index_digest.copy_from_slice(&t[128..160]);
        Ok(Trailer {
            major,
            minor,
            archive_id: ArchiveId(archive_id),
            file_digest,
            trailer_offset: le64(t, 80),
            manifest_offset: le64(t, 88),
            manifest_stored_len: le64(t, 96),
            manifest_len: le64(t, 104),
            index_offset: le64(t, 112),
            index_len: le64(t, 120),
            index_digest,
            blob_count: le64(t, 160),
            blob_bytes: le64(t, 168),
            blob_stored_bytes: le64(t, 176),
        })
    }
}

/// The header entry's JSON (spec §3); unknown keys are ignored.
#[derive(Deserialize)]
pub(crate) struct HeaderJson {
    pub format: String,
    pub major: u16,
    pub minor: u16,
}
