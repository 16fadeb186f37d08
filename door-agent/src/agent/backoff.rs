//! The wait before the agent's server loops (policy, presence, upload) try again after a
//! failure: exponential, and jittered so that a fleet of doors does not reconnect in
//! lockstep after a server restart. Every wait is between 250 ms and 10 s, as before
//! there was jitter: the n-th wait after a success (from 0) is drawn from
//! [250 ms · 2ⁿ, twice that), the base capped at 5 s (so the longest waits fall in
//! [5 s, 10 s)). Built on `backon`'s exponential backoff, whose jitter adds up to the
//! current delay again.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// The shortest wait.
pub const MIN_WAIT: Duration = Duration::from_millis(250);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Exponential backoff with jitter, from [`MIN_WAIT`] to [`MAX_WAIT`]; never runs out.
pub struct Backoff(ExponentialBackoff);

impl Backoff {
    /// Starts at the shortest wait.
    pub fn new() -> Self {
        // Jitter adds up to the delay again: the base stays within half the longest wait.
        let builder = ExponentialBuilder::new()
            .with_min_delay(MIN_WAIT)
            .with_max_delay(MAX_WAIT / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Backoff(builder.build())
    }

    /// The wait to use now; the next one is about twice as long (capped).
    pub fn next_wait(&mut self) -> Duration {
        self.0.next().unwrap_or(MAX_WAIT).clamp(MIN_WAIT, MAX_WAIT)
    }

    /// Sleeps the next wait; `false` when `stop` was cancelled first (the loop then ends).
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.next_wait();
        stop.run_until_cancelled(tokio::time::sleep(wait))
            .await
            .is_some()
    }

    /// Back to the shortest wait.
    pub fn reset(&mut self) {
        *self = Backoff::new();
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn waits_double_within_bounds_and_are_jittered() {
        let mut firsts = BTreeSet::new();
        let mut longest = BTreeSet::new();
        for _ in 0..200 {
            let mut backoff = Backoff::new();
            for n in 0..12u32 {
                let wait = backoff.next_wait();
                let base = (MIN_WAIT * 2u32.pow(n)).min(MAX_WAIT / 2);
                assert!(
                    (base..=base * 2).contains(&wait) && (MIN_WAIT..=MAX_WAIT).contains(&wait),
                    "wait {n}: {wait:?} outside [{base:?}, {:?}]",
                    base * 2
                );
                if n == 0 {
                    firsts.insert(wait);
                }
                if n == 11 {
                    longest.insert(wait);
                }
            }
            backoff.reset();
            let again = backoff.next_wait();
            assert!((MIN_WAIT..=MIN_WAIT * 2).contains(&again), "{again:?}");
        }
        // 200 agents failing at the same moment do not all wait the same: at the first
        // wait and at the longest one.
        assert!(firsts.len() > 100, "{} distinct first waits", firsts.len());
        assert!(
            longest.len() > 100,
            "{} distinct longest waits",
            longest.len()
        );
    }

    #[tokio::test]
    async fn a_wait_ends_at_once_when_the_agent_stops() {
        let mut backoff = Backoff::new();
        for _ in 0..10 {
            backoff.next_wait();
        }
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            stopper.cancel();
        });
        let started = std::time::Instant::now();
        assert!(!backoff.wait(&stop).await, "stopped, not slept out");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
