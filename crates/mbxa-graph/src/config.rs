//! Client configuration: endpoints, credentials, concurrency and retry policy.

use std::time::Duration;

use crate::secret::SecretString;

/// Default Graph base URL (beta: archive mailboxes are beta-only).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/beta";
/// Default Entra ID login host.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The OAuth scope requested with client credentials (whatever `graph_url` points at).
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Default bound on requests in flight per mailbox (Outlook's limit per app + mailbox).
pub const DEFAULT_MAX_IN_FLIGHT_PER_MAILBOX: usize = 4;

/// How the app proves its identity to the token endpoint. `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// A client secret.
    Secret(SecretString),
    /// A PEM holding the certificate and its private key (PKCS#8 or PKCS#1 RSA); the client signs
    /// an RS256 JWT client assertion with it.
    Certificate {
        /// The PEM text (certificate + private key).
        pem: SecretString,
    },
}

/// Bounded retry behaviour for transient failures and throttling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after 5xx (other than 503), 408, timeouts, dropped connections and truncated bodies.
    pub max_retries: u32,
    /// Retries after 429 and 503 (throttling can last; these are counted separately).
    pub max_throttle_retries: u32,
    /// First exponential backoff step.
    pub base_delay: Duration,
    /// Cap on one exponential backoff step.
    pub max_delay: Duration,
    /// Cap on one honoured `Retry-After` wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            max_throttle_retries: 12,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Everything [`crate::GraphClient::new`] needs.
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// Graph base URL, e.g. `https://graph.microsoft.com/beta` or `http://127.0.0.1:PORT/beta`.
    pub graph_url: String,
    /// Login base URL, e.g. `https://login.microsoftonline.com`; the token endpoint is
    /// `{login_url}/{tenant_id}/oauth2/v2.0/token`.
    pub login_url: String,
    /// Directory (tenant) id or domain.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Secret or certificate.
    pub auth: ClientAuth,
    /// Requests in flight per mailbox, shared by all clones of the client (default 4).
    pub max_in_flight_per_mailbox: usize,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Bound on one HTTP request including its body (exports of ~150 MB items need minutes).
    pub request_timeout: Duration,
}

impl GraphConfig {
    /// A configuration with default limits, retry policy and a 20-minute request timeout.
    pub fn new(
        graph_url: impl Into<String>,
        login_url: impl Into<String>,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Self {
        GraphConfig {
            graph_url: graph_url.into(),
            login_url: login_url.into(),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            auth,
            max_in_flight_per_mailbox: DEFAULT_MAX_IN_FLIGHT_PER_MAILBOX,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(20 * 60),
        }
    }
}
