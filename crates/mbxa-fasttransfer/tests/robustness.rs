//! One test (at least) per robustness rule of the reference (§6), plus truncation at every offset.

use mbxa_fasttransfer::lexer::{Event, Lexer};
use mbxa_fasttransfer::tags::{id, marker};
use mbxa_fasttransfer::{
    encode_message, parse, parse_detailed, parse_partial, parse_reader, psets, EncodeOptions,
    Limits, Message, MessageBuilder, NamedKind, ParseErrorKind, PropKey, PropValue, PropertyBag,
    WarningKind,
};

/// Hand-assembles bare streams.
#[derive(Default, Clone)]
struct S(Vec<u8>);

impl S {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn utf16(s: &str) -> Vec<u8> {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        v.extend_from_slice(&[0, 0]);
        v
    }
    fn str_prop(self, tag: u32, s: &str) -> Self {
        let b = Self::utf16(s);
        self.u32(tag).u32(b.len() as u32).raw(&b)
    }
    fn i32_prop(self, tag: u32, v: i32) -> Self {
        self.u32(tag).raw(&v.to_le_bytes())
    }
    fn class(self) -> Self {
        self.str_prop(0x001A_84B0, "IPM.Note")
    }
}

fn kind(bytes: &[u8]) -> Option<ParseErrorKind> {
    parse_partial(bytes).1.map(|e| e.kind)
}

// Rule 1: unwrap first; values straddle records; a blob shorter than 8 bytes is "no data".
#[test]
fn rule01_framing_and_placeholder() {
    assert_eq!(kind(&[0]), Some(ParseErrorKind::NoData { len: 1 }));
    assert_eq!(kind(&[]), Some(ParseErrorKind::NoData { len: 0 }));
    let b = MessageBuilder::new("IPM.Note")
        .subject(&"long subject ".repeat(40))
        .attachment("a.bin", "application/octet-stream", &[9u8; 3000])
        .options(EncodeOptions {
            framed: true,
            record_size: 64,
            export_strings: true,
        });
    let bytes = b.build();
    let p = parse_detailed(&bytes, Limits::default());
    assert!(p.framed && p.error.is_none());
    assert_eq!(p.message, b.to_message());
    // A record whose length runs past the end: truncation with the record's offset.
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - 10);
    let (_, err) = parse_partial(&cut);
    let err = err.unwrap();
    assert!(
        matches!(err.kind, ParseErrorKind::TruncatedRecord { opcode: 2, .. }),
        "{err}"
    );
    assert!(err.offset < cut.len() as u64);
    // Records of other opcodes between TransferBuffers are skipped.
    let mut with_extra = bytes[..62].to_vec();
    with_extra.extend_from_slice(&[11, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3]);
    with_extra.extend_from_slice(&bytes[62..]);
    assert_eq!(parse(&with_extra).unwrap(), b.to_message());
}

// Rule 2: markers are recognised by their whole 32-bit value, before type interpretation.
#[test]
fn rule02_markers_with_boolean_and_binary_type_bits() {
    for m in [0x4074_000B, 0x4075_000B, 0x407B_0102] {
        let s = S::default().class().u32(m).str_prop(0x0037_84B0, "after");
        let p = parse_detailed(&s.0, Limits::default());
        assert!(p.error.is_none());
        assert_eq!(
            p.message.subject(),
            Some("after"),
            "marker {m:#x} consumed no value"
        );
        assert!(matches!(
            p.warnings[0].kind,
            WarningKind::MisplacedMarker { marker, .. } if marker == m
        ));
    }
}

// Rule 3: booleans take two bytes.
#[test]
fn rule03_boolean_is_two_bytes() {
    let s = S::default()
        .u32(0x0023_000B)
        .raw(&[0, 0])
        .u32(0x0029_000B)
        .raw(&[1, 0])
        .str_prop(0x0037_84B0, "x");
    let m = parse(&s.0).unwrap();
    assert_eq!(m.get(0x0023), Some(&PropValue::Bool(false)));
    assert_eq!(m.get(0x0029), Some(&PropValue::Bool(true)));
    assert_eq!(m.subject(), Some("x"));
}

