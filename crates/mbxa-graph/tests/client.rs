//! Behaviour of the Graph client against a scripted mock server (loopback only).

mod mock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use mbxa_graph::*;
use mock::{json, status, token, with_header, Action, Mock, Recorded};
use serde_json::json as j;

const SECRET: &str = "s3cr3t-CLIENT-secret-value";
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.ACCESS-TOKEN-VALUE";
const MBX: &str = "MBX:e0643f21@a7809c93";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        max_throttle_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}

fn config(m: &Mock) -> GraphConfig {
    let mut c = GraphConfig::new(
        m.graph_url(),
        m.base(),
        "tenant-1",
        "client-1",
        ClientAuth::Secret(SecretString::new(SECRET)),
    );
    c.retry = fast_retry();
    c.request_timeout = Duration::from_secs(10);
    c
}

fn client(m: &Mock) -> GraphClient {
    GraphClient::new(config(m)).unwrap()
}

/// Token requests get a token; everything else goes to `f`.
fn with_token(
    f: impl Fn(&Recorded) -> Action + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Action + Send + Sync + 'static {
    move |r: &Recorded| {
        if r.is_token() {
            token(TOKEN, 3599)
        } else {
            f(r)
        }
    }
}

fn folder(id: &str, parent: &str, name: &str, children: u64) -> serde_json::Value {
    j!({"@odata.type":"#microsoft.graph.mailboxFolder","id":id,"displayName":name,"parentFolderId":parent,
        "childFolderCount":children,"totalItemCount":1,"type":"IPF.Note","wellKnownName":null})
}

fn item(id: &str) -> serde_json::Value {
    j!({"@odata.type":"#microsoft.graph.mailboxItem","id":id,"changeKey":format!("ck-{id}"),
        "createdDateTime":"2021-09-15T12:16:38Z","lastModifiedDateTime":"2021-09-15T12:16:41Z",
        "categories":[],"type":"IPM.Note","size":71133})
}

#[derive(Default)]
struct Events(Mutex<Vec<RetryEvent>>);
impl Observer for Events {
    fn on_retry(&self, e: &RetryEvent) {
        self.0.lock().unwrap().push(e.clone());
    }
}

fn settings_ok() -> Action {
    json(
        200,
        j!({"primaryMailboxId":MBX,"inPlaceArchiveMailboxId":"MBX:4eba5149@a7809c93"}),
    )
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn secret_auth_sends_form_and_caches_token() {
    let m = Mock::start(with_token(|_| settings_ok())).await;
    let c = client(&m);
    for _ in 0..3 {
        let s = c.exchange_settings("megan@contoso.com").await.unwrap();
        assert_eq!(s.primary_mailbox_id, MBX);
        assert_eq!(
            s.archive_mailbox_id.as_deref(),
            Some("MBX:4eba5149@a7809c93")
        );
    }
    let toks = m.token_requests();
    assert_eq!(toks.len(), 1, "token must be cached");
    assert_eq!(toks[0].path(), "/tenant-1/oauth2/v2.0/token");
    let form = toks[0].form();
    assert_eq!(form["client_id"], "client-1");
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    let g = m.graph_requests();
    assert_eq!(
        g[0].path(),
        "/beta/users/megan@contoso.com/settings/exchange"
    );
    for r in &g {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_share_one_token_request() {
    let m = Mock::start(|r: &Recorded| {
        if r.is_token() {
            Action::Delay(Duration::from_millis(100), Box::new(token(TOKEN, 3599)))
        } else {
            settings_ok()
        }
    })
    .await;
    let c = client(&m);
    let futs: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.exchange_settings("u").await })
        })
        .collect();
    for f in futs {
        f.await.unwrap().unwrap();
    }
    assert_eq!(m.token_requests().len(), 1);
    assert_eq!(m.graph_requests().len(), 8);
}

#[tokio::test]
async fn token_refreshed_before_expiry() {
    // expires_in 2 s → refreshed after 1.5 s (a quarter early).
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(move |r: &Recorded| {
        if r.is_token() {
            let k = n2.fetch_add(1, Ordering::SeqCst);
            token(&format!("tok-{k}"), 2)
        } else {
            settings_ok()
        }
    })
    .await;
    let c = client(&m);
    c.exchange_settings("u").await.unwrap();
    c.exchange_settings("u").await.unwrap();
    assert_eq!(m.token_requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.exchange_settings("u").await.unwrap();
    assert_eq!(m.token_requests().len(), 2);
    let g = m.graph_requests();
    assert_eq!(g[2].header("authorization"), Some("Bearer tok-1"));
}

#[tokio::test]
async fn certificate_auth_sends_signed_assertion() {
    let m = Mock::start(with_token(|_| settings_ok())).await;
    let pem = include_str!("fixtures/client-cert.pem");
    let mut cfg = config(&m);
    cfg.auth = ClientAuth::Certificate {
        pem: SecretString::new(pem),
    };
    let c = GraphClient::new(cfg).unwrap();
    c.exchange_settings("u").await.unwrap();
    let form = m.token_requests()[0].form();
    assert!(!form.contains_key("client_secret"));
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let jwt = &form["client_assertion"];
    let token_url = format!("{}/tenant-1/oauth2/v2.0/token", m.base());

    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    // x5t = base64url(SHA-1(cert DER)); the oracle is openssl's fingerprint.
    let fp = include_str!("fixtures/cert-sha1.hex").trim();
    let fp_bytes: Vec<u8> = (0..fp.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&fp[i..i + 2], 16).unwrap())
        .collect();
    let want = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fp_bytes);
    assert_eq!(header.x5t.as_deref(), Some(want.as_str()));

    let key =
        jsonwebtoken::DecodingKey::from_rsa_pem(include_bytes!("fixtures/public-key.pem")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[token_url.as_str()]);
    v.set_issuer(&["client-1"]);
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    v.validate_nbf = true;
    let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v).unwrap();
    let claims = data.claims;
    assert_eq!(claims["sub"], "client-1");
    assert!(claims["jti"].as_str().is_some_and(|s| s.len() >= 16));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (nbf, exp) = (
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(
        nbf <= now + 1 && exp > now && exp - nbf <= 600,
        "nbf {nbf} exp {exp}"
    );
    // Each token request gets a fresh jti.
    assert_eq!(x5t_of_der(b"abc").len(), 27);
}

