//! Graph routes (`/beta`, `/v1.0`): exchange settings, folders, items, delta, exportItems,
//! createImportSession; and the import host's `importItem`.

// Handlers return the finished HTTP answer as their error: it is built once and sent as is.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use base64::Engine;
use http::{HeaderValue, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::config::DeltaExpiry;
use crate::http::{bump_route, enc, graph_error, json_response, raw_json, throttled, Ctx};
use crate::limits::Throttle;
use crate::model::{
    id_well_formed, rfc3339, rfc3339_7, AccessToken, Folder, ImportSessionRec, Item, Mailbox,
    MailboxKind, State, Tomb,
};
use crate::server::Shared;

type Resp = Response<Body>;

/// Mailbox-scoped operations.
#[derive(Debug, Clone)]
enum MOp {
    ListFolders,
    CreateFolder(Option<String>),
    FoldersDelta(Option<String>),
    GetFolder(String, Option<String>),
    PatchFolder(String, Option<String>),
    DeleteFolder(String, Option<String>),
    ListChildren(String),
    ListItems(String),
    ItemsDelta(String),
    GetItem(String, String),
    DeleteItem(String, String),
    CreateItem,
    Export,
    CreateSession,
}

impl MOp {
    fn name(&self) -> &'static str {
        match self {
            MOp::ListFolders => "GET folders",
            MOp::CreateFolder(_) => "POST folders",
            MOp::FoldersDelta(_) => "GET folders/delta",
            MOp::GetFolder(..) => "GET folder",
            MOp::PatchFolder(..) => "PATCH folder",
            MOp::DeleteFolder(..) => "DELETE folder",
            MOp::ListChildren(_) => "GET childFolders",
            MOp::ListItems(_) => "GET items",
            MOp::ItemsDelta(_) => "GET items/delta",
            MOp::GetItem(..) => "GET item",
            MOp::DeleteItem(..) => "DELETE item",
            MOp::CreateItem => "POST items",
            MOp::Export => "POST exportItems",
            MOp::CreateSession => "POST createImportSession",
        }
    }
}

enum Route {
    Settings(String),
    /// Mailbox key, index of the mailbox segment in `ctx.segs`, operation.
    Mailbox(String, usize, MOp),
}

fn parse_route(ctx: &Ctx) -> Result<Route, (StatusCode, &'static str)> {
    let l: Vec<String> = ctx.segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let s = &ctx.segs;
    let m = &ctx.method;
    let not_found = (StatusCode::NOT_FOUND, "BadRequest");
    let not_allowed = (StatusCode::METHOD_NOT_ALLOWED, "BadRequest");
    if l.len() == 5 && l[1] == "users" && l[3] == "settings" && l[4] == "exchange" {
        return if *m == Method::GET {
            Ok(Route::Settings(s[2].clone()))
        } else {
            Err(not_allowed)
        };
    }
    if !(l.len() >= 5 && l[1] == "admin" && l[2] == "exchange" && l[3] == "mailboxes") {
        return Err(not_found);
    }
    let mbx = s[4].clone();
    let r: Vec<&str> = l[5..].iter().map(String::as_str).collect();
    let v = |i: usize| s[5 + i].clone();
    use Method as H;
    let op = match (r.as_slice(), m) {
        (["folders"], &H::GET) => MOp::ListFolders,
        (["folders"], &H::POST) => MOp::CreateFolder(None),
        (["folders", "delta"], &H::GET) => MOp::FoldersDelta(None),
        (["folders", _], &H::GET) => MOp::GetFolder(v(1), None),
        (["folders", _], &H::PATCH) => MOp::PatchFolder(v(1), None),
        (["folders", _], &H::DELETE) | (["folders", _, "$ref"], &H::DELETE) => {
            MOp::DeleteFolder(v(1), None)
        }
        (["folders", _, "childfolders"], &H::GET) => MOp::ListChildren(v(1)),
        (["folders", _, "childfolders"], &H::POST) => MOp::CreateFolder(Some(v(1))),
        (["folders", _, "childfolders", "delta"], &H::GET) => MOp::FoldersDelta(Some(v(1))),
        (["folders", _, "childfolders", _], &H::GET) => MOp::GetFolder(v(3), Some(v(1))),
        (["folders", _, "childfolders", _], &H::PATCH) => MOp::PatchFolder(v(3), Some(v(1))),
        (["folders", _, "childfolders", _], &H::DELETE)
        | (["folders", _, "childfolders", _, "$ref"], &H::DELETE) => {
            MOp::DeleteFolder(v(3), Some(v(1)))
        }
        (["folders", _, "items"], &H::GET) => MOp::ListItems(v(1)),
        (["folders", _, "items"], &H::POST) => MOp::CreateItem,
        (["folders", _, "items", "delta"], &H::GET) => MOp::ItemsDelta(v(1)),
        (["folders", _, "items", _], &H::GET) => MOp::GetItem(v(1), v(3)),
        (["folders", _, "items", _], &H::DELETE) => MOp::DeleteItem(v(1), v(3)),
        (["exportitems"], &H::POST) => MOp::Export,
        (["createimportsession"], &H::POST) => MOp::CreateSession,
        (
            ["folders"]
            | ["folders", "delta"]
            | ["folders", _]
            | ["folders", _, "$ref"]
            | ["folders", _, "childfolders"]
            | ["folders", _, "childfolders", _]
            | ["folders", _, "items"]
            | ["folders", _, "items", _]
            | ["exportitems"]
            | ["createimportsession"],
            _,
        ) => return Err(not_allowed),
        _ => return Err(not_found),
    };
    Ok(Route::Mailbox(mbx, 4, op))
}

fn resolve_mailbox(st: &State, key: &str) -> Option<(usize, usize)> {
    if let Some(x) = st.index.get(&key.to_ascii_lowercase()) {
        return Some(*x);
    }
    // Open question 7: we accept a UPN/SMTP address in place of the primary mailbox id.
    st.tenants
        .iter()
        .flat_map(|t| t.users.iter())
        .find(|u| u.upn.eq_ignore_ascii_case(key))
        .map(|u| (u.primary, 0))
}