// Rule 4: code-page string types, including the MV bit and the 12-bit table.
#[test]
fn rule04_code_page_types() {
    let mv = {
        let a = S::utf16("red");
        let b = S::utf16("blue");
        S::default()
            .u32(0x8001_94B0)
            .raw(&psets::PS_PUBLIC_STRINGS)
            .raw(&[1])
            .raw(&S::utf16("Keywords"))
            .u32(2)
            .u32(a.len() as u32)
            .raw(&a)
            .u32(b.len() as u32)
            .raw(&b)
    };
    let s = mv
        .u32(0x0037_84E4)
        .u32(5)
        .raw(b"caf\xE9\0") // cp1252
        .u32(0x1000_8000 | 4091)
        .u32(7)
        .raw("żółw\0".as_bytes().get(..7).unwrap_or_default()) // UTF-8 (4091 = 65001), no NUL room
        .u32(0x0E1D_8FFF)
        .u32(3)
        .raw(b"ab\0"); // 4095: unknown code page
    let p = parse_detailed(&s.0, Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    let m = &p.message;
    assert_eq!(
        m.get_named(
            &psets::PS_PUBLIC_STRINGS,
            &NamedKind::Name("Keywords".into())
        ),
        Some(&PropValue::Multi(vec![
            PropValue::String("red".into()),
            PropValue::String("blue".into())
        ]))
    );
    assert_eq!(m.subject(), Some("café"));
    assert_eq!(m.body_text(), Some("żółw"));
    assert_eq!(
        m.get(0x0E1D),
        Some(&PropValue::RawString {
            codepage: 0,
            bytes: b"ab".to_vec()
        })
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| matches!(w.kind, WarningKind::LossyString(t) if t.id() == 0x0E1D)));
}

// Rule 5: lengths include the terminator, but missing / extra terminators and odd lengths are ok;
// 0x001E strings use the message code page.
#[test]
fn rule05_string_terminators_and_8bit_code_page() {
    let s = S::default()
        .u32(0x0037_001F)
        .u32(4)
        .raw(b"H\0i\0") // no terminator
        .u32(0x1000_001F)
        .u32(8)
        .raw(b"o\0k\0\0\0\0\0") // two terminators
        .u32(0x0070_001F)
        .u32(5)
        .raw(b"a\0b\0c") // odd: dangling byte dropped
        .i32_prop(0x3FFD_0003, 1251)
        .u32(0x0E1D_001E)
        .u32(3)
        .raw(b"\xEF\xF0\0");
    let p = parse_detailed(&s.0, Limits::default());
    let m = &p.message;
    assert_eq!(m.subject(), Some("Hi"));
    assert_eq!(m.body_text(), Some("ok"));
    assert_eq!(m.get_str(0x0070), Some("ab"));
    assert_eq!(m.get_str(0x0E1D), Some("пр"));
    assert_eq!(
        p.warnings
            .iter()
            .filter(|w| matches!(w.kind, WarningKind::LossyString(_)))
            .count(),
        1
    );
}

// Rule 6: named info kind must be 0 or 1; names are capped; identity is (guid, kind) not local id.
#[test]
fn rule06_named_properties() {
    let bad = S::default()
        .class()
        .u32(0x8001_0003)
        .raw(&[0; 16])
        .raw(&[2])
        .u32(1);
    let (m, err) = parse_partial(&bad.0);
    let err = err.unwrap();
    assert_eq!(err.kind, ParseErrorKind::BadNamedKind { kind: 2 });
    assert_eq!(err.offset, 26, "offset of the named property's tag");
    assert_eq!(m.message_class(), Some("IPM.Note"), "partial result kept");

    let long: String = "x".repeat(600);
    let too_long = S::default()
        .u32(0x8001_0003)
        .raw(&[0; 16])
        .raw(&[1])
        .raw(&S::utf16(&long))
        .u32(1);
    assert_eq!(
        kind(&too_long.0),
        Some(ParseErrorKind::NameTooLong { max: 1024 })
    );
    let unterminated = S::default()
        .u32(0x8001_0003)
        .raw(&[0; 16])
        .raw(&[1])
        .raw(b"a\0b\0");
    assert!(matches!(
        kind(&unterminated.0),
        Some(ParseErrorKind::Truncated { .. })
    ));

    let with_local = |local: u32| {
        S::default()
            .u32((local << 16) | 0x0003)
            .raw(&psets::PSETID_COMMON)
            .raw(&[0])
            .u32(0x8580)
            .u32(42)
    };
    let a = parse(&with_local(0x8001).0).unwrap();
    let b = parse(&with_local(0x9ABC).0).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.properties[0].key,
        PropKey::Named {
            guid: psets::PSETID_COMMON,
            name: NamedKind::Id(0x8580)
        }
    );
}

