//! The folder plan: the archive's folder tree mapped onto the target's, and the item filters.
//!
//! Pure functions over folder lists, so the mapping rules are testable without a server:
//! - default: a well-known source folder goes to the target folder with the same `wellKnownName`
//!   (whatever its display name or language); other folders go by display-name path under their
//!   mapped parent (exact name first, then case-insensitive, as Exchange names are), created with
//!   the source folder class where missing;
//! - `--into PATH`: the whole tree goes under `PATH` (created where missing), by display name only;
//! - system folders (recoverable items, search folders, sync issues) and their subtrees
//!   are never replayed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{Error, Result};

/// Well-known folders never replayed: Exchange owns their content (recoverable items, search
/// folders, sync-issue logs). The Outbox is replayed: imported items are not submitted.
pub const SYSTEM_WELL_KNOWN: &[&str] = &[
    "recoverableitemsroot",
    "recoverableitemsdeletions",
    "recoverableitemspurges",
    "recoverableitemsversions",
    "recoverableitemsdiscoveryholds",
    "recoverableitemssubstrateholds",
    "searchfolders",
    "syncissues",
    "conflicts",
    "localfailures",
    "serverfailures",
];

/// The well-known name of the mailbox root; its children are the top level.
const ROOT_WELL_KNOWN: &str = "msgfolderroot";

/// Deepest folder nesting followed; deeper (or cyclic) parent chains are cut there.
const MAX_DEPTH: usize = 64;

/// A folder of the target mailbox, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFolder {
    /// Folder id.
    pub id: String,
    /// Parent folder id (`None` or an unlisted id: top level).
    pub parent_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Folder class (`IPF.Note`, ...).
    pub folder_class: String,
    /// Locale-independent name of Outlook-created folders.
    pub well_known_name: Option<String>,
    /// Items in it (0 means: no search-key lookup needed).
    pub total_item_count: u64,
}

impl From<mbxa_graph::MailboxFolder> for TargetFolder {
    fn from(f: mbxa_graph::MailboxFolder) -> Self {
        TargetFolder {
            id: f.id,
            parent_id: f.parent_folder_id,
            display_name: f.display_name,
            folder_class: f.folder_type,
            well_known_name: f.well_known_name,
            total_item_count: f.total_item_count.unwrap_or(0),
        }
    }
}

/// Where a planned folder's parent is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parent {
    /// The top level of the mailbox.
    Root,
    /// An existing target folder.
    Existing(String),
    /// Another node of the plan (index into [`FolderPlan::nodes`]), created before this one.
    Node(usize),
}

/// A target folder of the plan: existing, or to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Already in the target.
    Existing {
        /// Target folder id.
        id: String,
        /// Its item count when listed.
        item_count: u64,
    },
    /// To create.
    Create {
        /// Where.
        parent: Parent,
        /// Display name.
        name: String,
        /// Folder class.
        class: String,
    },
}

/// One target folder of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Display-name path in the target (`Inbox/Projects`).
    pub path: String,
    /// Existing or to create.
    pub state: NodeState,
}

/// How a source folder is treated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceMapping {
    /// Replayed into plan node `n`.
    Node(usize),
    /// Not selected by `--folder`.
    NotSelected,
    /// A system folder (or inside one): never replayed.
    System,
    /// The mailbox root itself: not a folder items go into.
    Root,
}

/// The archive's folders mapped onto the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderPlan {
    /// Target folders, parents before children.
    pub nodes: Vec<Node>,
    /// Source folder id → mapping.
    pub sources: HashMap<String, SourceMapping>,
    /// Source folder id → display-name path in the archive.
    pub source_paths: HashMap<String, String>,
}

impl FolderPlan {
    /// Number of folders to create.
    pub fn to_create(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.state, NodeState::Create { .. }))
            .count()
    }
}

/// Display-name paths of the archive's folders, and which are system folders or the root.
struct SourceTree<'a> {
    by_id: HashMap<&'a str, &'a mbxa_format::Folder>,
    root_ids: HashSet<&'a str>,
}

