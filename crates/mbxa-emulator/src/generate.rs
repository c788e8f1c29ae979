//! Deterministic mailbox generator (folder trees, items built with the FastTransfer encoder)
//! and `evolve`, the time machine that changes a mailbox between captures.

use std::collections::BTreeMap;

use bytes::Bytes;
use mbxa_fasttransfer::{MessageBuilder, PropValue};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{guid, EmulatorConfig, SizeMix};
use crate::error::{Error, Result};
use crate::model::{Folder, Item, Mailbox, MailboxKind, State, Tenant, Tomb, User};

/// Tag of the opaque 8-byte value planted in generated items (PidTagChangeNumber, PtypI64)
/// so the unstable-exports fault can vary bytes without touching the message content.
const VOLATILE_TAG: u32 = 0x67A4_0014;
const VOLATILE_MAGIC: i64 = 0x4D42_5841_564F_4C41; // "MBXAVOLA"

/// Offset of the planted volatile value, if the stream holds it contiguously.
pub(crate) fn find_volatile(data: &[u8]) -> Option<usize> {
    let mut pat = Vec::with_capacity(12);
    pat.extend_from_slice(&[0x14, 0x00, 0xA4, 0x67]);
    pat.extend_from_slice(&VOLATILE_MAGIC.to_le_bytes());
    data.windows(pat.len())
        .position(|w| w == pat.as_slice())
        .map(|p| p + 4)
}

const PEOPLE: &[(&str, &str)] = &[
    ("Zoë Álvarez", "zoe.alvarez"),
    ("Jürgen Müller", "juergen.mueller"),
    ("李雷", "li.lei"),
    ("Олег Петров", "oleg.petrov"),
    ("Amélie Dubois", "amelie.dubois"),
    ("محمد علي", "mohammed.ali"),
    ("Siobhán O'Brien", "siobhan.obrien"),
    ("Ngọc Trần", "ngoc.tran"),
    ("Priya Natarajan", "priya.n"),
    ("Björk Guðmundsdóttir", "bjork.g"),
    ("Kenji Watanabe", "kenji.w"),
    ("Ana Lúcia Souza", "ana.souza"),
];

const SUBJECTS: &[&str] = &[
    "Quarterly report",
    "Lunch on Friday?",
    "Invoice #{n}",
    "Re-org: new team structure",
    "Grüße aus München",
    "会議の議事録",
    "Встреча в понедельник",
    "Projet « Alpha » — état d'avancement",
    "🚀 Launch checklist",
    "Your order {n} has shipped",
    "Contract draft v{n}",
    "Holiday schedule 🎄",
    "تقرير المبيعات",
    "Security review findings",
    "Photos from the offsite 📷",
];

const WORDS: &[&str] = &[
    "the",
    "project",
    "deadline",
    "budget",
    "meeting",
    "review",
    "customer",
    "release",
    "please",
    "attached",
    "thanks",
    "schedule",
    "update",
    "draft",
    "team",
    "quarter",
    "numbers",
    "agenda",
    "Grüße",
    "café",
    "naïve",
    "日本",
    "данные",
    "résumé",
    "señor",
    "ok",
    "next",
    "week",
];

/// Folders every primary mailbox has: (display name, well-known name, class).
const WELL_KNOWN: &[(&str, &str, &str)] = &[
    ("Inbox", "inbox", "IPF.Note"),
    ("Sent Items", "sentitems", "IPF.Note"),
    ("Drafts", "drafts", "IPF.Note"),
    ("Deleted Items", "deleteditems", "IPF.Note"),
    ("Archive", "archive", "IPF.Note"),
    ("Junk Email", "junkemail", "IPF.Note"),
    ("Outbox", "outbox", "IPF.Note"),
    ("Conversation History", "conversationhistory", "IPF.Note"),
    ("Calendar", "calendar", "IPF.Appointment"),
    ("Contacts", "contacts", "IPF.Contact"),
    ("Tasks", "tasks", "IPF.Task"),
];

