//! Builders of hostile inputs: an `.mbxa` assembler that keeps every digest consistent (so only
//! the hostile field is wrong), hand-made zstd frames, a postcard manifest encoder and hostile
//! FastTransfer streams. Everything is deterministic: the committed `fixtures/hostile/` files are
//! exactly what `fixtures()` returns.

use std::io::{Cursor, Write};

use mbxa_fasttransfer::MessageBuilder;
use mbxa_format::{
    ArchiveReader, ArchiveWriter, BlobId, CaptureInfo, Folder, Item, ItemContent, MailboxKind,
    Manifest, Source,
};
use sha2::{Digest, Sha256};

/// What the suite demands of a hostile file, beyond "no crash, bounded time and memory".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The archive must not open: every command fails (exit 1 or 2).
    OpenFails,
    /// It opens (trailer, index and manifest are fine) but `verify` must find damage, and
    /// `show`/`extract` of the damaged item must fail.
    VerifyFails,
    /// Byte-valid archive whose item stream is hostile: `verify --deep`, `show` and `extract`
    /// must fail; `info`/`ls`/`vault add` may succeed.
    DeepFails,
    /// Byte-valid archive with hostile names or structure: anything but a crash, and `extract`
    /// writes nothing outside its output directory.
    Valid,
}

/// One crafted input.
pub(crate) struct Fixture {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) expect: Expect,
    /// Item id given to `mbxa show`.
    pub(crate) item: &'static str,
}

// ---------------------------------------------------------------------------------------------
// Small encoders.

pub(crate) fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

pub(crate) fn octal12(n: u64) -> [u8; 12] {
    let s = format!("{n:011o}\0");
    let mut f = [0u8; 12];
    f.copy_from_slice(&s.as_bytes()[..12]);
    f
}

/// GNU tar's base-256 size encoding (high bit set, big-endian binary).
pub(crate) fn base256(n: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[0] = 0x80;
    f[4..].copy_from_slice(&n.to_be_bytes());
    f
}

/// A spec §2.1 header block with any name bytes and any 12-byte size field.
pub(crate) fn tar_header(name: &[u8], size: [u8; 12]) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..108].copy_from_slice(b"0000600\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(&size);
    h[136..148].copy_from_slice(b"00000000000\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[329..337].copy_from_slice(b"0000000\0");
    h[337..345].copy_from_slice(b"0000000\0");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pad512(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(512) {
        v.push(0);
    }
}

fn u64le(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// zstd frame with content size and checksum, as the format requires.
pub(crate) fn zstd_frame(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::Encoder::new(Vec::new(), 3).expect("zstd encoder");
    e.include_checksum(true).expect("checksum flag");
    e.include_contentsize(true).expect("content size flag");
    e.set_pledged_src_size(Some(data.len() as u64))
        .expect("pledge");
    e.write_all(data).expect("compress");
    e.finish().expect("finish frame")
}

/// A hand-made zstd frame: declares `fcs` bytes of content and the checksum flag, then holds
/// `blocks` RLE blocks of `block` bytes each (at most 128 KiB): 4 bytes of input per block, so
/// 4096 blocks are 16 KiB that expand to 512 MiB. The checksum itself is zero (wrong): a decoder
/// that gets that far has already produced everything.
pub(crate) fn rle_frame(fcs: u64, blocks: usize, block: u32, byte: u8) -> Vec<u8> {
    let mut f = vec![0x28, 0xB5, 0x2F, 0xFD];
    f.push(0xC4); // FCS field 8 bytes, not single-segment, checksum flag
    f.push(0x38); // window descriptor: 2^17 = 128 KiB
    f.extend_from_slice(&fcs.to_le_bytes());
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let h = last | (1 << 1) | (block << 3);
        f.extend_from_slice(&h.to_le_bytes()[..3]);
        f.push(byte);
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f
}

pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn pbytes(out: &mut Vec<u8>, b: &[u8]) {
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn popt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            pbytes(out, s.as_bytes());
        }
    }
}

/// Postcard records of spec §5 (an independent encoder: checked against the writer's bytes).
pub(crate) fn enc_source(s: &Source) -> Vec<u8> {
    let mut o = Vec::new();
    pbytes(&mut o, s.tenant_id.as_bytes());
    pbytes(&mut o, s.user.as_bytes());
    pbytes(&mut o, s.mailbox_id.as_bytes());
    varint(
        &mut o,
        match s.kind {
            MailboxKind::Primary => 0,
            MailboxKind::Archive => 1,
        },
    );
    o
}

pub(crate) fn enc_capture(c: &CaptureInfo) -> Vec<u8> {
    let mut o = Vec::new();
    pbytes(&mut o, c.tool_version.as_bytes());
    pbytes(&mut o, c.started_at.as_bytes());
    pbytes(&mut o, c.finished_at.as_bytes());
    match &c.base_archive {
        None => o.push(0),
        Some(a) => {
            o.push(1);
            o.extend_from_slice(&a.0);
        }
    }
    popt(&mut o, c.folders_delta_link.as_deref());
    varint(&mut o, c.item_delta_links.len() as u64);
    for l in &c.item_delta_links {
        pbytes(&mut o, l.folder_id.as_bytes());
        pbytes(&mut o, l.delta_link.as_bytes());
    }
    o
}

pub(crate) fn enc_folder(f: &Folder) -> Vec<u8> {
    let mut o = Vec::new();
    pbytes(&mut o, f.id.as_bytes());
    popt(&mut o, f.parent_id.as_deref());
    pbytes(&mut o, f.display_name.as_bytes());
    pbytes(&mut o, f.folder_class.as_bytes());
    popt(&mut o, f.well_known_name.as_deref());
    varint(&mut o, f.item_count);
    o
}

pub(crate) fn enc_item(i: &Item) -> Vec<u8> {
    let mut o = Vec::new();
    for s in [
        &i.id,
        &i.folder_id,
        &i.change_key,
        &i.created,
        &i.last_modified,
    ] {
        pbytes(&mut o, s.as_bytes());
    }
    varint(&mut o, i.size);
    pbytes(&mut o, i.message_class.as_bytes());
    match &i.content {
        ItemContent::Blob { id, len } => {
            varint(&mut o, 0);
            o.extend_from_slice(&id.0);
            varint(&mut o, *len);
        }
        ItemContent::ExportFailed { code, message } => {
            varint(&mut o, 1);
            pbytes(&mut o, code.as_bytes());
            pbytes(&mut o, message.as_bytes());
        }
    }
    o
}

/// The manifest payload from already-encoded records.
pub(crate) fn enc_payload(
    src: &[u8],
    cap: &[u8],
    folders: &[Vec<u8>],
    items: &[Vec<u8>],
) -> Vec<u8> {
    let mut o = vec![1, 0];
    pbytes(&mut o, src);
    pbytes(&mut o, cap);
    varint(&mut o, folders.len() as u64);
    for f in folders {
        pbytes(&mut o, f);
    }
    varint(&mut o, items.len() as u64);
    for i in items {
        pbytes(&mut o, i);
    }
    o
}

pub(crate) fn enc_manifest(m: &Manifest) -> Vec<u8> {
    let f: Vec<Vec<u8>> = m.folders.iter().map(enc_folder).collect();
    let i: Vec<Vec<u8>> = m.items.iter().map(enc_item).collect();
    enc_payload(&enc_source(&m.source), &enc_capture(&m.capture), &f, &i)
}

// ---------------------------------------------------------------------------------------------
// The archive assembler.

/// One entry of the blob area.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) name: Vec<u8>,
    pub(crate) data: Vec<u8>,
    /// Replaces the header's size field (the data written is still `data`).
    pub(crate) size_field: Option<[u8; 12]>,
    /// Indexed as (blob id, uncompressed length); `None`: an extra, unindexed entry.
    pub(crate) index: Option<([u8; 32], u64)>,
}

