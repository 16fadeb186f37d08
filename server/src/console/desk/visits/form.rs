//! `/visits/new`: the invitation form (one visitor or a group, once or weekly, and for
//! the desk a walk-in checked in at once), and `/visits/{id}/edit` for an upcoming visit.
//! A refusal re-renders the form with what was typed and every problem the visit flow
//! named (a 422 from the visit rules names each rule broken).

use super::detail::{check_in_each, report};
use super::entered::{EXTRA_ROWS, Entered, Other, entered_of, given, when, zone_of};
use super::{caller, may};
use crate::api::error::ApiError;
use crate::auth::permissions::{InviteVisitors, WriteVisits};
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time::read_date;
use crate::domain::visit::{VisitInput, VisitorInput};
use crate::state::AppState;
use crate::store::{PersonRecord, VisitRecord, VisitorZone, now};
use crate::visits::words::minutes;
use crate::visits::{self, Caller, Invitation};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use gatehouse_core::local_time::{in_zone, local_date};
use gatehouse_core::model::PersonStatus;
use gatehouse_core::role::Role;
use uuid::Uuid;

pub struct ZoneChoice {
    pub id: Uuid,
    pub label: String,
    pub chosen: bool,
}

pub struct SiteZones {
    pub site: String,
    pub zones: Vec<ZoneChoice>,
}

#[derive(Template)]
#[template(path = "visit_form.html")]
struct FormPage {
    chrome: Chrome,
    /// `Some(visit)` when editing it.
    editing: Option<Uuid>,
    e: Entered,
    /// The visit rules' refusal or another problem, in words.
    message: Option<String>,
    problems: Vec<(String, String)>,
    /// A host's own person, fixed; else the people to choose from.
    own_host: Option<String>,
    hosts: Vec<(Uuid, String)>,
    sites: Vec<(Uuid, String)>,
    zones: Vec<SiteZones>,
    desk: bool,
}

impl FormPage {
    fn host_chosen(&self, id: &Uuid) -> bool {
        self.e.host.trim() == id.to_string()
    }

    fn site_chosen(&self, id: &Uuid) -> bool {
        self.e.site.trim() == id.to_string()
    }
}

/// A field's name as the form labels it.
fn field_words(field: &str) -> String {
    let words = match field {
        "visitor_name" => "Visitor's name",
        "visitor_organisation" => "Organisation",
        "visitor_email" => "Email",
        "visitor_phone" => "Phone",
        "visitor_id_document_type" => "ID document type",
        "visitor_id_document_last_digits" => "ID document's last digits",
        "host_person_id" => "Host",
        "site_id" => "Site",
        "allowed_zone_ids" => "Zones (visit rules)",
        "window_start" | "start" => "Start",
        "window_end" | "end" => "End",
        "date" => "Date",
        "purpose" => "Purpose",
        "visit_type" => "Type",
        "weekly_until" => "Repeat weekly until",
        "visitors" => "Visitors",
        other => return other.replace('_', " "),
    };
    words.to_owned()
}

/// Everything the form offers, with what was entered and what went wrong.
struct Refusal {
    message: Option<String>,
    problems: Vec<(String, String)>,
}

impl Refusal {
    fn fields(fields: crate::domain::FieldErrors) -> Refusal {
        Refusal {
            message: Some("The visit was not registered. Please correct:".to_owned()),
            problems: fields
                .into_iter()
                .map(|(f, p)| (field_words(&f), p))
                .collect(),
        }
    }

    /// A refusal shown on the form; a server failure stays an error page.
    fn of(error: ApiError) -> Result<Refusal, Failure> {
        match error {
            ApiError::Validation(fields) => Ok(Refusal::fields(fields)),
            ApiError::Forbidden => Ok(Refusal {
                message: Some(
                    "Your role does not allow this visit (a host invites only its own \
                     visitors)."
                        .to_owned(),
                ),
                problems: Vec::new(),
            }),
            ApiError::NotFound(_) | ApiError::Conflict(_) => Ok(Refusal {
                message: Some(error.to_string()),
                problems: Vec::new(),
            }),
            other => Err(other.into()),
        }
    }
}