impl<'a> SourceTree<'a> {
    fn new(folders: &'a [mbxa_format::Folder]) -> Self {
        let by_id = folders.iter().map(|f| (f.id.as_str(), f)).collect();
        let root_ids = folders
            .iter()
            .filter(|f| f.well_known_name.as_deref() == Some(ROOT_WELL_KNOWN))
            .map(|f| f.id.as_str())
            .collect();
        SourceTree { by_id, root_ids }
    }

    /// The chain from the top level down to `id` (excluding the root), bounded.
    fn chain(&self, id: &'a str) -> Vec<&'a mbxa_format::Folder> {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            if self.root_ids.contains(c) || !seen.insert(c) || chain.len() >= MAX_DEPTH {
                break;
            }
            let Some(f) = self.by_id.get(c) else { break };
            chain.push(*f);
            cur = f.parent_id.as_deref();
        }
        chain.reverse();
        chain
    }
}

/// Joins display names into a path.
fn join(names: &[&str]) -> String {
    names.join("/")
}

/// Splits a user-given path (`Inbox/Projects`, leading/trailing `/` ignored).
fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn is_system(f: &mbxa_format::Folder) -> bool {
    f.well_known_name
        .as_deref()
        .is_some_and(|w| SYSTEM_WELL_KNOWN.iter().any(|s| s.eq_ignore_ascii_case(w)))
}

/// Index of the target tree: children by parent, well-known names.
struct TargetTree<'a> {
    children: HashMap<Option<&'a str>, Vec<&'a TargetFolder>>,
    parent: HashMap<&'a str, &'a TargetFolder>,
    well_known: HashMap<String, &'a TargetFolder>,
}

impl<'a> TargetTree<'a> {
    fn new(folders: &'a [TargetFolder]) -> Self {
        let by_id: HashMap<&str, &TargetFolder> =
            folders.iter().map(|f| (f.id.as_str(), f)).collect();
        let root_ids: HashSet<&str> = folders
            .iter()
            .filter(|f| f.well_known_name.as_deref() == Some(ROOT_WELL_KNOWN))
            .map(|f| f.id.as_str())
            .collect();
        let mut children: HashMap<Option<&str>, Vec<&TargetFolder>> = HashMap::new();
        let mut well_known = HashMap::new();
        let mut parent_of = HashMap::new();
        for f in folders {
            if root_ids.contains(f.id.as_str()) {
                continue;
            }
            let parent = match f.parent_id.as_deref() {
                Some(p) if by_id.contains_key(p) && !root_ids.contains(p) => Some(p),
                _ => None,
            };
            if let Some(p) = parent.and_then(|p| by_id.get(p)) {
                parent_of.insert(f.id.as_str(), *p);
            }
            children.entry(parent).or_default().push(f);
            if let Some(w) = &f.well_known_name {
                well_known.entry(w.to_ascii_lowercase()).or_insert(f);
            }
        }
        TargetTree {
            children,
            parent: parent_of,
            well_known,
        }
    }

    /// The child of `parent` named `name`: exact match first, then case-insensitive.
    fn child(&self, parent: Option<&str>, name: &str) -> Option<&'a TargetFolder> {
        let kids = self.children.get(&parent)?;
        kids.iter()
            .find(|f| f.display_name == name)
            .or_else(|| {
                let lower = name.to_lowercase();
                kids.iter().find(|f| f.display_name.to_lowercase() == lower)
            })
            .copied()
    }
}

/// Builds plan nodes, deduplicating creations of the same (parent, name).
struct Builder<'a> {
    target: TargetTree<'a>,
    nodes: Vec<Node>,
    existing: HashMap<String, usize>,
    planned: HashMap<(usize, String), usize>,
    planned_root: HashMap<String, usize>,
}

