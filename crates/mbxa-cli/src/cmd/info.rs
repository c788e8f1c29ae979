//! `mbxa info`, `mbxa ls` and `mbxa diff`: what an archive holds.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mbxa_format::{ArchiveReader, Item, ItemContent, Manifest};
use serde::Serialize;

use crate::exit::Outcome;
use crate::output::Output;

/// Opens an archive with a message that names the file (exit 2 on failure).
fn open(path: &Path) -> anyhow::Result<ArchiveReader<File>> {
    ArchiveReader::open_path(path)
        .with_context(|| format!("cannot read archive {}", path.display()))
}

/// `1.5 KiB`-style sizes for humans.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn kind_name(k: mbxa_format::MailboxKind) -> &'static str {
    match k {
        mbxa_format::MailboxKind::Primary => "primary",
        mbxa_format::MailboxKind::Archive => "archive",
    }
}

/// Arguments of `mbxa info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The archive.
    pub archive: PathBuf,
}

#[derive(Serialize)]
struct InfoJson<'a> {
    archive: String,
    format_version: String,
    archive_id: String,
    source: &'a mbxa_format::Source,
    capture: &'a mbxa_format::CaptureInfo,
    counts: Counts,
    sizes: Sizes,
}

#[derive(Serialize)]
struct Counts {
    folders: usize,
    items: usize,
    failed_items: usize,
    unique_blobs: u64,
}

#[derive(Serialize)]
struct Sizes {
    /// Bytes of the whole file.
    file: u64,
    /// Stored (compressed) blob bytes.
    stored: u64,
    /// Uncompressed unique blob bytes.
    uncompressed: u64,
    /// Sum over items of their blob length (shared blobs counted per item).
    items: u64,
}

/// Runs `mbxa info`.
pub fn info(args: InfoArgs, out: &Output) -> anyhow::Result<Outcome> {
    let r = open(&args.archive)?;
    let m = r.manifest();
    let t = r.totals();
    let (major, minor) = r.version();
    let failed = m.failed_items().count();
    let item_bytes: u64 = m
        .items
        .iter()
        .map(|i| match i.content {
            ItemContent::Blob { len, .. } => len,
            ItemContent::ExportFailed { .. } => 0,
        })
        .sum();
    let doc = InfoJson {
        archive: args.archive.display().to_string(),
        format_version: format!("{major}.{minor}"),
        archive_id: r.archive_id().to_hex(),
        source: &m.source,
        capture: &m.capture,
        counts: Counts {
            folders: m.folders.len(),
            items: m.items.len(),
            failed_items: failed,
            unique_blobs: t.blob_count,
        },
        sizes: Sizes {
            file: t.file_len,
            stored: t.blob_stored_bytes,
            uncompressed: t.blob_bytes,
            items: item_bytes,
        },
    };
    if out.is_json() {
        out.json(&doc)?;
        return Ok(Outcome::Ok);
    }
    let s = &m.source;
    let c = &m.capture;
    out.line(&format!("archive       {}", doc.archive));
    out.line(&format!("format        mbxa {}", doc.format_version));
    out.line(&format!("archive id    {}", doc.archive_id));
    out.line(&format!("tenant        {}", s.tenant_id));
    out.line(&format!("user          {}", s.user));
    out.line(&format!(
        "mailbox       {} ({})",
        s.mailbox_id,
        kind_name(s.kind)
    ));
    out.line(&format!(
        "captured      {} → {} ({})",
        c.started_at, c.finished_at, c.tool_version
    ));
    out.line(&format!(
        "base archive  {}",
        c.base_archive
            .map(|a| a.to_hex())
            .unwrap_or_else(|| "none (full capture)".into())
    ));
    out.line(&format!("folders       {}", m.folders.len()));
    out.line(&format!(
        "items         {} ({} failed)",
        m.items.len(),
        failed
    ));
    out.line(&format!("unique blobs  {}", t.blob_count));
    out.line(&format!(
        "sizes         {} uncompressed, {} stored, {} file",
        human_size(t.blob_bytes),
        human_size(t.blob_stored_bytes),
        human_size(t.file_len)
    ));
    Ok(Outcome::Ok)
}

/// Arguments of `mbxa ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// The archive.
    pub archive: PathBuf,
    /// Only this folder subtree, by display-name path (e.g. `Inbox/Projects`).
    pub path: Option<String>,
    /// One line per item instead of the folder tree.
    #[arg(long)]
    pub items: bool,
}

