//! `--verify`: compare a re-exported item with its archive copy by content, not bytes.
//!
//! Import legitimately changes bytes (ids, change keys, sizes, times the store sets), so the
//! comparison is on parsed content: the typed fields (subject, class, sender, times, message id,
//! bodies, search key), recipients and attachments (name, type, content id, inline flag, SHA-256
//! of the data, embedded messages recursively) as multisets, and every other tagged property
//! except the ones the store owns ([`VOLATILE`]).

use std::collections::BTreeMap;

use mbxa_fasttransfer::{Attachment, Message, PropKey, Recipient};
use sha2::{Digest, Sha256};

/// Tagged property ids the store sets or rewrites on import/export: never compared.
pub const VOLATILE: &[u16] = &[
    0x0E07, // PidTagMessageFlags (read/unsent state may be adjusted)
    0x0E08, // PidTagMessageSize
    0x0E09, // PidTagParentEntryId
    0x0E20, // PidTagAttachSize
    0x0FF6, // PidTagInstanceKey
    0x0FF9, // PidTagRecordKey
    0x0FFF, // PidTagEntryId
    0x3007, // PidTagCreationTime
    0x3008, // PidTagLastModificationTime
    0x3FFA, // PidTagLastModifierName
    0x65E0, // PidTagSourceKey
    0x65E1, // PidTagParentSourceKey
    0x65E2, // PidTagChangeKey
    0x65E3, // PidTagPredecessorChangeList
    0x674A, // PidTagMid
    0x67A4, // PidTagChangeNumber
    0x6709, // PidTagLocalCommitTime
    0x670A, // PidTagLocalCommitTimeMax
    0x0E2F, // PidTagContentFilterSpamConfidenceLevel variants set by the store
];

/// Most differences listed per item.
const MAX_DIFFS: usize = 20;

