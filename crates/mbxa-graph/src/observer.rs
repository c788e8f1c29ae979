//! Observer hook for retry, throttle and refresh events (progress displays count "throttle waits").

use std::time::Duration;

/// Why a request is being retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// 429 Too Many Requests.
    Throttled,
    /// 503 Service Unavailable.
    ServiceUnavailable,
    /// Another retryable 5xx, or 408.
    ServerError,
    /// Connect failure, timeout, dropped connection or truncated body.
    Transport,
    /// 401 from Graph: the token is refreshed and the request re-sent once.
    Unauthorized,
}

impl RetryReason {
    /// True for waits imposed by the service (429/503), i.e. "throttle waits".
    pub fn is_throttle(self) -> bool {
        matches!(
            self,
            RetryReason::Throttled | RetryReason::ServiceUnavailable
        )
    }
}

/// One retry about to happen.
#[derive(Clone, Debug)]
pub struct RetryEvent {
    /// Why.
    pub reason: RetryReason,
    /// HTTP status that triggered it, if any.
    pub status: Option<u16>,
    /// 1 for the first retry of this request.
    pub attempt: u32,
    /// How long the client waits before re-sending.
    pub wait: Duration,
    /// Path of the URL (no query string).
    pub url_path: String,
    /// Mailbox the request counts toward, if any.
    pub mailbox: Option<String>,
}

/// Receives retry events. Must be cheap and must not block: it is called on the request path.
pub trait Observer: Send + Sync {
    /// A request is about to be retried after `e.wait`.
    fn on_retry(&self, _e: &RetryEvent) {}
}

/// Observer that ignores everything (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