async fn people(state: &AppState) -> Result<Vec<(Uuid, String)>, Failure> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page: Vec<PersonRecord> = state.store.list_people(after, None, 1000).await?;
        after = page.last().map(|p| p.id);
        let full = page.len() == 1000;
        out.extend(
            page.into_iter()
                .filter(|p| p.status == PersonStatus::Active)
                .map(|p| (p.id, p.name)),
        );
        if !full || out.len() >= 10_000 {
            break;
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// The zones open to visitors, by site, each with its longest visit and escort rule.
fn zone_choices(open: &[VisitorZone], e: &Entered) -> Vec<SiteZones> {
    let mut sites: Vec<SiteZones> = Vec::new();
    for z in open {
        let mut label = format!(
            "{} — visits up to {}",
            z.zone_name,
            minutes(z.longest_visit_minutes.unwrap_or(0))
        );
        if z.escort_required {
            label.push_str(", escort required");
        }
        let choice = ZoneChoice {
            id: z.zone_id,
            label,
            chosen: e.has_zone(&z.zone_id),
        };
        match sites.last_mut() {
            Some(last) if last.site == z.site_name => last.zones.push(choice),
            _ => sites.push(SiteZones {
                site: z.site_name.clone(),
                zones: vec![choice],
            }),
        }
    }
    sites
}

async fn form_page(
    state: &AppState,
    user: &Console<InviteVisitors>,
    caller: &Caller,
    editing: Option<&VisitRecord>,
    e: Entered,
    refusal: Option<Refusal>,
) -> Result<Response, Failure> {
    let open = state.store.visitor_zones(None, true).await?;
    let mut sites: Vec<(Uuid, String)> = Vec::new();
    for z in &open {
        if !sites.iter().any(|(id, _)| *id == z.site_id) {
            sites.push((z.site_id, z.site_name.clone()));
        }
    }
    let mut names = PeopleNames::default();
    let (own_host, hosts) = match (caller.role, editing) {
        (_, Some(v)) => (
            Some(names.name(&state.store, v.host_person_id).await?),
            Vec::new(),
        ),
        (Role::Host, None) => match caller.person_id {
            Some(me) => (Some(names.name(&state.store, me).await?), Vec::new()),
            None => {
                return Err(ApiError::Conflict(
                    "your account is not linked to a person; ask an administrator".into(),
                )
                .into());
            }
        },
        _ => (None, people(state).await?),
    };
    let title = match editing {
        Some(v) => format!("Edit the visit of {}", v.visitor_name),
        None => "Invite a visitor".to_owned(),
    };
    let status = match refusal {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    let (message, problems) = refusal.map_or((None, Vec::new()), |r| (r.message, r.problems));
    let page = FormPage {
        chrome: Chrome::new(&user.principal, "/visits", title),
        editing: editing.map(|v| v.id),
        zones: zone_choices(&open, &e),
        e,
        message,
        problems,
        own_host,
        hosts,
        sites,
        desk: may::<WriteVisits, _>(user) && editing.is_none(),
    };
    Ok((status, render(page)).into_response())
}

/// `GET /visits/new`: today, from the next full hour, for two hours.
pub async fn new(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.only_site());
    let local = in_zone(Utc::now(), tz);
    let next_hour = local + chrono::Duration::minutes(60);
    let e = Entered {
        others: vec![Other::default(); EXTRA_ROWS],
        site: names.only_site().map(|s| s.to_string()).unwrap_or_default(),
        date: local.format("%Y-%m-%d").to_string(),
        start: next_hour.format("%H:00").to_string(),
        end: (next_hour + chrono::Duration::hours(2))
            .format("%H:00")
            .to_string(),
        ..Entered::default()
    };
    form_page(&state, &user, &caller, None, e, None).await
}

/// `POST /visits/new`: invites (each visitor of a group, each week of a series) with
/// `crate::visits::invite`; a walk-in (desk roles) is checked in at once.
pub async fn invite(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let e = Entered::from_pairs(pairs);
    let walk_in = e.walk_in && may::<WriteVisits, _>(&user);
    let names = Names::load(&state.store).await?;
    let open = state.store.visitor_zones(None, true).await?;
    let (site_id, tz) = zone_of(&e, &names, &open);
    let mut problems = crate::domain::FieldErrors::new();
    let host_person_id = match caller.role {
        Role::Host => caller.person_id,
        _ => match given(&e.host).map(|h| h.parse::<Uuid>()) {
            Some(Ok(id)) => Some(id),
            _ => {
                problems.insert("host_person_id".into(), "choose the person visited".into());
                None
            }
        },
    };
    let weekly_until = match read_date(&e.weekly_until) {
        Ok(d) => d,
        Err(problem) => {
            problems.insert("weekly_until".into(), problem.into());
            None
        }
    };
    let window = when(&e, tz, walk_in).map_err(|p| problems.extend(p)).ok();
    let (Some(host_person_id), Some(window), true) = (host_person_id, window, problems.is_empty())
    else {
        if caller.role == Role::Host && caller.person_id.is_none() {
            return form_page(&state, &user, &caller, None, e, None).await;
        }
        let refusal = Refusal::fields(problems);
        return form_page(&state, &user, &caller, None, e, Some(refusal)).await;
    };
    let visitor = VisitorInput {
        name: e.name.clone(),
        organisation: given(&e.organisation),
        email: given(&e.email),
        phone: given(&e.phone),
        date_of_birth: None,
        id_document_type: given(&e.id_type),
        id_document_last_digits: given(&e.id_digits),
    };
    let others = e
        .others
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| VisitorInput {
            name: o.name.clone(),
            organisation: given(&o.organisation),
            email: given(&o.email),
            ..VisitorInput::default()
        })
        .collect();
    let invitation = Invitation {
        visit: VisitInput {
            visitor,
            visitor_id: None,
            host_person_id,
            purpose: given(&e.purpose),
            visit_type: given(&e.visit_type),
            window_start: window.start,
            window_end: window.end,
            allowed_zone_ids: window.zones,
            escort_required: Some(e.escort),
        },
        others,
        site_id,
        weekly_until,
    };
    let created = match visits::invite(&state, &caller, invitation).await {
        Ok(created) => created,
        Err(error) => {
            let refusal = Refusal::of(error)?;
            return form_page(&state, &user, &caller, None, e, Some(refusal)).await;
        }
    };
    let Some(first) = created.first() else {
        return Err(Failure::internal("an invitation registered no visit"));
    };
    if !walk_in {
        return Ok(Redirect::to(&format!("/visits/{}", first.id)).into_response());
    }
    // A walk-in is here now: check in today's visit of each visitor.
    let today: Vec<VisitRecord> = created
        .iter()
        .filter(|v| local_date(v.window_start, tz) == local_date(now(), tz))
        .cloned()
        .collect();
    let outcomes = check_in_each(&state, &caller, &today).await;
    if outcomes.len() == 1 && outcomes.iter().all(|o| o.refused.is_none()) {
        return Ok(Redirect::to(&format!("/visits/{}", first.id)).into_response());
    }
    let chrome = Chrome::new(&user.principal, "/visits", "Walk-in check-in");
    Ok(report(chrome, outcomes))
}