#[tokio::test]
async fn unauthorized_refreshes_token_once() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let tn = Arc::new(AtomicUsize::new(0));
    let tn2 = tn.clone();
    let m = Mock::start(move |r: &Recorded| {
        if r.is_token() {
            let k = tn2.fetch_add(1, Ordering::SeqCst);
            return token(&format!("tok-{k}"), 3599);
        }
        if n2.fetch_add(1, Ordering::SeqCst) == 0 {
            json(
                401,
                j!({"error":{"code":"InvalidAuthenticationToken","message":"expired"}}),
            )
        } else {
            settings_ok()
        }
    })
    .await;
    let events = Arc::new(Events::default());
    let c = client(&m).with_observer(events.clone());
    c.exchange_settings("u").await.unwrap();
    assert_eq!(m.token_requests().len(), 2);
    let g = m.graph_requests();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].header("authorization"), Some("Bearer tok-0"));
    assert_eq!(g[1].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(
        events.0.lock().unwrap()[0].reason,
        RetryReason::Unauthorized
    );
}

#[tokio::test]
async fn persistent_unauthorized_fails_after_one_refresh() {
    let m = Mock::start(with_token(|_| {
        json(
            401,
            j!({"error":{"code":"InvalidAuthenticationToken","message":"no"}}),
        )
    }))
    .await;
    let err = client(&m).exchange_settings("u").await.unwrap_err();
    assert!(
        matches!(err, Error::Http { status: 401, ref code, .. } if code == "InvalidAuthenticationToken"),
        "{err:?}"
    );
    assert_eq!(m.graph_requests().len(), 2);
}

#[tokio::test]
async fn token_endpoint_error_is_auth_error_without_secret() {
    let m = Mock::start(|r: &Recorded| {
        if r.is_token() {
            json(
                401,
                j!({"error":"invalid_client","error_description":format!("AADSTS7000215: Invalid client secret provided: {SECRET}")}),
            )
        } else {
            settings_ok()
        }
    })
    .await;
    let err = client(&m).exchange_settings("u").await.unwrap_err();
    assert!(
        matches!(err, Error::Auth { status: 401, ref code, .. } if code == "invalid_client"),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("AADSTS7000215"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(m.token_requests().len(), 1, "auth errors fail fast");
}

// ---------------------------------------------------------------- retries

#[tokio::test]
async fn throttling_honours_fractional_retry_after() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(with_token(move |_| {
        match n2.fetch_add(1, Ordering::SeqCst) {
            0 => with_header(
                json(
                    429,
                    j!({"error":{"code":"TooManyRequests","message":"Please retry again later."}}),
                ),
                "Retry-After",
                "0.35",
            ),
            1 => with_header(status(503), "Retry-After", "0.15"),
            _ => settings_ok(),
        }
    }))
    .await;
    let events = Arc::new(Events::default());
    let c = client(&m).with_observer(events.clone());
    let t0 = Instant::now();
    c.exchange_settings("u").await.unwrap();
    let elapsed = t0.elapsed();
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    let ev = events.0.lock().unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].reason, RetryReason::Throttled);
    assert_eq!(ev[0].wait, Duration::from_millis(350));
    assert_eq!(ev[0].status, Some(429));
    assert_eq!(ev[1].reason, RetryReason::ServiceUnavailable);
    assert_eq!(ev[1].wait, Duration::from_millis(150));
    assert!(ev.iter().all(|e| e.reason.is_throttle()));
}

#[tokio::test]
async fn retry_after_is_capped() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(with_token(move |_| {
        if n2.fetch_add(1, Ordering::SeqCst) == 0 {
            with_header(status(429), "Retry-After", "3600")
        } else {
            settings_ok()
        }
    }))
    .await;
    let events = Arc::new(Events::default());
    let mut cfg = config(&m);
    cfg.retry.max_retry_after = Duration::from_millis(100);
    let c = GraphClient::new(cfg).unwrap().with_observer(events.clone());
    let t0 = Instant::now();
    c.exchange_settings("u").await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(events.0.lock().unwrap()[0].wait, Duration::from_millis(100));
}

#[tokio::test]
async fn throttling_gives_up_after_bound() {
    let m = Mock::start(with_token(|_| with_header(status(429), "Retry-After", "0"))).await;
    let err = client(&m).exchange_settings("u").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Throttled {
                status: 429,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(m.graph_requests().len(), 4); // 1 + max_throttle_retries
}

#[tokio::test]
async fn server_errors_back_off_then_succeed() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(with_token(move |_| {
        match n2.fetch_add(1, Ordering::SeqCst) {
            0 => status(500),
            1 => status(502),
            _ => settings_ok(),
        }
    }))
    .await;
    let events = Arc::new(Events::default());
    client(&m)
        .with_observer(events.clone())
        .exchange_settings("u")
        .await
        .unwrap();
    let ev = events.0.lock().unwrap();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.reason == RetryReason::ServerError));
    assert!(ev.iter().all(|e| e.wait <= Duration::from_millis(20)));
}

#[tokio::test]
async fn server_errors_are_bounded() {
    let m = Mock::start(with_token(|_| status(500))).await;
    let err = client(&m).exchange_settings("u").await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    assert_eq!(m.graph_requests().len(), 4); // 1 + max_retries
}

