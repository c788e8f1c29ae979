//! Streaming lexer: markers, property tags with named-property info, and values, where large
//! single values arrive as chunks so an attachment is never held whole by the lexer.

use std::io::Read;

use crate::codepage::{self, decode_type_codepage, CP_DEFAULT, CP_UTF16LE};
use crate::error::{ParseError, ParseErrorKind};
use crate::framing::Unwrap;
use crate::tags::{marker, meta};
use crate::value::{ptype, NamedKind, PropTag, PropValue};

/// Caps applied to untrusted input (§6 rule 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest variable-length value (Exchange accepts ≤ 1 GiB).
    pub max_value_len: u64,
    /// Largest multi-valued element count (Exchange's upload limit is 32 768).
    pub max_mv_count: u32,
    /// Largest total byte size of one multi-valued property's elements.
    pub max_mv_bytes: u64,
    /// Largest named-property name, in bytes of UTF-16 including the terminator.
    pub max_name_bytes: usize,
    /// Deepest nesting of embedded messages.
    pub max_depth: usize,
    /// Most properties on one object.
    pub max_props_per_object: usize,
    /// Most recipients + attachments + embedded messages in the whole tree.
    pub max_objects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_len: 1 << 30,
            max_mv_count: 32_768,
            max_mv_bytes: 64 << 20,
            max_name_bytes: 1024,
            max_depth: 32,
            max_props_per_object: 16_384,
            max_objects: 100_000,
        }
    }
}

/// Named-property identity carried on the wire after a tag with id ≥ 0x8000.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedInfo {
    /// Property set GUID (wire layout).
    pub guid: [u8; 16],
    /// Dispid or name.
    pub kind: NamedKind,
}

/// One lexical event.
#[derive(Debug, PartialEq)]
pub enum Event<'a> {
    /// A marker (§2.1), by its 32-bit value.
    Marker(u32),
    /// A property whose value was read whole: fixed-size and multi-valued types.
    Prop {
        /// The tag as on the wire (named ids are stream-local).
        tag: PropTag,
        /// Named-property info when the id is ≥ 0x8000.
        named: Option<NamedInfo>,
        /// The value.
        value: PropValue,
    },
    /// Start of a single variable-length value; `Chunk`s and then `PropEnd` follow.
    PropStart {
        /// The tag.
        tag: PropTag,
        /// Named-property info.
        named: Option<NamedInfo>,
        /// Declared byte length.
        len: u32,
    },
    /// A piece of the current variable-length value.
    Chunk(&'a [u8]),
    /// End of the current variable-length value.
    PropEnd,
}

/// How a property type is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    /// Fixed-size single value of this many bytes.
    Fixed(usize),
    /// `u32 length` + bytes.
    Variable,
    /// `u32 count` + elements of the given base class.
    Multi(&'static TypeClass),
}

const VAR: TypeClass = TypeClass::Variable;
const F2: TypeClass = TypeClass::Fixed(2);
const F4: TypeClass = TypeClass::Fixed(4);
const F8: TypeClass = TypeClass::Fixed(8);
const F16: TypeClass = TypeClass::Fixed(16);

/// Classifies a wire type; `None` means the size is unknowable (stop).
pub fn classify(t: u16) -> Option<TypeClass> {
    if t & 0x8000 != 0 {
        return Some(if t & ptype::MV != 0 {
            TypeClass::Multi(&VAR)
        } else {
            VAR
        });
    }
    let base = t & !ptype::MV;
    let single: &'static TypeClass = match base {
        ptype::I16 | ptype::BOOLEAN => &F2,
        ptype::I32 | ptype::F32 | ptype::ERROR => &F4,
        ptype::F64 | ptype::CURRENCY | ptype::APPTIME | ptype::I64 | ptype::SYSTIME => &F8,
        ptype::GUID => &F16,
        ptype::STRING8 | ptype::UNICODE | ptype::BINARY | ptype::SERVERID | ptype::OBJECT => &VAR,
        _ => return None,
    };
    if t & ptype::MV != 0 {
        // MV of Error/Boolean/Object/ServerId is not a MAPI type.
        match base {
            ptype::ERROR | ptype::BOOLEAN | ptype::OBJECT | ptype::SERVERID => None,
            _ => Some(TypeClass::Multi(single)),
        }
    } else {
        Some(*single)
    }
}

