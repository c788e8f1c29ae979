//! Configuration: tenants and users to generate, Microsoft's limits, fault injection.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Everything an [`crate::Emulator`] needs to start.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Seed for the mailbox generator and the fault dice; same seed, same mailboxes.
    pub seed: u64,
    /// Tenants (each one app registration) with their users.
    pub tenants: Vec<TenantSpec>,
    /// Throttling limits (Microsoft's published Outlook limits by default).
    pub limits: Limits,
    /// Injected faults (none by default).
    pub faults: Faults,
    /// Service time of every Graph and import request: each is answered this long after it was
    /// admitted (the emulator's own work on it counts towards it, as a real server's does).
    pub latency: Duration,
    /// Lifetime of access tokens from the token endpoint (default 3599 s, like Entra ID).
    pub token_lifetime: Duration,
    /// Lifetime of import sessions (undocumented by Microsoft; default one hour).
    pub import_session_lifetime: Duration,
    /// Delta tokens older than this answer "expired" (default: 7 days).
    pub delta_token_lifetime: Duration,
    /// Address to listen on; `None` binds `127.0.0.1:0`.
    pub listen: Option<SocketAddr>,
    /// Optional state file: loaded at start if it exists (instead of generating), written
    /// atomically on shutdown, on `POST /_emulator/save`, and every few seconds when changed.
    pub state_file: Option<PathBuf>,
    /// Size mix of generated items.
    pub size_mix: SizeMix,
    /// When true, `GET .../folders` returns every folder under the IPM root (what CIPP-NG
    /// observed); when false (default) only the IPM root's direct children (what the docs say).
    pub list_folders_recursive: bool,
    /// Largest request body accepted (import and export bodies), in bytes.
    pub max_body_bytes: usize,
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("seed", &self.seed)
            .field("tenants", &self.tenants)
            .field("limits", &self.limits)
            .field("faults", &self.faults)
            .field("latency", &self.latency)
            .field("listen", &self.listen)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorConfig {
    /// One tenant, one user (with an archive mailbox), a small mailbox, no faults.
    fn default() -> Self {
        EmulatorConfig::generated(0, 1, 40)
    }
}

impl EmulatorConfig {
    /// One tenant with `mailboxes` users (each with a primary and an archive mailbox) of about
    /// `items` items each; all ids and the secret derive from `seed`.
    pub fn generated(seed: u64, mailboxes: usize, items: usize) -> Self {
        EmulatorConfig {
            seed,
            tenants: vec![TenantSpec::generated(seed, 0, mailboxes, items)],
            limits: Limits::default(),
            faults: Faults::default(),
            latency: Duration::ZERO,
            token_lifetime: Duration::from_secs(3599),
            import_session_lifetime: Duration::from_secs(3600),
            delta_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            listen: None,
            state_file: None,
            size_mix: SizeMix::Small,
            list_folders_recursive: false,
            max_body_bytes: 512 * 1024 * 1024,
        }
    }
}

/// One tenant with one app registration (client id + secret and/or certificates).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantSpec {
    /// Tenant id (a GUID) as used in `/{tenant}/oauth2/v2.0/token` and in mailbox ids.
    pub tenant_id: String,
    /// Also accepted in place of the tenant id on the token endpoint (e.g. `contoso.onmicrosoft.com`).
    pub domain: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The client secret (never printed by `Debug`).
    pub client_secret: String,
    /// PEM certificates whose keys may sign client assertions (RS256, `x5t` = SHA-1 thumbprint).
    pub certificates: Vec<String>,
    /// Users of this tenant.
    pub users: Vec<UserSpec>,
}

impl fmt::Debug for TenantSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSpec")
            .field("tenant_id", &self.tenant_id)
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("certificates", &self.certificates.len())
            .field("users", &self.users)
            .finish()
    }
}

impl TenantSpec {
    /// A tenant whose ids and secret derive from `(seed, index)`, with `users` users named
    /// `user1@…` etc., each with a primary mailbox of about `items` items and an archive.
    pub fn generated(seed: u64, index: usize, users: usize, items: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x007e_4a17 ^ ((index as u64) << 32));
        let tenant_id = guid(&mut rng);
        let client_id = guid(&mut rng);
        let secret: String = (0..40)
            .map(|_| {
                const CS: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
                CS[rng.gen_range(0..CS.len())] as char
            })
            .collect();
        let domain = if index == 0 {
            "contoso.example".to_string()
        } else {
            format!("tenant{}.example", index + 1)
        };
        let users = (0..users)
            .map(|u| UserSpec {
                upn: format!("user{}@{domain}", u + 1),
                with_archive: true,
                items,
            })
            .collect();
        TenantSpec {
            tenant_id,
            domain,
            client_id,
            client_secret: secret,
            certificates: Vec::new(),
            users,
        }
    }
}