/// Differences between the archive copy `a` and the re-exported copy `b` (empty: equal).
pub fn compare(a: &Message, b: &Message) -> Vec<String> {
    let mut out = Vec::new();
    compare_into("", a, b, &mut out);
    out.truncate(MAX_DIFFS);
    out
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

fn field<T: PartialEq + std::fmt::Debug>(
    out: &mut Vec<String>,
    prefix: &str,
    name: &str,
    a: T,
    b: T,
) {
    if a != b {
        out.push(short(&format!("{prefix}{name}: {a:?} != {b:?}")));
    }
}

fn digest(data: Option<&[u8]>) -> Option<String> {
    data.map(|d| hex(&Sha256::digest(d)[..8]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn compare_into(prefix: &str, a: &Message, b: &Message, out: &mut Vec<String>) {
    field(out, prefix, "subject", a.subject(), b.subject());
    field(
        out,
        prefix,
        "message class",
        a.message_class(),
        b.message_class(),
    );
    field(out, prefix, "sender", a.sender(), b.sender());
    field(out, prefix, "from", a.from(), b.from());
    field(out, prefix, "submit time", a.submit_time(), b.submit_time());
    field(
        out,
        prefix,
        "delivery time",
        a.delivery_time(),
        b.delivery_time(),
    );
    field(
        out,
        prefix,
        "internet message id",
        a.internet_message_id(),
        b.internet_message_id(),
    );
    field(
        out,
        prefix,
        "text body sha256",
        digest(a.body_text().map(str::as_bytes)),
        digest(b.body_text().map(str::as_bytes)),
    );
    field(
        out,
        prefix,
        "html body sha256",
        digest(a.body_html().as_deref().map(str::as_bytes)),
        digest(b.body_html().as_deref().map(str::as_bytes)),
    );
    field(
        out,
        prefix,
        "search key",
        a.search_key().map(hex),
        b.search_key().map(hex),
    );

    let ra = recipients(&a.recipients);
    let rb = recipients(&b.recipients);
    if ra != rb {
        out.push(format!("{prefix}recipients: {ra:?} != {rb:?}"));
    }

    let aa = attachments(&a.attachments);
    let ab = attachments(&b.attachments);
    if aa.len() != ab.len() {
        out.push(format!("{prefix}attachments: {} != {}", aa.len(), ab.len()));
    } else if aa.iter().map(|x| &x.0).ne(ab.iter().map(|x| &x.0)) {
        out.push(format!(
            "{prefix}attachments: {:?} != {:?}",
            aa.iter().map(|x| &x.0).collect::<Vec<_>>(),
            ab.iter().map(|x| &x.0).collect::<Vec<_>>()
        ));
    } else {
        for (i, ((_, ea), (_, eb))) in aa.iter().zip(&ab).enumerate() {
            match (ea, eb) {
                (Some(ea), Some(eb)) => {
                    compare_into(&format!("{prefix}attachment {i}/"), ea, eb, out)
                }
                (None, None) => {}
                _ => out.push(format!("{prefix}attachment {i}: embedded message differs")),
            }
        }
    }

    let pa = tagged(a);
    let pb = tagged(b);
    for (id, va) in &pa {
        match pb.get(id) {
            None => out.push(format!("{prefix}property 0x{id:04X} missing after import")),
            Some(vb) if vb != va => out.push(format!("{prefix}property 0x{id:04X} differs")),
            Some(_) => {}
        }
    }
    for id in pb.keys() {
        if !pa.contains_key(id) {
            out.push(format!("{prefix}property 0x{id:04X} added by import"));
        }
    }
}

/// Tagged, non-volatile message properties, by id, as comparable text.
fn tagged(m: &Message) -> BTreeMap<u16, String> {
    m.properties
        .iter()
        .filter_map(|p| match p.key {
            PropKey::Tagged(id) if !VOLATILE.contains(&id) => Some((id, format!("{:?}", p.value))),
            _ => None,
        })
        .collect()
}

fn recipients(rs: &[Recipient]) -> Vec<String> {
    let mut v: Vec<String> = rs
        .iter()
        .map(|r| {
            format!(
                "{:?} {} <{}>",
                r.kind(),
                r.name().unwrap_or(""),
                r.email().unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

/// Attachments as (summary, embedded message), sorted by summary.
fn attachments(atts: &[Attachment]) -> Vec<(String, Option<&Message>)> {
    let mut v: Vec<(String, Option<&Message>)> = atts
        .iter()
        .map(|a| {
            (
                format!(
                    "{} {} cid={} inline={} sha256={}",
                    a.filename().unwrap_or(""),
                    a.mime_type().unwrap_or(""),
                    a.content_id().unwrap_or(""),
                    a.is_inline(),
                    digest(a.data()).unwrap_or_default()
                ),
                a.embedded_message(),
            )
        })
        .collect();
    v.sort_by(|x, y| x.0.cmp(&y.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use mbxa_fasttransfer::{parse, MessageBuilder};

    fn msg(subject: &str, att: &[u8]) -> Message {
        let b = MessageBuilder::new("IPM.Note")
            .subject(subject)
            .from("A", "a@example.com")
            .to("B", "b@example.com")
            .cc("C", "c@example.com")
            .date_unix(1_700_000_000)
            .body_text("hello")
            .search_key(&[7; 16])
            .attachment("x.bin", "application/octet-stream", att)
            .build();
        parse(&b).unwrap()
    }

    #[test]
    fn equal_content_is_equal() {
        assert!(compare(&msg("s", b"data"), &msg("s", b"data")).is_empty());
    }

    #[test]
    fn differences_are_named() {
        let d = compare(&msg("s", b"data"), &msg("t", b"data"));
        assert!(d.iter().any(|x| x.starts_with("subject")), "{d:?}");
        let d = compare(&msg("s", b"data"), &msg("s", b"datb"));
        assert!(d.iter().any(|x| x.starts_with("attachments")), "{d:?}");
    }

    #[test]
    fn volatile_properties_are_ignored() {
        let a = msg("s", b"d");
        let mut b = a.clone();
        b.properties.retain(|p| p.key != PropKey::Tagged(0x0E08));
        b.properties.push(mbxa_fasttransfer::Property {
            key: PropKey::Tagged(0x0E08),
            ptype: 0x0003,
            value: mbxa_fasttransfer::PropValue::I32(12345),
        });
        // A non-volatile property added by the store is reported.
        let mut c = a.clone();
        c.properties.push(mbxa_fasttransfer::Property {
            key: PropKey::Tagged(0x0036),
            ptype: 0x0003,
            value: mbxa_fasttransfer::PropValue::I32(2),
        });
        assert!(!compare(&a, &c).is_empty());
        assert!(compare(&a, &b).is_empty());
    }
}
