//! The message tree (message, recipients, attachments, embedded messages) and typed accessors.

use crate::tags::id;
use crate::value::{NamedKind, PropKey, PropValue, Property};

/// A message: its properties, recipients and attachments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    /// Message-level properties, in stream order (duplicates replaced in place).
    pub properties: Vec<Property>,
    /// Recipients in stream order.
    pub recipients: Vec<Recipient>,
    /// Attachments in stream order.
    pub attachments: Vec<Attachment>,
}

/// A recipient row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recipient {
    /// Its properties.
    pub properties: Vec<Property>,
}

/// An attachment, possibly carrying an embedded message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attachment {
    /// Its properties.
    pub properties: Vec<Property>,
    /// The embedded message of an attach-method-5 attachment.
    pub embedded: Option<Box<Message>>,
}

/// A display name and address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    /// Display name (may be empty).
    pub name: String,
    /// Address: SMTP when known, else whatever the item holds (e.g. an X.500 DN).
    pub email: String,
}

/// Recipient type (PidTagRecipientType low bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientKind {
    /// 0: originator.
    Originator,
    /// 1: To.
    To,
    /// 2: Cc.
    Cc,
    /// 3: Bcc.
    Bcc,
    /// Anything else.
    Other(u32),
}

/// Attachment method (PidTagAttachMethod).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMethod {
    /// 0: no attachment data.
    None,
    /// 1: by value (PidTagAttachDataBinary).
    ByValue,
    /// 2/3/4/7: a reference without data.
    Reference(u32),
    /// 5: embedded message.
    EmbeddedMessage,
    /// 6: OLE object.
    Ole,
    /// Any other value.
    Other(u32),
}

/// Lookup helpers over a property list.
pub trait PropertyBag {
    /// The property list.
    fn props(&self) -> &[Property];

    /// The value of tagged property `id` (any type).
    fn get(&self, prop_id: u16) -> Option<&PropValue> {
        self.props()
            .iter()
            .find(|p| p.key == PropKey::Tagged(prop_id))
            .map(|p| &p.value)
    }
    /// The value of a named property.
    fn get_named(&self, guid: &[u8; 16], name: &NamedKind) -> Option<&PropValue> {
        self.props()
            .iter()
            .find(
                |p| matches!(&p.key, PropKey::Named { guid: g, name: n } if g == guid && n == name),
            )
            .map(|p| &p.value)
    }
    /// A string property (any string wire type).
    fn get_str(&self, prop_id: u16) -> Option<&str> {
        self.get(prop_id).and_then(PropValue::as_str)
    }
    /// A non-empty string property.
    fn get_nonempty_str(&self, prop_id: u16) -> Option<&str> {
        self.get_str(prop_id).filter(|s| !s.trim().is_empty())
    }
    /// A binary property.
    fn get_bytes(&self, prop_id: u16) -> Option<&[u8]> {
        self.get(prop_id).and_then(PropValue::as_bytes)
    }
    /// An integer property.
    fn get_i64(&self, prop_id: u16) -> Option<i64> {
        self.get(prop_id).and_then(PropValue::as_i64)
    }
    /// A time property as FILETIME, ignoring the "none" sentinels (0 and ≥ 0x7FFF_FFFF_FFFF_FFFF).
    fn get_filetime(&self, prop_id: u16) -> Option<u64> {
        self.get(prop_id)
            .and_then(PropValue::as_filetime)
            .filter(|t| *t != 0 && *t < 0x7FFF_FFFF_FFFF_FFFF)
    }
    /// A time property as Unix seconds (see [`filetime_to_unix`]).
    fn get_unix_time(&self, prop_id: u16) -> Option<i64> {
        self.get_filetime(prop_id).map(filetime_to_unix)
    }
}

impl PropertyBag for Message {
    fn props(&self) -> &[Property] {
        &self.properties
    }
}
impl PropertyBag for Recipient {
    fn props(&self) -> &[Property] {
        &self.properties
    }
}
impl PropertyBag for Attachment {
    fn props(&self) -> &[Property] {
        &self.properties
    }
}

/// FILETIME ticks between 1601-01-01 and 1970-01-01.
pub const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// FILETIME → Unix seconds (floor).
pub fn filetime_to_unix(ft: u64) -> i64 {
    (ft as i128 - FILETIME_UNIX_EPOCH as i128).div_euclid(10_000_000) as i64
}

/// Unix seconds → FILETIME (saturating at 0).
pub fn unix_to_filetime(secs: i64) -> u64 {
    let t = i128::from(secs) * 10_000_000 + FILETIME_UNIX_EPOCH as i128;
    t.clamp(0, u64::MAX as i128) as u64
}

fn is_smtp(addr_type: Option<&str>) -> bool {
    addr_type.is_none_or(|t| t.eq_ignore_ascii_case("SMTP"))
}

