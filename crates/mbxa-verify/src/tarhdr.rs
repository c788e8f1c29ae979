//! The fixed ustar header of spec/mbxa-v1.md, rebuilt here to compare every header byte.

/// The 512-byte header mbxa writes for an entry `name` of `size` bytes.
pub(crate) fn build(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let nb = name.as_bytes();
    let n = nb.len().min(100);
    h[..n].copy_from_slice(&nb[..n]);
    h[100..108].copy_from_slice(b"0000600\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    let sz = format!("{:011o}\0", size.min(0o77_777_777_777));
    h[124..136].copy_from_slice(sz.as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[329..337].copy_from_slice(b"0000000\0");
    h[337..345].copy_from_slice(b"0000000\0");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let cs = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cs.as_bytes());
    h
}

/// Name of the first header field where `a` and `b` differ.
pub(crate) fn first_difference(a: &[u8; 512], b: &[u8; 512]) -> &'static str {
    const FIELDS: &[(&str, usize, usize)] = &[
        ("name", 0, 100),
        ("mode", 100, 108),
        ("uid", 108, 116),
        ("gid", 116, 124),
        ("size", 124, 136),
        ("mtime", 136, 148),
        ("chksum", 148, 156),
        ("typeflag", 156, 157),
        ("linkname", 157, 257),
        ("magic", 257, 263),
        ("version", 263, 265),
        ("uname", 265, 297),
        ("gname", 297, 329),
        ("devmajor", 329, 337),
        ("devminor", 337, 345),
        ("prefix", 345, 500),
        ("pad", 500, 512),
    ];
    FIELDS
        .iter()
        .find(|(_, s, e)| a[*s..*e] != b[*s..*e])
        .map(|f| f.0)
        .unwrap_or("?")
}
