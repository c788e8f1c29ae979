//! The durable replay journal: one append-only JSON Lines file per (archive, target mailbox).
//!
//! Record order is what makes "never twice" hold: an item's `intent` record is fsynced before its
//! upload starts, its `done` record (target id, change key) is written after. A crash can leave an
//! `intent` without `done`; the engine then looks the item up by search key before importing it
//! again. `done` records are fsynced in batches: losing some only costs a lookup.
//!
//! Only the tail of the file can be torn (records are appended and fsynced in order), so a final
//! line that is incomplete or unparsable is cut off on open; damage anywhere else is an error.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Journal format version written in the header line.
const JOURNAL_VERSION: u32 = 1;

/// Upper bound on a journal file we are willing to load (records are ~200 bytes; 1 GiB is
/// millions of items, far beyond one mailbox).
const MAX_JOURNAL_LEN: u64 = 1 << 30;

/// The first line of every journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    mbxa_replay_journal: u32,
    archive: String,
    mailbox: String,
}

/// One journal record after the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Record {
    /// A source folder was mapped to (or created as) a target folder.
    Folder {
        /// Source folder id (archive).
        src: String,
        /// Target folder id.
        dst: String,
        /// True when this run created the target folder.
        created: bool,
    },
    /// An upload of `item` into `folder` is about to start (fsynced before it does).
    Intent {
        /// Source item id (archive).
        item: String,
        /// Target folder id.
        folder: String,
    },
    /// `item` is in `folder` as target item `id` (imported, or found there by search key).
    Done {
        /// Source item id (archive).
        item: String,
        /// Target folder id.
        folder: String,
        /// Target item id.
        id: String,
        /// Target change key.
        ck: String,
    },
    /// `item` could not be imported into `folder` (informational; it is retried on the next run).
    Failed {
        /// Source item id (archive).
        item: String,
        /// Target folder id.
        folder: String,
        /// Why.
        reason: String,
    },
}

/// What a journal says about one (source item, target folder) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    /// Imported (or found): target item id and change key.
    Done {
        /// Target item id.
        id: String,
        /// Target change key.
        change_key: String,
    },
    /// An upload was started but its result was never recorded: it may or may not have happened.
    Uncertain,
}

/// The replayed state of a journal, and the open file to append to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    /// `<journal>.lock`, exclusively locked (flock) while this journal is open for writing:
    /// two replays appending to one journal could both upload an item neither had recorded.
    /// The OS drops the lock when the process ends, so a crash leaves no stale lock.
    _lock: Option<File>,
    items: HashMap<(String, String), ItemState>,
    folders: HashMap<String, String>,
    unsynced: usize,
}

impl Journal {
    /// Opens (or creates, mode 0600) the journal at `path` for this archive and mailbox.
    ///
    /// # Errors
    /// I/O errors; a journal of another archive or mailbox; a damaged record before the last line.
    pub fn open(path: &Path, archive_id: &str, mailbox_id: &str) -> Result<Journal> {
        let header = Header {
            mbxa_replay_journal: JOURNAL_VERSION,
            archive: archive_id.to_owned(),
            mailbox: mailbox_id.to_owned(),
        };
        let lock = lock_journal(path)?;
        if !path.exists() {
            create_with_header(path, &header)?;
        }
        let mut journal = Journal::load(path, &header, true)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        journal.out = Some(BufWriter::new(file));
        journal._lock = Some(lock);
        Ok(journal)
    }

    /// Reads the journal at `path` without opening it for writing (for `--dry-run`); a missing
    /// file reads as empty.
    ///
    /// # Errors
    /// As [`Journal::open`].
    pub fn read_only(path: &Path, archive_id: &str, mailbox_id: &str) -> Result<Journal> {
        if !path.exists() {
            return Ok(Journal::empty(path));
        }
        let header = Header {
            mbxa_replay_journal: JOURNAL_VERSION,
            archive: archive_id.to_owned(),
            mailbox: mailbox_id.to_owned(),
        };
        Journal::load(path, &header, false)
    }

    fn empty(path: &Path) -> Journal {
        Journal {
            path: path.to_owned(),
            out: None,
            _lock: None,
            items: HashMap::new(),
            folders: HashMap::new(),
            unsynced: 0,
        }
    }

