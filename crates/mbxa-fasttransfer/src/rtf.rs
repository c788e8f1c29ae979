//! Compressed RTF (MS-OXRTFCP): LZFu and MELA decompression, MELA compression, and recovery of
//! HTML / plain text encapsulated in RTF (`\fromhtml1`, `\fromtext`).

use crate::error::RtfError;

/// Placeholder; filled in below.
pub fn decompress(_data: &[u8]) -> Result<Vec<u8>, RtfError> {
    Err(RtfError::Truncated("not implemented"))
}