/// Builds a mailbox from a name / address-type / email / smtp property group.
fn mailbox_from<B: PropertyBag + ?Sized>(
    b: &B,
    name: u16,
    addr_type: u16,
    email: u16,
    smtp: u16,
) -> Option<Mailbox> {
    let n = b.get_nonempty_str(name).unwrap_or("").to_string();
    let at = b.get_nonempty_str(addr_type);
    let e = b
        .get_nonempty_str(smtp)
        .or_else(|| b.get_nonempty_str(email).filter(|_| is_smtp(at)))
        .or_else(|| b.get_nonempty_str(email))
        .unwrap_or("")
        .to_string();
    if n.is_empty() && e.is_empty() {
        None
    } else {
        Some(Mailbox { name: n, email: e })
    }
}

impl Message {
    /// PidTagMessageClass.
    pub fn message_class(&self) -> Option<&str> {
        self.get_str(id::MESSAGE_CLASS)
    }
    /// PidTagSubject, else prefix + normalized subject.
    pub fn subject(&self) -> Option<&str> {
        self.get_str(id::SUBJECT)
            .or_else(|| self.get_str(id::NORMALIZED_SUBJECT))
    }
    /// The full subject, composing PidTagSubjectPrefix + PidTagNormalizedSubject when PidTagSubject
    /// is absent.
    pub fn full_subject(&self) -> Option<String> {
        if let Some(s) = self.get_str(id::SUBJECT) {
            return Some(s.to_string());
        }
        let n = self.get_str(id::NORMALIZED_SUBJECT)?;
        Some(format!(
            "{}{}",
            self.get_str(id::SUBJECT_PREFIX).unwrap_or(""),
            n
        ))
    }
    /// The PidTagSender* group (who actually sent it).
    pub fn sender(&self) -> Option<Mailbox> {
        mailbox_from(
            self,
            id::SENDER_NAME,
            id::SENDER_ADDRESS_TYPE,
            id::SENDER_EMAIL_ADDRESS,
            id::SENDER_SMTP_ADDRESS,
        )
    }
    /// The PidTagSentRepresenting* group (`From:`), falling back to the sender.
    pub fn from(&self) -> Option<Mailbox> {
        mailbox_from(
            self,
            id::SENT_REPRESENTING_NAME,
            id::SENT_REPRESENTING_ADDRESS_TYPE,
            id::SENT_REPRESENTING_EMAIL_ADDRESS,
            id::SENT_REPRESENTING_SMTP_ADDRESS,
        )
        .or_else(|| self.sender())
    }
    /// PidTagClientSubmitTime as Unix seconds.
    pub fn submit_time(&self) -> Option<i64> {
        self.get_unix_time(id::CLIENT_SUBMIT_TIME)
    }
    /// PidTagMessageDeliveryTime as Unix seconds.
    pub fn delivery_time(&self) -> Option<i64> {
        self.get_unix_time(id::MESSAGE_DELIVERY_TIME)
    }
    /// PidTagCreationTime as Unix seconds.
    pub fn creation_time(&self) -> Option<i64> {
        self.get_unix_time(id::CREATION_TIME)
    }
    /// The `Date:` of the message: submit, else delivery, else creation time (Unix seconds).
    pub fn date(&self) -> Option<i64> {
        self.submit_time()
            .or_else(|| self.delivery_time())
            .or_else(|| self.creation_time())
    }
    /// PidTagInternetMessageId.
    pub fn internet_message_id(&self) -> Option<&str> {
        self.get_nonempty_str(id::INTERNET_MESSAGE_ID)
    }
    /// PidTagInReplyToId.
    pub fn in_reply_to(&self) -> Option<&str> {
        self.get_nonempty_str(id::IN_REPLY_TO_ID)
    }
    /// PidTagInternetReferences.
    pub fn references(&self) -> Option<&str> {
        self.get_nonempty_str(id::INTERNET_REFERENCES)
    }
    /// PidTagBody.
    pub fn body_text(&self) -> Option<&str> {
        self.get_str(id::BODY)
    }
    /// PidTagHtml: binary (charset from PidTagInternetCodepage, default UTF-8) or a string.
    pub fn body_html(&self) -> Option<String> {
        match self.get(id::HTML)? {
            PropValue::String(s) => Some(s.clone()),
            PropValue::Binary(b) => {
                let cp = self
                    .get_i64(id::INTERNET_CODEPAGE)
                    .and_then(|c| u32::try_from(c).ok())
                    .unwrap_or(65001);
                crate::codepage::decode_8bit(b, cp)
                    .map(|(s, _)| s)
                    .or_else(|| Some(String::from_utf8_lossy(b).into_owned()))
            }
            _ => None,
        }
    }
    /// PidTagRtfCompressed (still compressed; see [`crate::rtf`]).
    pub fn rtf_compressed(&self) -> Option<&[u8]> {
        self.get_bytes(id::RTF_COMPRESSED)
    }
    /// PidTagSearchKey.
    pub fn search_key(&self) -> Option<&[u8]> {
        self.get_bytes(id::SEARCH_KEY)
    }
    /// PidTagImportance (0 low, 1 normal, 2 high).
    pub fn importance(&self) -> Option<i64> {
        self.get_i64(id::IMPORTANCE)
    }
    /// PidTagMessageFlags.
    pub fn flags(&self) -> Option<u32> {
        self.get_i64(id::MESSAGE_FLAGS).map(|v| v as u32)
    }
    /// PidTagTransportMessageHeaders.
    pub fn transport_headers(&self) -> Option<&str> {
        self.get_nonempty_str(id::TRANSPORT_MESSAGE_HEADERS)
    }
    /// Recipients of one kind.
    pub fn recipients_of(&self, kind: RecipientKind) -> impl Iterator<Item = &Recipient> {
        self.recipients.iter().filter(move |r| r.kind() == kind)
    }
    /// Number of objects in the tree (this message, recipients, attachments, embedded, recursively).
    pub fn object_count(&self) -> usize {
        1 + self.recipients.len()
            + self
                .attachments
                .iter()
                .map(|a| 1 + a.embedded.as_ref().map_or(0, |m| m.object_count()))
                .sum::<usize>()
    }
}

