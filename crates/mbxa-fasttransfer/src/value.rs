//! Property tags, keys and values: the data model shared by the lexer, the tree and the encoder.

use std::fmt;

/// A 32-bit property tag, `id << 16 | type`, as it appears (little-endian) on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropTag(pub u32);

impl PropTag {
    /// Builds a tag from an id and a type.
    pub const fn new(id: u16, ptype: u16) -> Self {
        PropTag(((id as u32) << 16) | ptype as u32)
    }
    /// The property id (high 16 bits).
    pub const fn id(self) -> u16 {
        (self.0 >> 16) as u16
    }
    /// The property type (low 16 bits).
    pub const fn ptype(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl fmt::Display for PropTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

/// How a named property is identified inside its property set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamedKind {
    /// A numeric dispid (LID), namedInfo kind 0.
    Id(u32),
    /// A string name, namedInfo kind 1.
    Name(String),
}

/// What a property is, independent of the stream-local id of named properties.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropKey {
    /// A tagged property (id < 0x8000).
    Tagged(u16),
    /// A named property, keyed by its property-set GUID (wire byte layout) and dispid or name.
    Named {
        /// The property set GUID in Windows wire layout (Data1..3 little-endian).
        guid: [u8; 16],
        /// Dispid or name.
        name: NamedKind,
    },
}

/// A decoded property value.
///
/// Code-page string types decode to [`PropValue::String`] when the code page is known; an unknown
/// code page keeps the bytes in [`PropValue::RawString`].
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// PtypInteger16.
    I16(i16),
    /// PtypInteger32.
    I32(i32),
    /// PtypFloating32.
    F32(f32),
    /// PtypFloating64.
    F64(f64),
    /// PtypCurrency (scaled by 10 000).
    Currency(i64),
    /// PtypFloatingTime (OLE date).
    AppTime(f64),
    /// PtypErrorCode.
    Error(u32),
    /// PtypBoolean (2 bytes on the wire).
    Bool(bool),
    /// PtypInteger64.
    I64(i64),
    /// Any string type decoded to Unicode (terminator stripped).
    String(String),
    /// PtypBinary.
    Binary(Vec<u8>),
    /// PtypGuid (wire layout).
    Guid([u8; 16]),
    /// PtypTime: FILETIME, 100-ns ticks since 1601-01-01 UTC.
    SysTime(u64),
    /// PtypServerId.
    ServerId(Vec<u8>),
    /// A multi-valued property; elements are single values.
    Multi(Vec<PropValue>),
    /// PtypObject, treated like binary on the wire.
    Object(Vec<u8>),
    /// An 8-bit string whose code page is unknown: raw bytes (terminator stripped) and the code page.
    RawString {
        /// The Windows code page the stream claimed (0 if none).
        codepage: u32,
        /// The undecoded bytes.
        bytes: Vec<u8>,
    },
}

impl PropValue {
    /// The string, if this is a decoded string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropValue::String(s) => Some(s),
            _ => None,
        }
    }
    /// The bytes of a binary-like value (Binary, Object, ServerId).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            PropValue::Binary(b) | PropValue::Object(b) | PropValue::ServerId(b) => Some(b),
            _ => None,
        }
    }
    /// An integer view of I16/I32/I64/Error/Bool values.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            PropValue::I16(v) => Some(v.into()),
            PropValue::I32(v) => Some(v.into()),
            PropValue::I64(v) => Some(v),
            PropValue::Error(v) => Some(v.into()),
            PropValue::Bool(b) => Some(b.into()),
            _ => None,
        }
    }
    /// The FILETIME of a PtypTime value.
    pub fn as_filetime(&self) -> Option<u64> {
        match *self {
            PropValue::SysTime(t) => Some(t),
            _ => None,
        }
    }
}

