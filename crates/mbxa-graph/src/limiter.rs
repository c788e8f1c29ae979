//! Per-mailbox concurrency limiter: one semaphore per mailbox id, shared by all client clones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Hands out at most `per_mailbox` permits per mailbox key at a time.
#[derive(Clone, Debug)]
pub(crate) struct Limiter {
    per_mailbox: usize,
    map: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Limiter {
    pub(crate) fn new(per_mailbox: usize) -> Self {
        Limiter {
            per_mailbox: per_mailbox.max(1),
            map: Arc::default(),
        }
    }

    /// Waits for a slot for `mailbox`. The key is normalised (percent-decoded, lowercased) so the
    /// raw and the escaped spelling of one id share a semaphore.
    pub(crate) async fn acquire(&self, mailbox: &str) -> OwnedSemaphorePermit {
        let key = normalise(mailbox);
        let sem = {
            // A poisoned map only means another task panicked mid-insert; the map is still valid.
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_mailbox)))
                .clone()
        };
        loop {
            // The semaphore is never closed, so acquisition cannot fail; loop defensively.
            if let Ok(p) = sem.clone().acquire_owned().await {
                return p;
            }
            tokio::task::yield_now().await;
        }
    }
}

fn normalise(mailbox: &str) -> String {
    percent_encoding::percent_decode_str(mailbox)
        .decode_utf8_lossy()
        .to_lowercase()
}

/// The mailbox id in a Graph URL: the path segment after `mailboxes` (any casing), if any.
pub(crate) fn mailbox_of_url(url: &url::Url) -> Option<String> {
    let mut segs = url.path_segments()?;
    while let Some(s) = segs.next() {
        if s.eq_ignore_ascii_case("mailboxes") {
            return segs.next().filter(|m| !m.is_empty()).map(|m| {
                percent_encoding::percent_decode_str(m)
                    .decode_utf8_lossy()
                    .into_owned()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_is_found_in_any_casing_and_encoding() {
        let u = url::Url::parse("http://h/beta/admin/Exchange/Mailboxes/MBX%3Aab%40cd/folders?x=1")
            .unwrap();
        assert_eq!(mailbox_of_url(&u).as_deref(), Some("MBX:ab@cd"));
        let u = url::Url::parse("http://h/beta/users/x/settings/exchange").unwrap();
        assert_eq!(mailbox_of_url(&u), None);
        assert_eq!(normalise("MBX%3AAB@cd"), normalise("mbx:ab@CD"));
    }

    #[tokio::test]
    async fn permits_are_bounded_per_mailbox() {
        let l = Limiter::new(2);
        let a = l.acquire("m1").await;
        let _b = l.acquire("M1").await;
        // A different mailbox is independent.
        let _c = l.acquire("m2").await;
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), l.acquire("m1")).await;
        assert!(third.is_err(), "a third permit for m1 must wait");
        drop(a);
        let third = tokio::time::timeout(std::time::Duration::from_secs(5), l.acquire("m1")).await;
        assert!(third.is_ok());
    }
}
