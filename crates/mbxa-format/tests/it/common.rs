//! Deterministic test manifests and blobs.

use std::io::Cursor;

use mbxa_format::*;

/// A deterministic pseudo-random generator (xorshift), so tests need no RNG crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Mail-like bytes: compressible text with some noise.
pub fn blob_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let words: [&[u8]; 8] = [
        b"hello ",
        b"meeting ",
        b"invoice ",
        b"Re: ",
        b"the ",
        b"project ",
        b"\r\n",
        b"regards ",
    ];
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        if r.below(10) == 0 {
            v.push(r.next() as u8);
        } else {
            v.extend_from_slice(words[r.below(8) as usize]);
        }
    }
    v.truncate(len);
    v
}

pub fn source() -> Source {
    Source {
        tenant_id: "00000000-0000-0000-0000-000000000001".into(),
        user: "alice@contoso.example".into(),
        mailbox_id: "MBX:alice".into(),
        kind: MailboxKind::Primary,
    }
}

pub fn capture() -> CaptureInfo {
    CaptureInfo {
        tool_version: "mbxa 0.1.0".into(),
        started_at: "2026-11-27T12:00:00Z".into(),
        finished_at: "2026-11-27T12:05:00Z".into(),
        base_archive: None,
        folders_delta_link: Some("https://graph.example/delta?folders=1".into()),
        item_delta_links: vec![FolderDeltaLink {
            folder_id: "F-inbox".into(),
            delta_link: "https://graph.example/delta?f=inbox".into(),
        }],
    }
}

pub fn folders() -> Vec<Folder> {
    vec![
        Folder {
            id: "F-inbox".into(),
            parent_id: None,
            display_name: "Inbox".into(),
            folder_class: "IPF.Note".into(),
            well_known_name: Some("inbox".into()),
            item_count: 2,
        },
        Folder {
            id: "F-proj".into(),
            parent_id: Some("F-inbox".into()),
            display_name: "Projects".into(),
            folder_class: "IPF.Note".into(),
            well_known_name: None,
            item_count: 1,
        },
    ]
}

pub fn item(n: usize, folder: &str, content: ItemContent) -> Item {
    Item {
        id: format!("ITEM-{n:06}"),
        folder_id: folder.into(),
        change_key: format!("CK-{n}"),
        created: "2026-11-01T08:00:00Z".into(),
        last_modified: "2026-11-02T09:30:00Z".into(),
        size: 1000 + n as u64,
        message_class: "IPM.Note".into(),
        content,
    }
}

/// Writes an archive of the given blobs (one item per blob, plus one failed item) to memory.
pub fn write_archive(blobs: &[Vec<u8>]) -> (Vec<u8>, ArchiveId, Manifest) {
    let mut w = ArchiveWriter::new(Vec::new()).unwrap();
    let mut items = Vec::new();
    for (n, b) in blobs.iter().enumerate() {
        let id = w.add_blob(b).unwrap();
        let folder = if n % 2 == 0 { "F-inbox" } else { "F-proj" };
        items.push(item(
            n,
            folder,
            ItemContent::Blob {
                id,
                len: b.len() as u64,
            },
        ));
    }
    items.push(item(
        blobs.len(),
        "F-inbox",
        ItemContent::ExportFailed {
            code: "ErrorItemCorrupt".into(),
            message: "The item is corrupt.".into(),
        },
    ));
    let m = Manifest {
        source: source(),
        capture: capture(),
        folders: folders(),
        items,
    };
    let (bytes, id) = w.finish(&m).unwrap();
    (bytes, id, m)
}

pub fn open(bytes: &[u8]) -> Result<ArchiveReader<Cursor<&[u8]>>> {
    ArchiveReader::open(Cursor::new(bytes))
}
