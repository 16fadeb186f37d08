//! `/visits/{id}`: one visit in words with the actions its status and the user's role
//! allow, and the places the other parts of issue 13 fill (screening, documents, badge,
//! card, notifications); the check-in code box's lookup; and the actions themselves,
//! each `crate::visits`' step (the API's).

use super::words::{self, Line};
use super::{caller, may};
use crate::api::error::ApiError;
use crate::auth::permissions::{InviteVisitors, ManageVisitRules, ReadVisits, WriteVisits};
use crate::console::desk::visitor_cards::HandOutCard;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::watchlist::ScreeningOutcome;
use crate::store::{StoreError, VisitFilter, VisitRecord, VisitStatus, display_check_in_code};
use crate::visits;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

/// Visitor details only the desk sees.
pub struct Contact {
    pub email: String,
    pub phone: String,
    pub id_document: String,
}

#[derive(Template)]
#[template(path = "visit.html")]
struct VisitPage {
    chrome: Chrome,
    v: Line,
    purpose: String,
    visit_type: String,
    zones: Vec<String>,
    escort: bool,
    code: String,
    approval_reason: Option<String>,
    contact: Option<Contact>,
    group: Vec<Line>,
    series: Vec<Line>,
    may_check_in: bool,
    may_check_out: bool,
    may_cancel: bool,
    may_approve: bool,
    may_edit: bool,
    /// The last watchlist screening, in words (desk and security roles).
    screening: Option<String>,
    /// A match nobody has decided on yet.
    screening_awaits: bool,
    /// For the badge links.
    visit_id: Uuid,
    may_print: bool,
    documents_due: Option<usize>,
    hand_out: Option<crate::console::desk::visitor_cards::HandOutCard>,
    notices: Vec<NoticeLine>,
    /// The visitor's photo box: `None` when there is nothing to show or do.
    photo: Option<PhotoBox>,
}

/// Whether the visitor has a photo and whether the user may change it.
struct PhotoBox {
    present: bool,
    may_change: bool,
}

/// A notification about the visit, in words.
struct NoticeLine {
    what: String,
    to: String,
    state: String,
    error: String,
}

