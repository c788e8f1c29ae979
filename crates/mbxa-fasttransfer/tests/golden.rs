//! The golden fixture of the reference (§1.6) decodes to its documented content.

use base64::Engine;
use mbxa_fasttransfer::{
    guid_from_str, parse, parse_detailed, tags::id, AttachMethod, Limits, NamedKind, PropKey,
    PropValue, PropertyBag, RecipientKind,
};
use sha2::{Digest, Sha256};

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

fn golden() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(GOLDEN_B64)
        .expect("valid base64")
}

#[test]
fn golden_digests_match_reference() {
    let blob = golden();
    assert_eq!(blob.len(), 495);
    assert_eq!(
        hex::encode(Sha256::digest(&blob)),
        "b26b9a58502173e56847a184656b880c129f27e3b1bf402971dd414c865a6909"
    );
    let bare = &blob[70..];
    assert_eq!(bare.len(), 425);
    assert_eq!(
        hex::encode(Sha256::digest(bare)),
        "aad0c48a0757df56486b44dc3a9b13e912012b7201f227d7d5440709b7e97b7a"
    );
}

fn check(m: &mbxa_fasttransfer::Message) {
    assert_eq!(m.message_class(), Some("IPM.Note"));
    assert_eq!(m.subject(), Some("Hi"));
    // 2024-01-02T03:04:05Z
    assert_eq!(m.submit_time(), Some(1_704_164_645));
    assert_eq!(
        m.get(id::CLIENT_SUBMIT_TIME),
        Some(&PropValue::SysTime(0x01DA_3D28_5848_C080))
    );
    assert_eq!(m.flags(), Some(0x11));
    assert_eq!(m.get(id::HAS_ATTACHMENTS), Some(&PropValue::Bool(true)));
    assert_eq!(m.body_text(), Some("Hello"));
    let common = guid_from_str("00062008-0000-0000-C000-000000000046").unwrap();
    assert_eq!(
        m.get_named(&common, &NamedKind::Id(0x8580)),
        Some(&PropValue::String("acct".into()))
    );
    let headers = guid_from_str("00020386-0000-0000-C000-000000000046").unwrap();
    assert_eq!(
        m.get_named(&headers, &NamedKind::Name("x-mailer".into())),
        Some(&PropValue::String("T".into()))
    );
    // FXDelProp is not kept as a property; 7 message-level properties remain.
    assert_eq!(m.properties.len(), 8);
    assert!(m
        .properties
        .iter()
        .all(|p| p.key != PropKey::Tagged(0x4016)));

    assert_eq!(m.recipients.len(), 1);
    let r = &m.recipients[0];
    assert_eq!(r.kind(), RecipientKind::To);
    assert_eq!(r.name(), Some("Bob"));
    assert_eq!(r.email(), Some("bob@example.com"));
    assert_eq!(r.get_i64(id::ROWID), Some(0));

    assert_eq!(m.attachments.len(), 2);
    let a = &m.attachments[0];
    assert_eq!(a.number(), Some(0));
    assert_eq!(a.method(), AttachMethod::ByValue);
    assert_eq!(a.filename(), Some("a.txt"));
    assert_eq!(a.data(), Some(&b"abc"[..]));
    assert!(a.embedded.is_none());

    let e = &m.attachments[1];
    assert_eq!(e.number(), Some(1));
    assert_eq!(e.method(), AttachMethod::EmbeddedMessage);
    let em = e.embedded_message().expect("embedded message");
    assert_eq!(em.get(id::MID), Some(&PropValue::I64(0)));
    assert_eq!(em.message_class(), Some("IPM.Note"));
    assert_eq!(em.subject(), Some("In"));
    assert!(em.recipients.is_empty() && em.attachments.is_empty());
}

#[test]
fn golden_framed_decodes_to_documented_content() {
    let blob = golden();
    let p = parse_detailed(&blob, Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(p.framed);
    check(&p.message);
}

#[test]
fn golden_bare_decodes_identically() {
    let blob = golden();
    let framed = parse(&blob).unwrap();
    let bare = parse(&blob[70..]).unwrap();
    check(&bare);
    assert_eq!(framed, bare);
}
