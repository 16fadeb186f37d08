//! Watchlist screening in the visit flow: every visitor is screened when invited and
//! again at check-in when the list changed since; a `block` match not allowed by a
//! security officer stops the check-in (a `flag` is shown, never blocks).

use crate::api::error::ApiError;
use crate::screening::{Candidate, screen_visit};
use crate::state::AppState;
use crate::store::watchlist::{ScreeningFilter, ScreeningStage};
use crate::store::{Actor, VisitRecord};

async fn candidate(state: &AppState, visit: &VisitRecord) -> Result<Candidate, ApiError> {
    let date_of_birth = match visit.visitor_id {
        Some(id) => state.store.visitor(id).await?.date_of_birth,
        None => None,
    };
    Ok(Candidate {
        name: visit.visitor_name.clone(),
        date_of_birth,
        organisation: visit.visitor_organisation.clone(),
    })
}

/// Screens a newly invited visit (recorded in the audit trail with the list version,
/// algorithm and best score).
pub async fn at_invitation(
    state: &AppState,
    visit: &VisitRecord,
    actor: &Actor,
) -> Result<(), ApiError> {
    let candidate = candidate(state, visit).await?;
    screen_visit(
        &state.store,
        visit.id,
        candidate,
        ScreeningStage::Invitation,
        actor,
    )
    .await?;
    Ok(())
}

/// Before a check-in: screens again when the list changed since the visit's last
/// screening, then refuses (409) while a block match awaits or was refused a decision.
pub async fn before_check_in(
    state: &AppState,
    visit: &VisitRecord,
    actor: &Actor,
) -> Result<(), ApiError> {
    let filter = ScreeningFilter {
        pending: None,
        visit_id: Some(visit.id),
    };
    let last = state.store.list_screenings(filter, None, 1).await?;
    let current = state.store.watchlist_version().await?.version;
    if last.first().is_none_or(|s| s.list_version != current) {
        let candidate = candidate(state, visit).await?;
        screen_visit(
            &state.store,
            visit.id,
            candidate,
            ScreeningStage::CheckIn,
            actor,
        )
        .await?;
    }
    match state.store.check_in_blocked(visit.id).await? {
        Some(why) => Err(ApiError::Conflict(format!(
            "{why}: a security officer must decide on the watchlist match before check-in"
        ))),
        None => Ok(()),
    }
}
