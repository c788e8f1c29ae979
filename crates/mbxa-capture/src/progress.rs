//! Progress events (items, bytes, throttle waits, ETA) for a caller to render.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Receives progress events. Called from pipeline tasks and the writer thread: keep it quick.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: &ProgressEvent);
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: &ProgressEvent) {}
}

impl<F: Fn(&ProgressEvent) + Send + Sync> Progress for F {
    fn event(&self, event: &ProgressEvent) {
        self(event)
    }
}

/// What happened. Serializes as `{"event": "...", ...}` for JSON Lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The capture started (or resumed an interrupted one).
    Started {
        /// Mailbox being captured.
        mailbox_id: String,
        /// True when continuing from a journal.
        resumed: bool,
        /// Items already committed by the interrupted run.
        items_already_done: u64,
    },
    /// The folder tree is known.
    Folders {
        /// Mailbox being captured.
        mailbox_id: String,
        /// Folders in the mailbox.
        total: usize,
        /// Folders whose items are captured (after `--folder`).
        selected: usize,
    },
    /// One folder's items are listed and planned.
    FolderListed {
        /// Mailbox being captured.
        mailbox_id: String,
        /// Display-name path.
        path: String,
        /// Current items in the folder.
        items: u64,
        /// Items that must be exported from Graph.
        to_export: u64,
        /// Items copied from the base archive.
        to_copy: u64,
        /// True when a full listing was needed (no base link, or the delta token expired).
        full: bool,
    },
    /// The client waited before retrying a call (throttling, 5xx, transport).
    Retry {
        /// Mailbox being captured.
        mailbox_id: String,
        /// How long it waits, in seconds.
        wait_secs: f64,
        /// True for a wait the service imposed (429/503).
        throttle: bool,
        /// Why (the client's reason and the HTTP status).
        reason: String,
    },
    /// Counters after a batch was committed.
    Progress(Snapshot),
    /// The archive is complete.
    Finished(Snapshot),
}

/// Counters of one mailbox's capture.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// Mailbox being captured.
    pub mailbox_id: String,
    /// True when every selected folder is listed (so `items_total` is final).
    pub listing_done: bool,
    /// Items known so far (listed in the selected folders).
    pub items_total: u64,
    /// Items committed to the archive (exported, copied, failed or vanished).
    pub items_done: u64,
    /// Items exported from Graph in this run.
    pub exported: u64,
    /// Items copied from the base archive in this run.
    pub copied: u64,
    /// Items Graph refused to export.
    pub failed: u64,
    /// Items deleted between listing and export.
    pub vanished: u64,
    /// Exported bytes received in this run (decoded stream bytes).
    pub bytes: u64,
    /// Retries the client made (throttling and transient errors).
    pub retries: u64,
    /// Of those, waits the service imposed (429/503): throttle waits.
    pub throttle_waits: u64,
    /// Seconds spent waiting before those retries.
    pub retry_wait_secs: f64,
    /// Seconds since the capture started (this run).
    pub elapsed_secs: f64,
    /// Estimated seconds left, once listing is done and items move.
    pub eta_secs: Option<f64>,
}

/// Shared counters behind the events.
pub(crate) struct Tracker {
    pub mailbox_id: String,
    sink: Arc<dyn Progress>,
    start: Instant,
    pub items_total: AtomicU64,
    pub items_done: AtomicU64,
    pub exported: AtomicU64,
    pub copied: AtomicU64,
    pub failed: AtomicU64,
    pub vanished: AtomicU64,
    pub bytes: AtomicU64,
    pub retries: AtomicU64,
    pub throttle_waits: AtomicU64,
    retry_wait_ms: AtomicU64,
    listing_done: std::sync::atomic::AtomicBool,
    /// Items done when this run started moving items, for the ETA rate.
    rate_base: Mutex<Option<(Instant, u64)>>,
}

impl Tracker {
    pub fn new(mailbox_id: &str, sink: Arc<dyn Progress>) -> Self {
        Tracker {
            mailbox_id: mailbox_id.to_string(),
            sink,
            start: Instant::now(),
            items_total: AtomicU64::new(0),
            items_done: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            copied: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            vanished: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttle_waits: AtomicU64::new(0),
            retry_wait_ms: AtomicU64::new(0),
            listing_done: std::sync::atomic::AtomicBool::new(false),
            rate_base: Mutex::new(None),
        }
    }

    pub fn emit(&self, e: ProgressEvent) {
        self.sink.event(&e);
    }

    pub fn set_listing_done(&self) {
        self.listing_done.store(true, Ordering::Relaxed);
    }

    pub fn retry(&self, wait: Duration, throttle: bool, reason: String) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if throttle {
            self.throttle_waits.fetch_add(1, Ordering::Relaxed);
        }
        self.retry_wait_ms.fetch_add(
            wait.as_millis().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.emit(ProgressEvent::Retry {
            mailbox_id: self.mailbox_id.clone(),
            wait_secs: wait.as_secs_f64(),
            throttle,
            reason,
        });
    }

    pub fn snapshot(&self) -> Snapshot {
        let done = self.items_done.load(Ordering::Relaxed);
        let total = self.items_total.load(Ordering::Relaxed);
        let listing_done = self.listing_done.load(Ordering::Relaxed);
        let eta_secs = {
            let mut rb = self.rate_base.lock().unwrap_or_else(|p| p.into_inner());
            match *rb {
                None => {
                    *rb = Some((Instant::now(), done));
                    None
                }
                Some((t0, d0)) => {
                    let dt = t0.elapsed().as_secs_f64();
                    let moved = done.saturating_sub(d0);
                    (listing_done && moved > 0 && dt > 0.0)
                        .then(|| total.saturating_sub(done) as f64 / (moved as f64 / dt))
                }
            }
        };
        Snapshot {
            mailbox_id: self.mailbox_id.clone(),
            listing_done,
            items_total: total,
            items_done: done,
            exported: self.exported.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            vanished: self.vanished.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttle_waits: self.throttle_waits.load(Ordering::Relaxed),
            retry_wait_secs: self.retry_wait_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            elapsed_secs: self.start.elapsed().as_secs_f64(),
            eta_secs,
        }
    }
}
