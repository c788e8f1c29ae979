//! `.eml` output parses with an independent MIME parser (mail-parser) and matches the item.

use mail_parser::{MessageParser, MimeHeaders};
use mbxa_fasttransfer::{eml::to_eml, parse, rtf, MessageBuilder, PropValue};

fn parse_eml(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("parsable .eml")
}

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

fn rich() -> MessageBuilder {
    MessageBuilder::new("IPM.Note")
        .subject("Zürich – planning ✓")
        .from("Ann Müller", "ann@example.com")
        .to("Bob", "bob@example.com")
        .to("Carol Ünal", "carol@example.com")
        .cc("Dave", "dave@example.com")
        .bcc("Eve", "eve@example.com")
        .date_unix(1_700_000_000)
        .internet_message_id("<m1@example.com>")
        .in_reply_to("<m0@example.com>")
        .references("<a@x> <m0@example.com>")
        .importance(2)
        .body_text("Hello Bob,\r\nthe plan is attached.\r\n")
        .body_html("<html><body><p>Hello <b>Bob</b></p><img src=\"cid:logo@ex\"></body></html>")
        .attachment(
            "plan.pdf",
            "application/pdf",
            &(0..=255u8).cycle().take(5000).collect::<Vec<_>>(),
        )
        .inline_image("logo.png", "image/png", "logo@ex", b"\x89PNG\r\n\x1a\nDATA")
        .embedded_message(
            "Earlier mail",
            MessageBuilder::new("IPM.Note")
                .subject("Earlier")
                .from("Zed", "zed@example.com")
                .to("Ann Müller", "ann@example.com")
                .date_unix(1_600_000_000)
                .body_text("older body")
                .attachment("inner.txt", "text/plain", b"inner bytes"),
        )
}

#[test]
fn headers_bodies_and_attachments_survive() {
    let msg = parse(&rich().build()).unwrap();
    let bytes = to_eml(&msg).unwrap();
    let m = parse_eml(&bytes);
    assert_eq!(m.subject(), Some("Zürich – planning ✓"));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Ann Müller"));
    assert_eq!(from.address(), Some("ann@example.com"));
    assert!(
        m.sender().is_none(),
        "Sender only when it differs from From"
    );
    let to: Vec<_> = m.to().unwrap().iter().filter_map(|x| x.address()).collect();
    assert_eq!(to, ["bob@example.com", "carol@example.com"]);
    assert_eq!(
        m.to().unwrap().iter().nth(1).unwrap().name(),
        Some("Carol Ünal")
    );
    assert!(m.cc().unwrap().contains("dave@example.com"));
    assert!(m.bcc().unwrap().contains("eve@example.com"));
    assert_eq!(m.date().unwrap().to_timestamp(), 1_700_000_000);
    assert_eq!(m.message_id(), Some("m1@example.com"));
    assert_eq!(m.in_reply_to().as_text(), Some("m0@example.com"));
    let refs: Vec<_> = m
        .references()
        .as_text_list()
        .unwrap()
        .iter()
        .map(|s| s.as_ref())
        .collect();
    assert_eq!(refs, ["a@x", "m0@example.com"]);
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("Importance: high\r\n"));
    assert!(raw.contains("X-Priority: 1\r\n"));
    // Non-ASCII subject is RFC 2047 encoded: the raw header is ASCII.
    let subj_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subj_line.is_ascii() && subj_line.contains("=?"));

    assert_eq!(
        crlf(&m.body_text(0).unwrap()),
        "Hello Bob,\nthe plan is attached."
    );
    assert!(m.body_html(0).unwrap().contains("<p>Hello <b>Bob</b></p>"));

    let atts: Vec<_> = m.attachments().collect();
    let pdf = atts
        .iter()
        .find(|p| p.attachment_name() == Some("plan.pdf"))
        .unwrap();
    assert_eq!(pdf.content_type().unwrap().ctype(), "application");
    assert_eq!(
        pdf.contents(),
        &(0..=255u8).cycle().take(5000).collect::<Vec<_>>()[..]
    );
    let logo = atts
        .iter()
        .find(|p| p.content_id() == Some("logo@ex"))
        .unwrap();
    assert_eq!(logo.contents(), b"\x89PNG\r\n\x1a\nDATA");
    assert!(raw.contains("multipart/related"));
    assert!(raw.contains("multipart/alternative"));
    let nested = atts
        .iter()
        .find_map(|p| p.message())
        .expect("message/rfc822 part");
    assert_eq!(nested.subject(), Some("Earlier"));
    assert_eq!(nested.date().unwrap().to_timestamp(), 1_600_000_000);
    assert_eq!(crlf(&nested.body_text(0).unwrap()), "older body");
    let inner = nested.attachments().next().unwrap();
    assert_eq!(inner.attachment_name(), Some("inner.txt"));
    assert_eq!(inner.contents(), b"inner bytes");
}

#[test]
fn output_is_deterministic() {
    let msg = parse(&rich().build()).unwrap();
    assert_eq!(to_eml(&msg).unwrap(), to_eml(&msg).unwrap());
}

#[test]
fn sender_header_when_different_from_from() {
    let b = MessageBuilder::new("IPM.Note")
        .from("Boss", "boss@example.com")
        .property(0x0C1A_001F, PropValue::String("Assistant".into()))
        .property(
            0x0C1F_001F,
            PropValue::String("assistant@example.com".into()),
        )
        .property(
            0x5D01_001F,
            PropValue::String("assistant@example.com".into()),
        )
        .body_text("x");
    let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
    let m = parse_eml(&bytes);
    assert_eq!(
        m.from().unwrap().first().unwrap().address(),
        Some("boss@example.com")
    );
    assert_eq!(
        m.sender().unwrap().first().unwrap().address(),
        Some("assistant@example.com")
    );
}

