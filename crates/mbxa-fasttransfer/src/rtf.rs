//! Compressed RTF (MS-OXRTFCP): LZFu and MELA decompression, MELA / LZFu (literal) compression, and
//! recovery of HTML or plain text from RTF (MS-OXRTFEX `\fromhtml1`, `\fromtext`, or plain RTF).

use crate::codepage;
use crate::error::RtfError;

const LZFU: u32 = 0x7546_5A4C;
const MELA: u32 = 0x414C_454D;

/// The fixed dictionary prologue (207 bytes).
pub const PROLOGUE: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Largest decompressed size accepted.
pub const MAX_RAW_SIZE: u32 = 256 << 20;

/// The MS-OXRTFCP CRC: reflected CRC-32 (poly 0xEDB88320), initial value 0, no final XOR.
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut crc = 0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decompresses PidTagRtfCompressed bytes.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, RtfError> {
    if data.len() < 16 {
        return Err(RtfError::Truncated("header"));
    }
    let comp_size = u32_at(data, 0) as usize;
    let raw_size = u32_at(data, 4);
    let comp_type = u32_at(data, 8);
    let crc = u32_at(data, 12);
    if raw_size > MAX_RAW_SIZE {
        return Err(RtfError::TooLarge(raw_size));
    }
    // COMPSIZE counts everything after itself; tolerate a blob longer than claimed.
    let end = comp_size.saturating_add(4).min(data.len()).max(16);
    let body = &data[16..end];
    match comp_type {
        MELA => {
            let n = (raw_size as usize).min(body.len());
            Ok(body[..n].to_vec())
        }
        LZFU => {
            let actual = crc32(body);
            if actual != crc {
                return Err(RtfError::Crc {
                    expected: crc,
                    actual,
                });
            }
            lzfu(body, raw_size as usize)
        }
        other => Err(RtfError::UnknownType(other)),
    }
}

fn lzfu(body: &[u8], raw_size: usize) -> Result<Vec<u8>, RtfError> {
    let mut dict = [0u8; 4096];
    dict[..PROLOGUE.len()].copy_from_slice(PROLOGUE);
    let mut wpos = PROLOGUE.len();
    // Each input byte yields at most 17 output bytes: bound the allocation by the input too.
    let mut out = Vec::with_capacity(raw_size.min(body.len().saturating_mul(17)));
    let mut i = 0;
    while i < body.len() {
        let control = body[i];
        i += 1;
        for bit in 0..8 {
            if i >= body.len() {
                break;
            }
            if control & (1 << bit) == 0 {
                let b = body[i];
                i += 1;
                out.push(b);
                dict[wpos] = b;
                wpos = (wpos + 1) % 4096;
            } else {
                if i + 1 >= body.len() {
                    return Err(RtfError::Truncated("LZFu reference"));
                }
                let tok = u16::from_be_bytes([body[i], body[i + 1]]);
                i += 2;
                let offset = usize::from(tok >> 4);
                let len = usize::from(tok & 0xF) + 2;
                if offset == wpos {
                    return Ok(finish(out, raw_size));
                }
                for k in 0..len {
                    let b = dict[(offset + k) % 4096];
                    out.push(b);
                    dict[wpos] = b;
                    wpos = (wpos + 1) % 4096;
                }
            }
            if out.len() > raw_size.saturating_add(17) {
                return Ok(finish(out, raw_size));
            }
        }
    }
    Ok(finish(out, raw_size))
}

fn finish(mut out: Vec<u8>, raw_size: usize) -> Vec<u8> {
    out.truncate(raw_size);
    out
}

