//! The replay run: plan, create folders, upload items (journaled, paced, sessions renewed), verify.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use mbxa_format::{ArchiveReader, BlobId, ItemContent, Manifest};
use mbxa_graph::{GraphClient, ImportSession};

use crate::error::{Error, Result};
use crate::journal::{default_journal_path, ItemState, Journal, Record};
use crate::pace::{Ticket, Window};
use crate::plan::{
    plan_folders, FolderPlan, ItemFilter, NodeState, Parent, SourceMapping, TargetFolder,
};
use crate::report::{
    FolderAction, FolderReport, ItemOutcome, ItemProblem, PlanTotals, PlannedItem, Progress,
    ReplayOptions, ReplayReport, VerifyMismatch, VerifyReport,
};

/// `done` records buffered before an fsync (intents are always fsynced before their upload).
const SYNC_EVERY_RECORDS: usize = 64;
/// Longest a `done` record stays buffered.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Item ids per `exportItems` call during `--verify`.
const EXPORT_BATCH: usize = 20;

/// Imports the archive at `archive` into `opts.mailbox_id`, or with `opts.dry_run` only plans.
///
/// Re-running with the same archive, mailbox and journal never imports an item twice: items
/// recorded as done are skipped, and items whose upload may have happened without a recorded
/// result are looked up by search key in the target folder first.
///
/// # Errors
/// What stops the replay as a whole: unreadable archive, journal trouble, a failed folder
/// listing or search-key lookup. Failures of single items are listed in the report instead.
pub async fn replay(
    client: &GraphClient,
    archive: &Path,
    opts: &ReplayOptions,
    progress: &dyn Progress,
) -> Result<ReplayReport> {
    let started = Instant::now();
    let (blobs, manifest, archive_id) = BlobReader::open(archive).await?;
    let mailbox = opts.mailbox_id.clone();
    let journal_path = match &opts.journal {
        Some(p) => p.clone(),
        None => default_journal_path(&archive_id, &mailbox).ok_or(Error::NoStateDir)?,
    };
    let journal = if opts.dry_run {
        Journal::read_only(&journal_path, &archive_id, &mailbox)?
    } else {
        Journal::open(&journal_path, &archive_id, &mailbox)?
    };

    let listed = client
        .list_folders(&mailbox)
        .await
        .map_err(|source| Error::Graph {
            what: format!("listing folders of {mailbox}"),
            source: Box::new(source),
        })?;
    let target: Vec<TargetFolder> = listed.into_iter().map(TargetFolder::from).collect();
    let fplan = plan_folders(
        &manifest.folders,
        &target,
        opts.into.as_deref(),
        &opts.folders,
    )?;

    let mut report = ReplayReport {
        archive_id: archive_id.clone(),
        mailbox_id: mailbox.clone(),
        journal: Some(journal_path.clone()),
        dry_run: opts.dry_run,
        ..ReplayReport::default()
    };
    let mut folders: Vec<FolderReport> = fplan
        .nodes
        .iter()
        .map(|n| match &n.state {
            NodeState::Existing { id, .. } => FolderReport {
                path: n.path.clone(),
                action: FolderAction::Existing,
                id: Some(id.clone()),
                to_import: 0,
                imported: 0,
                already_present: 0,
            },
            NodeState::Create { .. } => FolderReport {
                path: n.path.clone(),
                action: FolderAction::Create,
                id: None,
                to_import: 0,
                imported: 0,
                already_present: 0,
            },
        })
        .collect();

    // Classify every archive item.
    let filter = ItemFilter {
        since: opts.since,
        until: opts.until,
        message_classes: opts.message_classes.clone(),
    };
    let mut jobs: Vec<Job> = Vec::new();
    // (source item index, node, target item id) of items already in the target.
    let mut present: Vec<(usize, usize, String)> = Vec::new();
    for (idx, item) in manifest.items.iter().enumerate() {
        let src_path = fplan
            .source_paths
            .get(&item.folder_id)
            .cloned()
            .unwrap_or_default();
        let node = match fplan.sources.get(&item.folder_id) {
            Some(SourceMapping::Node(n)) => *n,
            Some(SourceMapping::System) | Some(SourceMapping::Root) => {
                report.skipped_system += 1;
                continue;
            }
            Some(SourceMapping::NotSelected) => {
                report.filtered += 1;
                continue;
            }
            None => {
                report.failed.push(ItemProblem {
                    item_id: item.id.clone(),
                    folder: item.folder_id.clone(),
                    reason: format!("its folder {} is not in the archive", item.folder_id),
                });
                continue;
            }
        };
        if !filter.matches(item) {
            report.filtered += 1;
            continue;
        }
        let (blob, len) = match &item.content {
            ItemContent::Blob { id, len } => (*id, *len),
            ItemContent::ExportFailed { code, message } => {
                report.skipped_export_failed.push(ItemProblem {
                    item_id: item.id.clone(),
                    folder: src_path,
                    reason: format!("capture failed: {code}: {message}"),
                });
                continue;
            }
        };
        let (existing_folder, lookup) = match &fplan.nodes[node].state {
            NodeState::Existing { id, item_count } => (Some(id.clone()), *item_count > 0),
            NodeState::Create { .. } => (None, false),
        };
        let mut uncertain = false;
        if let Some(fid) = &existing_folder {
            match journal.item(&item.id, fid) {
                Some(ItemState::Done { id, .. }) => {
                    present.push((idx, node, id.clone()));
                    folders[node].already_present += 1;
                    report.already_present += 1;
                    if opts.dry_run {
                        report.planned_items.push(PlannedItem {
                            item_id: item.id.clone(),
                            target_folder: fplan.nodes[node].path.clone(),
                            action: "present",
                            size: len,
                        });
                    }
                    continue;
                }
                Some(ItemState::Uncertain) => uncertain = true,
                None => {}
            }
        }
        jobs.push(Job {
            idx,
            node,
            blob,
            len,
            lookup: lookup || uncertain,
            uncertain,
        });
    }
    let totals = PlanTotals {
        folders_to_create: fplan.to_create(),
        items_to_import: jobs.len() as u64,
        bytes_to_import: jobs.iter().map(|j| j.len).sum(),
        already_imported: report.already_present,
    };
    progress.planned(&totals);

    // Search keys of the existing target folders that may hold some of the items.
    let claimed: HashSet<String> = journal.claimed_targets().into_values().flatten().collect();
    let mut listings: HashMap<String, Listing> = HashMap::new();
    for job in jobs.iter().filter(|j| j.lookup) {
        if let NodeState::Existing { id, .. } = &fplan.nodes[job.node].state {
            if !listings.contains_key(id) {
                let keys = client
                    .item_search_keys(&mailbox, id)
                    .await
                    .map_err(|source| Error::Graph {
                        what: format!(
                            "listing search keys of folder {}",
                            fplan.nodes[job.node].path
                        ),
                        source: Box::new(source),
                    })?;
                listings.insert(id.clone(), keys);
            }
        }
    }

    let ctx = Ctx {
        client,
        mailbox: mailbox.clone(),
        blobs,
        journal: SharedJournal::new(journal),
        sessions: Sessions::new(opts.session_renew_margin),
        upload_window: Window::new(opts.upload_budget),
        request_window: Window::new(opts.request_budget),
        listings: Mutex::new(listings),
        claimed: Mutex::new(claimed),
        folder_mailbox: Mutex::new(HashMap::new()),
        max_attempts: opts.max_attempts.max(1),
        concurrency: opts.concurrency.max(1),
        upload_slots: tokio::sync::Semaphore::new(opts.concurrency.max(1)),
        progress,
        paced: Mutex::new(Duration::ZERO),
    };

    if opts.dry_run {
        dry_run(&ctx, &manifest, &fplan, jobs, &mut folders, &mut report).await;
        report.folders_created = fplan
            .nodes
            .iter()
            .filter(|n| matches!(n.state, NodeState::Create { .. }))
            .map(|n| n.path.clone())
            .collect();
        report.folders = folders;
        report.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // Folders: create what is missing, parents first.
    let node_ids = create_folders(&ctx, &fplan, &target, &mut folders, &mut report).await?;

    // Items.
    let mut targets: Vec<(usize, String)> = present
        .iter()
        .map(|(idx, _, id)| (*idx, id.clone()))
        .collect();
    upload_all(
        &ctx,
        &manifest,
        &fplan,
        &node_ids,
        jobs,
        &mut folders,
        &mut report,
        &mut targets,
    )
    .await?;
    ctx.journal.sync().await?;

    if opts.verify {
        report.verify = Some(verify_all(&ctx, &manifest, &targets).await);
    }
    report.folders = folders;
    report.paced_secs = lock(&ctx.paced).as_secs_f64();
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One item to import.
#[derive(Debug, Clone)]
struct Job {
    /// Index into the manifest's items.
    idx: usize,
    /// Plan node of its target folder.
    node: usize,
    blob: BlobId,
    len: u64,
    /// Look the item up by search key in its (existing, non-empty) target folder first.
    lookup: bool,
    /// The journal has an intent without a result: an earlier upload may have happened.
    uncertain: bool,
}

/// How one job ended.
enum JobEnd {
    Imported { id: String, change_key: String },
    Present { id: String },
    Failed(String),
}

/// A target folder's items as (item id, search key).
type Listing = Vec<(String, Vec<u8>)>;

/// Everything the upload futures share.
struct Ctx<'a> {
    client: &'a GraphClient,
    mailbox: String,
    blobs: BlobReader,
    journal: SharedJournal,
    sessions: Sessions,
    upload_window: Window,
    request_window: Window,
    /// Target folder id → (item id, search key) as last listed.
    listings: Mutex<HashMap<String, Listing>>,
    /// Target item ids that belong to some source item (journal, found, imported).
    claimed: Mutex<HashSet<String>>,
    /// Target folder id → the mailbox its imports must go to (409 "expected in mailbox").
    folder_mailbox: Mutex<HashMap<String, String>>,
    max_attempts: u32,
    concurrency: usize,
    upload_slots: tokio::sync::Semaphore,
    progress: &'a dyn Progress,
    paced: Mutex<Duration>,
}

/// Locks a std mutex; a poisoned lock still holds valid data here (plain maps and counters).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ctx<'_> {
    /// Claims an unclaimed target item of `folder` with search key `key`.
    fn claim_by_key(&self, folder: &str, key: &[u8]) -> Option<String> {
        let listings = lock(&self.listings);
        let mut claimed = lock(&self.claimed);
        let found = listings
            .get(folder)?
            .iter()
            .find(|(id, k)| k.as_slice() == key && !claimed.contains(id))
            .map(|(id, _)| id.clone())?;
        claimed.insert(found.clone());
        Some(found)
    }

    fn mailbox_for(&self, folder: &str) -> String {
        lock(&self.folder_mailbox)
            .get(folder)
            .cloned()
            .unwrap_or_else(|| self.mailbox.clone())
    }

    async fn relist(&self, folder: &str) -> std::result::Result<(), mbxa_graph::Error> {
        let keys = self.client.item_search_keys(&self.mailbox, folder).await?;
        lock(&self.listings).insert(folder.to_owned(), keys);
        Ok(())
    }

    /// Waits for room in the mailbox's budgets; returns the bookings to settle when answered.
    async fn pace(&self, body: u64) -> (Ticket, Ticket) {
        let (up, w1) = self.upload_window.acquire(body).await;
        let (req, w2) = self.request_window.acquire(1).await;
        let waited = w1 + w2;
        if !waited.is_zero() {
            *lock(&self.paced) += waited;
            self.progress.paced(waited);
        }
        (up, req)
    }

    async fn settle(&self, (up, req): (Ticket, Ticket)) {
        self.upload_window.settle(up).await;
        self.request_window.settle(req).await;
    }

    /// Reads, checks and uploads one item. `Err` only for journal failures (fatal).
    async fn run_job(&self, item_id: &str, folder: &str, job: &Job) -> Result<JobEnd> {
        let data = match self.blobs.read(job.blob).await {
            Ok(d) => d,
            Err(e) => {
                return Ok(JobEnd::Failed(format!(
                    "blob {} refused, not uploaded: {e}",
                    job.blob
                )))
            }
        };
        let mut key: Option<Option<Vec<u8>>> = None;
        if job.lookup {
            let k = search_key(&data);
            if let Some(k) = &k {
                if let Some(id) = self.claim_by_key(folder, k) {
                    return Ok(JobEnd::Present { id });
                }
            } else if job.uncertain {
                return Ok(JobEnd::Failed(
                    "an earlier upload may have succeeded and the item has no search key to \
                     check; not imported again"
                        .into(),
                ));
            }
            key = Some(k);
        }

        // The intent is durable before the upload starts.
        self.journal
            .durable(Record::Intent {
                item: item_id.to_owned(),
                folder: folder.to_owned(),
            })
            .await?;

        // Reading and the intent's fsync above overlap with other items' uploads; only
        // `concurrency` uploads are in flight.
        let _slot = self
            .upload_slots
            .acquire()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let body = upload_body_len(data.len(), folder);
        let mut last = String::new();
        let mut attempts = 0u32;
        // Session renewals and mailbox switches are bounded separately from real attempts.
        let mut session_changes = 0u32;
        while attempts < self.max_attempts {
            attempts += 1;
            // Pace first: the wait may be long, and the session is checked for expiry after it.
            let tickets = self.pace(body).await;
            let mbx = self.mailbox_for(folder);
            let (generation, session) = match self.sessions.get(self.client, &mbx).await {
                Ok(s) => s,
                Err(e) => {
                    self.settle(tickets).await;
                    last = format!("cannot create an import session in {mbx}: {e}");
                    continue;
                }
            };
            let result = self.client.import_item(&session, folder, &data).await;
            self.settle(tickets).await;
            match result {
                Ok(r) => {
                    lock(&self.claimed).insert(r.item_id.clone());
                    return Ok(JobEnd::Imported {
                        id: r.item_id,
                        change_key: r.change_key,
                    });
                }
                Err(mbxa_graph::Error::ImportSessionExpired { status }) if session_changes < 4 => {
                    session_changes += 1;
                    attempts -= 1;
                    last = format!("import session rejected (HTTP {status})");
                    self.sessions.invalidate(&mbx, generation).await;
                }
                Err(mbxa_graph::Error::ImportWrongMailbox { mailbox_id })
                    if session_changes < 4 =>
                {
                    session_changes += 1;
                    attempts -= 1;
                    last = format!("folder lives in mailbox {mailbox_id}");
                    lock(&self.folder_mailbox).insert(folder.to_owned(), mailbox_id);
                }
                Err(e) if outcome_unknown(&e) => {
                    // The item may have been imported: look before sending it again.
                    last = e.to_string();
                    let k = match &key {
                        Some(k) => k.clone(),
                        None => search_key(&data),
                    };
                    key = Some(k.clone());
                    let Some(k) = k else {
                        return Ok(JobEnd::Failed(format!(
                            "{e}; the upload may have succeeded and the item has no search key \
                             to check; not sent again"
                        )));
                    };
                    if let Err(le) = self.relist(folder).await {
                        return Ok(JobEnd::Failed(format!(
                            "{e}; the upload may have succeeded and the lookup failed ({le}); \
                             not sent again"
                        )));
                    }
                    if let Some(id) = self.claim_by_key(folder, &k) {
                        return Ok(JobEnd::Imported {
                            id,
                            change_key: String::new(),
                        });
                    }
                }
                Err(e @ mbxa_graph::Error::Throttled { .. }) => last = e.to_string(),
                Err(e) => return Ok(JobEnd::Failed(e.to_string())),
            }
        }
        Ok(JobEnd::Failed(last))
    }
}