#[tokio::test]
async fn client_errors_fail_fast_with_code_and_path() {
    let m = Mock::start(with_token(|_| {
        json(404, j!({"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}))
    }))
    .await;
    let err = client(&m).list_items(MBX, "fid").await.unwrap_err();
    match &err {
        Error::Http {
            status,
            code,
            message,
            url_path,
        } => {
            assert_eq!(*status, 404);
            assert_eq!(code, "ErrorItemNotFound");
            assert!(message.contains("not found"));
            assert_eq!(
                url_path,
                "/beta/admin/exchange/mailboxes/MBX:e0643f21@a7809c93/folders/fid/items"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.graph_requests().len(), 1);
}

#[tokio::test]
async fn dropped_connections_and_truncated_bodies_are_retried() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let full = j!({"primaryMailboxId":MBX}).to_string().into_bytes();
    let m = Mock::start(with_token(move |_| {
        match n2.fetch_add(1, Ordering::SeqCst) {
            0 => Action::Drop,
            1 => Action::Truncate {
                status: 200,
                declared: full.len(),
                body: full[..10].to_vec(),
            },
            2 => Action::CloseDelimited {
                status: 200,
                body: full[..12].to_vec(),
            },
            _ => settings_ok(),
        }
    }))
    .await;
    let events = Arc::new(Events::default());
    let s = client(&m)
        .with_observer(events.clone())
        .exchange_settings("u")
        .await
        .unwrap();
    assert_eq!(s.primary_mailbox_id, MBX);
    assert_eq!(m.graph_requests().len(), 4);
    let ev = events.0.lock().unwrap();
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|e| e.reason == RetryReason::Transport));
}

#[tokio::test]
async fn timeouts_are_retried() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(with_token(move |_| {
        if n2.fetch_add(1, Ordering::SeqCst) == 0 {
            Action::Delay(Duration::from_secs(3), Box::new(settings_ok()))
        } else {
            settings_ok()
        }
    }))
    .await;
    let mut cfg = config(&m);
    cfg.request_timeout = Duration::from_millis(300);
    let c = GraphClient::new(cfg).unwrap();
    let t0 = Instant::now();
    c.exchange_settings("u").await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(m.graph_requests().len(), 2);
}

// ---------------------------------------------------------------- redirects

#[tokio::test]
async fn permanent_redirects_are_followed_with_the_token() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let t = r.target.clone();
        if t.contains("MBX:hop0") {
            // relative Location
            with_header(status(308), "Location", &t.replace("MBX:hop0", "MBX:hop1"))
        } else if t.contains("MBX:hop1") {
            // absolute Location
            let host = r.header("host").unwrap().to_owned();
            with_header(
                status(308),
                "Location",
                &format!("http://{host}{}", t.replace("MBX:hop1", "MBX:hop2")),
            )
        } else {
            json(200, j!({"value":[item("i1")]}))
        }
    }))
    .await;
    let items = client(&m).list_items("MBX:hop0", "f1").await.unwrap();
    assert_eq!(items.len(), 1);
    let g = m.graph_requests();
    assert_eq!(g.len(), 3);
    assert!(
        g[0].path().contains("MBX:hop0")
            && g[1].path().contains("MBX:hop1")
            && g[2].path().contains("MBX:hop2")
    );
    for r in &g {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn redirect_chains_are_bounded() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(with_token(move |_| {
        let k = n2.fetch_add(1, Ordering::SeqCst);
        with_header(
            status(308),
            "Location",
            &format!("/beta/admin/exchange/mailboxes/MBX:h{k}/folders"),
        )
    }))
    .await;
    let err = client(&m).list_folders(MBX).await.unwrap_err();
    assert!(
        matches!(err, Error::TooManyRedirects { hops: 5, .. }),
        "{err:?}"
    );
    assert_eq!(m.graph_requests().len(), 6);
}

#[tokio::test]
async fn redirects_off_origin_never_get_the_token() {
    let other = Mock::start(|_| settings_ok()).await;
    let target = format!(
        "{}/beta/admin/exchange/mailboxes/MBX:x/folders?sig=SECRETSIG",
        other.base()
    );
    let m = Mock::start(with_token(move |_| {
        with_header(status(308), "Location", &target)
    }))
    .await;
    let err = client(&m).list_folders(MBX).await.unwrap_err();
    assert!(matches!(err, Error::UntrustedUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("SECRETSIG"));
    assert_eq!(other.requests().len(), 0);
}

// ---------------------------------------------------------------- folders, items, paging, delta

#[tokio::test]
async fn folder_tree_is_walked_and_deduplicated() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let p = r.path();
        if p.ends_with("/folders") {
            // Top level already includes a descendant (c1), as CIPP observed.
            json(
                200,
                j!({"value":[folder("a", "root", "Inbox", 2), folder("c1", "a", "Child1", 0)]}),
            )
        } else if p.ends_with("/folders/a/childFolders") {
            json(
                200,
                j!({"value":[folder("c1", "a", "Child1", 0), folder("c2", "a", "Child2", 1)]}),
            )
        } else if p.ends_with("/folders/c2/childFolders") {
            json(200, j!({"value":[folder("g1", "c2", "Grandchild", 0)]}))
        } else {
            status(404)
        }
    }))
    .await;
    let fs = client(&m).list_folders(MBX).await.unwrap();
    let ids: Vec<_> = fs.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["a", "c1", "c2", "g1"]);
    assert_eq!(fs[3].parent_folder_id.as_deref(), Some("c2"));
    // Folders without (unknown) children are not asked for them.
    let asked: Vec<String> = m
        .graph_requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
}

#[tokio::test]
async fn list_items_follows_next_links_and_escapes_ids() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let host = r.header("host").unwrap().to_owned();
        if r.query().contains("skip=2") {
            json(200, j!({"value":[item("i3")]}))
        } else {
            json(
                200,
                j!({"value":[item("i1"), item("i2")],
                "@odata.nextLink": format!("http://{host}{}?%24top=2&%24skip=2", r.path())}),
            )
        }
    }))
    .await;
    let items = client(&m).list_items(MBX, "AAMk+a/b==").await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i1", "i2", "i3"]
    );
    assert_eq!(items[0].change_key, "ck-i1");
    assert_eq!(items[0].size, 71133);
    assert_eq!(items[0].item_type, "IPM.Note");
    let g = m.graph_requests();
    assert_eq!(
        g[0].path(),
        "/beta/admin/exchange/mailboxes/MBX:e0643f21@a7809c93/folders/AAMk%2Ba%2Fb==/items"
    );
}