/// A folder in `mbxa ls` output.
#[derive(Debug, Serialize)]
struct FolderRow {
    path: String,
    id: String,
    parent_id: Option<String>,
    folder_class: String,
    well_known_name: Option<String>,
    /// Items in the archive in this folder (not counting subfolders).
    items: u64,
    /// Of those, items whose export failed.
    failed: u64,
    /// Sum of the blob lengths of this folder's items.
    bytes: u64,
    /// Items Graph said the folder had at capture time.
    graph_item_count: u64,
    #[serde(skip)]
    depth: usize,
}

/// One item in `mbxa ls --items` output.
///
/// Extension point: `sender` and `subject` are left empty here; they are meant to be filled by
/// parsing the item's FastTransfer stream in [`item_row`].
#[derive(Debug, Serialize)]
pub struct ItemRow {
    /// Graph item id.
    pub id: String,
    /// Folder path.
    pub folder: String,
    /// Item date: submit/delivery time from the stream, else its `created` time.
    pub date: String,
    /// Graph's size.
    pub size: u64,
    /// Message class.
    pub message_class: String,
    /// Sender, when known.
    pub sender: Option<String>,
    /// Subject, when known.
    pub subject: Option<String>,
    /// Export error code, for items whose export failed.
    pub export_error: Option<String>,
}

/// Builds the `ls --items` row of an item. The reader is passed so that the row can be enriched
/// from the blob (sender, subject, delivery date) without changing callers.
pub fn item_row(reader: &mut ArchiveReader<File>, item: &Item, folder: &str) -> ItemRow {
    // Sender, subject and date come from a one-pass scan of the item's stream (attachment data is
    // skipped, not kept); an unreadable blob just leaves them empty.
    let summary = match &item.content {
        ItemContent::Blob { id, .. } => reader
            .blob_reader(id)
            .ok()
            .map(mbxa_fasttransfer::summarize),
        ItemContent::ExportFailed { .. } => None,
    };
    let summary = summary.unwrap_or_default();
    let date = summary
        .date
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| item.created.clone());
    let sender = summary
        .from
        .map(|f| match (f.name.is_empty(), f.email.is_empty()) {
            (false, false) if f.name != f.email => format!("{} <{}>", f.name, f.email),
            (_, false) => f.email,
            _ => f.name,
        });
    ItemRow {
        id: item.id.clone(),
        folder: folder.to_string(),
        date,
        size: item.size,
        message_class: item.message_class.clone(),
        sender,
        subject: summary.subject,
        export_error: match &item.content {
            ItemContent::ExportFailed { code, .. } => Some(code.clone()),
            ItemContent::Blob { .. } => None,
        },
    }
}

