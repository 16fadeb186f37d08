//! Login throttling per account and per client address: after a few failures each new
//! attempt waits twice as long as the last (1 s, 2 s, 4 s … up to 15 min), and no key
//! may fail more than the configured maximum (≤ 100) in an hour.

use crate::api::error::ApiError;
use crate::config::AuthSettings;
use crate::store::{AttemptIds, FailureCount, Reservation, Store, StoreError};
use chrono::{DateTime, Duration, Utc};

const WINDOW: Duration = Duration::hours(1);
const MAX_BACKOFF_S: i64 = 15 * 60;

pub struct LoginThrottle {
    backoff_after: u32,
    max_failures_per_hour: u32,
}

impl LoginThrottle {
    pub fn new(settings: &AuthSettings) -> LoginThrottle {
        LoginThrottle {
            backoff_after: settings.login_backoff_after,
            max_failures_per_hour: settings.login_max_failures_per_hour,
        }
    }

    /// Takes one attempt from every key's budget before the password is checked, or
    /// refuses with 429 while any key is throttled. The attempt counts as a failure
    /// until [`LoginThrottle::succeeded`] gives it back: checking and taking happen in
    /// one database transaction, so parallel attempts (on any replica) cannot all pass.
    pub async fn reserve(
        &self,
        store: &Store,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<AttemptIds, ApiError> {
        let wait = |failures: FailureCount| {
            let last = failures.last?;
            self.wait_until(failures.count, last)
                .filter(|until| now < *until)
        };
        match store
            .reserve_login_attempt(keys, now, now - WINDOW, wait)
            .await?
        {
            Reservation::Taken(attempt) => Ok(attempt),
            Reservation::Refused { wait_until } => {
                let retry_after_s = (wait_until - now).num_seconds().max(1);
                Err(ApiError::TooManyRequests {
                    retry_after_s: u64::try_from(retry_after_s).unwrap_or(1),
                })
            }
        }
    }

    /// A login with this attempt succeeded: it is not a failure, and the account's
    /// earlier failures are forgotten (those of the client address stay).
    pub async fn succeeded(
        &self,
        store: &Store,
        attempt: &AttemptIds,
        account_key: &str,
    ) -> Result<(), StoreError> {
        store.release_login_attempt(attempt).await?;
        store.clear_login_failures(account_key).await
    }

    /// When a key with `count` failures in the last hour, the latest at `last`, may try
    /// again; `None` when it is not throttled.
    fn wait_until(&self, count: i64, last: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if count >= i64::from(self.max_failures_per_hour) {
            // Until the oldest failures leave the window; the latest bounds it.
            return Some(last + WINDOW);
        }
        let over = count - i64::from(self.backoff_after);
        if over < 0 {
            return None;
        }
        let backoff_s = 1i64
            .checked_shl(u32::try_from(over).unwrap_or(u32::MAX))
            .unwrap_or(MAX_BACKOFF_S)
            .min(MAX_BACKOFF_S);
        Some(last + Duration::seconds(backoff_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn backoff_doubles_then_caps() {
        let throttle = LoginThrottle::new(&Settings::default().auth);
        let last = Utc::now();
        let wait = |count| {
            throttle
                .wait_until(count, last)
                .map(|t| (t - last).num_seconds())
        };
        let cases = [
            (0, None),
            (4, None),
            (5, Some(1)),
            (6, Some(2)),
            (7, Some(4)),
            (14, Some(512)),
            (15, Some(900)),
            (99, Some(900)),
            (100, Some(3600)),
            (1000, Some(3600)),
        ];
        for (count, expected) in cases {
            assert_eq!(wait(count), expected, "count {count}");
        }
    }
}
