//! The resume journal `OUT.mbxa.journal`: append-only JSON Lines, each line checksummed, fsynced
//! per commit.
//!
//! Line format: `<16 hex digits = first 8 bytes of SHA-256(json)> <json>\n`. A reader keeps the
//! longest prefix of intact lines and truncates the rest (a torn last write after a crash), so
//! appends after a resume never follow garbage.
//!
//! Records, in the order the capture writes them:
//! - `header` (once): mailbox, base archive id, folder selection, start time, source;
//! - `folders`: the folder tree and the folders delta link (listing done);
//! - `listed_items` (0..n chunks) then `listed_end` per folder: its planned items and item delta
//!   link; a folder without `listed_end` is listed again on resume;
//! - `committed`: items whose blobs were flushed and fsynced in the `.part` *before* this line
//!   was written, plus items that vanished between listing and export.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mbxa_format::{Folder, ItemContent, MailboxKind, Source};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::plan::{blob_hex, ItemMeta, Planned};

/// Journal format version written in the header.
pub(crate) const JOURNAL_VERSION: u32 = 1;
/// Longest journal line accepted on read (bounds the allocation for a corrupt file).
const MAX_LINE: u64 = 64 << 20;
/// Items per `listed_items` record, so no line grows with the folder.
pub(crate) const LISTED_CHUNK: usize = 2000;

/// `OUT.mbxa` → `OUT.mbxa.journal`.
pub fn journal_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".journal");
    PathBuf::from(s)
}

/// The capture a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub v: u32,
    pub mailbox_id: String,
    pub base_archive: Option<String>,
    pub folder_filter: Vec<String>,
    pub started_at: String,
    pub source: JSource,
}

/// [`Source`] in journal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JSource {
    pub tenant_id: String,
    pub user: String,
    pub mailbox_id: String,
    pub archive: bool,
}

impl JSource {
    pub fn from_source(s: &Source) -> Self {
        JSource {
            tenant_id: s.tenant_id.clone(),
            user: s.user.clone(),
            mailbox_id: s.mailbox_id.clone(),
            archive: matches!(s.kind, MailboxKind::Archive),
        }
    }

    pub fn to_source(&self) -> Source {
        Source {
            tenant_id: self.tenant_id.clone(),
            user: self.user.clone(),
            mailbox_id: self.mailbox_id.clone(),
            kind: if self.archive {
                MailboxKind::Archive
            } else {
                MailboxKind::Primary
            },
        }
    }
}

/// [`Folder`] in journal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JFolder {
    pub id: String,
    pub parent_id: Option<String>,
    pub display_name: String,
    pub folder_class: String,
    pub well_known_name: Option<String>,
    pub item_count: u64,
}

impl JFolder {
    pub fn from_folder(f: &Folder) -> Self {
        JFolder {
            id: f.id.clone(),
            parent_id: f.parent_id.clone(),
            display_name: f.display_name.clone(),
            folder_class: f.folder_class.clone(),
            well_known_name: f.well_known_name.clone(),
            item_count: f.item_count,
        }
    }

    pub fn to_folder(&self) -> Folder {
        Folder {
            id: self.id.clone(),
            parent_id: self.parent_id.clone(),
            display_name: self.display_name.clone(),
            folder_class: self.folder_class.clone(),
            well_known_name: self.well_known_name.clone(),
            item_count: self.item_count,
        }
    }
}

/// An item's content in journal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JContent {
    Blob {
        #[serde(with = "blob_hex")]
        id: mbxa_format::BlobId,
        len: u64,
    },
    Failed {
        code: String,
        message: String,
    },
}

impl JContent {
    pub fn to_content(&self) -> ItemContent {
        match self {
            JContent::Blob { id, len } => ItemContent::Blob { id: *id, len: *len },
            JContent::Failed { code, message } => ItemContent::ExportFailed {
                code: code.clone(),
                message: message.clone(),
            },
        }
    }
}

/// A committed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JItem {
    pub meta: ItemMeta,
    pub content: JContent,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Record {
    Header(Header),
    Folders {
        folders: Vec<JFolder>,
        delta_link: String,
    },
    ListedItems {
        folder_id: String,
        items: Vec<Planned>,
    },
    ListedEnd {
        folder_id: String,
        delta_link: String,
        full: bool,
    },
    Committed {
        items: Vec<JItem>,
        vanished: Vec<String>,
    },
}

/// An open journal, positioned for appending.
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
}

fn checksum(json: &[u8]) -> String {
    hex::encode(&Sha256::digest(json)[..8])
}

fn encode(rec: &Record, out: &mut Vec<u8>) -> Result<()> {
    let json = serde_json::to_vec(rec).map_err(|e| Error::Journal {
        path: PathBuf::new(),
        message: format!("encode: {e}"),
    })?;
    out.extend_from_slice(checksum(&json).as_bytes());
    out.push(b' ');
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(())
}

/// Creates `path` readable by its owner only, failing if it exists.
pub(crate) fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).read(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Fsyncs the directory holding `path`, so a create, rename or delete in it is durable.
pub(crate) fn fsync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    #[cfg(unix)]
    {
        let d = File::open(&dir).map_err(|e| Error::io("open dir", &dir, e))?;
        d.sync_all().map_err(|e| Error::io("fsync dir", &dir, e))?;
    }
    let _ = dir;
    Ok(())
}