/// Folder rows in tree order (parents before children, siblings by name), each with its depth.
fn folder_rows(m: &Manifest) -> Vec<FolderRow> {
    let paths = m.folder_paths();
    let mut stats: HashMap<&str, (u64, u64, u64)> = HashMap::new();
    for i in &m.items {
        let s = stats.entry(i.folder_id.as_str()).or_default();
        s.0 += 1;
        match i.content {
            ItemContent::Blob { len, .. } => s.2 += len,
            ItemContent::ExportFailed { .. } => s.1 += 1,
        }
    }
    let ids: std::collections::HashSet<&str> = m.folders.iter().map(|f| f.id.as_str()).collect();
    let mut children: BTreeMap<Option<&str>, Vec<&mbxa_format::Folder>> = BTreeMap::new();
    for f in &m.folders {
        // A folder whose parent is not in the archive is shown as a root.
        let parent = f.parent_id.as_deref().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(f);
    }
    for v in children.values_mut() {
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
    }
    let mut rows = Vec::with_capacity(m.folders.len());
    let mut visited = std::collections::HashSet::new();
    let mut stack: Vec<(&mbxa_format::Folder, usize)> = children
        .get(&None)
        .map(|v| v.iter().rev().map(|f| (*f, 0)).collect())
        .unwrap_or_default();
    // Folders in a parent cycle are never reached from a root; add them as roots afterwards.
    let mut leftovers: Vec<&mbxa_format::Folder> = Vec::new();
    loop {
        while let Some((f, depth)) = stack.pop() {
            if !visited.insert(f.id.as_str()) {
                continue;
            }
            let (items, failed, bytes) = stats.get(f.id.as_str()).copied().unwrap_or_default();
            rows.push(FolderRow {
                path: paths
                    .get(f.id.as_str())
                    .cloned()
                    .unwrap_or_else(|| f.display_name.clone()),
                id: f.id.clone(),
                parent_id: f.parent_id.clone(),
                folder_class: f.folder_class.clone(),
                well_known_name: f.well_known_name.clone(),
                items,
                failed,
                bytes,
                graph_item_count: f.item_count,
                depth,
            });
            if let Some(kids) = children.get(&Some(f.id.as_str())) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        if leftovers.is_empty() {
            leftovers = m
                .folders
                .iter()
                .filter(|f| !visited.contains(f.id.as_str()))
                .collect();
            if leftovers.is_empty() {
                break;
            }
        }
        match leftovers.pop() {
            Some(f) => stack.push((f, 0)),
            None => break,
        }
    }
    rows
}

/// Runs `mbxa ls`.
pub fn ls(args: LsArgs, out: &Output) -> anyhow::Result<Outcome> {
    let mut r = open(&args.archive)?;
    let m = r.manifest().clone();
    let mut rows = folder_rows(&m);
    if let Some(p) = &args.path {
        let p = p.trim_matches('/');
        let prefix = format!("{p}/");
        rows.retain(|f| f.path == p || f.path.starts_with(&prefix));
        anyhow::ensure!(
            !rows.is_empty(),
            "no folder {p:?} in archive {}",
            args.archive.display()
        );
        let base = rows.iter().map(|f| f.depth).min().unwrap_or(0);
        rows.iter_mut().for_each(|f| f.depth -= base);
    }
    if args.items {
        let wanted: HashMap<&str, &str> = rows
            .iter()
            .map(|f| (f.id.as_str(), f.path.as_str()))
            .collect();
        let paths = m.folder_paths();
        let mut items = Vec::new();
        for i in &m.items {
            let folder = match (wanted.get(i.folder_id.as_str()), &args.path) {
                (Some(p), _) => (*p).to_string(),
                // Items of folders not in the manifest are listed only without a PATH filter.
                (None, None) => paths
                    .get(i.folder_id.as_str())
                    .cloned()
                    .unwrap_or_else(|| format!("<{}>", i.folder_id)),
                (None, Some(_)) => continue,
            };
            items.push(item_row(&mut r, i, &folder));
        }
        if out.is_json() {
            out.json(&serde_json::json!({ "archive": args.archive.display().to_string(), "items": items }))?;
        } else {
            for it in &items {
                let who = it.sender.as_deref().unwrap_or("-");
                let what = match (&it.subject, &it.export_error) {
                    (_, Some(code)) => format!("(export failed: {code})"),
                    (Some(s), None) => s.clone(),
                    (None, None) => "-".into(),
                };
                out.line(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    it.id, it.date, who, what, it.size, it.message_class, it.folder
                ));
            }
        }
        return Ok(Outcome::Ok);
    }
    if out.is_json() {
        out.json(
            &serde_json::json!({ "archive": args.archive.display().to_string(), "folders": rows }),
        )?;
        return Ok(Outcome::Ok);
    }
    // Indentation and the name column are capped: a (hostile or absurd) tree thousands of
    // levels deep must not turn the listing into gigabytes of spaces.
    const MAX_INDENT: usize = 32;
    const MAX_WIDTH: usize = 100;
    let indent = |depth: usize| {
        if depth > MAX_INDENT {
            format!("{}… ", "  ".repeat(MAX_INDENT))
        } else {
            "  ".repeat(depth)
        }
    };
    let width = rows
        .iter()
        .map(|f| {
            indent(f.depth).chars().count()
                + f.path.rsplit('/').next().unwrap_or("").chars().count()
        })
        .max()
        .unwrap_or(0)
        .clamp(6, MAX_WIDTH);
    for f in &rows {
        let name = format!(
            "{}{}",
            indent(f.depth),
            f.path.rsplit('/').next().unwrap_or("")
        );
        let failed = if f.failed > 0 {
            format!(" ({} failed)", f.failed)
        } else {
            String::new()
        };
        out.line(&format!(
            "{name:<width$}  {:>7} item{}  {:>10}{failed}",
            f.items,
            if f.items == 1 { " " } else { "s" },
            human_size(f.bytes)
        ));
    }
    let total_items: u64 = rows.iter().map(|f| f.items).sum();
    let total_bytes: u64 = rows.iter().map(|f| f.bytes).sum();
    out.line(&format!(
        "{:<width$}  {total_items:>7} items  {:>10}",
        "total",
        human_size(total_bytes)
    ));
    Ok(Outcome::Ok)
}

