//! Who is where, as the server knows it from every agent's doors: the presence feed
//! (`GET /api/v1/agent/presence`), long-polled and handed to the decide loop, which
//! merges each change into its engine state (a passage this agent recorded at the same
//! instant or later wins: see `EngineState::learn_presence`). Without it, anti-passback
//! and occupancy would count only this agent's own doors.
//!
//! The feed is *confirmed* by every answer that leaves nothing waiting; a long-poll waits
//! at most half the maximum age, so an idle feed is confirmed in time. Once the last
//! answer (or, before the first, the agent's start) is older than
//! `agent.presence_max_age_s`, the agent cannot know whether someone it let in has left
//! by another agent's door: the decide loop then applies hard anti-passback as soft
//! (granted, with the alarm) and journals `presence_unconfirmed` once per such period.
//! The age counts from the start so that a card presented in the first moments after a
//! start, before the first answer could arrive, is decided normally and raises nothing:
//! the feed gets the same time to answer as it has between answers. The cursor is not kept across restarts:
//! the engine state is not either, and a start from the beginning rebuilds both.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use gatehouse_core::protocol::{FedPresence, PresencePage, PresenceQuery};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::policy_sync::without_url;

/// When the feed was last confirmed, against the configured maximum age.
pub struct PresenceFeed {
    /// When the feed was created (the agent's start): the age counts from here until
    /// the first answer.
    started_ms: i64,
    confirmed_ms: AtomicI64,
    max_age_s: u64,
    revision: AtomicI64,
}

impl PresenceFeed {
    /// A feed not yet confirmed, started now.
    pub fn new(max_age_s: u64) -> PresenceFeed {
        PresenceFeed {
            started_ms: Utc::now().timestamp_millis(),
            confirmed_ms: AtomicI64::new(i64::MIN),
            max_age_s,
            revision: AtomicI64::new(-1),
        }
    }

    /// The feed's position whose changes the decide loop has been handed (`None`:
    /// none yet).
    pub fn revision(&self) -> Option<i64> {
        let revision = self.revision.load(Ordering::SeqCst);
        (revision >= 0).then_some(revision)
    }

    /// How long one long-poll may wait: half the maximum age (at most the server's 25 s),
    /// so a server that is up confirms the feed well within it even when nothing moves.
    fn wait_s(&self) -> u64 {
        (self.max_age_s / 2).clamp(1, 25)
    }

    /// Whether the presence in hand may be out of date: last confirmed (or, never
    /// confirmed, started) more than `max_age_s` ago.
    pub fn is_unconfirmed(&self) -> bool {
        let confirmed = self
            .confirmed_ms
            .load(Ordering::SeqCst)
            .max(self.started_ms);
        let age_ms = Utc::now().timestamp_millis().saturating_sub(confirmed);
        age_ms > i64::try_from(self.max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Seconds since the feed was last confirmed (`None`: never).
    pub fn age_s(&self) -> Option<i64> {
        let confirmed = self.confirmed_ms.load(Ordering::SeqCst);
        (confirmed != i64::MIN)
            .then(|| Utc::now().timestamp_millis().saturating_sub(confirmed) / 1000)
    }

    /// Marks the feed confirmed now.
    pub fn confirm_now(&self) {
        self.confirmed_ms
            .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
    }
}

/// Follows the feed until `stop` is cancelled (or the decide loop is gone), sending each
/// page's changes to the decide loop; the feed counts as confirmed once the loop has
/// them. Stops while it waits for the server or between attempts.
pub async fn presence_loop(
    feed: Arc<PresenceFeed>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    changes: mpsc::Sender<Vec<FedPresence>>,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/presence", base_url.trim_end_matches('/'));
    let mut after: Option<i64> = None;
    let mut wait_s = 0;
    let mut backoff = Backoff::new();
    while !stop.is_cancelled() {
        let query = PresenceQuery {
            after,
            wait_s: Some(wait_s),
        };
        let request = client
            .get(&url)
            .query(&query)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_secs(40))
            .send();
        let Some(answer) = stop.run_until_cancelled(request).await else {
            return;
        };
        let page = match answer {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                let Some(page) = stop.run_until_cancelled(r.json::<PresencePage>()).await else {
                    return;
                };
                page.map_err(|e| {
                    tracing::warn!(error = %without_url(&e), "presence feed answer unreadable");
                })
            }
            Ok(r) => {
                tracing::warn!(status = %r.status(), "presence feed refused by the server");
                Err(())
            }
            Err(e) => {
                tracing::warn!(error = %without_url(&e), "server unreachable for the presence feed");
                Err(())
            }
        };
        let Ok(page) = page else {
            if !backoff.wait(&stop).await {
                return;
            }
            continue;
        };
        backoff.reset();
        if !page.presences.is_empty() && changes.send(page.presences).await.is_err() {
            return;
        }
        after = Some(page.revision);
        feed.revision.store(page.revision, Ordering::SeqCst);
        wait_s = if page.more { 0 } else { feed.wait_s() };
        if !page.more {
            feed.confirm_now();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A feed started `ago_ms` milliseconds ago, never confirmed.
    pub(crate) fn started_ago(max_age_s: u64, ago_ms: i64) -> PresenceFeed {
        let mut feed = PresenceFeed::new(max_age_s);
        feed.started_ms -= ago_ms;
        feed
    }

    #[test]
    fn before_the_first_answer_the_age_counts_from_the_start() {
        // (started this long ago, unconfirmed) with a maximum age of 60 s.
        for (ago_ms, unconfirmed) in [(0, false), (59_000, false), (61_000, true)] {
            let feed = started_ago(60, ago_ms);
            assert_eq!(
                feed.is_unconfirmed(),
                unconfirmed,
                "started {ago_ms} ms ago"
            );
            assert_eq!(feed.age_s(), None, "never confirmed");
        }
    }

    #[test]
    fn unconfirmed_past_the_maximum_age_of_the_last_answer() {
        let feed = started_ago(60, 120_000);
        assert!(feed.is_unconfirmed(), "never confirmed, started long ago");
        feed.confirm_now();
        assert!(!feed.is_unconfirmed());
        assert_eq!(feed.age_s(), Some(0));
        let at = |age_ms: i64| Utc::now().timestamp_millis() - age_ms;
        feed.confirmed_ms.store(at(59_000), Ordering::SeqCst);
        assert!(!feed.is_unconfirmed(), "59 s old");
        feed.confirmed_ms.store(at(61_000), Ordering::SeqCst);
        assert!(feed.is_unconfirmed(), "61 s old");
    }

    #[test]
    fn a_long_poll_waits_half_the_maximum_age_within_the_servers_bounds() {
        for (max_age_s, wait_s) in [(1, 1), (2, 1), (5, 2), (49, 24), (60, 25), (86_400, 25)] {
            assert_eq!(PresenceFeed::new(max_age_s).wait_s(), wait_s, "{max_age_s}");
        }
    }
}
