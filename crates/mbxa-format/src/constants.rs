//! Format constants of `spec/mbxa-v1.md` and `spec/mbxa-v2.md`; every number here is named in
//! the spec.

/// Value of the header's `format` field.
pub const FORMAT_NAME: &str = "mbxa";
/// Major version written by default. 2.0 is 1.0 with a BLAKE3 file digest (spec/mbxa-v2.md).
pub const VERSION_MAJOR: u16 = 2;
/// Major versions this reader reads (and this writer can write).
pub const READABLE_MAJORS: [u16; 2] = [1, 2];
/// Minor version written; readers accept any minor of their major.
pub const VERSION_MINOR: u16 = 0;
/// Manifest schema version (major) inside the manifest payload.
pub const MANIFEST_SCHEMA_MAJOR: u16 = 1;
/// Manifest schema minor version.
pub const MANIFEST_SCHEMA_MINOR: u16 = 0;

/// Name of the first entry (the JSON header).
pub const HEADER_NAME: &str = "mbxa.json";
/// Directory of blob entries.
pub const BLOB_PREFIX: &str = "blobs/";
/// Suffix of blob entries.
pub const BLOB_SUFFIX: &str = ".zst";
/// Name of the manifest entry.
pub const MANIFEST_NAME: &str = "manifest.zst";
/// Name of the index entry.
pub const INDEX_NAME: &str = "index.bin";
/// Name of the trailer entry.
pub const TRAILER_NAME: &str = "trailer.bin";

/// tar block size.
pub const BLOCK: u64 = 512;
/// Length of the trailer entry's data.
pub const TRAILER_LEN: usize = 256;
/// Bytes from the trailer's tar header to the end of the file:
/// header (512) + trailer data padded (512) + two zero blocks (1024).
pub const TAIL_LEN: u64 = 2048;
/// Magic at the start of the trailer data.
pub const TRAILER_MAGIC: &[u8; 8] = b"MBXATRLR";
/// Magic at the start of the index data.
pub const INDEX_MAGIC: &[u8; 8] = b"MBXAINDX";
/// Index header length (magic + count).
pub const INDEX_HEADER_LEN: u64 = 16;
/// Index record length (id 32 + offset 8 + stored_len 8 + len 8).
pub const INDEX_RECORD_LEN: u64 = 56;
/// Largest tar size field we write (11 octal digits).
pub const MAX_TAR_SIZE: u64 = 0o77_777_777_777;

/// zstd level used by the writer.
pub const ZSTD_LEVEL: i32 = 3;

/// The exact bytes of the header entry's data written for format 2.0 (the default).
pub const HEADER_JSON: &[u8] = b"{\"format\":\"mbxa\",\"major\":2,\"minor\":0,\"spec\":\"https://example.invalid/mbxa/spec/mbxa-v2.md\"}\n";
/// The exact bytes of the header entry's data written for format 1.0.
pub const HEADER_JSON_V1: &[u8] = b"{\"format\":\"mbxa\",\"major\":1,\"minor\":0,\"spec\":\"https://example.invalid/mbxa/spec/mbxa-v1.md\"}\n";

/// The header entry's data written for major version `major`, if it is one this crate writes.
pub fn header_json(major: u16) -> Option<&'static [u8]> {
    match major {
        1 => Some(HEADER_JSON_V1),
        2 => Some(HEADER_JSON),
        _ => None,
    }
}
/// Largest header entry a reader accepts.
pub const MAX_HEADER_LEN: u64 = 4096;

/// Limits a reader enforces so a hostile file cannot exhaust memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed blob (default 256 MiB; Exchange items reach ~150 MB).
    pub max_blob_len: u64,
    /// Most index entries, folders or items (each counted separately; default 4 Mi).
    pub max_entries: u64,
    /// Largest manifest, compressed or not (default 1 GiB).
    pub max_manifest_len: u64,
    /// Longest tar entry name (default 100, the ustar name field).
    pub max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blob_len: 256 << 20,
            max_entries: 4 << 20,
            max_manifest_len: 1 << 30,
            max_name_len: 100,
        }
    }
}

/// Rounds `n` up to a multiple of [`BLOCK`] (saturating: hostile lengths must not overflow).
pub(crate) fn pad512(n: u64) -> u64 {
    n.div_ceil(BLOCK).saturating_mul(BLOCK)
}
