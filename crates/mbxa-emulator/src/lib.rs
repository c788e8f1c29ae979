//! A local, faithful emulator of the Microsoft Graph mailbox import/export API, for tests,
//! benchmarks and `mbxa demo`/`mbxa emulator`.
//!
//! It is an independent reading of `shared/reference/graph-import-export.md`: it shares no code
//! and no JSON types with `mbxa-graph`, so a misreading in either shows up as a failing test.
//! Items are real FastTransfer streams made with `mbxa_fasttransfer::MessageBuilder`; the search
//! key (PidTagSearchKey, `Binary 0x300B`) of imported items is read back with
//! `mbxa_fasttransfer::parse`.
//!
//! Overview: [`Emulator::start`] takes an [`EmulatorConfig`] (tenants and users to generate,
//! [`Limits`], [`Faults`], latency, lifetimes, optional state file), binds `127.0.0.1:0` (or
//! `listen`) and serves until [`Emulator::shutdown`]. [`Emulator::tenants`] gives the
//! credentials and mailbox ids; [`Emulator::mailbox_snapshot`] is a test oracle;
//! [`Emulator::evolve`] changes a mailbox between captures; [`Emulator::stats`] counts what
//! clients did.
//!
//! # Routes
//!
//! Paths are matched case-insensitively; path segments are percent-decoded; the OData key form
//! `mailboxes('MBX:…')`, `folders('…')` is accepted wherever `/{id}` is. Graph routes exist under
//! both `/beta` and `/v1.0` (`inPlaceArchiveMailboxId` and the beta user `id` only on beta).
//!
//! | route | answers | paging | auth |
//! |---|---|---|---|
//! | `POST /{tenant}/oauth2/v2.0/token` | 200 `{token_type,expires_in,ext_expires_in,access_token}`; AAD error shape (`error`, `error_description` "AADSTS…", `error_codes`, …) on 400/401 | – | form: `client_secret` (or HTTP Basic) or `client_assertion` (RS256 JWT, `x5t` = base64url SHA-1 (or `x5t#S256` = SHA-256) thumbprint of a registered cert; `aud` = this endpoint's URL or `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`; `iss` = `sub` = client id; `exp` in the future); `scope` must end in `/.default`; `{tenant}` is the tenant id or domain |
//! | `GET /users/{upn}/settings/exchange` | `primaryMailboxId` (+ beta `inPlaceArchiveMailboxId`, `id`) | – | bearer |
//! | `GET …/mailboxes/{mbx}/folders` | IPM root's children (all descendants with `list_folders_recursive`) | `$top` (default 10, max 1000) + `$skip`, `@odata.nextLink` re-encodes the query (`%24skip=N`); `$filter` on `type`/`displayName`/`wellKnownName`; `$count`; `$select`; `$expand` of `String 0x3001`, `Boolean 0x10F4` | bearer |
//! | `POST …/folders`, `POST …/folders/{id}/childFolders` | 201; `displayName` and `type` required (400), duplicate sibling name 409 `ErrorFolderExists` | – | bearer |
//! | `GET/PATCH/DELETE …/folders/{id}` and `…/folders/{id}/childFolders/{child}` (DELETE with or without `/$ref`) | 200 / 200 (only `displayName`; changing `type` → 400) / 204 (well-known → 403 `ErrorDeleteDistinguishedFolder`) | – | bearer |
//! | `GET …/folders/{id}/childFolders` | direct children | as list | bearer |
//! | `GET …/folders/delta`, `…/folders/{id}/childFolders/delta` | folders of the subtree, later rounds only changes and `{"id","@removed":{"reason":"deleted"}}` | `Prefer: odata.maxpagesize` (default 100, max 1000), `@odata.nextLink` `?$skiptoken=`, final `@odata.deltaLink` `?$deltatoken=` | bearer |
//! | `GET …/folders/{id}/items` | items (oldest first) | `$top`/`$skip` as folders; `$filter` on `createdDateTime`, `lastModifiedDateTime`, `receivedDateTime`, `type`, `size`; `$orderby`; `$select`; `$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')` (also `String 0x0037`, `SystemTime 0x0E06`) | bearer |
//! | `GET …/folders/{id}/items/delta` | like folders/delta (`$select` kept across pages; `$top` is a page size) | as folders/delta | bearer |
//! | `GET/DELETE …/folders/{id}/items/{item}` | 200 / 204; DELETE needs `disposalType=softDelete` (moves to `recoverableitemsdeletions`) or `hardDelete` (400 without; protected items 403) | – | bearer |
//! | `POST …/folders/{id}/items` | 405 (the draft "create mailboxItem" page is not a real operation) | – | bearer |
//! | `POST …/mailboxes/{mbx}/exportItems` | 200 `value` in input order, `{itemId, changeKey, data}` (`data` last) or `{itemId, error:{code,message}}` | ≤ 20 ids | bearer |
//! | `POST …/mailboxes/{mbx}/createImportSession` | 200 `{importUrl, expirationDateTime}` (7 fractional digits); body ignored | – | bearer |
//! | `POST /api/{gbeta,gv1.0}/Mailboxes('{mbx}')/importItem?authtoken=…` | 200 `{itemId, changeKey}` | – | `authtoken` in the URL; an `Authorization` header is ignored |
//! | `POST /{beta,v1.0}/$batch` | 200 `{responses:[{id,status,headers,body}]}`; ≤ 20 requests (400 above), run in order, each like a standalone request (same limits, faults and errors) | – | outer bearer, copied to each request |
//! | `/_emulator/…` | admin: `GET stats`, `POST stats/reset`, `GET tenants`, `GET/PUT faults` (JSON or `--faults` text), `GET/PUT limits`, `POST clock/advance?seconds=N`, `POST tokens/expire`, `POST sessions/expire`, `POST delta/expire`, `POST save`, `GET mailboxes/{id}/snapshot`, `GET mailboxes/{id}/items/{item}/data`, `POST mailboxes/{id}/items/{item}/protect`, `POST mailboxes/{id}/evolve?seed=S&changes=N`, `POST mailboxes/{id}/delta/expire` | – | none |
//!
//! Errors use the Graph envelope `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}` everywhere except the token endpoint (AAD shape) and the import 409
//! (`{"Message":"Invalid import session. The target session is expected in mailbox MBX:…."}`).
//! Missing, unknown or expired bearer tokens: 401 `InvalidAuthenticationToken`. A mailbox of
//! another tenant: 403 `ErrorAccessDenied`. Unknown mailbox: 404 `ErrorMailboxNotFound`. Unknown
//! folder/item: 404 `ErrorItemNotFound`; ids not of our shape: 400 `ErrorInvalidIdMalformed`.
//!
//! # Throttling
//!
//! Per (client id, addressed mailbox id), Microsoft's Outlook limits, each configurable in
//! [`Limits`]: 4 concurrent requests (the 5th gets 429 `ApplicationThrottled` "…MailboxConcurrency
//! limit." with `Retry-After` 0.5), 10 000 requests per 10 minutes (429 `ApplicationThrottled`,
//! `Retry-After` = seconds until the oldest request leaves the window), 150 MB of POST/PATCH
//! bodies per 5 minutes, imports included (429 "…IncomingBytes limit.", `Retry-After` = seconds
//! until enough bytes leave the window; fractional values are sent as such, e.g. `2.128`).
//! Throttled requests do not count. A request holds its concurrency slot until its response
//! body has been sent, so a slowly read export still occupies it. Injected 429 bursts use code `TooManyRequests`. An archive's
//! auxiliary shard is a separate mailbox for limits.
//!
//! # Faults
//!
//! [`Faults`] (seeded by `EmulatorConfig::seed`, changeable at run time): 429 bursts, 500/503,
//! dropped connections (closed with no answer), truncated bodies (half the bytes, then the
//! connection closes), items silently missing from multi-item exports, items deleted between
//! listing and export (`ErrorItemNotFound`), auto-expanded archives (308 to the auxiliary mailbox
//! on folder and item routes, per-item `Error` `ErrorArchiveFolderMovedPermanently` whose message
//! is the exportItems URL to re-POST, import 409), unstable re-exports (an opaque 8-byte value —
//! PidTagChangeNumber planted by the generator, else the FxProxy TellPartnerVersion build word —
//! changes per export; the message is equal), and the delta-expiry answer. Text syntax:
//! `throttle=P[xN],retry-after=S,error=P,drop=P,truncate=P,missing=P,vanish=P,archive,unstable,
//! delta=410|sync` (see `impl FromStr for Faults`); limits: `off` or
//! `concurrency=N,requests=N/S,upload=150MB/300,retry-after=S,export-ids=N`.
//!
//! # Choices for the reference's open questions (§9)
//!
//! 1. More than 20 or zero `itemIds`: 400 `ErrorInvalidArgument`. Ids from another mailbox: per
//!    item `ErrorItemNotFound`. Malformed ids: per item `ErrorInvalidIdMalformed`.
//! 2. Per-item codes: `ErrorItemNotFound`, `ErrorInvalidIdMalformed` under the key `error`; the
//!    archive redirect under `Error` (capital, as the docs' example), so clients must read both.
//! 3. Import sessions last one hour (configurable) and may target any folder of their mailbox.
//! 4. Import errors use the Graph envelope: bad JSON or missing fields 400 `ErrorInvalidRequest`;
//!    `ItemId`/`ChangeKey` with `create` or missing with `update` 400 `ErrorInvalidRequest`; bad
//!    base64 or a stream that does not parse 400 `ErrorCorruptData`; unknown folder or item 404
//!    `ErrorItemNotFound`; stale `ChangeKey` 412 `ErrorIrresolvableConflict`; missing, unknown
//!    or expired `authtoken` (or a URL for another mailbox) 401 `InvalidAuthenticationToken`;
//!    throttling 429 with `Retry-After`. Body keys are matched case-insensitively.
//! 5. No item size limit beyond `max_body_bytes` (512 MiB, 413 above it).
//! 6. `GET folders` lists only the IPM root's children (the docs); `list_folders_recursive` gives
//!    CIPP's observed behaviour. Clients should walk `childFolders` and de-duplicate by id.
//! 7. A UPN/SMTP address is accepted in place of the primary mailbox id. Well-known names work as
//!    folder ids in primary mailboxes only (400/404 in archives).
//! 8. `@removed` entries are `{"@odata.type", "id", "@removed":{"reason":"deleted"}}`; a move
//!    appears as `@removed` in the old folder's delta and as a new item in the new one.
//! 9. `$select` works on `items/delta` and is kept in the skip/delta tokens.
//! 10. `createImportSession` answers 200.
//! 11. Permissions are not modelled: any token of the tenant may do everything.
//! 12. IncomingBytes `Retry-After` = time until the window has room for the refused body.
//!
//! Also: folder delta returns the full `mailboxFolder` (the doc example shows a subset);
//! default page size is 10 for lists and 100 for delta; an expired or unknown delta token gives
//! 410 `resyncRequired` with a `Location` to restart from, or 400 `syncStateNotFound`
//! ([`DeltaExpiry`]); delta tokens expire after `delta_token_lifetime` or via the admin route.
//! `mailboxItem.size` is 7/8 of the stream length (plus 1 KB after an import, which changes
//! `size` and `createdDateTime` but keeps the bytes and the search key).

