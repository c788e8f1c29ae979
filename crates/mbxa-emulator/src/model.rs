//! In-memory mailboxes: tenants, folders, items, tombstones, tokens and sessions.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Emulated wall clock in milliseconds since the Unix epoch; tests move it forward to expire
/// tokens, sessions and throttling windows without sleeping.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub(crate) fn now_ms(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }
    pub(crate) fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }
}

/// RFC 3339 with whole seconds, like Graph's item timestamps (`2021-09-15T12:16:38Z`).
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// RFC 3339 with 7 fractional digits, like `expirationDateTime` in the docs.
pub(crate) fn rfc3339_7(ms: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    format!(
        "{}.{:07}Z",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        (ms.rem_euclid(1000)) * 10_000
    )
}

/// Parses the date forms `$filter` uses: RFC 3339 or a bare `YYYY-MM-DD`.
pub(crate) fn parse_date_ms(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('\'');
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Primary or in-place archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailboxKind {
    /// The user's primary mailbox.
    Primary,
    /// The user's in-place archive (beta only in real Graph).
    Archive,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CertKey {
    pub x5t: String,
    /// `x5t#S256`: base64url SHA-256 thumbprint (newer clients send this instead).
    #[serde(default)]
    pub x5t_s256: String,
    pub pkcs1: Vec<u8>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Tenant {
    pub tenant_id: String,
    pub domain: String,
    pub client_id: String,
    pub client_secret: String,
    pub certs: Vec<CertKey>,
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub upn: String,
    pub primary: usize,
    pub archive: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Folder {
    pub id: String,
    pub parent_id: Option<String>,
    pub display_name: String,
    pub folder_type: String,
    pub well_known: Option<String>,
    /// Index into `Mailbox::ids` of the physical mailbox holding the folder.
    pub physical: usize,
    /// Change sequence of the last create/rename.
    pub seq: u64,
    pub hidden: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Item {
    pub id: String,
    pub folder_id: String,
    pub change_key: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub received_ms: i64,
    pub size: u64,
    pub message_class: String,
    pub data: Bytes,
    pub search_key: Option<Vec<u8>>,
    pub subject: Option<String>,
    pub seq: u64,
    /// Offset of an 8-byte opaque value we may vary per export (unstable-exports fault).
    pub volatile: Option<usize>,
    pub protected: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tomb {
    pub id: String,
    /// For items: the folder it left. For folders: its parent.
    pub folder_id: Option<String>,
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Mailbox {
    /// `ids[0]` is the mailbox id users see; further ids are auxiliary archive shards.
    pub ids: Vec<String>,
    pub kind: MailboxKind,
    pub tenant: usize,
    pub upn: String,
    pub root_id: String,
    pub ipm_root_id: String,
    pub folders: BTreeMap<String, Folder>,
    pub items: BTreeMap<String, Item>,
    pub folder_tombs: Vec<Tomb>,
    pub item_tombs: Vec<Tomb>,
    pub seq: u64,
    /// Bumped to invalidate every delta token of the mailbox.
    pub epoch: u64,
    pub exports: u64,
}

impl Mailbox {
    pub(crate) fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Folder by id or (case-insensitive) well-known name.
    pub(crate) fn resolve_folder(&self, key: &str) -> Option<&Folder> {
        if let Some(f) = self.folders.get(key) {
            return Some(f);
        }
        let k = key.to_ascii_lowercase();
        self.folders
            .values()
            .find(|f| f.well_known.as_deref() == Some(k.as_str()))
    }

    /// True if `id` is the IPM root or below it.
    pub(crate) fn in_ipm(&self, id: &str) -> bool {
        let mut cur = Some(id.to_string());
        let mut hops = 0;
        while let Some(c) = cur {
            if c == self.ipm_root_id {
                return true;
            }
            hops += 1;
            if hops > 10_000 {
                return false;
            }
            cur = self.folders.get(&c).and_then(|f| f.parent_id.clone());
        }
        false
    }

    /// True if `id` is `ancestor` or below it.
    pub(crate) fn is_under(&self, id: &str, ancestor: &str) -> bool {
        let mut cur = Some(id.to_string());
        let mut hops = 0;
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            hops += 1;
            if hops > 10_000 {
                return false;
            }
            cur = self.folders.get(&c).and_then(|f| f.parent_id.clone());
        }
        false
    }

    /// Display-name path below the IPM root, e.g. `Inbox/Projects`.
    pub(crate) fn folder_path(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id.to_string());
        while let Some(c) = cur {
            if c == self.ipm_root_id || parts.len() > 1000 {
                break;
            }
            match self.folders.get(&c) {
                Some(f) => {
                    parts.push(f.display_name.clone());
                    cur = f.parent_id.clone();
                }
                None => break,
            }
        }
        parts.reverse();
        parts.join("/")
    }

    pub(crate) fn item_count(&self, id: &str) -> usize {
        self.items.values().filter(|i| i.folder_id == id).count()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessToken {
    pub tenant: usize,
    pub client_id: String,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportSessionRec {
    pub mailbox: usize,
    pub physical: usize,
    pub tenant: usize,
    pub client_id: String,
    pub expires_ms: i64,
}

/// The whole persistent state (what the state file holds).
#[derive(Clone, Serialize, Deserialize, Default)]
pub(crate) struct State {
    pub seed: u64,
    pub tenants: Vec<Tenant>,
    pub mailboxes: Vec<Mailbox>,
    pub tokens: HashMap<String, AccessToken>,
    pub sessions: HashMap<String, ImportSessionRec>,
    pub next_id: u64,
    /// Lowercase mailbox id → (mailbox index, physical index); rebuilt after load.
    #[serde(skip)]
    pub index: HashMap<String, (usize, usize)>,
}

/// Leading bytes of every folder and item id (base64 `AAMk`, like Exchange ids).
const ID_TAG: [u8; 3] = [0x00, 0x03, 0x24];

impl State {
    pub(crate) fn rebuild_index(&mut self) {
        self.index.clear();
        for (mi, m) in self.mailboxes.iter().enumerate() {
            for (pi, id) in m.ids.iter().enumerate() {
                self.index.insert(id.to_ascii_lowercase(), (mi, pi));
            }
        }
    }

    fn next_bytes(&mut self, kind: u8, len: usize) -> Vec<u8> {
        self.next_id += 1;
        let mut h = Sha256::new();
        h.update(self.seed.to_le_bytes());
        h.update(self.next_id.to_le_bytes());
        h.update([kind]);
        let digest = h.finalize();
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&ID_TAG);
        b.push(kind);
        b.extend_from_slice(&self.next_id.to_be_bytes());
        let rest = len.saturating_sub(b.len());
        b.extend_from_slice(&digest[..rest.min(digest.len())]);
        b
    }

    /// A new folder id: 25 bytes, standard base64 with `/` written as `_` (so ids carry `+`,
    /// `_` and `=` and must be path-escaped, like real ones).
    pub(crate) fn new_folder_id(&mut self) -> String {
        let b = self.next_bytes(1, 25);
        encode_id(&b)
    }

    /// A new item id: 26 bytes.
    pub(crate) fn new_item_id(&mut self) -> String {
        let b = self.next_bytes(2, 26);
        encode_id(&b)
    }

    /// A new change key in the `CQAAABYAAA…` shape of the docs.
    pub(crate) fn new_change_key(&mut self) -> String {
        let mut b = vec![0x09, 0, 0, 0, 0x16, 0, 0, 0];
        let r = self.next_bytes(3, 20);
        b.extend_from_slice(&r[4..]);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// A fresh opaque secret (tokens, import session tokens); not seed-derived.
    pub(crate) fn secret_token(&mut self) -> String {
        let r: [u8; 32] = rand::random();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r)
    }
}

fn encode_id(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(b)
        .replace('/', "_")
}

/// True if `id` has the shape of an id this emulator issues (else `ErrorInvalidIdMalformed`).
pub(crate) fn id_well_formed(id: &str) -> bool {
    if id.len() > 64 {
        return false;
    }
    match base64::engine::general_purpose::STANDARD.decode(id.replace('_', "/")) {
        Ok(b) => b.len() >= 12 && b[..3] == ID_TAG,
        Err(_) => false,
    }
}

/// One folder of a [`MailboxSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotFolder {
    /// Folder id.
    pub id: String,
    /// Parent id (the IPM root's id for top-level folders).
    pub parent_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Display-name path below the IPM root, `/`-separated, e.g. `Inbox/Projects`.
    pub path: String,
    /// Folder class (`IPF.Note`, …).
    pub folder_type: String,
    /// Well-known name, if any.
    pub well_known_name: Option<String>,
    /// Id of the physical mailbox holding the folder (differs for auto-expanded archives).
    pub physical_mailbox_id: String,
    /// Items directly in the folder.
    pub item_count: u64,
}

/// One item of a [`MailboxSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotItem {
    /// Item id.
    pub id: String,
    /// Folder id.
    pub folder_id: String,
    /// Display-name path of its folder.
    pub folder_path: String,
    /// Current change key.
    pub change_key: String,
    /// `createdDateTime`.
    pub created: String,
    /// `lastModifiedDateTime`.
    pub last_modified: String,
    /// `size`.
    pub size: u64,
    /// `type` (message class).
    pub message_class: String,
    /// PidTagSearchKey read from the stream, if any.
    pub search_key: Option<Vec<u8>>,
    /// Subject read from the stream, if any.
    pub subject: Option<String>,
    /// The exact stored bytes (what a stable export returns).
    #[serde(skip)]
    pub data: Bytes,
}

/// A test oracle: a mailbox's IPM folder tree and items with their current bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSnapshot {
    /// The mailbox id.
    pub mailbox_id: String,
    /// Auxiliary archive shard ids (empty for a primary mailbox).
    pub auxiliary_ids: Vec<String>,
    /// Primary or archive.
    pub kind: MailboxKind,
    /// Owner.
    pub upn: String,
    /// Id of the IPM root ("Top of Information Store"), parent of top-level folders.
    pub ipm_root_id: String,
    /// Folders under the IPM root, parents before children.
    pub folders: Vec<SnapshotFolder>,
    /// Items in those folders, ordered by folder path then id.
    pub items: Vec<SnapshotItem>,
}

impl MailboxSnapshot {
    /// The folder with this display-name path.
    pub fn folder_by_path(&self, path: &str) -> Option<&SnapshotFolder> {
        self.folders.iter().find(|f| f.path == path)
    }
    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&SnapshotItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

pub(crate) fn snapshot(m: &Mailbox) -> MailboxSnapshot {
    // Parents before children: breadth-first from the IPM root.
    let mut folders = Vec::new();
    let mut queue = std::collections::VecDeque::from([m.ipm_root_id.clone()]);
    while let Some(pid) = queue.pop_front() {
        for f in m
            .folders
            .values()
            .filter(|f| f.parent_id.as_deref() == Some(pid.as_str()))
        {
            queue.push_back(f.id.clone());
            folders.push(SnapshotFolder {
                id: f.id.clone(),
                parent_id: f.parent_id.clone(),
                display_name: f.display_name.clone(),
                path: m.folder_path(&f.id),
                folder_type: f.folder_type.clone(),
                well_known_name: f.well_known.clone(),
                physical_mailbox_id: m.ids.get(f.physical).cloned().unwrap_or_default(),
                item_count: m.item_count(&f.id) as u64,
            });
        }
        if folders.len() > 100_000 {
            break;
        }
    }
    let mut items: Vec<SnapshotItem> = m
        .items
        .values()
        .filter(|i| i.folder_id != m.ipm_root_id && m.in_ipm(&i.folder_id))
        .map(|i| SnapshotItem {
            id: i.id.clone(),
            folder_id: i.folder_id.clone(),
            folder_path: m.folder_path(&i.folder_id),
            change_key: i.change_key.clone(),
            created: rfc3339(i.created_ms),
            last_modified: rfc3339(i.modified_ms),
            size: i.size,
            message_class: i.message_class.clone(),
            search_key: i.search_key.clone(),
            subject: i.subject.clone(),
            data: i.data.clone(),
        })
        .collect();
    items.sort_by(|a, b| (&a.folder_path, &a.id).cmp(&(&b.folder_path, &b.id)));
    MailboxSnapshot {
        mailbox_id: m.ids[0].clone(),
        auxiliary_ids: m.ids[1..].to_vec(),
        kind: m.kind,
        upn: m.upn.clone(),
        ipm_root_id: m.ipm_root_id.clone(),
        folders,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_well_formed_and_escaped() {
        let mut s = State {
            seed: 3,
            ..State::default()
        };
        let a = s.new_folder_id();
        let b = s.new_item_id();
        assert_ne!(a, b);
        assert!(a.starts_with("AAMk") && b.starts_with("AAMk"));
        assert!(a.ends_with('=') && b.ends_with('='));
        assert!(!a.contains('/') && !b.contains('/'));
        assert!(id_well_formed(&a) && id_well_formed(&b));
        assert!(!id_well_formed("not-an-id"));
        assert!(!id_well_formed("AAAAAAAAAAAAAAAAAAAAAAAA"));
        assert!(s.new_change_key().starts_with("CQAAABYAAA"));
    }

    #[test]
    fn timestamps_have_graph_shapes() {
        assert_eq!(rfc3339(1_631_708_198_000), "2021-09-15T12:16:38Z");
        assert_eq!(rfc3339_7(1_631_708_198_105), "2021-09-15T12:16:38.1050000Z");
        assert_eq!(parse_date_ms("2021-09-15"), Some(1_631_664_000_000));
    }
}