/// True when an import error leaves it unknown whether the item was stored.
fn outcome_unknown(e: &mbxa_graph::Error) -> bool {
    match e {
        mbxa_graph::Error::Transport { .. } | mbxa_graph::Error::Decode { .. } => true,
        mbxa_graph::Error::ResponseTooLarge { .. } => true,
        mbxa_graph::Error::Http { status, .. } => *status >= 500 || *status == 408,
        _ => false,
    }
}

/// Size of the import request body: base64 of the data plus the JSON around it.
fn upload_body_len(data_len: usize, folder: &str) -> u64 {
    (data_len as u64).div_ceil(3) * 4 + 64 + folder.len() as u64
}

/// The item's `PidTagSearchKey`, if its stream has one (best-effort parse).
fn search_key(data: &[u8]) -> Option<Vec<u8>> {
    let (msg, _) = mbxa_fasttransfer::parse_partial(data);
    msg.search_key()
        .filter(|k| !k.is_empty())
        .map(<[u8]>::to_vec)
}

async fn dry_run(
    ctx: &Ctx<'_>,
    manifest: &Manifest,
    fplan: &FolderPlan,
    jobs: Vec<Job>,
    folders: &mut [FolderReport],
    report: &mut ReplayReport,
) {
    for job in jobs {
        let item = &manifest.items[job.idx];
        let path = fplan.nodes[job.node].path.clone();
        let mut action = "import";
        if job.lookup {
            let folder = match &fplan.nodes[job.node].state {
                NodeState::Existing { id, .. } => id.clone(),
                NodeState::Create { .. } => String::new(),
            };
            match ctx.blobs.read(job.blob).await {
                Err(e) => {
                    report.failed.push(problem(
                        manifest,
                        fplan,
                        job.idx,
                        format!("blob {} refused, would not be uploaded: {e}", job.blob),
                    ));
                    continue;
                }
                Ok(data) => match search_key(&data) {
                    Some(k) if ctx.claim_by_key(&folder, &k).is_some() => action = "present",
                    Some(_) => {}
                    None if job.uncertain => {
                        report.failed.push(problem(
                            manifest,
                            fplan,
                            job.idx,
                            "an earlier upload may have succeeded and the item has no search key"
                                .into(),
                        ));
                        continue;
                    }
                    None => {}
                },
            }
        }
        if action == "present" {
            report.already_present += 1;
            report.found_by_search_key += 1;
            folders[job.node].already_present += 1;
        } else {
            report.imported += 1;
            report.imported_bytes += job.len;
            folders[job.node].to_import += 1;
        }
        report.planned_items.push(PlannedItem {
            item_id: item.id.clone(),
            target_folder: path,
            action,
            size: job.len,
        });
    }
}

