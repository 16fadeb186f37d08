//! The background task that ends visits by themselves (`[visit_expiry]`): every
//! `check_every_s` seconds one pass of [`Store::end_overdue_visits`] (checks out visits
//! past their window and grace, marks no-shows, expires visits nobody approved in time,
//! raises `visitor_card_unreturned`), as the
//! `system` actor. Safe to run on every replica: each visit ends once.

use crate::store::{Actor, Store, now};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often the automatic end runs. The grace after a window's end is per site
/// (`site_visit_settings.checkout_grace_minutes`, 60 without a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisitExpirySettings {
    /// Seconds between passes; read as 1 to 3600.
    pub check_every_s: u64,
}

impl Default for VisitExpirySettings {
    fn default() -> Self {
        VisitExpirySettings { check_every_s: 30 }
    }
}

impl VisitExpirySettings {
    fn every(self) -> Duration {
        Duration::from_secs(self.check_every_s.clamp(1, 3600))
    }
}

/// Runs a pass at start and then every `check_every_s`, until the task is dropped.
pub async fn run(store: Store, settings: VisitExpirySettings) {
    loop {
        match store.end_overdue_visits(now(), &Actor::system()).await {
            Ok(summary) => {
                if !summary.checked_out.is_empty()
                    || !summary.no_shows.is_empty()
                    || !summary.expired.is_empty()
                {
                    tracing::info!(
                        checked_out = summary.checked_out.len(),
                        no_shows = summary.no_shows.len(),
                        expired = summary.expired.len(),
                        "visits ended automatically"
                    );
                }
                for card in summary.alarms {
                    tracing::warn!(visitor_card = %card, "visitor card not returned: alarm raised");
                }
            }
            Err(error) => tracing::warn!(%error, "could not end overdue visits"),
        }
        tokio::time::sleep(settings.every()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_stays_in_bounds() {
        assert_eq!(
            VisitExpirySettings::default().every(),
            Duration::from_secs(30)
        );
        let never = VisitExpirySettings { check_every_s: 0 };
        assert_eq!(never.every(), Duration::from_secs(1));
    }
}