/// What `evolve` changed, for tests to check incremental captures against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvolveReport {
    /// New items (ids).
    pub added: Vec<String>,
    /// Deleted items (ids).
    pub deleted: Vec<String>,
    /// Moved items: (id, from folder id, to folder id); ids do not change on a move here.
    pub moved: Vec<(String, String, String)>,
    /// Edited items (same id, new change key and bytes, same search key).
    pub edited: Vec<String>,
    /// New folders (ids).
    pub new_folders: Vec<String>,
}

/// Builds the initial state from the configuration.
pub(crate) fn build_state(cfg: &EmulatorConfig) -> Result<State> {
    let mut st = State {
        seed: cfg.seed,
        ..State::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    for (ti, t) in cfg.tenants.iter().enumerate() {
        let mut certs = Vec::new();
        for (i, pem) in t.certificates.iter().enumerate() {
            certs.push(
                crate::auth::cert_key(pem).map_err(|reason| Error::Certificate {
                    tenant_id: t.tenant_id.clone(),
                    index: i,
                    reason,
                })?,
            );
        }
        let mut users = Vec::new();
        for u in &t.users {
            let primary = st.mailboxes.len();
            let m = new_mailbox(
                &mut st,
                &mut rng,
                ti,
                &t.tenant_id,
                &u.upn,
                MailboxKind::Primary,
            );
            st.mailboxes.push(m);
            fill(&mut st, primary, &mut rng, u.items, cfg.size_mix, &u.upn);
            let archive = if u.with_archive {
                let a = st.mailboxes.len();
                let m = new_mailbox(
                    &mut st,
                    &mut rng,
                    ti,
                    &t.tenant_id,
                    &u.upn,
                    MailboxKind::Archive,
                );
                st.mailboxes.push(m);
                fill(&mut st, a, &mut rng, u.items / 3, cfg.size_mix, &u.upn);
                Some(a)
            } else {
                None
            };
            users.push(User {
                upn: u.upn.clone(),
                primary,
                archive,
            });
        }
        st.tenants.push(Tenant {
            tenant_id: t.tenant_id.clone(),
            domain: t.domain.clone(),
            client_id: t.client_id.clone(),
            client_secret: t.client_secret.clone(),
            certs,
            users,
        });
    }
    st.rebuild_index();
    Ok(st)
}

fn add_folder(
    st: &mut State,
    m: &mut Mailbox,
    parent: Option<&str>,
    name: &str,
    well_known: Option<&str>,
    class: &str,
    physical: usize,
) -> String {
    let id = st.new_folder_id();
    let seq = m.bump();
    m.folders.insert(
        id.clone(),
        Folder {
            id: id.clone(),
            parent_id: parent.map(str::to_string),
            display_name: name.to_string(),
            folder_type: class.to_string(),
            well_known: well_known.map(str::to_string),
            physical,
            seq,
            hidden: false,
        },
    );
    id
}

fn new_mailbox(
    st: &mut State,
    rng: &mut ChaCha8Rng,
    tenant: usize,
    tenant_id: &str,
    upn: &str,
    kind: MailboxKind,
) -> Mailbox {
    // Mailbox ids depend only on the seed, tenant, user and kind (not on how many items were
    // generated before), so `--items` does not change them.
    let mut h = Sha256::new();
    h.update(st.seed.to_le_bytes());
    h.update(tenant_id.as_bytes());
    h.update(upn.to_ascii_lowercase().as_bytes());
    h.update([kind as u8]);
    let mut id_rng = ChaCha8Rng::from_seed(h.finalize().into());
    let mut ids = vec![format!("MBX:{}@{tenant_id}", guid(&mut id_rng))];
    if kind == MailboxKind::Archive {
        // The auxiliary shard an auto-expanding archive moves old folders into.
        ids.push(format!("MBX:{}@{tenant_id}", guid(&mut id_rng)));
    }
    let mut m = Mailbox {
        ids,
        kind,
        tenant,
        upn: upn.to_string(),
        root_id: String::new(),
        ipm_root_id: String::new(),
        folders: BTreeMap::new(),
        items: BTreeMap::new(),
        folder_tombs: Vec::new(),
        item_tombs: Vec::new(),
        seq: 0,
        epoch: 0,
        exports: 0,
    };
    let root = add_folder(st, &mut m, None, "Root", Some("root"), "", 0);
    let ipm = add_folder(
        st,
        &mut m,
        Some(&root),
        "Top of Information Store",
        Some("msgfolderroot"),
        "IPF.Note",
        0,
    );
    m.root_id = root.clone();
    m.ipm_root_id = ipm.clone();
    let rec = add_folder(
        st,
        &mut m,
        Some(&root),
        "Recoverable Items",
        Some("recoverableitemsroot"),
        "",
        0,
    );
    add_folder(
        st,
        &mut m,
        Some(&rec),
        "Deletions",
        Some("recoverableitemsdeletions"),
        "",
        0,
    );
    if let Some(f) = m.folders.get_mut(&rec) {
        f.hidden = true;
    }
    match kind {
        MailboxKind::Primary => {
            let mut by_wk = BTreeMap::new();
            for (name, wk, class) in WELL_KNOWN {
                let id = add_folder(st, &mut m, Some(&ipm), name, Some(wk), class, 0);
                by_wk.insert(*wk, id);
            }
            let inbox = by_wk["inbox"].clone();
            let projects = add_folder(st, &mut m, Some(&inbox), "Projects", None, "IPF.Note", 0);
            add_folder(st, &mut m, Some(&projects), "Ærø 2024", None, "IPF.Note", 0);
            add_folder(
                st,
                &mut m,
                Some(&projects),
                "Client: Müller & Söhne",
                None,
                "IPF.Note",
                0,
            );
            add_folder(st, &mut m, Some(&inbox), "Receipts", None, "IPF.Note", 0);
            if rng.gen_bool(0.7) {
                add_folder(
                    st,
                    &mut m,
                    Some(&inbox),
                    "日本語フォルダ",
                    None,
                    "IPF.Note",
                    0,
                );
            }
            let clients = add_folder(st, &mut m, Some(&ipm), "Clients", None, "IPF.Note", 0);
            add_folder(
                st,
                &mut m,
                Some(&clients),
                "Société Générale",
                None,
                "IPF.Note",
                0,
            );
            add_folder(
                st,
                &mut m,
                Some(&clients),
                "Ωmega Corp 🚀",
                None,
                "IPF.Note",
                0,
            );
            add_folder(
                st,
                &mut m,
                Some(&by_wk["calendar"]),
                "Team calendar",
                None,
                "IPF.Appointment",
                0,
            );
            add_folder(
                st,
                &mut m,
                Some(&by_wk["contacts"]),
                "Family 👪",
                None,
                "IPF.Contact",
                0,
            );
        }
        MailboxKind::Archive => {
            for (name, wk) in [
                ("Inbox", "inbox"),
                ("Sent Items", "sentitems"),
                ("Deleted Items", "deleteditems"),
            ] {
                add_folder(st, &mut m, Some(&ipm), name, Some(wk), "IPF.Note", 0);
            }
            // Older years live in the auxiliary shard (physical 1).
            for (year, physical) in [("2019", 1), ("2020", 1), ("2021", 0)] {
                let y = add_folder(
                    st,
                    &mut m,
                    Some(&ipm),
                    &format!("Archive {year}"),
                    None,
                    "IPF.Note",
                    physical,
                );
                add_folder(st, &mut m, Some(&y), "Q1", None, "IPF.Note", physical);
                add_folder(
                    st,
                    &mut m,
                    Some(&y),
                    "Q2 — Überträge",
                    None,
                    "IPF.Note",
                    physical,
                );
            }
        }
    }
    m
}

/// Folders that receive generated items, with weights.
fn item_folders(m: &Mailbox) -> Vec<(String, u32)> {
    m.folders
        .values()
        .filter(|f| f.id != m.ipm_root_id && m.in_ipm(&f.id))
        .map(|f| {
            let w = match f.well_known.as_deref() {
                Some("inbox") => 30,
                Some("sentitems") => 12,
                Some("outbox") | Some("junkemail") | Some("conversationhistory") => 1,
                Some("calendar") | Some("contacts") => 6,
                Some(_) => 3,
                None => 5,
            };
            (f.id.clone(), w)
        })
        .collect()
}

fn pick_weighted(rng: &mut ChaCha8Rng, fs: &[(String, u32)]) -> String {
    let total: u32 = fs.iter().map(|f| f.1).sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (id, w) in fs {
        if x < *w {
            return id.clone();
        }
        x -= w;
    }
    fs.first().map(|f| f.0.clone()).unwrap_or_default()
}

/// Thread state while filling a mailbox: earlier messages one can reply to.
#[derive(Default)]
struct Threads {
    pool: Vec<(String, String)>, // (message id, subject)
}

fn fill(st: &mut State, mi: usize, rng: &mut ChaCha8Rng, n: usize, mix: SizeMix, upn: &str) {
    let folders = item_folders(&st.mailboxes[mi]);
    if folders.is_empty() {
        return;
    }
    let mut threads = Threads::default();
    // Dates spread over 2019-01-01 .. 2026-06-01, in increasing order (a mailbox grows).
    let start = 1_546_300_800i64;
    let end = 1_780_272_000i64;
    let mut dates: Vec<i64> = (0..n).map(|_| rng.gen_range(start..end)).collect();
    dates.sort_unstable();
    for date in dates {
        let fid = pick_weighted(rng, &folders);
        let class = st.mailboxes[mi]
            .folders
            .get(&fid)
            .map(|f| f.folder_type.clone())
            .unwrap_or_default();
        let (data, subject, mclass, key) = make_item(
            st.seed,
            st.next_id,
            rng,
            &class,
            date,
            mix,
            upn,
            &mut threads,
        );
        insert_item(st, mi, &fid, data, subject, mclass, key, date * 1000);
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_item(
    st: &mut State,
    mi: usize,
    fid: &str,
    data: Vec<u8>,
    subject: String,
    class: String,
    key: [u8; 16],
    date_ms: i64,
) -> String {
    let id = st.new_item_id();
    let ck = st.new_change_key();
    let m = &mut st.mailboxes[mi];
    let seq = m.bump();
    let volatile = find_volatile(&data);
    let len = data.len() as u64;
    m.items.insert(
        id.clone(),
        Item {
            id: id.clone(),
            folder_id: fid.to_string(),
            change_key: ck,
            created_ms: date_ms + 1000,
            modified_ms: date_ms + 3000,
            received_ms: date_ms,
            size: len * 7 / 8,
            message_class: class,
            data: Bytes::from(data),
            search_key: Some(key.to_vec()),
            subject: Some(subject),
            seq,
            volatile,
            protected: false,
        },
    );
    id
}

fn words(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    let mut n = 0;
    while s.len() < bytes {
        if n > 0 {
            s.push(if n % 14 == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        n += 1;
    }
    s
}

fn random_bytes(rng: &mut ChaCha8Rng, len: usize, magic: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; len.max(magic.len())];
    rng.fill_bytes(&mut v);
    v[..magic.len()].copy_from_slice(magic);
    v
}

/// One generated item: (bytes, subject, message class, search key).
#[allow(clippy::too_many_arguments)]
fn make_item(
    seed: u64,
    counter: u64,
    rng: &mut ChaCha8Rng,
    folder_class: &str,
    date: i64,
    mix: SizeMix,
    upn: &str,
    threads: &mut Threads,
) -> (Vec<u8>, String, String, [u8; 16]) {
    let mut h = Sha256::new();
    h.update(b"search-key");
    h.update(seed.to_le_bytes());
    h.update(counter.to_le_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    let domain = upn.split('@').nth(1).unwrap_or("example.com");
    let (pname, plocal) = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let (qname, qlocal) = PEOPLE[rng.gen_range(0..PEOPLE.len())];
    let n = rng.gen_range(100..99_999);
    let base_subject = SUBJECTS[rng.gen_range(0..SUBJECTS.len())].replace("{n}", &n.to_string());
    let msgid = format!("<{}@{domain}>", hex16(&digest[16..24]));
    let class = match folder_class {
        "IPF.Appointment" => "IPM.Appointment",
        "IPF.Contact" => "IPM.Contact",
        "IPF.Task" => "IPM.Task",
        _ => "IPM.Note",
    };
    let mut subject = base_subject.clone();
    let mut b = MessageBuilder::new(class);
    if class == "IPM.Note" {
        if !threads.pool.is_empty() && rng.gen_bool(0.3) {
            let (orig_id, orig_subj) = threads.pool[rng.gen_range(0..threads.pool.len())].clone();
            subject = format!("RE: {}", orig_subj.trim_start_matches("RE: "));
            b = b.in_reply_to(&orig_id);
        }
        threads.pool.push((msgid.clone(), subject.clone()));
        if threads.pool.len() > 64 {
            threads.pool.remove(0);
        }
        b = b
            .from(pname, &format!("{plocal}@{domain}"))
            .to(upn, upn)
            .internet_message_id(&msgid);
        if rng.gen_bool(0.3) {
            b = b.cc(qname, &format!("{qlocal}@partner.example"));
        }
    } else if class == "IPM.Contact" {
        subject = pname.to_string();
    }
    let body_len = rng.gen_range(300..6000);
    let body = words(rng, body_len);
    b = b.subject(&subject).date_unix(date).body_text(&body);
    let roll: f64 = rng.gen();
    if class == "IPM.Note" {
        if roll < 0.06 {
            let len = rng.gen_range(2_000..40_000);
            let img = random_bytes(rng, len, b"\x89PNG\r\n\x1a\n");
            let cid = format!("img{}@mbxa", hex16(&digest[24..32]));
            b = b
                .body_html(&format!(
                    "<html><body><p>{}</p><img src=\"cid:{cid}\"></body></html>",
                    body.replace('<', "&lt;")
                ))
                .inline_image("image001.png", "image/png", &cid, &img);
        } else if roll < 0.09 {
            let inner = MessageBuilder::new("IPM.Note")
                .subject(&format!("FW: {base_subject}"))
                .from(qname, &format!("{qlocal}@{domain}"))
                .to(upn, upn)
                .date_unix(date - 86_400)
                .body_text(&words(rng, 800));
            b = b.embedded_message("forwarded.msg", inner);
        } else if roll < 0.30 {
            let len = if rng.gen_bool(0.05) {
                rng.gen_range(300_000..1_000_000)
            } else {
                rng.gen_range(5_000..150_000)
            };
            let data = random_bytes(rng, len, b"%PDF-1.7\n");
            b = b.attachment(&format!("Report {n} – ü.pdf"), "application/pdf", &data);
        } else if mix == SizeMix::Big && roll < 0.32 {
            let len = rng.gen_range(5_000_000..30_000_000);
            let data = random_bytes(rng, len, b"PK\x03\x04");
            b = b.attachment("big-archive.zip", "application/zip", &data);
        }
    }
    b = b
        .search_key(&key)
        .property(VOLATILE_TAG, PropValue::I64(VOLATILE_MAGIC));
    (b.build(), subject, class.to_string(), key)
}

fn hex16(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Applies `changes` random changes to mailbox `mi` (new mail, deletions, moves, edits, new
/// folders), deterministic for a given `seed` and mailbox state.
pub(crate) fn evolve(
    st: &mut State,
    mi: usize,
    seed: u64,
    changes: usize,
    now_ms: i64,
) -> EvolveReport {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00e7_017e);
    let mut rep = EvolveReport::default();
    let upn = st.mailboxes[mi].upn.clone();
    let mut threads = Threads::default();
    for c in 0..changes {
        let folders = item_folders(&st.mailboxes[mi]);
        let mail_folders: Vec<(String, u32)> = folders
            .iter()
            .filter(|(id, _)| {
                st.mailboxes[mi]
                    .folders
                    .get(id)
                    .is_some_and(|f| f.folder_type == "IPF.Note")
            })
            .cloned()
            .collect();
        if mail_folders.is_empty() {
            break;
        }
        let live: Vec<String> = st.mailboxes[mi]
            .items
            .values()
            .filter(|i| st.mailboxes[mi].in_ipm(&i.folder_id))
            .map(|i| i.id.clone())
            .collect();
        let roll: f64 = rng.gen();
        let date = now_ms / 1000 - (changes - c) as i64;
        if roll < 0.4 || live.is_empty() {
            let fid = pick_weighted(&mut rng, &mail_folders);
            let (data, subject, class, key) = make_item(
                st.seed,
                st.next_id,
                &mut rng,
                "IPF.Note",
                date,
                SizeMix::Small,
                &upn,
                &mut threads,
            );
            rep.added.push(insert_item(
                st,
                mi,
                &fid,
                data,
                subject,
                class,
                key,
                date * 1000,
            ));
        } else if roll < 0.55 {
            let id = live[rng.gen_range(0..live.len())].clone();
            let m = &mut st.mailboxes[mi];
            if let Some(item) = m.items.remove(&id) {
                let seq = m.bump();
                m.item_tombs.push(Tomb {
                    id: id.clone(),
                    folder_id: Some(item.folder_id),
                    seq,
                });
                rep.deleted.push(id);
            }
        } else if roll < 0.7 {
            let id = live[rng.gen_range(0..live.len())].clone();
            let to = pick_weighted(&mut rng, &mail_folders);
            let m = &mut st.mailboxes[mi];
            let from = m
                .items
                .get(&id)
                .map(|i| i.folder_id.clone())
                .unwrap_or_default();
            if from != to && !from.is_empty() {
                let seq = m.bump();
                m.item_tombs.push(Tomb {
                    id: id.clone(),
                    folder_id: Some(from.clone()),
                    seq,
                });
                if let Some(i) = m.items.get_mut(&id) {
                    i.folder_id = to.clone();
                    i.seq = seq;
                }
                rep.moved.push((id, from, to));
            }
        } else if roll < 0.9 {
            let id = live[rng.gen_range(0..live.len())].clone();
            let Some(item) = st.mailboxes[mi].items.get(&id).cloned() else {
                continue;
            };
            let subject = item.subject.clone().unwrap_or_default();
            let mut b = MessageBuilder::new(&item.message_class)
                .subject(&subject)
                .date_unix(item.received_ms / 1000)
                .body_text(&format!("{}\n\n(edited)", words(&mut rng, 1200)));
            if let Some(k) = &item.search_key {
                b = b.search_key(k);
            }
            let data = b
                .property(VOLATILE_TAG, PropValue::I64(VOLATILE_MAGIC))
                .build();
            let ck = st.new_change_key();
            let m = &mut st.mailboxes[mi];
            let seq = m.bump();
            if let Some(i) = m.items.get_mut(&id) {
                i.volatile = find_volatile(&data);
                i.size = data.len() as u64 * 7 / 8;
                i.data = Bytes::from(data);
                i.change_key = ck;
                i.modified_ms = now_ms;
                i.seq = seq;
                rep.edited.push(id);
            }
        } else {
            let mut m = std::mem::replace(&mut st.mailboxes[mi], placeholder());
            let parent = m
                .resolve_folder("inbox")
                .map(|f| f.id.clone())
                .unwrap_or_else(|| m.ipm_root_id.clone());
            let physical = m.folders.get(&parent).map(|f| f.physical).unwrap_or(0);
            let name = format!("Evolved {} {}", seed % 1000, c);
            let fid = add_folder(st, &mut m, Some(&parent), &name, None, "IPF.Note", physical);
            st.mailboxes[mi] = m;
            rep.new_folders.push(fid.clone());
            for _ in 0..rng.gen_range(1..=3) {
                let (data, subject, class, key) = make_item(
                    st.seed,
                    st.next_id,
                    &mut rng,
                    "IPF.Note",
                    date,
                    SizeMix::Small,
                    &upn,
                    &mut threads,
                );
                rep.added.push(insert_item(
                    st,
                    mi,
                    &fid,
                    data,
                    subject,
                    class,
                    key,
                    date * 1000,
                ));
            }
        }
    }
    rep
}

fn placeholder() -> Mailbox {
    Mailbox {
        ids: vec![String::new()],
        kind: MailboxKind::Primary,
        tenant: 0,
        upn: String::new(),
        root_id: String::new(),
        ipm_root_id: String::new(),
        folders: BTreeMap::new(),
        items: BTreeMap::new(),
        folder_tombs: Vec::new(),
        item_tombs: Vec::new(),
        seq: 0,
        epoch: 0,
        exports: 0,
    }
}
