//! Request parsing (case-insensitive paths, OData key syntax), response helpers and the
//! top-level dispatch to token, Graph, import and admin handlers.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::json;
use tokio::sync::Notify;

use crate::server::Shared;

/// Characters escaped in a path segment we generate (ids carry `+`, `=`, `_`).
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'+')
    .add(b'\'');

pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// One parsed request.
pub(crate) struct Ctx {
    pub method: Method,
    /// Decoded path segments, with `name('key')` split into `name`, `key`.
    pub segs: Vec<String>,
    /// Raw (still escaped) segments, parallel to `segs`.
    pub raw: Vec<String>,
    pub query: Vec<(String, String)>,
    /// The query string as received (for redirects).
    pub raw_query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Ctx {
    /// A query option, matched case-insensitively (`$top`, `$TOP`).
    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Segment `i` lowercased, for matching literals.
    pub(crate) fn lit(&self, i: usize) -> Option<String> {
        self.segs.get(i).map(|s| s.to_ascii_lowercase())
    }
}

pub(crate) fn split_path(path: &str) -> (Vec<String>, Vec<String>) {
    let mut segs = Vec::new();
    let mut raw = Vec::new();
    for r in path.split('/').filter(|s| !s.is_empty()) {
        let d = percent_decode_str(r).decode_utf8_lossy().to_string();
        // OData key syntax: folders('id') → folders, id.
        if let Some(open) = d.find("('") {
            if d.ends_with("')") && open > 0 && d.len() >= open + 4 {
                let name = d[..open].to_string();
                let key = d[open + 2..d.len() - 2].to_string();
                segs.push(name.clone());
                raw.push(name);
                raw.push(enc(&key));
                segs.push(key);
                continue;
            }
        }
        segs.push(d);
        raw.push(r.to_string());
    }
    (segs, raw)
}

/// Entry point for every request on the socket.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    kill: Arc<Notify>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let max = shared.rt().max_body;
    let body = match axum::body::to_bytes(Body::new(body), max).await {
        Ok(b) => b,
        Err(_) => {
            return graph_error(
                &shared,
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is too large.",
            )
        }
    };
    let (segs, raw) = split_path(parts.uri.path());
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let ctx = Ctx {
        method: parts.method,
        segs,
        raw,
        query,
        raw_query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    shared.stats().requests += 1;
    let first = ctx.lit(0).unwrap_or_default();
    if first == "_emulator" {
        return crate::admin::handle(&shared, &ctx).await;
    }
    if ctx.segs.len() == 4
        && ctx.lit(1).as_deref() == Some("oauth2")
        && ctx.lit(2).as_deref() == Some("v2.0")
        && ctx.lit(3).as_deref() == Some("token")
    {
        return token(&shared, &ctx);
    }
    if first == "api" {
        return crate::graph::import(&shared, &ctx, &kill).await;
    }
    if (first == "beta" || first == "v1.0") && ctx.segs.len() == 2 && ctx.segs[1] == "$batch" {
        return crate::graph::batch(&shared, &ctx, &kill).await;
    }
    if first == "beta" || first == "v1.0" {
        return crate::graph::graph(&shared, &ctx, &kill).await;
    }
    graph_error(
        &shared,
        StatusCode::NOT_FOUND,
        "BadRequest",
        "Resource not found for the segment.",
    )
}

fn token(shared: &Shared, ctx: &Ctx) -> Response<Body> {
    bump_route(shared, "POST token");
    if ctx.method != Method::POST {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error":"invalid_request","error_description":"AADSTS900561: The endpoint only accepts POST requests."}),
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&ctx.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let basic = ctx.header("authorization").and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let dec = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let s = String::from_utf8(dec).ok()?;
        let (i, p) = s.split_once(':')?;
        let d = |x: &str| {
            url::form_urlencoded::parse(format!("x={x}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Some((d(i), d(p)))
    });
    let tenant = ctx.segs[0].clone();
    let endpoints = vec![
        format!("{}/{}/oauth2/v2.0/token", shared.base_url, tenant),
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
        format!("{}/{}/v2.0", shared.base_url, tenant),
    ];
    let now = shared.clock.now_ms();
    let lifetime = shared.rt().token_lifetime.as_secs().max(1);
    let r = {
        let mut st = shared.state();
        crate::auth::token(&mut st, &tenant, &form, basic, &endpoints, now, lifetime)
    };
    match r {
        Ok(v) => {
            shared.stats().tokens_issued += 1;
            shared.mark_dirty();
            json_response(StatusCode::OK, &v)
        }
        Err(e) => json_response(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.body,
        ),
    }
}

pub(crate) fn bump_route(shared: &Shared, route: &str) {
    *shared.stats().routes.entry(route.to_string()).or_default() += 1;
}

pub(crate) fn json_response(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    raw_json(status, body)
}

pub(crate) fn raw_json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The Graph error envelope with an `innerError` like Graph's.
pub(crate) fn graph_error(
    shared: &Shared,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<Body> {
    let n = shared.request_counter.fetch_add(1, Ordering::Relaxed);
    let rid = format!("00000000-0000-4000-8000-{n:012x}");
    json_response(
        status,
        &json!({"error":{"code":code,"message":message,"innerError":{
            "date": crate::model::rfc3339(shared.clock.now_ms()),
            "request-id": rid,
            "client-request-id": rid,
        }}}),
    )
}

/// A 429 with a `Retry-After` in (possibly fractional) seconds.
pub(crate) fn throttled(
    shared: &Shared,
    code: &str,
    message: &str,
    retry_after_ms: i64,
) -> Response<Body> {
    let mut r = graph_error(shared, StatusCode::TOO_MANY_REQUESTS, code, message);
    let ms = retry_after_ms.max(1);
    let v = if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        let s = format!("{:.3}", ms as f64 / 1000.0);
        s.trim_end_matches('0').to_string()
    };
    if let Ok(h) = HeaderValue::from_str(&v) {
        r.headers_mut().insert(http::header::RETRY_AFTER, h);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_odata_keys_and_decodes() {
        let (s, r) =
            split_path("/beta/admin/exchange/mailboxes('MBX%3Aa%40b')/folders/AB%2Bc%3D/items");
        assert_eq!(
            s,
            vec![
                "beta",
                "admin",
                "exchange",
                "mailboxes",
                "MBX:a@b",
                "folders",
                "AB+c=",
                "items"
            ]
        );
        assert_eq!(r.len(), s.len());
        assert_eq!(r[6], "AB%2Bc%3D");
    }
}