mod admin;
mod auth;
pub mod config;
pub mod error;
mod generate;
mod graph;
mod http;
mod limits;
pub mod model;
mod persist;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{DeltaExpiry, EmulatorConfig, Faults, Limits, SizeMix, TenantSpec, UserSpec};
pub use error::{Error, Result};
pub use generate::EvolveReport;
pub use limits::Stats;
pub use model::{MailboxKind, MailboxSnapshot, SnapshotFolder, SnapshotItem};

use server::{Runtime, Shared};

/// A user and their mailbox ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// User principal name.
    pub upn: String,
    /// `primaryMailboxId`.
    pub primary_mailbox_id: String,
    /// `inPlaceArchiveMailboxId`, if the user has an archive.
    pub archive_mailbox_id: Option<String>,
    /// Auxiliary archive shard ids (targets of 308 and `ErrorArchiveFolderMovedPermanently`).
    pub archive_auxiliary_ids: Vec<String>,
}

/// A tenant's app credentials and users.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TenantInfo {
    /// Tenant id (GUID).
    pub tenant_id: String,
    /// Tenant domain (also accepted by the token endpoint).
    pub domain: String,
    /// App (client) id.
    pub client_id: String,
    /// Client secret (redacted in `Debug`).
    pub client_secret: String,
    /// Users.
    pub users: Vec<UserInfo>,
}