fn problem(manifest: &Manifest, fplan: &FolderPlan, idx: usize, reason: String) -> ItemProblem {
    let item = &manifest.items[idx];
    ItemProblem {
        item_id: item.id.clone(),
        folder: fplan
            .source_paths
            .get(&item.folder_id)
            .cloned()
            .unwrap_or_default(),
        reason,
    }
}

/// Attempts at creating one folder before giving up on it.
const FOLDER_CREATE_ATTEMPTS: u32 = 6;

/// Creates folder `name` under `parent_id` exactly once: `Ok((id, true))` when this call created
/// it, `Ok((id, false))` when it turned out to exist already.
///
/// A create that failed may still have happened (its answer lost to a dropped connection), and the
/// Graph client rightly does not re-send non-idempotent POSTs. So after each failure the target's
/// folders are listed afresh and searched by name under the parent; only when the folder is
/// certainly absent is the create tried again, a bounded number of times.
async fn create_folder_once(
    ctx: &Ctx<'_>,
    parent_id: Option<&str>,
    name: &str,
    class: &str,
    listed: &[TargetFolder],
) -> std::result::Result<(String, bool), String> {
    let mut last = String::new();
    for attempt in 0..FOLDER_CREATE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis((100 << attempt).min(2000))).await;
        }
        match ctx
            .client
            .create_folder(&ctx.mailbox, parent_id, name, class)
            .await
        {
            Ok(f) => return Ok((f.id, true)),
            Err(e) => last = e.to_string(),
        }
        // It may exist after all (created by a request whose answer was lost, or concurrently).
        let fresh: Vec<TargetFolder> = match ctx.client.list_folders(&ctx.mailbox).await {
            Ok(v) => v.into_iter().map(TargetFolder::from).collect(),
            // Without a fresh listing, re-creating could duplicate the folder: the listing from
            // the start of the run is the best evidence left.
            Err(_) if attempt + 1 == FOLDER_CREATE_ATTEMPTS => listed.to_vec(),
            Err(e) => {
                last = format!("{last}; listing folders to check: {e}");
                continue;
            }
        };
        if let Some(id) = find_folder(&fresh, name, parent_id) {
            return Ok((id, false));
        }
    }
    Err(last)
}