impl<'a> Builder<'a> {
    fn existing(&mut self, f: &TargetFolder, path: String) -> usize {
        if let Some(&n) = self.existing.get(&f.id) {
            return n;
        }
        self.nodes.push(Node {
            path,
            state: NodeState::Existing {
                id: f.id.clone(),
                item_count: f.total_item_count,
            },
        });
        let n = self.nodes.len() - 1;
        self.existing.insert(f.id.clone(), n);
        n
    }

    /// The node for folder `name` under `parent` (`None`: top level), found or planned.
    fn child(&mut self, parent: Option<usize>, name: &str, class: &str) -> usize {
        let parent_path = parent.map(|p| self.nodes[p].path.clone());
        let path = match &parent_path {
            Some(p) => format!("{p}/{name}"),
            None => name.to_owned(),
        };
        let parent_target = match parent {
            None => Some(None),
            Some(p) => match &self.nodes[p].state {
                NodeState::Existing { id, .. } => Some(Some(id.clone())),
                NodeState::Create { .. } => None,
            },
        };
        if let Some(pt) = parent_target {
            if let Some(f) = self.target.child(pt.as_deref(), name) {
                let f = f.clone();
                return self.existing(&f, path);
            }
        }
        let key = name.to_lowercase();
        let found = match parent {
            Some(p) => self.planned.get(&(p, key.clone())).copied(),
            None => self.planned_root.get(&key).copied(),
        };
        if let Some(n) = found {
            return n;
        }
        let parent_ref = match parent {
            None => Parent::Root,
            Some(p) => match &self.nodes[p].state {
                NodeState::Existing { id, .. } => Parent::Existing(id.clone()),
                NodeState::Create { .. } => Parent::Node(p),
            },
        };
        self.nodes.push(Node {
            path,
            state: NodeState::Create {
                parent: parent_ref,
                name: name.to_owned(),
                class: class.to_owned(),
            },
        });
        let n = self.nodes.len() - 1;
        match parent {
            Some(p) => self.planned.insert((p, key), n),
            None => self.planned_root.insert(key, n),
        };
        n
    }
}

/// Maps the archive's folders onto the target's.
///
/// `into`: the `--into` path; `selected`: the `--folder` paths (empty: everything).
///
/// # Errors
/// A `--folder` path that names no archive folder; an `--into` path with no segment.
pub fn plan_folders(
    source: &[mbxa_format::Folder],
    target: &[TargetFolder],
    into: Option<&str>,
    selected: &[String],
) -> Result<FolderPlan> {
    let tree = SourceTree::new(source);
    let mut b = Builder {
        target: TargetTree::new(target),
        nodes: Vec::new(),
        existing: HashMap::new(),
        planned: HashMap::new(),
        planned_root: HashMap::new(),
    };

    // Source paths; folders ordered parents first (by chain length) so nodes are too.
    let mut chains: Vec<(&mbxa_format::Folder, Vec<&mbxa_format::Folder>)> = source
        .iter()
        .map(|f| (f, tree.chain(f.id.as_str())))
        .collect();
    chains.sort_by_key(|(_, c)| c.len());
    let mut source_paths = HashMap::new();
    for (f, chain) in &chains {
        let names: Vec<&str> = chain.iter().map(|c| c.display_name.as_str()).collect();
        source_paths.insert(f.id.clone(), join(&names));
    }

    let wanted: Vec<String> = selected
        .iter()
        .map(|p| join(&split_path(p)).to_lowercase())
        .collect();
    for (w, given) in wanted.iter().zip(selected) {
        if !source_paths.values().any(|p| p.to_lowercase() == *w) {
            return Err(Error::FolderNotInArchive {
                path: given.clone(),
            });
        }
    }
    let is_selected = |path: &str| {
        if wanted.is_empty() {
            return true;
        }
        let p = path.to_lowercase();
        wanted
            .iter()
            .any(|w| p == *w || (p.starts_with(w.as_str()) && p[w.len()..].starts_with('/')))
    };

    let into_node = match into {
        None => None,
        Some(p) => {
            let segs = split_path(p);
            if segs.is_empty() {
                return Err(Error::InvalidInto { path: p.to_owned() });
            }
            let mut parent = None;
            for s in segs {
                parent = Some(b.child(parent, s, "IPF.Note"));
            }
            parent
        }
    };

    let mut sources = HashMap::new();
    // Node of each replayed source folder, to place its children.
    let mut node_of: HashMap<&str, usize> = HashMap::new();
    for (f, chain) in &chains {
        let mapping = if tree.root_ids.contains(f.id.as_str()) {
            SourceMapping::Root
        } else if chain.iter().any(|c| is_system(c)) {
            SourceMapping::System
        } else if !is_selected(&source_paths[&f.id]) {
            SourceMapping::NotSelected
        } else {
            let parent_node = match chain.len() {
                0 | 1 => into_node,
                n => match node_of.get(chain[n - 2].id.as_str()) {
                    Some(&p) => Some(p),
                    // The parent is not replayed (not selected): recreate the path to it.
                    None => {
                        let mut p = into_node;
                        for c in &chain[..n - 1] {
                            p = Some(place(&mut b, p, c, into.is_some()));
                        }
                        p
                    }
                },
            };
            let n = place(&mut b, parent_node, f, into.is_some());
            node_of.insert(f.id.as_str(), n);
            SourceMapping::Node(n)
        };
        sources.insert(f.id.clone(), mapping);
    }
    Ok(FolderPlan {
        nodes: b.nodes,
        sources,
        source_paths,
    })
}