/// An archive taken apart, to be put back together with hostile changes.
#[derive(Clone)]
pub(crate) struct Parts {
    /// The header entry (tar header, JSON, padding).
    pub(crate) head: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) manifest_frame: Vec<u8>,
    /// The payload whose SHA-256 and length the trailer records.
    pub(crate) payload: Vec<u8>,
}

impl Parts {
    /// Takes a well-formed archive apart (using the reference reader for the index).
    pub(crate) fn of(bytes: &[u8]) -> Parts {
        let r = ArchiveReader::open(Cursor::new(bytes)).expect("base archive opens");
        let t = bytes.len() - 2048 + 512;
        let m_off = u64le(bytes, t + 88) as usize;
        let m_stored = u64le(bytes, t + 96) as usize;
        let manifest_frame = bytes[m_off..m_off + m_stored].to_vec();
        let payload = zstd::decode_all(&manifest_frame[..]).expect("manifest decodes");
        let mut entries: Vec<Entry> = r
            .entries_in_file_order()
            .iter()
            .map(|e| {
                let off = e.offset as usize;
                let name_end = bytes[off - 512..off - 412]
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(100);
                Entry {
                    name: bytes[off - 512..off - 512 + name_end].to_vec(),
                    data: bytes[off..off + e.stored_len as usize].to_vec(),
                    size_field: None,
                    index: Some((e.id.0, e.len)),
                }
            })
            .collect();
        entries.shrink_to_fit();
        Parts {
            head: bytes[..1024].to_vec(),
            entries,
            manifest_frame,
            payload,
        }
    }

    /// Replaces the manifest payload (and its frame).
    pub(crate) fn with_payload(mut self, payload: Vec<u8>) -> Parts {
        self.manifest_frame = zstd_frame(&payload);
        self.payload = payload;
        self
    }