/// Decodes a fixed-size value of single type `t` from exactly the right number of bytes.
pub fn decode_fixed(t: u16, b: &[u8]) -> PropValue {
    let u64le = |b: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_le_bytes(a)
    };
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    match t & 0x0FFF {
        ptype::I16 => PropValue::I16(i16::from_le_bytes([b[0], b[1]])),
        ptype::BOOLEAN => PropValue::Bool(u16::from_le_bytes([b[0], b[1]]) != 0),
        ptype::I32 => PropValue::I32(u32le(b) as i32),
        ptype::F32 => PropValue::F32(f32::from_bits(u32le(b))),
        ptype::ERROR => PropValue::Error(u32le(b)),
        ptype::F64 => PropValue::F64(f64::from_bits(u64le(b))),
        ptype::CURRENCY => PropValue::Currency(u64le(b) as i64),
        ptype::APPTIME => PropValue::AppTime(f64::from_bits(u64le(b))),
        ptype::I64 => PropValue::I64(u64le(b) as i64),
        ptype::SYSTIME => PropValue::SysTime(u64le(b)),
        _ => {
            let mut g = [0u8; 16];
            g.copy_from_slice(&b[..16]);
            PropValue::Guid(g)
        }
    }
}

/// Decodes a variable-length value of single wire type `t`. `cp8` is the code page for plain
/// `0x001E` strings. Returns the value and whether decoding was lossy.
pub fn decode_variable(t: u16, bytes: Vec<u8>, cp8: u32) -> (PropValue, bool) {
    if t & 0x8000 != 0 {
        return match decode_type_codepage(t) {
            Some(cp) => decode_string_cp(bytes, cp),
            None => (
                PropValue::RawString {
                    codepage: 0,
                    bytes: strip_nul8(bytes),
                },
                true,
            ),
        };
    }
    match t & 0x0FFF {
        ptype::UNICODE => decode_string_cp(bytes, CP_UTF16LE),
        ptype::STRING8 => decode_string_cp(bytes, cp8),
        ptype::SERVERID => (PropValue::ServerId(bytes), false),
        ptype::OBJECT => (PropValue::Object(bytes), false),
        _ => (PropValue::Binary(bytes), false),
    }
}

fn strip_nul8(mut b: Vec<u8>) -> Vec<u8> {
    while b.last() == Some(&0) {
        b.pop();
    }
    b
}

fn decode_string_cp(bytes: Vec<u8>, cp: u32) -> (PropValue, bool) {
    match codepage::decode_8bit(&bytes, cp) {
        Some((s, lossy)) => (PropValue::String(s), lossy),
        None => (
            PropValue::RawString {
                codepage: cp,
                bytes: strip_nul8(bytes),
            },
            true,
        ),
    }
}

#[derive(Debug)]
enum State {
    Idle,
    InValue { remaining: u64 },
    ValueDone,
    Failed,
}

const READ_CHUNK: usize = 64 * 1024;

/// Pull lexer over a blob (FxProxy-framed or bare) read from `R`.
#[derive(Debug)]
pub struct Lexer<R> {
    src: Unwrap<R>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    pos: u64,
    eof: bool,
    state: State,
    elem_start: u64,
    limits: Limits,
    cp8: u32,
    lossy_count: u64,
}

impl<'s> Lexer<&'s [u8]> {
    /// A lexer over an in-memory blob.
    pub fn from_bytes(bytes: &'s [u8]) -> Self {
        Lexer::new(bytes, Limits::default())
    }
}