/// The node for source folder `f` under `parent`: by well-known name (default mode, top-level
/// semantics do not matter: a well-known folder is found wherever it is), else by name.
fn place(b: &mut Builder<'_>, parent: Option<usize>, f: &mbxa_format::Folder, into: bool) -> usize {
    if !into {
        if let Some(w) = &f.well_known_name {
            if let Some(t) = b.target.well_known.get(&w.to_ascii_lowercase()).copied() {
                let t = t.clone();
                let path = target_path(&b.target, &t);
                return b.existing(&t, path);
            }
        }
    }
    b.child(parent, &f.display_name, &f.folder_class)
}

/// Display-name path of an existing target folder.
fn target_path(tree: &TargetTree<'_>, f: &TargetFolder) -> String {
    let mut names = vec![f.display_name.as_str()];
    let mut cur = f.id.as_str();
    while let Some(p) = tree.parent.get(cur) {
        if names.len() >= MAX_DEPTH {
            break;
        }
        names.push(p.display_name.as_str());
        cur = p.id.as_str();
    }
    names.reverse();
    join(&names)
}

/// Item filters: `--since`, `--until`, message class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only items created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only items created before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only these message classes (and their subclasses: `IPM.Note` matches `IPM.Note.SMIME`).
    pub message_classes: Vec<String>,
}

