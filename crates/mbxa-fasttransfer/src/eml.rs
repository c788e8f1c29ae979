//! Conversion of a message tree to RFC 5322 / MIME (`.eml`) following MS-OXCMAIL, written with the
//! `mail-builder` crate.
//!
//! Structure: `multipart/mixed` of the body and the attachments; the body is text, HTML, or
//! `multipart/alternative` of both; inline images (content id referenced by the HTML, or flagged
//! inline) go with the HTML in `multipart/related`. Embedded messages become `message/rfc822`
//! parts, converted recursively. When the item has neither PidTagBody nor PidTagHtml, the body is
//! recovered from PidTagRtfCompressed (`\fromhtml1` → HTML, otherwise text).
//!
//! Output is deterministic: boundaries derive from a SHA-256 of the message content (so they cannot
//! be predicted by a sender and collide with body text), and no header is invented except
//! `Date:` (the Unix epoch when the item has no time at all) and a `Message-ID:` derived from the
//! search key when the item has none.

use std::borrow::Cow;

use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};
use sha2::{Digest, Sha256};

use crate::error::EmlError;
use crate::message::{AttachMethod, Attachment, Mailbox, Message, PropertyBag, RecipientKind};
use crate::rtf;
use crate::tags::id;

/// Deepest nesting of embedded messages converted.
pub const MAX_DEPTH: usize = 32;

/// Converts a message to `.eml` bytes.
pub fn to_eml(msg: &Message) -> Result<Vec<u8>, EmlError> {
    let b = build(msg, 0)?;
    b.write_to_vec().map_err(|e| EmlError::Write(e.to_string()))
}

/// The body the `.eml` will carry, after RTF recovery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bodies {
    /// Plain text.
    pub text: Option<String>,
    /// HTML.
    pub html: Option<String>,
}

/// Text and HTML bodies of a message, recovering them from compressed RTF when neither exists.
pub fn bodies(msg: &Message) -> Bodies {
    let mut b = Bodies {
        text: msg.body_text().map(str::to_string),
        html: msg.body_html(),
    };
    if b.text.is_none() && b.html.is_none() {
        if let Some(raw) = msg.rtf_compressed().and_then(|c| rtf::decompress(c).ok()) {
            match rtf::encapsulation(&raw) {
                rtf::Encapsulated::Html => b.html = Some(rtf::extract(&raw, true)),
                _ => b.text = Some(rtf::extract(&raw, false)),
            }
        }
    }
    b
}

fn addr(m: Mailbox) -> Address<'static> {
    let name = (!m.name.is_empty() && m.name != m.email).then_some(m.name);
    Address::new_address(name, m.email)
}

fn strip_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn content_hash(msg: &Message, depth: usize) -> String {
    let mut h = Sha256::new();
    h.update((depth as u64).to_le_bytes());
    for p in &msg.properties {
        h.update(format!("{:?}", p.key).as_bytes());
        match &p.value {
            crate::PropValue::String(s) => h.update(s.as_bytes()),
            crate::PropValue::Binary(b) => h.update(b),
            v => h.update(format!("{v:?}").as_bytes()),
        }
    }
    for a in &msg.attachments {
        for p in &a.properties {
            if let Some(b) = p.value.as_bytes() {
                h.update(b);
            } else if let Some(s) = p.value.as_str() {
                h.update(s.as_bytes());
            }
        }
    }
    let d = h.finalize();
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

struct Boundaries {
    base: String,
    n: usize,
}

impl Boundaries {
    fn next(&mut self, kind: &str) -> ContentType<'static> {
        self.n += 1;
        ContentType::new(format!("multipart/{kind}"))
            .attribute("boundary", format!("=_mbxa_{}_{}", self.base, self.n))
    }
}

fn guess_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "eml" => "message/rfc822",
        "ics" => "text/calendar",
        "csv" => "text/csv",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// A one-off entry id (MS-OXCDATA 2.2.5.1) → mailbox.
fn one_off(e: &[u8]) -> Option<Mailbox> {
    const ONE_OFF_UID: [u8; 16] = [
        0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54,
        0x02,
    ];
    if e.len() < 24 || e[4..20] != ONE_OFF_UID {
        return None;
    }
    let flags = u16::from_le_bytes([e[22], e[23]]);
    let mut rest = &e[24..];
    let mut take = || -> Option<String> {
        if flags & 0x8000 != 0 {
            let end = rest.chunks_exact(2).position(|c| c == [0, 0])?;
            let (s, _) = crate::codepage::decode_utf16(&rest[..end * 2]);
            rest = &rest[end * 2 + 2..];
            Some(s)
        } else {
            let end = rest.iter().position(|b| *b == 0)?;
            let s = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 1..];
            Some(s)
        }
    };
    let name = take()?;
    let _atype = take()?;
    let email = take()?;
    Some(Mailbox { name, email })
}