/// `/beta/...` and `/v1.0/...`.
pub(crate) async fn graph(shared: &Arc<Shared>, ctx: &Ctx, kill: &Notify) -> Resp {
    let ver = ctx.lit(0).unwrap_or_default();
    let route = match parse_route(ctx) {
        Ok(r) => r,
        Err((status, code)) => {
            bump_route(shared, "unknown");
            let msg = if status == StatusCode::METHOD_NOT_ALLOWED {
                "The HTTP method is not allowed for this resource."
            } else {
                "Resource not found for the segment."
            };
            return graph_error(shared, status, code, msg);
        }
    };
    let name = match &route {
        Route::Settings(_) => "GET settings/exchange",
        Route::Mailbox(_, _, op) => op.name(),
    };
    bump_route(shared, name);
    let now = shared.clock.now_ms();
    let tok = {
        let st = shared.state();
        crate::auth::bearer(&st, ctx.header("authorization"), now)
    };
    let tok = match tok {
        Ok(t) => t,
        Err(e) => {
            let msg = match e {
                crate::auth::BearerError::Missing => "Access token is empty.",
                crate::auth::BearerError::Invalid => {
                    "Invalid JWT token. The token is malformed or unknown."
                }
                crate::auth::BearerError::Expired => {
                    "Lifetime validation failed, the token is expired."
                }
            };
            let mut r = graph_error(
                shared,
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                msg,
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
            return r;
        }
    };
    // Resolve the target and the limiter key.
    let (key, target) = match &route {
        Route::Settings(u) => (format!("user:{u}"), None),
        Route::Mailbox(mbx, _, _) => {
            let st = shared.state();
            match resolve_mailbox(&st, mbx) {
                None => {
                    drop(st);
                    return graph_error(
                        shared,
                        StatusCode::NOT_FOUND,
                        "ErrorMailboxNotFound",
                        &format!("The mailbox '{mbx}' could not be found."),
                    );
                }
                Some((mi, pi)) => {
                    if st.mailboxes[mi].tenant != tok.tenant {
                        drop(st);
                        return graph_error(
                            shared,
                            StatusCode::FORBIDDEN,
                            "ErrorAccessDenied",
                            "Access is denied. Check credentials and try again.",
                        );
                    }
                    (st.mailboxes[mi].ids[pi].clone(), Some((mi, pi)))
                }
            }
        }
    };
    let upload = if matches!(ctx.method, Method::POST | Method::PATCH | Method::PUT) {
        ctx.body.len() as u64
    } else {
        0
    };
    let slot = match admit(shared, &tok.client_id, &key, upload, now) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = inject(shared, &tok.client_id, &key, kill).await {
        return r;
    }
    // The configured latency is the call's whole service time: the answer is built first and
    // sent when it has elapsed, so the emulator's own CPU time does not add to it.
    let due = tokio::time::Instant::now() + shared.rt().latency;
    let resp = match route {
        Route::Settings(u) => settings(shared, &ver, &tok, &u),
        Route::Mailbox(_, mseg, op) => {
            let (mi, pi) = target.unwrap_or_default();
            let env = Env {
                shared,
                ctx,
                ver: &ver,
                mi,
                pi,
                mseg,
                tok: &tok,
            };
            env.run(op)
        }
    };
    tokio::time::sleep_until(due).await;
    hold_slot(maybe_truncate(shared, resp).await, slot)
}

/// `POST /{ver}/$batch`: JSON batching. Up to 20 requests, run one after another (so a batch
/// never exceeds the concurrency limit), each exactly like a standalone request with the outer
/// `Authorization` header; `dependsOn` is accepted and needs nothing more since order is kept.
pub(crate) async fn batch(shared: &Arc<Shared>, ctx: &Ctx, kill: &Notify) -> Resp {
    bump_route(shared, "POST $batch");
    if ctx.method != Method::POST {
        return graph_error(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "The HTTP method is not allowed for this resource.",
        );
    }
    let bad = |msg: &str| graph_error(shared, StatusCode::BAD_REQUEST, "BadRequest", msg);
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&ctx.body) else {
        return bad("Invalid batch payload format.");
    };
    let Some(Value::Array(reqs)) = get_ci(&body, "requests") else {
        return bad("Invalid batch payload format.");
    };
    if reqs.len() > 20 {
        return bad("Number of batch requests exceeds limit 20.");
    }
    let ver = ctx.segs[0].clone();
    let mut responses = Vec::new();
    for r in reqs {
        let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(id), Some(method), Some(url)) = (s("id"), s("method"), s("url")) else {
            return bad("Each batch request needs id, method and url.");
        };
        let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
            return bad("Invalid method in a batch request.");
        };
        let url = url.trim_start_matches('/');
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let (segs, raw) = crate::http::split_path(&format!("/{ver}/{path}"));
        let mut headers = http::HeaderMap::new();
        if let Some(a) = ctx.headers.get(http::header::AUTHORIZATION) {
            headers.insert(http::header::AUTHORIZATION, a.clone());
        }
        if let Some(Value::Object(h)) = r.get("headers") {
            for (k, v) in h {
                if let (Ok(name), Some(Ok(val))) = (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    v.as_str().map(HeaderValue::from_str),
                ) {
                    headers.insert(name, val);
                }
            }
        }
        let sub = Ctx {
            method,
            segs,
            raw,
            query: url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            raw_query: (!query.is_empty()).then(|| query.to_string()),
            headers,
            body: r
                .get("body")
                .map(|b| bytes::Bytes::from(serde_json::to_vec(b).unwrap_or_default()))
                .unwrap_or_default(),
        };
        let resp = Box::pin(graph(shared, &sub, kill)).await;
        let status = resp.status().as_u16();
        let mut hdrs = Map::new();
        for (k, v) in resp.headers() {
            if let Ok(v) = v.to_str() {
                if k != http::header::CONTENT_LENGTH {
                    hdrs.insert(k.as_str().to_string(), json!(v));
                }
            }
        }
        let (status, body) = match axum::body::to_bytes(resp.into_body(), usize::MAX).await {
            Ok(b) if b.is_empty() => (status, Value::Null),
            Ok(b) => (status, serde_json::from_slice(&b).unwrap_or(Value::Null)),
            // A truncated sub-response: the batch reports it as a server error.
            Err(_) => (
                500,
                json!({"error": {"code": "generalException", "message": "The response was interrupted."}}),
            ),
        };
        responses.push(json!({"id": id, "status": status, "headers": hdrs, "body": body}));
    }
    json_response(StatusCode::OK, &json!({ "responses": responses }))
}

/// Applies the limits; on refusal answers the 429.
fn admit(
    shared: &Shared,
    client: &str,
    key: &str,
    upload: u64,
    now: i64,
) -> Result<crate::limits::Slot, Resp> {
    let limits = shared.rt().limits;
    match shared.limiter.admit(&limits, client, key, upload, now) {
        Ok((slot, reached)) => {
            let mut s = shared.stats();
            let p = s.peak_concurrency.entry(key.to_string()).or_default();
            *p = (*p).max(reached);
            Ok(slot)
        }
        Err((why, ms)) => {
            let (label, code, msg) = match why {
                Throttle::Concurrency => (
                    "concurrency",
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                ),
                Throttle::Requests => (
                    "requests",
                    "ApplicationThrottled",
                    "Application is over its RequestCount limit.",
                ),
                Throttle::Upload => (
                    "upload",
                    "ApplicationThrottled",
                    "Application is over its IncomingBytes limit.",
                ),
            };
            {
                let mut s = shared.stats();
                s.throttled += 1;
                *s.throttled_by.entry(label.to_string()).or_default() += 1;
            }
            Err(throttled(shared, code, msg, ms))
        }
    }
}

/// Injected faults that replace the answer: dropped connection, 5xx, 429 bursts.
async fn inject(shared: &Shared, client: &str, key: &str, kill: &Notify) -> Option<Resp> {
    let f = shared.rt().faults;
    if shared.roll(f.drop_rate) {
        shared.count_fault("drop");
        kill.notify_one();
        // The connection task drops this future with the socket.
        std::future::pending::<()>().await;
    }
    if shared.roll(f.server_error_rate) {
        return Some(if shared.roll(0.5) {
            shared.count_fault("error500");
            graph_error(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "An internal server error occurred. The operation failed.",
            )
        } else {
            shared.count_fault("error503");
            let mut r = graph_error(
                shared,
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            );
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        });
    }
    let start = shared.roll(f.throttle_rate);
    if shared.limiter.burst(client, key, start, f.throttle_burst) {
        shared.count_fault("throttle");
        return Some(throttled(
            shared,
            "TooManyRequests",
            "Please retry again later.",
            f.throttle_retry_after.as_millis() as i64,
        ));
    }
    None
}

/// Keeps the concurrency slot until the body has been sent (a big export occupies its slot
/// while it streams, as on the real service).
fn hold_slot(resp: Resp, slot: crate::limits::Slot) -> Resp {
    use axum::body::HttpBody;
    use futures::StreamExt;
    let (mut parts, body) = resp.into_parts();
    let Some(n) = body.size_hint().exact().filter(|n| *n > 0) else {
        return Response::from_parts(parts, body);
    };
    if !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &slot;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Truncation fault: send half the body, then fail the stream so the connection closes.
async fn maybe_truncate(shared: &Shared, resp: Resp) -> Resp {
    if resp.status() != StatusCode::OK || !shared.roll(shared.rt().faults.truncate_rate) {
        return resp;
    }
    shared.count_fault("truncate");
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let half = bytes.slice(..bytes.len() / 2);
    // The pause lets the headers and the first half reach the client before the failure
    // aborts the connection (otherwise the client sees no response at all).
    use futures::StreamExt;
    let chunks = futures::stream::once(async move { Ok::<_, std::io::Error>(half) }).chain(
        futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Err(std::io::Error::other("truncated by fault injection"))
        }),
    );
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from(bytes.len() as u64),
    );
    Response::from_parts(parts, Body::from_stream(chunks))
}

fn settings(shared: &Shared, ver: &str, tok: &AccessToken, upn: &str) -> Resp {
    let st = shared.state();
    let Some(user) = st
        .tenants
        .get(tok.tenant)
        .and_then(|t| t.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn)))
    else {
        drop(st);
        return graph_error(
            shared,
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{upn}' does not exist or one of its queried reference-property objects are not present."),
        );
    };
    let mut v = json!({
        "@odata.context": format!("{}/{ver}/$metadata#users('{}')/settings/exchange/$entity", shared.base_url, enc(&user.upn).replace('@', "%40")),
    });
    let primary = st.mailboxes[user.primary].ids[0].clone();
    if ver == "beta" {
        use sha2::Digest;
        let h = sha2::Sha256::digest(user.upn.to_ascii_lowercase().as_bytes());
        v["id"] = json!(format!(
            "{}-{}-{}-{}-{}",
            hex4(&h[0..4]),
            hex4(&h[4..6]),
            hex4(&h[6..8]),
            hex4(&h[8..10]),
            hex4(&h[10..16])
        ));
        v["primaryMailboxId"] = json!(primary);
        v["inPlaceArchiveMailboxId"] = match user.archive {
            Some(a) => json!(st.mailboxes[a].ids[0]),
            None => Value::Null,
        };
    } else {
        v["primaryMailboxId"] = json!(primary);
    }
    json_response(StatusCode::OK, &v)
}

