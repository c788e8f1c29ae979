//! The client core: construction, token cache, and the one request loop (retries, 308, limiter).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::auth::{
    parse_token_response, refresh_margin, token_request_body, CachedToken, Credential,
};
use crate::config::{GraphConfig, RetryPolicy};
use crate::error::{Error, Result};
use crate::json::error_code_message;
use crate::limiter::{mailbox_of_url, Limiter};
use crate::observer::{NoopObserver, Observer, RetryEvent, RetryReason};
use crate::retry::{backoff_delay, throttle_delay};
use crate::secret::{redact_url, scrub, url_path, SecretString};

/// Redirect hops followed before giving up.
pub(crate) const MAX_REDIRECT_HOPS: u32 = 5;
/// Bound on ordinary JSON responses (folder/item pages, settings, sessions).
pub(crate) const MAX_JSON_RESPONSE: u64 = 64 << 20;
/// Bound on error bodies kept for their code and message.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Bound on token responses.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;

/// Typed async Graph client. Cheap to clone; clones share the token cache and per-mailbox limiters.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<Inner>,
    pub(crate) observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_url", &self.inner.graph_url.as_str())
            .field("tenant_id", &self.inner.tenant_id)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) graph_url: Url,
    pub(crate) token_url: Url,
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) cred: Credential,
    pub(crate) token: tokio::sync::Mutex<Option<CachedToken>>,
    pub(crate) token_generation: AtomicU64,
    pub(crate) limiter: Limiter,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
}

/// Who a request goes to; decides auth and error mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Graph: bearer token, origin-checked redirects, Graph error envelope.
    Graph,
    /// The token endpoint: no bearer, errors become `Error::Auth`.
    Token,
    /// A pre-authenticated import URL: no bearer, 401/403/409 have special meaning.
    Import,
}

/// One logical request (retried as a unit).
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<(Bytes, &'static str)>,
    pub(crate) target: Target,
    /// Explicit limiter key; Graph requests derive it from the URL's `mailboxes/{id}` segment.
    pub(crate) limiter_key: Option<String>,
    /// Safe to re-send after a failure whose effect is unknown (timeout, dropped connection, 5xx).
    pub(crate) idempotent: bool,
    pub(crate) max_body: u64,
    pub(crate) prefer: Option<String>,
    /// Parse the success body as JSON inside the retry loop (a truncated body is then retried).
    pub(crate) expect_json: bool,
}

impl Req {
    pub(crate) fn graph(method: Method, url: Url) -> Self {
        let idempotent = method == Method::GET || method == Method::DELETE;
        Req {
            method,
            url,
            body: None,
            target: Target::Graph,
            limiter_key: None,
            idempotent,
            max_body: MAX_JSON_RESPONSE,
            prefer: None,
            expect_json: true,
        }
    }

    pub(crate) fn json_body(mut self, v: &Value) -> Self {
        self.body = Some((Bytes::from(v.to_string()), "application/json"));
        self
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) json: Value,
    pub(crate) raw: Bytes,
    /// Path of the URL that finally answered (after redirects).
    pub(crate) url: Url,
}

enum Attempt {
    Done(Resp),
    Redirect(String),
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Bytes,
    },
    Transport {
        message: String,
        /// The request certainly never reached the server.
        not_sent: bool,
    },
    Truncated(String),
    Fatal(Error),
}

