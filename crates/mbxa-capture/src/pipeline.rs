//! The capture pipeline: folders → listing task → dispatcher → export tasks → one writer thread.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mbxa_format::{
    ArchiveFile, ArchiveReader, BlobId, CaptureInfo, CheckedFrame, Folder, FolderDeltaLink, Item,
    ItemContent, Manifest, Source,
};
use mbxa_graph::{ExportOutcome, GraphClient};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::journal::{
    fsync_dir, journal_path, Header, JContent, JFolder, JItem, JSource, Journal, OutputLock,
    Record, JOURNAL_VERSION, LISTED_CHUNK,
};
use crate::options::{CaptureOptions, CaptureReport, FailedItem, MAX_BATCH};
use crate::plan::{
    apply_folder_delta, folder_from_graph, folder_paths, is_vanished_code, plan_folder,
    select_folders, sort_folders, Base, BaseBlob, ItemMeta, Listing, Planned,
};
use crate::progress::{Progress, ProgressEvent, Tracker};

type SharedReader = Arc<Mutex<ArchiveReader<File>>>;
type Present = Arc<Mutex<HashSet<BlobId>>>;

/// How a folder's items were listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    /// From the base's delta link.
    Delta,
    /// In full: no base link for this folder.
    Full,
    /// In full because the base's delta token had expired.
    Expired,
}

/// What the writer thread is sent.
enum WriterMsg {
    /// A folder's listing, to journal before any of its items are committed.
    Listed {
        folder_id: String,
        items: Vec<Planned>,
        delta_link: String,
        full: bool,
    },
    /// Items ready to commit.
    Batch(Vec<Entry>),
}

/// One item's outcome, on its way to the writer.
enum Entry {
    /// Exported bytes.
    Data { meta: ItemMeta, data: Vec<u8> },
    /// An unchanged item's frame, copied from the base as is (checked: decodes to its blob).
    Copied { meta: ItemMeta, frame: CheckedFrame },
    /// Content already in the `.part` (dedup or resumed).
    Present { meta: ItemMeta, blob: BaseBlob },
    /// Graph refused to export it.
    Failed {
        meta: ItemMeta,
        code: String,
        message: String,
    },
    /// Deleted between listing and export.
    Vanished { id: String },
}

/// Everything the journal says about an interrupted capture, plus what this run adds.
#[derive(Default)]
struct State {
    folders: Option<(Vec<Folder>, String)>,
    /// Completed listings: folder id → (planned items, delta link, full?).
    listed: HashMap<String, (Vec<Planned>, String, bool)>,
    /// Committed items by id (whose blobs are present in the `.part`).
    items: HashMap<String, JItem>,
    vanished: HashSet<String>,
    /// Delta links of listings this run and journaled ones: folder id → link.
    links: HashMap<String, String>,
}

