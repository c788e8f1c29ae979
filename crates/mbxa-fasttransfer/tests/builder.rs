//! MessageBuilder output parses back to exactly the tree it describes.

use mbxa_fasttransfer::{
    framing, parse, parse_detailed, AttachMethod, EncodeOptions, Limits, MessageBuilder, PropValue,
    PropertyBag, RecipientKind,
};

fn sample() -> MessageBuilder {
    MessageBuilder::new("IPM.Note")
        .subject("Quarterly numbers – résumé ✓")
        .from("Alice Example", "alice@example.com")
        .to("Bob", "bob@example.com")
        .to("Carol", "carol@example.com")
        .cc("Dave", "dave@example.com")
        .bcc("Eve", "eve@example.com")
        .date_unix(1_700_000_000)
        .internet_message_id("<abc@example.com>")
        .in_reply_to("<prev@example.com>")
        .body_text("Hello Bob,\r\nsee attached.")
        .body_html("<p>Hello <img src=\"cid:logo@x\"></p>")
        .search_key(&[7u8; 16])
        .attachment("report.pdf", "application/pdf", &vec![0xAB; 100_000])
        .inline_image("logo.png", "image/png", "logo@x", b"\x89PNG....")
        .embedded_message(
            "Fwd: earlier",
            MessageBuilder::new("IPM.Note")
                .subject("earlier")
                .from("Zed", "zed@example.com")
                .to("Alice Example", "alice@example.com")
                .body_text("old text")
                .attachment("inner.txt", "text/plain", b"inner"),
        )
}

#[test]
fn build_parse_round_trip() {
    let b = sample();
    let bytes = b.build();
    assert!(framing::is_fxproxy(&bytes));
    let p = parse_detailed(&bytes, Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.message, b.to_message());
    let m = p.message;
    assert_eq!(m.subject(), Some("Quarterly numbers – résumé ✓"));
    assert_eq!(m.from().unwrap().email, "alice@example.com");
    assert_eq!(m.sender().unwrap().name, "Alice Example");
    assert_eq!(m.submit_time(), Some(1_700_000_000));
    assert_eq!(m.delivery_time(), Some(1_700_000_000));
    assert_eq!(m.internet_message_id(), Some("<abc@example.com>"));
    assert_eq!(m.in_reply_to(), Some("<prev@example.com>"));
    assert_eq!(m.search_key(), Some(&[7u8; 16][..]));
    assert_eq!(
        m.body_html().as_deref(),
        Some("<p>Hello <img src=\"cid:logo@x\"></p>")
    );
    assert_eq!(m.recipients_of(RecipientKind::To).count(), 2);
    assert_eq!(m.recipients_of(RecipientKind::Cc).count(), 1);
    assert_eq!(m.recipients_of(RecipientKind::Bcc).count(), 1);
    assert_eq!(m.attachments.len(), 3);
    assert_eq!(m.attachments[0].data().map(<[u8]>::len), Some(100_000));
    assert!(m.attachments[1].is_inline());
    assert_eq!(m.attachments[1].content_id(), Some("logo@x"));
    assert_eq!(m.attachments[2].method(), AttachMethod::EmbeddedMessage);
    let e = m.attachments[2].embedded_message().unwrap();
    assert_eq!(e.subject(), Some("earlier"));
    assert_eq!(e.attachments[0].data(), Some(&b"inner"[..]));
}

#[test]
fn strings_are_export_style_and_records_are_bounded() {
    let bytes = sample().build();
    // Subject is written as 0x84B0: tag bytes B0 84 37 00.
    assert!(bytes.windows(4).any(|w| w == [0xB0, 0x84, 0x37, 0x00]));
    assert!(!bytes.windows(4).any(|w| w == [0x1F, 0x00, 0x37, 0x00]));
    // Walk the records: preamble is 62 bytes, then non-empty TransferBuffers ≤ 32767 bytes.
    let mut off = 62;
    let mut n = 0;
    while off < bytes.len() {
        let op = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
        assert_eq!(op, 2);
        assert!(len > 0 && len <= 32_767);
        off += 8 + len;
        n += 1;
    }
    assert_eq!(off, bytes.len());
    assert!(n >= 4, "a 100 kB attachment spans several records");
}

#[test]
fn tiny_records_and_bare_streams_parse_the_same() {
    let b = sample();
    let want = b.to_message();
    for opts in [
        EncodeOptions {
            framed: true,
            record_size: 64,
            export_strings: true,
        },
        EncodeOptions {
            framed: false,
            record_size: 0,
            export_strings: true,
        },
        EncodeOptions {
            framed: true,
            record_size: 1000,
            export_strings: false,
        },
    ] {
        let bytes = b.clone().options(opts.clone()).build();
        let m = parse(&bytes).unwrap();
        if opts.export_strings {
            assert_eq!(m, want);
        } else {
            assert_eq!(m.subject(), want.subject());
            assert_eq!(m.attachments.len(), 3);
        }
    }
}

#[test]
fn property_escape_hatch() {
    let b = MessageBuilder::new("IPM.Note")
        .property(0x0E08_0003, PropValue::I32(1234))
        .property(0x0070_001F, PropValue::String("topic".into()));
    let m = parse(&b.build()).unwrap();
    assert_eq!(m.get_i64(0x0E08), Some(1234));
    assert_eq!(m.get_str(0x0070), Some("topic"));
    assert_eq!(m, b.to_message());
}
