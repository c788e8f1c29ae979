//! Upload pacing: a sliding-window budget per target mailbox (150 MB per 5 minutes, 10,000
//! requests per 10 minutes), so uploads rarely meet a 429.
//!
//! A sliding window (a log of what was sent in the last `window`) is used instead of a token
//! bucket: it never exceeds the budget in any window, whether the server counts in fixed windows,
//! sliding windows or a bucket of the same size, and it still reaches the full long-run rate
//! (a bucket safe against a sliding-window server could only reach half of it).

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
    /// (ticket, when it counts from, units).
    sent: Vec<(u64, Instant, u64)>,
    next_ticket: u64,
}

/// A booking in a [`Window`]; pass it to [`Window::settle`] when the request has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// A sliding-window limiter.
///
/// A booking counts from when it was made until the request is answered, then from the answer:
/// the server counts a request when it arrives, which is after it was sent and before it is
/// answered, so counting from the answer never frees budget before the server does.
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
                sent: Vec::new(),
                next_ticket: 0,
            }),
        }
    }

    /// Waits until `n` units fit in the window, then books them. Returns the booking and how
    /// long it waited. A request larger than the whole budget goes alone, once the window is
    /// empty.
    pub async fn acquire(&self, n: u64) -> (Ticket, Duration) {
        let start = Instant::now();
        loop {
            let wait_until = {
                let mut log = self.log.lock().await;
                let now = Instant::now();
                let window = self.budget.window;
                log.sent.retain(|(_, t, _)| now.duration_since(*t) < window);
                let sum: u64 = log.sent.iter().map(|(_, _, m)| m).sum();
                if sum.saturating_add(n) <= self.budget.limit || log.sent.is_empty() {
                    let ticket = log.next_ticket;
                    log.next_ticket += 1;
                    log.sent.push((ticket, now, n));
                    return (Ticket(ticket), now.duration_since(start));
                }
                // The earliest moment enough of the log has aged out.
                let mut times: Vec<(Instant, u64)> =
                    log.sent.iter().map(|(_, t, m)| (*t, *m)).collect();
                times.sort_by_key(|(t, _)| *t);
                let need = sum.saturating_add(n).saturating_sub(self.budget.limit);
                let mut freed = 0u64;
                let mut at = now;
                for (t, m) in times {
                    freed += m;
                    at = t + window;
                    if freed >= need {
                        break;
                    }
                }
                at
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// The booked request has been answered: count it from now.
    pub async fn settle(&self, ticket: Ticket) {
        let mut log = self.log.lock().await;
        let now = Instant::now();
        if let Some(e) = log.sent.iter_mut().find(|(id, _, _)| *id == ticket.0) {
            e.1 = now;
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
            let (t, _) = w.acquire(30).await;
            sends.push(Instant::now().duration_since(t0));
            tokio::time::sleep(Duration::from_millis(100)).await;
            w.settle(t).await;
        }
        // Every 10 s window holds at most 3 sends of 30 (counting each from its send).
        for (i, s) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|x| **x < *s + Duration::from_secs(10))
                .count();
            assert!(in_window <= 3, "window at {s:?} holds {in_window} sends");
        }
        // And the long-run rate is the budget's (3 per 10 s, each counted from its answer 100 ms
        // after it was sent): 25 sends take ~80 s.
        let last = *sends.last().unwrap();
        assert!(last <= Duration::from_secs(82), "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn oversize_request_goes_alone() {
        let w = Window::new(Budget {
            limit: 10,
            window: Duration::from_secs(5),
        });
        assert_eq!(w.acquire(50).await.1, Duration::ZERO);
        assert_eq!(w.acquire(1).await.1, Duration::from_secs(5));
    }
}