/// A user to generate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserSpec {
    /// The user principal name (also the SMTP address).
    pub upn: String,
    /// Whether the user has an in-place archive mailbox (beta `inPlaceArchiveMailboxId`).
    pub with_archive: bool,
    /// Approximate number of items in the primary mailbox (the archive gets about a third).
    /// Zero gives an empty mailbox with only the well-known folders (a replay target).
    pub items: usize,
}

/// Sizes of generated items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SizeMix {
    /// A few KB to a few hundred KB (fast tests and demo). Default.
    #[default]
    Small,
    /// Adds rare items with attachments of 5 to 30 MB (throughput and memory tests).
    Big,
}

/// Throttling limits, per (app id, mailbox) pair as Microsoft states them for Outlook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// When false nothing is throttled by limits (faults may still inject 429s).
    pub enabled: bool,
    /// Concurrent requests per app and mailbox (4); the next one gets 429 `ApplicationThrottled`.
    pub max_concurrent: usize,
    /// Requests per window per app and mailbox (10 000 per 10 minutes).
    pub max_requests: u64,
    /// The request-count window.
    pub request_window: Duration,
    /// Upload bytes (POST/PATCH bodies) per window per app and mailbox (150 MB per 5 minutes).
    pub max_upload_bytes: u64,
    /// The upload window.
    pub upload_window: Duration,
    /// `Retry-After` sent with concurrency 429s.
    pub concurrency_retry_after: Duration,
    /// Item ids accepted per `exportItems` call (20).
    pub max_export_ids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            max_concurrent: 4,
            max_requests: 10_000,
            request_window: Duration::from_secs(600),
            max_upload_bytes: 150 * 1000 * 1000,
            upload_window: Duration::from_secs(300),
            concurrency_retry_after: Duration::from_millis(500),
            max_export_ids: 20,
        }
    }
}

impl Limits {
    /// No limits at all (benchmarks).
    pub fn off() -> Self {
        Limits {
            enabled: false,
            ..Limits::default()
        }
    }
}

/// `--throttle` syntax: `off`, `on`, or comma-separated `concurrency=N`, `requests=N[/SECS]`,
/// `upload=BYTES[/SECS]` (BYTES may end in KB, MB, GB: decimal), `retry-after=SECS`,
/// `export-ids=N`. Example: `concurrency=2,requests=500/60,upload=10MB/30`.
impl FromStr for Limits {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut l = Limits::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || Error::Config(format!("bad --throttle part {part:?}"));
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k.to_ascii_lowercase().as_str() {
                "off" | "none" => l.enabled = false,
                "on" => l.enabled = true,
                "concurrency" => l.max_concurrent = v.parse().map_err(|_| bad())?,
                "requests" => {
                    let (n, w) = v.split_once('/').unwrap_or((v, ""));
                    l.max_requests = n.parse().map_err(|_| bad())?;
                    if !w.is_empty() {
                        l.request_window = parse_secs(w).ok_or_else(bad)?;
                    }
                }
                "upload" => {
                    let (n, w) = v.split_once('/').unwrap_or((v, ""));
                    l.max_upload_bytes = parse_bytes(n).ok_or_else(bad)?;
                    if !w.is_empty() {
                        l.upload_window = parse_secs(w).ok_or_else(bad)?;
                    }
                }
                "retry-after" => l.concurrency_retry_after = parse_secs(v).ok_or_else(bad)?,
                "export-ids" => l.max_export_ids = v.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        Ok(l)
    }
}

/// What an expired or unknown delta token answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeltaExpiry {
    /// `410 Gone` with code `resyncRequired` and a `Location` header to restart from.
    #[default]
    Gone,
    /// `400` with code `syncStateNotFound`.
    SyncStateNotFound,
}

/// Seeded fault injection. Rates are probabilities per request (0.0 to 1.0).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Probability a Graph/import request starts a burst of 429 `TooManyRequests`.
    pub throttle_rate: f64,
    /// Length of such a burst (requests of the same app and mailbox), at least 1.
    pub throttle_burst: u32,
    /// `Retry-After` of injected 429s (fractional seconds are sent as such).
    pub throttle_retry_after: Duration,
    /// Probability of a 500 `generalException` or 503 `serviceNotAvailable` (half each).
    pub server_error_rate: f64,
    /// Probability the connection is closed without any response.
    pub drop_rate: f64,
    /// Probability a response body is cut in the middle (the connection then closes).
    pub truncate_rate: f64,
    /// Probability each item of a multi-item export is silently left out of `value`.
    pub export_missing_rate: f64,
    /// Probability an exported item turns out deleted (removed from the mailbox, per-item
    /// `ErrorItemNotFound`): "deleted between listing and export".
    pub export_vanish_rate: f64,
    /// Auto-expanded archives: folders held by an auxiliary archive mailbox answer 308 on
    /// folder/item calls via the main archive id, `ErrorArchiveFolderMovedPermanently` on
    /// export, and 409 `{"Message":…}` on import.
    pub archive_redirects: bool,
    /// Re-exports of an unchanged item differ in a small opaque property (content equal).
    pub unstable_exports: bool,
    /// Answer for expired or unknown delta tokens.
    pub delta_expiry: DeltaExpiry,
}

