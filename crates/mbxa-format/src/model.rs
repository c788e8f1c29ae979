//! Domain types other crates use: [`Manifest`], [`Folder`], [`Item`], [`Source`], [`CaptureInfo`].
//!
//! These are not the serialized form; `crate::wire` converts them explicitly.

use serde::Serialize;

use crate::id::{ArchiveId, BlobId};

/// Which of a user's mailboxes was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// The user's primary mailbox.
    Primary,
    /// The user's in-place archive mailbox.
    Archive,
}

/// Where the archive's content came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Entra tenant id.
    pub tenant_id: String,
    /// The user (UPN or id) as given to capture.
    pub user: String,
    /// Exchange mailbox id (from exchangeSettings).
    pub mailbox_id: String,
    /// Primary or archive mailbox.
    pub kind: MailboxKind,
}

/// A folder's delta link, kept for the next incremental capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderDeltaLink {
    /// Folder id.
    pub folder_id: String,
    /// Graph's `@odata.deltaLink` for the folder's items.
    pub delta_link: String,
}

/// How and when the archive was captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureInfo {
    /// `mbxa` version that wrote the archive.
    pub tool_version: String,
    /// RFC 3339 UTC, e.g. `2026-11-27T12:00:00Z`.
    pub started_at: String,
    /// RFC 3339 UTC.
    pub finished_at: String,
    /// The archive this one was captured incrementally from, if any.
    pub base_archive: Option<ArchiveId>,
    /// Delta link of the folder hierarchy.
    pub folders_delta_link: Option<String>,
    /// Per-folder item delta links.
    pub item_delta_links: Vec<FolderDeltaLink>,
}

/// A mailbox folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Folder {
    /// Graph folder id.
    pub id: String,
    /// Parent folder id; `None` for a top-level folder.
    pub parent_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Folder class, e.g. `IPF.Note`.
    pub folder_class: String,
    /// Well-known name, e.g. `inbox`.
    pub well_known_name: Option<String>,
    /// Item count Graph reported.
    pub item_count: u64,
}

/// What the archive holds for an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemContent {
    /// The exported FastTransfer bytes, stored as a blob.
    Blob {
        /// SHA-256 of the bytes.
        id: BlobId,
        /// Length of the bytes.
        len: u64,
    },
    /// exportItems returned an error for the item.
    ExportFailed {
        /// Graph error code.
        code: String,
        /// Graph error message.
        message: String,
    },
}

/// A mailbox item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Graph item id.
    pub id: String,
    /// Id of the folder holding it.
    pub folder_id: String,
    /// Change key at export.
    pub change_key: String,
    /// RFC 3339 as Graph gave it.
    pub created: String,
    /// RFC 3339 as Graph gave it.
    pub last_modified: String,
    /// Graph's `mailboxItem.size`.
    pub size: u64,
    /// Graph's `mailboxItem.type`, e.g. `IPM.Note`.
    pub message_class: String,
    /// The blob, or the export error.
    pub content: ItemContent,
}

impl Item {
    /// The item's blob id, if it was exported.
    pub fn blob(&self) -> Option<BlobId> {
        match &self.content {
            ItemContent::Blob { id, .. } => Some(*id),
            ItemContent::ExportFailed { .. } => None,
        }
    }
}

/// Everything an archive says about its content besides the blobs themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Where it came from.
    pub source: Source,
    /// How it was captured.
    pub capture: CaptureInfo,
    /// Folders, in capture order.
    pub folders: Vec<Folder>,
    /// Items, in capture order.
    pub items: Vec<Item>,
}
