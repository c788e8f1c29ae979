//! Synthetic evolving mailboxes written as real `.mbxa` archives, for tests and benchmarks.
//!
//! Items are deterministic byte strings (UTF-16 text bodies, some carrying attachments drawn
//! from a shared pool, so several messages hold the same attachment). `evolve` adds, changes
//! and deletes items; `reexport` makes unchanged items come back with a few bytes different, as
//! a non-byte-stable export API would.

use std::path::Path;

use mbxa_format::{
    ArchiveFile, ArchiveId, CaptureInfo, Folder, Item, ItemContent, MailboxKind, Manifest, Source,
};

/// A small deterministic PRNG (xorshift64*), so fixtures need no extra dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (any seed, including 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "meeting",
    "budget",
    "quarterly",
    "report",
    "please",
    "review",
    "attached",
    "thanks",
    "regards",
    "schedule",
    "project",
    "deadline",
    "customer",
    "invoice",
    "update",
    "team",
    "tomorrow",
    "call",
    "agenda",
    "minutes",
    "proposal",
    "contract",
    "draft",
    "final",
    "approval",
    "shipping",
    "order",
];

#[derive(Debug, Clone)]
struct SynthItem {
    id: u64,
    folder: usize,
    seed: u64,
    version: u32,
    export: u32,
    text_len: usize,
    attachment: Option<usize>,
}

/// A synthetic mailbox that changes between captures.
#[derive(Debug, Clone)]
pub struct Mailbox {
    rng: Rng,
    items: Vec<SynthItem>,
    pool: Vec<Vec<u8>>,
    next_id: u64,
    captures: u32,
    /// UPN used in the manifest.
    pub user: String,
    /// Mean text body length in bytes (UTF-16, so 2 bytes per character).
    pub mean_text: usize,
}

impl Mailbox {
    /// A mailbox of `items` items with a pool of `attachments` shared attachments of up to
    /// `max_attachment` bytes each.
    pub fn new(seed: u64, items: usize, attachments: usize, max_attachment: usize) -> Self {
        let mut rng = Rng::new(seed);
        let pool = (0..attachments)
            .map(|_| {
                let n = 1024 + rng.below(max_attachment.max(1025) as u64 - 1024) as usize;
                (0..n).map(|_| rng.next_u64() as u8).collect()
            })
            .collect();
        let mut m = Mailbox {
            rng,
            items: Vec::new(),
            pool,
            next_id: 1,
            captures: 0,
            user: format!("user{seed}@contoso.example"),
            mean_text: 12_000,
        };
        for _ in 0..items {
            m.add_item();
        }
        m
    }

