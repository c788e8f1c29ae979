//! How a blob's zstd frame is re-created: the compression parameters recorded at add time.

use std::io::Write;

use serde::{Deserialize, Serialize};

/// Input piece size of streaming recipes (what the mbxa-format writer feeds zstd).
pub const STREAM_PIECE: usize = 128 * 1024;

/// zstd parameters that, applied to the blob's bytes by the zstd library, reproduced the
/// archive's frame byte for byte when the archive was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recipe {
    /// Compression level.
    pub level: i32,
    /// Content checksum flag (XXH64 at the end of the frame).
    pub checksum: bool,
    /// Frame content size present in the header.
    pub content_size: bool,
    /// `false`: one-shot `ZSTD_compress2` on the whole input; `true`: streaming
    /// `ZSTD_compressStream2` (pledged size only when `content_size`), input fed in
    /// [`STREAM_PIECE`]-byte pieces with `ZSTD_e_continue`, then `ZSTD_e_end`.
    pub streaming: bool,
}

/// The flags a frame header declares: (checksum, content size present).
pub fn header_flags(frame: &[u8]) -> Option<(bool, bool)> {
    if frame.len() < 6 || frame[..4] != [0x28, 0xB5, 0x2F, 0xFD] {
        return None;
    }
    let fhd = frame[4];
    let fcs_flag = fhd >> 6;
    let single_segment = (fhd >> 5) & 1 == 1;
    let checksum = (fhd >> 2) & 1 == 1;
    Some((checksum, fcs_flag != 0 || single_segment))
}

/// Compresses `data` following `r`.
pub fn compress(r: &Recipe, data: &[u8]) -> std::io::Result<Vec<u8>> {
    if r.streaming {
        let mut e =
            zstd::stream::write::Encoder::new(Vec::with_capacity(data.len() / 2 + 64), r.level)?;
        e.include_checksum(r.checksum)?;
        e.include_contentsize(r.content_size)?;
        if r.content_size {
            e.set_pledged_src_size(Some(data.len() as u64))?;
        }
        // Same feeding as the mbxa-format writer: 128 KiB pieces with ZSTD_e_continue, then end.
        for piece in data.chunks(STREAM_PIECE) {
            e.write_all(piece)?;
        }
        e.finish()
    } else {
        let mut c = zstd::bulk::Compressor::new(r.level)?;
        c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(r.checksum))?;
        c.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(r.content_size))?;
        c.compress(data)
    }
}

/// The recipes worth trying for a frame, most likely first: the `hints` that worked for earlier
/// frames, then the format's writer level (3) one-shot and streaming. Bounded so a frame that
/// will not reproduce costs at most a few compressions.
pub fn candidates(frame: &[u8], hints: &[Recipe]) -> Vec<Recipe> {
    let Some((checksum, content_size)) = header_flags(frame) else {
        return Vec::new();
    };
    let mut out: Vec<Recipe> = Vec::new();
    let defaults = [
        Recipe {
            level: 3,
            checksum,
            content_size,
            streaming: true,
        },
        Recipe {
            level: 3,
            checksum,
            content_size,
            streaming: false,
        },
    ];
    for r in hints.iter().chain(defaults.iter()) {
        if r.checksum == checksum && r.content_size == content_size && !out.contains(r) {
            out.push(*r);
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

/// Finds a recipe that reproduces `frame` from `blob`, if one of the candidates does.
pub fn find(frame: &[u8], blob: &[u8], hints: &[Recipe]) -> Option<Recipe> {
    candidates(frame, hints)
        .into_iter()
        .find(|r| compress(r, blob).is_ok_and(|f| f == frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_one_shot_and_streaming_frames() {
        let blob: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for r in [
            Recipe {
                level: 3,
                checksum: true,
                content_size: true,
                streaming: false,
            },
            Recipe {
                level: 3,
                checksum: false,
                content_size: false,
                streaming: true,
            },
            Recipe {
                level: 7,
                checksum: true,
                content_size: true,
                streaming: false,
            },
        ] {
            let frame = compress(&r, &blob).unwrap();
            assert_eq!(header_flags(&frame), Some((r.checksum, r.content_size)));
            let found = find(&frame, &blob, &[Recipe { level: 7, ..r }]);
            assert_eq!(
                found.map(|f| compress(&f, &blob).unwrap() == frame),
                Some(true)
            );
        }
        // Level 19 without a hint is not among the candidates: stored verbatim instead.
        let r19 = Recipe {
            level: 19,
            checksum: true,
            content_size: true,
            streaming: false,
        };
        let frame = compress(&r19, &blob).unwrap();
        assert_eq!(find(&frame, &blob, &[]), None);
        assert!(candidates(b"not zstd", &[]).is_empty());
    }
}