impl GraphClient {
    /// Builds a client. Parses URLs and the certificate up front so a bad configuration fails here.
    pub fn new(cfg: GraphConfig) -> Result<Self> {
        let graph_url = parse_base(&cfg.graph_url, "graph_url")?;
        let login_url = parse_base(&cfg.login_url, "login_url")?;
        if cfg.tenant_id.trim().is_empty() || cfg.client_id.trim().is_empty() {
            return Err(Error::Config {
                message: "tenant id and client id are required".into(),
            });
        }
        if cfg.max_in_flight_per_mailbox == 0 {
            return Err(Error::Config {
                message: "max_in_flight_per_mailbox must be at least 1".into(),
            });
        }
        let token_url = Url::parse(&format!(
            "{}/{}/oauth2/v2.0/token",
            login_url.as_str().trim_end_matches('/'),
            crate::api::seg(&cfg.tenant_id)
        ))
        .map_err(|e| Error::Config {
            message: format!("token endpoint URL: {e}"),
        })?;
        let cred = Credential::prepare(&cfg.auth)?;
        let timeout = if cfg.request_timeout.is_zero() {
            Duration::from_secs(20 * 60)
        } else {
            cfg.request_timeout
        };
        let http = reqwest::Client::builder()
            // Redirects are followed by hand so the bearer token is re-sent only to Graph.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30).min(timeout))
            .read_timeout(Duration::from_secs(120).min(timeout))
            .user_agent(concat!("mbxa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config {
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                graph_url,
                token_url,
                tenant_id: cfg.tenant_id,
                client_id: cfg.client_id,
                cred,
                token: tokio::sync::Mutex::new(None),
                token_generation: AtomicU64::new(0),
                limiter: Limiter::new(cfg.max_in_flight_per_mailbox),
                retry: cfg.retry,
                timeout,
            }),
            observer: Arc::new(NoopObserver),
        })
    }

    /// The same client (sharing tokens and limiters) reporting retries to `o`.
    pub fn with_observer(self, o: Arc<dyn Observer>) -> Self {
        GraphClient {
            inner: self.inner,
            observer: o,
        }
    }

    /// The configured Graph base URL.
    pub fn graph_url(&self) -> &str {
        self.inner.graph_url.as_str()
    }

    /// `{graph_url}/{path}`; `path` must already be escaped.
    pub(crate) fn graph(&self, path: &str) -> Result<Url> {
        let s = format!(
            "{}/{}",
            self.inner.graph_url.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Url::parse(&s).map_err(|e| Error::InvalidArgument {
            message: format!("cannot build a Graph URL: {e}"),
        })
    }

    /// Accepts a next/delta/re-export link only if it points at the configured Graph origin.
    pub(crate) fn trusted(&self, link: &str) -> Result<Url> {
        let u = Url::parse(link).map_err(|_| Error::InvalidArgument {
            message: format!("not a URL: {}", redact_url(link)),
        })?;
        if u.origin() != self.inner.graph_url.origin() {
            return Err(Error::UntrustedUrl {
                url: redact_url(link),
            });
        }
        Ok(u)
    }

    /// A valid access token and its cache generation (fetched or refreshed as needed).
    async fn token(&self) -> Result<(SecretString, u64)> {
        let mut guard = self.inner.token.lock().await;
        if let Some(c) = guard.as_ref() {
            if Instant::now() < c.refresh_at {
                return Ok((c.token.clone(), c.generation));
            }
        }
        let body = token_request_body(
            &self.inner.cred,
            &self.inner.client_id,
            self.inner.token_url.as_str(),
        )?;
        let req = Req {
            method: Method::POST,
            url: self.inner.token_url.clone(),
            body: Some((
                Bytes::from(body.expose_secret().to_owned()),
                "application/x-www-form-urlencoded",
            )),
            target: Target::Token,
            limiter_key: None,
            idempotent: true,
            max_body: MAX_TOKEN_RESPONSE,
            prefer: None,
            expect_json: true,
        };
        let resp = self.execute_boxed(req).await?;
        let (token, lifetime) = parse_token_response(&resp.raw).ok_or_else(|| Error::Auth {
            status: resp.status,
            code: "invalid_token_response".into(),
            message: "the token endpoint's answer has no access_token".into(),
        })?;
        let generation = self.inner.token_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let refresh_at = Instant::now() + lifetime.saturating_sub(refresh_margin(lifetime));
        *guard = Some(CachedToken {
            token: token.clone(),
            refresh_at,
            generation,
        });
        Ok((token, generation))
    }

    /// Drops the cached token if it is still the one that got a 401.
    async fn invalidate_token(&self, generation: u64) {
        let mut guard = self.inner.token.lock().await;
        if guard.as_ref().is_some_and(|c| c.generation == generation) {
            *guard = None;
        }
    }

    /// Boxed to break the type cycle execute → token → execute.
    fn execute_boxed(&self, req: Req) -> BoxFuture<'_, Result<Resp>> {
        Box::pin(self.execute(req))
    }

    /// Sends `req` with retries, throttling waits, token refresh and 308 following.
    pub(crate) async fn execute(&self, req: Req) -> Result<Resp> {
        let first_path = url_path(&req.url);
        let policy = self.inner.retry.clone();
        let mut url = req.url.clone();
        let mut hops = 0u32;
        let mut retries = 0u32;
        let mut throttles = 0u32;
        let mut attempts = 0u32;
        let mut refreshed = false;
        loop {
            attempts += 1;
            let token = match req.target {
                Target::Graph => Some(self.token().await?),
                _ => None,
            };
            let key = match req.target {
                Target::Graph => req.limiter_key.clone().or_else(|| mailbox_of_url(&url)),
                _ => req.limiter_key.clone(),
            };
            let permit = match &key {
                Some(k) => Some(self.inner.limiter.acquire(k).await),
                None => None,
            };
            let outcome = self
                .attempt(&req, &url, token.as_ref().map(|t| &t.0), permit)
                .await;
            let secrets = self.secrets(token.as_ref().map(|t| &t.0), &req);
            let path = url_path(&url);
            let (reason, status, wait) = match outcome {
                Attempt::Done(resp) => return Ok(resp),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Redirect(location) => {
                    hops += 1;
                    if hops > MAX_REDIRECT_HOPS {
                        return Err(Error::TooManyRedirects {
                            url_path: first_path,
                            hops: MAX_REDIRECT_HOPS,
                        });
                    }
                    let next = url.join(&location).map_err(|_| Error::Decode {
                        url_path: path.clone(),
                        message: "redirect without a usable Location".into(),
                    })?;
                    if req.target == Target::Graph && next.origin() != self.inner.graph_url.origin()
                    {
                        return Err(Error::UntrustedUrl {
                            url: redact_url(next.as_str()),
                        });
                    }
                    url = next;
                    attempts -= 1;
                    continue;
                }
                Attempt::Transport { message, not_sent } => {
                    let message = scrub(&message, &secrets_ref(&secrets));
                    if !(req.idempotent || not_sent) || retries >= policy.max_retries {
                        return Err(Error::Transport {
                            url_path: path,
                            attempts,
                            message,
                        });
                    }
                    retries += 1;
                    (
                        RetryReason::Transport,
                        None,
                        backoff_delay(&policy, retries),
                    )
                }
                Attempt::Truncated(message) => {
                    if !req.idempotent || retries >= policy.max_retries {
                        return Err(Error::Transport {
                            url_path: path,
                            attempts,
                            message: format!("truncated response body: {message}"),
                        });
                    }
                    retries += 1;
                    (
                        RetryReason::Transport,
                        None,
                        backoff_delay(&policy, retries),
                    )
                }
                Attempt::Status {
                    status,
                    retry_after,
                    body,
                } => {
                    let (code, message) = error_code_message(&body);
                    let message = scrub(&message, &secrets_ref(&secrets));
                    match (req.target, status) {
                        (Target::Graph, 401) if !refreshed => {
                            refreshed = true;
                            if let Some((_, generation)) = &token {
                                self.invalidate_token(*generation).await;
                            }
                            (RetryReason::Unauthorized, Some(401), Duration::ZERO)
                        }
                        (Target::Import, 401 | 403) => {
                            return Err(Error::ImportSessionExpired { status })
                        }
                        (Target::Import, 409) => {
                            if let Some(mailbox_id) = wrong_mailbox_id(&message) {
                                return Err(Error::ImportWrongMailbox { mailbox_id });
                            }
                            return Err(http_error(status, code, message, path));
                        }
                        (_, 429 | 503) => {
                            throttles += 1;
                            if throttles > policy.max_throttle_retries {
                                return Err(Error::Throttled {
                                    status,
                                    attempts,
                                    url_path: path,
                                });
                            }
                            let reason = if status == 429 {
                                RetryReason::Throttled
                            } else {
                                RetryReason::ServiceUnavailable
                            };
                            let wait = throttle_delay(&policy, retry_after.as_deref(), throttles);
                            (reason, Some(status), wait)
                        }
                        (_, 408 | 500 | 502 | 504)
                            if req.idempotent && retries < policy.max_retries =>
                        {
                            retries += 1;
                            let wait = throttle_delay(&policy, retry_after.as_deref(), retries);
                            (RetryReason::ServerError, Some(status), wait)
                        }
                        (Target::Token, _) => {
                            return Err(Error::Auth {
                                status,
                                code,
                                message,
                            })
                        }
                        (Target::Graph, _) if is_delta_expiry(status, &code, &url) => {
                            return Err(Error::DeltaExpired {
                                status,
                                code,
                                url_path: path,
                            })
                        }
                        _ => return Err(http_error(status, code, message, path)),
                    }
                }
            };
            tracing::debug!(
                reason = ?reason,
                status = ?status,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                path = %url.path(),
                "retrying Graph request"
            );
            self.observer.on_retry(&RetryEvent {
                reason,
                status,
                attempt: retries
                    + throttles
                    + u32::from(refreshed && reason == RetryReason::Unauthorized),
                wait,
                url_path: url_path(&url),
                mailbox: key,
            });
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    fn secrets(&self, token: Option<&SecretString>, req: &Req) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(s) = self.inner.cred.secret_text() {
            v.push(s.to_owned());
        }
        if let Some(t) = token {
            v.push(t.expose_secret().to_owned());
        }
        if req.target == Target::Import {
            v.push(req.url.as_str().to_owned());
            if let Some(q) = req.url.query() {
                v.push(q.to_owned());
            }
        }
        v
    }

    /// One HTTP exchange, body read within bounds.
    /// One HTTP exchange. `permit` (the mailbox's concurrency slot) is released as soon as the
    /// response body is in: the server is done with the request, parsing it needs no slot.
    async fn attempt(
        &self,
        req: &Req,
        url: &Url,
        bearer: Option<&SecretString>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Attempt {
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url.clone())
            .timeout(self.inner.timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t.expose_secret());
        }
        if let Some(p) = &req.prefer {
            rb = rb.header("Prefer", p.as_str());
        }
        rb = match &req.body {
            Some((b, ct)) => rb.header(CONTENT_TYPE, *ct).body(b.clone()),
            None if req.method == Method::POST || req.method == Method::PATCH => {
                rb.body(Vec::new())
            }
            None => rb,
        };
        let mut resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Transport {
                    not_sent: e.is_connect(),
                    message: describe(e),
                }
            }
        };
        let status = resp.status().as_u16();
        if status == 307 || status == 308 {
            if let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
                return Attempt::Redirect(loc.to_owned());
            }
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let success = (200..300).contains(&status);
        let cap = if success {
            req.max_body
        } else {
            MAX_ERROR_BODY
        };
        let path = url_path(url);
        if success && resp.content_length().is_some_and(|n| n > cap) {
            return Attempt::Fatal(Error::ResponseTooLarge {
                url_path: path,
                limit: cap,
            });
        }
        let initial = resp.content_length().unwrap_or(0).min(cap).min(16 << 20);
        let mut buf = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > cap {
                        if success {
                            return Attempt::Fatal(Error::ResponseTooLarge {
                                url_path: path,
                                limit: cap,
                            });
                        }
                        // An error body only matters for its code/message: keep the head.
                        let room = usize::try_from(cap)
                            .unwrap_or(usize::MAX)
                            .saturating_sub(buf.len());
                        buf.extend_from_slice(&chunk[..room.min(chunk.len())]);
                        break;
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    if success {
                        return Attempt::Truncated(describe(e));
                    }
                    break;
                }
            }
        }
        drop(permit);
        let body = Bytes::from(buf);
        if !success {
            return Attempt::Status {
                status,
                retry_after,
                body,
            };
        }
        let json = if req.expect_json && !body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => v,
                Err(e) if e.is_eof() => return Attempt::Truncated(e.to_string()),
                Err(e) => {
                    return Attempt::Fatal(Error::Decode {
                        url_path: path,
                        message: format!("invalid JSON: {e}"),
                    })
                }
            }
        } else {
            Value::Null
        };
        Attempt::Done(Resp {
            status,
            json,
            raw: body,
            url: url.clone(),
        })
    }
}