struct Opened {
    file: ArchiveFile,
    journal: Journal,
    header: Header,
    state: State,
    present: HashSet<BlobId>,
    resumed: bool,
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", p, e)),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

/// Replays journal records into a [`State`], keeping only items whose blob survived in the `.part`.
fn replay(records: Vec<Record>, present: &HashSet<BlobId>) -> State {
    let mut st = State::default();
    let mut partial: HashMap<String, Vec<Planned>> = HashMap::new();
    for r in records {
        match r {
            Record::Header(_) => {}
            Record::Folders {
                folders,
                delta_link,
            } => {
                st.folders = Some((folders.iter().map(JFolder::to_folder).collect(), delta_link));
            }
            Record::ListedItems { folder_id, items } => {
                partial.entry(folder_id).or_default().extend(items)
            }
            Record::ListedEnd {
                folder_id,
                delta_link,
                full,
            } => {
                let items = partial.remove(&folder_id).unwrap_or_default();
                st.links.insert(folder_id.clone(), delta_link.clone());
                st.listed.insert(folder_id, (items, delta_link, full));
            }
            Record::Committed { items, vanished } => {
                for it in items {
                    let ok = match &it.content {
                        JContent::Blob { id, .. } => present.contains(id),
                        JContent::Failed { .. } => true,
                    };
                    if ok {
                        st.items.insert(it.meta.id.clone(), it);
                    }
                }
                st.vanished.extend(vanished);
            }
        }
    }
    st
}

/// Opens the journal + `.part` of an interrupted capture with the same header, or starts fresh.
fn open_or_create(out: &Path, header: Header) -> Result<Opened> {
    let jpath = journal_path(out);
    let part = ArchiveFile::part_path(out);
    if exists(&jpath) && exists(&part) {
        let (journal, records) = Journal::open(&jpath)?;
        if let Some(Record::Header(old)) = records.first() {
            if old.v == JOURNAL_VERSION {
                let what = if old.mailbox_id != header.mailbox_id {
                    Some(format!(
                        "mailbox {} vs {}",
                        old.mailbox_id, header.mailbox_id
                    ))
                } else if old.base_archive != header.base_archive {
                    Some(format!(
                        "base archive {} vs {}",
                        old.base_archive.as_deref().unwrap_or("none"),
                        header.base_archive.as_deref().unwrap_or("none")
                    ))
                } else if old.folder_filter != header.folder_filter {
                    Some(format!(
                        "folders {:?} vs {:?}",
                        old.folder_filter, header.folder_filter
                    ))
                } else {
                    None
                };
                if let Some(what) = what {
                    return Err(Error::JournalMismatch { path: jpath, what });
                }
                // A .part too damaged to resume is started over: the journal alone is useless.
                if let Ok((file, blobs)) = ArchiveFile::resume(out) {
                    let present: HashSet<BlobId> = blobs.into_iter().collect();
                    let old = old.clone();
                    let state = replay(records, &present);
                    return Ok(Opened {
                        file,
                        journal,
                        header: old,
                        state,
                        present,
                        resumed: true,
                    });
                }
            }
        }
        drop(journal);
    }
    remove_if_exists(&jpath)?;
    remove_if_exists(&part)?;
    let file = ArchiveFile::create(out)?;
    let journal = Journal::create(&jpath, header.clone())?;
    Ok(Opened {
        file,
        journal,
        header,
        state: State::default(),
        present: HashSet::new(),
        resumed: false,
    })
}

/// The folder tree now, and the folders delta link to store.
/// The folder tree, its delta link, and the folders that Graph said, in this run, hold no
/// items (`totalItemCount` 0): listing their items would cost a call for nothing.
type FolderListing = (Vec<Folder>, String, HashSet<String>);

/// Folder ids this answer reports as empty (a count Graph did not send is unknown, not zero).
fn known_empty(folders: &[mbxa_graph::MailboxFolder]) -> HashSet<String> {
    folders
        .iter()
        .filter(|f| f.total_item_count == Some(0))
        .map(|f| f.id.clone())
        .collect()
}

async fn list_folders(
    client: &GraphClient,
    mbx: &str,
    base: Option<&Base>,
) -> Result<FolderListing> {
    if let Some(b) = base {
        if let Some(link) = b.manifest.capture.folders_delta_link.as_deref() {
            match client.folders_delta(mbx, Some(link)).await {
                Ok(d) => {
                    if d.changed.is_empty() && d.removed.is_empty() {
                        // Counts of unchanged folders are the base's, not fresh: none is skipped.
                        return Ok((b.manifest.folders.clone(), d.delta_link, HashSet::new()));
                    }
                    let changed: Vec<Folder> = d.changed.iter().map(folder_from_graph).collect();
                    // Delta entries may carry only a few properties; take the full tree then.
                    if changed.iter().all(|f| f.parent_id.is_some()) {
                        return Ok((
                            apply_folder_delta(&b.manifest.folders, &changed, &d.removed),
                            d.delta_link,
                            known_empty(&d.changed),
                        ));
                    }
                    let all = client.list_folders(mbx).await?;
                    return Ok((
                        all.iter().map(folder_from_graph).collect(),
                        d.delta_link,
                        known_empty(&all),
                    ));
                }
                Err(e) if e.is_delta_expired() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let d = client.folders_delta(mbx, None).await?;
    let folders: Vec<Folder> = d.changed.iter().map(folder_from_graph).collect();
    if folders.iter().all(|f| f.parent_id.is_some()) {
        return Ok((folders, d.delta_link, known_empty(&d.changed)));
    }
    let all = client.list_folders(mbx).await?;
    Ok((
        all.iter().map(folder_from_graph).collect(),
        d.delta_link,
        known_empty(&all),
    ))
}

/// One folder's items: from the base's delta link when there is one, else (or when it expired) in full.
async fn list_items(
    client: &GraphClient,
    mbx: &str,
    folder_id: &str,
    base: Option<&Base>,
) -> Result<(Listing, String, ListKind)> {
    let mut kind = ListKind::Full;
    if let Some(link) = base.and_then(|b| b.item_delta_link(folder_id)) {
        match client.items_delta(mbx, folder_id, Some(link)).await {
            Ok(d) => {
                return Ok((
                    Listing::Delta {
                        changed: d.changed,
                        removed: d.removed,
                    },
                    d.delta_link,
                    ListKind::Delta,
                ))
            }
            Err(e) if e.is_delta_expired() => kind = ListKind::Expired,
            Err(e) => return Err(e.into()),
        }
    }
    let d = client.items_delta(mbx, folder_id, None).await?;
    Ok((Listing::Full(d.changed), d.delta_link, kind))
}

/// Everything the pipeline tasks share.
struct Ctx {
    client: GraphClient,
    mbx: String,
    base: Option<Arc<Base>>,
    base_reader: Option<SharedReader>,
    present: Present,
    tracker: Arc<Tracker>,
    batch: usize,
    item_retries: u32,
    list_concurrency: usize,
}

/// What the listing task got for one folder.
enum Got {
    /// Listed by the interrupted run: its plan is journaled.
    Journaled(Vec<Planned>),
    /// Listed now.
    Listed(Listing, String, ListKind),
    /// Graph's folder answer said it holds no items: not listed, and no delta link recorded
    /// (so the next incremental capture lists it in full, which for a small folder is one call).
    Empty,
}

/// Lists each selected folder (or takes its journaled listing) and hands the plans on.
async fn listing_task(
    ctx: Arc<Ctx>,
    selected: Vec<(String, String)>,
    mut journaled: HashMap<String, (Vec<Planned>, String, bool)>,
    empty: HashSet<String>,
    wtx: mpsc::Sender<WriterMsg>,
    ptx: mpsc::UnboundedSender<Vec<Planned>>,
) -> Result<Vec<String>> {
    use futures::StreamExt;
    let mut seen = HashSet::new();
    let mut expired = Vec::new();
    // Folders are listed a few at a time (small folders would otherwise starve the exports),
    // but handled in folder order, so journal and dedup stay deterministic.
    let listings = futures::stream::iter(selected.into_iter().map(|(fid, path)| {
        let journaled = journaled.remove(&fid);
        let is_empty = empty.contains(&fid);
        let ctx = ctx.clone();
        async move {
            let got = match journaled {
                Some((items, _, _)) => Ok(Got::Journaled(items)),
                None if is_empty => Ok(Got::Empty),
                None => list_items(&ctx.client, &ctx.mbx, &fid, ctx.base.as_deref())
                    .await
                    .map(|(l, link, kind)| Got::Listed(l, link, kind)),
            };
            got.map(|g| (fid, path, g))
        }
    }))
    .buffered(ctx.list_concurrency.max(1));
    futures::pin_mut!(listings);
    while let Some(next) = listings.next().await {
        let (fid, path, listed) = next?;
        let planned = match listed {
            Got::Journaled(items) => items,
            Got::Empty => {
                ctx.tracker.emit(ProgressEvent::FolderListed {
                    mailbox_id: ctx.mbx.clone(),
                    path: path.clone(),
                    items: 0,
                    to_export: 0,
                    to_copy: 0,
                    full: true,
                });
                Vec::new()
            }
            Got::Listed(listing, link, kind) => {
                let planned = plan_folder(&fid, listing, ctx.base.as_deref());
                let to_copy = planned.iter().filter(|p| p.reuse.is_some()).count() as u64;
                ctx.tracker.emit(ProgressEvent::FolderListed {
                    mailbox_id: ctx.mbx.clone(),
                    path: path.clone(),
                    items: planned.len() as u64,
                    to_export: planned.len() as u64 - to_copy,
                    to_copy,
                    full: kind != ListKind::Delta,
                });
                if kind == ListKind::Expired {
                    expired.push(path.clone());
                }
                let msg = WriterMsg::Listed {
                    folder_id: fid.clone(),
                    items: planned.clone(),
                    delta_link: link,
                    full: kind != ListKind::Delta,
                };
                wtx.send(msg)
                    .await
                    .map_err(|_| Error::Task("writer stopped".into()))?;
                planned
            }
        };
        // An item listed in two folders (moved while we listed) is captured once, where first seen.
        let planned: Vec<Planned> = planned
            .into_iter()
            .filter(|p| seen.insert(p.meta.id.clone()))
            .collect();
        ctx.tracker
            .items_total
            .fetch_add(planned.len() as u64, Ordering::Relaxed);
        if ptx.send(planned).is_err() {
            return Err(Error::Task("dispatcher stopped".into()));
        }
    }
    ctx.tracker.set_listing_done();
    Ok(expired)
}

/// Exports one batch; items a multi-item call dropped or failed are retried one id per call.
async fn export_batch(ctx: &Ctx, metas: Vec<ItemMeta>) -> Result<Vec<Entry>> {
    let ids: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
    let results = ctx.client.export_items(&ctx.mbx, &ids).await?;
    // Match by id, never by position: Graph has been seen to omit items silently.
    let mut by_id: HashMap<String, ExportOutcome> = results
        .into_iter()
        .map(|r| (r.item_id, r.outcome))
        .collect();
    let mut entries = Vec::with_capacity(metas.len());
    let mut again = Vec::new();
    for m in metas {
        match by_id.remove(&m.id) {
            Some(o) => match classify(m, o) {
                Ok(e) => entries.push(e),
                Err(b) => again.push(*b),
            },
            None => again.push((
                m,
                "NotReturned".to_string(),
                "exportItems omitted the item".to_string(),
            )),
        }
    }
    for (m, mut code, mut message) in again {
        let mut pending = Some(m);
        for _ in 0..ctx.item_retries {
            let Some(m) = pending.take() else { break };
            let r = ctx
                .client
                .export_items(&ctx.mbx, std::slice::from_ref(&m.id))
                .await?;
            let outcome = r.into_iter().find(|r| r.item_id == m.id).map(|r| r.outcome);
            match outcome {
                Some(o) => match classify(m, o) {
                    Ok(e) => entries.push(e),
                    Err(b) => {
                        let (m2, c, msg) = *b;
                        (code, message) = (c, msg);
                        pending = Some(m2);
                    }
                },
                None => pending = Some(m),
            }
        }
        if let Some(meta) = pending {
            entries.push(Entry::Failed {
                meta,
                code,
                message,
            });
        }
    }
    Ok(entries)
}

/// An export outcome as an entry, or the failure to retry.
fn classify(
    mut meta: ItemMeta,
    o: ExportOutcome,
) -> std::result::Result<Entry, Box<(ItemMeta, String, String)>> {
    match o {
        ExportOutcome::Data { change_key, data } => {
            // The bytes are of the version exported; if it changed since listing, record that one.
            if !change_key.is_empty() {
                meta.change_key = change_key;
            }
            Ok(Entry::Data { meta, data })
        }
        ExportOutcome::Failed { code, .. } if is_vanished_code(&code) => {
            Ok(Entry::Vanished { id: meta.id })
        }
        ExportOutcome::Failed { code, message } => Err(Box::new((meta, code, message))),
    }
}

/// Reads base blobs for unchanged items; unreadable ones are returned for export instead.
async fn copy_batch(
    ctx: &Arc<Ctx>,
    items: Vec<(ItemMeta, BaseBlob)>,
) -> Result<(Vec<Entry>, Vec<ItemMeta>)> {
    let Some(reader) = ctx.base_reader.clone() else {
        return Ok((Vec::new(), items.into_iter().map(|(m, _)| m).collect()));
    };
    let present = ctx.present.clone();
    blocking(move || {
        let mut entries = Vec::with_capacity(items.len());
        let mut fallback = Vec::new();
        let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
        for (meta, blob) in items {
            if present
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&blob.id)
            {
                entries.push(Entry::Present { meta, blob });
                continue;
            }
            // The base's frame is copied as is, after checking it decodes to the blob: no
            // recompression. A damaged base blob is not fatal: Graph still has the item.
            match r
                .raw_frame(&blob.id)
                .and_then(|f| CheckedFrame::new(blob.id, blob.len, f))
            {
                Ok(frame) => entries.push(Entry::Copied { meta, frame }),
                Err(_) => fallback.push(meta),
            }
        }
        Ok((entries, fallback))
    })
    .await
}

/// Turns plans into export calls (≤ `concurrency` in flight) and base copies.
async fn dispatch_task(
    ctx: Arc<Ctx>,
    concurrency: usize,
    done: HashSet<String>,
    mut prx: mpsc::UnboundedReceiver<Vec<Planned>>,
    wtx: mpsc::Sender<WriterMsg>,
) -> Result<()> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks: JoinSet<Result<()>> = JoinSet::new();
    let mut exports: Vec<ItemMeta> = Vec::new();
    let mut copies: Vec<(ItemMeta, BaseBlob)> = Vec::new();
    let batch = ctx.batch;

    async fn spawn_export(
        ctx: &Arc<Ctx>,
        sem: &Arc<Semaphore>,
        tasks: &mut JoinSet<Result<()>>,
        wtx: &mpsc::Sender<WriterMsg>,
        metas: Vec<ItemMeta>,
    ) -> Result<()> {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let (ctx, wtx) = (ctx.clone(), wtx.clone());
        tasks.spawn(async move {
            let entries = export_batch(&ctx, metas).await?;
            // The permit is held until the writer accepts the batch: that is the memory bound.
            wtx.send(WriterMsg::Batch(entries))
                .await
                .map_err(|_| Error::Task("writer stopped".into()))?;
            drop(permit);
            Ok(())
        });
        Ok(())
    }

    async fn flush_copies(
        ctx: &Arc<Ctx>,
        wtx: &mpsc::Sender<WriterMsg>,
        copies: &mut Vec<(ItemMeta, BaseBlob)>,
        exports: &mut Vec<ItemMeta>,
    ) -> Result<()> {
        if copies.is_empty() {
            return Ok(());
        }
        let (entries, fallback) = copy_batch(ctx, std::mem::take(copies)).await?;
        exports.extend(fallback);
        if !entries.is_empty() {
            wtx.send(WriterMsg::Batch(entries))
                .await
                .map_err(|_| Error::Task("writer stopped".into()))?;
        }
        Ok(())
    }

    let mut closed = false;
    while !closed {
        let planned = match prx.try_recv() {
            Ok(p) => p,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                flush_copies(&ctx, &wtx, &mut copies, &mut exports).await?;
                // A partial batch waits to be filled by the next folders and goes out only when
                // listing is over: every call costs one of the mailbox's 4 slots, so fewer, fuller
                // calls finish sooner, and while listing goes on its calls keep the slots busy.
                tokio::select! {
                    p = prx.recv() => match p {
                        Some(p) => p,
                        None => {
                            closed = true;
                            Vec::new()
                        }
                    },
                    Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                        r.map_err(|e| Error::Task(e.to_string()))??;
                        Vec::new()
                    }
                }
            }
        };
        for p in planned {
            if done.contains(&p.meta.id) {
                continue;
            }
            match p.reuse {
                Some(b) => {
                    copies.push((p.meta, b));
                    if copies.len() >= batch {
                        flush_copies(&ctx, &wtx, &mut copies, &mut exports).await?;
                    }
                }
                None => exports.push(p.meta),
            }
            while exports.len() >= batch {
                let chunk: Vec<ItemMeta> = exports.drain(..batch).collect();
                spawn_export(&ctx, &sem, &mut tasks, &wtx, chunk).await?;
            }
        }
        while let Some(r) = tasks.try_join_next() {
            r.map_err(|e| Error::Task(e.to_string()))??;
        }
    }
    flush_copies(&ctx, &wtx, &mut copies, &mut exports).await?;
    while !exports.is_empty() {
        let n = exports.len().min(batch);
        let chunk: Vec<ItemMeta> = exports.drain(..n).collect();
        spawn_export(&ctx, &sem, &mut tasks, &wtx, chunk).await?;
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| Error::Task(e.to_string()))??;
    }
    Ok(())
}