fn hex4(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One mailbox-scoped request, after auth and limits.
struct Env<'a> {
    shared: &'a Arc<Shared>,
    ctx: &'a Ctx,
    ver: &'a str,
    mi: usize,
    pi: usize,
    mseg: usize,
    tok: &'a AccessToken,
}

/// A parsed `$filter` clause.
struct Clause {
    field: String,
    op: String,
    value: String,
}

fn parse_filter(f: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    let lower = f.to_ascii_lowercase();
    // Split on " and " outside quotes (values are simple here).
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_q = false;
    let b = lower.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\'' {
            in_q = !in_q;
        }
        if !in_q && lower[i..].starts_with(" and ") {
            parts.push(&f[start..i]);
            start = i + 5;
            i += 5;
            continue;
        }
        i += 1;
    }
    parts.push(&f[start..]);
    for p in parts {
        let p = p
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        let mut it = p.splitn(3, ' ');
        let field = it.next()?.to_string();
        let op = it.next()?.to_ascii_lowercase();
        let value = it.next()?.trim().to_string();
        if !["eq", "ne", "ge", "gt", "le", "lt"].contains(&op.as_str()) {
            return None;
        }
        out.push(Clause { field, op, value });
    }
    Some(out)
}

fn cmp_op<T: PartialOrd>(a: T, op: &str, b: T) -> bool {
    match op {
        "eq" => a == b,
        "ne" => a != b,
        "ge" => a >= b,
        "gt" => a > b,
        "le" => a <= b,
        "lt" => a < b,
        _ => false,
    }
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('\'').replace("''", "'")
}

/// Ids of single-value extended properties asked for by `$expand`.
fn expand_props(ctx: &Ctx) -> Option<Vec<String>> {
    expand_ids(ctx.q("$expand")?)
}

fn expand_ids(e: &str) -> Option<Vec<String>> {
    let lower = e.to_ascii_lowercase();
    let at = lower.find("singlevalueextendedproperties")?;
    let rest = &e[at..];
    let mut ids = Vec::new();
    let mut s = rest;
    while let Some(q) = s.find('\'') {
        let after = &s[q + 1..];
        let Some(end) = after.find('\'') else { break };
        ids.push(after[..end].to_string());
        s = &after[end + 1..];
    }
    if ids.is_empty() {
        ids.push("*".to_string());
    }
    Some(ids)
}

fn prop_matches(asked: &[String], canonical: &str) -> Option<String> {
    asked.iter().find_map(|a| {
        if a == "*" {
            Some(canonical.to_string())
        } else if a.eq_ignore_ascii_case(canonical) {
            Some(a.clone())
        } else {
            None
        }
    })
}

fn apply_select(v: &mut Map<String, Value>, sel: Option<&str>, always: &[&str]) {
    let Some(sel) = sel else { return };
    let keep: Vec<String> = sel
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    v.retain(|k, _| {
        k.starts_with("@odata")
            || always.contains(&k.as_str())
            || keep.contains(&k.to_ascii_lowercase())
            || k == "singleValueExtendedProperties"
    });
}

#[derive(Serialize, Deserialize)]
struct DeltaTok {
    /// Mailbox main id (lowercase) and folder scope ("" for the whole IPM tree).
    m: String,
    f: String,
    /// Round bounds: changes with `s < seq <= u`.
    s: u64,
    u: u64,
    /// Initial round: live objects only, no tombstones.
    i: bool,
    /// Cursor: last emitted (seq, id).
    cs: u64,
    ci: String,
    e: u64,
    t: i64,
    p: usize,
    sel: Option<String>,
    /// `$expand` of the first request, kept for later pages and rounds.
    #[serde(default)]
    x: Option<String>,
}

impl DeltaTok {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }
    fn decode(s: &str) -> Option<DeltaTok> {
        if s.len() > 8192 {
            return None;
        }
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()?;
        serde_json::from_slice(&b).ok()
    }
}

enum Entry<'a> {
    Live(u64, &'a str),
    Gone(u64, &'a str),
}

impl Entry<'_> {
    fn key(&self) -> (u64, &str) {
        match self {
            Entry::Live(s, i) | Entry::Gone(s, i) => (*s, i),
        }
    }
}

