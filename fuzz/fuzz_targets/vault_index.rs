//! Fuzzes the vault's on-disk decoders (index files and archive records): any bytes must give
//! `Ok` or `Err`, never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((pack, entries)) =
        mbxa_vault::decode_index_file(std::path::Path::new("fuzz.idx"), data)
    {
        // What decodes re-encodes to the same bytes.
        assert_eq!(mbxa_vault::encode_index_file(&pack, &entries), data);
    }
    if let Ok(r) = mbxa_vault::Record::decode(std::path::Path::new("fuzz.rec"), data) {
        let _ = r.check_layout();
    }
});