/// The folder named `name` (case-insensitively) under `parent_id`, or at the top of the tree.
fn find_folder(list: &[TargetFolder], name: &str, parent_id: Option<&str>) -> Option<String> {
    list.iter()
        .find(|f| {
            f.display_name.to_lowercase() == name.to_lowercase()
                && match parent_id {
                    Some(p) => f.parent_id.as_deref() == Some(p),
                    None => !list.iter().any(|x| {
                        Some(x.id.as_str()) == f.parent_id.as_deref()
                            && x.well_known_name.as_deref() != Some("msgfolderroot")
                    }),
                }
        })
        .map(|f| f.id.clone())
}

/// Creates the plan's missing folders; returns each node's target id, or why it has none.
async fn create_folders(
    ctx: &Ctx<'_>,
    fplan: &FolderPlan,
    listed: &[TargetFolder],
    folders: &mut [FolderReport],
    report: &mut ReplayReport,
) -> Result<Vec<std::result::Result<String, String>>> {
    let mut ids: Vec<Option<String>> = Vec::with_capacity(fplan.nodes.len());
    let mut failures: HashMap<usize, String> = HashMap::new();
    for (n, node) in fplan.nodes.iter().enumerate() {
        let id = match &node.state {
            NodeState::Existing { id, .. } => Some(id.clone()),
            NodeState::Create {
                parent,
                name,
                class,
            } => {
                let parent_id = match parent {
                    Parent::Root => Some(None),
                    Parent::Existing(p) => Some(Some(p.clone())),
                    Parent::Node(p) => ids.get(*p).cloned().flatten().map(Some),
                };
                match parent_id {
                    None => {
                        folders[n].action = FolderAction::Failed;
                        failures.insert(n, "its parent folder could not be created".into());
                        None
                    }
                    Some(parent_id) => {
                        match create_folder_once(ctx, parent_id.as_deref(), name, class, listed)
                            .await
                        {
                            Ok((id, created)) => {
                                if created {
                                    ctx.progress.folder_created(&node.path);
                                    report.folders_created.push(node.path.clone());
                                    folders[n].action = FolderAction::Created;
                                }
                                Some(id)
                            }
                            Err(e) => {
                                folders[n].action = FolderAction::Failed;
                                failures.insert(n, e);
                                None
                            }
                        }
                    }
                }
            }
        };
        folders[n].id = id.clone();
        ids.push(id);
    }
    // Record the mapping of source folders (informational; the plan re-derives it by name).
    let mut recs = Vec::new();
    for (src, m) in &fplan.sources {
        if let SourceMapping::Node(n) = m {
            if let Some(Some(dst)) = ids.get(*n) {
                recs.push(Record::Folder {
                    src: src.clone(),
                    dst: dst.clone(),
                    created: matches!(fplan.nodes[*n].state, NodeState::Create { .. }),
                });
            }
        }
    }
    ctx.journal.append_durable(recs).await?;
    Ok(ids
        .into_iter()
        .enumerate()
        .map(|(n, id)| {
            id.ok_or_else(|| {
                failures
                    .remove(&n)
                    .unwrap_or_else(|| "unknown failure".into())
            })
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn upload_all(
    ctx: &Ctx<'_>,
    manifest: &Manifest,
    fplan: &FolderPlan,
    node_ids: &[std::result::Result<String, String>],
    jobs: Vec<Job>,
    folders: &mut [FolderReport],
    report: &mut ReplayReport,
    targets: &mut Vec<(usize, String)>,
) -> Result<()> {
    // Twice the uploads in flight: the extra jobs read their blob and fsync their intent while
    // the others upload.
    let concurrency = ctx.concurrency * 2;
    let mut pending = jobs.into_iter();
    let mut running = FuturesUnordered::new();
    let mut last_sync = Instant::now();
    loop {
        while running.len() < concurrency {
            let Some(job) = pending.next() else { break };
            let item = &manifest.items[job.idx];
            let folder = match node_ids.get(job.node) {
                Some(Ok(f)) => Ok(f.clone()),
                Some(Err(why)) => Err(why.clone()),
                None => Err("no target folder".to_owned()),
            };
            let Ok(folder) = folder else {
                let why = folder.err().unwrap_or_default();
                let reason = format!(
                    "target folder {} could not be created: {why}",
                    fplan.nodes[job.node].path
                );
                ctx.progress
                    .item(&item.id, &ItemOutcome::Failed(reason.clone()), job.len);
                report
                    .failed
                    .push(problem(manifest, fplan, job.idx, reason));
                continue;
            };
            folders[job.node].to_import += 1;
            running.push(async move {
                let end = ctx.run_job(&item.id, &folder, &job).await;
                (job, folder, end)
            });
        }
        let Some((job, folder, end)) = running.next().await else {
            break;
        };
        let item = &manifest.items[job.idx];
        let (record, outcome) = match end? {
            JobEnd::Imported { id, change_key } => {
                report.imported += 1;
                report.imported_bytes += job.len;
                folders[job.node].imported += 1;
                targets.push((job.idx, id.clone()));
                (
                    Record::Done {
                        item: item.id.clone(),
                        folder,
                        id,
                        ck: change_key,
                    },
                    ItemOutcome::Imported,
                )
            }
            JobEnd::Present { id } => {
                report.already_present += 1;
                report.found_by_search_key += 1;
                folders[job.node].already_present += 1;
                targets.push((job.idx, id.clone()));
                (
                    Record::Done {
                        item: item.id.clone(),
                        folder,
                        id,
                        ck: String::new(),
                    },
                    ItemOutcome::AlreadyPresent,
                )
            }
            JobEnd::Failed(reason) => {
                report
                    .failed
                    .push(problem(manifest, fplan, job.idx, reason.clone()));
                (
                    Record::Failed {
                        item: item.id.clone(),
                        folder,
                        reason: reason.clone(),
                    },
                    ItemOutcome::Failed(reason),
                )
            }
        };
        ctx.journal.append(record)?;
        if ctx.journal.unsynced() >= SYNC_EVERY_RECORDS || last_sync.elapsed() >= SYNC_EVERY {
            // Never wait for the sync gate here: the jobs in `running` are only polled by this
            // loop, so one holding the gate (mid-fsync of its intent) would never release it
            // while we wait; that deadlock hung replays under load. If a job is syncing, its
            // fsync covers records up to its start and the next round syncs the rest.
            if ctx.journal.try_sync().await? {
                last_sync = Instant::now();
            }
        }
        ctx.progress.item(&item.id, &outcome, job.len);
    }
    Ok(())
}

async fn verify_all(
    ctx: &Ctx<'_>,
    manifest: &Manifest,
    targets: &[(usize, String)],
) -> VerifyReport {
    let mut v = VerifyReport::default();
    let total = targets.len() as u64;
    for chunk in targets.chunks(EXPORT_BATCH) {
        let ids: Vec<String> = chunk.iter().map(|(_, t)| t.clone()).collect();
        let results = match ctx.client.export_items(&ctx.mailbox, &ids).await {
            Ok(r) => r,
            Err(e) => {
                for (idx, _) in chunk {
                    v.errors.push(ItemProblem {
                        item_id: manifest.items[*idx].id.clone(),
                        folder: manifest.items[*idx].folder_id.clone(),
                        reason: format!("re-export failed: {e}"),
                    });
                }
                continue;
            }
        };
        let by_id: HashMap<&str, &mbxa_graph::ExportOutcome> = results
            .iter()
            .map(|r| (r.item_id.as_str(), &r.outcome))
            .collect();
        for (idx, target_id) in chunk {
            let item = &manifest.items[*idx];
            v.checked += 1;
            let err = |reason: String| ItemProblem {
                item_id: item.id.clone(),
                folder: item.folder_id.clone(),
                reason,
            };
            let exported = match by_id.get(target_id.as_str()) {
                Some(mbxa_graph::ExportOutcome::Data { data, .. }) => data,
                Some(mbxa_graph::ExportOutcome::Failed { code, message }) => {
                    v.errors.push(err(format!(
                        "re-export of {target_id} failed: {code}: {message}"
                    )));
                    continue;
                }
                None => {
                    v.errors
                        .push(err(format!("re-export of {target_id} returned nothing")));
                    continue;
                }
            };
            let ItemContent::Blob { id: blob, .. } = &item.content else {
                continue;
            };
            let original = match ctx.blobs.read(*blob).await {
                Ok(d) => d,
                Err(e) => {
                    v.errors.push(err(format!("archive blob unreadable: {e}")));
                    continue;
                }
            };
            let (a, ea) = mbxa_fasttransfer::parse_partial(&original);
            let (b, eb) = mbxa_fasttransfer::parse_partial(exported);
            if let Some(e) = ea.or(eb) {
                if original != *exported {
                    v.errors
                        .push(err(format!("cannot parse for comparison: {e}")));
                    continue;
                }
            }
            let diffs = crate::verify::compare(&a, &b);
            if diffs.is_empty() {
                v.matched += 1;
            } else {
                v.mismatched.push(VerifyMismatch {
                    item_id: item.id.clone(),
                    target_id: target_id.clone(),
                    differences: diffs,
                });
            }
            ctx.progress.verified(v.checked, total);
        }
    }
    v
}

/// The archive, read on its own thread (reads are blocking file I/O, zstd and SHA-256).
struct BlobReader {
    tx: std::sync::mpsc::Sender<BlobRequest>,
}

type BlobRequest = (
    BlobId,
    tokio::sync::oneshot::Sender<std::result::Result<Vec<u8>, mbxa_format::Error>>,
);

impl BlobReader {
    /// Opens the archive and starts the reader thread; returns the manifest and the archive id.
    async fn open(path: &Path) -> Result<(BlobReader, Manifest, String)> {
        let p: PathBuf = path.to_owned();
        let reader = tokio::task::spawn_blocking(move || ArchiveReader::open_path(&p))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
            .map_err(|source| Error::Archive {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
        let manifest = reader.manifest().clone();
        let archive_id = reader.archive_id().to_string();
        let (tx, rx) = std::sync::mpsc::channel::<BlobRequest>();
        std::thread::Builder::new()
            .name("mbxa-replay-reader".into())
            .spawn(move || {
                let mut reader = reader;
                for (id, reply) in rx {
                    let _ = reply.send(reader.read_blob(&id));
                }
            })
            .map_err(|e| Error::io(path, e))?;
        Ok((BlobReader { tx }, manifest, archive_id))
    }

    /// Reads one blob, hash-checked.
    async fn read(&self, id: BlobId) -> std::result::Result<Vec<u8>, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send((id, tx))
            .map_err(|_| "archive reader stopped".to_owned())?;
        rx.await
            .map_err(|_| "archive reader stopped".to_owned())?
            .map_err(|e| e.to_string())
    }
}

/// The journal shared by the upload futures, with group commit for intents.
struct SharedJournal {
    inner: Mutex<Journal>,
    /// Serialises fsyncs so one covers every record appended before it started.
    sync_gate: tokio::sync::Mutex<()>,
    appended: std::sync::atomic::AtomicU64,
    synced: std::sync::atomic::AtomicU64,
}

impl SharedJournal {
    fn new(j: Journal) -> Self {
        SharedJournal {
            inner: Mutex::new(j),
            sync_gate: tokio::sync::Mutex::new(()),
            appended: 0.into(),
            synced: 0.into(),
        }
    }

    fn append(&self, r: Record) -> Result<()> {
        use std::sync::atomic::Ordering;
        lock(&self.inner).append(&[r])?;
        self.appended.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn append_durable(&self, rs: Vec<Record>) -> Result<()> {
        use std::sync::atomic::Ordering;
        let seq = {
            lock(&self.inner).append(&rs)?;
            self.appended.fetch_add(rs.len() as u64, Ordering::SeqCst) + rs.len() as u64
        };
        self.sync_upto(seq).await
    }

    fn unsynced(&self) -> usize {
        lock(&self.inner).unsynced()
    }

    /// Like [`SharedJournal::sync`] unless another sync is in progress, then does nothing and
    /// returns `false` (it does not wait for the gate).
    async fn try_sync(&self) -> Result<bool> {
        let Ok(_gate) = self.sync_gate.try_lock() else {
            return Ok(false);
        };
        let upto = self.appended.load(std::sync::atomic::Ordering::SeqCst);
        self.sync_locked(upto).await?;
        Ok(true)
    }

    /// Makes every record appended so far durable.
    async fn sync(&self) -> Result<()> {
        let upto = self.appended.load(std::sync::atomic::Ordering::SeqCst);
        self.sync_upto(upto).await
    }

    /// Returns once record number `seq` is on disk: one fsync (on a blocking thread) covers
    /// every record appended before it started, so concurrent callers share it.
    async fn sync_upto(&self, seq: u64) -> Result<()> {
        let _gate = self.sync_gate.lock().await;
        self.sync_locked(seq).await
    }

    /// The body of [`SharedJournal::sync_upto`]; the caller holds `sync_gate`.
    async fn sync_locked(&self, seq: u64) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.synced.load(Ordering::SeqCst) >= seq {
            return Ok(());
        }
        let (upto, handle, path) = {
            let mut j = lock(&self.inner);
            let upto = self.appended.load(Ordering::SeqCst);
            (upto, j.flush_for_sync()?, j.path().to_owned())
        };
        if let Some(f) = handle {
            tokio::task::spawn_blocking(move || f.sync_data())
                .await
                .map_err(|e| Error::Task(e.to_string()))?
                .map_err(|e| Error::io(&path, e))?;
        }
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Appends `r` and returns once it is on disk.
    async fn durable(&self, r: Record) -> Result<()> {
        use std::sync::atomic::Ordering;
        let seq = {
            lock(&self.inner).append(&[r])?;
            self.appended.fetch_add(1, Ordering::SeqCst) + 1
        };
        self.sync_upto(seq).await
    }
}

/// Import sessions per mailbox, renewed before expiry or when rejected.
struct Sessions {
    margin: Duration,
    map: tokio::sync::Mutex<HashMap<String, (u64, ImportSession, Duration)>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Sessions {
    fn new(margin: Duration) -> Self {
        Sessions {
            margin,
            map: tokio::sync::Mutex::new(HashMap::new()),
            generation: 0.into(),
        }
    }

    /// A usable session for `mailbox` (created or renewed as needed) and its generation.
    async fn get(
        &self,
        client: &GraphClient,
        mailbox: &str,
    ) -> std::result::Result<(u64, ImportSession), mbxa_graph::Error> {
        let mut map = self.map.lock().await;
        if let Some((g, s, margin)) = map.get(mailbox) {
            if !s.expires_within(*margin) {
                return Ok((*g, s.clone()));
            }
        }
        let s = client.create_import_session(mailbox).await?;
        let lifetime = (s.expires_at() - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        // Renew `margin` before expiry, but never sooner than 4/5 of the way through the
        // session's life (short-lived sessions would otherwise be renewed on every upload).
        let margin = self.margin.min(lifetime / 5);
        let g = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        map.insert(mailbox.to_owned(), (g, s.clone(), margin));
        Ok((g, s))
    }

    /// Drops the session of `generation` for `mailbox` (a newer one is kept).
    async fn invalidate(&self, mailbox: &str, generation: u64) {
        let mut map = self.map.lock().await;
        if map.get(mailbox).is_some_and(|(g, _, _)| *g == generation) {
            map.remove(mailbox);
        }
    }
}