    fn add_item(&mut self) {
        let has_att = !self.pool.is_empty() && self.rng.below(5) == 0;
        let it = SynthItem {
            id: self.next_id,
            folder: self.rng.below(3) as usize,
            seed: self.rng.next_u64(),
            version: 0,
            export: 0,
            text_len: 200 + self.rng.below(2 * self.mean_text as u64) as usize,
            attachment: has_att.then(|| self.rng.below(self.pool.len() as u64) as usize),
        };
        self.next_id += 1;
        self.items.push(it);
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the mailbox has no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds, edits (small change to the content) and deletes items.
    pub fn evolve(&mut self, added: usize, changed: usize, deleted: usize) {
        for _ in 0..deleted.min(self.items.len()) {
            let i = self.rng.below(self.items.len() as u64) as usize;
            self.items.remove(i);
        }
        for _ in 0..changed.min(self.items.len()) {
            let i = self.rng.below(self.items.len() as u64) as usize;
            self.items[i].version += 1;
        }
        for _ in 0..added {
            self.add_item();
        }
    }

    /// Makes `percent` % of items come back from the next export with a few bytes different.
    pub fn reexport(&mut self, percent: u64) {
        for it in &mut self.items {
            if self.rng.below(100) < percent {
                it.export += 1;
            }
        }
    }

    /// The exact bytes of an item's export.
    fn bytes(&self, it: &SynthItem) -> Vec<u8> {
        let mut r = Rng::new(it.seed);
        let mut out = Vec::with_capacity(it.text_len * 2 + 4096);
        out.extend_from_slice(format!("FXITEM id={} folder={} ", it.id, it.folder).as_bytes());
        // Export-dependent bytes: a re-export changes these few bytes only.
        let stamp = format!("export={:08} ", it.export);
        out.extend_from_slice(stamp.as_bytes());
        let mut text = String::with_capacity(it.text_len);
        while text.len() < it.text_len {
            text.push_str(WORDS[r.below(WORDS.len() as u64) as usize]);
            text.push(' ');
        }
        let half = text.len() / 2;
        for (k, ch) in text.encode_utf16().enumerate() {
            out.extend_from_slice(&ch.to_le_bytes());
            if k == half {
                // An edit changes a few bytes in the middle of the body.
                out.extend_from_slice(format!("[rev {}]", it.version).as_bytes());
                out.extend_from_slice(stamp.as_bytes());
            }
        }
        if let Some(a) = it.attachment.and_then(|a| self.pool.get(a)) {
            out.extend_from_slice(b"ATTACH");
            out.extend_from_slice(a);
        }
        out
    }

    /// The current items as (item id, exported bytes), in item order.
    pub fn item_blobs(&self) -> Vec<(String, Vec<u8>)> {
        self.items
            .iter()
            .map(|it| (format!("AAMk-item-{}", it.id), self.bytes(it)))
            .collect()
    }

    /// The current items' bytes (in item order).
    pub fn blobs(&self) -> Vec<Vec<u8>> {
        self.items.iter().map(|it| self.bytes(it)).collect()
    }

    /// Writes the mailbox's current state as a complete archive at `path`.
    pub fn write_archive(&mut self, path: &Path) -> mbxa_format::Result<ArchiveId> {
        self.captures += 1;
        let mut f = ArchiveFile::create(path)?;
        let mut items = Vec::with_capacity(self.items.len() + 1);
        for it in &self.items {
            let b = self.bytes(it);
            let id = f.writer().add_blob(&b)?;
            items.push(Item {
                id: format!("AAMk-item-{}", it.id),
                folder_id: format!("folder-{}", it.folder),
                change_key: format!("CQAAAB-{}", it.version),
                created: "2026-01-01T00:00:00Z".into(),
                last_modified: format!("2026-01-{:02}T00:00:00Z", 1 + it.version % 28),
                size: b.len() as u64,
                message_class: "IPM.Note".into(),
                content: ItemContent::Blob {
                    id,
                    len: b.len() as u64,
                },
            });
        }
        items.push(Item {
            id: format!("AAMk-failed-{}", self.captures),
            folder_id: "folder-0".into(),
            change_key: "CQ".into(),
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
            size: 10,
            message_class: "IPM.Note".into(),
            content: ItemContent::ExportFailed {
                code: "ErrorItemNotFound".into(),
                message: "gone".into(),
            },
        });
        let folders = (0..3)
            .map(|i| Folder {
                id: format!("folder-{i}"),
                parent_id: None,
                display_name: ["Inbox", "Sent Items", "Archive"][i].into(),
                folder_class: "IPF.Note".into(),
                well_known_name: None,
                item_count: self.items.iter().filter(|it| it.folder == i).count() as u64,
            })
            .collect();
        let manifest = Manifest {
            source: Source {
                tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                user: self.user.clone(),
                mailbox_id: format!("mbx-{}", self.user),
                kind: MailboxKind::Primary,
            },
            capture: CaptureInfo {
                tool_version: "mbxa-synth".into(),
                started_at: format!("2026-11-{:02}T12:00:00Z", self.captures.min(28)),
                finished_at: format!("2026-11-{:02}T12:05:00Z", self.captures.min(28)),
                base_archive: None,
                folders_delta_link: None,
                item_delta_links: Vec::new(),
            },
            folders,
            items,
        };
        f.finish(&manifest)
    }
}