impl<R: Read> Lexer<R> {
    /// A lexer reading a blob from `r`.
    pub fn new(r: R, limits: Limits) -> Self {
        Lexer {
            src: Unwrap::new(r),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
            state: State::Idle,
            elem_start: 0,
            limits,
            cp8: CP_DEFAULT,
            lossy_count: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the code page used for plain `0x001E` strings (from PidTagMessageCodepage).
    pub fn set_string8_codepage(&mut self, cp: u32) {
        self.cp8 = cp;
    }

    /// Stream offset of the next unread byte.
    pub fn stream_offset(&self) -> u64 {
        self.pos
    }

    /// Stream offset where the most recent element began.
    pub fn element_offset(&self) -> u64 {
        self.elem_start
    }

    /// Maps a stream offset to an input (blob) offset.
    pub fn blob_offset(&self, stream_off: u64) -> u64 {
        self.src.blob_offset(stream_off)
    }

    /// Whether the input was FxProxy-framed.
    pub fn is_framed(&self) -> bool {
        self.src.is_framed()
    }

    /// Number of lossy string decodes inside multi-valued properties so far.
    pub fn lossy_mv_strings(&self) -> u64 {
        self.lossy_count
    }

    /// An error at the current element's start.
    pub fn error_at(&self, stream_off: u64, kind: ParseErrorKind) -> ParseError {
        ParseError {
            offset: self.src.blob_offset(stream_off),
            stream_offset: stream_off,
            kind,
        }
    }

    fn fail(&mut self, kind: ParseErrorKind) -> ParseError {
        self.state = State::Failed;
        self.error_at(self.elem_start, kind)
    }

    fn fail_src(&mut self, mut e: ParseError) -> ParseError {
        self.state = State::Failed;
        // A framing error (truncated record) is reported where the element began, if the element
        // began before the broken record.
        if let ParseErrorKind::Io(_) = e.kind {
            return e;
        }
        if let ParseErrorKind::TruncatedRecord { .. } = e.kind {
            e.stream_offset = self.elem_start;
            return e;
        }
        e
    }

    fn avail(&self) -> usize {
        self.end - self.start
    }

    /// Reads more bytes into the buffer; false at EOF.
    fn refill(&mut self) -> Result<bool, ParseError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Only atoms are requested whole, and they are small; grow modestly.
            let new_len = self.buf.len() * 2;
            self.buf.resize(new_len, 0);
        }
        let end = self.end;
        let n = match self.src.read_stream(&mut self.buf[end..]) {
            Ok(n) => n,
            Err(e) => {
                self.eof = true;
                return Err(e);
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.end += n;
        Ok(true)
    }

    /// Ensures `n` contiguous bytes are buffered (n is small: an atom).
    fn need(&mut self, n: usize, expected: &'static str) -> Result<(), ParseError> {
        while self.avail() < n {
            match self.refill() {
                Ok(true) => {}
                Ok(false) => return Err(self.fail(ParseErrorKind::Truncated { expected })),
                Err(e) => return Err(self.fail_src(e)),
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let s = self.start;
        self.start += n;
        self.pos += n as u64;
        &self.buf[s..s + n]
    }

    fn u32(&mut self, expected: &'static str) -> Result<u32, ParseError> {
        self.need(4, expected)?;
        let b = self.take(4);
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Whether the stream is at its end (no more elements).
    fn at_end(&mut self) -> Result<bool, ParseError> {
        if self.avail() > 0 {
            return Ok(false);
        }
        match self.refill() {
            Ok(more) => Ok(!more),
            Err(e) => Err(self.fail_src(e)),
        }
    }

    /// Salvage after an error (§6 rule 8): scans forward from the current position for the next
    /// `NewAttach`, `EndAttach`, `StartRecip` or `EndToRecip` marker and resumes there. Returns the
    /// stream offset it resumed at, or `None` if no such marker follows (or the source failed).
    pub fn resync(&mut self) -> Option<u64> {
        const TARGETS: [u32; 4] = [
            marker::NEW_ATTACH,
            marker::END_ATTACH,
            marker::START_RECIP,
            marker::END_TO_RECIP,
        ];
        loop {
            while self.avail() >= 4 {
                let b = &self.buf[self.start..self.start + 4];
                let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if TARGETS.contains(&v) {
                    self.state = State::Idle;
                    return Some(self.pos);
                }
                self.start += 1;
                self.pos += 1;
            }
            match self.refill() {
                Ok(true) => {}
                _ => return None,
            }
        }
    }

    /// The next event, `Ok(None)` at the end of the stream. After an error, returns `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ParseError> {
        match self.state {
            State::Failed => Ok(None),
            State::ValueDone => {
                self.state = State::Idle;
                Ok(Some(Event::PropEnd))
            }
            State::InValue { remaining } => {
                if self.avail() == 0 {
                    match self.refill() {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(self.fail(ParseErrorKind::Truncated {
                                expected: "property value bytes",
                            }))
                        }
                        Err(e) => return Err(self.fail_src(e)),
                    }
                }
                let n = (self.avail() as u64).min(remaining) as usize;
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    State::ValueDone
                } else {
                    State::InValue { remaining: left }
                };
                Ok(Some(Event::Chunk(self.take(n))))
            }
            State::Idle => self.next_element(),
        }
    }

    fn next_element(&mut self) -> Result<Option<Event<'_>>, ParseError> {
        if self.at_end()? {
            return Ok(None);
        }
        self.elem_start = self.pos;
        let t = self.u32("marker or property tag")?;
        if marker::is_marker(t) {
            return Ok(Some(Event::Marker(t)));
        }
        let tag = PropTag(t);
        let named = if tag.id() >= 0x8000 {
            Some(self.named_info()?)
        } else {
            None
        };
        if t == meta::IDSET_GIVEN {
            let len = self.u32("value length")?;
            return self.start_value(tag, named, len);
        }
        let Some(class) = classify(tag.ptype()) else {
            return Err(self.fail(ParseErrorKind::UnknownType {
                tag: t,
                ptype: tag.ptype(),
            }));
        };
        match class {
            TypeClass::Fixed(n) => {
                self.need(n, "fixed-size property value")?;
                let v = decode_fixed(tag.ptype(), self.take(n));
                Ok(Some(Event::Prop {
                    tag,
                    named,
                    value: v,
                }))
            }
            TypeClass::Variable => {
                let len = self.u32("value length")?;
                self.start_value(tag, named, len)
            }
            TypeClass::Multi(elem) => {
                let value = self.multi(tag.ptype(), *elem)?;
                Ok(Some(Event::Prop { tag, named, value }))
            }
        }
    }

    fn start_value(
        &mut self,
        tag: PropTag,
        named: Option<NamedInfo>,
        len: u32,
    ) -> Result<Option<Event<'_>>, ParseError> {
        if u64::from(len) > self.limits.max_value_len {
            return Err(self.fail(ParseErrorKind::ValueTooLong {
                len: len.into(),
                max: self.limits.max_value_len,
            }));
        }
        self.state = if len == 0 {
            State::ValueDone
        } else {
            State::InValue {
                remaining: len.into(),
            }
        };
        Ok(Some(Event::PropStart { tag, named, len }))
    }