// Rule 7: MetaTagIdsetGiven (0x40170003) has a variable-length value.
#[test]
fn rule07_idset_given_is_variable() {
    let s = S::default()
        .u32(0x4017_0003)
        .u32(6)
        .raw(&[1, 2, 3, 4, 5, 6])
        .str_prop(0x0037_84B0, "ok");
    let m = parse(&s.0).unwrap();
    assert_eq!(m.subject(), Some("ok"));
    assert_eq!(m.properties.len(), 1, "the ICS meta-property is dropped");
}

// Rule 8: an unknown property type stops parsing with its offset; the partial result is kept.
#[test]
fn rule08_unknown_type() {
    for t in [0x0000u16, 0x0001, 0x00FD, 0x00FE, 0x0099, 0x100B] {
        let s = S::default().class().u32(0x1234_0000 | u32::from(t)).u32(0);
        let (m, err) = parse_partial(&s.0);
        let err = err.unwrap();
        assert_eq!(err.offset, 26);
        assert_eq!(
            err.kind,
            ParseErrorKind::UnknownType {
                tag: 0x1234_0000 | u32::from(t),
                ptype: t
            }
        );
        assert_eq!(m.message_class(), Some("IPM.Note"));
    }
}

// Rule 9: caps on lengths, MV counts, nesting depth, properties per object and objects.
#[test]
fn rule09_caps() {
    // A 4 GiB claim in a tiny input fails at once, without allocating it.
    let s = S::default().u32(0x3701_0102).u32(0xFFFF_FFF0).raw(b"abc");
    assert!(matches!(
        kind(&s.0),
        Some(ParseErrorKind::ValueTooLong {
            len: 0xFFFF_FFF0,
            ..
        })
    ));
    // Through a reader (length of input unknown), the value is read as it comes: truncated.
    let p = parse_reader(&s.0[..], Limits::default());
    assert!(matches!(
        p.error.unwrap().kind,
        ParseErrorKind::ValueTooLong { .. }
    ));
    let p = parse_reader(
        &S::default().u32(0x3701_0102).u32(1 << 29).raw(b"abc").0[..],
        Limits::default(),
    );
    assert!(matches!(
        p.error.unwrap().kind,
        ParseErrorKind::Truncated { .. }
    ));

    let mv = S::default().u32(0x1234_1003).u32(40_000);
    assert_eq!(
        kind(&mv.0),
        Some(ParseErrorKind::TooManyValues {
            count: 40_000,
            max: 32_768
        })
    );

    let mut deep = S::default().class();
    for _ in 0..40 {
        deep = deep.u32(marker::NEW_ATTACH).u32(marker::START_EMBED);
    }
    let (_, err) = parse_partial(&deep.0);
    assert_eq!(err.unwrap().kind, ParseErrorKind::TooDeep { max: 32 });

    let small = Limits {
        max_props_per_object: 3,
        max_objects: 4,
        ..Limits::default()
    };
    let mut many = S::default();
    for i in 0..5 {
        many = many.i32_prop(((0x1000 + i) << 16) | 3, 1);
    }
    assert!(matches!(
        parse_detailed(&many.0, small.clone()).error.unwrap().kind,
        ParseErrorKind::TooMany { max: 3, .. }
    ));
    let mut objs = S::default();
    for _ in 0..5 {
        objs = objs.u32(marker::START_RECIP).u32(marker::END_TO_RECIP);
    }
    assert!(matches!(
        parse_detailed(&objs.0, small).error.unwrap().kind,
        ParseErrorKind::TooMany { max: 4, .. }
    ));
}