/// `GET /visits/{id}` (a host's other visits are "not found").
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let visit = visits::visible(&state, &caller, id).await?;
    let names = Names::load(&state.store).await?;
    let mut hosts = PeopleNames::default();
    let store = &state.store;
    let mut zones: Vec<String> = visit
        .allowed_zone_ids
        .iter()
        .map(|z| names.zone(*z).to_owned())
        .collect();
    zones.sort();
    let desk = may::<WriteVisits, _>(&user);
    let contact = match (desk, visit.visitor_id) {
        (true, Some(visitor)) => store.visitor_contact(visitor).await?.map(|c| Contact {
            email: c.email.unwrap_or_default(),
            phone: c.phone.unwrap_or_default(),
            id_document: match (c.id_document_type, c.id_document_last_digits) {
                (Some(kind), Some(digits)) => format!("{kind}, ending {digits}"),
                (Some(kind), None) => kind,
                (None, Some(digits)) => format!("ending {digits}"),
                (None, None) => String::new(),
            },
        }),
        _ => None,
    };
    let mut group = Vec::new();
    if let Some(invitation) = visit.invitation_id {
        let filter = VisitFilter {
            invitation_id: Some(invitation),
            ..VisitFilter::default()
        };
        let mut others = store.search_visits(&filter, None, 500).await?;
        others.retain(|o| {
            o.id != visit.id && caller.may_see(o) && o.window_start == visit.window_start
        });
        group = Line::all(&others, &names, &mut hosts, store).await?;
    }
    let mut series = Vec::new();
    if let (Some(series_id), Some(visitor)) = (visit.series_id, visit.visitor_id) {
        let filter = VisitFilter {
            visitor_id: Some(visitor),
            ..VisitFilter::default()
        };
        let mut others = store.search_visits(&filter, None, 500).await?;
        others.retain(|o| o.id != visit.id && o.series_id == Some(series_id));
        others.sort_by_key(|o| o.window_start);
        series = Line::all(&others, &names, &mut hosts, store).await?;
    }
    let upcoming = visit.status.upcoming();
    let live = upcoming || visit.status == VisitStatus::CheckedIn;
    let documents_due = match desk && live {
        true => Some(
            store
                .documents_due(visit.id, crate::store::now())
                .await?
                .len(),
        ),
        false => None,
    };
    let hand_out = match (
        desk && visit.status == VisitStatus::CheckedIn,
        visit.site_id,
    ) {
        (true, Some(site)) => {
            let back = format!("/visits/{}", visit.id);
            Some(HandOutCard::load(store, site, visit.id, &back).await?)
        }
        _ => None,
    };
    let notices = match desk {
        true => notices(&state, &names, &visit).await?,
        false => Vec::new(),
    };
    let screening = match desk || may::<ManageVisitRules, _>(&user) {
        true => store.visit_trails(&[visit.id]).await?.remove(&visit.id),
        false => None,
    }
    .and_then(|trail| trail.screening);
    let screening_awaits = screening
        .as_ref()
        .is_some_and(|s| s.outcome != ScreeningOutcome::Clear && s.decision.is_none());
    let photo = match visit.visitor_id {
        Some(visitor) => store.visitor_has_photo(visitor).await?,
        None => None,
    }
    .map(|present| PhotoBox {
        present,
        may_change: may::<InviteVisitors, _>(&user),
    })
    .filter(|p| p.present || p.may_change);
    let line = Line::of(&visit, &names, &mut hosts, store).await?;
    let title = format!("Visit of {}", visit.visitor_name);
    Ok(render(VisitPage {
        chrome: Chrome::new(&user.principal, "/visits", title),
        purpose: visit.purpose.clone().unwrap_or_default(),
        visit_type: visit.visit_type.replace('_', " "),
        zones,
        escort: visit.escort_required,
        code: visit
            .check_in_code
            .as_deref()
            .map(display_check_in_code)
            .unwrap_or_default(),
        approval_reason: visit.approval_reason.clone(),
        contact,
        group,
        series,
        may_check_in: desk && visit.status == VisitStatus::Invited,
        may_check_out: desk && visit.status == VisitStatus::CheckedIn,
        may_cancel: may::<InviteVisitors, _>(&user) && upcoming,
        may_approve: may::<ManageVisitRules, _>(&user)
            && visit.status == VisitStatus::AwaitingApproval,
        may_edit: may::<InviteVisitors, _>(&user) && upcoming,
        screening: screening.as_ref().map(super::log::screening_words),
        screening_awaits,
        visit_id: visit.id,
        may_print: desk && live && visit.check_in_code.is_some(),
        documents_due,
        hand_out,
        notices,
        photo,
        v: line,
    }))
}

/// The visit's notifications, oldest first, in words and site-local times.
async fn notices(
    state: &AppState,
    names: &Names,
    visit: &crate::store::VisitRecord,
) -> Result<Vec<NoticeLine>, Failure> {
    use crate::store::notifications::{NotificationKind, NotificationState};
    let records = state.store.notifications_for_visit(visit.id).await?;
    Ok(records
        .into_iter()
        .map(|n| NoticeLine {
            what: match n.kind {
                NotificationKind::Invitation => "Invitation".to_owned(),
                NotificationKind::Arrival => "Arrival notice to the host".to_owned(),
            },
            to: n.recipient,
            state: match n.state {
                NotificationState::Pending => format!("waiting (attempt {})", n.attempts + 1),
                NotificationState::Sent => "sent".to_owned(),
                NotificationState::Failed => match n.attempts {
                    1 => "failed after 1 attempt".to_owned(),
                    tries => format!("failed after {tries} attempts"),
                },
            } + &format!(", {}", names.time(n.created_at, visit.site_id)),
            error: n.last_error.unwrap_or_default(),
        })
        .collect())
}

#[derive(Deserialize)]
pub struct Code {
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "visit_code.html")]
struct CodeMissing {
    chrome: Chrome,
    code: String,
}

