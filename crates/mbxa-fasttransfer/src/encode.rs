//! Encoder: writes message trees as export-style FastTransfer blobs (FxProxy preamble +
//! TransferBuffer records, `0x84B0` strings), and [`MessageBuilder`] for realistic test items.

use std::collections::HashMap;

use crate::codepage::{self, CP_UTF16LE};
use crate::framing::{OP_CONFIG, OP_IS_INTERFACE_OK, OP_TELL_PARTNER_VERSION, OP_TRANSFER_BUFFER};
use crate::lexer::{classify, TypeClass};
use crate::message::{unix_to_filetime, Attachment, Message, Recipient};
use crate::tags::{id, marker, meta};
use crate::value::{ptype, NamedKind, PropKey, PropValue, Property};

/// IID_IMessage {00020307-0000-0000-C000-000000000046}, wire layout.
const IID_IMESSAGE: [u8; 16] = [
    0x07, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
];

/// How to write a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Wrap in the FxProxy preamble + TransferBuffer records (what exports look like).
    pub framed: bool,
    /// Largest TransferBuffer payload. Atoms are never split; values may straddle records.
    pub record_size: usize,
    /// Write `String` values of type `0x001F`/`0x101F` as `0x84B0`/`0x94B0` (export style).
    pub export_strings: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            framed: true,
            record_size: 32_767,
            export_strings: true,
        }
    }
}

/// Low-level stream writer: atoms and values, cut into TransferBuffer records.
#[derive(Debug)]
pub struct StreamWriter {
    out: Vec<u8>,
    opts: EncodeOptions,
    /// Position of the open record's length field, and its payload length so far.
    open: Option<(usize, usize)>,
    named_ids: HashMap<([u8; 16], NamedKind), u16>,
}

impl StreamWriter {
    /// A writer; with `framed`, the 62-byte preamble is written at once.
    pub fn new(opts: EncodeOptions) -> Self {
        let mut out = Vec::new();
        if opts.framed {
            let rec = |out: &mut Vec<u8>, op: u32, payload: &[u8]| {
                out.extend_from_slice(&op.to_le_bytes());
                out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                out.extend_from_slice(payload);
            };
            rec(&mut out, OP_CONFIG, &[0, 0, 0, 0, 1, 0, 0, 0]);
            let mut ok = vec![1, 0, 0, 0];
            ok.extend_from_slice(&IID_IMESSAGE);
            ok.extend_from_slice(&0x8000_2400u32.to_le_bytes());
            rec(&mut out, OP_IS_INTERFACE_OK, &ok);
            rec(
                &mut out,
                OP_TELL_PARTNER_VERSION,
                &[0x01, 0x0E, 0x8B, 0x80, 0x00, 0x00],
            );
        }
        let record_size = opts.record_size.max(64);
        StreamWriter {
            out,
            opts: EncodeOptions {
                record_size,
                ..opts
            },
            open: None,
            named_ids: HashMap::new(),
        }
    }

    fn open_record(&mut self) {
        self.out
            .extend_from_slice(&OP_TRANSFER_BUFFER.to_le_bytes());
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        self.open = Some((at, 0));
    }

