//! `Retry-After` parsing and bounded exponential backoff with jitter.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::RetryPolicy;

/// Parses a `Retry-After` value: delay seconds (integer or fractional, e.g. `2.128`) or an
/// HTTP-date. Returns `None` for garbage, negatives and non-finite numbers; a date in the past is
/// zero. The caller caps the result.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = v.parse().ok()?;
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        // Bound before converting: absurd values saturate at a day (the caller caps far lower).
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let target = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(date.timestamp()).ok()?))?;
    Some(target.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `attempt` (1-based): `base * 2^(attempt-1)` capped at
/// `max_delay`, with "equal jitter" (half fixed, half random) so it lies in `[d/2, d]`.
pub fn backoff_delay(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let d = policy
        .base_delay
        .saturating_mul(1u32 << exp)
        .min(policy.max_delay);
    let half = d / 2;
    let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = if jitter_ns == 0 {
        0
    } else {
        rand::thread_rng().gen_range(0..=jitter_ns)
    };
    half + Duration::from_nanos(extra)
}

/// The wait to honour for a throttling answer: `Retry-After` if present (capped), else backoff.
pub(crate) fn throttle_delay(
    policy: &RetryPolicy,
    retry_after: Option<&str>,
    attempt: u32,
) -> Duration {
    match retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())) {
        Some(d) => d.min(policy.max_retry_after),
        None => backoff_delay(policy, attempt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integer_fractional_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_secs_f64(2.128))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "abc", "1e9999", "NaN", "1.2.3", "inf"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        assert_eq!(
            parse_retry_after("99999999999", now),
            Some(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn throttle_delay_caps_retry_after() {
        let p = RetryPolicy {
            max_retry_after: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert_eq!(throttle_delay(&p, Some("120"), 1), Duration::from_secs(5));
        assert_eq!(
            throttle_delay(&p, Some("0.25"), 1),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        for attempt in 1..=40 {
            let nominal = Duration::from_millis(100)
                .saturating_mul(1u32 << (attempt - 1).min(30))
                .min(Duration::from_secs(2));
            for _ in 0..50 {
                let d = backoff_delay(&p, attempt);
                assert!(d >= nominal / 2 && d <= nominal, "attempt {attempt}: {d:?}");
            }
        }
        assert!(backoff_delay(&p, u32::MAX) <= Duration::from_secs(2));
    }
}