/// `GET /visits/code?code=…`: the check-in code box (typed, or a keyboard-wedge scanner's
/// code and Enter) leads to that visit's page.
pub async fn by_code(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Query(code): Query<Code>,
) -> Result<Response, Failure> {
    let typed: String = code.code.trim().chars().take(64).collect();
    let caller = caller(&state, &user).await?;
    let found = match typed.is_empty() {
        true => None,
        false => match state.store.visit_by_code(&typed).await {
            Ok(visit) => Some(visit).filter(|v| caller.may_see(v)),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
    };
    Ok(match found {
        Some(visit) => Redirect::to(&format!("/visits/{}", visit.id)).into_response(),
        None => {
            let page = CodeMissing {
                chrome: Chrome::new(&user.principal, "/visits", "No visit with this code"),
                code: typed,
            };
            (StatusCode::NOT_FOUND, render(page)).into_response()
        }
    })
}

/// Where an action goes back to: the list it was pressed on, or the visit's page.
#[derive(Deserialize, Default)]
pub struct Back {
    #[serde(default)]
    back: String,
}

impl Back {
    fn to(&self, visit: &VisitRecord) -> Response {
        let path = match self.back.as_str() {
            "list" => "/visits".to_owned(),
            _ => format!("/visits/{}", visit.id),
        };
        Redirect::to(&path).into_response()
    }
}

macro_rules! step {
    ($name:ident, $permission:ident, $call:path) => {
        #[doc = concat!("`POST /visits/{id}/…`: `", stringify!($call), "`.")]
        pub async fn $name(
            State(state): State<AppState>,
            user: Console<$permission>,
            Path(id): Path<Uuid>,
            Form(back): Form<Back>,
        ) -> Result<Response, Failure> {
            let caller = caller(&state, &user).await?;
            let visit = $call(&state, &caller, id).await?;
            Ok(back.to(&visit))
        }
    };
}

step!(check_in, WriteVisits, visits::check_in);
step!(check_out, WriteVisits, visits::check_out);
step!(cancel, InviteVisitors, visits::cancel);
step!(approve, ManageVisitRules, visits::approve);

/// One visitor's check-in as the result page reports it.
pub struct Outcome {
    pub visitor: String,
    pub id: Uuid,
    /// `None`: checked in; else why not.
    pub refused: Option<String>,
}

#[derive(Template)]
#[template(path = "visits_checked_in.html")]
struct CheckedIn {
    chrome: Chrome,
    outcomes: Vec<Outcome>,
    failed: usize,
}

/// Checks in each visit in turn with the API's step; one refused does not stop the rest.
pub(super) async fn check_in_each(
    state: &AppState,
    caller: &visits::Caller,
    visits: &[VisitRecord],
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(visits.len());
    for v in visits {
        let refused = match visits::check_in(state, caller, v.id).await {
            Ok(_) => None,
            Err(error) => Some(refusal(error)),
        };
        outcomes.push(Outcome {
            visitor: v.visitor_name.clone(),
            id: v.id,
            refused,
        });
    }
    outcomes
}

/// An error of the visit flow in words.
fn refusal(error: ApiError) -> String {
    match error {
        ApiError::Validation(fields) => fields
            .into_iter()
            .map(|(f, p)| format!("{}: {p}", f.replace('_', " ")))
            .collect::<Vec<_>>()
            .join("; "),
        ApiError::Internal(inner) => {
            tracing::error!(error = %format!("{inner:#}"), "group check-in");
            "internal error".to_owned()
        }
        other => other.to_string(),
    }
}

/// The page reporting check-ins of several visitors.
pub(super) fn report(user_chrome: Chrome, outcomes: Vec<Outcome>) -> Response {
    let failed = outcomes.iter().filter(|o| o.refused.is_some()).count();
    let status = if failed == 0 {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    let page = CheckedIn {
        chrome: user_chrome,
        outcomes,
        failed,
    };
    (status, render(page)).into_response()
}

/// `POST /visits/invitations/{id}/check-in`: "Check in all N" of a group invitation,
/// those expected today; reports which were refused and why.
pub async fn check_in_group(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Path(invitation): Path<Uuid>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let names = Names::load(&state.store).await?;
    let filter = VisitFilter {
        invitation_id: Some(invitation),
        statuses: vec![VisitStatus::Invited],
        ..VisitFilter::default()
    };
    let mut today = state.store.search_visits(&filter, None, 500).await?;
    today.retain(|v| caller.may_see(v) && words::overlaps_today(v, &names));
    if today.is_empty() {
        return Err(ApiError::NotFound("visitor of this invitation expected today").into());
    }
    today.sort_by_key(|v| (v.window_start, v.id));
    let outcomes = check_in_each(&state, &caller, &today).await;
    let chrome = Chrome::new(&user.principal, "/visits", "Group check-in");
    Ok(report(chrome, outcomes))
}
