//! Alarms: the open ones, most urgent first (each with its kind's instructions), filtered by site, door, kind and state; acknowledging
//! with a note (the API's check and operator-log entry); new alarms arrive live (the page
//! listens to `/alarms/stream` and re-reads its list, announcing the alarm to screen
//! readers and with a tone).

use crate::alarms::StreamShutdown;
use crate::api::error::ApiError;
use crate::api::routes::alarms::stream;
use crate::auth::permissions::{AcknowledgeAlarms, Permission, ReadAlarms};
use crate::auth::stream_holder::StreamHolder;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::{Console, cookie_hash};
use crate::domain::note;
use crate::state::AppState;
use crate::store::{Alarm, AlarmFilter, AlarmKind};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use strum::IntoEnumIterator;
use uuid::Uuid;

/// Alarms shown at once.
const SHOWN: u32 = 200;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    site: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    after: String,
}

struct Row {
    id: Uuid,
    priority: u8,
    instructions: String,
    kind: &'static str,
    at: String,
    place: String,
    who: String,
    detail: String,
    acknowledged: Option<String>,
}

#[derive(Template)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    may_acknowledge: bool,
    sites: Vec<(String, String, bool)>,
    doors: Vec<(String, String, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    state: String,
    next: Option<String>,
}

fn row(alarm: &Alarm, names: &Names) -> Row {
    let site = alarm.site_id;
    let place = match (&alarm.door_name, &alarm.site_name) {
        (Some(door), Some(site)) => format!("{door} · {site}"),
        (Some(door), None) => door.clone(),
        (None, _) => format!("Door agent {}", alarm.agent_name),
    };
    let who = match (&alarm.person_name, &alarm.card) {
        (Some(name), _) => name.clone(),
        (None, Some(card)) => format!("card {card}"),
        (None, None) => String::new(),
    };
    Row {
        id: alarm.id,
        priority: alarm.priority,
        instructions: alarm.instructions.clone(),
        kind: labels::alarm_kind(alarm.kind),
        at: names.time(alarm.occurred_at, site),
        place,
        who,
        detail: alarm.detail.clone().unwrap_or_default(),
        acknowledged: alarm.acknowledgement.as_ref().map(|ack| {
            format!(
                "{} by {}: {}",
                names.time(ack.at, site),
                ack.operator,
                ack.note
            )
        }),
    }
}

fn parse_id(field: &str, text: &str) -> Result<Option<Uuid>, Failure> {
    if text.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(text)
        .map(Some)
        .map_err(|_| ApiError::field(field, "is not one of the choices").into())
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadAlarms>,
    Query(query): Query<Filter>,
) -> Result<Response, Failure> {
    let kind = match query.kind.as_str() {
        "" => None,
        text => Some(
            text.parse::<AlarmKind>()
                .map_err(|_| ApiError::field("kind", "is not one of the choices"))?,
        ),
    };
    let acknowledged = match query.state.as_str() {
        "" | "open" => Some(false),
        "acknowledged" => Some(true),
        "all" => None,
        _ => return Err(ApiError::field("state", "is not one of the choices").into()),
    };
    let filter = AlarmFilter {
        acknowledged,
        kind,
        agent_id: None,
        door_id: parse_id("door", &query.door)?,
        site_id: parse_id("site", &query.site)?,
        from: None,
        to: None,
    };
    let after = parse_id("after", &query.after)?;
    let names = Names::load(&state.store).await?;
    let mut alarms = state.store.list_alarms(&filter, after, SHOWN + 1).await?;
    let more = alarms.len() > SHOWN as usize;
    alarms.truncate(SHOWN as usize);
    for alarm in &mut alarms {
        state.alarm_desk.annotate(alarm);
    }
    // Open alarms: the most urgent first, then the oldest.
    if acknowledged == Some(false) {
        alarms.sort_by_key(|a| (a.priority, a.occurred_at));
    }
    let rows = alarms.iter().map(|alarm| row(alarm, &names)).collect();
    let next = more.then(|| {
        // The page was read in id order: the next one starts after its highest id (the
        // rows may have been sorted by priority since).
        let last = alarms
            .iter()
            .map(|a| a.id)
            .max()
            .map(|id| id.to_string())
            .unwrap_or_default();
        serde_urlencoded::to_string([
            ("site", query.site.as_str()),
            ("door", query.door.as_str()),
            ("kind", query.kind.as_str()),
            ("state", query.state.as_str()),
            ("after", last.as_str()),
        ])
        .unwrap_or_default()
    });
    let sites = names
        .sites_by_name()
        .into_iter()
        .map(|(id, name)| (id.to_string(), name.to_owned(), filter.site_id == Some(id)))
        .collect();
    let doors = names.door_choices(filter.door_id);
    let kinds = AlarmKind::iter()
        .map(|k| (k.as_str(), labels::alarm_kind(k), kind == Some(k)))
        .collect();
    Ok(render(AlarmsPage {
        chrome: Chrome::new(&user.principal, "/alarms", "Alarms"),
        rows,
        may_acknowledge: AcknowledgeAlarms::ROLES.contains(&user.principal.role),
        sites,
        doors,
        kinds,
        state: if query.state.is_empty() {
            "open".to_owned()
        } else {
            query.state
        },
        next,
    }))
}

#[derive(Deserialize)]
pub struct Acknowledge {
    note: String,
}

/// `POST /alarms/{id}/ack`.
pub async fn acknowledge(
    State(state): State<AppState>,
    user: Console<AcknowledgeAlarms>,
    Path(id): Path<Uuid>,
    Form(form): Form<Acknowledge>,
) -> Result<Response, Failure> {
    let note = note::alarm_note(&form.note).map_err(ApiError::Validation)?;
    state
        .store
        .acknowledge_alarm(id, note, &user.actor())
        .await
        .map_err(Failure::unless_found("alarm"))?;
    Ok(Redirect::to("/alarms").into_response())
}

/// `GET /alarms/stream`: the API's alarm stream for the console's session.
pub async fn live(
    State(state): State<AppState>,
    user: Console<ReadAlarms>,
    headers: HeaderMap,
    shutdown: Option<Extension<StreamShutdown>>,
) -> Result<Response, Failure> {
    let cookie_hash = cookie_hash(&headers).ok_or_else(Failure::forbidden)?;
    let holder = StreamHolder::Console { cookie_hash };
    Ok(
        stream::stream(&state, holder, &user.principal, &headers, shutdown)
            .await?
            .into_response(),
    )
}