// Rule 10: properties go to the innermost open object, whatever the order.
#[test]
fn rule10_permissive_order() {
    let s = S::default()
        .class()
        .u32(marker::NEW_ATTACH)
        .i32_prop(0x0E21_0003, 0)
        .u32(marker::START_EMBED)
        .str_prop(0x0037_84B0, "inner")
        .u32(marker::END_EMBED)
        .str_prop(0x3707_84B0, "name-after-embed.eml")
        .u32(marker::END_ATTACH)
        .str_prop(0x0037_84B0, "outer subject after attachments")
        .u32(marker::START_RECIP)
        .str_prop(0x3001_84B0, "late recipient")
        .u32(marker::END_TO_RECIP);
    let p = parse_detailed(&s.0, Limits::default());
    assert!(
        p.error.is_none() && p.warnings.is_empty(),
        "{:?}",
        p.warnings
    );
    let m = p.message;
    assert_eq!(m.subject(), Some("outer subject after attachments"));
    assert_eq!(m.attachments[0].filename(), Some("name-after-embed.eml"));
    assert_eq!(
        m.attachments[0].embedded_message().unwrap().subject(),
        Some("inner")
    );
    assert_eq!(m.recipients[0].name(), Some("late recipient"));
}

// Rule 11: DnPrefix, FXDelProp, Mid, AttachNumber and Rowid are optional and ignorable.
#[test]
fn rule11_optional_things() {
    let dn = b"/O=FIRST ORGANIZATION/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=\0";
    let s = S::default()
        .u32(0x4008_84E4)
        .u32(dn.len() as u32)
        .raw(dn)
        .class()
        .u32(marker::START_RECIP)
        .str_prop(0x3001_84B0, "Bob")
        .u32(marker::END_TO_RECIP)
        .u32(marker::NEW_ATTACH)
        .u32(0x3701_0102)
        .u32(1)
        .raw(b"z")
        .u32(marker::END_ATTACH);
    let m = parse(&s.0).unwrap();
    assert_eq!(m.properties.len(), 1, "DnPrefix dropped");
    assert_eq!(m.recipients[0].name(), Some("Bob"));
    assert_eq!(m.attachments[0].data(), Some(&b"z"[..]));
    // 0x4008001E flavour too.
    let s2 = S::default().u32(0x4008_001E).u32(2).raw(b"x\0").class();
    assert_eq!(parse(&s2.0).unwrap().properties.len(), 1);
}

// Rule 12: unclosed objects at EOF mean truncation; what was parsed is kept.
#[test]
fn rule12_unclosed_at_eof() {
    let s = S::default()
        .class()
        .u32(marker::NEW_ATTACH)
        .i32_prop(0x0E21_0003, 0)
        .u32(marker::START_EMBED)
        .str_prop(0x0037_84B0, "inner");
    let (m, err) = parse_partial(&s.0);
    let err = err.unwrap();
    assert_eq!(
        err.kind,
        ParseErrorKind::Unclosed {
            open: "embedded message"
        }
    );
    assert_eq!(err.offset, s.0.len() as u64);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(
        m.attachments[0].embedded_message().unwrap().subject(),
        Some("inner")
    );
}

// Rule 13: mismatched end markers pop to the matching start, or are recorded and skipped.
#[test]
fn rule13_mismatched_end_markers() {
    let s = S::default()
        .class()
        .u32(marker::END_EMBED) // nothing open
        .u32(marker::NEW_ATTACH)
        .u32(marker::START_EMBED)
        .u32(marker::START_RECIP)
        .str_prop(0x3001_84B0, "r")
        .u32(marker::END_ATTACH) // closes recipient and embedded message implicitly
        .str_prop(0x0037_84B0, "top");
    let p = parse_detailed(&s.0, Limits::default());
    assert!(p.error.is_none());
    let m = &p.message;
    assert_eq!(m.subject(), Some("top"));
    let e = m.attachments[0].embedded_message().unwrap();
    assert_eq!(e.recipients[0].name(), Some("r"));
    assert!(matches!(
        p.warnings[0].kind,
        WarningKind::MisplacedMarker {
            name: "EndEmbed",
            ..
        }
    ));
    assert_eq!(
        p.warnings
            .iter()
            .filter(|w| matches!(w.kind, WarningKind::ImplicitClose(_)))
            .count(),
        2
    );
}

