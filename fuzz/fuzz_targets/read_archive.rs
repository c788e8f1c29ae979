//! Raw bytes into `ArchiveReader`: open, then the full check and every blob read must return
//! (Ok or Err) without panicking or allocating beyond the limits.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use mbxa_format::{ArchiveReader, Limits};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run cheap; the code paths are the same.
    let limits = Limits { max_blob_len: 16 << 20, max_manifest_len: 16 << 20, ..Limits::default() };
    let Ok(mut r) = ArchiveReader::open_with_limits(Cursor::new(data), limits) else { return };
    let _ = r.manifest().folder_paths();
    let ids: Vec<_> = r.index().iter().map(|e| e.id).collect();
    for id in &ids {
        let _ = r.read_blob(id);
        let _ = r.raw_frame(id);
    }
    let _ = r.verify_all(&mut |_| {});
    let _ = r.verify_file_digest();
});
