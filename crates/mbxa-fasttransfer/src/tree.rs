//! Builds the message tree from lexer events, permissively (§6 rules 10–14), and the `parse` entry
//! points.

use std::collections::HashMap;
use std::io::Read;

use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{decode_variable, Event, Lexer, Limits, NamedInfo};
use crate::message::{Attachment, Message, Recipient};
use crate::tags::{id, marker, meta};
use crate::value::{PropKey, PropTag, PropValue, Property};

/// Something odd but survivable in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Input (blob) offset of the element concerned.
    pub offset: u64,
    /// What happened.
    pub kind: WarningKind,
}

/// Kinds of warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// The same property appeared twice on one object; the last value was kept.
    DuplicateProperty(PropKey),
    /// A string did not decode cleanly (odd UTF-16 length, bad surrogate, unmapped bytes, unknown
    /// code page).
    LossyString(PropTag),
    /// A marker that does not fit where it appears; it was ignored or objects were closed to fit it.
    MisplacedMarker {
        /// The marker.
        marker: u32,
        /// Its name.
        name: &'static str,
    },
    /// An object was closed implicitly (its end marker was missing).
    ImplicitClose(&'static str),
    /// Salvage mode skipped undecodable bytes after this error, resuming at the next
    /// recipient/attachment marker.
    Salvaged {
        /// The error that would have stopped a normal parse.
        error: ParseError,
        /// Input (blob) offset where parsing resumed.
        resumed_at: u64,
    },
}

/// Everything `parse_detailed` learned about a blob.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The message tree (partial if `error` is set).
    pub message: Message,
    /// Survivable oddities.
    pub warnings: Vec<Warning>,
    /// The error that stopped parsing, if any.
    pub error: Option<ParseError>,
    /// Whether the input was FxProxy-framed.
    pub framed: bool,
}

enum Frame {
    Message(Message),
    Recipient(Recipient),
    Attachment(Attachment),
}

impl Frame {
    fn props_mut(&mut self) -> &mut Vec<Property> {
        match self {
            Frame::Message(m) => &mut m.properties,
            Frame::Recipient(r) => &mut r.properties,
            Frame::Attachment(a) => &mut a.properties,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Frame::Message(_) => "embedded message",
            Frame::Recipient(_) => "recipient",
            Frame::Attachment(_) => "attachment",
        }
    }
}

/// Incremental tree builder fed by lexer events.
pub struct TreeBuilder {
    stack: Vec<(Frame, HashMap<PropKey, usize>)>,
    limits: Limits,
    objects: usize,
    warnings: Vec<Warning>,
    pending: Option<(PropTag, Option<NamedInfo>, Vec<u8>, u64)>,
    /// Code page for plain 8-bit strings, from PidTagMessageCodepage / PidTagInternetCodepage.
    cp8: Option<u32>,
}

fn key_of(tag: PropTag, named: Option<NamedInfo>) -> PropKey {
    match named {
        Some(n) => PropKey::Named {
            guid: n.guid,
            name: n.kind,
        },
        None => PropKey::Tagged(tag.id()),
    }
}

/// Meta-properties that carry no item data and are dropped from the tree (§2.2).
fn is_ignored_meta(t: u32) -> bool {
    matches!(
        t,
        meta::DN_PREFIX
            | meta::DN_PREFIX_CP1252
            | meta::FX_DEL_PROP
            | meta::EC_WARNING
            | meta::NEW_FX_FOLDER
            | meta::IDSET_GIVEN
    )
}

impl TreeBuilder {
    /// A builder with an empty root message.
    pub fn new(limits: Limits) -> Self {
        TreeBuilder {
            stack: vec![(Frame::Message(Message::default()), HashMap::new())],
            limits,
            objects: 1,
            warnings: Vec::new(),
            pending: None,
            cp8: None,
        }
    }

    fn warn(&mut self, offset: u64, kind: WarningKind) {
        // Warnings are bounded too: a hostile stream could otherwise grow this without limit.
        if self.warnings.len() < 10_000 {
            self.warnings.push(Warning { offset, kind });
        }
    }

