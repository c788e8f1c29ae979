//! The one fixed ustar header form every entry uses, built and checked byte for byte.
//!
//! Every field except `name`, `size` and `chksum` is a constant, so a reader validates a header by
//! rebuilding it from (name, size) and comparing all 512 bytes.

use crate::constants::{BLOCK, MAX_TAR_SIZE};
use crate::error::{Error, Result};

/// A 512-byte tar header block.
pub(crate) type Block = [u8; BLOCK as usize];

/// Builds the header for an entry. `name` must be ≤ 100 bytes of ASCII and `size` ≤ [`MAX_TAR_SIZE`].
pub(crate) fn build(name: &str, size: u64) -> Result<Block> {
    let nb = name.as_bytes();
    if nb.is_empty() || nb.len() > 100 {
        return Err(Error::LimitExceeded {
            what: "entry name length",
            value: nb.len() as u64,
            limit: 100,
            offset: 0,
        });
    }
    if size > MAX_TAR_SIZE {
        return Err(Error::LimitExceeded {
            what: "entry size",
            value: size,
            limit: MAX_TAR_SIZE,
            offset: 0,
        });
    }
    let mut h = [0u8; BLOCK as usize];
    h[..nb.len()].copy_from_slice(nb);
    h[100..108].copy_from_slice(b"0000600\0"); // mode
    h[108..116].copy_from_slice(b"0000000\0"); // uid
    h[116..124].copy_from_slice(b"0000000\0"); // gid
    let sz = format!("{size:011o}\0");
    h[124..136].copy_from_slice(sz.as_bytes()); // size
    h[136..148].copy_from_slice(b"00000000000\0"); // mtime
    h[148..156].copy_from_slice(b"        "); // chksum placeholder
    h[156] = b'0'; // typeflag: regular file
    h[257..263].copy_from_slice(b"ustar\0"); // magic
    h[263..265].copy_from_slice(b"00"); // version
                                        // uname, gname: empty (all zero)
    h[329..337].copy_from_slice(b"0000000\0"); // devmajor
    h[337..345].copy_from_slice(b"0000000\0"); // devminor
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let cs = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cs.as_bytes());
    Ok(h)
}

/// Parses and validates a header block at `offset`: returns (name, size).
///
/// The block must be exactly what [`build`] produces for that name and size.
pub(crate) fn parse(h: &Block, offset: u64, max_name_len: usize) -> Result<(String, u64)> {
    let bad = |reason: &str| Error::BadTarHeader {
        offset,
        reason: reason.to_string(),
    };
    if h.iter().all(|&b| b == 0) {
        return Err(bad("zero block where an entry header was expected"));
    }
    let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
    let name_bytes = &h[..name_end];
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let size_field = &h[124..136];
    if size_field[11] != 0 || !size_field[..11].iter().all(|b| (b'0'..=b'7').contains(b)) {
        return Err(bad("size field is not 11 octal digits and a NUL"));
    }
    let mut size = 0u64;
    for &d in &size_field[..11] {
        size = size * 8 + u64::from(d - b'0');
    }
    if name_bytes.is_empty()
        || name_bytes.len() > max_name_len
        || !name_bytes.iter().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::BadEntryName { offset, name });
    }
    let expected = build(&name, size).map_err(|_| bad("unbuildable header"))?;
    if &expected != h {
        // Say which field differs, to make damage reports useful.
        let field = FIELDS
            .iter()
            .find(|(_, r)| expected[r.clone()] != h[r.clone()])
            .map(|(n, _)| *n)
            .unwrap_or("?");
        return Err(bad(&format!(
            "field `{field}` differs from the fixed mbxa form"
        )));
    }
    Ok((name, size))
}

const FIELDS: &[(&str, std::ops::Range<usize>)] = &[
    ("name", 0..100),
    ("mode", 100..108),
    ("uid", 108..116),
    ("gid", 116..124),
    ("size", 124..136),
    ("mtime", 136..148),
    ("chksum", 148..156),
    ("typeflag", 156..157),
    ("linkname", 157..257),
    ("magic", 257..263),
    ("version", 263..265),
    ("uname", 265..297),
    ("gname", 297..329),
    ("devmajor", 329..337),
    ("devminor", 337..345),
    ("prefix", 345..500),
    ("pad", 500..512),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_matches_tar_crate_checksum_and_parses_back() {
        let h = build("blobs/x.zst", 1234).unwrap();
        let th = tar::Header::from_byte_slice(&h);
        // tar-rs writes the checksum as 7 digits + NUL, we write GNU's 6 digits + NUL + space:
        // the values must agree.
        let mut again = th.clone();
        again.set_cksum();
        assert_eq!(again.cksum().unwrap(), th.cksum().unwrap());
        assert_eq!(again.as_bytes()[..148], h[..148]);
        assert_eq!(th.size().unwrap(), 1234);
        assert_eq!(th.path().unwrap().to_str().unwrap(), "blobs/x.zst");
        assert_eq!(
            parse(&h, 0, 100).unwrap(),
            ("blobs/x.zst".to_string(), 1234)
        );
        let mut h2 = h;
        h2[300] = 1;
        assert!(matches!(
            parse(&h2, 7, 100),
            Err(Error::BadTarHeader { offset: 7, .. })
        ));
    }
}
