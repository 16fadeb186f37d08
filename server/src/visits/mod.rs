//! The visit flow, shared by the API and the console so both apply the same checks:
//! who may invite whom (a host only its own visitors), the visit rules security set
//! ([`rules`]), group and recurring invitations, and the lifecycle steps.

mod notices;
pub mod rules;
mod screen;
pub mod words;

use crate::api::error::ApiError;
use crate::api::routes::access::current;
use crate::api::time::Timestamp;
use crate::domain::visit::{VisitInput, VisitorInput};
use crate::state::AppState;
use crate::store::{Actor, NewVisit, StoreError, VisitRecord};
use chrono::{Duration, NaiveDate};
use gatehouse_core::decide::person_may_enter;
use gatehouse_core::role::Role;
use rules::{Facts, Judged, judge};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most visitors on one group invitation.
pub const MAX_GROUP: usize = 50;
/// Most occurrences of a recurring visit (a year of weeks).
pub const MAX_OCCURRENCES: usize = 53;

/// Who is asking, as the visit flow needs it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// The person a host's account is linked to.
    pub person_id: Option<Uuid>,
    pub actor: Actor,
}

impl Caller {
    /// The caller for an operator; a host's linked person is looked up.
    pub async fn of(
        state: &AppState,
        operator_id: Uuid,
        role: Role,
        actor: Actor,
    ) -> Result<Caller, ApiError> {
        let person_id = match role {
            Role::Host => state.store.operator(operator_id).await?.person_id,
            _ => None,
        };
        Ok(Caller {
            role,
            person_id,
            actor,
        })
    }

    /// Whether the caller may see (and act on) this visit: a host only its own.
    pub fn may_see(&self, visit: &VisitRecord) -> bool {
        self.role != Role::Host || self.person_id == Some(visit.host_person_id)
    }

    /// A host invites only its own visitors, and only once linked to a person.
    fn may_host(&self, host_person_id: Uuid) -> Result<(), ApiError> {
        match self.role {
            Role::Host if self.person_id != Some(host_person_id) => Err(ApiError::Forbidden),
            _ => Ok(()),
        }
    }
}

/// The visit `id` if the caller may see it (a host's other visits are "not found").
pub async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<VisitRecord, ApiError> {
    let visit = state.store.visit(id).await.map_err(not_found)?;
    if caller.may_see(&visit) {
        Ok(visit)
    } else {
        Err(ApiError::NotFound("visit"))
    }
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("visit"),
        other => other.into(),
    }
}

/// Judges `new` against the visit rules and the host's access; sets its site, escort
/// and approval. Outside the rules: a 422 naming every rule broken, or, where the site
/// allows it, the visit waits for a security officer's approval.
async fn apply_rules(
    state: &AppState,
    new: &mut NewVisit,
    site_id: Option<Uuid>,
) -> Result<(), ApiError> {
    match state.store.person(new.host_person_id).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::field("host_person_id", "no such person"));
        }
        other => other?,
    };
    let judged = judged(state, new, site_id).await?;
    new.site_id = judged.site_id;
    new.escort_required = judged.escort_required;
    new.approval_reason = None;
    if judged.outside_rules.is_empty() {
        return Ok(());
    }
    let approval = match judged.site_id {
        Some(site) => {
            state
                .store
                .site_visit_settings(site)
                .await?
                .approval_outside_rules
        }
        None => false,
    };
    let reasons = judged.outside_rules.join("; ");
    if approval {
        new.approval_reason = Some(reasons);
        Ok(())
    } else {
        Err(ApiError::field("allowed_zone_ids", reasons))
    }
}

async fn judged(
    state: &AppState,
    new: &NewVisit,
    site_id: Option<Uuid>,
) -> Result<Judged, ApiError> {
    let requested: Vec<Uuid> = new.allowed_zone_ids.iter().copied().collect();
    let zones = state.store.visitor_zones_by_id(&requested).await?;
    let compiled = current(state).await?;
    let host_may_enter: BTreeMap<Uuid, Result<(), String>> = requested
        .iter()
        .map(|&zone| {
            let answer =
                person_may_enter(&compiled.policy, new.host_person_id, zone, new.window_start);
            (zone, answer.map_err(|(_, why)| why))
        })
        .collect();
    let facts = Facts {
        requested: &requested,
        zones: &zones,
        window_minutes: (new.window_end - new.window_start).num_minutes(),
        escort_asked: new.escort_required,
        host_may_enter: &host_may_enter,
        site_id,
    };
    Ok(judge(&facts)?)
}

/// An invitation: one or more visitors (a group), once or every week until a date.
pub struct Invitation {
    pub visit: VisitInput,
    /// More visitors on the same invitation, each with their own visit.
    pub others: Vec<VisitorInput>,
    pub site_id: Option<Uuid>,
    /// Repeat weekly (same weekday and time) while the start date is on or before this.
    pub weekly_until: Option<NaiveDate>,
}

