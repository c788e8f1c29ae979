//! The sample streams under `fixtures/fasttransfer/` are exactly what this test generates, and
//! each parses to its documented content. Regenerate with `MBXA_REGENERATE_FIXTURES=1`.

use std::path::PathBuf;

use base64::Engine;
use mbxa_fasttransfer::{
    eml::to_eml, parse, parse_partial, psets, rtf, EncodeOptions, MessageBuilder, NamedKind,
    ParseErrorKind, PropValue,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/fasttransfer")
}

const GOLDEN_B64: &str =
    "AQAAAAgAAAAAAAAAAQAAAAMAAAAYAAAAAQAAAAcDAgAAAAAAwAAAAAAAAEYAJACABAAAAAYAAAAB\
DouAAAACAAAAqQEAAB8AGgASAAAASQBQAE0ALgBOAG8AdABlAAAAHwA3AAYAAABIAGkAAABAADkA\
gMBIWCg92gEDAAcOEQAAAAsAGw4BAB8AABAMAAAASABlAGwAbABvAAAAHwABgAggBgAAAAAAwAAA\
AAAAAEYAgIUAAAoAAABhAGMAYwB0AAAAHwACgIYDAgAAAAAAwAAAAAAAAEYBeAAtAG0AYQBpAGwA\
ZQByAAAABAAAAFQAAAADABZADQASDgMAA0ADAAAwAAAAAAMAFQwBAAAAHwABMAgAAABCAG8AYgAA\
AB8AAjAKAAAAUwBNAFQAUAAAAB8AAzAgAAAAYgBvAGIAQABlAHgAYQBtAHAAbABlAC4AYwBvAG0A\
AAADAARAAwAWQA0AEw4DAABAAwAhDgAAAAADAAU3AQAAAB8ABzcMAAAAYQAuAHQAeAB0AAAAAgEB\
NwMAAABhYmMDAA5AAwAAQAMAIQ4BAAAAAwAFNwUAAAADAAFAFABKZwAAAAAAAAAAHwAaABIAAABJ\
AFAATQAuAE4AbwB0AGUAAAAfADcABgAAAEkAbgAAAAMAAkADAA5A";

fn simple() -> MessageBuilder {
    MessageBuilder::new("IPM.Note")
        .subject("Lunch?")
        .from("Ann Example", "ann@example.com")
        .to("Bob Example", "bob@example.com")
        .date_unix(1_717_171_717)
        .internet_message_id("<lunch-1@example.com>")
        .search_key(&[0x11; 16])
        .body_text("Noon at the usual place?\r\n")
}

fn rich() -> MessageBuilder {
    MessageBuilder::new("IPM.Note")
        .subject("Q3 report – draft ✓")
        .from("Ann Example", "ann@example.com")
        .to("Bob Example", "bob@example.com")
        .cc("Carol Exämple", "carol@example.com")
        .date_unix(1_719_000_000)
        .internet_message_id("<q3-draft@example.com>")
        .in_reply_to("<q3-plan@example.com>")
        .importance(2)
        .body_text("See attached.\r\n")
        .body_html(
            "<html><body><p>See attached.</p><img src=\"cid:chart@example.com\"></body></html>",
        )
        .named_property(
            psets::PS_PUBLIC_STRINGS,
            NamedKind::Name("Keywords".into()),
            0x101F,
            PropValue::Multi(vec![
                PropValue::String("finance".into()),
                PropValue::String("q3".into()),
            ]),
        )
        .attachment("report.csv", "text/csv", b"quarter,revenue\r\nQ3,42\r\n")
        .inline_image(
            "chart.png",
            "image/png",
            "chart@example.com",
            b"\x89PNG\r\n\x1a\nchart",
        )
        .embedded_message(
            "Q3 plan",
            MessageBuilder::new("IPM.Note")
                .subject("Q3 plan")
                .from("Bob Example", "bob@example.com")
                .to("Ann Example", "ann@example.com")
                .date_unix(1_718_000_000)
                .body_text("Plan attached.")
                .attachment("plan.txt", "text/plain", b"1. ship\r\n2. rest\r\n"),
        )
        .options(EncodeOptions {
            framed: true,
            record_size: 256,
            export_strings: true,
        })
}

