//! Capture: turn a live mailbox into a `.mbxa` archive, full or incremental, resumable.
//!
//! [`capture_mailbox`] lists the folder tree (folders delta), then each selected folder's items
//! (items delta), exports them in batches of up to 20 ids with up to 4 `exportItems` calls in
//! flight, and streams every returned blob into one writer thread that appends it to
//! `OUT.mbxa.part` (one blob per unique content: the writer deduplicates by SHA-256).
//! [`capture_mailboxes`] runs several mailboxes at once (a tenant-wide job).
//!
//! Choices made here (the reference leaves them open):
//! - **Memory** is bounded by `(concurrency + queue_batches) × batch_size` items in flight per
//!   mailbox, not by mailbox size; item *metadata* (≈ 200 bytes per item) is kept for the whole
//!   mailbox, since the manifest written at the end lists every item.
//! - **Resume**: `OUT.mbxa.journal` (mode 0600, checksummed JSON lines, fsynced per commit)
//!   records the folder tree, each folder's listing (with its new delta link), and per batch the
//!   committed items, written only after their blob bytes were fsynced in the `.part`. Re-running
//!   the same capture resumes: `ArchiveFile::resume` keeps the intact blobs, and only items not
//!   journaled as committed (at most the batches in flight at the crash) are exported again.
//!   A journal for different options (mailbox, base, folders) is refused, not overwritten.
//!   `OUT.mbxa.lock` (holding the pid) keeps two captures from writing one `.part`; a lock whose
//!   process is gone (checked via `/proc`) is taken over, so a crash never needs a manual unlock.
//!   Archive and journal hold mail: both are created readable by their owner only.
//! - **Incremental** (`base`): folders and items are listed from the base's delta links; an
//!   item whose (id, change key) — or, when moved under a new id, whose change key, class and
//!   size — match a base item is copied from the base (read hash-checked, re-added), everything
//!   else is exported. Deleted items drop out. An expired delta token (`Error::is_delta_expired`)
//!   falls back to a full listing of that folder that still reuses base blobs. The result is
//!   self-contained; its manifest names the base as `base_archive`.
//! - **Failed items** (a per-item export error) are retried alone up to `item_retries` times
//!   (multi-item calls have been seen to drop items), then recorded as `ExportFailed` and listed
//!   in the report. An item Graph answers "not found" for was deleted between listing and
//!   export: it is not a failure of the backup, it is dropped and counted as *vanished*.
//! - **Folder selection** (`folders`): the manifest always holds the whole folder tree (so a
//!   later capture can start from its folders delta link), but items only of the selected
//!   subtrees; paths are display names joined by `/`, matched case-insensitively, below the
//!   invisible `msgfolderroot`.
//! - An existing `OUT.mbxa` is never overwritten, except that a run which finished the archive
//!   but died before deleting its journal is recognised and reported as done.

mod error;
mod journal;
mod options;
mod pipeline;
mod plan;
mod progress;

use std::sync::Arc;

use mbxa_graph::GraphClient;

pub use error::{Error, Result};
pub use journal::journal_path;
pub use options::{CaptureOptions, CaptureReport, FailedItem, MAX_BATCH};
pub use progress::{NoProgress, Progress, ProgressEvent, Snapshot};

/// Captures one mailbox into `opts.output` (resuming an interrupted capture of the same options).
///
/// `client` may be shared with other captures; this capture attaches its own retry observer to a
/// clone of it, to report throttle waits as [`ProgressEvent::Retry`].
pub async fn capture_mailbox(
    client: &GraphClient,
    opts: CaptureOptions,
    progress: Arc<dyn Progress>,
) -> Result<CaptureReport> {
    pipeline::run(client, opts, progress).await
}

/// Captures several mailboxes, at most `parallel` at a time; results in input order.
///
/// Each mailbox keeps its own in-flight limit (Graph's limits are per app *and mailbox*), so
/// memory is bounded by `parallel × (concurrency + queue_batches) × batch_size` items.
pub async fn capture_mailboxes(
    client: &GraphClient,
    jobs: Vec<CaptureOptions>,
    parallel: usize,
    progress: Arc<dyn Progress>,
) -> Vec<Result<CaptureReport>> {
    // Each capture runs as its own task so the pipelines of different mailboxes are polled on
    // all runtime threads, not inside the caller's task.
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|o| {
            let (client, progress, sem) = (client.clone(), progress.clone(), sem.clone());
            tokio::spawn(async move {
                let _permit = sem
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::Task(e.to_string()))?;
                capture_mailbox(&client, o, progress).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| Err(Error::Task(e.to_string()))));
    }
    out
}