/// Registers an invitation's visits, every one judged by the rules; all or none.
pub async fn invite(
    state: &AppState,
    caller: &Caller,
    inv: Invitation,
) -> Result<Vec<VisitRecord>, ApiError> {
    caller.may_host(inv.visit.host_person_id)?;
    if inv.others.len() + 1 > MAX_GROUP {
        return Err(ApiError::field(
            "visitors",
            format!("at most {MAX_GROUP} visitors"),
        ));
    }
    let starts = occurrences(&inv)?;
    let mut first = NewVisit::parse(inv.visit.clone())?;
    apply_rules(state, &mut first, inv.site_id).await?;
    let group = !inv.others.is_empty();
    let invitation_id = group.then(Uuid::now_v7);
    let series_id = (starts.len() > 1).then(Uuid::now_v7);
    let mut visitors = vec![inv.visit.visitor.clone()];
    visitors.extend(inv.others.iter().cloned());
    let mut parsed = Vec::with_capacity(visitors.len());
    for (i, visitor) in visitors.into_iter().enumerate() {
        let visitor_id = if i == 0 { inv.visit.visitor_id } else { None };
        let input = VisitInput {
            visitor,
            visitor_id,
            ..inv.visit.clone()
        };
        parsed.push(NewVisit::parse(input).map_err(|p| prefixed(p, i))?);
    }
    // Checked first, so an invitation is registered whole unless the database fails.
    let mut created = Vec::with_capacity(parsed.len() * starts.len());
    for visit in parsed {
        let mut visitor_id = visit.visitor_id;
        for &shift in &starts {
            let new = NewVisit {
                window_start: visit.window_start + shift,
                window_end: visit.window_end + shift,
                site_id: first.site_id,
                escort_required: first.escort_required,
                approval_reason: first.approval_reason.clone(),
                invitation_id,
                series_id,
                // Every occurrence is the same visitor (documents, screening history).
                visitor_id,
                ..visit.clone()
            };
            let record = state.store.create_visit(new, &caller.actor).await?;
            screen::at_invitation(state, &record, &caller.actor).await?;
            visitor_id = record.visitor_id;
            created.push(record);
        }
    }
    notices::invitations(state, &created).await;
    Ok(created)
}

/// The shifts of each occurrence from the first (just zero for a single visit).
fn occurrences(inv: &Invitation) -> Result<Vec<Duration>, ApiError> {
    let Some(until) = inv.weekly_until else {
        return Ok(vec![Duration::zero()]);
    };
    let first = inv.visit.window_start.naive_utc().date();
    if until < first {
        return Err(ApiError::field("weekly_until", "is before the first visit"));
    }
    let weeks = (until - first).num_days() / 7 + 1;
    if weeks > MAX_OCCURRENCES as i64 {
        return Err(ApiError::field(
            "weekly_until",
            format!("at most {MAX_OCCURRENCES} weeks"),
        ));
    }
    // Every visit within the range a single one is held to (its window a Timestamp).
    let last_end = inv
        .visit
        .window_end
        .checked_add_signed(Duration::weeks(weeks - 1));
    if last_end.and_then(Timestamp::new).is_none() {
        return Err(ApiError::field(
            "weekly_until",
            "the last visit would end after 9999-12-31",
        ));
    }
    Ok((0..weeks).map(Duration::weeks).collect())
}

/// Field errors of the i-th visitor of a group under `visitors[i].…`.
fn prefixed(problems: crate::domain::FieldErrors, i: usize) -> ApiError {
    if i == 0 {
        return problems.into();
    }
    let problems = problems
        .into_iter()
        .map(|(k, v)| {
            (
                format!("visitors[{}].{}", i - 1, k.trim_start_matches("visitor_")),
                v,
            )
        })
        .collect();
    ApiError::Validation(problems)
}

/// Changes an upcoming visit (purpose, window, zones, escort), judged again.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    input: VisitInput,
) -> Result<VisitRecord, ApiError> {
    let before = visible(state, caller, id).await?;
    caller.may_host(before.host_person_id)?;
    let input = VisitInput {
        host_person_id: before.host_person_id,
        ..input
    };
    let mut change = NewVisit::parse(input)?;
    apply_rules(state, &mut change, before.site_id).await?;
    let updated = state.store.update_visit(id, change, &caller.actor).await;
    updated.map_err(crate::api::routes::site_model::not_found("visit"))
}

/// Cancels an upcoming visit; its pre-issued cards stop working.
pub async fn cancel(state: &AppState, caller: &Caller, id: Uuid) -> Result<VisitRecord, ApiError> {
    let visit = visible(state, caller, id).await?;
    caller.may_host(visit.host_person_id)?;
    state
        .store
        .cancel_visit(id, &caller.actor)
        .await
        .map_err(not_found)
}

/// A security officer approves a visit outside the rules.
pub async fn approve(state: &AppState, caller: &Caller, id: Uuid) -> Result<VisitRecord, ApiError> {
    state
        .store
        .approve_visit(id, &caller.actor)
        .await
        .map_err(not_found)
}

/// Checks a visitor in. A visit not approved as an exception is judged again (the
/// rules may have changed since the invitation): outside them, 409 naming why.
pub async fn check_in(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<VisitRecord, ApiError> {
    let visit = visible(state, caller, id).await?;
    if visit.approval_reason.is_none() && visit.status == crate::store::VisitStatus::Invited {
        let now = NewVisit {
            host_person_id: visit.host_person_id,
            window_start: visit.window_start.max(crate::store::now()),
            window_end: visit.window_end,
            allowed_zone_ids: visit.allowed_zone_ids.iter().copied().collect(),
            ..NewVisit::default()
        };
        let judged = judged(state, &now, visit.site_id).await?;
        if !judged.outside_rules.is_empty() {
            let why = format!(
                "the visit no longer keeps the visit rules: {}",
                judged.outside_rules.join("; ")
            );
            return Err(ApiError::Conflict(why));
        }
    }
    screen::before_check_in(state, &visit, &caller.actor).await?;
    let visit = state
        .store
        .check_in_visit(id, &caller.actor)
        .await
        .map_err(not_found)?;
    notices::arrival(state, &visit).await;
    Ok(visit)
}

/// Checks a visitor out; the visit's cards stop working.
pub async fn check_out(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<VisitRecord, ApiError> {
    visible(state, caller, id).await?;
    state
        .store
        .check_out_visit(id, &caller.actor)
        .await
        .map_err(not_found)
}
