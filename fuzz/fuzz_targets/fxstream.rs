//! Fuzz target: the FastTransfer parser, summary and .eml conversion must never panic, and what
//! the encoder writes from a parsed tree must parse back with the same structure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mbxa_fasttransfer::{
    eml::to_eml, encode_message, parse, parse_partial, parse_salvage, summarize, EncodeOptions,
    Limits,
};

fuzz_target!(|data: &[u8]| {
    let (msg, _err) = parse_partial(data);
    let _ = summarize(data);
    let _ = parse_salvage(data, Limits::default());
    let _ = to_eml(&msg);
    // Re-encoding a partial tree and parsing it again keeps its structure.
    let bytes = encode_message(&msg, &EncodeOptions::default());
    let back = parse(&bytes).expect("re-encoded tree parses");
    assert_eq!(back.recipients.len(), msg.recipients.len());
    assert_eq!(back.attachments.len(), msg.attachments.len());
});
