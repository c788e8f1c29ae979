//! Pure planning: the folder tree, `--folder` selection, and which items to export or copy.

use std::collections::{HashMap, HashSet};

use mbxa_format::{ArchiveId, BlobId, Folder, Item, ItemContent, Manifest};
use mbxa_graph::{MailboxFolder, MailboxItem};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Serde for [`BlobId`] as 64 lowercase hex digits (the journal is JSON).
pub(crate) mod blob_hex {
    use mbxa_format::BlobId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &BlobId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BlobId, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("bad blob id"))
    }

    pub fn parse(s: &str) -> Option<BlobId> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(BlobId(out))
    }
}

/// An item's metadata as Graph listed it (everything the manifest keeps but the content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ItemMeta {
    pub id: String,
    pub folder_id: String,
    pub change_key: String,
    pub created: String,
    pub last_modified: String,
    pub size: u64,
    pub message_class: String,
}

impl ItemMeta {
    pub fn from_graph(folder_id: &str, m: &MailboxItem) -> Self {
        ItemMeta {
            id: m.id.clone(),
            folder_id: folder_id.to_string(),
            change_key: m.change_key.clone(),
            created: m.created.clone(),
            last_modified: m.last_modified.clone(),
            size: m.size,
            message_class: m.item_type.clone(),
        }
    }

    fn from_item(folder_id: &str, it: &Item) -> Self {
        ItemMeta {
            id: it.id.clone(),
            folder_id: folder_id.to_string(),
            change_key: it.change_key.clone(),
            created: it.created.clone(),
            last_modified: it.last_modified.clone(),
            size: it.size,
            message_class: it.message_class.clone(),
        }
    }

    /// The manifest item with this metadata and `content`.
    pub fn into_item(self, content: ItemContent) -> Item {
        Item {
            id: self.id,
            folder_id: self.folder_id,
            change_key: self.change_key,
            created: self.created,
            last_modified: self.last_modified,
            size: self.size,
            message_class: self.message_class,
            content,
        }
    }
}

/// A blob of the base archive that an item can reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BaseBlob {
    #[serde(with = "blob_hex")]
    pub id: BlobId,
    pub len: u64,
}

/// One current item of a folder and where its content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Planned {
    pub meta: ItemMeta,
    /// `Some`: copy this blob from the base archive; `None`: export from Graph.
    pub reuse: Option<BaseBlob>,
}

/// The previous archive (`--base`), indexed for reuse decisions.
pub(crate) struct Base {
    pub id: ArchiveId,
    pub manifest: Manifest,
    by_id: HashMap<String, usize>,
    /// Change keys that name exactly one base item (a moved item may get a new id).
    by_change_key: HashMap<String, usize>,
    by_folder: HashMap<String, Vec<usize>>,
}

impl Base {
    pub fn new(id: ArchiveId, manifest: Manifest) -> Self {
        let mut by_id = HashMap::new();
        let mut by_folder: HashMap<String, Vec<usize>> = HashMap::new();
        let mut ck_count: HashMap<&str, (usize, usize)> = HashMap::new();
        for (i, it) in manifest.items.iter().enumerate() {
            by_id.insert(it.id.clone(), i);
            by_folder.entry(it.folder_id.clone()).or_default().push(i);
            let e = ck_count.entry(it.change_key.as_str()).or_insert((0, i));
            e.0 += 1;
        }
        let by_change_key = ck_count
            .into_iter()
            .filter(|(k, (n, _))| *n == 1 && !k.is_empty())
            .map(|(k, (_, i))| (k.to_string(), i))
            .collect();
        Base {
            id,
            manifest,
            by_id,
            by_change_key,
            by_folder,
        }
    }

    /// The base blob for an item whose current version is (`id`, `change_key`), if the base holds
    /// exactly that version: same id and change key, or (moved item with a new id) a change key
    /// that names one base item of the same class and size.
    pub fn reusable(&self, m: &ItemMeta) -> Option<BaseBlob> {
        let blob = |it: &Item| match it.content {
            ItemContent::Blob { id, len } => Some(BaseBlob { id, len }),
            ItemContent::ExportFailed { .. } => None,
        };
        if let Some(&i) = self.by_id.get(&m.id) {
            let it = self.manifest.items.get(i)?;
            return if it.change_key == m.change_key {
                blob(it)
            } else {
                None
            };
        }
        let &i = self.by_change_key.get(&m.change_key)?;
        let it = self.manifest.items.get(i)?;
        if it.message_class == m.message_class && it.size == m.size {
            blob(it)
        } else {
            None
        }
    }

