//! What the live stream reads: alarms and acknowledgements in audit-chain order. Every
//! alarm and acknowledgement is chained in the transaction that writes it (a server
//! alarm as itself, a door alarm as its event, an acknowledgement as its operator-log
//! entry), and chain positions are handed out under the chain head's lock until commit,
//! so the committed positions are always a prefix: reading past the last position sent
//! never misses anything, on any replica.

use super::{Alarm, AlarmDbRow, door_alarm_columns, server_alarm_columns};
use crate::store::stored_time::StoredTime;
use crate::store::{Chained, Store, StoreError, on};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Most chain entries one read looks through, so a client resuming from far back costs
/// a bounded amount per read (a read that went this far may have more to read).
pub const FEED_WINDOW: i64 = 5_000;

/// One thing for the stream, at its chain position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// Boxed: an alarm with its names is several times an acknowledgement's size.
    Alarm {
        seq: i64,
        alarm: Box<Alarm>,
    },
    Ack {
        seq: i64,
        ack: AckNotice,
    },
}

impl FeedItem {
    pub fn seq(&self) -> i64 {
        match self {
            FeedItem::Alarm { seq, .. } | FeedItem::Ack { seq, .. } => *seq,
        }
    }
}

/// An alarm was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AckNotice {
    pub alarm_id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub at: DateTime<Utc>,
    pub operator_id: Uuid,
    pub operator: String,
    pub note: String,
}

impl Store {
    /// Alarms and acknowledgements chained after position `after_seq`, in chain order,
    /// and the position to read after next time (never beyond the committed head).
    #[tracing::instrument(skip_all)]
    pub async fn alarm_feed(&self, after_seq: i64) -> Result<(Vec<FeedItem>, i64), StoreError> {
        let (head, _) = self.audit_head().await?;
        let upto = head.min(after_seq.saturating_add(FEED_WINDOW));
        if upto <= after_seq {
            // Nothing new, or a position this chain never reached: go on from the head.
            return Ok((Vec::new(), head));
        }
        // `COALESCE(c.source, c.source)`: SQLite then reads the chain by position (its
        // primary key) instead of walking every entry of the source from its
        // `(source, record_id)` index.
        let (alarms, acks) = on!(self.pool(), |pool| {
            let alarms = sqlx::query_as::<_, Chained<AlarmDbRow>>(concat!(
                "SELECT c.seq AS chain_seq, ",
                server_alarm_columns!(),
                " FROM audit_chain c JOIN agent_alarms a ON a.id = c.record_id \
                 LEFT JOIN alarm_acks k ON k.alarm_id = a.id \
                 WHERE COALESCE(c.source, c.source) = 'alarm' AND c.seq > $1 AND c.seq <= $2 \
                 UNION ALL SELECT c.seq AS chain_seq, ",
                door_alarm_columns!(),
                " FROM audit_chain c JOIN event_alarms x ON x.event_id = c.record_id \
                 JOIN access_events e ON e.id = x.event_id \
                 LEFT JOIN alarm_acks k ON k.alarm_id = x.id \
                 WHERE COALESCE(c.source, c.source) = 'event' AND c.seq > $1 AND c.seq <= $2",
            ))
            .bind(after_seq)
            .bind(upto)
            .fetch_all(pool)
            .await?;
            let acks = sqlx::query_as::<_, Chained<AckNotice>>(
                "SELECT c.seq AS chain_seq, k.alarm_id, k.at, k.operator_id, k.operator, k.note \
                 FROM audit_chain c JOIN alarm_acks k ON k.log_id = c.record_id \
                 WHERE COALESCE(c.source, c.source) = 'operator' AND c.seq > $1 AND c.seq <= $2",
            )
            .bind(after_seq)
            .bind(upto)
            .fetch_all(pool)
            .await?;
            (alarms, acks)
        });
        let mut items: Vec<FeedItem> = alarms
            .into_iter()
            .map(|p| FeedItem::Alarm {
                seq: p.chain_seq,
                alarm: Box::new(p.row.into()),
            })
            .chain(acks.into_iter().map(|p| FeedItem::Ack {
                seq: p.chain_seq,
                ack: p.row,
            }))
            .collect();
        // Several door alarms of one event share its position: keep them in id order.
        items.sort_by_key(|item| match item {
            FeedItem::Alarm { seq, alarm } => (*seq, alarm.id),
            FeedItem::Ack { seq, ack } => (*seq, ack.alarm_id),
        });
        Ok((items, upto))
    }
}