/// Arguments of `mbxa diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older archive.
    pub old: PathBuf,
    /// The newer archive.
    pub new: PathBuf,
}

/// One difference between two archives.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Change {
    id: String,
    /// Folder path (in NEW, or in OLD for removed items).
    folder: String,
    /// Previous folder path, for moved items.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    /// What changed, for changed items: `change_key`, `content`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    what: Vec<&'static str>,
}

#[derive(Debug, Serialize, Default)]
struct DiffReport {
    added: Vec<Change>,
    removed: Vec<Change>,
    changed: Vec<Change>,
    moved: Vec<Change>,
    unchanged: u64,
}

fn content_key(i: &Item) -> String {
    match &i.content {
        ItemContent::Blob { id, .. } => id.to_hex(),
        ItemContent::ExportFailed { code, .. } => format!("failed:{code}"),
    }
}

/// Compares two manifests by item id; an item is changed if its change key or its content
/// differs, moved if its folder path differs (an item can be both).
fn diff_manifests(old: &Manifest, new: &Manifest) -> DiffReport {
    let op = old.folder_paths();
    let np = new.folder_paths();
    let path = |p: &HashMap<&str, String>, id: &str| {
        p.get(id).cloned().unwrap_or_else(|| format!("<{id}>"))
    };
    let old_items: HashMap<&str, &Item> = old.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let new_ids: std::collections::HashSet<&str> =
        new.items.iter().map(|i| i.id.as_str()).collect();
    let mut rep = DiffReport::default();
    for n in &new.items {
        let folder = path(&np, &n.folder_id);
        let Some(o) = old_items.get(n.id.as_str()) else {
            rep.added.push(Change {
                id: n.id.clone(),
                folder,
                from: None,
                what: vec![],
            });
            continue;
        };
        let mut what = Vec::new();
        if o.change_key != n.change_key {
            what.push("change_key");
        }
        if content_key(o) != content_key(n) {
            what.push("content");
        }
        let from = path(&op, &o.folder_id);
        let moved = from != folder;
        if moved {
            rep.moved.push(Change {
                id: n.id.clone(),
                folder: folder.clone(),
                from: Some(from),
                what: vec![],
            });
        }
        if !what.is_empty() {
            rep.changed.push(Change {
                id: n.id.clone(),
                folder,
                from: None,
                what,
            });
        } else if !moved {
            rep.unchanged += 1;
        }
    }
    for o in &old.items {
        if !new_ids.contains(o.id.as_str()) {
            rep.removed.push(Change {
                id: o.id.clone(),
                folder: path(&op, &o.folder_id),
                from: None,
                what: vec![],
            });
        }
    }
    rep
}