/// One property of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Tagged id or named identity.
    pub key: PropKey,
    /// The wire type (e.g. `0x84B0` for an exported UTF-16 string).
    pub ptype: u16,
    /// The value.
    pub value: PropValue,
}

/// Property types (canonical codes).
pub mod ptype {
    /// PtypInteger16.
    pub const I16: u16 = 0x0002;
    /// PtypInteger32.
    pub const I32: u16 = 0x0003;
    /// PtypFloating32.
    pub const F32: u16 = 0x0004;
    /// PtypFloating64.
    pub const F64: u16 = 0x0005;
    /// PtypCurrency.
    pub const CURRENCY: u16 = 0x0006;
    /// PtypFloatingTime.
    pub const APPTIME: u16 = 0x0007;
    /// PtypErrorCode.
    pub const ERROR: u16 = 0x000A;
    /// PtypBoolean.
    pub const BOOLEAN: u16 = 0x000B;
    /// PtypObject.
    pub const OBJECT: u16 = 0x000D;
    /// PtypInteger64.
    pub const I64: u16 = 0x0014;
    /// PtypString8.
    pub const STRING8: u16 = 0x001E;
    /// PtypString (UTF-16LE).
    pub const UNICODE: u16 = 0x001F;
    /// PtypTime.
    pub const SYSTIME: u16 = 0x0040;
    /// PtypGuid.
    pub const GUID: u16 = 0x0048;
    /// PtypServerId.
    pub const SERVERID: u16 = 0x00FB;
    /// PtypBinary.
    pub const BINARY: u16 = 0x0102;
    /// Multi-valued flag.
    pub const MV: u16 = 0x1000;
    /// Code-page string: UTF-16LE (code page 1200), what exports use for strings.
    pub const CP_UTF16: u16 = 0x84B0;
    /// Multi-valued code-page string, UTF-16LE.
    pub const MV_CP_UTF16: u16 = 0x94B0;
    /// Code-page string, Windows-1252.
    pub const CP_1252: u16 = 0x84E4;
}

/// Windows GUID text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`) → wire layout bytes.
pub fn guid_from_str(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s
        .trim_matches(|c| c == '{' || c == '}')
        .bytes()
        .filter(|b| *b != b'-')
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        raw[i] = u8::from_str_radix(s, 16).ok()?;
    }
    // Data1 (4), Data2 (2), Data3 (2) are little-endian on the wire.
    let mut g = raw;
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    Some(g)
}

/// Wire layout GUID → Windows text form (upper case).
pub fn guid_to_string(g: &[u8; 16]) -> String {
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    )
}

/// Named-property set GUIDs (wire layout).
pub mod psets {
    /// PS_MAPI {00020328-0000-0000-C000-000000000046}.
    pub const PS_MAPI: [u8; 16] = ms_guid(0x00020328);
    /// PS_PUBLIC_STRINGS {00020329-...}.
    pub const PS_PUBLIC_STRINGS: [u8; 16] = ms_guid(0x00020329);
    /// PS_INTERNET_HEADERS {00020386-...}.
    pub const PS_INTERNET_HEADERS: [u8; 16] = ms_guid(0x00020386);
    /// PSETID_Common {00062008-...}.
    pub const PSETID_COMMON: [u8; 16] = ms_guid(0x00062008);
    /// PSETID_Address {00062004-...}.
    pub const PSETID_ADDRESS: [u8; 16] = ms_guid(0x00062004);
    /// PSETID_Appointment {00062002-...}.
    pub const PSETID_APPOINTMENT: [u8; 16] = ms_guid(0x00062002);
    /// PSETID_Task {00062003-...}.
    pub const PSETID_TASK: [u8; 16] = ms_guid(0x00062003);

    /// `{XXXXXXXX-0000-0000-C000-000000000046}` in wire layout.
    const fn ms_guid(d1: u32) -> [u8; 16] {
        let b = d1.to_le_bytes();
        [
            b[0], b[1], b[2], b[3], 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
        ]
    }
}