    fn depth(&self) -> usize {
        self.stack
            .iter()
            .filter(|(f, _)| matches!(f, Frame::Message(_)))
            .count()
            - 1
    }

    fn add_prop(&mut self, offset: u64, prop: Property) -> Result<(), ParseErrorKind> {
        let max = self.limits.max_props_per_object;
        let Some((frame, index)) = self.stack.last_mut() else {
            return Ok(());
        };
        let props = frame.props_mut();
        if let Some(&i) = index.get(&prop.key) {
            let key = prop.key.clone();
            props[i] = prop;
            self.warn(offset, WarningKind::DuplicateProperty(key));
            return Ok(());
        }
        if props.len() >= max {
            return Err(ParseErrorKind::TooMany {
                what: "properties on one object",
                max,
            });
        }
        index.insert(prop.key.clone(), props.len());
        props.push(prop);
        Ok(())
    }

    /// Pops the top frame into its parent.
    fn close_top(&mut self) {
        if self.stack.len() <= 1 {
            return;
        }
        let Some((frame, _)) = self.stack.pop() else {
            return;
        };
        let Some((parent, _)) = self.stack.last_mut() else {
            return;
        };
        match (frame, parent) {
            (Frame::Recipient(r), Frame::Message(m)) => m.recipients.push(r),
            (Frame::Attachment(a), Frame::Message(m)) => m.attachments.push(a),
            (Frame::Message(e), Frame::Attachment(a)) => a.embedded = Some(Box::new(e)),
            // Pushes only ever nest as above; anything else cannot happen, drop it.
            _ => {}
        }
    }

    /// Closes frames until the top satisfies `is_target`; returns false (closing nothing) if no
    /// such frame is open.
    fn close_to(&mut self, offset: u64, is_target: fn(&Frame) -> bool) -> bool {
        let Some(pos) = self.stack.iter().rposition(|(f, _)| is_target(f)) else {
            return false;
        };
        if pos == 0 {
            return false;
        }
        while self.stack.len() > pos + 1 {
            let name = self.stack.last().map_or("object", |(f, _)| f.name());
            self.warn(offset, WarningKind::ImplicitClose(name));
            self.close_top();
        }
        self.close_top();
        true
    }

    fn top_is(&self, f: fn(&Frame) -> bool) -> bool {
        self.stack.last().is_some_and(|(t, _)| f(t))
    }

    fn misplaced(&mut self, offset: u64, m: u32) {
        self.warn(
            offset,
            WarningKind::MisplacedMarker {
                marker: m,
                name: marker::name(m),
            },
        );
    }

    fn count_object(&mut self) -> Result<(), ParseErrorKind> {
        self.objects += 1;
        if self.objects > self.limits.max_objects {
            return Err(ParseErrorKind::TooMany {
                what: "objects (recipients, attachments, embedded messages)",
                max: self.limits.max_objects,
            });
        }
        Ok(())
    }

