//! Replay: import a `.mbxa` archive into a mailbox, resumable and never twice.
//!
//! [`replay`] opens an archive, lists the target mailbox's folders, maps the archive's folder
//! tree onto them ([`plan`]), creates what is missing, and imports every selected item through
//! `createImportSession` + the session's `importUrl` (mode `create`), `opts.concurrency` uploads
//! in flight, paced by a sliding-window upload budget ([`pace`]). A durable [`journal`] per
//! (archive, target mailbox) records each upload's intent (fsynced before the upload starts) and
//! result; re-running skips what is done, and looks items whose result was never recorded up by
//! their search key (`PidTagSearchKey`, which import preserves) before sending them again. Items
//! already in a non-empty target folder are found the same way, so a replay into the mailbox an
//! archive came from does not duplicate what is still there.
//!
//! ```no_run
//! # async fn demo(client: mbxa_graph::GraphClient) -> Result<(), mbxa_replay::Error> {
//! let opts = mbxa_replay::ReplayOptions::new("MBX:target@tenant");
//! let report = mbxa_replay::replay(&client, "in.mbxa".as_ref(), &opts, &mbxa_replay::NoProgress).await?;
//! assert!(report.failed.is_empty());
//! # Ok(()) }
//! ```
//!
//! Choices where the reference leaves things open:
//! - Dates for `--since`/`--until` filter on the item's `createdDateTime` (the archive's
//!   `created`); `--until` is exclusive, a bare date means the whole day is included.
//! - The upload budget counts request bodies (base64 data + JSON), like Outlook's "upload bytes".
//! - An import that fails with an unknown outcome (transport error, 5xx, undecodable answer) is
//!   looked up by search key before being sent again; an item without a search key in that
//!   situation is reported failed rather than risk a duplicate.
//! - A journal's `done` record is final: an item deleted from the target after its import is not
//!   imported again by a re-run against the same journal.
//! - Folder names match case-insensitively (Exchange's rule); `/` separates path segments.
//! - Items that landed in an auxiliary archive mailbox (409 "expected in mailbox") are looked up
//!   through the main mailbox id (Graph redirects).
//! - Nothing guards two replays running at once on one journal: do not.

mod engine;
mod error;
pub mod journal;
pub mod pace;
pub mod plan;
mod report;
pub mod verify;

pub use engine::replay;
pub use error::{Error, Result};
pub use journal::default_journal_path;
pub use pace::Budget;
pub use report::{
    FolderAction, FolderReport, ItemOutcome, ItemProblem, NoProgress, PlanTotals, PlannedItem,
    Progress, ReplayOptions, ReplayReport, VerifyMismatch, VerifyReport,
};