/// `GET /visits/{id}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let visit = visits::visible(&state, &caller, id).await?;
    if !visit.status.upcoming() {
        return Err(ApiError::Conflict("only a visit not yet arrived can be edited".into()).into());
    }
    let names = Names::load(&state.store).await?;
    let e = entered_of(&visit, names.tz(visit.site_id));
    form_page(&state, &user, &caller, Some(&visit), e, None).await
}

/// `POST /visits/{id}/edit`: `crate::visits::update` (judged by the rules again).
pub async fn update(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let before = visits::visible(&state, &caller, id).await?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(before.site_id);
    let typed = Entered::from_pairs(pairs);
    let e = Entered {
        name: before.visitor_name.clone(),
        organisation: before.visitor_organisation.clone().unwrap_or_default(),
        ..typed
    };
    let window = match when(&e, tz, false) {
        Ok(window) => window,
        Err(problems) => {
            let refusal = Some(Refusal::fields(problems));
            return form_page(&state, &user, &caller, Some(&before), e, refusal).await;
        }
    };
    let input = VisitInput {
        visitor: VisitorInput {
            name: before.visitor_name.clone(),
            organisation: before.visitor_organisation.clone(),
            ..VisitorInput::default()
        },
        visitor_id: before.visitor_id,
        host_person_id: before.host_person_id,
        purpose: given(&e.purpose),
        visit_type: Some(before.visit_type.clone()),
        window_start: window.start,
        window_end: window.end,
        allowed_zone_ids: window.zones,
        escort_required: Some(e.escort),
    };
    match visits::update(&state, &caller, id, input).await {
        Ok(visit) => Ok(Redirect::to(&format!("/visits/{}", visit.id)).into_response()),
        Err(error) => {
            let refusal = Refusal::of(error)?;
            form_page(&state, &user, &caller, Some(&before), e, Some(refusal)).await
        }
    }
}
