//! Per (app, mailbox) throttling: concurrency, request rate, upload bytes; plus request stats.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::config::Limits;

/// Why a request was throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    Concurrency,
    Requests,
    Upload,
}

#[derive(Debug, Default)]
struct KeyState {
    inflight: usize,
    requests: VecDeque<i64>,
    uploads: VecDeque<(i64, u64)>,
    upload_sum: u64,
    /// Remaining injected 429s of a fault burst.
    pub burst_left: u32,
}

/// Limiter for every (client id, physical mailbox id) pair.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    keys: Mutex<HashMap<(String, String), KeyState>>,
}

/// Holds one concurrency slot; frees it on drop.
pub(crate) struct Slot {
    limiter: Arc<Limiter>,
    key: (String, String),
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut keys) = self.limiter.keys.lock() {
            if let Some(k) = keys.get_mut(&self.key) {
                k.inflight = k.inflight.saturating_sub(1);
            }
        }
    }
}

impl Limiter {
    /// Admits a request or says why not and for how long (`Retry-After`, milliseconds).
    /// Returns the slot and the concurrency reached (for peak statistics).
    pub(crate) fn admit(
        self: &Arc<Self>,
        limits: &Limits,
        client_id: &str,
        mailbox_id: &str,
        upload: u64,
        now_ms: i64,
    ) -> Result<(Slot, usize), (Throttle, i64)> {
        let key = (client_id.to_string(), mailbox_id.to_ascii_lowercase());
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let k = keys.entry(key.clone()).or_default();
        if limits.enabled {
            if k.inflight >= limits.max_concurrent {
                return Err((
                    Throttle::Concurrency,
                    limits.concurrency_retry_after.as_millis() as i64,
                ));
            }
            let rw = limits.request_window.as_millis() as i64;
            while k.requests.front().is_some_and(|t| *t <= now_ms - rw) {
                k.requests.pop_front();
            }
            if k.requests.len() as u64 >= limits.max_requests {
                let oldest = k.requests.front().copied().unwrap_or(now_ms);
                return Err((Throttle::Requests, (oldest + rw - now_ms).max(1)));
            }
            let uw = limits.upload_window.as_millis() as i64;
            while let Some((t, n)) = k.uploads.front().copied() {
                if t > now_ms - uw {
                    break;
                }
                k.uploads.pop_front();
                k.upload_sum -= n;
            }
            // A single body larger than the budget passes when the window is empty, or it
            // could never be sent.
            if upload > 0 && k.upload_sum > 0 && k.upload_sum + upload > limits.max_upload_bytes {
                // Wait until enough of the window has drained for this body to fit.
                let mut freed = 0u64;
                let need = (k.upload_sum + upload).saturating_sub(limits.max_upload_bytes);
                let mut wait = 1;
                for (t, n) in &k.uploads {
                    freed += n;
                    wait = t + uw - now_ms;
                    if freed >= need {
                        break;
                    }
                }
                return Err((Throttle::Upload, wait.max(1)));
            }
            k.requests.push_back(now_ms);
            if upload > 0 {
                k.uploads.push_back((now_ms, upload));
                k.upload_sum += upload;
            }
        }
        k.inflight += 1;
        let reached = k.inflight;
        Ok((
            Slot {
                limiter: Arc::clone(self),
                key,
            },
            reached,
        ))
    }

    /// Fault bursts: returns true (and counts down) while a burst is running for the key;
    /// `start` begins a new burst of `len` (this request included).
    pub(crate) fn burst(&self, client_id: &str, mailbox_id: &str, start: bool, len: u32) -> bool {
        let key = (client_id.to_string(), mailbox_id.to_ascii_lowercase());
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let k = keys.entry(key).or_default();
        if k.burst_left > 0 {
            k.burst_left -= 1;
            return true;
        }
        if start {
            k.burst_left = len.max(1) - 1;
            return true;
        }
        false
    }

    pub(crate) fn reset(&self) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Counters for tests and benchmarks (`Emulator::stats`, `GET /_emulator/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Requests per route, e.g. `"POST exportItems"`, `"GET items/delta"`.
    pub routes: BTreeMap<String, u64>,
    /// All requests answered (any route).
    pub requests: u64,
    /// 429s sent because a limit was exceeded.
    pub throttled: u64,
    /// Of those, by limit: `concurrency`, `requests`, `upload`.
    pub throttled_by: BTreeMap<String, u64>,
    /// Faults injected, by kind: `throttle`, `error500`, `error503`, `drop`, `truncate`,
    /// `missing`, `vanish`, `redirect308`, `archiveMoved`, `import409`, `deltaExpired`.
    pub faults: BTreeMap<String, u64>,
    /// Successful imports (create and update).
    pub imports: u64,
    /// Decoded bytes received by successful imports.
    pub import_bytes: u64,
    /// Times each item id was exported with data.
    pub exports: BTreeMap<String, u64>,
    /// Decoded bytes served by exports.
    pub export_bytes: u64,
    /// Highest number of concurrent requests seen per mailbox id (any app).
    pub peak_concurrency: BTreeMap<String, usize>,
    /// Tokens issued by the token endpoint.
    pub tokens_issued: u64,
}

impl Stats {
    /// Total throttled 429s: limits plus injected bursts.
    pub fn all_429s(&self) -> u64 {
        self.throttled + self.faults.get("throttle").copied().unwrap_or(0)
    }
    /// How many times `item_id` was exported.
    pub fn exports_of(&self, item_id: &str) -> u64 {
        self.exports.get(item_id).copied().unwrap_or(0)
    }
    /// Requests counted for `route`.
    pub fn route(&self, route: &str) -> u64 {
        self.routes.get(route).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn concurrency_rate_and_upload_limits() {
        let l = Arc::new(Limiter::default());
        let lim = Limits {
            max_concurrent: 2,
            max_requests: 3,
            request_window: Duration::from_secs(10),
            max_upload_bytes: 100,
            upload_window: Duration::from_secs(5),
            ..Limits::default()
        };
        let a = l.admit(&lim, "app", "MBX:1", 0, 0).unwrap();
        let b = l.admit(&lim, "app", "mbx:1", 0, 0).unwrap();
        assert_eq!(b.1, 2);
        assert_eq!(
            l.admit(&lim, "app", "MBX:1", 0, 0).err().map(|e| e.0),
            Some(Throttle::Concurrency)
        );
        // Another app or mailbox has its own budget.
        assert!(l.admit(&lim, "app2", "MBX:1", 0, 0).is_ok());
        drop(a);
        drop(b);
        let _c = l.admit(&lim, "app", "MBX:1", 0, 1000).unwrap();
        let e = l.admit(&lim, "app", "MBX:1", 0, 2000).err().unwrap();
        assert_eq!(e, (Throttle::Requests, 8000));
        // Window slides.
        drop(_c);
        assert!(l.admit(&lim, "app", "MBX:1", 0, 10_001).is_ok());

        let _u1 = l.admit(&lim, "app", "MBX:2", 80, 0).unwrap();
        drop(_u1);
        let e = l.admit(&lim, "app", "MBX:2", 30, 1000).err().unwrap();
        assert_eq!(e, (Throttle::Upload, 4000));
        assert!(l.admit(&lim, "app", "MBX:2", 30, 5000).is_ok());
        // A body larger than the whole budget still passes on an empty window.
        assert!(l.admit(&lim, "app", "MBX:3", 1000, 0).is_ok());
    }
}