    /// Builds the file: entries, manifest, index, trailer, with every digest computed over what
    /// is written. `index` and `trailer` may change the index bytes and trailer fields first.
    pub(crate) fn assemble(
        &self,
        index: &dyn Fn(&mut Vec<u8>),
        trailer: &dyn Fn(&mut [u8; 256]),
    ) -> Vec<u8> {
        let mut out = self.head.clone();
        let mut recs: Vec<([u8; 32], u64, u64, u64)> = Vec::new();
        for e in &self.entries {
            let size = e.size_field.unwrap_or(octal12(e.data.len() as u64));
            out.extend_from_slice(&tar_header(&e.name, size));
            let off = out.len() as u64;
            out.extend_from_slice(&e.data);
            pad512(&mut out);
            if let Some((id, len)) = e.index {
                recs.push((id, off, e.data.len() as u64, len));
            }
        }
        recs.sort_by_key(|r| r.0);
        out.extend_from_slice(&tar_header(
            b"manifest.zst",
            octal12(self.manifest_frame.len() as u64),
        ));
        let manifest_offset = out.len() as u64;
        out.extend_from_slice(&self.manifest_frame);
        pad512(&mut out);

        let mut idx = b"MBXAINDX".to_vec();
        idx.extend_from_slice(&(recs.len() as u64).to_le_bytes());
        for (id, off, stored, len) in &recs {
            idx.extend_from_slice(id);
            idx.extend_from_slice(&off.to_le_bytes());
            idx.extend_from_slice(&stored.to_le_bytes());
            idx.extend_from_slice(&len.to_le_bytes());
        }
        index(&mut idx);
        out.extend_from_slice(&tar_header(b"index.bin", octal12(idx.len() as u64)));
        let index_offset = out.len() as u64;
        out.extend_from_slice(&idx);
        pad512(&mut out);

        let trailer_offset = out.len() as u64;
        let mut t = [0u8; 256];
        t[0..8].copy_from_slice(b"MBXATRLR");
        t[8..10].copy_from_slice(&1u16.to_le_bytes());
        t[16..48].copy_from_slice(&sha(&self.payload));
        t[48..80].copy_from_slice(&sha(&out));
        let fields = [
            trailer_offset,
            manifest_offset,
            self.manifest_frame.len() as u64,
            self.payload.len() as u64,
            index_offset,
            idx.len() as u64,
        ];
        for (k, v) in fields.iter().enumerate() {
            t[80 + 8 * k..88 + 8 * k].copy_from_slice(&v.to_le_bytes());
        }
        t[128..160].copy_from_slice(&sha(&idx));
        let sums = [
            recs.len() as u64,
            recs.iter().map(|r| r.3).sum(),
            recs.iter().map(|r| r.2).sum(),
        ];
        for (k, v) in sums.iter().enumerate() {
            t[160 + 8 * k..168 + 8 * k].copy_from_slice(&v.to_le_bytes());
        }
        trailer(&mut t);
        let d = sha(&t[..224]);
        t[224..].copy_from_slice(&d);
        out.extend_from_slice(&tar_header(b"trailer.bin", octal12(256)));
        out.extend_from_slice(&t);
        out.resize(out.len() + 256 + 1024, 0);
        out
    }

    pub(crate) fn plain(&self) -> Vec<u8> {
        self.assemble(&|_| {}, &|_| {})
    }
}