    fn close_record(&mut self) {
        if let Some((at, len)) = self.open.take() {
            self.out[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
        }
    }

    /// Writes an atom (marker, tag + named info, length, fixed value) without splitting it.
    pub fn atom(&mut self, bytes: &[u8]) {
        if self.opts.framed {
            match self.open {
                Some((_, len)) if len > 0 && len + bytes.len() > self.opts.record_size => {
                    self.close_record();
                    self.open_record();
                }
                None => self.open_record(),
                _ => {}
            }
            if let Some((_, len)) = self.open.as_mut() {
                *len += bytes.len();
            }
        }
        self.out.extend_from_slice(bytes);
    }

    /// Writes value bytes, which may straddle records.
    pub fn value_bytes(&mut self, mut bytes: &[u8]) {
        if !self.opts.framed {
            self.out.extend_from_slice(bytes);
            return;
        }
        while !bytes.is_empty() {
            let room = match self.open {
                Some((_, len)) if len < self.opts.record_size => self.opts.record_size - len,
                _ => {
                    self.close_record();
                    self.open_record();
                    self.opts.record_size
                }
            };
            let n = room.min(bytes.len());
            self.out.extend_from_slice(&bytes[..n]);
            if let Some((_, len)) = self.open.as_mut() {
                *len += n;
            }
            bytes = &bytes[n..];
        }
    }

    /// Writes a marker.
    pub fn marker(&mut self, m: u32) {
        self.atom(&m.to_le_bytes());
    }

    /// Writes one property. Returns false (writing nothing) if it cannot be represented: a value
    /// that fits no wire type, or a tagged id that is ≥ 0x8000 or collides with a marker.
    pub fn property(&mut self, p: &Property) -> bool {
        let Some((wire_type, value_bytes)) = self.wire_value(p) else {
            return false;
        };
        let mut head = Vec::with_capacity(32);
        match &p.key {
            PropKey::Tagged(pid) => {
                let tag = (u32::from(*pid) << 16) | u32::from(wire_type);
                if *pid >= 0x8000 || marker::is_marker(tag) {
                    return false;
                }
                head.extend_from_slice(&tag.to_le_bytes());
            }
            PropKey::Named { guid, name } => {
                let next = 0x8001u16
                    .saturating_add(self.named_ids.len() as u16)
                    .min(0xFFFE);
                let local = *self.named_ids.entry((*guid, name.clone())).or_insert(next);
                let tag = (u32::from(local) << 16) | u32::from(wire_type);
                head.extend_from_slice(&tag.to_le_bytes());
                head.extend_from_slice(guid);
                match name {
                    NamedKind::Id(d) => {
                        head.push(0);
                        head.extend_from_slice(&d.to_le_bytes());
                    }
                    NamedKind::Name(s) => {
                        head.push(1);
                        for u in s.encode_utf16().filter(|u| *u != 0) {
                            head.extend_from_slice(&u.to_le_bytes());
                        }
                        head.extend_from_slice(&[0, 0]);
                    }
                }
            }
        }
        match value_bytes {
            WireValue::Fixed(b) => {
                head.extend_from_slice(&b);
                self.atom(&head);
            }
            WireValue::Variable(b) => {
                head.extend_from_slice(&(b.len() as u32).to_le_bytes());
                self.atom(&head);
                self.value_bytes(&b);
            }
            WireValue::Multi(elems) => {
                head.extend_from_slice(&(elems.len() as u32).to_le_bytes());
                self.atom(&head);
                for e in elems {
                    match e {
                        WireValue::Variable(b) => {
                            self.atom(&(b.len() as u32).to_le_bytes());
                            self.value_bytes(&b);
                        }
                        WireValue::Fixed(b) => self.atom(&b),
                        WireValue::Multi(_) => {}
                    }
                }
            }
        }
        true
    }

    fn wire_value(&self, p: &Property) -> Option<(u16, WireValue)> {
        let special = matches!(p.key, PropKey::Tagged(k) if (u32::from(k) << 16 | u32::from(p.ptype)) == meta::IDSET_GIVEN);
        if special {
            return p
                .value
                .as_bytes()
                .map(|b| (p.ptype, WireValue::Variable(b.to_vec())));
        }
        let mut t = p.ptype;
        if self.opts.export_strings {
            t = match t {
                ptype::UNICODE => ptype::CP_UTF16,
                0x101F => ptype::MV_CP_UTF16,
                other => other,
            };
        }
        if let Some(v) = encode_value(t, &p.value) {
            return Some((t, v));
        }
        // The declared type does not fit the value: use the value's natural type.
        let t = natural_type(&p.value, self.opts.export_strings)?;
        encode_value(t, &p.value).map(|v| (t, v))
    }

    /// Finishes the blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.close_record();
        self.out
    }
}

enum WireValue {
    Fixed(Vec<u8>),
    Variable(Vec<u8>),
    Multi(Vec<WireValue>),
}

/// The natural wire type for a value.
pub fn natural_type(v: &PropValue, export_strings: bool) -> Option<u16> {
    Some(match v {
        PropValue::I16(_) => ptype::I16,
        PropValue::I32(_) => ptype::I32,
        PropValue::F32(_) => ptype::F32,
        PropValue::F64(_) => ptype::F64,
        PropValue::Currency(_) => ptype::CURRENCY,
        PropValue::AppTime(_) => ptype::APPTIME,
        PropValue::Error(_) => ptype::ERROR,
        PropValue::Bool(_) => ptype::BOOLEAN,
        PropValue::I64(_) => ptype::I64,
        PropValue::String(_) if export_strings => ptype::CP_UTF16,
        PropValue::String(_) => ptype::UNICODE,
        PropValue::Binary(_) => ptype::BINARY,
        PropValue::Guid(_) => ptype::GUID,
        PropValue::SysTime(_) => ptype::SYSTIME,
        PropValue::ServerId(_) => ptype::SERVERID,
        PropValue::Object(_) => ptype::OBJECT,
        PropValue::RawString { codepage, .. } => {
            0x8000 | codepage::encode_type_codepage(*codepage).unwrap_or(4095)
        }
        PropValue::Multi(vs) => {
            let first = vs
                .first()
                .map_or(Some(ptype::BINARY), |v| natural_type(v, export_strings))?;
            first | ptype::MV
        }
    })
}