    fn named_info(&mut self) -> Result<NamedInfo, ParseError> {
        self.need(17, "named-property GUID and kind")?;
        let b = self.take(17);
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&b[..16]);
        let kind = b[16];
        match kind {
            0 => {
                let id = self.u32("named-property dispid")?;
                Ok(NamedInfo {
                    guid,
                    kind: NamedKind::Id(id),
                })
            }
            1 => {
                let max_units = self.limits.max_name_bytes / 2;
                let mut units: Vec<u16> = Vec::new();
                loop {
                    self.need(2, "named-property name (NUL-terminated UTF-16)")?;
                    let b = self.take(2);
                    let u = u16::from_le_bytes([b[0], b[1]]);
                    if u == 0 {
                        break;
                    }
                    if units.len() + 1 >= max_units {
                        return Err(self.fail(ParseErrorKind::NameTooLong {
                            max: self.limits.max_name_bytes,
                        }));
                    }
                    units.push(u);
                }
                Ok(NamedInfo {
                    guid,
                    kind: NamedKind::Name(String::from_utf16_lossy(&units)),
                })
            }
            k => Err(self.fail(ParseErrorKind::BadNamedKind { kind: k })),
        }
    }

    fn multi(&mut self, t: u16, elem: TypeClass) -> Result<PropValue, ParseError> {
        let count = self.u32("multi-valued count")?;
        if count > self.limits.max_mv_count {
            return Err(self.fail(ParseErrorKind::TooManyValues {
                count,
                max: self.limits.max_mv_count,
            }));
        }
        let single = t & !ptype::MV;
        let mut out = Vec::with_capacity((count as usize).min(1024));
        let mut total: u64 = 0;
        for _ in 0..count {
            match elem {
                TypeClass::Fixed(n) => {
                    self.need(n, "multi-valued element")?;
                    out.push(decode_fixed(single, self.take(n)));
                }
                _ => {
                    let len = self.u32("multi-valued element length")?;
                    total += u64::from(len);
                    if u64::from(len) > self.limits.max_value_len
                        || total > self.limits.max_mv_bytes
                    {
                        return Err(self.fail(ParseErrorKind::ValueTooLong {
                            len: total,
                            max: self.limits.max_mv_bytes,
                        }));
                    }
                    let bytes = self.read_value(len as usize)?;
                    let (v, lossy) = decode_variable(single, bytes, self.cp8);
                    if lossy {
                        self.lossy_count += 1;
                    }
                    out.push(v);
                }
            }
        }
        Ok(PropValue::Multi(out))
    }

    /// Reads a whole (capped) value, growing the allocation only as bytes arrive.
    fn read_value(&mut self, len: usize) -> Result<Vec<u8>, ParseError> {
        let mut v = Vec::with_capacity(len.min(64 * 1024));
        while v.len() < len {
            if self.avail() == 0 {
                match self.refill() {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(self.fail(ParseErrorKind::Truncated {
                            expected: "multi-valued element bytes",
                        }))
                    }
                    Err(e) => return Err(self.fail_src(e)),
                }
            }
            let n = self.avail().min(len - v.len());
            let s = self.start;
            v.extend_from_slice(&self.buf[s..s + n]);
            self.start += n;
            self.pos += n as u64;
        }
        Ok(v)
    }
}
