//! FastTransfer (MS-OXCFXICS) streams of exported Exchange items: parse, build, convert to `.eml`.
//!
//! An exported item (EWS `ExportItems`, Graph `mailbox: exportItems`) is an FxProxy-framed
//! FastTransfer stream whose root is a `messageContent`. This crate
//!
//! * unwraps the FxProxy framing ([`framing`]), accepting bare streams too;
//! * lexes the stream incrementally ([`lexer::Lexer`]): markers, tags with named-property info,
//!   fixed and multi-valued values whole, large single values as chunks;
//! * builds a message tree ([`Message`] with recipients, attachments and embedded messages),
//!   permissively (§6 of the reference): properties go to the innermost open object, missing end
//!   markers are closed implicitly with a warning, and truncated input yields a partial tree plus a
//!   [`ParseError`] with the byte offset;
//! * writes the same format ([`encode`], [`MessageBuilder`]) in export style;
//! * converts to RFC 5322 / MIME ([`eml::to_eml`]) per MS-OXCMAIL, decompressing RTF ([`rtf`]).
//!
//! Choices where the reference leaves things open:
//! * Error offsets are offsets in the input as given (the FxProxy blob); the unwrapped-stream
//!   offset is reported too. Truncation is reported at the start of the element being read, or
//!   at the end of input when the stream ends between elements with objects still open.
//! * Plain `0x001E` strings use PidTagMessageCodepage (else PidTagInternetCodepage, else 1252) of
//!   the message seen so far; unknown code pages keep raw bytes ([`PropValue::RawString`]).
//! * `MetaTagDnPrefix`, `MetaTagFXDelProp`, `MetaTagEcWarning`, `MetaTagNewFXFolder` and
//!   `MetaTagIdsetGiven` are dropped from the tree; every other property is kept, with its wire type.
//! * Duplicate properties on one object keep the last value in the first one's position.
//! * An unknown property type stops [`parse`] with a partial result; [`parse_salvage`] instead
//!   skips to the next recipient/attachment marker (§6 rule 8) and records a warning.
//!
//! No I/O beyond `std::io::Read`.

pub mod codepage;
pub mod eml;
pub mod encode;
pub mod error;
pub mod framing;
pub mod lexer;
pub mod message;
pub mod rtf;
pub mod summary;
pub mod tags;
pub mod tree;
pub mod value;

pub use encode::{encode_message, EncodeOptions, MessageBuilder};
pub use error::{EmlError, ParseError, ParseErrorKind, RtfError};
pub use lexer::Limits;
pub use message::{
    filetime_to_unix, unix_to_filetime, AttachMethod, Attachment, Mailbox, Message, PropertyBag,
    Recipient, RecipientKind,
};
pub use summary::{summarize, Summary};
pub use tree::{
    parse, parse_detailed, parse_partial, parse_reader, parse_salvage, Parsed, Warning, WarningKind,
};
pub use value::{
    guid_from_str, guid_to_string, psets, ptype, NamedKind, PropKey, PropTag, PropValue, Property,
};
