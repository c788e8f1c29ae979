//! A cheap one-pass summary of an item (class, subject, sender, date, counts) for listings: reads
//! the stream without keeping attachment data.

use std::io::Read;

use crate::lexer::{decode_variable, Event, Lexer, Limits};
use crate::message::{filetime_to_unix, Mailbox};
use crate::tags::{id, marker};
use crate::value::PropValue;
use crate::ParseError;

/// What a listing shows about an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// PidTagMessageClass.
    pub message_class: Option<String>,
    /// PidTagSubject.
    pub subject: Option<String>,
    /// `From:` (SentRepresenting, else Sender).
    pub from: Option<Mailbox>,
    /// Submit time, else delivery time, else creation time (Unix seconds).
    pub date: Option<i64>,
    /// PidTagInternetMessageId.
    pub internet_message_id: Option<String>,
    /// Top-level recipients.
    pub recipients: usize,
    /// Top-level attachments.
    pub attachments: usize,
    /// The error that stopped the scan, if any.
    pub error: Option<ParseError>,
}

/// Values longer than this are skipped rather than decoded (bodies, attachment data).
const MAX_KEPT: usize = 8 * 1024;

/// Summarizes a blob read from `r`, keeping only small top-level values.
pub fn summarize<R: Read>(r: R) -> Summary {
    let mut lx = Lexer::new(r, Limits::default());
    let mut s = Summary::default();
    let mut depth = 0usize;
    let mut strs: Vec<(u16, String)> = Vec::new();
    let mut times: Vec<(u16, u64)> = Vec::new();
    let mut pending: Option<(u16, u16, Vec<u8>)> = None;
    loop {
        let ev = match lx.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        };
        match ev {
            Event::Marker(m) => match m {
                marker::START_RECIP | marker::NEW_ATTACH | marker::START_EMBED => {
                    if depth == 0 {
                        if m == marker::START_RECIP {
                            s.recipients += 1;
                        } else if m == marker::NEW_ATTACH {
                            s.attachments += 1;
                        }
                    }
                    depth += 1;
                }
                marker::END_TO_RECIP | marker::END_ATTACH | marker::END_EMBED => {
                    depth = depth.saturating_sub(1)
                }
                _ => {}
            },
            Event::Prop {
                tag,
                named: None,
                value: PropValue::SysTime(t),
            } if depth == 0 => times.push((tag.id(), t)),
            Event::PropStart { tag, named, len } => {
                pending = (depth == 0 && named.is_none() && (len as usize) <= MAX_KEPT)
                    .then(|| (tag.id(), tag.ptype(), Vec::new()));
            }
            Event::Chunk(c) => {
                if let Some((_, _, b)) = pending.as_mut() {
                    b.extend_from_slice(c);
                }
            }
            Event::PropEnd => {
                if let Some((pid, t, b)) = pending.take() {
                    if let (PropValue::String(v), _) = decode_variable(t, b, 1252) {
                        strs.push((pid, v));
                    }
                }
            }
            _ => {}
        }
    }
    let get = |pid: u16| {
        strs.iter()
            .rev()
            .find(|(p, v)| *p == pid && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
    };
    let time = |pid: u16| {
        times
            .iter()
            .rev()
            .find(|(p, t)| *p == pid && *t != 0 && *t < 0x7FFF_FFFF_FFFF_FFFF)
            .map(|(_, t)| filetime_to_unix(*t))
    };
    s.message_class = get(id::MESSAGE_CLASS);
    s.subject = get(id::SUBJECT).or_else(|| get(id::NORMALIZED_SUBJECT));
    s.internet_message_id = get(id::INTERNET_MESSAGE_ID);
    s.date = time(id::CLIENT_SUBMIT_TIME)
        .or_else(|| time(id::MESSAGE_DELIVERY_TIME))
        .or_else(|| time(id::CREATION_TIME));
    let mb = |n: u16, e: u16, smtp: u16| {
        let name = get(n).unwrap_or_default();
        let email = get(smtp).or_else(|| get(e)).unwrap_or_default();
        (!name.is_empty() || !email.is_empty()).then_some(Mailbox { name, email })
    };
    s.from = mb(
        id::SENT_REPRESENTING_NAME,
        id::SENT_REPRESENTING_EMAIL_ADDRESS,
        id::SENT_REPRESENTING_SMTP_ADDRESS,
    )
    .or_else(|| {
        mb(
            id::SENDER_NAME,
            id::SENDER_EMAIL_ADDRESS,
            id::SENDER_SMTP_ADDRESS,
        )
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageBuilder;

    #[test]
    fn summary_matches_full_parse() {
        let b = MessageBuilder::new("IPM.Note")
            .subject("Weekly")
            .from("Ann", "ann@example.com")
            .to("Bob", "bob@example.com")
            .date_unix(1_700_000_000)
            .body_text(&"x".repeat(20_000))
            .attachment("a", "text/plain", &[1; 100_000])
            .embedded_message(
                "e",
                MessageBuilder::new("IPM.Note")
                    .subject("inner")
                    .to("Z", "z@z"),
            );
        let s = summarize(&b.build()[..]);
        assert_eq!(s.message_class.as_deref(), Some("IPM.Note"));
        assert_eq!(s.subject.as_deref(), Some("Weekly"));
        assert_eq!(s.from.unwrap().email, "ann@example.com");
        assert_eq!(s.date, Some(1_700_000_000));
        assert_eq!((s.recipients, s.attachments), (1, 2));
        assert!(s.error.is_none());
        let t = summarize(&b.build()[..200]);
        assert!(t.error.is_some());
    }
}
