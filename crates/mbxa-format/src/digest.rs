//! The file digest of the trailer (spec §7): SHA-256 in format 1, BLAKE3 in format 2.

use sha2::{Digest, Sha256};

/// Incremental hasher of an archive's bytes `0 … trailer_offset−1`, for the algorithm its major
/// version uses. Blob names are SHA-256 in every version; only this whole-file digest changed,
/// because hashing every byte twice with SHA-256 (file, then blobs) bounded verification speed.
#[derive(Clone)]
pub enum FileHasher {
    /// Format 1.x.
    Sha256(Sha256),
    /// Format 2.x (BLAKE3 with its default 32-byte output).
    Blake3(Box<blake3::Hasher>),
}

impl FileHasher {
    /// The hasher for major version `major`; `None` for a version this crate does not know.
    pub fn for_major(major: u16) -> Option<FileHasher> {
        match major {
            1 => Some(FileHasher::Sha256(Sha256::new())),
            2 => Some(FileHasher::Blake3(Box::new(blake3::Hasher::new()))),
            _ => None,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            FileHasher::Sha256(h) => h.update(data),
            FileHasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The 32-byte digest.
    pub fn finalize(self) -> [u8; 32] {
        match self {
            FileHasher::Sha256(h) => h.finalize().into(),
            FileHasher::Blake3(h) => *h.finalize().as_bytes(),
        }
    }

    /// The algorithm's name, for messages: `SHA-256` or `BLAKE3`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            FileHasher::Sha256(_) => "SHA-256",
            FileHasher::Blake3(_) => "BLAKE3",
        }
    }
}

impl std::fmt::Debug for FileHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileHasher({})", self.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let mut s = FileHasher::for_major(1).unwrap();
        s.update(b"ab");
        s.update(b"c");
        assert_eq!(
            hex::encode(s.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut b = FileHasher::for_major(2).unwrap();
        b.update(b"abc");
        assert_eq!(
            hex::encode(b.finalize()),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert!(FileHasher::for_major(3).is_none());
    }
}