/// Wraps RTF in an uncompressed (MELA) PidTagRtfCompressed container.
pub fn compress_mela(rtf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rtf.len() + 16);
    out.extend_from_slice(&((rtf.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
    out.extend_from_slice(&MELA.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(rtf);
    out
}

/// Writes RTF as LZFu using literals only (valid LZFu, no compression); for fixtures.
pub fn compress_lzfu_literal(rtf: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rtf.len() + rtf.len() / 8 + 4);
    let mut chunks = rtf.chunks(8).peekable();
    let end_pos = (PROLOGUE.len() + rtf.len()) % 4096;
    let end_tok = ((end_pos as u16) << 4).to_be_bytes();
    if rtf.len().is_multiple_of(8) {
        for c in chunks.by_ref() {
            body.push(0);
            body.extend_from_slice(c);
        }
        body.push(1);
        body.extend_from_slice(&end_tok);
    } else {
        while let Some(c) = chunks.next() {
            if chunks.peek().is_none() {
                body.push(1 << c.len());
                body.extend_from_slice(c);
                body.extend_from_slice(&end_tok);
            } else {
                body.push(0);
                body.extend_from_slice(c);
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(&((body.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
    out.extend_from_slice(&LZFU.to_le_bytes());
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// What an RTF body encapsulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulated {
    /// `\fromhtml1`: an HTML body.
    Html,
    /// `\fromtext`: a plain-text body.
    Text,
    /// Native RTF.
    None,
}

/// Detects `\fromhtml1` / `\fromtext` in the RTF header.
pub fn encapsulation(rtf: &[u8]) -> Encapsulated {
    let head = &rtf[..rtf.len().min(2048)];
    let has = |pat: &[u8]| head.windows(pat.len()).any(|w| w == pat);
    if has(b"\\fromhtml") {
        Encapsulated::Html
    } else if has(b"\\fromtext") {
        Encapsulated::Text
    } else {
        Encapsulated::None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dest {
    Normal,
    Skip,
    HtmlTag,
}

#[derive(Clone, Copy)]
struct Group {
    dest: Dest,
    htmlrtf: bool,
    uc: usize,
    fresh: bool,
    star: bool,
}

/// Destinations whose text is never body text.
const SKIP_DESTS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "header",
    "footer",
    "headerl",
    "headerr",
    "footerl",
    "footerr",
    "footnote",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "filetbl",
    "revtbl",
    "pgdsctbl",
    "fldinst",
    "bkmkstart",
    "bkmkend",
    "author",
    "operator",
    "title",
    "subject",
    "company",
    "comment",
    "doccomm",
    "keywords",
];

/// Extracts HTML (for `\fromhtml1`) or text (otherwise) from RTF per MS-OXRTFEX, decoding `\'hh`
/// with the `\ansicpg` code page and `\uN` as Unicode.
pub fn extract(rtf: &[u8], html: bool) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut cp: u32 = 1252;
    let mut st = Group {
        dest: Dest::Normal,
        htmlrtf: false,
        uc: 1,
        fresh: true,
        star: false,
    };
    let mut stack: Vec<Group> = Vec::new();
    let mut skip_chars = 0usize;
    let mut i = 0;

    let flush = |pending: &mut Vec<u8>, out: &mut String, cp: u32| {
        if !pending.is_empty() {
            match codepage::decode_8bit(pending, cp) {
                Some((s, _)) => out.push_str(&s),
                None => out.push_str(&String::from_utf8_lossy(pending)),
            }
            pending.clear();
        }
    };
    let emitting = |g: &Group| match g.dest {
        Dest::HtmlTag => html,
        Dest::Normal => !(html && g.htmlrtf),
        Dest::Skip => false,
    };

    while i < rtf.len() {
        let c = rtf[i];
        match c {
            b'{' => {
                i += 1;
                if stack.len() < 1024 {
                    stack.push(st);
                }
                st.fresh = true;
                st.star = false;
            }
            b'}' => {
                i += 1;
                if let Some(g) = stack.pop() {
                    st = g;
                }
            }
            b'\r' | b'\n' => i += 1,
            b'\\' => {
                i += 1;
                let Some(&n) = rtf.get(i) else { break };
                if !n.is_ascii_alphabetic() {
                    i += 1;
                    let was_fresh = st.fresh;
                    st.fresh = false;
                    match n {
                        b'*' => {
                            st.star = true;
                            st.fresh = was_fresh;
                        }
                        b'\'' => {
                            let hex = rtf.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                            i += 2;
                            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                                if skip_chars > 0 {
                                    skip_chars -= 1;
                                } else if emitting(&st) {
                                    pending.push(b);
                                }
                            }
                        }
                        b'\r' | b'\n' if emitting(&st) => {
                            flush(&mut pending, &mut out, cp);
                            out.push_str("\r\n");
                        }
                        b'~' if emitting(&st) => {
                            flush(&mut pending, &mut out, cp);
                            out.push('\u{A0}');
                        }
                        b'\\' | b'{' | b'}' if emitting(&st) => {
                            flush(&mut pending, &mut out, cp);
                            out.push(n as char);
                        }
                        _ => {}
                    }
                    continue;
                }
                let ws = i;
                while i < rtf.len() && rtf[i].is_ascii_alphabetic() && i - ws < 32 {
                    i += 1;
                }
                let word = std::str::from_utf8(&rtf[ws..i]).unwrap_or("");
                let ns = i;
                if i < rtf.len() && rtf[i] == b'-' {
                    i += 1;
                }
                while i < rtf.len() && rtf[i].is_ascii_digit() && i - ns < 11 {
                    i += 1;
                }
                let param: Option<i64> = std::str::from_utf8(&rtf[ns..i])
                    .ok()
                    .and_then(|s| s.parse().ok());
                if i < rtf.len() && rtf[i] == b' ' {
                    i += 1;
                }
                let was_fresh = st.fresh;
                st.fresh = false;
                if was_fresh {
                    if st.star {
                        st.dest = if word == "htmltag" {
                            Dest::HtmlTag
                        } else {
                            Dest::Skip
                        };
                        if word == "htmltag" {
                            continue;
                        }
                    } else if SKIP_DESTS.contains(&word) {
                        st.dest = Dest::Skip;
                    }
                }
                match word {
                    "ansicpg" => {
                        if let Some(p) = param.and_then(|p| u32::try_from(p).ok()) {
                            cp = p;
                        }
                    }
                    "htmlrtf" => st.htmlrtf = param != Some(0),
                    "uc" => st.uc = param.unwrap_or(1).clamp(0, 16) as usize,
                    "u" => {
                        if let Some(p) = param {
                            let v = if p < 0 { p + 65536 } else { p };
                            if emitting(&st) {
                                flush(&mut pending, &mut out, cp);
                                // Surrogate pairs come as two \u words; decode lossily otherwise.
                                if let Some(ch) = u32::try_from(v).ok().and_then(char::from_u32) {
                                    out.push(ch);
                                } else {
                                    out.push('\u{FFFD}');
                                }
                            }
                            skip_chars = st.uc;
                        }
                    }
                    _ if !emitting(&st) => {}
                    "par" | "line" => {
                        flush(&mut pending, &mut out, cp);
                        out.push_str("\r\n");
                    }
                    "tab" => {
                        flush(&mut pending, &mut out, cp);
                        out.push('\t');
                    }
                    _ => {
                        let sym = match word {
                            "emdash" => "\u{2014}",
                            "endash" => "\u{2013}",
                            "lquote" => "\u{2018}",
                            "rquote" => "\u{2019}",
                            "ldblquote" => "\u{201C}",
                            "rdblquote" => "\u{201D}",
                            "bullet" => "\u{2022}",
                            _ => "",
                        };
                        if !sym.is_empty() {
                            flush(&mut pending, &mut out, cp);
                            out.push_str(sym);
                        }
                    }
                }
            }
            _ => {
                i += 1;
                st.fresh = false;
                if skip_chars > 0 {
                    skip_chars -= 1;
                    continue;
                }
                if emitting(&st) {
                    pending.push(c);
                }
            }
        }
    }
    flush(&mut pending, &mut out, cp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prologue_is_207_bytes() {
        assert_eq!(PROLOGUE.len(), 207);
    }

    /// MS-OXRTFCP section 3.1.1 example: simple compressed RTF.
    #[test]
    fn spec_example_1() {
        let comp = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        let out = decompress(&comp).unwrap();
        assert_eq!(out, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
    }

    /// MS-OXRTFCP section 3.1.2 example: a run that crosses the write position.
    #[test]
    fn spec_example_2() {
        let comp = [
            0x1a, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xe2, 0xd4,
            0x4b, 0x51, 0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a, 0x0d, 0x6e, 0x7d, 0x01,
            0x0e, 0xb0,
        ];
        let out = decompress(&comp).unwrap();
        assert_eq!(out, b"{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}");
    }

    #[test]
    fn mela_and_literal_lzfu_round_trip() {
        for rtf in [
            &b""[..],
            b"{\\rtf1 a}",
            b"{\\rtf1 exactly8}",
            b"{\\rtf1\\ansi hello world, longer text}",
        ] {
            assert_eq!(decompress(&compress_mela(rtf)).unwrap(), rtf);
            assert_eq!(decompress(&compress_lzfu_literal(rtf)).unwrap(), rtf);
        }
    }

    #[test]
    fn crc_mismatch_and_garbage_are_errors() {
        let mut c = compress_lzfu_literal(b"{\\rtf1 x}");
        c[12] ^= 1;
        assert!(matches!(decompress(&c), Err(RtfError::Crc { .. })));
        assert_eq!(decompress(&[1, 2, 3]), Err(RtfError::Truncated("header")));
        let mut bad = compress_mela(b"x");
        bad[8] = 0;
        assert!(matches!(decompress(&bad), Err(RtfError::UnknownType(_))));
        let mut huge = compress_mela(b"x");
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decompress(&huge), Err(RtfError::TooLarge(_))));
    }

    #[test]
    fn decompress_never_panics_on_truncation() {
        let c = compress_lzfu_literal(b"{\\rtf1\\ansi some body text here}");
        for n in 0..c.len() {
            let _ = decompress(&c[..n]);
        }
    }

    #[test]
    fn html_is_recovered_from_fromhtml1() {
        let rtf = br#"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}
{\*\htmltag19 <html>}{\*\htmltag34 <head>}{\*\htmltag41 </head>}{\*\htmltag50 <body>}\htmlrtf {\htmlrtf0
{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Caf\'e9 \{ok\}\htmlrtf\par}\htmlrtf0
{\*\htmltag72 </p>}{\*\mhtmltag84 <img src="cid:x">}{\*\htmltag84 <img src="x.png">}\htmlrtf }\htmlrtf0 {\*\htmltag58 </body>}{\*\htmltag27 </html>}}"#;
        assert_eq!(encapsulation(rtf), Encapsulated::Html);
        let html = extract(rtf, true);
        assert_eq!(
            html,
            "<html><head></head><body><p>Café {ok}</p><img src=\"x.png\"></body></html>"
        );
    }

    #[test]
    fn text_is_recovered_from_fromtext_and_plain_rtf() {
        let rtf = br"{\rtf1\ansi\ansicpg1251\fromtext{\fonttbl{\f0 Arial;}}\uc1 Line \'ef\'f0\par Two\tab\u8364?}";
        assert_eq!(encapsulation(rtf), Encapsulated::Text);
        assert_eq!(extract(rtf, false), "Line пр\r\nTwo\t€");
        assert_eq!(encapsulation(b"{\\rtf1 x}"), Encapsulated::None);
    }
}
