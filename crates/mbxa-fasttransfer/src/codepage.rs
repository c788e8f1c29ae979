//! Code-page string types: Exchange's 12-bit code-page encoding and decoding through `encoding_rs`.

use encoding_rs::Encoding;

/// UTF-16LE code page.
pub const CP_UTF16LE: u32 = 1200;
/// Default code page for 8-bit strings without one (Windows-1252).
pub const CP_DEFAULT: u32 = 1252;

/// Decodes the low 12 bits of a code-page property type into a Windows code page, per Exchange's
/// `CodePagePropertyTypeTranslator` (§1.5). `None` for 4095 ("unknown") and unassigned values.
pub fn decode_type_codepage(ptype: u16) -> Option<u32> {
    let enc = u32::from(ptype & 0x0FFF);
    Some(match enc {
        0..=3583 => enc,
        3584..=3711 => enc + 6416,
        3712..=4012 => enc + 16288,
        4013 => 28591,
        4014..=4020 => enc - 4014 + 28593,
        4021 => 20269,
        4022 => 21027,
        4023 => 29001,
        4024 => 54936,
        4089 => 28605,
        4090 => 21866,
        4091 => 65001,
        4092 => 65000,
        4093 => 20866,
        4094 => 28592,
        _ => return None,
    })
}

/// The inverse of [`decode_type_codepage`]: the 12-bit value for a code page, if it has one.
pub fn encode_type_codepage(cp: u32) -> Option<u16> {
    let enc = match cp {
        0..=3583 => cp,
        10000..=10127 => cp - 6416,
        20000..=20300 => cp - 16288,
        28591 => 4013,
        28593..=28599 => cp - 28593 + 4014,
        21027 => 4022,
        29001 => 4023,
        54936 => 4024,
        28605 => 4089,
        21866 => 4090,
        65001 => 4091,
        65000 => 4092,
        20866 => 4093,
        28592 => 4094,
        _ => return None,
    };
    u16::try_from(enc).ok()
}

/// The `encoding_rs` encoding for a Windows code page, if supported.
pub fn encoding_for(cp: u32) -> Option<&'static Encoding> {
    use encoding_rs::*;
    Some(match cp {
        1200 => UTF_16LE,
        1201 => UTF_16BE,
        65001 => UTF_8,
        874 => WINDOWS_874,
        932 => SHIFT_JIS,
        936 => GBK,
        949 => EUC_KR,
        950 => BIG5,
        866 => IBM866,
        1250 => WINDOWS_1250,
        1251 => WINDOWS_1251,
        1252 | 20127 | 28591 => WINDOWS_1252,
        1253 => WINDOWS_1253,
        1254 => WINDOWS_1254,
        1255 => WINDOWS_1255,
        1256 => WINDOWS_1256,
        1257 => WINDOWS_1257,
        1258 => WINDOWS_1258,
        10000 => MACINTOSH,
        10007 => X_MAC_CYRILLIC,
        20866 => KOI8_R,
        21866 => KOI8_U,
        20932 | 51932 => EUC_JP,
        50220..=50222 => ISO_2022_JP,
        28592 => ISO_8859_2,
        28593 => ISO_8859_3,
        28594 => ISO_8859_4,
        28595 => ISO_8859_5,
        28596 => ISO_8859_6,
        28597 => ISO_8859_7,
        28598 | 38598 => ISO_8859_8,
        28603 => ISO_8859_13,
        28605 => ISO_8859_15,
        54936 => GB18030,
        _ => return None,
    })
}

/// Strips trailing NUL code units (UTF-16) and decodes, lossily. A dangling odd byte is dropped.
/// Returns the text and whether anything was lossy or dropped.
pub fn decode_utf16(bytes: &[u8]) -> (String, bool) {
    let mut lossy = bytes.len() % 2 == 1;
    let even = &bytes[..bytes.len() - bytes.len() % 2];
    let mut units: Vec<u16> = even
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    while units.last() == Some(&0) {
        units.pop();
    }
    let mut out = String::with_capacity(units.len());
    for r in char::decode_utf16(units.iter().copied()) {
        match r {
            Ok(c) => out.push(c),
            Err(_) => {
                lossy = true;
                out.push('\u{FFFD}');
            }
        }
    }
    (out, lossy)
}

/// Decodes an 8-bit string in code page `cp` (trailing NULs stripped). `None` if the code page is
/// unsupported; otherwise the text and whether the decode was lossy.
pub fn decode_8bit(bytes: &[u8], cp: u32) -> Option<(String, bool)> {
    if cp == CP_UTF16LE {
        return Some(decode_utf16(bytes));
    }
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == 0 {
        end -= 1;
    }
    let bytes = &bytes[..end];
    let enc = encoding_for(cp)?;
    let (s, _, had_errors) = enc.decode(bytes);
    Some((s.into_owned(), had_errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_table() {
        assert_eq!(decode_type_codepage(0x84B0), Some(1200));
        assert_eq!(decode_type_codepage(0x94B0), Some(1200));
        assert_eq!(decode_type_codepage(0x84E4), Some(1252));
        assert_eq!(decode_type_codepage(0x8000 | 3839), Some(20127));
        assert_eq!(decode_type_codepage(0x8000 | 3584), Some(10000));
        assert_eq!(decode_type_codepage(0x8000 | 4013), Some(28591));
        assert_eq!(decode_type_codepage(0x8000 | 4016), Some(28595));
        assert_eq!(decode_type_codepage(0x8000 | 4024), Some(54936));
        assert_eq!(decode_type_codepage(0x8000 | 4091), Some(65001));
        assert_eq!(decode_type_codepage(0x8000 | 4095), None);
        for enc in 0u16..4096 {
            if let Some(cp) = decode_type_codepage(0x8000 | enc) {
                let back = encode_type_codepage(cp).expect("encodable");
                assert_eq!(decode_type_codepage(0x8000 | back), Some(cp), "cp {cp}");
            }
        }
    }

    #[test]
    fn utf16_terminators_and_odd_lengths() {
        assert_eq!(decode_utf16(b"H\0i\0\0\0"), ("Hi".into(), false));
        assert_eq!(decode_utf16(b"H\0i\0"), ("Hi".into(), false));
        assert_eq!(decode_utf16(b"H\0i\0\0\0\0\0"), ("Hi".into(), false));
        assert_eq!(decode_utf16(b"H\0i\0x"), ("Hi".into(), true));
        assert_eq!(decode_utf16(b"\0\xD8"), ("\u{FFFD}".into(), true));
    }

    #[test]
    fn eight_bit() {
        assert_eq!(
            decode_8bit(b"caf\xE9\0", 1252),
            Some(("café".into(), false))
        );
        assert_eq!(
            decode_8bit("привет".as_bytes(), 65001).map(|x| x.0),
            Some("привет".into())
        );
        assert_eq!(
            decode_8bit(b"\xF0\xE5", 1251).map(|x| x.0),
            Some("ре".into())
        );
        assert_eq!(decode_8bit(b"abc", 437), None);
    }
}