    fn on_marker(&mut self, offset: u64, m: u32) -> Result<(), ParseErrorKind> {
        let is_msg = |f: &Frame| matches!(f, Frame::Message(_));
        let is_rec = |f: &Frame| matches!(f, Frame::Recipient(_));
        let is_att = |f: &Frame| matches!(f, Frame::Attachment(_));
        match m {
            marker::START_RECIP | marker::NEW_ATTACH => {
                // Recipients and attachments belong to the innermost message; close whatever
                // recipient/attachment was left open inside it.
                while !self.top_is(is_msg) {
                    let name = self.stack.last().map_or("object", |(f, _)| f.name());
                    self.warn(offset, WarningKind::ImplicitClose(name));
                    self.close_top();
                }
                self.count_object()?;
                let frame = if m == marker::START_RECIP {
                    Frame::Recipient(Recipient::default())
                } else {
                    Frame::Attachment(Attachment::default())
                };
                self.stack.push((frame, HashMap::new()));
            }
            marker::END_TO_RECIP => {
                if !self.close_to(offset, is_rec) {
                    self.misplaced(offset, m);
                }
            }
            marker::END_ATTACH => {
                if !self.close_to(offset, is_att) {
                    self.misplaced(offset, m);
                }
            }
            marker::START_EMBED => {
                if self.top_is(is_att) {
                    if self.depth() >= self.limits.max_depth {
                        return Err(ParseErrorKind::TooDeep {
                            max: self.limits.max_depth,
                        });
                    }
                    self.count_object()?;
                    self.stack
                        .push((Frame::Message(Message::default()), HashMap::new()));
                } else {
                    self.misplaced(offset, m);
                }
            }
            marker::END_EMBED => {
                // Close up to the innermost embedded (non-root) message.
                if !self.close_to(offset, is_msg) {
                    self.misplaced(offset, m);
                }
            }
            marker::START_MESSAGE | marker::START_FAI_MSG | marker::END_MESSAGE
                if self.stack.len() == 1 =>
            {
                // A messageList root wrapping one message: harmless.
            }
            _ => self.misplaced(offset, m),
        }
        Ok(())
    }

    fn on_value(
        &mut self,
        offset: u64,
        tag: PropTag,
        named: Option<NamedInfo>,
        value: PropValue,
        lossy: bool,
    ) -> Result<(), ParseErrorKind> {
        if named.is_none() && is_ignored_meta(tag.0) {
            return Ok(());
        }
        if lossy {
            self.warn(offset, WarningKind::LossyString(tag));
        }
        if named.is_none()
            && matches!(tag.id(), id::MESSAGE_CODEPAGE | id::INTERNET_CODEPAGE)
            && self.top_is(|f| matches!(f, Frame::Message(_)))
        {
            if let PropValue::I32(cp) = value {
                if cp > 0 && (tag.id() == id::MESSAGE_CODEPAGE || self.cp8.is_none()) {
                    self.cp8 = Some(cp as u32);
                }
            }
        }
        let prop = Property {
            key: key_of(tag, named),
            ptype: tag.ptype(),
            value,
        };
        self.add_prop(offset, prop)
    }

    /// Finishes: closes any open frames (reporting them as truncation) and returns the root.
    fn finish(mut self) -> (Message, Vec<Warning>, Option<&'static str>) {
        let open = if self.stack.len() > 1 {
            self.stack.last().map(|(f, _)| f.name())
        } else {
            None
        };
        while self.stack.len() > 1 {
            self.close_top();
        }
        let msg = match self.stack.pop() {
            Some((Frame::Message(m), _)) => m,
            _ => Message::default(),
        };
        (msg, self.warnings, open)
    }
}

/// Parses a whole blob (FxProxy-framed or bare) into a message tree with default limits.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let p = parse_detailed(bytes, Limits::default());
    match p.error {
        Some(e) => Err(e),
        None => Ok(p.message),
    }
}

/// Best-effort parse: the (possibly partial) tree and the error that stopped it, if any.
pub fn parse_partial(bytes: &[u8]) -> (Message, Option<ParseError>) {
    let p = parse_detailed(bytes, Limits::default());
    (p.message, p.error)
}

/// Parses a blob held in memory, with explicit limits, returning warnings too. A length claim
/// beyond the end of the input is reported as truncation at the property's offset.
pub fn parse_detailed(bytes: &[u8], limits: Limits) -> Parsed {
    parse_reader(bytes, limits)
}

/// Parses a blob read from `r`. Values are accumulated as they stream in; nothing is allocated
/// ahead of the bytes actually read.
pub fn parse_reader<R: Read>(r: R, limits: Limits) -> Parsed {
    parse_reader_with(r, limits, false)
}

/// Salvage-mode parse (§6 rule 8): on an unknown property type, a bad named-property kind or an
/// over-limit length, skip forward to the next recipient/attachment marker and go on, recording a
/// [`WarningKind::Salvaged`] warning. Only truncation (and source errors) end it early. Salvaged
/// content after the skip may be misattributed; use it to recover what can be recovered.
pub fn parse_salvage(bytes: &[u8], limits: Limits) -> Parsed {
    parse_reader_with(bytes, limits, true)
}