#[test]
fn body_recovered_from_rtf_when_no_other_body() {
    let html_rtf = br"{\rtf1\ansi\fromhtml1{\*\htmltag19 <html>}{\*\htmltag50 <body>}Hi there{\*\htmltag58 </body>}{\*\htmltag27 </html>}}";
    let b = MessageBuilder::new("IPM.Note")
        .subject("r")
        .rtf_compressed(&rtf::compress_lzfu_literal(html_rtf));
    let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
    let m = parse_eml(&bytes);
    assert_eq!(
        m.body_html(0).unwrap(),
        "<html><body>Hi there</body></html>"
    );

    let text_rtf = br"{\rtf1\ansi\fromtext Line one\par Line two}";
    let b = MessageBuilder::new("IPM.Note")
        .subject("r")
        .rtf_compressed(&rtf::compress_mela(text_rtf));
    let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
    assert_eq!(
        crlf(&parse_eml(&bytes).body_text(0).unwrap()),
        "Line one\nLine two"
    );
}

#[test]
fn minimal_item_still_makes_a_valid_eml() {
    let msg = parse(&MessageBuilder::new("IPM.Note").build()).unwrap();
    let bytes = to_eml(&msg).unwrap();
    let m = parse_eml(&bytes);
    assert!(m.message_id().is_some());
    assert_eq!(m.date().unwrap().to_timestamp(), 0);
}

/// A one-off entry id (MS-OXCDATA 2.2.5.1), Unicode flavour.
fn one_off(name: &str, email: &str) -> Vec<u8> {
    let mut e = vec![0, 0, 0, 0];
    e.extend_from_slice(&[
        0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54,
        0x02,
    ]);
    e.extend_from_slice(&[0, 0, 0x00, 0x80]); // version 0, flags MAPI_UNICODE
    for s in [name, "SMTP", email] {
        for u in s.encode_utf16() {
            e.extend_from_slice(&u.to_le_bytes());
        }
        e.extend_from_slice(&[0, 0]);
    }
    e
}

#[test]
fn reply_to_from_one_off_entry_list() {
    let a = one_off("Help Desk", "help@example.com");
    let b = one_off("Ops", "ops@example.com");
    let mut list = Vec::new();
    list.extend_from_slice(&2u32.to_le_bytes());
    list.extend_from_slice(&0u32.to_le_bytes());
    for e in [&a, &b] {
        list.extend_from_slice(&(e.len() as u32).to_le_bytes());
        list.extend_from_slice(e);
        while list.len() % 4 != 0 {
            list.push(0);
        }
    }
    let msg = MessageBuilder::new("IPM.Note")
        .from("Ann", "ann@example.com")
        .property(0x004F_0102, PropValue::Binary(list))
        .body_text("x");
    let bytes = to_eml(&parse(&msg.build()).unwrap()).unwrap();
    let m = parse_eml(&bytes);
    let rt: Vec<_> = m
        .reply_to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(rt, ["help@example.com", "ops@example.com"]);
    assert_eq!(
        m.reply_to().unwrap().first().unwrap().name(),
        Some("Help Desk")
    );
}

#[test]
fn html_body_is_preferred_over_rtf_and_plain_bodies_are_kept() {
    let b = MessageBuilder::new("IPM.Note")
        .body_text("plain")
        .rtf_compressed(&rtf::compress_mela(br"{\rtf1\fromtext ignored}"));
    let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
    let m = parse_eml(&bytes);
    assert_eq!(crlf(&m.body_text(0).unwrap()), "plain");
    assert!(!String::from_utf8_lossy(&bytes).contains("ignored"));
}

#[test]
fn trace_headers_are_replayed_from_transport_headers() {
    let headers = "Received: from mx1.example.net (10.0.0.1) by\r\n mbx.example.com; Tue, 14 Nov 2023 22:13:19 +0000\r\n\
Received: from client by mx1.example.net; Tue, 14 Nov 2023 22:13:18 +0000\r\n\
Authentication-Results: spf=pass smtp.mailfrom=example.net\r\n\
DKIM-Signature: v=1; a=rsa-sha256; b=abc\r\n\
Subject: ignored, rebuilt from properties\r\n\r\nbody";
    let b = MessageBuilder::new("IPM.Note")
        .subject("Real subject")
        .property(0x007D_001F, PropValue::String(headers.into()))
        .body_text("x");
    let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
    // Unfold (the writer folds long header lines) before comparing.
    let raw = String::from_utf8_lossy(&bytes).replace("\r\n ", " ");
    assert!(raw.starts_with(
        "Received: from mx1.example.net (10.0.0.1) by mbx.example.com; Tue, 14 Nov 2023 22:13:19 +0000\r\n"
    ));
    assert_eq!(raw.matches("\r\nReceived: ").count(), 1);
    assert!(raw.contains("Authentication-Results: spf=pass smtp.mailfrom=example.net\r\n"));
    assert!(!raw.contains("DKIM-Signature"));
    let m = parse_eml(&bytes);
    assert_eq!(m.subject(), Some("Real subject"));
}

#[test]
fn extreme_dates_do_not_break_conversion() {
    for ft in [1u64, 0x7FFF_FFFF_FFFF_FFFE, 116_444_736_000_000_000 - 1] {
        let b = MessageBuilder::new("IPM.Note")
            .property(0x0039_0040, PropValue::SysTime(ft))
            .body_text("x");
        let bytes = to_eml(&parse(&b.build()).unwrap()).unwrap();
        assert!(parse_eml(&bytes).date().is_some());
    }
}
