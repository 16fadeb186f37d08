//! The delivery worker, one per server: claims due notifications, sends each, records the
//! result, and sleeps until the next is due, it is woken ([`super::Notifier::wake`]), or
//! `notify.poll_ms` passes (rows other replicas enqueued). Runs until its task is aborted;
//! an attempt cut off by that stays claimed until its lease ends, then is sent again.

use super::Notifier;
use super::send::{SendError, Senders};
use crate::store::notifications::{Channel, Delivery, Outgoing};
use crate::store::{Store, now};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Notifications claimed per round.
const BATCH: u32 = 20;
/// A claim outlasts the slowest attempt by this much before another worker may take it.
const LEASE_MARGIN_S: u64 = 60;

/// Sends what is due, forever.
pub async fn run(store: Store, notifier: Arc<Notifier>, senders: Senders) {
    let settings = notifier.settings();
    let poll = Duration::from_millis(settings.poll_ms);
    loop {
        let mut full = false;
        match deliver_due(&store, &notifier, &senders).await {
            Ok(sent) => full = sent == BATCH as usize,
            Err(error) => tracing::warn!(%error, "notifications: could not deliver"),
        }
        if full {
            continue;
        }
        let wait = match store.next_notification_due().await {
            Ok(Some(next)) => (next - Utc::now()).to_std().unwrap_or_default().min(poll),
            Ok(None) => poll,
            Err(error) => {
                tracing::warn!(%error, "notifications: cannot read the queue");
                poll
            }
        };
        if wait.is_zero() {
            // Due now but not claimable (another replica holds it): avoid spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        tokio::select! {
            () = notifier.woken() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One round: claims up to [`BATCH`] due notifications and attempts each. Returns how
/// many were claimed.
pub async fn deliver_due(
    store: &Store,
    notifier: &Notifier,
    senders: &Senders,
) -> Result<usize, crate::store::StoreError> {
    let settings = notifier.settings();
    let slowest = settings
        .smtp
        .as_ref()
        .map_or(0, |s| s.timeout_s)
        .max(settings.webhook.timeout_s);
    let at = now();
    let lease = at + chrono::Duration::seconds((slowest + LEASE_MARGIN_S) as i64);
    let claimed = store.claim_due_notifications(at, lease, BATCH).await?;
    let count = claimed.len();
    for one in claimed {
        let result = attempt(senders, &one).await;
        let delivery = outcome(notifier, one.attempts, result, now());
        match &delivery {
            Delivery::Sent => {
                tracing::info!(id = %one.id, attempts = one.attempts, "notification sent")
            }
            Delivery::Retry { error, at } => {
                tracing::info!(id = %one.id, attempts = one.attempts, %error, retry_at = %at,
                    "notification failed; will retry");
            }
            Delivery::Failed { error } => {
                tracing::warn!(id = %one.id, attempts = one.attempts, %error,
                    "notification failed");
            }
        }
        store
            .record_delivery(one.id, one.attempts, &delivery)
            .await?;
    }
    Ok(count)
}

async fn attempt(senders: &Senders, one: &Outgoing) -> Result<(), SendError> {
    match one.channel {
        Channel::Email => senders.email(&one.recipient, &one.message).await,
        Channel::Webhook => match &one.endpoint {
            Some(url) => senders.webhook(url, &one.message).await,
            None => Err(SendError {
                message: "no webhook URL".to_owned(),
                retryable: false,
            }),
        },
    }
}

/// What attempt number `attempts` came to, given its result: sent, retried after the
/// backoff, or failed (for good, or the last attempt allowed).
pub fn outcome(
    notifier: &Notifier,
    attempts: i32,
    result: Result<(), SendError>,
    at: DateTime<Utc>,
) -> Delivery {
    let settings = notifier.settings();
    match result {
        Ok(()) => Delivery::Sent,
        Err(error) if !error.retryable => Delivery::Failed {
            error: error.message,
        },
        Err(error) if attempts >= i32::try_from(settings.max_attempts).unwrap_or(i32::MAX) => {
            Delivery::Failed {
                error: format!("{} (gave up after {attempts} attempts)", error.message),
            }
        }
        Err(error) => Delivery::Retry {
            error: error.message,
            at: at + backoff(settings.backoff_ms, settings.max_backoff_ms, attempts),
        },
    }
}

/// The wait after failed attempt number `attempts`: `first`, doubled each time, at most
/// `most` (milliseconds).
pub fn backoff(first: u64, most: u64, attempts: i32) -> chrono::Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(40);
    let ms = first.saturating_mul(1u64 << doublings).min(most);
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifySettings;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let ms = |n| backoff(1000, 5000, n).num_milliseconds();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(100)],
            [1000, 2000, 4000, 5000, 5000]
        );
    }

    #[test]
    fn retries_until_the_limit_then_fails() {
        let notifier = Notifier::new(NotifySettings {
            max_attempts: 3,
            ..NotifySettings::default()
        });
        let at = Utc::now();
        let down = || {
            Err(SendError {
                message: "down".to_owned(),
                retryable: true,
            })
        };
        assert!(matches!(
            outcome(&notifier, 1, down(), at),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            outcome(&notifier, 2, down(), at),
            Delivery::Retry { .. }
        ));
        assert_eq!(
            outcome(&notifier, 3, down(), at),
            Delivery::Failed {
                error: "down (gave up after 3 attempts)".to_owned()
            }
        );
        let bad = Err(SendError {
            message: "SMTP not configured".to_owned(),
            retryable: false,
        });
        assert_eq!(
            outcome(&notifier, 1, bad, at),
            Delivery::Failed {
                error: "SMTP not configured".to_owned()
            }
        );
        assert_eq!(outcome(&notifier, 1, Ok(()), at), Delivery::Sent);
    }
}