// Rule 14: duplicates keep the last value, with a warning.
#[test]
fn rule14_duplicates() {
    let s = S::default()
        .str_prop(0x0037_84B0, "first")
        .class()
        .str_prop(0x0037_001F, "second");
    let p = parse_detailed(&s.0, Limits::default());
    assert_eq!(p.message.subject(), Some("second"));
    assert_eq!(p.message.properties.len(), 2);
    assert_eq!(
        p.message.properties[0].ptype, 0x001F,
        "last one wins, in place"
    );
    assert_eq!(
        p.warnings[0].kind,
        WarningKind::DuplicateProperty(PropKey::Tagged(0x0037))
    );
    assert_eq!(p.warnings[0].offset, 46);
}

// Rule 15: error-typed properties.
#[test]
fn rule15_error_typed_values() {
    let s = S::default().u32(0x1000_000A).u32(0x8004_010F).class();
    let m = parse(&s.0).unwrap();
    assert_eq!(m.get(id::BODY), Some(&PropValue::Error(0x8004_010F)));
    assert_eq!(m.body_text(), None);
}

// Rule 16: FILETIME 0 and ≥ 0x7FFFFFFFFFFFFFFF mean "none".
#[test]
fn rule16_filetime_sentinels() {
    for v in [0u64, 0x7FFF_FFFF_FFFF_FFFF, u64::MAX] {
        let s = S::default().u32(0x0039_0040).raw(&v.to_le_bytes());
        let m = parse(&s.0).unwrap();
        assert_eq!(m.submit_time(), None);
        assert_eq!(m.date(), None);
    }
}

/// A reader that hands out one byte per call.
struct Trickle<'a>(&'a [u8]);
impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

// Rule 17: streaming: incremental input parses identically; big values arrive in chunks.
#[test]
fn rule17_streaming() {
    let big = vec![0x5Au8; 300_000];
    let b = MessageBuilder::new("IPM.Note").subject("s").attachment(
        "big.bin",
        "application/octet-stream",
        &big,
    );
    let bytes = b.build();
    let p = parse_reader(Trickle(&bytes), Limits::default());
    assert!(p.error.is_none());
    assert_eq!(p.message, b.to_message());

    let mut lx = Lexer::from_bytes(&bytes);
    let mut max_chunk = 0;
    let mut total = 0;
    let mut in_big = false;
    while let Some(ev) = lx.next_event().unwrap() {
        match ev {
            Event::PropStart { tag, len, .. } if tag.id() == id::ATTACH_DATA => {
                assert_eq!(len as usize, big.len());
                in_big = true;
            }
            Event::Chunk(c) if in_big => {
                max_chunk = max_chunk.max(c.len());
                total += c.len();
            }
            Event::PropEnd => in_big = false,
            _ => {}
        }
    }
    assert_eq!(total, big.len());
    assert!(
        max_chunk <= 64 * 1024,
        "value delivered in chunks, largest {max_chunk}"
    );
}

fn unwrap_records(blob: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut stream = Vec::new();
    let mut cuts = Vec::new();
    let mut off = 62;
    while off < blob.len() {
        let len = u32::from_le_bytes(blob[off + 4..off + 8].try_into().unwrap()) as usize;
        assert!(len > 0, "no empty TransferBuffer");
        stream.extend_from_slice(&blob[off + 8..off + 8 + len]);
        cuts.push(stream.len());
        off += 8 + len;
    }
    (stream, cuts)
}

