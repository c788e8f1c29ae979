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

impl Manifest {
    /// Deepest folder path [`Manifest::folder_paths`] spells out. Exchange Online allows 300
    /// levels of folders.
    pub const MAX_FOLDER_DEPTH: usize = 300;

    /// Display-name path of every folder (`Inbox/Projects`), keyed by folder id.
    ///
    /// Path components are joined with `/`; a parent missing from the manifest ends the path, and
    /// a parent cycle (a corrupt manifest) is cut at the first repeat. Paths are cut to their last
    /// [`MAX_FOLDER_DEPTH`](Self::MAX_FOLDER_DEPTH) components (prefixed `…/`), so that a hostile
    /// manifest of one very deep chain costs linear, not quadratic, time and memory.
    pub fn folder_paths(&self) -> std::collections::HashMap<&str, String> {
        let by_id: std::collections::HashMap<&str, &Folder> =
            self.folders.iter().map(|f| (f.id.as_str(), f)).collect();
        let mut out = std::collections::HashMap::with_capacity(self.folders.len());
        for f in &self.folders {
            let mut parts = vec![f.display_name.as_str()];
            let mut seen = std::collections::HashSet::from([f.id.as_str()]);
            let mut cur = f.parent_id.as_deref();
            while let Some(pid) = cur {
                let Some(p) = by_id.get(pid) else { break };
                if !seen.insert(pid) {
                    break;
                }
                if parts.len() >= Self::MAX_FOLDER_DEPTH {
                    parts.push("…");
                    break;
                }
                parts.push(p.display_name.as_str());
                cur = p.parent_id.as_deref();
            }
            parts.reverse();
            out.insert(f.id.as_str(), parts.join("/"));
        }
        out
    }

    /// Items that were exported but failed (`ExportFailed`).
    pub fn failed_items(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| matches!(i.content, ItemContent::ExportFailed { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, parent: Option<&str>, name: &str) -> Folder {
        Folder {
            id: id.into(),
            parent_id: parent.map(Into::into),
            display_name: name.into(),
            folder_class: "IPF.Note".into(),
            well_known_name: None,
            item_count: 0,
        }
    }

    #[test]
    fn folder_paths_follow_parents_and_survive_cycles() {
        let m = Manifest {
            source: Source {
                tenant_id: String::new(),
                user: String::new(),
                mailbox_id: String::new(),
                kind: MailboxKind::Primary,
            },
            capture: CaptureInfo {
                tool_version: String::new(),
                started_at: String::new(),
                finished_at: String::new(),
                base_archive: None,
                folders_delta_link: None,
                item_delta_links: vec![],
            },
            folders: vec![
                folder("a", None, "Inbox"),
                folder("b", Some("a"), "Projects"),
                folder("c", Some("b"), "X"),
                folder("d", Some("zz"), "Orphan"),
                folder("e", Some("f"), "E"),
                folder("f", Some("e"), "F"),
            ],
            items: vec![],
        };
        let p = m.folder_paths();
        assert_eq!(p["c"], "Inbox/Projects/X");
        assert_eq!(p["d"], "Orphan");
        assert_eq!(p["e"], "F/E");

        // A chain far deeper than Exchange allows: paths are cut, not quadratic.
        let mut deep = m.clone();
        deep.folders = (0..2000)
            .map(|i| {
                let parent = (i > 0).then(|| format!("f{}", i - 1));
                folder(&format!("f{i}"), parent.as_deref(), "d")
            })
            .collect();
        let p = deep.folder_paths();
        let last: Vec<&str> = p["f1999"].split('/').collect();
        assert_eq!(last.len(), Manifest::MAX_FOLDER_DEPTH + 1);
        assert_eq!(last[0], "…");
        assert_eq!(p["f2"], "d/d/d");
    }
}