impl ItemFilter {
    /// True when `item` passes every filter. An item whose date cannot be read fails a date filter.
    pub fn matches(&self, item: &mbxa_format::Item) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Ok(created) = DateTime::parse_from_rfc3339(&item.created) else {
                return false;
            };
            let created = created.with_timezone(&Utc);
            if self.since.is_some_and(|s| created < s) || self.until.is_some_and(|u| created >= u) {
                return false;
            }
        }
        if !self.message_classes.is_empty() {
            let class = item.message_class.to_ascii_lowercase();
            let ok = self.message_classes.iter().any(|c| {
                let c = c.to_ascii_lowercase();
                class == c || (class.starts_with(&c) && class[c.len()..].starts_with('.'))
            });
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Parses a `--since`/`--until` value: RFC 3339 (`2024-05-01T12:00:00Z`) or a date
/// (`2024-05-01`). A date means the start of that day (UTC) for `--since`; for `--until`
/// (`end_of_day`), the end of that day, so the day is included.
pub fn parse_date(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let d = if end_of_day { d.succ_opt()? } else { d };
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mbxa_format::Folder;

    fn sf(id: &str, parent: Option<&str>, name: &str, wkn: Option<&str>) -> Folder {
        Folder {
            id: id.into(),
            parent_id: parent.map(Into::into),
            display_name: name.into(),
            folder_class: "IPF.Note".into(),
            well_known_name: wkn.map(Into::into),
            item_count: 1,
        }
    }

    fn tf(id: &str, parent: Option<&str>, name: &str, wkn: Option<&str>) -> TargetFolder {
        TargetFolder {
            id: id.into(),
            parent_id: parent.map(Into::into),
            display_name: name.into(),
            folder_class: "IPF.Note".into(),
            well_known_name: wkn.map(Into::into),
            total_item_count: 0,
        }
    }

    fn source() -> Vec<Folder> {
        vec![
            sf(
                "sroot",
                None,
                "Top of Information Store",
                Some("msgfolderroot"),
            ),
            sf("sin", Some("sroot"), "Posteingang", Some("inbox")),
            sf("sproj", Some("sin"), "Projekte", None),
            sf("sx", Some("sproj"), "X", None),
            sf("suser", Some("sroot"), "Receipts", None),
            sf(
                "srec",
                Some("sroot"),
                "Recoverable Items",
                Some("recoverableitemsroot"),
            ),
            sf(
                "sdel",
                Some("srec"),
                "Deletions",
                Some("recoverableitemsdeletions"),
            ),
        ]
    }

    fn target() -> Vec<TargetFolder> {
        vec![
            tf("tin", Some("troot"), "Inbox", Some("inbox")),
            tf("tsent", Some("troot"), "Sent Items", Some("sentitems")),
            tf("treceipts", Some("troot"), "receipts", None),
        ]
    }

    fn node_of<'a>(p: &'a FolderPlan, src: &str) -> &'a Node {
        match &p.sources[src] {
            SourceMapping::Node(n) => &p.nodes[*n],
            other => panic!("{src} not replayed: {other:?}"),
        }
    }

    #[test]
    fn well_known_by_name_user_folders_by_path() {
        let p = plan_folders(&source(), &target(), None, &[]).unwrap();
        // Localised source inbox lands in the target inbox.
        assert_eq!(
            node_of(&p, "sin").state,
            NodeState::Existing {
                id: "tin".into(),
                item_count: 0
            }
        );
        assert_eq!(node_of(&p, "sin").path, "Inbox");
        // User folder matched case-insensitively.
        assert!(
            matches!(&node_of(&p, "suser").state, NodeState::Existing { id, .. } if id == "treceipts")
        );
        // Missing folders created under the mapped parent, nested ones under planned nodes.
        assert_eq!(
            node_of(&p, "sproj").state,
            NodeState::Create {
                parent: Parent::Existing("tin".into()),
                name: "Projekte".into(),
                class: "IPF.Note".into()
            }
        );
        assert_eq!(node_of(&p, "sx").path, "Inbox/Projekte/X");
        assert!(matches!(
            &node_of(&p, "sx").state,
            NodeState::Create {
                parent: Parent::Node(_),
                ..
            }
        ));
        assert_eq!(p.sources["sroot"], SourceMapping::Root);
        assert_eq!(p.sources["srec"], SourceMapping::System);
        assert_eq!(p.sources["sdel"], SourceMapping::System);
        assert_eq!(p.to_create(), 2);
        assert_eq!(p.source_paths["sx"], "Posteingang/Projekte/X");
    }

    #[test]
    fn into_puts_everything_under_a_new_folder() {
        let p = plan_folders(&source(), &target(), Some("Restored/2026"), &[]).unwrap();
        assert_eq!(node_of(&p, "sin").path, "Restored/2026/Posteingang");
        assert_eq!(
            node_of(&p, "sx").path,
            "Restored/2026/Posteingang/Projekte/X"
        );
        assert_eq!(node_of(&p, "suser").path, "Restored/2026/Receipts");
        // Restored, 2026, Posteingang, Projekte, X, Receipts.
        assert_eq!(p.to_create(), 6);
        assert_eq!(p.nodes[0].path, "Restored");
        assert!(matches!(
            p.nodes[0].state,
            NodeState::Create {
                parent: Parent::Root,
                ..
            }
        ));
    }

    #[test]
    fn into_reuses_an_existing_path() {
        let mut t = target();
        t.push(tf("tr", Some("troot"), "Restored", None));
        let p = plan_folders(&source(), &t, Some("/Restored/"), &[]).unwrap();
        assert!(matches!(&p.nodes[0].state, NodeState::Existing { id, .. } if id == "tr"));
        assert_eq!(
            node_of(&p, "suser").state,
            NodeState::Create {
                parent: Parent::Existing("tr".into()),
                name: "Receipts".into(),
                class: "IPF.Note".into()
            }
        );
    }

    #[test]
    fn folder_selection_takes_subtrees() {
        let p = plan_folders(&source(), &target(), None, &["posteingang/projekte".into()]).unwrap();
        assert_eq!(p.sources["sin"], SourceMapping::NotSelected);
        assert_eq!(p.sources["suser"], SourceMapping::NotSelected);
        assert_eq!(node_of(&p, "sproj").path, "Inbox/Projekte");
        assert_eq!(node_of(&p, "sx").path, "Inbox/Projekte/X");
        let err = plan_folders(&source(), &target(), None, &["Nope".into()]).unwrap_err();
        assert!(matches!(err, Error::FolderNotInArchive { .. }));
    }

    #[test]
    fn archive_without_root_folder_is_top_level_by_parent() {
        let src = vec![
            sf("a", Some("gone"), "Inbox", Some("inbox")),
            sf("b", Some("a"), "Sub", None),
        ];
        let p = plan_folders(&src, &target(), None, &[]).unwrap();
        assert_eq!(node_of(&p, "b").path, "Inbox/Sub");
    }

    #[test]
    fn cyclic_parents_do_not_hang() {
        let src = vec![sf("a", Some("b"), "A", None), sf("b", Some("a"), "B", None)];
        let p = plan_folders(&src, &[], None, &[]).unwrap();
        assert_eq!(p.sources.len(), 2);
    }

    fn item(created: &str, class: &str) -> mbxa_format::Item {
        mbxa_format::Item {
            id: "i".into(),
            folder_id: "f".into(),
            change_key: "c".into(),
            created: created.into(),
            last_modified: created.into(),
            size: 1,
            message_class: class.into(),
            content: mbxa_format::ItemContent::ExportFailed {
                code: "x".into(),
                message: "y".into(),
            },
        }
    }

    #[test]
    fn filters() {
        let f = ItemFilter {
            since: parse_date("2024-05-01", false),
            until: parse_date("2024-05-31", true),
            message_classes: vec!["IPM.Note".into()],
        };
        assert!(f.matches(&item("2024-05-01T00:00:00Z", "IPM.Note")));
        assert!(f.matches(&item("2024-05-31T23:59:59Z", "IPM.Note.SMIME")));
        assert!(!f.matches(&item("2024-04-30T23:59:59Z", "IPM.Note")));
        assert!(!f.matches(&item("2024-06-01T00:00:00Z", "IPM.Note")));
        assert!(!f.matches(&item("2024-05-10T00:00:00Z", "IPM.Appointment")));
        assert!(!f.matches(&item("2024-05-10T00:00:00Z", "IPM.Notes")));
        assert!(!f.matches(&item("garbage", "IPM.Note")));
        assert!(ItemFilter::default().matches(&item("garbage", "X")));
        assert_eq!(
            parse_date("2024-05-01T10:00:00+02:00", false)
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T08:00:00+00:00"
        );
        assert!(parse_date("yesterday", false).is_none());
    }
}