// Rule 18: encoder rules: first properties, FXDelProp at top level only, atoms never split.
#[test]
fn rule18_encoder_rules() {
    let b = MessageBuilder::new("IPM.Note")
        .subject(&"x".repeat(500))
        .to("A", "a@example.com")
        .to("B", "b@example.com")
        .attachment("f.txt", "text/plain", &[1u8; 2000])
        .embedded_message(
            "e",
            MessageBuilder::new("IPM.Note")
                .to("C", "c@example.com")
                .attachment("g", "text/plain", b"g"),
        )
        .options(EncodeOptions {
            framed: true,
            record_size: 100,
            export_strings: true,
        });
    let blob = b.build();
    let (stream, cuts) = unwrap_records(&blob);
    let mut lx = Lexer::from_bytes(&stream);
    let mut atoms = Vec::new();
    let mut seq = Vec::new();
    loop {
        let before = lx.stream_offset();
        let Some(ev) = lx.next_event().unwrap() else {
            break;
        };
        let desc = match ev {
            Event::Marker(m) => format!("M{}", marker::name(m)),
            Event::Prop { tag, .. } | Event::PropStart { tag, .. } => format!("P{:08X}", tag.0),
            Event::Chunk(_) => String::new(),
            Event::PropEnd => String::new(),
        };
        let after = lx.stream_offset();
        if !desc.is_empty() {
            atoms.push((before, after));
            seq.push(desc);
        }
    }
    for c in &cuts[..cuts.len() - 1] {
        for (s, e) in &atoms {
            assert!(
                !(*s < *c as u64 && (*c as u64) < *e),
                "cut {c} splits atom {s}..{e}"
            );
        }
    }
    let after = |marker: &str| -> Vec<&String> {
        seq.iter()
            .enumerate()
            .filter(|(_, s)| *s == marker)
            .map(|(i, _)| &seq[i + 1])
            .collect()
    };
    assert!(after("MStartRecip").iter().all(|s| *s == "P30000003"));
    assert!(after("MNewAttach").iter().all(|s| *s == "P0E210003"));
    assert!(after("MStartEmbed").iter().all(|s| *s == "P674A0014"));
    let fx: Vec<_> = seq.iter().filter(|s| *s == "P40160003").collect();
    assert_eq!(fx.len(), 2, "FXDelProp twice, top level only");
}

/// Element starts of a bare stream and the open-object depth after each element.
fn elements(stream: &[u8]) -> (Vec<u64>, Vec<(u64, i32)>) {
    let mut lx = Lexer::from_bytes(stream);
    let mut starts = Vec::new();
    let mut depth_at = vec![(0u64, 0i32)];
    let mut depth = 0;
    while let Some(ev) = lx.next_event().unwrap() {
        let is_start = !matches!(ev, Event::Chunk(_) | Event::PropEnd);
        if let Event::Marker(m) = ev {
            match m {
                marker::START_RECIP | marker::NEW_ATTACH | marker::START_EMBED => depth += 1,
                marker::END_TO_RECIP | marker::END_ATTACH | marker::END_EMBED => depth -= 1,
                _ => {}
            }
        }
        if is_start {
            starts.push(lx.element_offset());
        }
        depth_at.push((lx.stream_offset(), depth));
    }
    (starts, depth_at)
}

fn check_truncations(stream: &[u8]) {
    let (starts, depth_at) = elements(stream);
    let full = parse(stream).unwrap();
    for k in 0..stream.len() {
        let (m, err) = parse_partial(&stream[..k]);
        if k < 8 {
            assert_eq!(err.unwrap().kind, ParseErrorKind::NoData { len: k });
            continue;
        }
        let boundary = depth_at.iter().find(|(o, _)| *o == k as u64);
        match boundary {
            Some((_, 0)) if starts.contains(&(k as u64)) => {
                assert!(
                    err.is_none(),
                    "clean cut at {k} between top-level elements: {err:?}"
                )
            }
            Some((_, d)) if *d > 0 && starts.contains(&(k as u64)) => {
                let e = err.expect("unclosed objects reported");
                assert!(matches!(e.kind, ParseErrorKind::Unclosed { .. }), "{e}");
                assert_eq!(e.offset, k as u64);
            }
            _ => {
                let e = err.unwrap_or_else(|| panic!("cut at {k} must be an error"));
                let want = starts
                    .iter()
                    .copied()
                    .filter(|s| *s < k as u64)
                    .max()
                    .unwrap();
                assert_eq!(e.offset, want, "cut at {k}: {e}");
                assert!(matches!(e.kind, ParseErrorKind::Truncated { .. }), "{e}");
            }
        }
        // Partial results only ever hold a prefix of the real content.
        assert!(m.properties.len() <= full.properties.len() + 1);
    }
}