    fn load(path: &Path, expect: &Header, repair: bool) -> Result<Journal> {
        let corrupt = |line: usize, reason: String| Error::JournalCorrupt {
            path: path.to_owned(),
            line,
            reason,
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len > MAX_JOURNAL_LEN {
            return Err(corrupt(
                0,
                format!("{len} bytes, more than the {MAX_JOURNAL_LEN} limit"),
            ));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(MAX_JOURNAL_LEN)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;

        // Lines with their end offsets; the last one may lack its newline (torn write).
        let mut lines: Vec<(&[u8], usize, bool)> = Vec::new();
        let mut pos = 0usize;
        while pos < bytes.len() {
            match bytes[pos..].iter().position(|&b| b == b'\n') {
                Some(n) => {
                    lines.push((&bytes[pos..pos + n], pos + n + 1, true));
                    pos += n + 1;
                }
                None => {
                    lines.push((&bytes[pos..], bytes.len(), false));
                    pos = bytes.len();
                }
            }
        }
        let Some(&(first, mut good_end, first_complete)) = lines.first() else {
            return Err(corrupt(0, "empty journal (no header)".into()));
        };
        let header: Header = serde_json::from_slice(first)
            .ok()
            .filter(|_| first_complete)
            .ok_or_else(|| corrupt(1, "unreadable header".into()))?;
        if &header != expect {
            return Err(Error::JournalMismatch {
                path: path.to_owned(),
                archive: header.archive,
                mailbox: header.mailbox,
            });
        }
        let mut journal = Journal::empty(path);
        let n = lines.len();
        for (i, &(line, end, complete)) in lines.iter().enumerate().skip(1) {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) if complete => {
                    journal.apply(r);
                    good_end = end;
                }
                // Only the last line can be torn; anything else is damage.
                _ if i + 1 == n => break,
                _ => return Err(corrupt(i + 1, "unreadable record".into())),
            }
        }
        if repair && good_end < bytes.len() {
            // Cut the torn tail so appends start on a line boundary.
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            f.set_len(good_end as u64)
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(journal)
    }

    fn apply(&mut self, r: Record) {
        match r {
            Record::Folder { src, dst, .. } => {
                self.folders.insert(src, dst);
            }
            Record::Intent { item, folder } => {
                // An intent after a done (re-import of a deleted item never happens: done is
                // final), so only record it when nothing better is known.
                self.items
                    .entry((item, folder))
                    .or_insert(ItemState::Uncertain);
            }
            Record::Done {
                item,
                folder,
                id,
                ck,
            } => {
                self.items
                    .insert((item, folder), ItemState::Done { id, change_key: ck });
            }
            Record::Failed { .. } => {}
        }
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is known about `item` replayed into target folder `folder`.
    pub fn item(&self, item: &str, folder: &str) -> Option<&ItemState> {
        self.items.get(&(item.to_owned(), folder.to_owned()))
    }

    /// Target item ids the journal says are taken by some source item, per target folder.
    pub fn claimed_targets(&self) -> HashMap<String, HashSet<String>> {
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        for ((_, folder), state) in &self.items {
            if let ItemState::Done { id, .. } = state {
                out.entry(folder.clone()).or_default().insert(id.clone());
            }
        }
        out
    }

    /// The target folder recorded for a source folder, if any.
    pub fn folder(&self, src: &str) -> Option<&str> {
        self.folders.get(src).map(String::as_str)
    }

    /// Appends records (buffered; call [`Journal::sync`] to make them durable).
    ///
    /// # Errors
    /// I/O errors; a read-only journal.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        let path = self.path.clone();
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::JournalReadOnly { path: path.clone() })?;
        for r in records {
            let mut line = serde_json::to_vec(r).map_err(|e| Error::JournalCorrupt {
                path: path.clone(),
                line: 0,
                reason: format!("cannot encode record: {e}"),
            })?;
            line.push(b'\n');
            out.write_all(&line).map_err(|e| Error::io(&path, e))?;
        }
        for r in records {
            self.apply(r.clone());
        }
        self.unsynced += records.len();
        Ok(())
    }

    /// Appends and fsyncs at once (intent records: durable before the upload starts).
    ///
    /// # Errors
    /// As [`Journal::append`] and [`Journal::sync`].
    pub fn append_durable(&mut self, records: &[Record]) -> Result<()> {
        self.append(records)?;
        self.sync()
    }

    /// Number of records appended since the last [`Journal::sync`].
    pub fn unsynced(&self) -> usize {
        self.unsynced
    }

    /// Flushes and fsyncs every appended record.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|e| Error::io(&self.path, e))?;
            out.get_ref()
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.unsynced = 0;
        Ok(())
    }
}

impl Journal {
    /// Flushes appended records to the OS and returns a handle to fsync them with (so the fsync
    /// can run off the async threads); `None` for a read-only journal.
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush_for_sync(&mut self) -> Result<Option<File>> {
        self.unsynced = 0;
        match self.out.as_mut() {
            None => Ok(None),
            Some(out) => {
                out.flush().map_err(|e| Error::io(&self.path, e))?;
                let f = out
                    .get_ref()
                    .try_clone()
                    .map_err(|e| Error::io(&self.path, e))?;
                Ok(Some(f))
            }
        }
    }
}

/// Creates the journal with its header line under its final name atomically (temp, fsync,
/// rename, fsync dir), mode 0600.
fn create_with_header(path: &Path, header: &Header) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    create_dir_private(&dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut line = serde_json::to_vec(header).map_err(|e| Error::JournalCorrupt {
        path: path.to_owned(),
        line: 1,
        reason: format!("cannot encode header: {e}"),
    })?;
    line.push(b'\n');
    {
        let mut f = open_private(&tmp)?;
        f.write_all(&line).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Ok(d) = File::open(&dir) {
        d.sync_all().map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

/// Takes the exclusive lock of the journal at `path` (on `<path>.lock`, created mode 0600).
fn lock_journal(path: &Path) -> Result<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_private(dir)?;
    }
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::JournalInUse {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&lock_path, e)),
    }
}

