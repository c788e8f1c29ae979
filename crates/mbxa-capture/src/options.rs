//! What a capture is asked to do ([`CaptureOptions`]) and what it did ([`CaptureReport`]).

use std::path::PathBuf;
use std::time::Duration;

use mbxa_format::{ArchiveId, MailboxKind};

/// Most item ids one `exportItems` call may carry (Graph's limit).
pub const MAX_BATCH: usize = 20;

/// One mailbox capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The mailbox (`MBX:...`) to capture.
    pub mailbox_id: String,
    /// Tenant id, recorded in the manifest's source.
    pub tenant_id: String,
    /// The user (UPN) the mailbox belongs to, recorded in the manifest ("" if unknown).
    pub user: String,
    /// Primary or in-place archive, recorded in the manifest.
    pub kind: MailboxKind,
    /// The archive to write. `<output>.part` and `<output>.journal` sit beside it until it is done.
    pub output: PathBuf,
    /// A previous archive of the same mailbox: start from its delta links, copy unchanged items.
    pub base: Option<PathBuf>,
    /// Display-name paths (`Inbox/Projects`) whose subtrees to capture; empty = every folder.
    pub folders: Vec<String>,
    /// Export batches in progress for this mailbox: waiting for, in, or handing over from an
    /// `exportItems` call. Graph allows 4 concurrent requests per app and mailbox and the
    /// client's limiter enforces that; a few more batches than 4 keep those 4 slots busy while
    /// finished batches are decoded and handed to the writer.
    pub concurrency: usize,
    /// Folders whose items are listed at the same time (listing shares the mailbox's
    /// in-flight limit with the exports).
    pub list_concurrency: usize,
    /// Item ids per `exportItems` call, at most [`MAX_BATCH`].
    pub batch_size: usize,
    /// Exported batches that may wait for the writer. Memory is bounded by
    /// `(concurrency + queue_batches) × batch_size × item size`.
    pub queue_batches: usize,
    /// Single-item re-exports for an item that a multi-item call dropped or failed (other than
    /// "not found", which means the item vanished).
    pub item_retries: u32,
    /// Written into the manifest's capture info.
    pub tool_version: String,
}

impl CaptureOptions {
    /// Defaults for capturing `mailbox_id` into `output`: every folder, 6 batches × 20 ids.
    pub fn new(mailbox_id: impl Into<String>, output: impl Into<PathBuf>) -> Self {
        CaptureOptions {
            mailbox_id: mailbox_id.into(),
            tenant_id: String::new(),
            user: String::new(),
            kind: MailboxKind::Primary,
            output: output.into(),
            base: None,
            folders: Vec::new(),
            concurrency: 6,
            list_concurrency: 4,
            batch_size: MAX_BATCH,
            queue_batches: 4,
            item_retries: 2,
            tool_version: concat!("mbxa ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }

    /// Sets the source recorded in the manifest.
    pub fn source(
        mut self,
        tenant_id: impl Into<String>,
        user: impl Into<String>,
        kind: MailboxKind,
    ) -> Self {
        self.tenant_id = tenant_id.into();
        self.user = user.into();
        self.kind = kind;
        self
    }

    /// Makes this an incremental capture on top of `base`.
    pub fn base(mut self, base: impl Into<PathBuf>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// Restricts the capture to these folder subtrees.
    pub fn folders(mut self, paths: Vec<String>) -> Self {
        self.folders = paths;
        self
    }
}

/// An item Graph would not export; it is in the manifest as `ExportFailed`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedItem {
    /// Item id.
    pub id: String,
    /// Display-name path of its folder.
    pub folder: String,
    /// Graph's per-item error code (or `NotReturned` when Graph kept omitting it).
    pub code: String,
    /// Graph's message.
    pub message: String,
}

/// What a finished capture did.
#[derive(Debug, Clone)]
pub struct CaptureReport {
    /// The archive written.
    pub path: PathBuf,
    /// Its id.
    pub archive_id: ArchiveId,
    /// The mailbox captured.
    pub mailbox_id: String,
    /// The base archive's id, for an incremental capture.
    pub base_archive: Option<ArchiveId>,
    /// True when this run continued an interrupted one.
    pub resumed: bool,
    /// Folders in the manifest (the whole tree).
    pub folders: usize,
    /// Folders whose items were captured (after `--folder`).
    pub folders_captured: usize,
    /// Items in the manifest, failed ones included.
    pub items: usize,
    /// Distinct blobs the items reference.
    pub blobs: usize,
    /// Sum of the distinct blobs' lengths (uncompressed bytes held).
    pub bytes: u64,
    /// Items exported from Graph by this run.
    pub exported: u64,
    /// Items copied from the base archive by this run.
    pub copied: u64,
    /// Items Graph refused to export (also in the manifest).
    pub failed: Vec<FailedItem>,
    /// Items deleted between listing and export: not a failure, not in the archive.
    pub vanished: Vec<String>,
    /// Folder paths listed in full because their delta token had expired.
    pub delta_expired: Vec<String>,
    /// Retries the client made (throttling and transient errors) in this run.
    pub retries: u64,
    /// Seconds the client spent waiting before those retries.
    pub retry_wait_secs: f64,
    /// Wall time of this run.
    pub elapsed: Duration,
}

impl CaptureReport {
    /// True when every listed item is in the archive (exit code 0).
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}