    /// The item delta link the base recorded for a folder.
    pub fn item_delta_link(&self, folder_id: &str) -> Option<&str> {
        self.manifest
            .capture
            .item_delta_links
            .iter()
            .find(|l| l.folder_id == folder_id)
            .map(|l| l.delta_link.as_str())
    }

    fn folder_items(&self, folder_id: &str) -> impl Iterator<Item = &Item> {
        self.by_folder
            .get(folder_id)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.manifest.items.get(i))
    }
}

/// What listing a folder returned.
pub(crate) enum Listing {
    /// Every current item (no usable delta link).
    Full(Vec<MailboxItem>),
    /// Changes since the base's delta link.
    Delta {
        changed: Vec<MailboxItem>,
        removed: Vec<String>,
    },
}

/// The folder's current items and, for each, whether to copy it from the base or export it.
pub(crate) fn plan_folder(folder_id: &str, listing: Listing, base: Option<&Base>) -> Vec<Planned> {
    let plan = |meta: ItemMeta| {
        let reuse = base.and_then(|b| b.reusable(&meta));
        Planned { meta, reuse }
    };
    match listing {
        Listing::Full(items) => {
            let mut seen = HashSet::new();
            items
                .iter()
                .filter(|m| seen.insert(m.id.clone()))
                .map(|m| plan(ItemMeta::from_graph(folder_id, m)))
                .collect()
        }
        Listing::Delta { changed, removed } => {
            let gone: HashSet<&str> = removed.iter().map(String::as_str).collect();
            let changed_ids: HashSet<&str> = changed.iter().map(|m| m.id.as_str()).collect();
            let mut out: Vec<Planned> = base
                .map(|b| {
                    b.folder_items(folder_id)
                        .filter(|it| {
                            !gone.contains(it.id.as_str()) && !changed_ids.contains(it.id.as_str())
                        })
                        .map(|it| plan(ItemMeta::from_item(folder_id, it)))
                        .collect()
                })
                .unwrap_or_default();
            let mut seen = HashSet::new();
            out.extend(
                changed
                    .iter()
                    .filter(|m| seen.insert(m.id.clone()))
                    .map(|m| plan(ItemMeta::from_graph(folder_id, m))),
            );
            out
        }
    }
}

/// A Graph folder as the manifest keeps it.
pub(crate) fn folder_from_graph(f: &MailboxFolder) -> Folder {
    Folder {
        id: f.id.clone(),
        parent_id: f.parent_folder_id.clone(),
        display_name: f.display_name.clone(),
        folder_class: f.folder_type.clone(),
        well_known_name: f.well_known_name.clone(),
        item_count: f.total_item_count.unwrap_or(0),
    }
}

/// The base's folder tree with a folders delta applied (removed dropped, changed upserted).
pub(crate) fn apply_folder_delta(
    base: &[Folder],
    changed: &[Folder],
    removed: &[String],
) -> Vec<Folder> {
    let gone: HashSet<&str> = removed.iter().map(String::as_str).collect();
    let mut by_id: HashMap<String, Folder> = base
        .iter()
        .filter(|f| !gone.contains(f.id.as_str()))
        .map(|f| (f.id.clone(), f.clone()))
        .collect();
    for f in changed {
        by_id.insert(f.id.clone(), f.clone());
    }
    by_id.into_values().collect()
}

/// Whether a folder is the invisible root of the IPM subtree (its name is not part of paths).
fn is_root_container(f: &Folder) -> bool {
    f.well_known_name
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case("msgfolderroot"))
}

/// Display-name path (`Inbox/Projects`) of every folder, walking parents that are present.
pub(crate) fn folder_paths(folders: &[Folder]) -> HashMap<String, String> {
    let by_id: HashMap<&str, &Folder> = folders.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in folders {
        let mut parts = Vec::new();
        let mut cur = Some(f);
        let mut hops = 0;
        // The hop bound guards against a parent cycle in what the server sent.
        while let Some(c) = cur {
            if hops > folders.len() {
                break;
            }
            hops += 1;
            if !is_root_container(c) {
                parts.push(c.display_name.as_str());
            }
            cur = c.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
        }
        parts.reverse();
        out.insert(f.id.clone(), parts.join("/"));
    }
    out
}