impl Env<'_> {
    fn err(&self, status: StatusCode, code: &str, msg: &str) -> Resp {
        graph_error(self.shared, status, code, msg)
    }

    fn mailbox_url(&self, physical: usize, m: &Mailbox) -> String {
        format!(
            "{}/{}/admin/exchange/mailboxes/{}",
            self.shared.base_url,
            self.ver,
            m.ids.get(physical).map(String::as_str).unwrap_or_default()
        )
    }

    fn addressed_url(&self, m: &Mailbox) -> String {
        self.mailbox_url(self.pi, m)
    }

    fn redirects(&self) -> bool {
        self.shared.rt().faults.archive_redirects
    }

    /// Resolves a folder key (id or, outside archives, a well-known name).
    fn folder<'m>(&self, m: &'m Mailbox, key: &str) -> Result<&'m Folder, Resp> {
        if let Some(f) = m.folders.get(key) {
            return Ok(f);
        }
        if id_well_formed(key) {
            return Err(self.err(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            ));
        }
        // Well-known names do not work in archive mailboxes (third-party report, §2).
        if m.kind == MailboxKind::Primary {
            if let Some(f) = m.resolve_folder(key) {
                return Ok(f);
            }
            if key.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(self.err(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                ));
            }
        }
        Err(self.err(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        ))
    }

    /// 308 to the physical mailbox when the folder lives elsewhere (auto-expanded archive).
    fn redirect(&self, m: &Mailbox, f: &Folder) -> Option<Resp> {
        if !self.redirects() || f.physical == self.pi {
            return None;
        }
        self.shared.count_fault("redirect308");
        let rest = self.ctx.raw[self.mseg + 1..].join("/");
        let mut loc = format!(
            "{}/{}/admin/exchange/mailboxes/{}/{}",
            self.shared.base_url,
            self.ctx.raw[0],
            enc(&m.ids[f.physical]),
            rest
        );
        if let Some(q) = &self.ctx.raw_query {
            loc.push('?');
            loc.push_str(q);
        }
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
        if let Ok(h) = HeaderValue::from_str(&loc) {
            r.headers_mut().insert(http::header::LOCATION, h);
        }
        Some(r)
    }

    fn folder_json(
        &self,
        m: &Mailbox,
        f: &Folder,
        counts: &HashMap<&str, (usize, usize)>,
    ) -> Value {
        let physical = if self.redirects() { f.physical } else { 0 };
        let (children, items) = counts.get(f.id.as_str()).copied().unwrap_or((0, 0));
        let mut v = json!({
            "@odata.type": "#microsoft.graph.mailboxFolder",
            "id": f.id,
            "displayName": f.display_name,
            "parentFolderId": f.parent_id,
            "parentMailboxUrl": self.mailbox_url(physical, m),
            "childFolderCount": children,
            "totalItemCount": items,
            "wellKnownName": f.well_known,
            "type": f.folder_type,
        });
        if let Some(asked) = expand_props(self.ctx) {
            let mut props = Vec::new();
            if let Some(id) = prop_matches(&asked, "String 0x3001") {
                props.push(json!({"id": id, "value": f.display_name}));
            }
            if let Some(id) = prop_matches(&asked, "Boolean 0x10F4") {
                props.push(json!({"id": id, "value": if f.hidden {"true"} else {"false"}}));
            }
            v["singleValueExtendedProperties"] = Value::Array(props);
        }
        if let Value::Object(ref mut o) = v {
            apply_select(o, self.ctx.q("$select"), &["id", "parentMailboxUrl"]);
        }
        v
    }

    fn item_json(&self, i: &Item, sel: Option<&str>, expand: Option<&str>) -> Value {
        let mut v = json!({
            "@odata.type": "#microsoft.graph.mailboxItem",
            "@odata.etag": format!("W/\"{}\"", i.change_key),
            "id": i.id,
            "createdDateTime": rfc3339(i.created_ms),
            "lastModifiedDateTime": rfc3339(i.modified_ms),
            "changeKey": i.change_key,
            "categories": [],
            "type": i.message_class,
            "size": i.size,
        });
        if let Some(asked) = expand.and_then(expand_ids) {
            let mut props = Vec::new();
            if let (Some(id), Some(k)) = (prop_matches(&asked, "Binary 0x300B"), &i.search_key) {
                props.push(
                    json!({"id": id, "value": base64::engine::general_purpose::STANDARD.encode(k)}),
                );
            }
            if let (Some(id), Some(s)) = (prop_matches(&asked, "String 0x0037"), &i.subject) {
                props.push(json!({"id": id, "value": s}));
            }
            if let Some(id) = prop_matches(&asked, "SystemTime 0x0E06") {
                props.push(json!({"id": id, "value": rfc3339(i.received_ms)}));
            }
            v["singleValueExtendedProperties"] = Value::Array(props);
        }
        if let Value::Object(ref mut o) = v {
            apply_select(o, sel, &["id"]);
        }
        v
    }

    fn counts(m: &Mailbox) -> HashMap<&str, (usize, usize)> {
        let mut c: HashMap<&str, (usize, usize)> = HashMap::new();
        for f in m.folders.values() {
            if let Some(p) = &f.parent_id {
                c.entry(p.as_str()).or_default().0 += 1;
            }
        }
        for i in m.items.values() {
            c.entry(i.folder_id.as_str()).or_default().1 += 1;
        }
        c
    }

    fn page_size(&self, default: usize, allow_top: bool) -> (usize, bool) {
        let pref = self.ctx.header("prefer").and_then(|p| {
            p.split(',').find_map(|x| {
                let x = x.trim();
                let (k, v) = x.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("odata.maxpagesize")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
        });
        if let Some(p) = pref {
            return (p.clamp(1, 1000), true);
        }
        if allow_top {
            if let Some(t) = self.ctx.q("$top").and_then(|t| t.parse::<usize>().ok()) {
                return (t.clamp(1, 1000), false);
            }
        }
        (default, false)
    }

    fn next_link(&self, skip: usize) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.ctx.query {
            if !k.eq_ignore_ascii_case("$skip") {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("$skip", &skip.to_string());
        format!(
            "{}/{}?{}",
            self.shared.base_url,
            self.ctx.raw.join("/"),
            ser.finish()
        )
    }

    fn collection(
        &self,
        context: &str,
        mut values: Vec<Value>,
        extra: Option<(usize, usize)>,
    ) -> Resp {
        // extra = (skip, top) for $skip paging over `values` (already filtered and sorted).
        let total = values.len();
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(context));
        if self
            .ctx
            .q("$count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"))
        {
            out.insert("@odata.count".into(), json!(total));
        }
        let mut next = None;
        if let Some((skip, top)) = extra {
            let end = skip.saturating_add(top).min(total);
            values = if skip < total {
                values.drain(skip..end).collect()
            } else {
                Vec::new()
            };
            if end < total {
                next = Some(self.next_link(end));
            }
        }
        out.insert("value".into(), Value::Array(values));
        if let Some(n) = next {
            out.insert("@odata.nextLink".into(), json!(n));
        }
        json_response(StatusCode::OK, &Value::Object(out))
    }

    fn skip_top(&self) -> Result<(usize, usize), Resp> {
        let skip = match self.ctx.q("$skip") {
            None => 0,
            Some(s) => s.parse().map_err(|_| {
                self.err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidUrlQuery",
                    "Invalid $skip.",
                )
            })?,
        };
        let top = match self.ctx.q("$top") {
            None => 10,
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| {
                    self.err(
                        StatusCode::BAD_REQUEST,
                        "ErrorInvalidUrlQuery",
                        "Invalid $top.",
                    )
                })?
                .clamp(1, 1000),
        };
        Ok((skip, top))
    }

    fn run(&self, op: MOp) -> Resp {
        match op {
            MOp::ListFolders => self.list_folders(None),
            MOp::ListChildren(f) => self.list_folders(Some(f)),
            MOp::GetFolder(f, parent) => self.get_folder(&f, parent.as_deref()),
            MOp::CreateFolder(parent) => self.create_folder(parent.as_deref()),
            MOp::PatchFolder(f, parent) => self.patch_folder(&f, parent.as_deref()),
            MOp::DeleteFolder(f, parent) => self.delete_folder(&f, parent.as_deref()),
            MOp::FoldersDelta(under) => self.folders_delta(under.as_deref()),
            MOp::ListItems(f) => self.list_items(&f),
            MOp::ItemsDelta(f) => self.items_delta(&f),
            MOp::GetItem(f, i) => self.get_item(&f, &i),
            MOp::DeleteItem(f, i) => self.delete_item(&f, &i),
            MOp::CreateItem => self.err(
                StatusCode::METHOD_NOT_ALLOWED,
                "BadRequest",
                "Creating items is not supported; use createImportSession.",
            ),
            MOp::Export => self.export(),
            MOp::CreateSession => self.create_session(),
        }
    }

    fn list_folders(&self, parent: Option<String>) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let parent_id = match &parent {
            None => m.ipm_root_id.clone(),
            Some(p) => match self.folder(m, p) {
                Ok(f) => {
                    if let Some(r) = self.redirect(m, f) {
                        return r;
                    }
                    f.id.clone()
                }
                Err(r) => return r,
            },
        };
        let recursive = parent.is_none() && self.shared.rt().list_recursive;
        let clauses = match self.ctx.q("$filter").map(parse_filter) {
            None => vec![],
            Some(Some(c)) => c,
            Some(None) => {
                return self.err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidUrlQueryFilter",
                    "The $filter is not supported.",
                )
            }
        };
        let counts = Env::counts(m);
        let mut fs: Vec<&Folder> = m
            .folders
            .values()
            .filter(|f| {
                if recursive {
                    f.id != m.ipm_root_id && m.is_under(&f.id, &parent_id)
                } else {
                    f.parent_id.as_deref() == Some(parent_id.as_str())
                }
            })
            .collect();
        for c in &clauses {
            let v = unquote(&c.value);
            match c.field.to_ascii_lowercase().as_str() {
                "type" => fs.retain(|f| cmp_op(f.folder_type.as_str(), &c.op, v.as_str())),
                "displayname" => fs.retain(|f| cmp_op(f.display_name.as_str(), &c.op, v.as_str())),
                "wellknownname" => {
                    fs.retain(|f| cmp_op(f.well_known.as_deref().unwrap_or(""), &c.op, v.as_str()))
                }
                _ => {
                    return self.err(
                        StatusCode::BAD_REQUEST,
                        "ErrorInvalidUrlQueryFilter",
                        "The $filter property is not supported.",
                    )
                }
            }
        }
        if let Some(o) = self.ctx.q("$orderby") {
            let desc = o.to_ascii_lowercase().ends_with(" desc");
            if o.to_ascii_lowercase().starts_with("displayname") {
                fs.sort_by(|a, b| a.display_name.cmp(&b.display_name));
            }
            if desc {
                fs.reverse();
            }
        }
        let (skip, top) = match self.skip_top() {
            Ok(x) => x,
            Err(r) => return r,
        };
        let values = fs.iter().map(|f| self.folder_json(m, f, &counts)).collect();
        let ctxurl = format!(
            "{}/{}/$metadata#admin/exchange/mailboxes('{}')/folders",
            self.shared.base_url,
            self.ver,
            enc(&m.ids[self.pi]).replace(':', "%3A").replace('@', "%40")
        );
        self.collection(&ctxurl, values, Some((skip, top)))
    }

    fn locate(&self, m: &Mailbox, key: &str, parent: Option<&str>) -> Result<String, Resp> {
        if let Some(p) = parent {
            let pf = self.folder(m, p)?;
            if let Some(r) = self.redirect(m, pf) {
                return Err(r);
            }
            let pid = pf.id.clone();
            let f = self.folder(m, key)?;
            if f.parent_id.as_deref() != Some(pid.as_str()) {
                return Err(self.err(
                    StatusCode::NOT_FOUND,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                ));
            }
            if let Some(r) = self.redirect(m, f) {
                return Err(r);
            }
            return Ok(f.id.clone());
        }
        let f = self.folder(m, key)?;
        if let Some(r) = self.redirect(m, f) {
            return Err(r);
        }
        Ok(f.id.clone())
    }

    fn get_folder(&self, key: &str, parent: Option<&str>) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let id = match self.locate(m, key, parent) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let counts = Env::counts(m);
        let mut v = self.folder_json(m, &m.folders[&id], &counts);
        v["@odata.context"] = json!(format!(
            "{}/{}/$metadata#admin/exchange/mailboxes('{}')/folders/$entity",
            self.shared.base_url,
            self.ver,
            enc(&m.ids[self.pi])
        ));
        json_response(StatusCode::OK, &v)
    }

    fn body_json(&self) -> Result<Map<String, Value>, Resp> {
        match serde_json::from_slice::<Value>(&self.ctx.body) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "Empty Payload. JSON content expected.",
            )),
        }
    }

    fn create_folder(&self, parent: Option<&str>) -> Resp {
        let body = match self.body_json() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let name = get_ci(&body, "displayName")
            .and_then(Value::as_str)
            .map(str::to_string);
        let ftype = get_ci(&body, "type")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (Some(name), Some(ftype)) = (name, ftype) else {
            return self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "The properties displayName and type are required.",
            );
        };
        if name.trim().is_empty() || name.len() > 255 {
            return self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "displayName is invalid.",
            );
        }
        let mut st = self.shared.state();
        let pid = {
            let m = &st.mailboxes[self.mi];
            match parent {
                None => m.ipm_root_id.clone(),
                Some(p) => match self.locate(m, p, None) {
                    Ok(id) => id,
                    Err(r) => return r,
                },
            }
        };
        {
            let m = &st.mailboxes[self.mi];
            if m.folders.values().any(|f| {
                f.parent_id.as_deref() == Some(pid.as_str())
                    && f.display_name.to_lowercase() == name.to_lowercase()
            }) {
                drop(st);
                return self.err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                );
            }
        }
        let id = st.new_folder_id();
        let m = &mut st.mailboxes[self.mi];
        let physical = m.folders.get(&pid).map(|f| f.physical).unwrap_or(0);
        let seq = m.bump();
        let f = Folder {
            id: id.clone(),
            parent_id: Some(pid),
            display_name: name,
            folder_type: ftype,
            well_known: None,
            physical,
            seq,
            hidden: false,
        };
        m.folders.insert(id.clone(), f);
        self.shared.mark_dirty();
        let m = &st.mailboxes[self.mi];
        let counts = Env::counts(m);
        let mut v = self.folder_json(m, &m.folders[&id], &counts);
        v["@odata.context"] = json!(format!(
            "{}/{}/$metadata#admin/exchange/mailboxes('{}')/folders/$entity",
            self.shared.base_url,
            self.ver,
            enc(&m.ids[self.pi]).replace(':', "%3A").replace('@', "%40")
        ));
        json_response(StatusCode::CREATED, &v)
    }

    fn patch_folder(&self, key: &str, parent: Option<&str>) -> Resp {
        let body = match self.body_json() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.shared.state();
        let id = match self.locate(&st.mailboxes[self.mi], key, parent) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let m = &mut st.mailboxes[self.mi];
        if let Some(t) = get_ci(&body, "type").and_then(Value::as_str) {
            if m.folders.get(&id).is_some_and(|f| f.folder_type != t) {
                drop(st);
                return self.err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "The folder type cannot be changed.",
                );
            }
        }
        if let Some(name) = get_ci(&body, "displayName").and_then(Value::as_str) {
            let pid = m.folders.get(&id).and_then(|f| f.parent_id.clone());
            if m.folders.values().any(|f| {
                f.id != id
                    && f.parent_id == pid
                    && f.display_name.to_lowercase() == name.to_lowercase()
            }) {
                drop(st);
                return self.err(
                    StatusCode::CONFLICT,
                    "ErrorFolderExists",
                    "A folder with the specified name already exists.",
                );
            }
            let seq = m.bump();
            if let Some(f) = m.folders.get_mut(&id) {
                f.display_name = name.to_string();
                f.seq = seq;
            }
            self.shared.mark_dirty();
        }
        let m = &st.mailboxes[self.mi];
        let counts = Env::counts(m);
        let v = self.folder_json(m, &m.folders[&id], &counts);
        json_response(StatusCode::OK, &v)
    }

    fn delete_folder(&self, key: &str, parent: Option<&str>) -> Resp {
        let mut st = self.shared.state();
        let id = match self.locate(&st.mailboxes[self.mi], key, parent) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let m = &mut st.mailboxes[self.mi];
        if m.folders.get(&id).is_some_and(|f| f.well_known.is_some()) {
            drop(st);
            return self.err(
                StatusCode::FORBIDDEN,
                "ErrorDeleteDistinguishedFolder",
                "Distinguished folders cannot be deleted.",
            );
        }
        delete_subtree(m, &id);
        self.shared.mark_dirty();
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    }

    fn delta_expired(&self, m: &Mailbox, restart: String) -> Resp {
        self.shared.count_fault("deltaExpired");
        let _ = m;
        match self.shared.rt().faults.delta_expiry {
            DeltaExpiry::Gone => {
                let mut r = self.err(
                    StatusCode::GONE,
                    "resyncRequired",
                    "The sync state is no longer valid; restart the sync from the Location given.",
                );
                if let Ok(h) = HeaderValue::from_str(&restart) {
                    r.headers_mut().insert(http::header::LOCATION, h);
                }
                r
            }
            DeltaExpiry::SyncStateNotFound => self.err(
                StatusCode::BAD_REQUEST,
                "syncStateNotFound",
                "The sync state generation was not found or has expired.",
            ),
        }
    }

    /// Decodes `$skiptoken`/`$deltatoken` or starts an initial round.
    fn delta_round(&self, m: &Mailbox, scope: &str, default_page: usize) -> Result<DeltaTok, ()> {
        let now = self.shared.clock.now_ms();
        let life = self.shared.rt().delta_lifetime.as_millis() as i64;
        let (page, _) = self.page_size(default_page, true);
        let check = |t: &DeltaTok| {
            t.m == m.ids[0].to_ascii_lowercase()
                && t.f == scope
                && t.e == m.epoch
                && now - t.t <= life
        };
        if let Some(s) = self.ctx.q("$skiptoken") {
            let t = DeltaTok::decode(s).ok_or(())?;
            return if check(&t) { Ok(t) } else { Err(()) };
        }
        if let Some(s) = self.ctx.q("$deltatoken") {
            let t = DeltaTok::decode(s).ok_or(())?;
            if !check(&t) {
                return Err(());
            }
            return Ok(DeltaTok {
                s: t.s,
                u: m.seq,
                i: false,
                cs: 0,
                ci: String::new(),
                t: now,
                p: page,
                ..t
            });
        }
        Ok(DeltaTok {
            m: m.ids[0].to_ascii_lowercase(),
            f: scope.to_string(),
            s: 0,
            u: m.seq,
            i: true,
            cs: 0,
            ci: String::new(),
            e: m.epoch,
            t: now,
            p: page,
            sel: self.ctx.q("$select").map(str::to_string),
            x: self.ctx.q("$expand").map(str::to_string),
        })
    }

    /// Emits one page of a delta round over `entries` (any order) and the next/delta link.
    fn delta_page(
        &self,
        mut tok: DeltaTok,
        mut entries: Vec<Entry<'_>>,
        link_base: &str,
        render: &dyn Fn(&Entry<'_>) -> Value,
        context: &str,
    ) -> Resp {
        entries.retain(|e| e.key() > (tok.cs, tok.ci.as_str()));
        entries.sort_by(|a, b| a.key().cmp(&b.key()));
        let more = entries.len() > tok.p;
        entries.truncate(tok.p);
        let values: Vec<Value> = entries.iter().map(render).collect();
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(context));
        if more {
            if let Some(last) = entries.last() {
                let (s, i) = last.key();
                tok.cs = s;
                tok.ci = i.to_string();
            }
            out.insert(
                "@odata.nextLink".into(),
                json!(format!("{link_base}?$skiptoken={}", tok.encode())),
            );
        } else {
            let next = DeltaTok {
                s: tok.u,
                i: false,
                cs: 0,
                ci: String::new(),
                ..tok
            };
            out.insert(
                "@odata.deltaLink".into(),
                json!(format!("{link_base}?$deltatoken={}", next.encode())),
            );
        }
        out.insert("value".into(), Value::Array(values));
        let mut r = json_response(StatusCode::OK, &Value::Object(out));
        if let Some(p) = self.page_size(0, false).1.then_some(tok.p) {
            if let Ok(h) = HeaderValue::from_str(&format!("odata.maxpagesize={p}")) {
                r.headers_mut().insert("preference-applied", h);
            }
        }
        r
    }

    fn folders_delta(&self, under: Option<&str>) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let scope_id = match under {
            None => m.ipm_root_id.clone(),
            Some(k) => match self.locate(m, k, None) {
                Ok(id) => id,
                Err(r) => return r,
            },
        };
        let base = match under {
            None => format!("{}/folders/delta", self.addressed_url(m)),
            Some(_) => format!(
                "{}/folders/{}/childFolders/delta",
                self.addressed_url(m),
                enc(&scope_id)
            ),
        };
        let scope = if under.is_some() {
            scope_id.clone()
        } else {
            String::new()
        };
        let tok = match self.delta_round(m, &scope, 100) {
            Ok(t) => t,
            Err(()) => return self.delta_expired(m, base),
        };
        let mut entries = Vec::new();
        for f in m.folders.values() {
            if f.id == scope_id || !m.is_under(&f.id, &scope_id) {
                continue;
            }
            if f.seq <= tok.u && (tok.i || f.seq > tok.s) {
                entries.push(Entry::Live(f.seq, &f.id));
            }
        }
        if !tok.i {
            for t in &m.folder_tombs {
                if t.seq > tok.s && t.seq <= tok.u && !m.folders.contains_key(&t.id) {
                    entries.push(Entry::Gone(t.seq, &t.id));
                }
            }
        }
        let counts = Env::counts(m);
        let render = |e: &Entry<'_>| match e {
            Entry::Live(_, id) => self.folder_json(m, &m.folders[*id], &counts),
            Entry::Gone(_, id) => json!({
                "@odata.type": "#microsoft.graph.mailboxFolder",
                "id": id,
                "@removed": {"reason": "deleted"},
            }),
        };
        let ctxurl = format!(
            "{}/{}/$metadata#Collection(mailboxFolder)",
            self.shared.base_url, self.ver
        );
        self.delta_page(tok, entries, &base, &render, &ctxurl)
    }

    fn item_filter(&self, clauses: &[Clause], i: &Item) -> Option<bool> {
        for c in clauses {
            let ok = match c.field.to_ascii_lowercase().as_str() {
                "createddatetime" => {
                    cmp_op(i.created_ms, &c.op, crate::model::parse_date_ms(&c.value)?)
                }
                "lastmodifieddatetime" => {
                    cmp_op(i.modified_ms, &c.op, crate::model::parse_date_ms(&c.value)?)
                }
                "receiveddatetime" => {
                    cmp_op(i.received_ms, &c.op, crate::model::parse_date_ms(&c.value)?)
                }
                "type" => cmp_op(i.message_class.as_str(), &c.op, unquote(&c.value).as_str()),
                "size" => cmp_op(i.size, &c.op, c.value.trim().parse().ok()?),
                _ => return None,
            };
            if !ok {
                return Some(false);
            }
        }
        Some(true)
    }

    fn list_items(&self, key: &str) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let fid = match self.locate(m, key, None) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let clauses = match self.ctx.q("$filter").map(parse_filter) {
            None => vec![],
            Some(Some(c)) => c,
            Some(None) => {
                return self.err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidUrlQueryFilter",
                    "The $filter is not supported.",
                )
            }
        };
        let mut items = Vec::new();
        for i in m.items.values().filter(|i| i.folder_id == fid) {
            match self.item_filter(&clauses, i) {
                Some(true) => items.push(i),
                Some(false) => {}
                None => {
                    return self.err(
                        StatusCode::BAD_REQUEST,
                        "ErrorInvalidUrlQueryFilter",
                        "The $filter property or value is not supported.",
                    )
                }
            }
        }
        items.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        if let Some(o) = self.ctx.q("$orderby") {
            let lo = o.to_ascii_lowercase();
            let field = lo.split_whitespace().next().unwrap_or("");
            match field {
                "createddatetime" | "receiveddatetime" => {}
                "lastmodifieddatetime" => items.sort_by_key(|i| i.modified_ms),
                "size" => items.sort_by_key(|i| i.size),
                _ => {
                    return self.err(
                        StatusCode::BAD_REQUEST,
                        "ErrorInvalidUrlQuery",
                        "The $orderby property is not supported.",
                    )
                }
            }
            if lo.ends_with(" desc") {
                items.reverse();
            }
        }
        let (skip, top) = match self.skip_top() {
            Ok(x) => x,
            Err(r) => return r,
        };
        let sel = self.ctx.q("$select");
        let x = self.ctx.q("$expand");
        let values = items.iter().map(|i| self.item_json(i, sel, x)).collect();
        let ctxurl = format!(
            "{}/{}/$metadata#admin/exchange/mailboxes/{}/folders('{}')/items",
            self.shared.base_url, self.ver, m.ids[self.pi], fid
        );
        self.collection(&ctxurl, values, Some((skip, top)))
    }

    fn items_delta(&self, key: &str) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let fid = match self.locate(m, key, None) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let base = format!(
            "{}/folders/{}/items/delta",
            self.addressed_url(m),
            enc(&fid)
        );
        let tok = match self.delta_round(m, &fid, 100) {
            Ok(t) => t,
            Err(()) => return self.delta_expired(m, base),
        };
        let mut entries = Vec::new();
        for i in m.items.values().filter(|i| i.folder_id == fid) {
            if i.seq <= tok.u && (tok.i || i.seq > tok.s) {
                entries.push(Entry::Live(i.seq, &i.id));
            }
        }
        if !tok.i {
            for t in &m.item_tombs {
                if t.folder_id.as_deref() == Some(fid.as_str())
                    && t.seq > tok.s
                    && t.seq <= tok.u
                    && m.items.get(&t.id).is_none_or(|i| i.folder_id != fid)
                {
                    entries.push(Entry::Gone(t.seq, &t.id));
                }
            }
        }
        let sel = tok.sel.clone();
        let x = tok.x.clone();
        let render = |e: &Entry<'_>| match e {
            Entry::Live(_, id) => self.item_json(&m.items[*id], sel.as_deref(), x.as_deref()),
            Entry::Gone(_, id) => json!({
                "@odata.type": "#microsoft.graph.mailboxItem",
                "id": id,
                "@removed": {"reason": "deleted"},
            }),
        };
        let ctxurl = format!(
            "{}/{}/$metadata#Collection(mailboxItem)",
            self.shared.base_url, self.ver
        );
        self.delta_page(tok, entries, &base, &render, &ctxurl)
    }

    fn get_item(&self, fkey: &str, iid: &str) -> Resp {
        let st = self.shared.state();
        let m = &st.mailboxes[self.mi];
        let fid = match self.locate(m, fkey, None) {
            Ok(id) => id,
            Err(r) => return r,
        };
        match m.items.get(iid).filter(|i| i.folder_id == fid) {
            Some(i) => {
                let mut v = self.item_json(i, self.ctx.q("$select"), self.ctx.q("$expand"));
                v["@odata.context"] = json!(format!(
                    "{}/{}/$metadata#admin/exchange/mailboxes/{}/folders('{}')/items/$entity",
                    self.shared.base_url, self.ver, m.ids[self.pi], fkey
                ));
                json_response(StatusCode::OK, &v)
            }
            None if !id_well_formed(iid) => self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidIdMalformed",
                "Id is malformed.",
            ),
            None => self.err(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            ),
        }
    }

    fn delete_item(&self, fkey: &str, iid: &str) -> Resp {
        let disposal = self.ctx.q("disposalType").map(str::to_ascii_lowercase);
        let hard = match disposal.as_deref() {
            Some("harddelete") => true,
            Some("softdelete") => false,
            _ => {
                return self.err(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    "The disposalType query parameter is required: softDelete or hardDelete.",
                )
            }
        };
        let mut st = self.shared.state();
        let fid = match self.locate(&st.mailboxes[self.mi], fkey, None) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let m = &mut st.mailboxes[self.mi];
        let Some(item) = m.items.get(iid).filter(|i| i.folder_id == fid) else {
            drop(st);
            return self.err(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            );
        };
        if hard && item.protected {
            drop(st);
            return self.err(
                StatusCode::FORBIDDEN,
                "ErrorAccessDenied",
                "The item is protected (hold or retention) and cannot be hard-deleted.",
            );
        }
        let deletions = m
            .resolve_folder("recoverableitemsdeletions")
            .map(|f| f.id.clone());
        let seq = m.bump();
        m.item_tombs.push(Tomb {
            id: iid.to_string(),
            folder_id: Some(fid.clone()),
            seq,
        });
        match (hard, deletions) {
            (false, Some(d)) if d != fid => {
                if let Some(i) = m.items.get_mut(iid) {
                    i.folder_id = d;
                    i.seq = seq;
                }
            }
            _ => {
                m.items.remove(iid);
            }
        }
        self.shared.mark_dirty();
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    }

    fn export(&self) -> Resp {
        let body = match self.body_json() {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(Value::Array(ids)) = get_ci(&body, "itemIds") else {
            return self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "The itemIds parameter is required.",
            );
        };
        let ids: Vec<String> = ids
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        let max = self.shared.rt().limits.max_export_ids;
        if ids.is_empty() || ids.len() > max {
            return self.err(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidArgument",
                &format!("itemIds must contain between 1 and {max} item ids."),
            );
        }
        let faults = self.shared.rt().faults;
        enum Out {
            Data(String, String, bytes::Bytes),
            Fail(String, &'static str, String, &'static str),
        }
        let mut outs = Vec::new();
        {
            let mut st = self.shared.state();
            let m = &mut st.mailboxes[self.mi];
            for id in &ids {
                if !id_well_formed(id) {
                    outs.push(Out::Fail(
                        id.clone(),
                        "ErrorInvalidIdMalformed",
                        "Id is malformed.".into(),
                        "error",
                    ));
                    continue;
                }
                let Some(item) = m.items.get(id) else {
                    outs.push(Out::Fail(
                        id.clone(),
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.".into(),
                        "error",
                    ));
                    continue;
                };
                let physical = m
                    .folders
                    .get(&item.folder_id)
                    .map(|f| f.physical)
                    .unwrap_or(0);
                if faults.archive_redirects && physical != self.pi {
                    self.shared.count_fault("archiveMoved");
                    let url = format!(
                        "{}/{}/admin/exchange/mailboxes/{}/exportItems",
                        self.shared.base_url, self.ver, m.ids[physical]
                    );
                    // The docs' example spells this one `Error`; clients must read both.
                    outs.push(Out::Fail(
                        id.clone(),
                        "ErrorArchiveFolderMovedPermanently",
                        url,
                        "Error",
                    ));
                    continue;
                }
                if ids.len() > 1 && self.shared.roll(faults.export_missing_rate) {
                    self.shared.count_fault("missing");
                    continue;
                }
                if self.shared.roll(faults.export_vanish_rate) {
                    self.shared.count_fault("vanish");
                    let fid = item.folder_id.clone();
                    m.items.remove(id);
                    let seq = m.bump();
                    m.item_tombs.push(Tomb {
                        id: id.clone(),
                        folder_id: Some(fid),
                        seq,
                    });
                    self.shared.mark_dirty();
                    outs.push(Out::Fail(
                        id.clone(),
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.".into(),
                        "error",
                    ));
                    continue;
                }
                let mut data = item.data.clone();
                let ck = item.change_key.clone();
                let vol = item.volatile;
                m.exports += 1;
                if faults.unstable_exports {
                    data = vary(&data, vol, m.exports);
                }
                outs.push(Out::Data(id.clone(), ck, data));
            }
        }
        // Build the body outside the lock; `data` comes last in each element (as observed).
        let total: usize = outs
            .iter()
            .map(|o| match o {
                Out::Data(_, _, d) => d.len() * 4 / 3 + 200,
                Out::Fail(..) => 300,
            })
            .sum();
        let mut s = String::with_capacity(total + 200);
        s.push_str("{\"@odata.context\":");
        s.push_str(
            &json!(format!(
                "{}/{}/$metadata#Collection(microsoft.graph.exportItemResponse)",
                self.shared.base_url, self.ver
            ))
            .to_string(),
        );
        s.push_str(",\"value\":[");
        let mut exported = Vec::new();
        for (n, o) in outs.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            match o {
                Out::Data(id, ck, d) => {
                    s.push_str("{\"itemId\":");
                    s.push_str(&json!(id).to_string());
                    s.push_str(",\"changeKey\":");
                    s.push_str(&json!(ck).to_string());
                    s.push_str(",\"data\":\"");
                    base64::engine::general_purpose::STANDARD.encode_string(d, &mut s);
                    s.push_str("\"}");
                    exported.push((id.clone(), d.len() as u64));
                }
                Out::Fail(id, code, msg, key) => {
                    s.push_str("{\"itemId\":");
                    s.push_str(&json!(id).to_string());
                    s.push_str(&format!(",\"{key}\":"));
                    s.push_str(&json!({"code": code, "message": msg}).to_string());
                    s.push('}');
                }
            }
        }
        s.push_str("]}");
        {
            let mut stats = self.shared.stats();
            for (id, n) in exported {
                *stats.exports.entry(id).or_default() += 1;
                stats.export_bytes += n;
            }
        }
        raw_json(StatusCode::OK, s.into_bytes())
    }

    fn create_session(&self) -> Resp {
        let now = self.shared.clock.now_ms();
        let life = self.shared.rt().session_lifetime.as_millis() as i64;
        let mut st = self.shared.state();
        let token = format!("eyJhbGciOiJub25lIn0.{}", st.secret_token());
        st.sessions.insert(
            token.clone(),
            ImportSessionRec {
                mailbox: self.mi,
                physical: self.pi,
                tenant: self.tok.tenant,
                client_id: self.tok.client_id.clone(),
                expires_ms: now + life,
            },
        );
        st.sessions.retain(|_, s| s.expires_ms > now - 86_400_000);
        let mid = st.mailboxes[self.mi].ids[self.pi].clone();
        drop(st);
        self.shared.mark_dirty();
        let gver = if self.ver == "v1.0" { "gv1.0" } else { "gbeta" };
        json_response(
            StatusCode::OK,
            &json!({
                "@odata.context": format!("{}/{}/$metadata#microsoft.graph.mailboxItemImportSession", self.shared.base_url, self.ver),
                "importUrl": format!("{}/api/{gver}/Mailboxes('{}')/importItem?authtoken={token}", self.shared.base_url, enc(&mid)),
                "expirationDateTime": rfc3339_7(now + life),
            }),
        )
    }
}

