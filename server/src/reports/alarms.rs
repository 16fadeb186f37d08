//! Alarms of the site in the period, per kind, and how long they waited to be
//! acknowledged: from the moment the server had the alarm (a door alarm's upload, a
//! server alarm's raising) to the acknowledgement. Door alarms are the site's by their
//! door and in the period by when they occurred; server alarms by the doors of their
//! agent and when they were raised.

use super::{Period, percentile};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use crate::store::{Store, StoreError, on};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The site's alarms of the period as `al (kind, raised_at, ack_at)`; `$1` site, `$2`
/// start, `$3` end. Door alarms are read from `event_alarms`, each event found by its
/// key: a join lets SQLite (no statistics) walk every event of the period instead, a
/// thousand times more rows (alarms are a fraction of a percent of the events).
macro_rules! site_alarms {
    ($rest:literal) => {
        concat!(
            "FROM (SELECT x.kind AS kind, \
             (SELECT e.received_at FROM access_events e WHERE e.id = x.event_id) AS raised_at, \
             k.at AS ack_at FROM event_alarms x LEFT JOIN alarm_acks k ON k.alarm_id = x.id \
             WHERE EXISTS (SELECT 1 FROM access_events e WHERE e.id = x.event_id \
             AND e.door_id IN (SELECT id FROM doors WHERE site_id = $1) \
             AND e.occurred_at >= $2 AND e.occurred_at < $3) \
             UNION ALL SELECT a.kind AS kind, a.at AS raised_at, k.at AS ack_at \
             FROM agent_alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id \
             WHERE a.agent_id IN (SELECT ad.agent_id FROM agent_doors ad \
             JOIN doors d ON d.id = ad.door_id WHERE d.site_id = $1) \
             AND a.at >= $2 AND a.at < $3) al ",
            $rest
        )
    };
}

/// One kind of alarm: how many, how many acknowledged, and the time to acknowledge
/// (seconds; nearest-rank median and 90th percentile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmLine {
    pub kind: String,
    pub count: u64,
    pub acknowledged: u64,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Ack {
    kind: String,
    #[sqlx(try_from = "StoredTime")]
    raised_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    ack_at: Option<DateTime<Utc>>,
}

/// Per kind, by kind. The counts are grouped by the database; the acknowledged alarms
/// are read one by one for their percentiles (each is an officer's written note, so
/// they are few next to the events).
pub async fn alarm_lines(store: &Store, period: &Period) -> Result<Vec<AlarmLine>, StoreError> {
    let (counts, acks) = on!(store.pool(), |c| {
        let counts = sqlx::query_as::<_, (String, i64)>(concat!(
            "SELECT kind, count(*) AS n ",
            site_alarms!("GROUP BY kind ORDER BY kind")
        ))
        .bind(period.site_id)
        .bind(period.start())
        .bind(period.end())
        .fetch_all(c)
        .await?;
        let acks = sqlx::query_as::<_, Ack>(concat!(
            "SELECT kind, raised_at, ack_at ",
            site_alarms!("WHERE ack_at IS NOT NULL")
        ))
        .bind(period.site_id)
        .bind(period.start())
        .bind(period.end())
        .fetch_all(c)
        .await?;
        (counts, acks)
    });
    let mut delays: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for ack in acks {
        if let Some(at) = ack.ack_at {
            let seconds = (at - ack.raised_at).num_seconds().max(0);
            delays.entry(ack.kind).or_default().push(seconds);
        }
    }
    Ok(counts
        .into_iter()
        .map(|(kind, n)| {
            let mut waited = delays.remove(&kind).unwrap_or_default();
            waited.sort_unstable();
            AlarmLine {
                count: u64::try_from(n).unwrap_or(0),
                acknowledged: waited.len() as u64,
                median_s: percentile(&waited, 50),
                p90_s: percentile(&waited, 90),
                kind,
            }
        })
        .collect())
}