fn encode_string(t: u16, s: &str) -> Option<Vec<u8>> {
    let cp = if t & 0x8000 != 0 {
        codepage::decode_type_codepage(t)?
    } else if t & 0x0FFF == ptype::UNICODE {
        CP_UTF16LE
    } else {
        codepage::CP_DEFAULT
    };
    if cp == CP_UTF16LE {
        let mut b = Vec::with_capacity(s.len() * 2 + 2);
        for u in s.encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        b.extend_from_slice(&[0, 0]);
        return Some(b);
    }
    let enc = codepage::encoding_for(cp)?;
    let (bytes, _, unmappable) = enc.encode(s);
    if unmappable || enc.output_encoding() != enc {
        return None;
    }
    let mut b = bytes.into_owned();
    b.push(0);
    Some(b)
}

fn encode_value(t: u16, v: &PropValue) -> Option<WireValue> {
    let class = classify(t)?;
    if let TypeClass::Multi(_) = class {
        let PropValue::Multi(vs) = v else {
            return None;
        };
        let single = t & !ptype::MV;
        let elems = vs
            .iter()
            .map(|e| encode_value(single, e))
            .collect::<Option<Vec<_>>>()?;
        return Some(WireValue::Multi(elems));
    }
    let base = if t & 0x8000 != 0 { t } else { t & 0x0FFF };
    Some(match (base, v) {
        (ptype::I16, PropValue::I16(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::I32, PropValue::I32(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::F32, PropValue::F32(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::F64, PropValue::F64(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::CURRENCY, PropValue::Currency(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::APPTIME, PropValue::AppTime(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::ERROR, PropValue::Error(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::BOOLEAN, PropValue::Bool(x)) => {
            WireValue::Fixed(u16::from(*x).to_le_bytes().to_vec())
        }
        (ptype::I64, PropValue::I64(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::SYSTIME, PropValue::SysTime(x)) => WireValue::Fixed(x.to_le_bytes().to_vec()),
        (ptype::GUID, PropValue::Guid(g)) => WireValue::Fixed(g.to_vec()),
        (ptype::BINARY, PropValue::Binary(b))
        | (ptype::OBJECT, PropValue::Object(b))
        | (ptype::SERVERID, PropValue::ServerId(b)) => WireValue::Variable(b.clone()),
        (ptype::UNICODE | ptype::STRING8, PropValue::String(s)) => {
            WireValue::Variable(encode_string(base, s)?)
        }
        (b, PropValue::String(s)) if b & 0x8000 != 0 => WireValue::Variable(encode_string(b, s)?),
        (b, PropValue::RawString { bytes, .. }) if b & 0x8000 != 0 || b == ptype::STRING8 => {
            let mut v = bytes.clone();
            v.push(0);
            WireValue::Variable(v)
        }
        _ => return None,
    })
}

/// Encodes a message tree. Top-level children get the FXDelProp meta-properties, as Exchange
/// writes them; properties that cannot be represented (see [`StreamWriter::property`]) are skipped.
pub fn encode_message(msg: &Message, opts: &EncodeOptions) -> Vec<u8> {
    let mut w = StreamWriter::new(opts.clone());
    write_message(&mut w, msg, true);
    w.finish()
}

fn fx_del_prop(w: &mut StreamWriter, what: u32) {
    let mut b = meta::FX_DEL_PROP.to_le_bytes().to_vec();
    b.extend_from_slice(&what.to_le_bytes());
    w.atom(&b);
}

fn write_message(w: &mut StreamWriter, msg: &Message, top: bool) {
    for p in &msg.properties {
        w.property(p);
    }
    if top {
        fx_del_prop(w, meta::MESSAGE_RECIPIENTS);
    }
    for r in &msg.recipients {
        w.marker(marker::START_RECIP);
        for p in &r.properties {
            w.property(p);
        }
        w.marker(marker::END_TO_RECIP);
    }
    if top {
        fx_del_prop(w, meta::MESSAGE_ATTACHMENTS);
    }
    for a in &msg.attachments {
        w.marker(marker::NEW_ATTACH);
        for p in &a.properties {
            w.property(p);
        }
        if let Some(e) = &a.embedded {
            w.marker(marker::START_EMBED);
            write_message(w, e, false);
            w.marker(marker::END_EMBED);
        }
        w.marker(marker::END_ATTACH);
    }
}

fn export_type(t: u16, export: bool) -> u16 {
    match t {
        ptype::UNICODE if export => ptype::CP_UTF16,
        0x101F if export => ptype::MV_CP_UTF16,
        other => other,
    }
}

fn tagged(pid: u16, ptype: u16, value: PropValue) -> Property {
    Property {
        key: PropKey::Tagged(pid),
        ptype,
        value,
    }
}

fn text(pid: u16, s: &str) -> Property {
    tagged(pid, ptype::CP_UTF16, PropValue::String(s.to_string()))
}

#[derive(Debug, Clone)]
enum AttachSpec {
    File {
        filename: String,
        mime: String,
        data: Vec<u8>,
        content_id: Option<String>,
    },
    Embedded {
        filename: String,
        msg: Box<MessageBuilder>,
    },
}

/// Builds realistic exported items (used by tests, fixtures and the emulator's mailbox generator).
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    class: String,
    props: Vec<Property>,
    recipients: Vec<(u32, String, String)>,
    attachments: Vec<AttachSpec>,
    from: Option<(String, String)>,
    date: Option<i64>,
    options: EncodeOptions,
}

impl MessageBuilder {
    /// A message of class `message_class` (e.g. `IPM.Note`).
    pub fn new(message_class: &str) -> Self {
        MessageBuilder {
            class: message_class.to_string(),
            props: Vec::new(),
            recipients: Vec::new(),
            attachments: Vec::new(),
            from: None,
            date: None,
            options: EncodeOptions::default(),
        }
    }

    /// Sets (or replaces) a property on the message.
    fn set(mut self, p: Property) -> Self {
        if let Some(slot) = self.props.iter_mut().find(|q| q.key == p.key) {
            *slot = p;
        } else {
            self.props.push(p);
        }
        self
    }

    /// PidTagSubject (+ PidTagNormalizedSubject).
    pub fn subject(self, s: &str) -> Self {
        self.set(text(id::SUBJECT, s))
            .set(text(id::NORMALIZED_SUBJECT, s))
            .set(text(id::CONVERSATION_TOPIC, s))
    }
    /// Sender and SentRepresenting groups (SMTP).
    pub fn from(mut self, name: &str, email: &str) -> Self {
        self.from = Some((name.to_string(), email.to_string()));
        self
    }
    fn recipient(mut self, kind: u32, name: &str, email: &str) -> Self {
        self.recipients
            .push((kind, name.to_string(), email.to_string()));
        self
    }
    /// Adds a To recipient.
    pub fn to(self, name: &str, email: &str) -> Self {
        self.recipient(1, name, email)
    }
    /// Adds a Cc recipient.
    pub fn cc(self, name: &str, email: &str) -> Self {
        self.recipient(2, name, email)
    }
    /// Adds a Bcc recipient.
    pub fn bcc(self, name: &str, email: &str) -> Self {
        self.recipient(3, name, email)
    }
    /// Submit, delivery, creation and modification time, as Unix seconds.
    pub fn date_unix(mut self, secs: i64) -> Self {
        self.date = Some(secs);
        self
    }
    /// PidTagInternetMessageId.
    pub fn internet_message_id(self, id_: &str) -> Self {
        self.set(text(id::INTERNET_MESSAGE_ID, id_))
    }
    /// PidTagInReplyToId.
    pub fn in_reply_to(self, id_: &str) -> Self {
        self.set(text(id::IN_REPLY_TO_ID, id_))
    }
    /// PidTagInternetReferences.
    pub fn references(self, refs: &str) -> Self {
        self.set(text(id::INTERNET_REFERENCES, refs))
    }
    /// PidTagImportance (0 low, 1 normal, 2 high).
    pub fn importance(self, v: i32) -> Self {
        self.set(tagged(id::IMPORTANCE, ptype::I32, PropValue::I32(v)))
    }
    /// PidTagBody.
    pub fn body_text(self, s: &str) -> Self {
        self.set(text(id::BODY, s))
    }
    /// PidTagHtml as UTF-8 binary with PidTagInternetCodepage 65001.
    pub fn body_html(self, s: &str) -> Self {
        self.set(tagged(
            id::HTML,
            ptype::BINARY,
            PropValue::Binary(s.as_bytes().to_vec()),
        ))
        .set(tagged(
            id::INTERNET_CODEPAGE,
            ptype::I32,
            PropValue::I32(65001),
        ))
    }
    /// PidTagRtfCompressed (already compressed bytes, e.g. from [`crate::rtf::compress_mela`]).
    pub fn rtf_compressed(self, bytes: &[u8]) -> Self {
        self.set(tagged(
            id::RTF_COMPRESSED,
            ptype::BINARY,
            PropValue::Binary(bytes.to_vec()),
        ))
    }
    /// A by-value file attachment.
    pub fn attachment(mut self, filename: &str, mime: &str, data: &[u8]) -> Self {
        self.attachments.push(AttachSpec::File {
            filename: filename.to_string(),
            mime: mime.to_string(),
            data: data.to_vec(),
            content_id: None,
        });
        self
    }
    /// An inline image referenced from the HTML body as `cid:content_id`.
    pub fn inline_image(
        mut self,
        filename: &str,
        mime: &str,
        content_id: &str,
        data: &[u8],
    ) -> Self {
        self.attachments.push(AttachSpec::File {
            filename: filename.to_string(),
            mime: mime.to_string(),
            data: data.to_vec(),
            content_id: Some(content_id.to_string()),
        });
        self
    }
    /// An embedded message attachment (attach method 5).
    pub fn embedded_message(mut self, filename: &str, msg: MessageBuilder) -> Self {
        self.attachments.push(AttachSpec::Embedded {
            filename: filename.to_string(),
            msg: Box::new(msg),
        });
        self
    }
    /// PidTagSearchKey.
    pub fn search_key(self, key: &[u8]) -> Self {
        self.set(tagged(
            id::SEARCH_KEY,
            ptype::BINARY,
            PropValue::Binary(key.to_vec()),
        ))
    }
    /// Any property by tag (`id << 16 | type`); `0x001F` strings are written as `0x84B0`.
    pub fn property(self, tag: u32, value: PropValue) -> Self {
        let t = export_type((tag & 0xFFFF) as u16, self.options.export_strings);
        self.set(tagged((tag >> 16) as u16, t, value))
    }
    /// A named property.
    pub fn named_property(
        self,
        guid: [u8; 16],
        name: NamedKind,
        ptype: u16,
        value: PropValue,
    ) -> Self {
        let ptype = export_type(ptype, self.options.export_strings);
        self.set(Property {
            key: PropKey::Named { guid, name },
            ptype,
            value,
        })
    }
    /// Overrides the encoding options (framing, record size, string style).
    pub fn options(mut self, opts: EncodeOptions) -> Self {
        self.options = opts;
        self
    }

    /// The message tree this builder describes (what [`crate::parse`] returns for `build()`).
    pub fn to_message(&self) -> Message {
        self.to_message_at(true)
    }

    fn to_message_at(&self, top: bool) -> Message {
        let mut m = Message::default();
        let p = &mut m.properties;
        if !top {
            // Exchange always writes PidTagMid first in an embedded message.
            p.push(tagged(id::MID, ptype::I64, PropValue::I64(0)));
        }
        p.push(text(id::MESSAGE_CLASS, &self.class));
        if let Some(secs) = self.date {
            let ft = PropValue::SysTime(unix_to_filetime(secs));
            for pid in [
                id::CLIENT_SUBMIT_TIME,
                id::MESSAGE_DELIVERY_TIME,
                id::CREATION_TIME,
                id::LAST_MODIFICATION_TIME,
            ] {
                p.push(tagged(pid, ptype::SYSTIME, ft.clone()));
            }
        }
        if let Some((name, email)) = &self.from {
            for (n, at, e, smtp) in [
                (
                    id::SENT_REPRESENTING_NAME,
                    id::SENT_REPRESENTING_ADDRESS_TYPE,
                    id::SENT_REPRESENTING_EMAIL_ADDRESS,
                    id::SENT_REPRESENTING_SMTP_ADDRESS,
                ),
                (
                    id::SENDER_NAME,
                    id::SENDER_ADDRESS_TYPE,
                    id::SENDER_EMAIL_ADDRESS,
                    id::SENDER_SMTP_ADDRESS,
                ),
            ] {
                p.push(text(n, name));
                p.push(text(at, "SMTP"));
                p.push(text(e, email));
                p.push(text(smtp, email));
            }
        }
        let has_attach = !self.attachments.is_empty();
        let flags = 0x1 | if has_attach { 0x10 } else { 0 };
        p.push(tagged(id::MESSAGE_FLAGS, ptype::I32, PropValue::I32(flags)));
        p.push(tagged(
            id::HAS_ATTACHMENTS,
            ptype::BOOLEAN,
            PropValue::Bool(has_attach),
        ));
        for (pid, kind) in [
            (id::DISPLAY_TO, 1),
            (id::DISPLAY_CC, 2),
            (id::DISPLAY_BCC, 3),
        ] {
            let names: Vec<&str> = self
                .recipients
                .iter()
                .filter(|r| r.0 == kind)
                .map(|r| r.1.as_str())
                .collect();
            p.push(text(pid, &names.join("; ")));
        }
        for q in &self.props {
            if let Some(slot) = m.properties.iter_mut().find(|x| x.key == q.key) {
                *slot = q.clone();
            } else {
                m.properties.push(q.clone());
            }
        }
        for (row, (kind, name, email)) in self.recipients.iter().enumerate() {
            let rp = vec![
                tagged(id::ROWID, ptype::I32, PropValue::I32(row as i32)),
                tagged(id::RECIPIENT_TYPE, ptype::I32, PropValue::I32(*kind as i32)),
                text(id::DISPLAY_NAME, name),
                text(id::ADDRESS_TYPE, "SMTP"),
                text(id::EMAIL_ADDRESS, email),
                text(id::SMTP_ADDRESS, email),
                tagged(id::DISPLAY_TYPE, ptype::I32, PropValue::I32(0)),
                tagged(id::OBJECT_TYPE, ptype::I32, PropValue::I32(6)),
            ];
            m.recipients.push(Recipient { properties: rp });
        }
        for (n, spec) in self.attachments.iter().enumerate() {
            let mut ap = vec![tagged(
                id::ATTACH_NUMBER,
                ptype::I32,
                PropValue::I32(n as i32),
            )];
            let mut embedded = None;
            match spec {
                AttachSpec::File {
                    filename,
                    mime,
                    data,
                    content_id,
                } => {
                    ap.push(tagged(id::ATTACH_METHOD, ptype::I32, PropValue::I32(1)));
                    ap.push(text(id::ATTACH_LONG_FILENAME, filename));
                    ap.push(text(id::DISPLAY_NAME, filename));
                    if let Some(ext) = filename.rfind('.').map(|i| &filename[i..]) {
                        ap.push(text(id::ATTACH_EXTENSION, ext));
                    }
                    ap.push(text(id::ATTACH_MIME_TAG, mime));
                    ap.push(tagged(
                        id::ATTACH_SIZE,
                        ptype::I32,
                        PropValue::I32(data.len().min(i32::MAX as usize) as i32),
                    ));
                    ap.push(tagged(
                        id::RENDERING_POSITION,
                        ptype::I32,
                        PropValue::I32(-1),
                    ));
                    if let Some(cid) = content_id {
                        ap.push(text(id::ATTACH_CONTENT_ID, cid));
                        ap.push(tagged(id::ATTACH_FLAGS, ptype::I32, PropValue::I32(4)));
                        ap.push(tagged(
                            id::ATTACHMENT_HIDDEN,
                            ptype::BOOLEAN,
                            PropValue::Bool(true),
                        ));
                    }
                    ap.push(tagged(
                        id::ATTACH_DATA,
                        ptype::BINARY,
                        PropValue::Binary(data.clone()),
                    ));
                }
                AttachSpec::Embedded { filename, msg } => {
                    ap.push(tagged(id::ATTACH_METHOD, ptype::I32, PropValue::I32(5)));
                    ap.push(text(id::DISPLAY_NAME, filename));
                    ap.push(text(id::ATTACH_MIME_TAG, "message/rfc822"));
                    ap.push(tagged(
                        id::RENDERING_POSITION,
                        ptype::I32,
                        PropValue::I32(-1),
                    ));
                    embedded = Some(Box::new(msg.to_message_at(false)));
                }
            }
            m.attachments.push(Attachment {
                properties: ap,
                embedded,
            });
        }
        m
    }

    /// The export-style bytes: FxProxy preamble + TransferBuffer records, `0x84B0` strings.
    pub fn build(&self) -> Vec<u8> {
        encode_message(&self.to_message(), &self.options)
    }
}