#[test]
fn truncation_at_every_offset_of_a_bare_stream_reports_the_element() {
    let b = MessageBuilder::new("IPM.Note")
        .subject("Hi")
        .from("A", "a@example.com")
        .to("B", "b@example.com")
        .named_property(
            psets::PS_INTERNET_HEADERS,
            NamedKind::Name("x-mailer".into()),
            0x001F,
            PropValue::String("T".into()),
        )
        .property(
            0x1234_101F,
            PropValue::Multi(vec![PropValue::String("a".into())]),
        )
        .attachment("a.txt", "text/plain", b"abc")
        .embedded_message("e", MessageBuilder::new("IPM.Note").subject("In"))
        .options(EncodeOptions {
            framed: false,
            record_size: 0,
            export_strings: true,
        });
    check_truncations(&b.build());
}

#[test]
fn truncation_of_framed_blobs_never_panics_and_points_inside() {
    let b = MessageBuilder::new("IPM.Note")
        .subject("Hi")
        .to("B", "b@example.com")
        .attachment("a.txt", "text/plain", &[7u8; 300])
        .options(EncodeOptions {
            framed: true,
            record_size: 128,
            export_strings: true,
        });
    let blob = b.build();
    let full = parse(&blob).unwrap();
    for k in 0..blob.len() {
        let (m, err) = parse_partial(&blob[..k]);
        if let Some(e) = &err {
            assert!(e.offset <= k as u64, "cut {k}: {e}");
        }
        if k >= 62 + 8 && k < blob.len() {
            // Cut inside the stream with the attachment still to come: something is missing.
            assert!(err.is_some() || m.attachments.len() < full.attachments.len() || m != full);
        }
    }
}

#[test]
fn garbage_never_panics() {
    // Deterministic pseudo-random inputs, framed and bare.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seed_blob = MessageBuilder::new("IPM.Note")
        .subject("s")
        .to("a", "a@b")
        .attachment("f", "text/plain", b"data")
        .build();
    for _ in 0..2000 {
        let mut b = seed_blob.clone();
        let flips = (next() % 8) as usize + 1;
        for _ in 0..flips {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        let _ = parse_partial(&b);
        let n = (next() % 200) as usize;
        let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        let _ = parse_partial(&junk);
    }
}

#[test]
fn encode_of_parsed_golden_like_tree_round_trips() {
    let m: Message = MessageBuilder::new("IPM.Note").subject("x").to_message();
    let bare = encode_message(
        &m,
        &EncodeOptions {
            framed: false,
            record_size: 0,
            export_strings: true,
        },
    );
    assert_eq!(parse(&bare).unwrap(), m);
}

// Rule 8, salvage mode: skip to the next recipient/attachment marker and keep going.
#[test]
fn rule08_salvage_mode_resumes_at_next_marker() {
    let s = S::default()
        .class()
        .u32(0x1234_00FD) // PtypRestriction: size unknowable
        .raw(&[0xAA; 37])
        .u32(marker::START_RECIP)
        .str_prop(0x3001_84B0, "Bob")
        .u32(marker::END_TO_RECIP)
        .u32(marker::NEW_ATTACH)
        .str_prop(0x3707_84B0, "a.txt")
        .u32(marker::END_ATTACH);
    let strict = parse_partial(&s.0);
    assert!(strict.1.is_some());
    assert!(strict.0.recipients.is_empty());
    let p = mbxa_fasttransfer::parse_salvage(&s.0, Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.message.message_class(), Some("IPM.Note"));
    assert_eq!(p.message.recipients[0].name(), Some("Bob"));
    assert_eq!(p.message.attachments[0].filename(), Some("a.txt"));
    match &p.warnings[0].kind {
        WarningKind::Salvaged { error, resumed_at } => {
            assert_eq!(error.offset, 26);
            assert_eq!(*resumed_at, 26 + 4 + 37);
        }
        other => panic!("{other:?}"),
    }
    // Nothing to resume at: the original error stands.
    let dead = S::default().class().u32(0x1234_00FD).raw(&[0xAA; 8]);
    let p = mbxa_fasttransfer::parse_salvage(&dead.0, Limits::default());
    assert!(matches!(
        p.error.unwrap().kind,
        ParseErrorKind::UnknownType { .. }
    ));
}