/// Sorts folders by path (then id) so archives of the same mailbox state list them identically.
pub(crate) fn sort_folders(folders: &mut [Folder]) {
    let paths = folder_paths(folders);
    folders.sort_by(|a, b| {
        let pa = paths.get(&a.id).map(|p| p.to_lowercase());
        let pb = paths.get(&b.id).map(|p| p.to_lowercase());
        pa.cmp(&pb).then_with(|| a.id.cmp(&b.id))
    });
}

/// Normalises a user-given folder path: trims slashes and blanks around parts, lowercases.
fn norm_path(p: &str) -> String {
    p.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
        .to_lowercase()
}

/// Ids of the folders whose items to capture, in `folders` order: every folder when `filters`
/// is empty, else the subtrees rooted at the named display-name paths (case-insensitive).
pub(crate) fn select_folders(
    folders: &[Folder],
    filters: &[String],
    mailbox_id: &str,
) -> Result<Vec<String>> {
    let paths = folder_paths(folders);
    if filters.is_empty() {
        return Ok(folders
            .iter()
            .filter(|f| !is_root_container(f))
            .map(|f| f.id.clone())
            .collect());
    }
    let wanted: Vec<String> = filters.iter().map(|f| norm_path(f)).collect();
    for (raw, w) in filters.iter().zip(&wanted) {
        if !paths.values().any(|p| p.to_lowercase() == *w) {
            return Err(Error::FolderNotFound {
                path: raw.clone(),
                mailbox_id: mailbox_id.to_string(),
            });
        }
    }
    Ok(folders
        .iter()
        .filter(|f| !is_root_container(f))
        .filter(|f| {
            let p = paths
                .get(&f.id)
                .map(|p| p.to_lowercase())
                .unwrap_or_default();
            wanted.iter().any(|w| {
                p == *w
                    || (p.len() > w.len()
                        && p.starts_with(w.as_str())
                        && p.as_bytes()[w.len()] == b'/')
            })
        })
        .map(|f| f.id.clone())
        .collect())
}

/// Whether a per-item export error means the item no longer exists (deleted after listing).
pub(crate) fn is_vanished_code(code: &str) -> bool {
    code.to_ascii_lowercase().contains("notfound")
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
    fn paths_and_selection() {
        let mut root = folder("r", None, "Top of Information Store");
        root.well_known_name = Some("msgfolderroot".into());
        let fs = vec![
            root,
            folder("i", Some("r"), "Inbox"),
            folder("p", Some("i"), "Projects"),
            folder("q", Some("p"), "Q1"),
            folder("pp", Some("i"), "Projects2"),
            folder("s", Some("r"), "Sent Items"),
        ];
        let paths = folder_paths(&fs);
        assert_eq!(paths["q"], "Inbox/Projects/Q1");
        assert_eq!(paths["s"], "Sent Items");
        let sel = select_folders(&fs, &["inbox/projects/".into()], "m").unwrap();
        assert_eq!(sel, vec!["p".to_string(), "q".to_string()]);
        let all = select_folders(&fs, &[], "m").unwrap();
        assert_eq!(all.len(), 5);
        assert!(matches!(
            select_folders(&fs, &["Nope".into()], "m"),
            Err(Error::FolderNotFound { .. })
        ));
    }

    #[test]
    fn folder_delta_applies() {
        let base = vec![folder("a", None, "A"), folder("b", None, "B")];
        let out = apply_folder_delta(
            &base,
            &[folder("c", None, "C"), folder("a", None, "A2")],
            &["b".into()],
        );
        let mut names: Vec<_> = out.iter().map(|f| f.display_name.clone()).collect();
        names.sort();
        assert_eq!(names, vec!["A2", "C"]);
    }

    #[test]
    fn cycle_in_parents_terminates() {
        let fs = vec![folder("a", Some("b"), "A"), folder("b", Some("a"), "B")];
        let p = folder_paths(&fs);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn vanished_codes() {
        assert!(is_vanished_code("ErrorItemNotFound"));
        assert!(is_vanished_code("itemNotFound"));
        assert!(!is_vanished_code("ErrorInternalServerError"));
    }
}
