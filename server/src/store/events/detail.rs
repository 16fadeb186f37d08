//! One event in full, for "why was this denied?": the event, the names of whom and
//! where it concerns (as they are named now), and the decision trace the door computed
//! at the time (as the agent sent it, migration 0019), not a decision by today's rules.

use super::EventRecord;
use crate::store::{Store, StoreError, on};
use gatehouse_core::decide::TraceStep;
use serde::Serialize;
use uuid::Uuid;

/// An event with names, and its trace when the agent recorded one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventRecord,
    /// The person holding the credential (`person_id`), if any.
    pub person_name: Option<String>,
    /// The visitor (`visit_id`), if any.
    pub visitor_name: Option<String>,
    /// The person's employer, or the visitor's organisation.
    pub organisation: Option<String>,
    /// For a visitor: their host.
    pub host_person_id: Option<Uuid>,
    pub host_name: Option<String>,
    pub door_name: Option<String>,
    /// The zone the door leads into (`zone_id`).
    pub zone_name: Option<String>,
    /// The door's site.
    pub site_id: Option<Uuid>,
    pub site_name: Option<String>,
    pub agent_name: String,
    /// Every rule the door checked, in order, up to the one that decided, as the door
    /// decided at `occurred_at` (with its policy `policy_version`). Absent on events
    /// other than presentations and on presentations from agents that did not record it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceStep>>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    event: EventRecord,
    trace: Option<String>,
    person_name: Option<String>,
    visitor_name: Option<String>,
    organisation: Option<String>,
    host_person_id: Option<Uuid>,
    host_name: Option<String>,
    door_name: Option<String>,
    zone_name: Option<String>,
    site_id: Option<Uuid>,
    site_name: Option<String>,
    agent_name: String,
}

const DETAIL: &str = "SELECT e.id, e.agent_id, e.seq, e.occurred_at, e.received_at, e.door_id, \
    e.kind, e.reader, e.direction, e.card, e.outcome, e.reason, e.person_id, e.visit_id, \
    e.credential_id, e.zone_id, e.policy_version, e.released_by, e.release_of, e.trace, \
    p.name AS person_name, v.visitor_name, COALESCE(p.employer, v.visitor_organisation) \
    AS organisation, v.host_person_id, h.name AS host_name, d.name AS door_name, \
    z.name AS zone_name, d.site_id, s.name AS site_name, a.name AS agent_name \
    FROM access_events e JOIN agents a ON a.id = e.agent_id \
    LEFT JOIN people p ON p.id = e.person_id \
    LEFT JOIN visits v ON v.id = e.visit_id \
    LEFT JOIN people h ON h.id = v.host_person_id \
    LEFT JOIN doors d ON d.id = e.door_id \
    LEFT JOIN zones z ON z.id = e.zone_id \
    LEFT JOIN sites s ON s.id = d.site_id \
    WHERE e.id = $1";

impl Store {
    /// The event `id` with names and trace; `NotFound` if there is none.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn event_detail(&self, id: Uuid) -> Result<EventDetail, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, DetailRow>(DETAIL)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        let trace = row.trace.as_deref().and_then(|text| {
            serde_json::from_str(text)
                .inspect_err(|e| tracing::warn!(error = %e, "a stored trace does not read"))
                .ok()
        });
        Ok(EventDetail {
            event: row.event,
            person_name: row.person_name,
            visitor_name: row.visitor_name,
            organisation: row.organisation,
            host_person_id: row.host_person_id,
            host_name: row.host_name,
            door_name: row.door_name,
            zone_name: row.zone_name,
            site_id: row.site_id,
            site_name: row.site_name,
            agent_name: row.agent_name,
            trace,
        })
    }
}