/// Runs `mbxa diff`.
pub fn diff(args: DiffArgs, out: &Output) -> anyhow::Result<Outcome> {
    let old = open(&args.old)?;
    let new = open(&args.new)?;
    let rep = diff_manifests(old.manifest(), new.manifest());
    if out.is_json() {
        out.json(&serde_json::json!({
            "old": { "archive": args.old.display().to_string(), "archive_id": old.archive_id().to_hex() },
            "new": { "archive": args.new.display().to_string(), "archive_id": new.archive_id().to_hex() },
            "added": rep.added, "removed": rep.removed, "changed": rep.changed, "moved": rep.moved,
            "unchanged": rep.unchanged,
        }))?;
        return Ok(Outcome::Ok);
    }
    // Group by folder: `+` added, `-` removed, `~` changed, `>` moved in.
    let mut by_folder: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in &rep.added {
        by_folder
            .entry(&c.folder)
            .or_default()
            .push(format!("  + {}", c.id));
    }
    for c in &rep.removed {
        by_folder
            .entry(&c.folder)
            .or_default()
            .push(format!("  - {}", c.id));
    }
    for c in &rep.changed {
        by_folder.entry(&c.folder).or_default().push(format!(
            "  ~ {} ({})",
            c.id,
            c.what.join(", ")
        ));
    }
    for c in &rep.moved {
        by_folder.entry(&c.folder).or_default().push(format!(
            "  > {} (moved from {})",
            c.id,
            c.from.as_deref().unwrap_or("?")
        ));
    }
    for (folder, lines) in &by_folder {
        out.line(folder);
        for l in lines {
            out.line(l);
        }
    }
    out.line(&format!(
        "{} added, {} removed, {} changed, {} moved, {} unchanged",
        rep.added.len(),
        rep.removed.len(),
        rep.changed.len(),
        rep.moved.len(),
        rep.unchanged
    ));
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mbxa_format::{BlobId, CaptureInfo, Folder, MailboxKind, Source};

    fn manifest(
        folders: Vec<(&str, Option<&str>, &str)>,
        items: Vec<(&str, &str, &str, &[u8])>,
    ) -> Manifest {
        Manifest {
            source: Source {
                tenant_id: "t".into(),
                user: "u".into(),
                mailbox_id: "m".into(),
                kind: MailboxKind::Primary,
            },
            capture: CaptureInfo {
                tool_version: "x".into(),
                started_at: "s".into(),
                finished_at: "f".into(),
                base_archive: None,
                folders_delta_link: None,
                item_delta_links: vec![],
            },
            folders: folders
                .into_iter()
                .map(|(id, p, n)| Folder {
                    id: id.into(),
                    parent_id: p.map(Into::into),
                    display_name: n.into(),
                    folder_class: "IPF.Note".into(),
                    well_known_name: None,
                    item_count: 0,
                })
                .collect(),
            items: items
                .into_iter()
                .map(|(id, f, ck, data)| Item {
                    id: id.into(),
                    folder_id: f.into(),
                    change_key: ck.into(),
                    created: "2026-01-01T00:00:00Z".into(),
                    last_modified: "2026-01-01T00:00:00Z".into(),
                    size: data.len() as u64,
                    message_class: "IPM.Note".into(),
                    content: ItemContent::Blob {
                        id: BlobId::of(data),
                        len: data.len() as u64,
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn diff_finds_added_removed_changed_moved() {
        let folders = vec![("a", None, "Inbox"), ("b", Some("a"), "Old")];
        let old = manifest(
            folders.clone(),
            vec![
                ("1", "a", "k1", b"x"),
                ("2", "a", "k2", b"y"),
                ("3", "a", "k3", b"z"),
                ("4", "a", "k4", b"w"),
            ],
        );
        let new = manifest(
            folders,
            vec![
                ("1", "a", "k1", b"x"),
                ("2", "a", "k2b", b"y2"),
                ("3", "b", "k3", b"z"),
                ("5", "b", "k5", b"v"),
            ],
        );
        let r = diff_manifests(&old, &new);
        assert_eq!(r.unchanged, 1);
        assert_eq!(
            r.added.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["5"]
        );
        assert_eq!(r.added[0].folder, "Inbox/Old");
        assert_eq!(
            r.removed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["4"]
        );
        assert_eq!(r.changed.len(), 1);
        assert_eq!(r.changed[0].what, vec!["change_key", "content"]);
        assert_eq!(r.moved.len(), 1);
        assert_eq!(r.moved[0].from.as_deref(), Some("Inbox"));
    }

    #[test]
    fn folder_rows_are_a_tree_with_counts() {
        let m = manifest(
            vec![
                ("b", Some("a"), "Projects"),
                ("a", None, "Inbox"),
                ("c", None, "Archive"),
                ("x", Some("y"), "Cyc1"),
                ("y", Some("x"), "Cyc2"),
            ],
            vec![
                ("1", "a", "k", b"12345"),
                ("2", "b", "k", b"1"),
                ("3", "b", "k", b"12"),
            ],
        );
        let rows = folder_rows(&m);
        let names: Vec<(&str, usize)> = rows.iter().map(|r| (r.path.as_str(), r.depth)).collect();
        assert_eq!(
            &names[..3],
            &[("Archive", 0), ("Inbox", 0), ("Inbox/Projects", 1)]
        );
        assert_eq!(rows.len(), 5, "folders in a parent cycle are still listed");
        let p = rows.iter().find(|r| r.id == "b").unwrap();
        assert_eq!((p.items, p.bytes), (2, 3));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
}