#[tokio::test]
async fn items_delta_collects_pages_removed_and_delta_link() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let host = r.header("host").unwrap().to_owned();
        let base = format!("http://{host}/beta/admin/exchange/mailboxes/{MBX}/folders/f1/items/delta");
        if r.query().contains("skiptoken=p2") {
            json(200, j!({"value":[item("i3"), {"id":"gone2","@removed":{"reason":"changed"}}],
                "@odata.deltaLink": format!("{base}?$deltatoken=D1")}))
        } else if r.query().contains("deltatoken=D1") {
            json(200, j!({"value":[{"id":"i1","@removed":{"reason":"deleted"}}],
                "@odata.deltaLink": format!("{base}?$deltatoken=D2")}))
        } else {
            json(200, j!({"value":[item("i1"), {"id":"gone1","@removed":{"reason":"deleted"}}, item("i2")],
                "@odata.nextLink": format!("{base}?$skiptoken=p2")}))
        }
    }))
    .await;
    let c = client(&m);
    let d = c.items_delta(MBX, "f1", None).await.unwrap();
    assert_eq!(
        d.changed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i1", "i2", "i3"]
    );
    assert_eq!(d.removed, ["gone1", "gone2"]);
    assert!(d.delta_link.ends_with("$deltatoken=D1"));
    let g = m.graph_requests();
    assert!(g[0]
        .header("prefer")
        .is_some_and(|p| p.starts_with("odata.maxpagesize=")));
    let d2 = c.items_delta(MBX, "f1", Some(&d.delta_link)).await.unwrap();
    assert!(d2.changed.is_empty());
    assert_eq!(d2.removed, ["i1"]);
    assert!(d2.delta_link.ends_with("D2"));

    // Page by page: the delta link only on the last page.
    let mut pager = c.items_delta_pages(MBX, "f1", None).unwrap();
    let p1 = pager.next_page().await.unwrap().unwrap();
    assert_eq!(
        (p1.items.len(), p1.removed.len(), p1.delta_link.is_none()),
        (2, 1, true)
    );
    let p2 = pager.next_page().await.unwrap().unwrap();
    assert!(p2.delta_link.is_some());
    assert!(pager.next_page().await.unwrap().is_none());
}

#[tokio::test]
async fn folders_delta_stream_works() {
    use futures::TryStreamExt;
    let m = Mock::start(with_token(|r: &Recorded| {
        let host = r.header("host").unwrap().to_owned();
        json(200, j!({"value":[{"@odata.type":"#microsoft.graph.mailboxFolder","displayName":"Inbound","id":"AAMk=","parentMailboxUrl":"x"}],
            "@odata.deltaLink": format!("http://{host}/beta/admin/exchange/mailboxes/{MBX}/folders/delta?$deltatoken=T")}))
    }))
    .await;
    let pages: Vec<_> = client(&m)
        .folders_delta_pages(MBX, None)
        .unwrap()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].items[0].display_name, "Inbound");
    assert_eq!(
        m.graph_requests()[0].path(),
        format!("/beta/admin/exchange/mailboxes/{MBX}/folders/delta")
    );
}

#[tokio::test]
async fn expired_delta_links_are_reported() {
    let m = Mock::start(with_token(|r: &Recorded| {
        if r.query().contains("gone") {
            json(410, j!({"error":{"code":"resyncRequired","message":"resync"}}))
        } else {
            json(400, j!({"error":{"code":"SyncStateNotFound","message":"The sync state could not be found"}}))
        }
    }))
    .await;
    let c = client(&m);
    let base = format!(
        "{}/admin/exchange/mailboxes/{MBX}/folders/delta",
        m.graph_url()
    );
    let e1 = c
        .folders_delta(MBX, Some(&format!("{base}?$deltatoken=gone")))
        .await
        .unwrap_err();
    assert!(e1.is_delta_expired(), "{e1:?}");
    assert!(
        !format!("{e1}").contains("deltatoken"),
        "query stripped: {e1}"
    );
    let e2 = c
        .items_delta(MBX, "f", Some(&format!("{base}?$deltatoken=x")))
        .await
        .unwrap_err();
    assert!(e2.is_delta_expired(), "{e2:?}");
    // A delta link elsewhere is refused outright.
    let e3 = c
        .items_delta(MBX, "f", Some("https://evil.example/beta/x?$deltatoken=1"))
        .await
        .unwrap_err();
    assert!(matches!(e3, Error::UntrustedUrl { .. }));
}

#[tokio::test]
async fn search_keys_are_listed_with_expand() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let host = r.header("host").unwrap().to_owned();
        if r.query().contains("skip") {
            json(200, j!({"value":[{"id":"i3","singleValueExtendedProperties":[{"id":"Binary 0x300B","value":B64.encode([3u8;16])}]}]}))
        } else {
            json(200, j!({"value":[
                {"id":"i1","singleValueExtendedProperties":[{"id":"Binary 0x300B","value":B64.encode([1u8;16])}]},
                {"id":"i2"}],
                "@odata.nextLink": format!("http://{host}{}?%24skip=2", r.path())}))
        }
    }))
    .await;
    let keys = client(&m).item_search_keys(MBX, "f1").await.unwrap();
    assert_eq!(
        keys,
        vec![
            ("i1".to_owned(), vec![1u8; 16]),
            ("i3".to_owned(), vec![3u8; 16])
        ]
    );
    let q = m.graph_requests()[0].query().to_owned();
    let decoded = percent_encoding::percent_decode_str(&q)
        .decode_utf8_lossy()
        .into_owned();
    assert!(
        decoded.contains("$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')"),
        "{decoded}"
    );
}