impl Recipient {
    /// To / Cc / Bcc (flag bits masked off).
    pub fn kind(&self) -> RecipientKind {
        match self
            .get_i64(id::RECIPIENT_TYPE)
            .map(|v| (v as u32) & 0x0FFF_FFFF)
        {
            Some(0) => RecipientKind::Originator,
            Some(1) | None => RecipientKind::To,
            Some(2) => RecipientKind::Cc,
            Some(3) => RecipientKind::Bcc,
            Some(o) => RecipientKind::Other(o),
        }
    }
    /// PidTagDisplayName (or PidTagRecipientDisplayName).
    pub fn name(&self) -> Option<&str> {
        self.get_nonempty_str(id::DISPLAY_NAME)
            .or_else(|| self.get_nonempty_str(id::RECIPIENT_DISPLAY_NAME))
    }
    /// PidTagSmtpAddress, else PidTagEmailAddress.
    pub fn email(&self) -> Option<&str> {
        self.get_nonempty_str(id::SMTP_ADDRESS)
            .or_else(|| self.get_nonempty_str(id::EMAIL_ADDRESS))
    }
    /// Name and address.
    pub fn mailbox(&self) -> Mailbox {
        Mailbox {
            name: self.name().unwrap_or("").to_string(),
            email: self.email().unwrap_or("").to_string(),
        }
    }
}

impl Attachment {
    /// PidTagAttachMethod.
    pub fn method(&self) -> AttachMethod {
        match self.get_i64(id::ATTACH_METHOD) {
            None if self.embedded.is_some() => AttachMethod::EmbeddedMessage,
            None if self.get(id::ATTACH_DATA).is_some() => AttachMethod::ByValue,
            None | Some(0) => AttachMethod::None,
            Some(1) => AttachMethod::ByValue,
            Some(m @ (2 | 3 | 4 | 7)) => AttachMethod::Reference(m as u32),
            Some(5) => AttachMethod::EmbeddedMessage,
            Some(6) => AttachMethod::Ole,
            Some(m) => AttachMethod::Other(m as u32),
        }
    }
    /// Long filename, else 8.3 filename, else display name.
    pub fn filename(&self) -> Option<&str> {
        self.get_nonempty_str(id::ATTACH_LONG_FILENAME)
            .or_else(|| self.get_nonempty_str(id::ATTACH_FILENAME))
            .or_else(|| self.get_nonempty_str(id::DISPLAY_NAME))
    }
    /// PidTagAttachMimeTag.
    pub fn mime_type(&self) -> Option<&str> {
        self.get_nonempty_str(id::ATTACH_MIME_TAG)
    }
    /// PidTagAttachContentId.
    pub fn content_id(&self) -> Option<&str> {
        self.get_nonempty_str(id::ATTACH_CONTENT_ID)
    }
    /// PidTagAttachContentLocation.
    pub fn content_location(&self) -> Option<&str> {
        self.get_nonempty_str(id::ATTACH_CONTENT_LOCATION)
    }
    /// PidTagAttachDataBinary or PidTagAttachDataObject bytes.
    pub fn data(&self) -> Option<&[u8]> {
        self.get_bytes(id::ATTACH_DATA)
    }
    /// PidTagAttachFlags.
    pub fn flags(&self) -> u32 {
        self.get_i64(id::ATTACH_FLAGS).unwrap_or(0) as u32
    }
    /// Inline: has a content id and is hidden or flagged as referenced by HTML (0x4).
    pub fn is_inline(&self) -> bool {
        let hidden = matches!(self.get(id::ATTACHMENT_HIDDEN), Some(PropValue::Bool(true)));
        self.content_id().is_some() && (hidden || self.flags() & 0x4 != 0)
    }
    /// PidTagAttachNumber.
    pub fn number(&self) -> Option<i64> {
        self.get_i64(id::ATTACH_NUMBER)
    }
    /// The embedded message, if any.
    pub fn embedded_message(&self) -> Option<&Message> {
        self.embedded.as_deref()
    }
}