/// PidTagReplyRecipientEntries (a FlatEntryList of one-off entry ids) → mailboxes.
pub fn reply_to(msg: &Message) -> Vec<Mailbox> {
    let Some(b) = msg.get_bytes(id::REPLY_RECIPIENT_ENTRIES) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if b.len() < 8 {
        return out;
    }
    let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut at = 8usize;
    for _ in 0..count.min(1024) {
        let Some(sz) = b.get(at..at + 4) else { break };
        let sz = u32::from_le_bytes([sz[0], sz[1], sz[2], sz[3]]) as usize;
        let Some(entry) = b.get(at + 4..(at + 4).saturating_add(sz)) else {
            break;
        };
        if let Some(m) = one_off(entry) {
            out.push(m);
        }
        at = at + 4 + sz.div_ceil(4) * 4;
    }
    out
}

fn disposition(part: MimePart<'static>, inline: bool, fname: String) -> MimePart<'static> {
    let kind = if inline { "inline" } else { "attachment" };
    part.header(
        "Content-Disposition",
        ContentType::new(kind).attribute("filename", fname),
    )
}

fn attachment_part(
    a: &Attachment,
    depth: usize,
    inline: bool,
) -> Result<Option<MimePart<'static>>, EmlError> {
    let name = a.filename().map(str::to_string);
    match a.method() {
        AttachMethod::EmbeddedMessage => {
            let Some(inner) = a.embedded_message() else {
                return Ok(None);
            };
            let bytes = build(inner, depth + 1)?
                .write_to_vec()
                .map_err(|e| EmlError::Write(e.to_string()))?;
            let fname = name
                .or_else(|| inner.subject().map(str::to_string))
                .unwrap_or_else(|| "message".into());
            let fname = if fname.to_ascii_lowercase().ends_with(".eml") {
                fname
            } else {
                format!("{fname}.eml")
            };
            let part = MimePart::new("message/rfc822", BodyPart::Binary(Cow::Owned(bytes)))
                .transfer_encoding("8bit");
            Ok(Some(disposition(part, false, fname)))
        }
        _ => {
            let Some(data) = a.data() else {
                return Ok(None);
            };
            let fname = name.unwrap_or_else(|| "attachment.bin".into());
            let mime = a
                .mime_type()
                .filter(|m| m.contains('/') && !m.contains(['\r', '\n', ';']))
                .map(|m| m.trim().to_string())
                .unwrap_or_else(|| guess_mime(&fname).to_string());
            let mut part = MimePart::new(
                ContentType::new(mime),
                BodyPart::Binary(Cow::Owned(data.to_vec())),
            );
            if let Some(cid) = a.content_id() {
                part = part.cid(strip_id(cid));
            }
            if let Some(loc) = a.content_location() {
                part = part.location(loc.to_string());
            }
            Ok(Some(disposition(part, inline, fname)))
        }
    }
}