fn rtf_only() -> MessageBuilder {
    let rtf = br"{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag19 <html>}{\*\htmltag50 <body>}Caf\'e9 menu{\*\htmltag58 </body>}{\*\htmltag27 </html>}}";
    MessageBuilder::new("IPM.Note")
        .subject("RTF only")
        .from("Ann Example", "ann@example.com")
        .date_unix(1_700_000_000)
        .rtf_compressed(&rtf::compress_lzfu_literal(rtf))
}

fn cp1252_bare() -> Vec<u8> {
    // Exchange 2010 flavour: DnPrefix as 0x400884E4, cp1252 strings, no framing.
    let mut s = Vec::new();
    let mut put = |b: &[u8]| s.extend_from_slice(b);
    let dn = b"/O=FIRST ORGANIZATION/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=\0";
    put(&0x4008_84E4u32.to_le_bytes());
    put(&(dn.len() as u32).to_le_bytes());
    put(dn);
    put(&0x001A_84E4u32.to_le_bytes());
    put(&9u32.to_le_bytes());
    put(b"IPM.Note\0");
    put(&0x0037_84E4u32.to_le_bytes());
    put(&11u32.to_le_bytes());
    put(b"Caf\xE9 cr\xE8me\0");
    put(&0x0023_000Bu32.to_le_bytes());
    put(&[0, 0]);
    s
}

fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let golden = base64::engine::general_purpose::STANDARD
        .decode(GOLDEN_B64)
        .unwrap();
    let rich = rich().build();
    vec![
        ("golden.bin", golden.clone()),
        ("golden-bare.bin", golden[70..].to_vec()),
        ("simple.bin", simple().build()),
        ("rich.bin", rich.clone()),
        ("rich-truncated.bin", rich[..rich.len() * 2 / 3].to_vec()),
        ("rtf-only.bin", rtf_only().build()),
        ("cp1252-bare.bin", cp1252_bare()),
        ("placeholder.bin", vec![0]),
    ]
}

#[test]
fn fixtures_are_current() {
    let regen = std::env::var_os("MBXA_REGENERATE_FIXTURES").is_some();
    for (name, bytes) in fixtures() {
        let path = dir().join(name);
        if regen {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            on_disk, bytes,
            "{name} differs from what the encoder writes now"
        );
    }
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

#[test]
fn fixtures_parse_to_their_content() {
    let g = parse(&read("golden.bin")).unwrap();
    assert_eq!(g, parse(&read("golden-bare.bin")).unwrap());
    assert_eq!(g.subject(), Some("Hi"));

    assert_eq!(parse(&read("simple.bin")).unwrap(), simple().to_message());
    let r = parse(&read("rich.bin")).unwrap();
    assert_eq!(r, rich().to_message());
    assert_eq!(r.attachments.len(), 3);

    let (t, err) = parse_partial(&read("rich-truncated.bin"));
    assert!(err.is_some());
    assert_eq!(t.subject(), Some("Q3 report – draft ✓"));

    let m = parse(&read("rtf-only.bin")).unwrap();
    let eml = String::from_utf8(to_eml(&m).unwrap()).unwrap();
    assert!(eml.contains("Content-Type: text/html"));
    assert!(
        eml.contains("Caf=C3=A9 menu") || eml.contains("Café menu"),
        "{eml}"
    );

    let c = parse(&read("cp1252-bare.bin")).unwrap();
    assert_eq!(c.subject(), Some("Café crème"));
    assert_eq!(c.properties.len(), 3);

    assert_eq!(
        parse(&read("placeholder.bin")).unwrap_err().kind,
        ParseErrorKind::NoData { len: 1 }
    );
}