fn secrets_ref(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn parse_base(s: &str, what: &str) -> Result<Url> {
    let u = Url::parse(s.trim()).map_err(|e| Error::Config {
        message: format!("{what} is not a URL: {e}"),
    })?;
    if u.scheme() != "https" && u.scheme() != "http" {
        return Err(Error::Config {
            message: format!("{what} must be http(s)"),
        });
    }
    Ok(u)
}

/// A URL-free description of a reqwest error with its source chain.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else if e.is_body() || e.is_decode() {
        "body interrupted"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    let mut depth = 0;
    while let Some(s) = src {
        if depth >= 6 {
            break;
        }
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
        depth += 1;
    }
    msg
}

fn http_error(status: u16, code: String, message: String, url_path: String) -> Error {
    Error::Http {
        status,
        code,
        message,
        url_path,
    }
}

fn is_delta_expiry(status: u16, code: &str, url: &Url) -> bool {
    let is_delta = url.path().to_ascii_lowercase().contains("/delta");
    is_delta
        && (status == 410
            || [
                "syncStateNotFound",
                "resyncRequired",
                "syncStateInvalid",
                "ErrorInvalidSyncStateData",
            ]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(code)))
}

/// The mailbox id in Outlook's 409 message "… expected in mailbox MBX:…." (trailing dots dropped).
pub(crate) fn wrong_mailbox_id(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("expected in mailbox")? + "expected in mailbox".len();
    let rest = message[at..].trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')'))
        .unwrap_or(rest.len());
    let id = rest[..end].trim_end_matches('.');
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_mailbox_parsing() {
        assert_eq!(
            wrong_mailbox_id("Invalid import session. The target session is expected in mailbox MBX:f10964a6-4fd0-4f74-8@4d2e-9e48-109351d094ab.").as_deref(),
            Some("MBX:f10964a6-4fd0-4f74-8@4d2e-9e48-109351d094ab")
        );
        assert_eq!(
            wrong_mailbox_id("expected in mailbox MBX:a@contoso.com. Retry").as_deref(),
            Some("MBX:a@contoso.com")
        );
        assert_eq!(wrong_mailbox_id("conflict"), None);
    }
}
