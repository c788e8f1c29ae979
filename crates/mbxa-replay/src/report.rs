//! Options in, report and progress events out: the library's public surface besides `replay`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::pace::Budget;

/// What to replay and how. Build with [`ReplayOptions::new`] and set fields.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Target mailbox id (`MBX:...`); the CLI resolves `--user` to it.
    pub mailbox_id: String,
    /// `--into PATH`: put the whole tree under this folder path (created where missing).
    pub into: Option<String>,
    /// `--folder PATH`: only these archive folder subtrees (display-name paths); empty = all.
    pub folders: Vec<String>,
    /// Only items created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only items created before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only these message classes (and subclasses); empty = all.
    pub message_classes: Vec<String>,
    /// Plan only: read the target, change nothing (no state-changing request, no journal write).
    pub dry_run: bool,
    /// After importing, re-export the items and compare them with the archive.
    pub verify: bool,
    /// Journal path; `None`: [`crate::default_journal_path`].
    pub journal: Option<PathBuf>,
    /// Uploads in flight to the mailbox (Outlook allows 4 concurrent requests per app+mailbox).
    pub concurrency: usize,
    /// Upload byte budget per mailbox (request bodies, i.e. base64 size).
    pub upload_budget: Budget,
    /// Request budget per mailbox for uploads.
    pub request_budget: Budget,
    /// Renew an import session this long before it expires (capped at a fifth of the lifetime
    /// of the session, so short-lived sessions are still used).
    pub session_renew_margin: Duration,
    /// Attempts per item (uploads that were refused, throttled past the client's retries, or
    /// whose outcome was unknown and not found by search key).
    pub max_attempts: u32,
}

impl ReplayOptions {
    /// Defaults for the target mailbox `mailbox_id`: whole archive, merged into matching folders,
    /// 4 uploads in flight, Microsoft's budgets, sessions renewed 5 minutes before expiry.
    pub fn new(mailbox_id: impl Into<String>) -> Self {
        ReplayOptions {
            mailbox_id: mailbox_id.into(),
            into: None,
            folders: Vec::new(),
            since: None,
            until: None,
            message_classes: Vec::new(),
            dry_run: false,
            verify: false,
            journal: None,
            concurrency: 4,
            upload_budget: Budget::UPLOAD,
            request_budget: Budget::REQUESTS,
            session_renew_margin: Duration::from_secs(300),
            max_attempts: 3,
        }
    }
}

/// Totals known once the plan is made (before any upload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanTotals {
    /// Folders to create.
    pub folders_to_create: usize,
    /// Items the plan will try to import (some may turn out present when looked up).
    pub items_to_import: u64,
    /// Their archive sizes in bytes.
    pub bytes_to_import: u64,
    /// Items the journal already records as imported.
    pub already_imported: u64,
}

/// The outcome of one item, as reported to [`Progress::item`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Imported now.
    Imported,
    /// Found in the target (journal or search key): not imported again.
    AlreadyPresent,
    /// Not imported; the reason.
    Failed(String),
}

/// Progress callbacks; every method has a no-op default. Called from the replay task: keep them
/// cheap.
pub trait Progress: Send + Sync {
    /// The plan is ready.
    fn planned(&self, _totals: &PlanTotals) {}
    /// A target folder was created (display-name path).
    fn folder_created(&self, _path: &str) {}
    /// One item finished (`bytes`: its archive size).
    fn item(&self, _item_id: &str, _outcome: &ItemOutcome, _bytes: u64) {}
    /// An upload waited `wait` for the mailbox's upload budget.
    fn paced(&self, _wait: Duration) {}
    /// Verification checked `done` of `total` items.
    fn verified(&self, _done: u64, _total: u64) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What happens to a target folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderAction {
    /// It exists; items are merged into it.
    Existing,
    /// It is to be created (dry run).
    Create,
    /// It was created by this run.
    Created,
    /// Creating it failed; its items failed.
    Failed,
}

/// One target folder of the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderReport {
    /// Display-name path in the target.
    pub path: String,
    /// What happened to it.
    pub action: FolderAction,
    /// Target folder id (absent for a dry-run creation or a failure).
    pub id: Option<String>,
    /// Items planned for import into it (dry run: "to import").
    pub to_import: u64,
    /// Items imported into it by this run.
    pub imported: u64,
    /// Items already in it (journal or search key).
    pub already_present: u64,
}

/// An item not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemProblem {
    /// Source item id (archive).
    pub item_id: String,
    /// Source folder path (archive).
    pub folder: String,
    /// Why.
    pub reason: String,
}

/// A planned item (dry-run listing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedItem {
    /// Source item id (archive).
    pub item_id: String,
    /// Target folder path.
    pub target_folder: String,
    /// `import` or `present`.
    pub action: &'static str,
    /// Archive size in bytes.
    pub size: u64,
}

/// One item whose re-export differs from the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyMismatch {
    /// Source item id (archive).
    pub item_id: String,
    /// Target item id.
    pub target_id: String,
    /// What differs (field names and values, bounded).
    pub differences: Vec<String>,
}

/// Result of `--verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Items re-exported and compared.
    pub checked: u64,
    /// Items equal to the archive.
    pub matched: u64,
    /// Items that differ.
    pub mismatched: Vec<VerifyMismatch>,
    /// Items that could not be re-exported or parsed.
    pub errors: Vec<ItemProblem>,
}

/// The final report of a replay (or of a dry run's plan).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Archive id (hex).
    pub archive_id: String,
    /// Target mailbox id.
    pub mailbox_id: String,
    /// The journal used (`None` for a dry run without one).
    pub journal: Option<PathBuf>,
    /// True for `--dry-run`: nothing was changed and counts are the plan's.
    pub dry_run: bool,
    /// Target folders involved.
    pub folders: Vec<FolderReport>,
    /// Paths of folders created (dry run: to create).
    pub folders_created: Vec<String>,
    /// Items imported by this run (dry run: to import).
    pub imported: u64,
    /// Their archive bytes.
    pub imported_bytes: u64,
    /// Items already in the target: recorded in the journal, or found by search key.
    pub already_present: u64,
    /// Of those, found by search key (not in the journal).
    pub found_by_search_key: u64,
    /// Items skipped because their capture had failed (no content in the archive).
    pub skipped_export_failed: Vec<ItemProblem>,
    /// Items in system folders (recoverable items, search folders, sync issues): never replayed.
    pub skipped_system: u64,
    /// Items excluded by `--folder`, `--since`, `--until` or message class.
    pub filtered: u64,
    /// Items that failed, with reasons.
    pub failed: Vec<ItemProblem>,
    /// Dry run only: every item considered and what would happen to it.
    pub planned_items: Vec<PlannedItem>,
    /// Time spent waiting for the upload budget, seconds.
    pub paced_secs: f64,
    /// Wall time, seconds.
    pub elapsed_secs: f64,
    /// `--verify` result.
    pub verify: Option<VerifyReport>,
}

impl ReplayReport {
    /// True when items failed or verification found differences (CLI exit 1).
    pub fn has_problems(&self) -> bool {
        !self.failed.is_empty()
            || self
                .verify
                .as_ref()
                .is_some_and(|v| !v.mismatched.is_empty() || !v.errors.is_empty())
    }
}
