//! Content-defined chunking: FastCDC (2020 variant, `fastcdc` 3.x, normalization level 1, seed 0).
//!
//! The parameters only matter when adding: a vault stores chunk ids, never cut points, so a
//! reader needs no chunker and a future writer may change these without breaking old vaults
//! (it would only deduplicate less against what was stored before).

use fastcdc::v2020::FastCDC;

/// Smallest chunk (except a final one).
pub const MIN_CHUNK: u32 = 4 * 1024;
/// Target average chunk.
pub const AVG_CHUNK: u32 = 16 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: u32 = 128 * 1024;

/// Cuts `data` into content-defined chunks; an empty input yields no chunk.
pub fn cut(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
        .map(move |c| &data[c.offset..c.offset + c.length])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_edit_changes_few_chunks() {
        let mut x: u64 = 1;
        let data: Vec<u8> = (0..400_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 7) as u8
            })
            .collect();
        let a: Vec<&[u8]> = cut(&data).collect();
        assert_eq!(a.iter().map(|c| c.len()).sum::<usize>(), data.len());
        assert!(a.iter().all(|c| c.len() <= MAX_CHUNK as usize));
        let mut edited = data.clone();
        edited[200_000] ^= 0xff;
        let b: Vec<&[u8]> = cut(&edited).collect();
        let common = b.iter().filter(|c| a.contains(c)).count();
        assert!(
            common + 3 >= b.len(),
            "{common} of {} chunks shared",
            b.len()
        );
        assert!(cut(&[]).next().is_none());
    }
}
