//! Upload pacing: a sliding-window budget per target mailbox (150 MB per 5 minutes, 10,000
//! requests per 10 minutes), so uploads rarely meet a 429.
//!
//! A sliding window (a log of what was sent in the last `window`) is used instead of a token
//! bucket: it never exceeds the budget in any window, whether the server counts in fixed windows,
//! sliding windows or a bucket of the same size, and it still reaches the full long-run rate
//! (a bucket safe against a sliding-window server could only reach half of it).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A budget: at most `limit` units in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Units (bytes or requests) allowed per window.
    pub limit: u64,
    /// The window.
    pub window: Duration,
}

impl Budget {
    /// Microsoft's upload budget: 150 MB per 5 minutes per (app, mailbox).
    pub const UPLOAD: Budget = Budget {
        limit: 150_000_000,
        window: Duration::from_secs(300),
    };
    /// Microsoft's request budget: 10,000 requests per 10 minutes per (app, mailbox).
    pub const REQUESTS: Budget = Budget {
        limit: 10_000,
        window: Duration::from_secs(600),
    };
}

#[derive(Debug)]
struct Log {
    sent: VecDeque<(Instant, u64)>,
    sum: u64,
}

/// A sliding-window limiter.
#[derive(Debug)]
pub struct Window {
    budget: Budget,
    log: Mutex<Log>,
}

impl Window {
    /// A limiter for `budget`.
    pub fn new(budget: Budget) -> Self {
        Window {
            budget,
            log: Mutex::new(Log {
                sent: VecDeque::new(),
                sum: 0,
            }),
        }
    }

    /// Waits until `n` units fit in the window, then books them. Returns how long it waited.
    /// A request larger than the whole budget goes alone, once the window is empty.
    pub async fn acquire(&self, n: u64) -> Duration {
        let start = Instant::now();
        loop {
            let wait_until = {
                let mut log = self.log.lock().await;
                let now = Instant::now();
                while let Some(&(t, m)) = log.sent.front() {
                    if now.duration_since(t) >= self.budget.window {
                        log.sent.pop_front();
                        log.sum -= m;
                    } else {
                        break;
                    }
                }
                if log.sum.saturating_add(n) <= self.budget.limit || log.sent.is_empty() {
                    log.sent.push_back((now, n));
                    log.sum += n;
                    return now.duration_since(start);
                }
                // The earliest moment enough of the log has aged out.
                let mut freed = 0u64;
                let need = log.sum.saturating_add(n).saturating_sub(self.budget.limit);
                let mut at = now;
                for &(t, m) in &log.sent {
                    freed += m;
                    at = t + self.budget.window;
                    if freed >= need {
                        break;
                    }
                }
                at
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_any_window() {
        let w = Window::new(Budget {
            limit: 100,
            window: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        let mut sends = Vec::new();
        for _ in 0..25 {
            w.acquire(30).await;
            sends.push(Instant::now().duration_since(t0));
        }
        // Every 10 s window holds at most 3 sends of 30.
        for (i, s) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|x| **x < *s + Duration::from_secs(10))
                .count();
            assert!(in_window <= 3, "window at {s:?} holds {in_window} sends");
        }
        // And the long-run rate is the budget's (3 per 10 s): 25 sends take ~80 s.
        let last = *sends.last().unwrap();
        assert!(last <= Duration::from_secs(81), "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn oversize_request_goes_alone() {
        let w = Window::new(Budget {
            limit: 10,
            window: Duration::from_secs(5),
        });
        assert_eq!(w.acquire(50).await, Duration::ZERO);
        assert_eq!(w.acquire(1).await, Duration::from_secs(5));
    }
}
