//! Typed async client for the Microsoft Graph mailbox import/export API (`mbxa-graph`).
//!
//! It speaks to Graph (or the `mbxa-emulator`, which shares no code with it): client-credentials
//! auth with a secret or a certificate (RS256 JWT client assertion with `x5t`), a cached token
//! refreshed before expiry and once on 401, bounded retries (429/503 honour `Retry-After`, other
//! 5xx/timeouts/dropped connections/truncated bodies back off exponentially with jitter), 308
//! redirects followed by hand with the bearer token re-sent (≤5 hops, Graph origin only), a
//! per-mailbox limiter shared by all clones, paging and delta, `exportItems` with per-item
//! results, and imports through the pre-authenticated `importUrl`.
//!
//! Choices where the reference is unresolved:
//! - `createImportSession` is sent without a body; 200 and 201 are both success.
//! - `exportItems` results are matched by `itemId`; ids missing from a multi-item answer are
//!   re-exported alone, and if still missing reported as `Failed { code: "NotReturned" }`. A
//!   multi-item call that fails as a whole with a 4xx (or exceeds the response bound) is retried
//!   one item per call so one bad id cannot sink its batch-mates.
//! - `ErrorArchiveFolderMovedPermanently` items are re-exported at the URL in `error.message`
//!   (keys read case-insensitively, `error` or `Error`) only if it is on the Graph origin and ends
//!   in `/exportItems`.
//! - Delta expiry: 410, or `syncStateNotFound`/`resyncRequired`/`syncStateInvalid` on a delta URL,
//!   is `Error::DeltaExpired`.
//! - next/delta/redirect links must share the configured Graph URL's origin, or the token is not
//!   sent (`Error::UntrustedUrl`).
//! - Imports are not idempotent: retried only on 429/503/connect failure (see
//!   [`GraphClient::import_item`]). An absent or unparseable `expirationDateTime` means "10
//!   minutes from now".
//! - The token scope is always `https://graph.microsoft.com/.default`, whatever `graph_url` is.
//! - A deleted folder or item that is already gone (404) counts as deleted.
//! - Response bodies are bounded: 64 MiB for JSON pages, 320 MiB for one `exportItems` answer.
//!
//! Secrets (client secret, private key, access tokens, `importUrl`s) live in [`SecretString`],
//! whose `Debug`/`Display` print `[redacted]`; errors carry URL paths only and scrubbed messages.

mod api;
mod auth;
mod client;
mod config;
mod error;
mod export;
mod import;
mod json;
mod limiter;
mod observer;
pub mod retry;
mod secret;
mod types;

pub use api::Pager;
pub use auth::x5t_of_der;
pub use client::GraphClient;
pub use config::{
    ClientAuth, GraphConfig, RetryPolicy, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL,
    DEFAULT_MAX_IN_FLIGHT_PER_MAILBOX, GRAPH_SCOPE,
};
pub use error::{Error, Result};
pub use export::{ARCHIVE_MOVED, MAX_EXPORT_BATCH, MAX_EXPORT_RESPONSE};
pub use observer::{NoopObserver, Observer, RetryEvent, RetryReason};
pub use secret::{redact_url, SecretString};
pub use types::{
    Delta, DisposalType, ExchangeSettings, ExportOutcome, ExportResult, ImportSession,
    ImportedItem, MailboxFolder, MailboxItem, Page, INVALID_DATA, NOT_RETURNED,
};