/// `--faults` syntax: comma-separated `throttle=P[xN]` (rate, burst length), `retry-after=SECS`,
/// `error=P`, `drop=P`, `truncate=P`, `missing=P`, `vanish=P`, `archive`, `unstable`,
/// `delta=410|sync`, or `none`. Example: `throttle=0.05x3,error=0.02,missing=0.1,archive,unstable`.
impl FromStr for Faults {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut f = Faults {
            throttle_burst: 1,
            throttle_retry_after: Duration::from_millis(250),
            ..Faults::default()
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || Error::Config(format!("bad --faults part {part:?}"));
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let rate = |v: &str| -> Result<f64, Error> {
                let r: f64 = v.parse().map_err(|_| bad())?;
                if (0.0..=1.0).contains(&r) {
                    Ok(r)
                } else {
                    Err(bad())
                }
            };
            match k.to_ascii_lowercase().as_str() {
                "none" => f = Faults::default(),
                "throttle" => {
                    let (r, n) = v.split_once('x').unwrap_or((v, "1"));
                    f.throttle_rate = rate(r)?;
                    f.throttle_burst = n.parse().map_err(|_| bad())?;
                }
                "retry-after" => f.throttle_retry_after = parse_secs(v).ok_or_else(bad)?,
                "error" => f.server_error_rate = rate(v)?,
                "drop" => f.drop_rate = rate(v)?,
                "truncate" => f.truncate_rate = rate(v)?,
                "missing" => f.export_missing_rate = rate(v)?,
                "vanish" => f.export_vanish_rate = rate(v)?,
                "archive" => f.archive_redirects = true,
                "unstable" => f.unstable_exports = true,
                "delta" => {
                    f.delta_expiry = match v.to_ascii_lowercase().as_str() {
                        "410" | "gone" => DeltaExpiry::Gone,
                        "sync" | "syncstatenotfound" => DeltaExpiry::SyncStateNotFound,
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(f)
    }
}

/// Parses seconds, fractional allowed, with an optional `ms` or `s` suffix.
pub(crate) fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(Duration::from_millis);
    }
    let s = s.strip_suffix('s').unwrap_or(s);
    let f: f64 = s.parse().ok()?;
    if f.is_finite() && f >= 0.0 {
        Some(Duration::from_secs_f64(f))
    } else {
        None
    }
}

fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let upper = s.to_ascii_uppercase();
    let (num, mult) = if let Some(n) = upper.strip_suffix("GB") {
        (n.to_string(), 1_000_000_000)
    } else if let Some(n) = upper.strip_suffix("MB") {
        (n.to_string(), 1_000_000)
    } else if let Some(n) = upper.strip_suffix("KB") {
        (n.to_string(), 1000)
    } else {
        (upper, 1)
    };
    let n: f64 = num.trim().parse().ok()?;
    if n.is_finite() && n >= 0.0 {
        Some((n * mult as f64) as u64)
    } else {
        None
    }
}

/// A lowercase GUID from the generator.
pub(crate) fn guid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.gen();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) | 0x4000,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults_and_limits() {
        let f: Faults = "throttle=0.1x3,error=0.02,missing=0.5,archive,unstable,delta=sync"
            .parse()
            .unwrap();
        assert_eq!(f.throttle_rate, 0.1);
        assert_eq!(f.throttle_burst, 3);
        assert_eq!(f.server_error_rate, 0.02);
        assert_eq!(f.export_missing_rate, 0.5);
        assert!(f.archive_redirects && f.unstable_exports);
        assert_eq!(f.delta_expiry, DeltaExpiry::SyncStateNotFound);
        assert!("error=2".parse::<Faults>().is_err());
        assert!("bogus".parse::<Faults>().is_err());

        let l: Limits = "concurrency=2,requests=500/60,upload=10MB/30,retry-after=1.5"
            .parse()
            .unwrap();
        assert_eq!(l.max_concurrent, 2);
        assert_eq!(l.max_requests, 500);
        assert_eq!(l.request_window, Duration::from_secs(60));
        assert_eq!(l.max_upload_bytes, 10_000_000);
        assert_eq!(l.upload_window, Duration::from_secs(30));
        assert_eq!(l.concurrency_retry_after, Duration::from_millis(1500));
        assert!(!"off".parse::<Limits>().unwrap().enabled);
    }

    #[test]
    fn generated_tenants_are_deterministic_and_redacted() {
        let a = TenantSpec::generated(7, 0, 2, 10);
        let b = TenantSpec::generated(7, 0, 2, 10);
        assert_eq!(a, b);
        assert_ne!(a.tenant_id, TenantSpec::generated(7, 1, 2, 10).tenant_id);
        assert!(!format!("{a:?}").contains(&a.client_secret));
    }
}
