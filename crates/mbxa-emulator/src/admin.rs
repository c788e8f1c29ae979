//! Admin routes under `/_emulator/` (a prefix Graph never uses): stats, faults, limits,
//! time travel, token expiry, snapshots, state saving. No authentication (loopback only).

use std::sync::Arc;

use axum::body::Body;
use http::{Method, Response, StatusCode};
use serde_json::json;

use crate::config::{Faults, Limits};
use crate::http::{json_response, Ctx};
use crate::server::Shared;

fn ok(v: serde_json::Value) -> Response<Body> {
    json_response(StatusCode::OK, &v)
}

fn fail(status: StatusCode, msg: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"code": "emulatorAdmin", "message": msg}}),
    )
}

/// Dispatches `/_emulator/...`.
pub(crate) async fn handle(shared: &Arc<Shared>, ctx: &Ctx) -> Response<Body> {
    let l: Vec<String> = ctx.segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let r: Vec<&str> = l[1..].iter().map(String::as_str).collect();
    let m = &ctx.method;
    match (r.as_slice(), m) {
        (["stats"], &Method::GET) => {
            ok(serde_json::to_value(shared.stats().clone()).unwrap_or_default())
        }
        (["stats", "reset"], &Method::POST) => {
            *shared.stats() = Default::default();
            shared.limiter.reset();
            ok(json!({}))
        }
        (["tenants"], &Method::GET) => {
            let t = crate::tenants_of(&shared.state());
            ok(serde_json::to_value(t).unwrap_or_default())
        }
        (["faults"], &Method::GET) => {
            ok(serde_json::to_value(shared.rt().faults).unwrap_or_default())
        }
        (["faults"], &Method::PUT) | (["faults"], &Method::POST) => {
            let parsed: Result<Faults, String> = serde_json::from_slice(&ctx.body).or_else(|_| {
                String::from_utf8_lossy(&ctx.body)
                    .parse::<Faults>()
                    .map_err(|e| e.to_string())
            });
            match parsed {
                Ok(f) => {
                    shared.rt.write().unwrap_or_else(|p| p.into_inner()).faults = f.clone();
                    ok(serde_json::to_value(f).unwrap_or_default())
                }
                Err(e) => fail(StatusCode::BAD_REQUEST, &e),
            }
        }
        (["limits"], &Method::GET) => {
            ok(serde_json::to_value(shared.rt().limits).unwrap_or_default())
        }
        (["limits"], &Method::PUT) | (["limits"], &Method::POST) => {
            let parsed: Result<Limits, String> = serde_json::from_slice(&ctx.body).or_else(|_| {
                String::from_utf8_lossy(&ctx.body)
                    .parse::<Limits>()
                    .map_err(|e| e.to_string())
            });
            match parsed {
                Ok(l) => {
                    shared.rt.write().unwrap_or_else(|p| p.into_inner()).limits = l.clone();
                    ok(serde_json::to_value(l).unwrap_or_default())
                }
                Err(e) => fail(StatusCode::BAD_REQUEST, &e),
            }
        }
        (["clock", "advance"], &Method::POST) => {
            let secs: f64 = ctx.q("seconds").and_then(|s| s.parse().ok()).unwrap_or(0.0);
            if !(0.0..=1e10).contains(&secs) {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "seconds must be between 0 and 1e10",
                );
            }
            shared.clock.advance((secs * 1000.0) as i64);
            ok(json!({"now": crate::model::rfc3339(shared.clock.now_ms())}))
        }
        (["tokens", "expire"], &Method::POST) => {
            let now = shared.clock.now_ms();
            let mut st = shared.state();
            st.tokens.values_mut().for_each(|t| t.expires_ms = now);
            ok(json!({"expired": st.tokens.len()}))
        }
        (["sessions", "expire"], &Method::POST) => {
            let now = shared.clock.now_ms();
            let mut st = shared.state();
            st.sessions.values_mut().for_each(|t| t.expires_ms = now);
            ok(json!({"expired": st.sessions.len()}))
        }
        (["delta", "expire"], &Method::POST) => {
            let mut st = shared.state();
            st.mailboxes.iter_mut().for_each(|m| m.epoch += 1);
            shared.mark_dirty();
            ok(json!({}))
        }
        (["save"], &Method::POST) => match &shared.state_file {
            None => fail(StatusCode::CONFLICT, "no state file configured"),
            Some(p) => {
                let snapshot = shared.state().clone();
                match crate::persist::save(&snapshot, p) {
                    Ok(()) => ok(json!({"saved": p.display().to_string()})),
                    Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                }
            }
        },
        (["mailboxes", _, rest @ ..], _) => mailbox(shared, ctx, &ctx.segs[2], rest, m),
        _ => fail(StatusCode::NOT_FOUND, "unknown admin route"),
    }
}

fn mailbox(shared: &Arc<Shared>, ctx: &Ctx, id: &str, rest: &[&str], m: &Method) -> Response<Body> {
    let mi = match shared.state().index.get(&id.to_ascii_lowercase()) {
        Some((mi, _)) => *mi,
        None => return fail(StatusCode::NOT_FOUND, "unknown mailbox"),
    };
    match (rest, m) {
        (["snapshot"], &Method::GET) => {
            let snap = crate::model::snapshot(&shared.state().mailboxes[mi]);
            let items: Vec<_> = snap
                .items
                .iter()
                .map(|i| {
                    use sha2::Digest;
                    json!({"item": i, "sha256": hex(&sha2::Sha256::digest(&i.data)), "len": i.data.len()})
                })
                .collect();
            let mut v = serde_json::to_value(&snap).unwrap_or_default();
            v["items"] = json!(items);
            ok(v)
        }
        (["items", _, "data"], &Method::GET) => {
            let st = shared.state();
            match st.mailboxes[mi].items.get(&ctx.segs[4]) {
                Some(i) => {
                    let mut r = Response::new(Body::from(i.data.clone()));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/octet-stream"),
                    );
                    r
                }
                None => fail(StatusCode::NOT_FOUND, "unknown item"),
            }
        }
        (["items", _, "protect"], &Method::POST) => {
            let mut st = shared.state();
            match st.mailboxes[mi].items.get_mut(&ctx.segs[4]) {
                Some(i) => {
                    i.protected = true;
                    ok(json!({}))
                }
                None => fail(StatusCode::NOT_FOUND, "unknown item"),
            }
        }
        (["evolve"], &Method::POST) => {
            let seed = ctx.q("seed").and_then(|s| s.parse().ok()).unwrap_or(1);
            let changes: usize = ctx.q("changes").and_then(|s| s.parse().ok()).unwrap_or(10);
            if changes > 100_000 {
                return fail(StatusCode::BAD_REQUEST, "at most 100000 changes");
            }
            let now = shared.clock.now_ms();
            let rep = crate::generate::evolve(&mut shared.state(), mi, seed, changes, now);
            shared.mark_dirty();
            ok(serde_json::to_value(rep).unwrap_or_default())
        }
        (["delta", "expire"], &Method::POST) => {
            shared.state().mailboxes[mi].epoch += 1;
            shared.mark_dirty();
            ok(json!({}))
        }
        _ => fail(StatusCode::NOT_FOUND, "unknown admin route"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