impl Journal {
    /// Creates a fresh journal (mode 0600) holding `header`, durably.
    pub fn create(path: &Path, header: Header) -> Result<Journal> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", path, e)),
        }
        let file = create_private(path).map_err(|e| Error::io("create", path, e))?;
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
        };
        j.append(&[Record::Header(header)])?;
        fsync_dir(path)?;
        Ok(j)
    }

    /// Opens an existing journal: returns its intact records (first is the header, if any) and
    /// truncates whatever follows them.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        let (records, good_len) =
            read_records(&mut file).map_err(|e| Error::io("read", path, e))?;
        file.set_len(good_len)
            .map_err(|e| Error::io("truncate", path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io("seek", path, e))?;
        file.sync_all().map_err(|e| Error::io("fsync", path, e))?;
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
            },
            records,
        ))
    }

    /// Appends records in one write and fsyncs: when this returns they survive a crash.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            encode(r, &mut buf)?;
        }
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io("append", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| Error::io("fsync", &self.path, e))?;
        Ok(())
    }
}

/// Reads intact lines from the start; returns them and the byte length they cover.
fn read_records(file: &mut File) -> std::io::Result<(Vec<Record>, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::new(file);
    let mut out = Vec::new();
    let mut good = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r).take(MAX_LINE).read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let body = &line[..line.len() - 1];
        let Some(sp) = body.iter().position(|&b| b == b' ') else {
            break;
        };
        let (sum, json) = (&body[..sp], &body[sp + 1..]);
        if sum != checksum(json).as_bytes() {
            break;
        }
        let Ok(rec) = serde_json::from_slice::<Record>(json) else {
            break;
        };
        out.push(rec);
        good += n as u64;
    }
    Ok((out, good))
}

/// `OUT.mbxa` → `OUT.mbxa.lock`: held (with the owner's pid) while a capture writes `OUT.mbxa`.
pub(crate) fn lock_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// Exclusive use of an output path by this process; the lock file is removed on drop. A lock
/// left by a process that no longer runs (killed) is taken over, so a crash never needs a
/// manual unlock.
pub(crate) struct OutputLock(PathBuf);

fn pid_alive(pid: u32) -> bool {
    // Without /proc we cannot tell; treat the lock as stale rather than block forever.
    Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists()
}

impl OutputLock {
    pub fn acquire(out: &Path) -> Result<OutputLock> {
        let path = lock_path(out);
        for _ in 0..3 {
            match create_private(&path) {
                Ok(mut f) => {
                    f.write_all(std::process::id().to_string().as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| Error::io("write", &path, e))?;
                    return Ok(OutputLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != std::process::id() && pid_alive(pid) => {
                            return Err(Error::Busy {
                                path: out.to_path_buf(),
                                lock: path,
                                pid,
                            });
                        }
                        // Stale (dead holder, torn write) or our own leftover: take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(Error::io("create", &path, e)),
            }
        }
        Err(Error::io(
            "create",
            &path,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "lock keeps reappearing"),
        ))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            v: JOURNAL_VERSION,
            mailbox_id: "MBX:1".into(),
            base_archive: None,
            folder_filter: vec![],
            started_at: "2026-01-01T00:00:00Z".into(),
            source: JSource {
                tenant_id: "t".into(),
                user: "u".into(),
                mailbox_id: "MBX:1".into(),
                archive: false,
            },
        }
    }

    #[test]
    fn torn_tail_is_dropped_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mbxa.journal");
        let mut j = Journal::create(&p, header()).unwrap();
        j.append(&[Record::Committed {
            items: vec![],
            vanished: vec!["x".into()],
        }])
        .unwrap();
        drop(j);
        let full = std::fs::metadata(&p).unwrap().len();
        // A torn append: half a line of garbage.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"0123456789abcdef {\"t\":\"comm").unwrap();
        drop(f);
        let (mut j, recs) = Journal::open(&p).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0], Record::Header(header()));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), full);
        j.append(&[Record::Committed {
            items: vec![],
            vanished: vec!["y".into()],
        }])
        .unwrap();
        let (_, recs) = Journal::open(&p).unwrap();
        assert_eq!(recs.len(), 3);
    }

    #[test]
    fn corrupted_line_stops_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.journal");
        let mut j = Journal::create(&p, header()).unwrap();
        j.append(&[Record::Committed {
            items: vec![],
            vanished: vec!["aaaa".into()],
        }])
        .unwrap();
        drop(j);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 5] = b'b'; // flip a byte inside the last JSON line
        std::fs::write(&p, &bytes).unwrap();
        let (_, recs) = Journal::open(&p).unwrap();
        assert_eq!(recs.len(), 1);
    }

    #[test]
    fn lock_is_exclusive_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.mbxa");
        let l = OutputLock::acquire(&out).unwrap();
        // A live holder (pid 1 always runs) blocks.
        std::fs::remove_file(lock_path(&out)).unwrap();
        std::fs::write(lock_path(&out), "1").unwrap();
        assert!(matches!(
            OutputLock::acquire(&out),
            Err(Error::Busy { pid: 1, .. })
        ));
        // A dead holder (no such pid) does not.
        std::fs::write(lock_path(&out), "4000000000").unwrap();
        drop(l);
        std::fs::write(lock_path(&out), "4000000000").unwrap();
        let l2 = OutputLock::acquire(&out).unwrap();
        drop(l2);
        assert!(!lock_path(&out).exists());
    }

    #[cfg(unix)]
    #[test]
    fn journal_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.journal");
        Journal::create(&p, header()).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