fn salvageable(k: &ParseErrorKind) -> bool {
    matches!(
        k,
        ParseErrorKind::UnknownType { .. }
            | ParseErrorKind::BadNamedKind { .. }
            | ParseErrorKind::NameTooLong { .. }
            | ParseErrorKind::ValueTooLong { .. }
            | ParseErrorKind::TooManyValues { .. }
    )
}

fn parse_reader_with<R: Read>(r: R, limits: Limits, salvage: bool) -> Parsed {
    let mut lexer = Lexer::new(r, limits.clone());
    let mut tb = TreeBuilder::new(limits);
    let mut error = drive(&mut lexer, &mut tb).err();
    let mut rounds = 0;
    while salvage && rounds < 10_000 {
        let Some(e) = error.take() else { break };
        if !salvageable(&e.kind) {
            error = Some(e);
            break;
        }
        let Some(at) = lexer.resync() else {
            error = Some(e);
            break;
        };
        let resumed_at = lexer.blob_offset(at);
        tb.warn(
            e.offset,
            WarningKind::Salvaged {
                error: e,
                resumed_at,
            },
        );
        error = drive(&mut lexer, &mut tb).err();
        rounds += 1;
    }
    let framed = lexer.is_framed();
    let end = lexer.stream_offset();
    let end_blob = lexer.blob_offset(end);
    let (message, warnings, open) = tb.finish();
    let error = error.or_else(|| {
        open.map(|open| ParseError {
            offset: end_blob,
            stream_offset: end,
            kind: ParseErrorKind::Unclosed { open },
        })
    });
    Parsed {
        message,
        warnings,
        error,
        framed,
    }
}

enum Owned {
    Marker(u32),
    Prop(PropTag, Option<NamedInfo>, PropValue),
    Start(PropTag, Option<NamedInfo>, u32),
    End,
}

fn drive<R: Read>(lexer: &mut Lexer<R>, tb: &mut TreeBuilder) -> Result<(), ParseError> {
    loop {
        let ev = match lexer.next_event()? {
            None => return Ok(()),
            Some(Event::Chunk(c)) => {
                if let Some((_, _, buf, _)) = tb.pending.as_mut() {
                    buf.extend_from_slice(c);
                }
                continue;
            }
            Some(Event::Marker(m)) => Owned::Marker(m),
            Some(Event::Prop { tag, named, value }) => Owned::Prop(tag, named, value),
            Some(Event::PropStart { tag, named, len }) => Owned::Start(tag, named, len),
            Some(Event::PropEnd) => Owned::End,
        };
        let elem = lexer.blob_offset(lexer.element_offset());
        let res = match ev {
            Owned::Marker(m) => tb.on_marker(elem, m),
            Owned::Prop(tag, named, value) => tb.on_value(elem, tag, named, value, false),
            Owned::Start(tag, named, len) => {
                // Grow with the bytes that really arrive; never trust the claim for more.
                let cap = (len as usize).min(64 * 1024);
                tb.pending = Some((tag, named, Vec::with_capacity(cap), elem));
                Ok(())
            }
            Owned::End => match tb.pending.take() {
                Some((tag, named, bytes, at)) => {
                    let cp = tb.cp8.unwrap_or(crate::codepage::CP_DEFAULT);
                    let (value, lossy) = if tag.0 == meta::IDSET_GIVEN {
                        (PropValue::Binary(bytes), false)
                    } else {
                        decode_variable(tag.ptype(), bytes, cp)
                    };
                    tb.on_value(at, tag, named, value, lossy)
                }
                None => Ok(()),
            },
        };
        if let Err(kind) = res {
            return Err(lexer.error_at(lexer.element_offset(), kind));
        }
        if let Some(cp) = tb.cp8 {
            // Keeps multi-valued 0x101E strings in step with the message's code page.
            lexer.set_string8_codepage(cp);
        }
    }
}