impl std::fmt::Debug for TenantInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantInfo")
            .field("tenant_id", &self.tenant_id)
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("users", &self.users)
            .finish()
    }
}

pub(crate) fn tenants_of(st: &model::State) -> Vec<TenantInfo> {
    st.tenants
        .iter()
        .map(|t| TenantInfo {
            tenant_id: t.tenant_id.clone(),
            domain: t.domain.clone(),
            client_id: t.client_id.clone(),
            client_secret: t.client_secret.clone(),
            users: t
                .users
                .iter()
                .map(|u| UserInfo {
                    upn: u.upn.clone(),
                    primary_mailbox_id: st.mailboxes[u.primary].ids[0].clone(),
                    archive_mailbox_id: u.archive.map(|a| st.mailboxes[a].ids[0].clone()),
                    archive_auxiliary_ids: u
                        .archive
                        .map(|a| st.mailboxes[a].ids[1..].to_vec())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

/// A running emulator.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    saver: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Emulator {
    /// Generates (or loads from the state file) the mailboxes, binds `cfg.listen` or
    /// `127.0.0.1:0`, and starts serving.
    ///
    /// # Errors
    /// [`Error::Bind`], [`Error::Certificate`], [`Error::StateIo`]/[`Error::StateDecode`].
    pub async fn start(cfg: EmulatorConfig) -> Result<Emulator> {
        let loaded = match &cfg.state_file {
            Some(p) => persist::load(p)?,
            None => None,
        };
        let state = match loaded {
            Some(s) => s,
            None => {
                let c = cfg.clone();
                tokio::task::spawn_blocking(move || generate::build_state(&c))
                    .await
                    .map_err(|e| Error::Config(format!("generator failed: {e}")))??
            }
        };
        let addr = cfg
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let rt = Runtime {
            faults: cfg.faults.clone(),
            limits: cfg.limits.clone(),
            latency: cfg.latency,
            token_lifetime: cfg.token_lifetime,
            session_lifetime: cfg.import_session_lifetime,
            delta_lifetime: cfg.delta_token_lifetime,
            list_recursive: cfg.list_folders_recursive,
            max_body: cfg.max_body_bytes,
        };
        let shared = Arc::new(Shared::new(
            state,
            rt,
            cfg.seed,
            format!("http://{addr}"),
            cfg.state_file.clone(),
        ));
        if shared.state_file.is_some() {
            shared.mark_dirty();
        }
        let (stop, rx) = watch::channel(false);
        let server = tokio::spawn(server::serve(listener, Arc::clone(&shared), rx));
        let saver = shared.state_file.clone().map(|path| {
            let shared = Arc::clone(&shared);
            let mut rx = stop.subscribe();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = rx.changed() => return,
                    }
                    if shared
                        .dirty
                        .swap(false, std::sync::atomic::Ordering::Relaxed)
                    {
                        let snap = shared.state().clone();
                        let p = path.clone();
                        let _ = tokio::task::spawn_blocking(move || persist::save(&snap, &p)).await;
                    }
                }
            })
        });
        Ok(Emulator {
            shared,
            addr,
            stop,
            server,
            saver,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `{base}/beta`: the `--graph-url`.
    pub fn graph_url(&self) -> String {
        format!("{}/beta", self.shared.base_url)
    }

    /// `{base}/v1.0`.
    pub fn graph_url_v1(&self) -> String {
        format!("{}/v1.0", self.shared.base_url)
    }

    /// `{base}`: the `--login-url` (tokens at `{login}/{tenant}/oauth2/v2.0/token`).
    pub fn login_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tenants with credentials, users and mailbox ids.
    pub fn tenants(&self) -> Vec<TenantInfo> {
        tenants_of(&self.shared.state())
    }

    /// Changes the mailbox (new mail, deletions, moves, edits, new folders); an unknown id
    /// changes nothing. Deterministic for a given seed and mailbox state.
    pub fn evolve(&self, mailbox_id: &str, seed: u64, changes: usize) -> EvolveReport {
        let now = self.shared.clock.now_ms();
        let mut st = self.shared.state();
        let Some((mi, _)) = st.index.get(&mailbox_id.to_ascii_lowercase()).copied() else {
            return EvolveReport::default();
        };
        let r = generate::evolve(&mut st, mi, seed, changes, now);
        self.shared.mark_dirty();
        r
    }

    /// Counters since start (or the last [`Emulator::reset_stats`]).
    pub fn stats(&self) -> Stats {
        self.shared.stats().clone()
    }

    /// Clears the counters and the throttling windows.
    pub fn reset_stats(&self) {
        *self.shared.stats() = Stats::default();
        self.shared.limiter.reset();
    }

    /// The mailbox's IPM folders and items with their exact bytes (empty for an unknown id).
    pub fn mailbox_snapshot(&self, mailbox_id: &str) -> MailboxSnapshot {
        self.try_mailbox_snapshot(mailbox_id)
            .unwrap_or_else(|| MailboxSnapshot {
                mailbox_id: mailbox_id.to_string(),
                auxiliary_ids: vec![],
                kind: MailboxKind::Primary,
                upn: String::new(),
                ipm_root_id: String::new(),
                folders: vec![],
                items: vec![],
            })
    }

    /// The snapshot, or `None` for an unknown mailbox id.
    pub fn try_mailbox_snapshot(&self, mailbox_id: &str) -> Option<MailboxSnapshot> {
        let st = self.shared.state();
        let (mi, _) = st.index.get(&mailbox_id.to_ascii_lowercase()).copied()?;
        Some(model::snapshot(&st.mailboxes[mi]))
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, f: Faults) {
        self.shared
            .rt
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .faults = f;
    }

    /// The current fault configuration.
    pub fn faults(&self) -> Faults {
        self.shared.rt().faults
    }

    /// Replaces the limits.
    pub fn set_limits(&self, l: Limits) {
        self.shared
            .rt
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .limits = l;
    }

    /// Sets the added latency per request.
    pub fn set_latency(&self, d: Duration) {
        self.shared
            .rt
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .latency = d;
    }

    /// Moves the emulated clock forward (expires tokens, sessions, delta tokens and throttling
    /// windows without sleeping).
    pub fn advance_clock(&self, d: Duration) {
        self.shared.clock.advance(d.as_millis() as i64);
    }

    /// Invalidates every delta token of the mailbox (or of all mailboxes with `None`).
    pub fn expire_delta_tokens(&self, mailbox_id: Option<&str>) {
        let mut st = self.shared.state();
        match mailbox_id {
            None => st.mailboxes.iter_mut().for_each(|m| m.epoch += 1),
            Some(id) => {
                if let Some((mi, _)) = st.index.get(&id.to_ascii_lowercase()).copied() {
                    st.mailboxes[mi].epoch += 1;
                }
            }
        }
        self.shared.mark_dirty();
    }

    /// Expires every access token issued so far.
    pub fn expire_access_tokens(&self) {
        let now = self.shared.clock.now_ms();
        let mut st = self.shared.state();
        st.tokens.values_mut().for_each(|t| t.expires_ms = now);
    }

    /// Expires every import session created so far.
    pub fn expire_import_sessions(&self) {
        let now = self.shared.clock.now_ms();
        let mut st = self.shared.state();
        st.sessions.values_mut().for_each(|t| t.expires_ms = now);
    }

    /// Marks an item as protected (hold): `hardDelete` then answers 403. False if unknown.
    pub fn protect_item(&self, mailbox_id: &str, item_id: &str) -> bool {
        let mut st = self.shared.state();
        let Some((mi, _)) = st.index.get(&mailbox_id.to_ascii_lowercase()).copied() else {
            return false;
        };
        match st.mailboxes[mi].items.get_mut(item_id) {
            Some(i) => {
                i.protected = true;
                true
            }
            None => false,
        }
    }

    /// Writes the state file now.
    ///
    /// # Errors
    /// [`Error::Config`] without a state file; [`Error::StateIo`] on write failure.
    pub fn save_state(&self) -> Result<()> {
        let Some(p) = &self.shared.state_file else {
            return Err(Error::Config("no state file configured".into()));
        };
        let snap = self.shared.state().clone();
        persist::save(&snap, p)
    }

    /// Stops serving (open connections are closed) and writes the state file if configured.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(s) = self.saver {
            let _ = s.await;
        }
        if let Some(p) = self.shared.state_file.clone() {
            let snap = self.shared.state().clone();
            let _ = tokio::task::spawn_blocking(move || persist::save(&snap, &p)).await;
        }
    }
}