fn open_private(path: &Path) -> Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(|e| Error::io(path, e))
}

fn create_dir_private(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| Error::io(dir, e))
}

/// The default journal path: `$XDG_STATE_HOME/mbxa/replay/<archive-id>-<mailbox-hash>.journal`
/// (`~/.local/state` when `XDG_STATE_HOME` is unset). `None` when neither it nor `HOME` is set.
pub fn default_journal_path(archive_id: &str, mailbox_id: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(
        base.join("mbxa")
            .join("replay")
            .join(journal_file_name(archive_id, mailbox_id)),
    )
}

/// `<archive-id>-<first 16 hex of SHA-256(mailbox id)>.journal`.
pub fn journal_file_name(archive_id: &str, mailbox_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(mailbox_id.as_bytes());
    let mut hash = String::with_capacity(16);
    for b in &digest[..8] {
        hash.push_str(&format!("{b:02x}"));
    }
    format!("{archive_id}-{hash}.journal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_open_for_writing_cannot_be_opened_again_until_closed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j").join("replay.journal");
        let first = Journal::open(&p, "a", "m").unwrap();
        match Journal::open(&p, "a", "m") {
            Err(Error::JournalInUse { path }) => assert_eq!(path, p),
            other => panic!("expected JournalInUse, got {other:?}"),
        }
        // A dry run only reads: it does not need the lock.
        Journal::read_only(&p, "a", "m").unwrap();
        drop(first);
        Journal::open(&p, "a", "m").unwrap();
    }

    fn done(item: &str, folder: &str, id: &str) -> Record {
        Record::Done {
            item: item.into(),
            folder: folder.into(),
            id: id.into(),
            ck: "ck".into(),
        }
    }

    fn intent(item: &str, folder: &str) -> Record {
        Record::Intent {
            item: item.into(),
            folder: folder.into(),
        }
    }

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/j.journal");
        let mut j = Journal::open(&p, "a1", "MBX:1").unwrap();
        j.append_durable(&[intent("i1", "f"), intent("i2", "f")])
            .unwrap();
        j.append(&[done("i1", "f", "t1")]).unwrap();
        j.sync().unwrap();
        drop(j);
        let j = Journal::open(&p, "a1", "MBX:1").unwrap();
        assert_eq!(
            j.item("i1", "f"),
            Some(&ItemState::Done {
                id: "t1".into(),
                change_key: "ck".into()
            })
        );
        assert_eq!(j.item("i2", "f"), Some(&ItemState::Uncertain));
        assert_eq!(j.item("i1", "other"), None);
        assert!(j.claimed_targets()["f"].contains("t1"));
    }

    #[cfg(unix)]
    #[test]
    fn journal_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.journal");
        Journal::open(&p, "a", "m").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.journal");
        let mut j = Journal::open(&p, "a", "m").unwrap();
        j.append_durable(&[intent("i1", "f"), done("i1", "f", "t1"), intent("i2", "f")])
            .unwrap();
        drop(j);
        // Simulate a crash in the middle of writing a done record.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"k":"done","item":"i2","fol"#).unwrap();
        drop(f);
        let mut j = Journal::open(&p, "a", "m").unwrap();
        assert_eq!(j.item("i2", "f"), Some(&ItemState::Uncertain));
        j.append_durable(&[done("i2", "f", "t2")]).unwrap();
        drop(j);
        let j = Journal::open(&p, "a", "m").unwrap();
        assert!(matches!(j.item("i2", "f"), Some(ItemState::Done { id, .. }) if id == "t2"));
    }

    #[test]
    fn damage_before_the_tail_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.journal");
        let mut j = Journal::open(&p, "a", "m").unwrap();
        j.append_durable(&[intent("i1", "f"), intent("i2", "f")])
            .unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replacen("intent", "inXent", 1)).unwrap();
        let err = Journal::open(&p, "a", "m").unwrap_err();
        assert!(
            matches!(err, Error::JournalCorrupt { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn other_archive_or_mailbox_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.journal");
        Journal::open(&p, "a", "m").unwrap();
        assert!(matches!(
            Journal::open(&p, "b", "m"),
            Err(Error::JournalMismatch { .. })
        ));
        assert!(matches!(
            Journal::open(&p, "a", "n"),
            Err(Error::JournalMismatch { .. })
        ));
    }

    #[test]
    fn read_only_missing_is_empty_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.journal");
        let mut j = Journal::read_only(&p, "a", "m").unwrap();
        assert!(!p.exists());
        assert!(matches!(
            j.append(&[intent("i", "f")]),
            Err(Error::JournalReadOnly { .. })
        ));
    }

    #[test]
    fn default_path_names_archive_and_hashed_mailbox() {
        let name = journal_file_name("abc", "MBX:1@2");
        assert!(name.starts_with("abc-"));
        assert!(name.ends_with(".journal"));
        assert_eq!(name.len(), "abc-".len() + 16 + ".journal".len());
        assert_ne!(name, journal_file_name("abc", "MBX:1@3"));
    }
}