#[tokio::test]
async fn folder_writes() {
    let m = Mock::start(with_token(|r: &Recorded| match r.method.as_str() {
        "POST" => json(
            201,
            folder(
                "new",
                "p",
                r.json()["displayName"].as_str().unwrap_or(""),
                0,
            ),
        ),
        "PATCH" => json(
            200,
            folder("f", "p", r.json()["displayName"].as_str().unwrap_or(""), 0),
        ),
        "DELETE" if r.path().contains("gone") => status(404),
        "DELETE" => status(204),
        _ => status(405),
    }))
    .await;
    let c = client(&m);
    let f = c
        .create_folder(MBX, Some("p"), "Projects", "IPF.Note")
        .await
        .unwrap();
    assert_eq!(
        (f.id.as_str(), f.display_name.as_str()),
        ("new", "Projects")
    );
    let top = c.create_folder(MBX, None, "Top", "IPF.Note").await.unwrap();
    assert_eq!(top.display_name, "Top");
    assert_eq!(
        c.rename_folder(MBX, "f", "Renamed")
            .await
            .unwrap()
            .display_name,
        "Renamed"
    );
    c.delete_folder(MBX, "f").await.unwrap();
    c.delete_folder(MBX, "gone").await.unwrap();
    c.delete_item(MBX, "inbox", "i1", DisposalType::SoftDelete)
        .await
        .unwrap();
    c.delete_item(MBX, "inbox", "i1", DisposalType::HardDelete)
        .await
        .unwrap();
    let g = m.graph_requests();
    assert_eq!(
        g[0].path(),
        format!("/beta/admin/exchange/mailboxes/{MBX}/folders/p/childFolders")
    );
    assert_eq!(
        g[0].json(),
        j!({"displayName":"Projects","type":"IPF.Note"})
    );
    assert_eq!(g[0].header("content-type"), Some("application/json"));
    assert_eq!(
        g[1].path(),
        format!("/beta/admin/exchange/mailboxes/{MBX}/folders")
    );
    assert_eq!(g[2].method, "PATCH");
    assert_eq!(g[2].json(), j!({"displayName":"Renamed"}));
    assert_eq!(
        g[5].target,
        format!(
            "/beta/admin/exchange/mailboxes/{MBX}/folders/inbox/items/i1?disposalType=softDelete"
        )
    );
    assert!(g[6].target.ends_with("?disposalType=hardDelete"));
}

// ---------------------------------------------------------------- export

fn export_ok(id: &str, data: &[u8]) -> serde_json::Value {
    j!({"itemId":id,"changeKey":format!("ck-{id}"),"data":B64.encode(data)})
}

#[tokio::test]
async fn export_matches_by_id_retries_missing_and_reports_errors() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let ids: Vec<String> = r.json()["itemIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        if ids.len() > 1 {
            // Reversed order, one per-item error, "c" silently missing, an unrequested extra.
            json(200, j!({"value":[
                export_ok("x-unrequested", b"zzz"),
                {"itemId":"d","error":{"code":"ErrorItemNotFound","message":"The item was not found."}},
                export_ok("b", b"bee"),
                export_ok("a", b"ay"),
            ]}))
        } else {
            json(200, j!({"value":[export_ok(&ids[0], format!("alone-{}", ids[0]).as_bytes())]}))
        }
    }))
    .await;
    let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let res = client(&m).export_items(MBX, &ids).await.unwrap();
    assert_eq!(
        res.iter().map(|r| r.item_id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        res[0].outcome,
        ExportOutcome::Data {
            change_key: "ck-a".into(),
            data: b"ay".to_vec()
        }
    );
    assert_eq!(
        res[1].outcome,
        ExportOutcome::Data {
            change_key: "ck-b".into(),
            data: b"bee".to_vec()
        }
    );
    assert_eq!(
        res[2].outcome,
        ExportOutcome::Data {
            change_key: "ck-c".into(),
            data: b"alone-c".to_vec()
        }
    );
    assert_eq!(
        res[3].outcome,
        ExportOutcome::Failed {
            code: "ErrorItemNotFound".into(),
            message: "The item was not found.".into()
        }
    );
    let g = m.graph_requests();
    assert_eq!(g.len(), 2);
    assert_eq!(
        g[0].path(),
        format!("/beta/admin/exchange/mailboxes/{MBX}/exportItems")
    );
    assert_eq!(g[0].json(), j!({"itemIds":["a","b","c","d"]}));
    assert_eq!(g[1].json(), j!({"itemIds":["c"]}));
}

#[tokio::test]
async fn export_reports_items_missing_even_alone() {
    let m = Mock::start(with_token(|_| json(200, j!({"value":[]})))).await;
    let res = client(&m)
        .export_items(MBX, &["a".into(), "b".into()])
        .await
        .unwrap();
    for r in &res {
        assert!(
            matches!(&r.outcome, ExportOutcome::Failed { code, .. } if code == NOT_RETURNED),
            "{r:?}"
        );
    }
    assert_eq!(m.graph_requests().len(), 3); // the batch, then a and b alone
}

#[tokio::test]
async fn export_batches_at_most_twenty() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let v: Vec<_> = r.json()["itemIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| export_ok(id.as_str().unwrap(), b"d"))
            .collect();
        json(200, j!({"value": v}))
    }))
    .await;
    let ids: Vec<String> = (0..45).map(|i| format!("id{i}")).collect();
    let mut with_dup = ids.clone();
    with_dup.push("id3".into());
    let res = client(&m).export_items(MBX, &with_dup).await.unwrap();
    assert_eq!(res.len(), 46);
    assert!(res
        .iter()
        .all(|r| matches!(r.outcome, ExportOutcome::Data { .. })));
    assert_eq!(res[45].item_id, "id3");
    let sizes: Vec<usize> = m
        .graph_requests()
        .iter()
        .map(|r| r.json()["itemIds"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [20, 20, 5]);
}

