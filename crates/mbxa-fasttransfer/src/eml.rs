//! Conversion of a message tree to RFC 5322 / MIME (`.eml`) following MS-OXCMAIL.

use crate::error::EmlError;
use crate::message::Message;

/// Converts a message to `.eml` bytes.
pub fn to_eml(_msg: &Message) -> Result<Vec<u8>, EmlError> {
    Err(EmlError::Write("not implemented".into()))
}