/// The single writer: adds blobs, makes them durable, then journals the batch as committed.
fn writer_loop(
    mut file: ArchiveFile,
    mut journal: Journal,
    mut state: State,
    present: Present,
    tracker: Arc<Tracker>,
    mut rx: mpsc::Receiver<WriterMsg>,
) -> Result<(ArchiveFile, State)> {
    while let Some(first) = rx.blocking_recv() {
        // Group commit: everything already queued shares one fsync of the .part and the journal.
        let mut msgs = vec![first];
        while msgs.len() < 64 {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut records = Vec::new();
        let mut items = Vec::new();
        let mut vanished = Vec::new();
        let mut wrote = false;
        let (mut exported, mut copied, mut failed, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        for m in msgs {
            match m {
                WriterMsg::Listed {
                    folder_id,
                    items: planned,
                    delta_link,
                    full,
                } => {
                    for chunk in planned.chunks(LISTED_CHUNK) {
                        records.push(Record::ListedItems {
                            folder_id: folder_id.clone(),
                            items: chunk.to_vec(),
                        });
                    }
                    records.push(Record::ListedEnd {
                        folder_id: folder_id.clone(),
                        delta_link: delta_link.clone(),
                        full,
                    });
                    state.links.insert(folder_id, delta_link);
                }
                WriterMsg::Batch(entries) => {
                    for e in entries {
                        match e {
                            Entry::Copied { meta, frame } => {
                                let len = frame.len();
                                let id = file.writer().add_frame(frame)?;
                                copied += 1;
                                present.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                                wrote = true;
                                items.push(JItem {
                                    meta,
                                    content: JContent::Blob { id, len },
                                });
                            }
                            Entry::Data { meta, data } => {
                                let id = file.writer().add_blob(&data)?;
                                exported += 1;
                                bytes += data.len() as u64;
                                present.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                                wrote = true;
                                items.push(JItem {
                                    meta,
                                    content: JContent::Blob {
                                        id,
                                        len: data.len() as u64,
                                    },
                                });
                            }
                            Entry::Present { meta, blob } => {
                                if !file.writer().contains(&blob.id) {
                                    return Err(Error::Task(format!(
                                        "blob {} expected in the archive",
                                        blob.id.to_hex()
                                    )));
                                }
                                copied += 1;
                                items.push(JItem {
                                    meta,
                                    content: JContent::Blob {
                                        id: blob.id,
                                        len: blob.len,
                                    },
                                });
                            }
                            Entry::Failed {
                                meta,
                                code,
                                message,
                            } => {
                                failed += 1;
                                items.push(JItem {
                                    meta,
                                    content: JContent::Failed { code, message },
                                });
                            }
                            Entry::Vanished { id } => vanished.push(id),
                        }
                    }
                }
            }
        }
        if wrote {
            file.sync()?;
        }
        let n_done = (items.len() + vanished.len()) as u64;
        if n_done > 0 {
            records.push(Record::Committed {
                items: items.clone(),
                vanished: vanished.clone(),
            });
        }
        journal.append(&records)?;
        for it in items {
            state.items.insert(it.meta.id.clone(), it);
        }
        tracker
            .vanished
            .fetch_add(vanished.len() as u64, Ordering::Relaxed);
        state.vanished.extend(vanished);
        tracker.exported.fetch_add(exported, Ordering::Relaxed);
        tracker.copied.fetch_add(copied, Ordering::Relaxed);
        tracker.failed.fetch_add(failed, Ordering::Relaxed);
        tracker.bytes.fetch_add(bytes, Ordering::Relaxed);
        if n_done > 0 {
            tracker.items_done.fetch_add(n_done, Ordering::Relaxed);
            tracker.emit(ProgressEvent::Progress(tracker.snapshot()));
        }
    }
    Ok((file, state))
}

/// Reports the throttle waits and retries the Graph client makes for this capture.
struct RetryObserver(Arc<Tracker>);

impl mbxa_graph::Observer for RetryObserver {
    fn on_retry(&self, e: &mbxa_graph::RetryEvent) {
        let reason = match e.status {
            Some(s) => format!("{:?} (HTTP {s})", e.reason),
            None => format!("{:?}", e.reason),
        };
        self.0.retry(e.wait, e.reason.is_throttle(), reason);
    }
}

/// Loads `--base` and checks it captured the same mailbox.
async fn load_base(path: PathBuf, mbx: String) -> Result<(Base, SharedReader)> {
    blocking(move || {
        let r = ArchiveReader::open_path(&path)?;
        let found = r.manifest().source.mailbox_id.clone();
        if found != mbx {
            return Err(Error::BaseMismatch {
                path,
                expected: mbx,
                found,
            });
        }
        let base = Base::new(r.archive_id(), r.manifest().clone());
        Ok((base, Arc::new(Mutex::new(r))))
    })
    .await
}

/// Report of an archive that was finished by an earlier run that died before removing its journal.
fn report_from_archive(opts: &CaptureOptions, started: Instant) -> Result<CaptureReport> {
    let r = ArchiveReader::open_path(&opts.output)?;
    let m = r.manifest();
    if m.source.mailbox_id != opts.mailbox_id {
        return Err(Error::OutputExists(opts.output.clone()));
    }
    let jpath = journal_path(&opts.output);
    remove_if_exists(&jpath)?;
    fsync_dir(&jpath)?;
    let paths = folder_paths(&m.folders);
    Ok(summarize(
        opts,
        r.archive_id(),
        m,
        &paths,
        Summary {
            resumed: true,
            folders_captured: m.folders.len(),
            ..Summary::default()
        },
        started,
    ))
}

#[derive(Default)]
struct Summary {
    resumed: bool,
    folders_captured: usize,
    exported: u64,
    copied: u64,
    vanished: Vec<String>,
    delta_expired: Vec<String>,
    retries: u64,
    retry_wait_secs: f64,
}

fn summarize(
    opts: &CaptureOptions,
    archive_id: mbxa_format::ArchiveId,
    m: &Manifest,
    paths: &HashMap<String, String>,
    s: Summary,
    started: Instant,
) -> CaptureReport {
    let mut blobs: HashMap<BlobId, u64> = HashMap::new();
    let mut failed = Vec::new();
    for it in &m.items {
        match &it.content {
            ItemContent::Blob { id, len } => {
                blobs.insert(*id, *len);
            }
            ItemContent::ExportFailed { code, message } => failed.push(FailedItem {
                id: it.id.clone(),
                folder: paths
                    .get(&it.folder_id)
                    .cloned()
                    .unwrap_or_else(|| it.folder_id.clone()),
                code: code.clone(),
                message: message.clone(),
            }),
        }
    }
    CaptureReport {
        path: opts.output.clone(),
        archive_id,
        mailbox_id: opts.mailbox_id.clone(),
        base_archive: m.capture.base_archive,
        resumed: s.resumed,
        folders: m.folders.len(),
        folders_captured: s.folders_captured,
        items: m.items.len(),
        blobs: blobs.len(),
        bytes: blobs.values().sum(),
        exported: s.exported,
        copied: s.copied,
        failed,
        vanished: s.vanished,
        delta_expired: s.delta_expired,
        retries: s.retries,
        retry_wait_secs: s.retry_wait_secs,
        elapsed: started.elapsed(),
    }
}

/// See [`crate::capture_mailbox`].
pub(crate) async fn run(
    client: &GraphClient,
    opts: CaptureOptions,
    progress: Arc<dyn Progress>,
) -> Result<CaptureReport> {
    let started = Instant::now();
    let mbx = opts.mailbox_id.clone();
    let tracker = Arc::new(Tracker::new(&mbx, progress));
    let client = client
        .clone()
        .with_observer(Arc::new(RetryObserver(tracker.clone())));
    let out = opts.output.clone();
    let jpath = journal_path(&out);
    let part = ArchiveFile::part_path(&out);
    // Held until this function returns: two captures into one .part would corrupt it.
    let lock = blocking({
        let out = out.clone();
        move || OutputLock::acquire(&out)
    })
    .await?;

    if exists(&out) {
        if exists(&jpath) && !exists(&part) {
            let o = opts.clone();
            return blocking(move || report_from_archive(&o, started)).await;
        }
        return Err(Error::OutputExists(out));
    }

    let (base, base_reader) = match &opts.base {
        Some(p) => {
            let (b, r) = load_base(p.clone(), mbx.clone()).await?;
            (Some(Arc::new(b)), Some(r))
        }
        None => (None, None),
    };

    let source = Source {
        tenant_id: opts.tenant_id.clone(),
        user: opts.user.clone(),
        mailbox_id: mbx.clone(),
        kind: opts.kind,
    };
    let header = Header {
        v: JOURNAL_VERSION,
        mailbox_id: mbx.clone(),
        base_archive: base.as_ref().map(|b| hex::encode(b.id.0)),
        folder_filter: opts.folders.clone(),
        started_at: now_rfc3339(),
        source: JSource::from_source(&source),
    };
    let o2 = out.clone();
    let opened = blocking(move || open_or_create(&o2, header)).await?;
    let Opened {
        file,
        mut journal,
        header,
        mut state,
        present,
        resumed,
    } = opened;
    // Items Graph refused in the interrupted run get another chance: they are not done (their
    // journaled listing still names them), and a new outcome replaces the old in the journal.
    state
        .items
        .retain(|_, it| !matches!(it.content, JContent::Failed { .. }));
    tracker.emit(ProgressEvent::Started {
        mailbox_id: mbx.clone(),
        resumed,
        items_already_done: (state.items.len() + state.vanished.len()) as u64,
    });

    // Folders: journaled by an interrupted run, or listed now and journaled before any item.
    // Only a fresh listing's counts are trusted to skip empty folders (a resumed run lists all).
    let mut empty = HashSet::new();
    let (mut folders, folders_link) = match state.folders.take() {
        Some(f) => f,
        None => {
            let (f, link, e) = list_folders(&client, &mbx, base.as_deref()).await?;
            let rec = Record::Folders {
                folders: f.iter().map(JFolder::from_folder).collect(),
                delta_link: link.clone(),
            };
            journal = blocking(move || journal.append(&[rec]).map(|_| journal)).await?;
            empty = e;
            (f, link)
        }
    };
    sort_folders(&mut folders);
    let selected_ids = select_folders(&folders, &opts.folders, &mbx)?;
    let paths = folder_paths(&folders);
    tracker.emit(ProgressEvent::Folders {
        mailbox_id: mbx.clone(),
        total: folders.len(),
        selected: selected_ids.len(),
    });
    let selected: Vec<(String, String)> = selected_ids
        .iter()
        .map(|id| (id.clone(), paths.get(id).cloned().unwrap_or_default()))
        .collect();

    // Items already committed (or vanished) by the interrupted run.
    tracker.items_done.store(
        (state.items.len() + state.vanished.len()) as u64,
        Ordering::Relaxed,
    );
    let done: HashSet<String> = state
        .items
        .keys()
        .chain(state.vanished.iter())
        .cloned()
        .collect();
    let journaled = std::mem::take(&mut state.listed);

    let present: Present = Arc::new(Mutex::new(present));
    let ctx = Arc::new(Ctx {
        client,
        mbx: mbx.clone(),
        base: base.clone(),
        base_reader,
        present: present.clone(),
        tracker: tracker.clone(),
        batch: opts.batch_size.clamp(1, MAX_BATCH),
        item_retries: opts.item_retries,
        list_concurrency: opts.list_concurrency,
    });

    let (wtx, wrx) = mpsc::channel::<WriterMsg>(opts.queue_batches.max(1));
    let (ptx, prx) = mpsc::unbounded_channel();
    let wtracker = tracker.clone();
    let writer = tokio::task::spawn_blocking(move || {
        writer_loop(file, journal, state, present, wtracker, wrx)
    });

    let lister = listing_task(
        ctx.clone(),
        selected.clone(),
        journaled,
        empty,
        wtx.clone(),
        ptx,
    );
    let dispatcher = dispatch_task(ctx.clone(), opts.concurrency, done, prx, wtx);
    // On the first error both futures are dropped: their senders close and the writer stops
    // after journaling what it already has, so a re-run resumes from there.
    let pipeline = tokio::try_join!(lister, dispatcher);
    drop(ctx);
    // The writer's own error explains a pipeline that stopped with "writer stopped".
    let (file, state) = writer.await.map_err(|e| Error::Task(e.to_string()))??;
    let (expired, ()) = pipeline?;

    // The manifest: the whole folder tree, every current item of the selected folders.
    let order: HashMap<&str, usize> = folders
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), i))
        .collect();
    let mut items: Vec<Item> = state
        .items
        .into_values()
        .map(|j| j.meta.into_item(j.content.to_content()))
        .collect();
    items.sort_by(|a, b| {
        let oa = order
            .get(a.folder_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let ob = order
            .get(b.folder_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        oa.cmp(&ob).then_with(|| a.id.cmp(&b.id))
    });
    let item_delta_links = selected
        .iter()
        .filter_map(|(id, _)| {
            state.links.get(id).map(|l| FolderDeltaLink {
                folder_id: id.clone(),
                delta_link: l.clone(),
            })
        })
        .collect();
    let manifest = Manifest {
        source: header.source.to_source(),
        capture: CaptureInfo {
            tool_version: opts.tool_version.clone(),
            started_at: header.started_at.clone(),
            finished_at: now_rfc3339(),
            base_archive: base.as_ref().map(|b| b.id),
            folders_delta_link: Some(folders_link),
            item_delta_links,
        },
        folders,
        items,
    };
    let (manifest, archive_id) = blocking(move || {
        let id = file.finish(&manifest)?;
        Ok((manifest, id))
    })
    .await?;
    // The lock goes before the journal: a crash in between leaves a journal beside a finished
    // archive, which the next run recognises as done and cleans up; the other order could leave
    // a lock file behind with nothing to ever remove it.
    drop(lock);
    let j2 = jpath.clone();
    blocking(move || {
        remove_if_exists(&j2)?;
        fsync_dir(&j2)
    })
    .await?;

    let snap = tracker.snapshot();
    let mut vanished: Vec<String> = state.vanished.into_iter().collect();
    vanished.sort();
    let report = summarize(
        &opts,
        archive_id,
        &manifest,
        &paths,
        Summary {
            resumed,
            folders_captured: selected.len(),
            exported: snap.exported,
            copied: snap.copied,
            vanished,
            delta_expired: expired,
            retries: snap.retries,
            retry_wait_secs: snap.retry_wait_secs,
        },
        started,
    );
    tracker.emit(ProgressEvent::Finished(tracker.snapshot()));
    Ok(report)
}
