//! The crate's one error type: every failure names the URL path (never its query), status and Graph code.

use thiserror::Error;

/// Everything that can go wrong talking to Graph, the token endpoint or an import URL.
///
/// No variant ever carries a secret: URLs are reduced to their path (query strings, which hold
/// `authtoken=`/`$skiptoken=` values, are stripped) and server-provided messages are scrubbed of
/// tokens, secrets and pre-authenticated URLs before they are stored here.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (bad URL, zero limits, …).
    #[error("invalid Graph client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The client credential (certificate/key PEM, secret) could not be used.
    #[error("invalid client credential: {message}")]
    Credentials {
        /// What is wrong (never the secret itself).
        message: String,
    },
    /// The token endpoint refused to issue a token (wrong secret, unknown tenant, …).
    #[error("authentication failed (HTTP {status}): {code}: {message}")]
    Auth {
        /// HTTP status of the token endpoint's answer.
        status: u16,
        /// OAuth error code, e.g. `invalid_client`.
        code: String,
        /// Scrubbed `error_description`.
        message: String,
    },
    /// Graph answered with an error status that is not retried.
    #[error("HTTP {status} from {url_path}: {code}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Graph error code (`error.code`), empty if the body had none.
        code: String,
        /// Scrubbed Graph error message.
        message: String,
        /// Path of the URL that failed (no query string).
        url_path: String,
    },
    /// A delta link is no longer valid (410 Gone or `syncStateNotFound`/`resyncRequired`):
    /// start a full enumeration without a delta link.
    #[error(
        "delta token no longer valid at {url_path} (HTTP {status} {code}); a full resync is needed"
    )]
    DeltaExpired {
        /// HTTP status (410 or a 4xx with a sync-state code).
        status: u16,
        /// Graph error code, if any.
        code: String,
        /// Path of the delta URL (no query string).
        url_path: String,
    },
    /// The import URL answered 401/403: the session expired; create a new one.
    #[error("import session expired or rejected (HTTP {status}); create a new import session")]
    ImportSessionExpired {
        /// 401 or 403.
        status: u16,
    },
    /// The import URL answered 409: the target folder lives in another (auto-expanded archive)
    /// mailbox; create an import session there.
    #[error("import target folder lives in mailbox {mailbox_id}; create an import session there")]
    ImportWrongMailbox {
        /// The mailbox id named in the error message.
        mailbox_id: String,
    },
    /// Still throttled (429/503) after the configured number of retries.
    #[error("still throttled (HTTP {status}) at {url_path} after {attempts} attempts")]
    Throttled {
        /// Last status (429 or 503).
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Path of the URL (no query string).
        url_path: String,
    },
    /// Network-level failure (connect, timeout, dropped connection, truncated body) after retries,
    /// or at once for a non-idempotent request whose effect is unknown.
    #[error("transport failure at {url_path} after {attempts} attempts: {message}")]
    Transport {
        /// Path of the URL (no query string).
        url_path: String,
        /// Attempts made.
        attempts: u32,
        /// What the network stack said (URL-free).
        message: String,
    },
    /// A response body was not the JSON shape expected.
    #[error("could not decode response from {url_path}: {message}")]
    Decode {
        /// Path of the URL (no query string).
        url_path: String,
        /// What was wrong.
        message: String,
    },
    /// A response body exceeded the size bound for its kind of request.
    #[error("response from {url_path} exceeds the {limit}-byte limit")]
    ResponseTooLarge {
        /// Path of the URL (no query string).
        url_path: String,
        /// The bound in bytes.
        limit: u64,
    },
    /// More than 5 redirects (308) in a row.
    #[error("more than {hops} redirects starting at {url_path}")]
    TooManyRedirects {
        /// Path of the first URL.
        url_path: String,
        /// The hop bound.
        hops: u32,
    },
    /// A next/delta/redirect/re-export URL points outside the configured Graph origin; the bearer
    /// token is never sent there.
    #[error("refusing to send the Graph token to {url}: not the configured Graph origin")]
    UntrustedUrl {
        /// The URL without its query string.
        url: String,
    },
    /// A caller-supplied argument is unusable (empty id, bad delta link, …).
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// True when a delta link has expired and the caller must resync without it.
    pub fn is_delta_expired(&self) -> bool {
        matches!(self, Error::DeltaExpired { .. })
    }

    /// True when the import session must be replaced (expired, or wrong mailbox).
    pub fn needs_new_import_session(&self) -> bool {
        matches!(
            self,
            Error::ImportSessionExpired { .. } | Error::ImportWrongMailbox { .. }
        )
    }

    /// HTTP status carried by the error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth { status, .. }
            | Error::Http { status, .. }
            | Error::DeltaExpired { status, .. }
            | Error::ImportSessionExpired { status }
            | Error::Throttled { status, .. } => Some(*status),
            Error::ImportWrongMailbox { .. } => Some(409),
            _ => None,
        }
    }

    /// Graph error code carried by the error, if any (empty codes are `None`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Auth { code, .. }
            | Error::Http { code, .. }
            | Error::DeltaExpired { code, .. }
                if !code.is_empty() =>
            {
                Some(code)
            }
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