#[tokio::test]
async fn export_follows_archive_moves() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let host = r.header("host").unwrap().to_owned();
        let ids: Vec<String> = r.json()["itemIds"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        if r.path().contains("MBX:aux") {
            let v: Vec<_> = ids.iter().map(|id| export_ok(id, format!("aux-{id}").as_bytes())).collect();
            json(200, j!({"value": v}))
        } else {
            let moved = format!("http://{host}/beta/admin/exchange/mailboxes/MBX:aux@t/exportItems");
            json(200, j!({"value":[
                {"itemId":"a","changeKey":"k","data":B64.encode(b"main-a")},
                {"itemId":"m1","Error":{"message":moved.clone(),"code":"ErrorArchiveFolderMovedPermanently"}},
                {"ItemId":"m2","ERROR":{"Message":moved,"Code":"errorarchivefoldermovedpermanently"}},
            ]}))
        }
    }))
    .await;
    let res = client(&m)
        .export_items(MBX, &["a".into(), "m1".into(), "m2".into()])
        .await
        .unwrap();
    assert_eq!(
        res[0].outcome,
        ExportOutcome::Data {
            change_key: "k".into(),
            data: b"main-a".to_vec()
        }
    );
    assert!(matches!(&res[1].outcome, ExportOutcome::Data { data, .. } if data == b"aux-m1"));
    assert!(matches!(&res[2].outcome, ExportOutcome::Data { data, .. } if data == b"aux-m2"));
    let g = m.graph_requests();
    assert_eq!(g.len(), 2);
    assert_eq!(
        g[1].path(),
        "/beta/admin/exchange/mailboxes/MBX:aux@t/exportItems"
    );
    assert_eq!(g[1].json(), j!({"itemIds":["m1","m2"]}));
    assert!(g[1].header("authorization").is_some());
}

#[tokio::test]
async fn export_batch_failure_falls_back_to_single_items() {
    let m = Mock::start(with_token(|r: &Recorded| {
        let ids: Vec<String> = r.json()["itemIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        if ids.contains(&"bad".to_owned()) {
            json(
                400,
                j!({"error":{"code":"ErrorInvalidIdMalformed","message":"Id is malformed."}}),
            )
        } else {
            json(200, j!({"value":[export_ok(&ids[0], b"ok")]}))
        }
    }))
    .await;
    let res = client(&m)
        .export_items(MBX, &["good".into(), "bad".into()])
        .await
        .unwrap();
    assert!(matches!(res[0].outcome, ExportOutcome::Data { .. }));
    assert!(
        matches!(&res[1].outcome, ExportOutcome::Failed { code, .. } if code == "ErrorInvalidIdMalformed")
    );
}

#[tokio::test]
async fn export_invalid_base64_is_a_per_item_failure() {
    let m = Mock::start(with_token(|_| {
        json(200, j!({"value":[{"itemId":"a","changeKey":"k","data":"!!not base64!!"}, export_ok("b", b"fine")]}))
    }))
    .await;
    let res = client(&m)
        .export_items(MBX, &["a".into(), "b".into()])
        .await
        .unwrap();
    assert!(matches!(&res[0].outcome, ExportOutcome::Failed { code, .. } if code == INVALID_DATA));
    assert!(matches!(res[1].outcome, ExportOutcome::Data { .. }));
}

// ---------------------------------------------------------------- import

const IMPORT_SECRET: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjFTeXQ1b-IMPORT-TOKEN";

fn session_handler(
    import: impl Fn(&Recorded) -> Action + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Action + Send + Sync + 'static {
    with_token(move |r: &Recorded| {
        if r.path().ends_with("/createImportSession") {
            let host = r.header("host").unwrap().to_owned();
            json(
                201,
                j!({
                "@odata.context":"x",
                "importUrl": format!("http://{host}/api/gbeta/Mailboxes('{MBX}')/importItem?authtoken={IMPORT_SECRET}"),
                "expirationDateTime":"2099-10-17T19:00:48.1052906Z"}),
            )
        } else if r.path().ends_with("/importItem") {
            import(r)
        } else {
            status(404)
        }
    })
}

#[tokio::test]
async fn import_posts_pascal_case_without_authorization() {
    let m = Mock::start(session_handler(|_| {
        json(
            200,
            j!({"@odata.context":"x","itemId":"new-1","changeKey":"kNny=="}),
        )
    }))
    .await;
    let c = client(&m);
    let s = c.create_import_session(MBX).await.unwrap();
    assert_eq!(s.mailbox_id(), MBX);
    assert_eq!(
        s.expires_at().to_rfc3339(),
        "2099-10-17T19:00:48.105290600+00:00"
    );
    assert!(!format!("{s:?}").contains(IMPORT_SECRET));
    let data = vec![7u8; 100_001];
    let got = c.import_item(&s, "folder-1", &data).await.unwrap();
    assert_eq!(
        got,
        ImportedItem {
            item_id: "new-1".into(),
            change_key: "kNny==".into()
        }
    );
    let g = m.graph_requests();
    assert_eq!(g[0].method, "POST");
    assert!(g[0].header("authorization").is_some());
    let imp = &g[1];
    assert_eq!(imp.header("authorization"), None);
    assert!(imp.query().contains(IMPORT_SECRET));
    assert_eq!(imp.header("content-type"), Some("application/json"));
    let body = imp.json();
    assert_eq!(body["FolderId"], "folder-1");
    assert_eq!(body["Mode"], "create");
    assert_eq!(B64.decode(body["Data"].as_str().unwrap()).unwrap(), data);
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn import_errors_map_to_session_actions() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(session_handler(move |_| match n2.fetch_add(1, Ordering::SeqCst) {
        0 => json(409, j!({"Message":"Invalid import session. The target session is expected in mailbox MBX:f10964a6-4fd0-4f74-8@4d2e-9e48-109351d094ab."})),
        1 => json(401, j!({"error":{"code":"InvalidToken","message":format!("token {IMPORT_SECRET} expired")}})),
        2 => status(403),
        _ => json(400, j!({"error":{"code":"ErrorInvalidRequest","message":format!("bad request to http://x/importItem?authtoken={IMPORT_SECRET}")}})),
    }))
    .await;
    let c = client(&m);
    let s = c.create_import_session(MBX).await.unwrap();
    let e = c.import_item(&s, "f", b"x").await.unwrap_err();
    assert!(
        matches!(&e, Error::ImportWrongMailbox { mailbox_id } if mailbox_id == "MBX:f10964a6-4fd0-4f74-8@4d2e-9e48-109351d094ab"),
        "{e:?}"
    );
    assert!(e.needs_new_import_session());
    let e = c.import_item(&s, "f", b"x").await.unwrap_err();
    assert!(
        matches!(e, Error::ImportSessionExpired { status: 401 }),
        "{e:?}"
    );
    let e = c.import_item(&s, "f", b"x").await.unwrap_err();
    assert!(
        matches!(e, Error::ImportSessionExpired { status: 403 }),
        "{e:?}"
    );
    let e = c.import_item(&s, "f", b"x").await.unwrap_err();
    assert!(matches!(e, Error::Http { status: 400, .. }), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(IMPORT_SECRET), "{shown}");
    // 4 import attempts, no retries of any of them.
    assert_eq!(
        m.graph_requests()
            .iter()
            .filter(|r| r.path().ends_with("/importItem"))
            .count(),
        4
    );
}