/// Varies an export's bytes without changing the message: the 8-byte opaque value the
/// generator planted, else the FxProxy TellPartnerVersion build word (ignored by parsers).
fn vary(data: &bytes::Bytes, volatile: Option<usize>, n: u64) -> bytes::Bytes {
    let mut v = data.to_vec();
    if let Some(off) = volatile.filter(|o| o + 8 <= v.len()) {
        v[off..off + 8].copy_from_slice(&n.to_le_bytes());
    } else if v.len() >= 62 && v[..8] == [1, 0, 0, 0, 8, 0, 0, 0] && v[48..52] == [4, 0, 0, 0] {
        // Record 3 of the preamble is TellPartnerVersion: 8-byte header at 48, three u16s.
        v[60..62].copy_from_slice(&((n % 0x7fff) as u16).to_le_bytes());
    }
    bytes::Bytes::from(v)
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Deletes a folder, its subfolders and their items, leaving tombstones.
pub(crate) fn delete_subtree(m: &mut Mailbox, id: &str) {
    let doomed: Vec<String> = m
        .folders
        .keys()
        .filter(|f| m.is_under(f, id))
        .cloned()
        .collect();
    for fid in &doomed {
        let items: Vec<String> = m
            .items
            .values()
            .filter(|i| &i.folder_id == fid)
            .map(|i| i.id.clone())
            .collect();
        for iid in items {
            m.items.remove(&iid);
            let seq = m.bump();
            m.item_tombs.push(Tomb {
                id: iid,
                folder_id: Some(fid.clone()),
                seq,
            });
        }
        let parent = m.folders.remove(fid).and_then(|f| f.parent_id);
        let seq = m.bump();
        m.folder_tombs.push(Tomb {
            id: fid.clone(),
            folder_id: parent,
            seq,
        });
    }
}

/// `POST {base}/api/{gbeta|gv1.0}/Mailboxes('{id}')/importItem?authtoken=…` (no bearer).
pub(crate) async fn import(shared: &Arc<Shared>, ctx: &Ctx, kill: &Notify) -> Resp {
    bump_route(shared, "POST importItem");
    let l: Vec<String> = ctx.segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let ok_path = l.len() == 5
        && (l[1] == "gbeta" || l[1] == "gv1.0")
        && l[2] == "mailboxes"
        && l[4] == "importitem";
    if !ok_path {
        return graph_error(
            shared,
            StatusCode::NOT_FOUND,
            "BadRequest",
            "Resource not found for the segment.",
        );
    }
    if ctx.method != Method::POST {
        return graph_error(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "The HTTP method is not allowed for this resource.",
        );
    }
    let now = shared.clock.now_ms();
    let session = {
        let st = shared.state();
        ctx.q("authtoken")
            .and_then(|t| st.sessions.get(t).cloned())
            .map(|s| {
                let id = st.mailboxes[s.mailbox].ids[s.physical].clone();
                (s, id)
            })
    };
    let unauthorized = |msg: &str| {
        graph_error(
            shared,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            msg,
        )
    };
    let Some((sess, mbx_id)) = session else {
        return unauthorized("The import session token is missing or invalid.");
    };
    if sess.expires_ms <= now {
        return unauthorized("The import session has expired.");
    }
    if !mbx_id.eq_ignore_ascii_case(&ctx.segs[3]) {
        return unauthorized("The import session token is not valid for this mailbox.");
    }
    let slot = match admit(shared, &sess.client_id, &mbx_id, ctx.body.len() as u64, now) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = inject(shared, &sess.client_id, &mbx_id, kill).await {
        return r;
    }
    let due = tokio::time::Instant::now() + shared.rt().latency;
    let resp = import_item(shared, ctx, &sess, &l[1], now);
    tokio::time::sleep_until(due).await;
    hold_slot(maybe_truncate(shared, resp).await, slot)
}

fn import_item(shared: &Shared, ctx: &Ctx, sess: &ImportSessionRec, gver: &str, now: i64) -> Resp {
    let bad = |code: &str, msg: &str| graph_error(shared, StatusCode::BAD_REQUEST, code, msg);
    let body = match serde_json::from_slice::<Value>(&ctx.body) {
        Ok(Value::Object(o)) => o,
        _ => {
            return bad(
                "ErrorInvalidRequest",
                "The request body must be a JSON object.",
            )
        }
    };
    let s = |k: &str| get_ci(&body, k).and_then(Value::as_str).map(str::to_string);
    let (Some(folder_id), Some(mode), Some(data)) = (s("FolderId"), s("Mode"), s("Data")) else {
        return bad(
            "ErrorInvalidRequest",
            "FolderId, Mode and Data are required.",
        );
    };
    let item_id = s("ItemId");
    let change_key = s("ChangeKey");
    let update = match mode.to_ascii_lowercase().as_str() {
        "create" => false,
        "update" => true,
        _ => return bad("ErrorInvalidRequest", "Mode must be create or update."),
    };
    if !update && (item_id.is_some() || change_key.is_some()) {
        return bad(
            "ErrorInvalidRequest",
            "ItemId and ChangeKey must not be given with Mode create.",
        );
    }
    if update && (item_id.is_none() || change_key.is_none()) {
        return bad(
            "ErrorInvalidRequest",
            "ItemId and ChangeKey are required with Mode update.",
        );
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) else {
        return bad("ErrorCorruptData", "Data is not valid base64.");
    };
    let parsed = mbxa_fasttransfer::parse(&bytes);
    let Ok(msg) = parsed else {
        return bad("ErrorCorruptData", "Data is not a valid item stream.");
    };
    let search_key = msg.search_key().map(<[u8]>::to_vec);
    let subject = msg.subject().map(str::to_string);
    let class = msg.message_class().unwrap_or("IPM.Note").to_string();
    let received = msg.delivery_time().map(|s| s * 1000).unwrap_or(now);
    let len = bytes.len() as u64;
    let data = bytes::Bytes::from(bytes);
    let volatile = crate::generate::find_volatile(&data);

    let mut st = shared.state();
    let rt_faults = shared.rt().faults;
    let folder = {
        let m = &st.mailboxes[sess.mailbox];
        m.folders
            .get(&folder_id)
            .or_else(|| {
                (m.kind == MailboxKind::Primary)
                    .then(|| m.resolve_folder(&folder_id))
                    .flatten()
            })
            .map(|f| (f.id.clone(), f.physical))
    };
    let Some((fid, physical)) = folder else {
        drop(st);
        return graph_error(
            shared,
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The target folder was not found in the mailbox.",
        );
    };
    if rt_faults.archive_redirects && physical != sess.physical {
        let expected = st.mailboxes[sess.mailbox].ids[physical].clone();
        drop(st);
        shared.count_fault("import409");
        // Not the Graph envelope: the Outlook REST service's PascalCase `Message`.
        return json_response(
            StatusCode::CONFLICT,
            &json!({"Message": format!("Invalid import session. The target session is expected in mailbox {expected}.")}),
        );
    }
    let ck = st.new_change_key();
    let (id, ck) = if update {
        let iid = item_id.unwrap_or_default();
        let m = &mut st.mailboxes[sess.mailbox];
        let Some(item) = m.items.get(&iid).filter(|i| i.folder_id == fid) else {
            drop(st);
            return graph_error(
                shared,
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The item to update was not found in that folder.",
            );
        };
        if Some(&item.change_key) != change_key.as_ref() {
            drop(st);
            return graph_error(
                shared,
                StatusCode::PRECONDITION_FAILED,
                "ErrorIrresolvableConflict",
                "The change key does not match the item's current version.",
            );
        }
        let seq = m.bump();
        if let Some(item) = m.items.get_mut(&iid) {
            item.change_key = ck.clone();
            item.modified_ms = now;
            item.size = len * 7 / 8 + 1024;
            item.message_class = class;
            item.data = data;
            item.search_key = search_key;
            item.subject = subject;
            item.seq = seq;
            item.volatile = volatile;
        }
        (iid, ck)
    } else {
        let iid = st.new_item_id();
        let m = &mut st.mailboxes[sess.mailbox];
        let seq = m.bump();
        m.items.insert(
            iid.clone(),
            Item {
                id: iid.clone(),
                folder_id: fid,
                change_key: ck.clone(),
                created_ms: now,
                modified_ms: now,
                received_ms: received,
                size: len * 7 / 8 + 1024,
                message_class: class,
                data,
                search_key,
                subject,
                seq,
                volatile,
                protected: false,
            },
        );
        (iid, ck)
    };
    drop(st);
    shared.mark_dirty();
    {
        let mut stats = shared.stats();
        stats.imports += 1;
        stats.import_bytes += len;
    }
    json_response(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}/api/{gver}/$metadata#microsoft.graph.importMailboxItemResponse", shared.base_url),
            "itemId": id,
            "changeKey": ck,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_parser() {
        let c = parse_filter("createdDateTime ge 2021-08-21 and type eq 'IPF.Note'").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].field, "createdDateTime");
        assert_eq!(c[1].op, "eq");
        assert_eq!(unquote(&c[1].value), "IPF.Note");
        assert!(parse_filter("startswith(displayName,'a')").is_none());
    }

    #[test]
    fn delta_tokens_round_trip_and_reject_junk() {
        let t = DeltaTok {
            m: "mbx:a@b".into(),
            f: "x".into(),
            s: 1,
            u: 2,
            i: false,
            cs: 3,
            ci: "id".into(),
            e: 0,
            t: 5,
            p: 10,
            sel: None,
            x: None,
        };
        let d = DeltaTok::decode(&t.encode()).unwrap();
        assert_eq!((d.s, d.u, d.cs, d.ci.as_str()), (1, 2, 3, "id"));
        assert!(DeltaTok::decode("!!!").is_none());
        assert!(DeltaTok::decode(&"A".repeat(10_000)).is_none());
    }

    #[test]
    fn vary_changes_only_the_opaque_bytes() {
        let mut v = vec![1, 0, 0, 0, 8, 0, 0, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&[3, 0, 0, 0, 24, 0, 0, 0]);
        v.extend_from_slice(&[0; 24]);
        v.extend_from_slice(&[4, 0, 0, 0, 6, 0, 0, 0, 1, 14, 0x8b, 0x80, 0, 0]);
        v.extend_from_slice(b"payload");
        let d = bytes::Bytes::from(v.clone());
        let a = vary(&d, None, 1);
        let b = vary(&d, None, 2);
        assert_ne!(a, b);
        assert_eq!(a.len(), d.len());
        assert_eq!(&a[..60], &d[..60]);
        assert_eq!(&a[62..], &d[62..]);
        let c = vary(&d, Some(61), 7);
        assert_eq!(&c[61..69], &7u64.to_le_bytes());
        assert_eq!(&c[..61], &d[..61]);
    }
}