fn build(msg: &Message, depth: usize) -> Result<mail_builder::MessageBuilder<'static>, EmlError> {
    if depth > MAX_DEPTH {
        return Err(EmlError::TooDeep(MAX_DEPTH));
    }
    let mut bnd = Boundaries {
        base: content_hash(msg, depth),
        n: 0,
    };
    let mut b = mail_builder::MessageBuilder::new();
    for (name, value) in trace_headers(msg) {
        b = b.header(name, Raw::new(value));
    }

    let from = msg.from();
    if let Some(f) = from.clone() {
        b = b.from(addr(f));
    }
    if let Some(s) = msg.sender() {
        if from
            .as_ref()
            .is_none_or(|f| !f.email.eq_ignore_ascii_case(&s.email))
        {
            b = b.sender(addr(s));
        }
    }
    for (kind, hdr) in [
        (RecipientKind::To, "To"),
        (RecipientKind::Cc, "Cc"),
        (RecipientKind::Bcc, "Bcc"),
    ] {
        let list: Vec<Address<'static>> = msg
            .recipients_of(kind)
            .map(|r| r.mailbox())
            .filter(|m| !m.email.is_empty() || !m.name.is_empty())
            .map(addr)
            .collect();
        if !list.is_empty() {
            b = b.header(hdr, Address::new_list(list));
        }
    }
    let rt: Vec<Address<'static>> = reply_to(msg).into_iter().map(addr).collect();
    if !rt.is_empty() {
        b = b.reply_to(Address::new_list(rt));
    }
    b = b.date(Date::new(msg.date().unwrap_or(0)));
    if let Some(s) = msg.full_subject() {
        b = b.subject(Text::new(s));
    }
    match msg.internet_message_id() {
        Some(mid) => b = b.message_id(strip_id(mid)),
        None => {
            let key = msg
                .search_key()
                .map(|k| k.iter().map(|x| format!("{x:02x}")).collect::<String>())
                .unwrap_or_else(|| bnd.base.clone());
            b = b.message_id(format!("{key}@mbxa.invalid"));
        }
    }
    if let Some(r) = msg.in_reply_to() {
        b = b.in_reply_to(strip_id(r));
    }
    if let Some(refs) = msg.references() {
        let ids: Vec<String> = refs.split_whitespace().map(strip_id).collect();
        if !ids.is_empty() {
            b = b.references(MessageId::new_list(ids.into_iter()));
        }
    }
    match msg.importance() {
        Some(0) => {
            b = b
                .header("Importance", Raw::new("low"))
                .header("X-Priority", Raw::new("5"))
        }
        Some(2) => {
            b = b
                .header("Importance", Raw::new("high"))
                .header("X-Priority", Raw::new("1"))
        }
        _ => {}
    }
    let sens = match msg.get_i64(id::SENSITIVITY) {
        Some(1) => Some("Personal"),
        Some(2) => Some("Private"),
        Some(3) => Some("Company-Confidential"),
        _ => None,
    };
    if let Some(s) = sens {
        b = b.header("Sensitivity", Raw::new(s));
    }

    let bodies = bodies(msg);
    let html_lc = bodies.html.as_deref().map(str::to_ascii_lowercase);
    let referenced = |a: &Attachment| -> bool {
        let (Some(h), Some(cid)) = (html_lc.as_deref(), a.content_id()) else {
            return false;
        };
        a.is_inline() || h.contains(&format!("cid:{}", strip_id(cid).to_ascii_lowercase()))
    };

    let mut inline_parts = Vec::new();
    let mut attach_parts = Vec::new();
    for a in &msg.attachments {
        let inline = a.method() != AttachMethod::EmbeddedMessage && referenced(a);
        if let Some(p) = attachment_part(a, depth, inline)? {
            if inline {
                inline_parts.push(p);
            } else {
                attach_parts.push(p);
            }
        }
    }

    let text_part = bodies
        .text
        .map(|t| MimePart::new("text/plain", normalize_newlines(&t)));
    let html_part = bodies.html.map(|h| {
        let html = MimePart::new("text/html", normalize_newlines(&h));
        if inline_parts.is_empty() {
            html
        } else {
            let mut parts = vec![html];
            parts.append(&mut inline_parts);
            MimePart::new(bnd.next("related"), BodyPart::Multipart(parts))
        }
    });
    // Inline parts without an HTML body to hang on are ordinary attachments.
    attach_parts.append(&mut inline_parts);
    let body = match (text_part, html_part) {
        (Some(t), Some(h)) => {
            MimePart::new(bnd.next("alternative"), BodyPart::Multipart(vec![t, h]))
        }
        (Some(t), None) => t,
        (None, Some(h)) => h,
        (None, None) => MimePart::new("text/plain", ""),
    };
    let root = if attach_parts.is_empty() {
        body
    } else {
        let mut parts = vec![body];
        parts.append(&mut attach_parts);
        MimePart::new(bnd.next("mixed"), BodyPart::Multipart(parts))
    };
    Ok(b.body(root))
}

/// Trace headers worth replaying from PidTagTransportMessageHeaders (received mail): the MIME
/// structure and addressing headers are rebuilt from properties, but where the mail came from is
/// only recorded there. Values are unfolded; at most 100 headers of 4 KiB are taken.
pub fn trace_headers(msg: &Message) -> Vec<(&'static str, String)> {
    const KEEP: [&str; 4] = [
        "Return-Path",
        "Received",
        "Authentication-Results",
        "Received-SPF",
    ];
    let Some(block) = msg.transport_headers() else {
        return Vec::new();
    };
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut cur: Option<(&'static str, String)> = None;
    let flush = |cur: &mut Option<(&'static str, String)>,
                 out: &mut Vec<(&'static str, String)>| {
        if let Some((n, v)) = cur.take() {
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            if out.len() < 100 && v.len() <= 4096 && !v.trim().is_empty() {
                out.push((n, v.trim().to_string()));
            }
        }
    };
    for line in block.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            // End of the header block.
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        flush(&mut cur, &mut out);
        if let Some((name, value)) = line.split_once(':') {
            if let Some(k) = KEEP.iter().find(|k| k.eq_ignore_ascii_case(name.trim())) {
                cur = Some((k, value.to_string()));
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Bodies from Exchange use CRLF already; make bare LFs CRLF so 7-bit output is canonical.
fn normalize_newlines(s: &str) -> String {
    if !s.contains('\n') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}