/// Sets a trailer u64 field at byte offset `at`.
pub(crate) fn set_u64(t: &mut [u8], at: usize, v: u64) {
    t[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Valid archives built by the reference writer.

pub(crate) fn folder(id: &str, parent: Option<&str>, name: &str) -> Folder {
    Folder {
        id: id.into(),
        parent_id: parent.map(str::to_string),
        display_name: name.into(),
        folder_class: "IPF.Note".into(),
        well_known_name: None,
        item_count: 1,
    }
}

pub(crate) fn item(id: &str, folder_id: &str, blob: &[u8]) -> Item {
    Item {
        id: id.into(),
        folder_id: folder_id.into(),
        change_key: "CQAAABYAAAA".into(),
        created: "2026-11-01T10:00:00Z".into(),
        last_modified: "2026-11-01T10:00:00Z".into(),
        size: blob.len() as u64,
        message_class: "IPM.Note".into(),
        content: ItemContent::Blob {
            id: BlobId::of(blob),
            len: blob.len() as u64,
        },
    }
}

pub(crate) fn manifest(folders: Vec<Folder>, items: Vec<Item>) -> Manifest {
    Manifest {
        source: Source {
            tenant_id: "00000000-0000-4000-8000-000000000001".into(),
            user: "hostile@contoso.example".into(),
            mailbox_id: "MBX:hostile".into(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "mbxa reliability".into(),
            started_at: "2026-11-27T12:00:00Z".into(),
            finished_at: "2026-11-27T12:00:01Z".into(),
            base_archive: None,
            folders_delta_link: None,
            item_delta_links: Vec::new(),
        },
        folders,
        items,
    }
}

/// An archive of `blobs` (each added once) and `m`, by the reference writer, single-threaded.
pub(crate) fn write_archive(blobs: &[&[u8]], m: &Manifest) -> Vec<u8> {
    // Format 1.0 (SHA-256 file digest): what this module's independent assembler reproduces, and
    // a version every reader must keep reading; the hostile set stays byte-stable across 2.0.
    let mut w = ArchiveWriter::with_major(Vec::new(), 1).expect("writer");
    w.set_threads(1).expect("threads");
    for b in blobs {
        w.add_blob(b).expect("add blob");
    }
    w.finish(m).expect("finish").0
}

/// A realistic small message.
pub(crate) fn message(n: u32) -> Vec<u8> {
    MessageBuilder::new("IPM.Note")
        .subject(&format!("Quarterly report {n}"))
        .from("Alice", "alice@contoso.example")
        .to("Bob", "bob@contoso.example")
        .date_unix(1_790_000_000 + i64::from(n))
        .body_text(&format!("Hello Bob, part {n}.\r\n"))
        .attachment("a.txt", "text/plain", b"abc")
        .build()
}

/// Two folders, three items (two messages, one shared blob), every byte of it valid.
pub(crate) fn base_archive() -> Vec<u8> {
    let (a, b) = (message(1), message(2));
    let m = manifest(
        vec![
            folder("F1", None, "Inbox"),
            folder("F2", Some("F1"), "Projects"),
        ],
        vec![
            item("item-1", "F1", &a),
            item("item-2", "F2", &b),
            item("item-3", "F2", &a),
        ],
    );
    write_archive(&[&a, &b], &m)
}

// ---------------------------------------------------------------------------------------------
// Hostile FastTransfer streams.

/// Exchange's FxProxy framing: the 62-byte preamble of a real export, then one TransferBuffer
/// record declaring `declared` bytes and holding `payload`.
fn fxproxy(payload: &[u8], declared: u32) -> Vec<u8> {
    let real = MessageBuilder::new("IPM.Note").build();
    let mut v = real[..62].to_vec();
    v.extend_from_slice(&2u32.to_le_bytes());
    v.extend_from_slice(&declared.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

fn framed(payload: &[u8]) -> Vec<u8> {
    fxproxy(payload, payload.len() as u32)
}

fn tag(v: &mut Vec<u8>, t: u32) {
    v.extend_from_slice(&t.to_le_bytes());
}

fn utf16z(s: &str) -> Vec<u8> {
    let mut b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    b.extend_from_slice(&[0, 0]);
    b
}

/// Message class + subject, the start of every hostile stream.
fn head_props(subject: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for (t, s) in [(0x001A_001Fu32, "IPM.Note"), (0x0037_001F, subject)] {
        tag(&mut v, t);
        let b = utf16z(s);
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(&b);
    }
    v
}

const NEW_ATTACH: u32 = 0x4000_0003;
const START_EMBED: u32 = 0x4001_0003;
const END_EMBED: u32 = 0x4002_0003;
const START_RECIP: u32 = 0x4003_0003;
const END_ATTACH: u32 = 0x400E_0003;

fn nested_embeds(depth: usize, close: bool) -> Vec<u8> {
    let mut v = head_props("nested");
    for n in 0..depth {
        tag(&mut v, NEW_ATTACH);
        tag(&mut v, 0x0E21_0003); // PidTagAttachNumber
        v.extend_from_slice(&(n as u32).to_le_bytes());
        tag(&mut v, 0x3705_0003); // PidTagAttachMethod = embedded message
        v.extend_from_slice(&5u32.to_le_bytes());
        tag(&mut v, START_EMBED);
        v.extend_from_slice(&head_props("in")[..]);
    }
    if close {
        for _ in 0..depth {
            tag(&mut v, END_EMBED);
            tag(&mut v, END_ATTACH);
        }
    }
    v
}

/// (name, description, stream) of every hostile item stream.
pub(crate) fn hostile_streams() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut s = Vec::new();
    let with = |extra: &dyn Fn(&mut Vec<u8>)| {
        let mut v = head_props("hostile");
        extra(&mut v);
        framed(&v)
    };
    s.push((
        "fx-binary-len-4g",
        "binary property declaring 4 GiB - 1, 10 bytes present",
        with(&|v| {
            tag(v, 0x0FFF_0102);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(&[7; 10]);
        }),
    ));
    s.push((
        "fx-binary-len-900m",
        "binary property declaring 900 MiB (under the 1 GiB value limit), 10 bytes present",
        with(&|v| {
            tag(v, 0x0FFF_0102);
            v.extend_from_slice(&(900u32 << 20).to_le_bytes());
            v.extend_from_slice(&[7; 10]);
        }),
    ));
    s.push((
        "fx-string-len-2g",
        "UTF-16 code-page string (0x84B0) declaring 2 GiB",
        with(&|v| {
            tag(v, 0x1000_84B0);
            v.extend_from_slice(&0x7FFF_FFFEu32.to_le_bytes());
            v.extend_from_slice(&utf16z("body"));
        }),
    ));
    s.push((
        "fx-mv-count-4g",
        "multi-valued Int32 declaring 4 Gi elements",
        with(&|v| {
            tag(v, 0x0E99_1003);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(&[1, 0, 0, 0]);
        }),
    ));
    s.push((
        "fx-mv-binary-count-1g",
        "multi-valued Binary declaring 1 Gi elements of 4 GiB each",
        with(&|v| {
            tag(v, 0x0E98_1102);
            v.extend_from_slice(&(1u32 << 30).to_le_bytes());
            for _ in 0..4 {
                v.extend_from_slice(&u32::MAX.to_le_bytes());
            }
        }),
    ));
    s.push((
        "fx-record-len-4g",
        "FxProxy TransferBuffer record declaring 4 GiB - 16, 60 bytes present",
        fxproxy(&head_props("short"), 0xFFFF_FFF0),
    ));
    s.push((
        "fx-named-unterminated",
        "named property whose name (no length prefix) runs unterminated for 64 KiB",
        with(&|v| {
            tag(v, 0x8001_001F);
            v.extend_from_slice(&[0x86, 3, 2, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46]);
            v.push(1);
            for _ in 0..32 * 1024 {
                v.extend_from_slice(&[b'A', 0]);
            }
        }),
    ));
    s.push((
        "fx-embed-10000-closed",
        "10 000 attachments each embedding the next message, all closed",
        framed(&nested_embeds(10_000, true)),
    ));
    s.push((
        "fx-embed-10000-open",
        "10 000 nested embedded messages, never closed",
        framed(&nested_embeds(10_000, false)),
    ));
    s.push((
        "fx-recip-10000-open",
        "10 000 StartRecip markers without EndToRecip",
        with(&|v| {
            for _ in 0..10_000 {
                tag(v, START_RECIP);
            }
        }),
    ));
    s.push((
        "fx-rtf-rawsize-huge",
        "PidTagRtfCompressed whose LZFu header declares 4 GiB raw size",
        with(&|v| {
            let mut rtf = Vec::new();
            rtf.extend_from_slice(&(12u32 + 16).to_le_bytes());
            rtf.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            rtf.extend_from_slice(&0x7546_5A4Cu32.to_le_bytes());
            rtf.extend_from_slice(&0u32.to_le_bytes());
            rtf.extend_from_slice(&[0xFF; 16]);
            tag(v, 0x1009_0102);
            v.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
            v.extend_from_slice(&rtf);
        }),
    ));
    s.push((
        "fx-rtf-mela-250m",
        "uncompressed (MELA) RTF declaring 250 MiB raw, 12 bytes present",
        with(&|v| {
            let mut rtf = Vec::new();
            rtf.extend_from_slice(&(12u32 + 12).to_le_bytes());
            rtf.extend_from_slice(&(250u32 << 20).to_le_bytes());
            rtf.extend_from_slice(&0x414C_454Du32.to_le_bytes());
            rtf.extend_from_slice(&0u32.to_le_bytes());
            rtf.extend_from_slice(b"{\\rtf1 hi}  ");
            tag(v, 0x1009_0102);
            v.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
            v.extend_from_slice(&rtf);
        }),
    ));
    s.push((
        "fx-attach-data-len-4g",
        "attachment data (PidTagAttachDataBinary) declaring 4 GiB - 1",
        with(&|v| {
            tag(v, NEW_ATTACH);
            tag(v, 0x0E21_0003);
            v.extend_from_slice(&0u32.to_le_bytes());
            tag(v, 0x3701_0102);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(b"abc");
        }),
    ));
    s.push((
        "fx-unknown-type",
        "a property of an unknown type (length unknowable)",
        with(&|v| {
            tag(v, 0x0E97_0077);
            v.extend_from_slice(&[0xAA; 64]);
        }),
    ));
    s.push((
        "fx-bare-binary-len-4g",
        "bare stream (no FxProxy framing) starting with a 4 GiB binary property",
        {
            let mut v = Vec::new();
            tag(&mut v, 0x0FFF_0102);
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(&[1; 32]);
            v
        },
    ));
    s.push((
        "fx-garbage",
        "16 KiB of pseudo-random bytes",
        garbage(16 * 1024, 77),
    ));
    s
}

/// xorshift64* bytes: deterministic garbage without a dependency.
pub(crate) fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A byte-valid archive holding each `(item id, stream)` in one folder.
pub(crate) fn archive_with_streams(streams: &[(String, Vec<u8>)]) -> Vec<u8> {
    let m = manifest(
        vec![folder("F1", None, "Inbox")],
        streams.iter().map(|(id, s)| item(id, "F1", s)).collect(),
    );
    let blobs: Vec<&[u8]> = streams.iter().map(|(_, s)| s.as_slice()).collect();
    write_archive(&blobs, &m)
}

/// A byte-valid archive holding one good item and `stream` as item `item-hostile`.
pub(crate) fn archive_with_stream(stream: &[u8]) -> Vec<u8> {
    let good = message(9);
    let m = manifest(
        vec![folder("F1", None, "Inbox")],
        vec![
            item("item-ok", "F1", &good),
            item("item-hostile", "F1", stream),
        ],
    );
    write_archive(&[&good, stream], &m)
}

// ---------------------------------------------------------------------------------------------
// The fixture set.

/// Every crafted hostile file, in a fixed order. Deterministic.
pub(crate) fn fixtures() -> Vec<Fixture> {
    use Expect::*;
    let base = base_archive();
    let parts = Parts::of(&base);
    assert_eq!(
        parts.plain(),
        base,
        "assembler reproduces the writer's bytes"
    );
    let m0 = ArchiveReader::open(Cursor::new(&base[..]))
        .expect("base opens")
        .manifest()
        .clone();
    assert_eq!(
        enc_manifest(&m0),
        parts.payload,
        "postcard encoder matches the writer"
    );
    let src = enc_source(&m0.source);
    let cap = enc_capture(&m0.capture);
    let folders: Vec<Vec<u8>> = m0.folders.iter().map(enc_folder).collect();
    let items: Vec<Vec<u8>> = m0.items.iter().map(enc_item).collect();

    let mut v: Vec<Fixture> = Vec::new();
    let mut add = |name: &'static str, what: &'static str, expect: Expect, bytes: Vec<u8>| {
        v.push(Fixture {
            name,
            what,
            bytes,
            expect,
            item: "item-1",
        });
    };
    add(
        "base",
        "the valid archive the others are made from",
        Valid,
        base.clone(),
    );

    // --- tar headers
    let mut p = parts.clone();
    p.entries[0].size_field = Some(base256(1 << 40));
    add(
        "tar-size-2pow40",
        "first blob's tar size field = 2^40 (GNU base-256), digests consistent",
        VerifyFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.entries[0].size_field = Some(*b"77777777777\0");
    add(
        "tar-size-octal-max",
        "first blob's tar size field = 8 GiB - 1 (11 octal digits)",
        VerifyFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.head = tar_header(b"mbxa.json", base256(1 << 40)).to_vec();
    p.head.extend_from_slice(&base[512..1024]);
    add(
        "header-size-2pow40",
        "mbxa.json entry's size field = 2^40",
        OpenFails,
        p.plain(),
    );
    let mut p = parts.clone();
    let nested = format!(
        "{{\"format\":\"mbxa\",\"major\":1,\"minor\":0,\"x\":{}{}}}",
        "[".repeat(1900),
        "]".repeat(1900)
    );
    p.head = tar_header(b"mbxa.json", octal12(nested.len() as u64)).to_vec();
    p.head.extend_from_slice(nested.as_bytes());
    pad512(&mut p.head);
    add("header-json-nested-1900", "header JSON with an unknown key nesting arrays 1900 deep (4 KiB; readers ignore unknown keys)", Valid, p.plain());
    let mut p = parts.clone();
    let big = "{\"format\":\"mbxa\",\"major\":18446744073709551617,\"minor\":-1}\n";
    p.head = tar_header(b"mbxa.json", octal12(big.len() as u64)).to_vec();
    p.head.extend_from_slice(big.as_bytes());
    pad512(&mut p.head);
    add(
        "header-json-major-overflow",
        "header JSON with major = 2^64 + 1 and minor = -1",
        OpenFails,
        p.plain(),
    );
    for (name, what, ename) in [
        ("tar-entry-dotdot", "extra entry named ../x in the blob area", &b"../x"[..]),
        ("tar-entry-etc-passwd", "extra entry named /etc/passwd", &b"/etc/passwd"[..]),
        (
            "tar-entry-deep-name",
            "extra entry named a/a/a/... (49 levels, 99 bytes)",
            &b"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/x"[..],
        ),
        ("tar-entry-no-nul", "extra entry whose 100-byte name has no NUL", &[b'n'; 100][..]),
    ] {
        let mut p = parts.clone();
        p.entries.insert(
            1,
            Entry {
                name: ename.to_vec(),
                data: b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
                size_field: None,
                index: None,
            },
        );
        add(name, what, VerifyFails, p.plain());
    }
    let mut p = parts.clone();
    p.entries[0].name = b"../../../../tmp/mbxa-hostile-escape".to_vec();
    add(
        "tar-blob-renamed-traversal",
        "an indexed blob entry renamed ../../../../tmp/...",
        VerifyFails,
        p.plain(),
    );

    // --- zstd frames
    let mut p = parts.clone();
    let (_, len0) = p.entries[0].index.expect("indexed");
    p.entries[0].data = rle_frame(len0, 4096, 128 * 1024, 0);
    add(
        "blob-zstd-bomb-512m",
        "blob frame declaring its true length but holding 512 MiB of RLE blocks (32768:1)",
        VerifyFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.entries[0].data = rle_frame(100_000_000_000, 1, 1, 0);
    add(
        "blob-zstd-fcs-100g",
        "blob frame declaring a 100 GB content size",
        VerifyFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.entries[0].index = Some((p.entries[0].index.expect("indexed").0, 100_000_000_000));
    p.entries[0].data = rle_frame(100_000_000_000, 1, 1, 0);
    let mut items2 = items.clone();
    let mut it0 = m0.items[0].clone();
    if let ItemContent::Blob { len, .. } = &mut it0.content {
        *len = 100_000_000_000;
    }
    items2[0] = enc_item(&it0);
    let mut it2 = m0.items[2].clone();
    it2.content = it0.content.clone();
    items2[2] = enc_item(&it2);
    let p = p.with_payload(enc_payload(&src, &cap, &folders, &items2));
    add(
        "blob-len-100g",
        "index, manifest and frame all say a blob is 100 GB",
        OpenFails,
        p.plain(),
    );
    let zeros = vec![0u8; 64 << 20];
    let m = manifest(
        vec![folder("F1", None, "Inbox")],
        vec![item("item-1", "F1", &zeros)],
    );
    add(
        "blob-zeros-64m-ratio",
        "valid archive: one 64 MiB blob of zeros stored in ~2 KiB (zip-bomb ratio, within limits)",
        DeepFails,
        write_archive(&[&zeros], &m),
    );
    let mut p = parts.clone();
    p.manifest_frame = rle_frame(p.payload.len() as u64, 4096, 128 * 1024, 0);
    add(
        "manifest-zstd-bomb-512m",
        "manifest frame declaring the payload length but expanding to 512 MiB",
        OpenFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.manifest_frame = rle_frame(100_000_000_000, 1, 1, 0);
    add(
        "manifest-fcs-100g",
        "manifest frame declaring 100 GB, trailer says the real length",
        OpenFails,
        p.plain(),
    );
    let mut p = parts.clone();
    p.manifest_frame = rle_frame(900 << 20, 1, 16, 0);
    let t_900 = |t: &mut [u8; 256]| set_u64(t, 104, 900 << 20);
    add("manifest-len-900m", "trailer and frame both declare a 900 MiB manifest (under the 1 GiB limit); 16 bytes present", OpenFails, p.assemble(&|_| {}, &t_900));
    add(
        "manifest-len-2pow50",
        "trailer declares a 2^50-byte manifest",
        OpenFails,
        parts.assemble(&|_| {}, &|t| set_u64(t, 104, 1 << 50)),
    );

    // --- manifest payloads (postcard)
    let p = parts.clone().with_payload({
        let mut o = vec![1, 0];
        pbytes(&mut o, &src);
        pbytes(&mut o, &cap);
        varint(&mut o, 0);
        varint(&mut o, 1 << 40);
        o
    });
    add(
        "manifest-items-count-2pow40",
        "manifest item list declaring 2^40 items, none present",
        OpenFails,
        p.plain(),
    );
    let p = parts.clone().with_payload({
        let mut o = vec![1, 0];
        pbytes(&mut o, &src);
        pbytes(&mut o, &cap);
        varint(&mut o, 1);
        varint(&mut o, 1 << 62);
        o.extend_from_slice(b"short");
        o
    });
    add(
        "manifest-record-len-2pow62",
        "a folder record declaring 2^62 bytes",
        OpenFails,
        p.plain(),
    );
    let p = parts.clone().with_payload({
        let mut rec = Vec::new();
        varint(&mut rec, 1 << 60);
        rec.extend_from_slice(b"item-1");
        let mut o = vec![1, 0];
        pbytes(&mut o, &src);
        pbytes(&mut o, &cap);
        varint(&mut o, 0);
        varint(&mut o, 1);
        pbytes(&mut o, &rec);
        o
    });
    add(
        "manifest-string-len-2pow60",
        "an item id string declaring 2^60 bytes inside a 14-byte record",
        OpenFails,
        p.plain(),
    );
    let p = parts.clone().with_payload({
        let mut o = vec![0xFF; 10];
        o.push(0x7F);
        o.extend_from_slice(&parts.payload[2..]);
        o
    });
    add(
        "manifest-varint-overlong",
        "schema_major as an 11-byte varint",
        OpenFails,
        p.plain(),
    );
    let mut it = m0.items[0].clone();
    if let ItemContent::Blob { len, .. } = &mut it.content {
        *len = u64::MAX;
    }
    let mut items3 = items.clone();
    items3[0] = enc_item(&it);
    let p = parts
        .clone()
        .with_payload(enc_payload(&src, &cap, &folders, &items3));
    add(
        "manifest-item-blob-len-max",
        "an item claiming its blob is 2^64 - 1 bytes",
        OpenFails,
        p.plain(),
    );
    let mut items4 = items.clone();
    let mut bad = enc_item(&m0.items[0]);
    let mut len_varint = Vec::new();
    if let ItemContent::Blob { len, .. } = &m0.items[0].content {
        varint(&mut len_varint, *len);
    }
    let at = bad.len() - len_varint.len() - 32 - 1;
    assert_eq!(bad[at], 0, "content variant byte");
    bad[at] = 7;
    items4[0] = bad;
    let p = parts
        .clone()
        .with_payload(enc_payload(&src, &cap, &folders, &items4));
    add(
        "manifest-enum-variant-7",
        "item content enum variant 7",
        OpenFails,
        p.plain(),
    );
    let mut payload = parts.payload.clone();
    payload.extend_from_slice(&[0xAB; 100]);
    let p = parts.clone().with_payload(payload);
    add(
        "manifest-trailing-bytes",
        "100 bytes after the item list",
        OpenFails,
        p.plain(),
    );

    // --- index
    add(
        "index-count-2pow61",
        "index count = 2^61 (records for 2 present)",
        OpenFails,
        parts.assemble(
            &|i| i[8..16].copy_from_slice(&(1u64 << 61).to_le_bytes()),
            &|_| {},
        ),
    );
    add(
        "index-record-len-2pow62",
        "an index record with len = 2^62",
        OpenFails,
        parts.assemble(&|i| set_u64(i, 16 + 48, 1 << 62), &|_| {}),
    );
    add(
        "index-record-stored-len-2pow62",
        "an index record with stored_len = 2^62",
        OpenFails,
        parts.assemble(&|i| set_u64(i, 16 + 40, 1 << 62), &|_| {}),
    );
    add(
        "index-record-offset-max",
        "an index record with offset = 2^64 - 512 (overflow)",
        OpenFails,
        parts.assemble(&|i| set_u64(i, 16 + 32, u64::MAX - 511), &|_| {}),
    );
    add(
        "index-unsorted",
        "index records out of order",
        OpenFails,
        parts.assemble(
            &|i| {
                let (a, b) = (i[16..72].to_vec(), i[72..128].to_vec());
                i[16..72].copy_from_slice(&b);
                i[72..128].copy_from_slice(&a);
            },
            &|_| {},
        ),
    );

    // --- trailer
    add(
        "trailer-index-len-max",
        "trailer index_len = 2^64 - 1",
        OpenFails,
        parts.assemble(&|_| {}, &|t| set_u64(t, 120, u64::MAX)),
    );
    add(
        "trailer-manifest-offset-max",
        "trailer manifest_offset = 2^64 - 1000 (overflow)",
        OpenFails,
        parts.assemble(&|_| {}, &|t| set_u64(t, 88, u64::MAX - 1000)),
    );
    add(
        "trailer-blob-bytes-max",
        "trailer blob_bytes = 2^64 - 1, blob_count = 2^63",
        OpenFails,
        parts.assemble(&|_| {}, &|t| {
            set_u64(t, 160, 1 << 63);
            set_u64(t, 168, u64::MAX);
        }),
    );
    add(
        "trailer-offset-zero",
        "trailer_offset = 0",
        OpenFails,
        parts.assemble(&|_| {}, &|t| set_u64(t, 80, 0)),
    );

    // --- not archives at all, or only partly
    add("garbage-empty", "an empty file", OpenFails, Vec::new());
    add("garbage-1-byte", "one byte", OpenFails, vec![0x28]);
    add(
        "garbage-random-4k",
        "4 KiB of pseudo-random bytes",
        OpenFails,
        garbage(4096, 11),
    );
    let mut g = base[..1024].to_vec();
    g.extend_from_slice(&garbage(6144, 12));
    add(
        "garbage-after-valid-header",
        "a valid header entry followed by 6 KiB of garbage",
        OpenFails,
        g,
    );
    let mut g = garbage(5120, 13);
    g.extend_from_slice(&base[base.len() - 2048..]);
    add(
        "garbage-before-valid-tail",
        "5 KiB of garbage followed by a valid trailer and end blocks",
        OpenFails,
        g,
    );

    // --- names and structure (byte-valid archives)
    let msg = |subject: &str| {
        MessageBuilder::new("IPM.Note")
            .subject(subject)
            .from("Mallory", "m@evil.example")
            .date_unix(1_790_000_000)
            .body_text("x")
            .attachment(
                "../../../../tmp/mbxa-hostile-escape/att",
                "text/plain",
                b"x",
            )
            .build()
    };
    let evil = [
        ("..", "../../../../tmp/mbxa-hostile-escape/x"),
        (
            "../../../../tmp/mbxa-hostile-escape",
            "/tmp/mbxa-hostile-escape/y",
        ),
        ("/tmp/mbxa-hostile-escape", ".."),
        ("/etc/passwd", "/etc/passwd"),
        ("a/../../b", "C:\\Windows\\x"),
        (".", "CON"),
        ("\u{0}\n\r", "a\u{0}b"),
    ];
    let streams: Vec<Vec<u8>> = evil.iter().map(|(_, s)| msg(s)).collect();
    let mut fs = Vec::new();
    let mut is = Vec::new();
    for (k, ((fname, _), st)) in evil.iter().zip(&streams).enumerate() {
        let id: &str = ["../x", "/etc/passwd", "..", "a/../../b", ".", "c", "d"][k];
        fs.push(folder(id, if k == 4 { Some("..") } else { None }, fname));
        is.push(item(&format!("../../item-{k}"), id, st));
    }
    let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
    let m = manifest(fs, is);
    v.push(Fixture {
        name: "names-traversal",
        what: "folder names, ids, item ids, subjects and attachment names like ../x, /etc/passwd, C:\\, NUL",
        bytes: write_archive(&refs, &m),
        expect: Valid,
        item: "../../item-0",
    });
    let leaf = message(3);
    let mut fs: Vec<Folder> = (0..10_000)
        .map(|k| {
            let parent = (k > 0).then(|| format!("D{}", k - 1));
            folder(&format!("D{k}"), parent.as_deref(), "d")
        })
        .collect();
    fs.reverse();
    let m = manifest(fs, vec![item("item-deep", "D9999", &leaf)]);
    v.push(Fixture {
        name: "folders-deep-10000",
        what: "a folder chain 10 000 deep with the item at the bottom",
        bytes: write_archive(&[&leaf], &m),
        expect: Valid,
        item: "item-deep",
    });
    let m = manifest(
        vec![
            folder("A", Some("B"), "a"),
            folder("B", Some("A"), "b"),
            folder("C", Some("C"), "c"),
        ],
        vec![
            item("item-cycle", "A", &leaf),
            item("item-self", "C", &leaf),
            item("item-orphan", "Z", &leaf),
        ],
    );
    v.push(Fixture {
        name: "folders-cycle",
        what: "folders that are each other's parent, a self-parent, an item in an unknown folder",
        bytes: write_archive(&[&leaf], &m),
        expect: Valid,
        item: "item-cycle",
    });

    let nameless = MessageBuilder::new("IPM.Note").body_text("same").build();
    let m = manifest(
        vec![folder("F1", None, "Inbox")],
        (0..1000)
            .map(|k| item(&format!("same-{k}"), "F1", &nameless))
            .collect(),
    );
    v.push(Fixture {
        name: "items-same-name-1000",
        what:
            "1 000 items without subject or date in one folder (all extract to the same file name)",
        bytes: write_archive(&[&nameless], &m),
        expect: Valid,
        item: "same-0",
    });

    // --- hostile item streams in byte-valid archives
    for (name, what, stream) in hostile_streams() {
        // A damaged RTF body is an opaque property value to the stream parser: it must not
        // cost memory, but the item parses.
        let expect = if name.starts_with("fx-rtf-") {
            Valid
        } else {
            DeepFails
        };
        v.push(Fixture {
            name,
            what,
            bytes: archive_with_stream(&stream),
            expect,
            item: "item-hostile",
        });
    }
    v
}