#[tokio::test]
async fn import_honours_429_but_never_resends_after_a_drop() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let m = Mock::start(session_handler(move |_| match n2.fetch_add(1, Ordering::SeqCst) {
        0 => with_header(
            json(429, j!({"error":{"code":"ApplicationThrottled","message":"Application is over its IncomingBytes limit."}})),
            "Retry-After",
            "0.2",
        ),
        1 => json(200, j!({"itemId":"new","changeKey":"k"})),
        _ => Action::Drop,
    }))
    .await;
    let events = Arc::new(Events::default());
    let c = client(&m).with_observer(events.clone());
    let s = c.create_import_session(MBX).await.unwrap();
    let t0 = Instant::now();
    assert_eq!(c.import_item(&s, "f", b"x").await.unwrap().item_id, "new");
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let ev = events.0.lock().unwrap().clone();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].mailbox.as_deref(), Some(MBX));
    let e = c.import_item(&s, "f", b"x").await.unwrap_err();
    assert!(matches!(e, Error::Transport { attempts: 1, .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(IMPORT_SECRET));
    assert_eq!(
        m.graph_requests()
            .iter()
            .filter(|r| r.path().ends_with("/importItem"))
            .count(),
        3
    );
}

// ---------------------------------------------------------------- limiter

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limiter_caps_in_flight_per_mailbox_across_clones() {
    let m = Mock::start(with_token(|r: &Recorded| {
        Action::Delay(
            Duration::from_millis(60),
            Box::new(if r.path().ends_with("/exportItems") {
                json(200, j!({"value":[export_ok("a", b"x")]}))
            } else if r.path().ends_with("/importItem") {
                json(200, j!({"itemId":"n","changeKey":"k"}))
            } else if r.path().ends_with("/createImportSession") {
                let host = r.header("host").unwrap().to_owned();
                json(200, j!({"importUrl": format!("http://{host}/api/gbeta/mailboxes/MBX:one@t/importItem?authtoken=t"),
                    "expirationDateTime":"2099-01-01T00:00:00Z"}))
            } else {
                json(200, j!({"value":[item("i")]}))
            }),
        )
    }))
    .await;
    let c = client(&m);
    let session = c.create_import_session("MBX:one@t").await.unwrap();
    let mut tasks = Vec::new();
    for k in 0..24 {
        let c = c.clone();
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            match k % 4 {
                0 => {
                    c.list_items("MBX:one@t", "f").await.unwrap();
                }
                1 => {
                    c.export_items("MBX:one@t", &["a".into()]).await.unwrap();
                }
                2 => {
                    c.import_item(&session, "f", b"d").await.unwrap();
                }
                _ => {
                    c.list_items("MBX:two@t", "f").await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The import URL's path names MBX:one@t, so the mock counts uploads with the Graph calls for
    // that mailbox: 18 requests of 60 ms would overlap far beyond 4 if imports had their own limit.
    let one = m.peak("MBX:one@t");
    let two = m.peak("MBX:two@t");
    assert_eq!(one, 4, "peak for MBX:one (lists + exports + imports)");
    assert_eq!(
        two, 4,
        "six requests for MBX:two reach the cap of 4 independently"
    );
}

#[tokio::test]
async fn limiter_is_configurable() {
    let m = Mock::start(with_token(|_| {
        Action::Delay(
            Duration::from_millis(50),
            Box::new(json(200, j!({"value":[]}))),
        )
    }))
    .await;
    let mut cfg = config(&m);
    cfg.max_in_flight_per_mailbox = 1;
    let c = GraphClient::new(cfg).unwrap();
    let futs: Vec<_> = (0..5).map(|_| c.list_items(MBX, "f")).collect();
    futures::future::try_join_all(futs).await.unwrap();
    assert_eq!(m.peak(MBX), 1);
}

// ---------------------------------------------------------------- secrets

#[tokio::test]
async fn no_error_or_debug_output_contains_a_secret() {
    let leaky = format!(
        "see https://x.example/y?authtoken={IMPORT_SECRET} and Bearer {TOKEN} and {SECRET}"
    );
    let leaky2 = leaky.clone();
    let m = Mock::start(move |r: &Recorded| {
        if r.is_token() {
            return token(TOKEN, 3599);
        }
        let p = r.path();
        let err_body = j!({"error":{"code":"Bad","message":leaky2.clone()}});
        if p.contains("http400") {
            json(400, err_body)
        } else if p.contains("throttle") {
            with_header(json(429, err_body), "Retry-After", "0")
        } else if p.contains("delta") {
            json(410, err_body)
        } else if p.contains("redirect") {
            with_header(
                status(308),
                "Location",
                &format!("https://evil.example/x?authtoken={IMPORT_SECRET}"),
            )
        } else if p.contains("loop") {
            with_header(
                status(308),
                "Location",
                &format!("{p}?authtoken={IMPORT_SECRET}"),
            )
        } else if p.contains("decode") {
            json(200, j!({"nothing": leaky2.clone()}))
        } else if p.ends_with("/importItem") {
            json(409, j!({"Message": leaky2.clone()}))
        } else {
            Action::Drop
        }
    })
    .await;
    let c = client(&m);
    let graph = m.graph_url();
    let mut errors: Vec<Error> = Vec::new();
    errors.push(c.list_items("MBX:http400", "f").await.unwrap_err());
    errors.push(c.list_items("MBX:throttle", "f").await.unwrap_err());
    errors.push(
        c.items_delta(
            MBX,
            "f",
            Some(&format!("{graph}/delta?$deltatoken={IMPORT_SECRET}")),
        )
        .await
        .unwrap_err(),
    );
    errors.push(c.list_items("MBX:redirect", "f").await.unwrap_err());
    errors.push(c.list_items("MBX:loop", "f").await.unwrap_err());
    errors.push(c.exchange_settings("decode").await.unwrap_err());
    errors.push(c.list_items("MBX:drop", "f").await.unwrap_err());
    errors.push(
        c.items_delta(
            MBX,
            "f",
            Some(&format!(
                "https://evil.example/d?$deltatoken={IMPORT_SECRET}"
            )),
        )
        .await
        .unwrap_err(),
    );
    let m3 = Mock::start(move |r: &Recorded| {
        if r.is_token() {
            token(TOKEN, 3599)
        } else if r.path().ends_with("/createImportSession") {
            let host = r.header("host").unwrap().to_owned();
            json(200, j!({"importUrl": format!("http://{host}/api/gbeta/Mailboxes('m')/importItem?authtoken={IMPORT_SECRET}"), "expirationDateTime":"2099-01-01T00:00:00Z"}))
        } else if r.json()["FolderId"] == "drop" {
            Action::Drop
        } else if r.json()["FolderId"] == "moved" {
            json(409, j!({"Message": format!("at http://x/importItem?authtoken={IMPORT_SECRET} expected in mailbox MBX:x@y.")}))
        } else {
            json(409, j!({"Message": format!("conflict at http://x/importItem?authtoken={IMPORT_SECRET}")}))
        }
    })
    .await;
    let c3 = client(&m3);
    let s3 = c3.create_import_session("m").await.unwrap();
    errors.push(c3.import_item(&s3, "f", b"x").await.unwrap_err());
    errors.push(c3.import_item(&s3, "drop", b"x").await.unwrap_err());
    errors.push(c3.import_item(&s3, "moved", b"x").await.unwrap_err());
    // The token endpoint echoing the secret.
    let m4 = Mock::start(|_: &Recorded| {
        json(400, j!({"error":"invalid_client","error_description":format!("bad secret {SECRET} token {TOKEN}")}))
    })
    .await;
    errors.push(client(&m4).exchange_settings("u").await.unwrap_err());
    // Credentials: a PEM with a bogus key whose bytes must not be echoed.
    let bad_pem = format!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", B64.encode(SECRET));
    let mut cfg = config(&m);
    cfg.auth = ClientAuth::Certificate {
        pem: SecretString::new(bad_pem.clone()),
    };
    errors.push(GraphClient::new(cfg.clone()).unwrap_err());
    // Config errors.
    let mut bad = config(&m);
    bad.graph_url = format!("nota url {SECRET}");
    errors.push(GraphClient::new(bad).unwrap_err());

    let kinds: Vec<String> = errors
        .iter()
        .map(|e| {
            format!("{e:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for want in [
        "Http",
        "Throttled",
        "DeltaExpired",
        "UntrustedUrl",
        "TooManyRedirects",
        "Decode",
        "Transport",
        "ImportWrongMailbox",
        "Auth",
        "Credentials",
        "Config",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} in {kinds:?}");
    }
    let secrets = [SECRET, TOKEN, IMPORT_SECRET, &B64.encode(SECRET)];
    for e in &errors {
        let shown = format!("{e} | {e:?}");
        for s in secrets {
            assert!(!shown.contains(s), "secret leaked in {shown}");
        }
    }
    // Variants built from secret-bearing strings by the library's own scrubbing.
    for e in [
        Error::ImportWrongMailbox {
            mailbox_id: "MBX:a@b".into(),
        },
        Error::ImportSessionExpired { status: 401 },
    ] {
        assert!(!format!("{e} {e:?}").contains(IMPORT_SECRET));
    }
    // Debug of configuration, credentials, sessions and the client.
    let dbg = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        config(&m),
        cfg,
        s3,
        c3,
        ClientAuth::Secret(SecretString::new(SECRET))
    );
    for s in secrets {
        assert!(!dbg.contains(s), "secret in Debug: {dbg}");
    }
    assert!(!dbg.contains("PRIVATE KEY"), "{dbg}");
    let _ = leaky;
}

#[test]
fn config_validation() {
    let base = GraphConfig::new(
        "http://127.0.0.1:1/beta",
        "http://127.0.0.1:1",
        "t",
        "c",
        ClientAuth::Secret("s".into()),
    );
    let mut zero = base.clone();
    zero.max_in_flight_per_mailbox = 0;
    assert!(matches!(
        GraphClient::new(zero).unwrap_err(),
        Error::Config { .. }
    ));
    let mut empty = base.clone();
    empty.client_id = String::new();
    assert!(matches!(
        GraphClient::new(empty).unwrap_err(),
        Error::Config { .. }
    ));
    let mut ftp = base.clone();
    ftp.login_url = "ftp://x".into();
    assert!(matches!(
        GraphClient::new(ftp).unwrap_err(),
        Error::Config { .. }
    ));
    let empty_secret = GraphConfig {
        auth: ClientAuth::Secret("".into()),
        ..base.clone()
    };
    assert!(matches!(
        GraphClient::new(empty_secret).unwrap_err(),
        Error::Credentials { .. }
    ));
    assert!(GraphClient::new(base).is_ok());
}
