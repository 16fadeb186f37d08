//! What the visit flow tells people: the visitor's invitation email (with the check-in
//! code as a QR code and a calendar entry) and the host's arrival notice (email and
//! webhooks). Each is enqueued right after the change it tells of is committed; a
//! notification that cannot be enqueued is logged and does not undo the change (the
//! visitor is checked in whether or not the host's email could be queued).

use crate::notify::{Arrival, Invitation};
use crate::state::AppState;
use crate::store::{StoreError, VisitRecord, now};
use chrono_tz::Tz;

/// A visit's site name and time zone (UTC and "the site" when it has none).
async fn site_of(state: &AppState, visit: &VisitRecord) -> Result<(String, Tz), StoreError> {
    match visit.site_id {
        Some(id) => {
            let site = state.store.site(id).await?;
            Ok((site.name, site.timezone.parse().unwrap_or(Tz::UTC)))
        }
        None => Ok(("the site".to_owned(), Tz::UTC)),
    }
}

/// Invitation emails for the visits whose visitor gave an address.
pub async fn invitations(state: &AppState, visits: &[VisitRecord]) {
    let mut queued = Vec::new();
    for visit in visits {
        match invitation(state, visit).await {
            Ok(Some(n)) => queued.push(n),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, visit = %visit.id, "invitation not built"),
        }
    }
    enqueue(state, &queued).await;
}

async fn invitation(
    state: &AppState,
    visit: &VisitRecord,
) -> Result<Option<crate::store::notifications::NewNotification>, StoreError> {
    let Some(visitor_id) = visit.visitor_id else {
        return Ok(None);
    };
    let Some(email) = state.store.visitor(visitor_id).await?.email else {
        return Ok(None);
    };
    let Some(code) = visit.check_in_code.clone() else {
        return Ok(None);
    };
    let (site_name, tz) = site_of(state, visit).await?;
    let host_name = state.store.person(visit.host_person_id).await?.name;
    Ok(Some(state.notifier.invitation(&Invitation {
        visit_id: visit.id,
        visitor_name: visit.visitor_name.clone(),
        visitor_email: email,
        host_name,
        site_name,
        tz,
        window_start: visit.window_start,
        window_end: visit.window_end,
        purpose: visit.purpose.clone(),
        check_in_code: crate::store::display_check_in_code(&code),
        escort_required: visit.escort_required,
    })))
}

/// The host's arrival notice: an email to the host's address, and every webhook.
pub async fn arrival(state: &AppState, visit: &VisitRecord) {
    let built = async {
        let host = state.store.person(visit.host_person_id).await?;
        let host_email = state.store.person_email(visit.host_person_id).await?;
        let (site_name, tz) = site_of(state, visit).await?;
        Ok::<_, StoreError>(state.notifier.arrival(&Arrival {
            visit_id: visit.id,
            visitor_name: visit.visitor_name.clone(),
            visitor_organisation: visit.visitor_organisation.clone(),
            host_name: host.name,
            host_email,
            site_name,
            tz,
            arrived_at: visit.checked_in_at.unwrap_or_else(now),
        }))
    };
    match built.await {
        Ok(notices) => enqueue(state, &notices).await,
        Err(error) => tracing::warn!(%error, visit = %visit.id, "arrival notice not built"),
    }
}

async fn enqueue(state: &AppState, notices: &[crate::store::notifications::NewNotification]) {
    if notices.is_empty() {
        return;
    }
    match state.store.enqueue_notifications(notices).await {
        Ok(()) => state.notifier.wake(),
        Err(error) => tracing::warn!(%error, "notifications not enqueued"),
    }
}
