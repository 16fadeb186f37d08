//! `/admin/schedules`: weekly schedules and their holidays, readable (`Mon–Fri
//! 08:00–18:00`, in the site's time), with forms to create, change and delete them for
//! the roles that may write the model. The form's text is read into the API's windows
//! and dates ([`text`]); the API's checks and store calls do the rest (a schedule that
//! grants use cannot be deleted).

mod text;

use super::sites::fields::failure;
use crate::api::error::ApiError;
use crate::api::routes::site_model::{delete_record, not_found};
use crate::auth::permissions::{Permission, ReadSecurityModel, WriteSecurityModel};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{NewSchedule, ScheduleChange, ScheduleRecord, StoreError, WindowSpec};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/admin/schedules";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/admin/schedules/{id}", get(page).post(update))
        .route("/admin/schedules/{id}/delete", post(delete))
}

struct ScheduleRow {
    id: Uuid,
    name: String,
    site: String,
    windows: Vec<String>,
    holidays: String,
}

#[derive(Template)]
#[template(path = "admin/schedules.html")]
struct SchedulesPage {
    chrome: Chrome,
    schedules: Vec<ScheduleRow>,
    may_write: bool,
    sites: Vec<(Uuid, String)>,
}

fn may_write<P: Permission>(user: &Console<P>) -> bool {
    WriteSecurityModel::ROLES.contains(&user.principal.role)
}

async fn all_schedules(state: &AppState) -> Result<Vec<ScheduleRecord>, StoreError> {
    let mut schedules = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_schedules(None, after, 500).await?;
        after = page.last().map(|s| s.id);
        let full = page.len() == 500;
        schedules.extend(page);
        if !full {
            break;
        }
    }
    Ok(schedules)
}

/// `GET /admin/schedules`.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let mut schedules: Vec<ScheduleRow> = all_schedules(&state)
        .await?
        .into_iter()
        .map(|s| ScheduleRow {
            id: s.id,
            site: names.site(s.site_id).to_owned(),
            windows: s.windows.iter().map(text::window_words).collect(),
            holidays: s
                .holidays
                .iter()
                .map(|d| d.format("%a %-d %b %Y").to_string())
                .collect::<Vec<_>>()
                .join(", "),
            name: s.name,
        })
        .collect();
    schedules.sort_by(|a, b| (&a.site, &a.name).cmp(&(&b.site, &b.name)));
    Ok(render(SchedulesPage {
        chrome: Chrome::new(&user.principal, PATH, "Schedules and holidays"),
        schedules,
        may_write: may_write(&user),
        sites: names
            .sites_by_name()
            .into_iter()
            .map(|(id, name)| (id, name.to_owned()))
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "admin/schedule.html")]
struct SchedulePage {
    chrome: Chrome,
    id: Uuid,
    site: String,
    timezone: String,
    name: String,
    windows: Vec<String>,
    windows_text: String,
    holidays_text: String,
    may_write: bool,
}

/// `GET /admin/schedules/{id}`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let schedule = state
        .store
        .model_record::<ScheduleRecord>(id)
        .await
        .map_err(Failure::unless_found("schedule"))?;
    let names = Names::load(&state.store).await?;
    Ok(render(SchedulePage {
        chrome: Chrome::new(&user.principal, PATH, format!("Schedule {}", schedule.name)),
        id,
        site: names.site(schedule.site_id).to_owned(),
        timezone: names.tz(Some(schedule.site_id)).name().to_owned(),
        windows: schedule.windows.iter().map(text::window_words).collect(),
        windows_text: text::windows_text(&schedule.windows),
        holidays_text: text::holidays_text(&schedule.holidays),
        name: schedule.name,
        may_write: may_write(&user),
    }))
}

#[derive(Deserialize)]
struct ScheduleForm {
    #[serde(default)]
    site_id: String,
    name: String,
    #[serde(default)]
    windows: String,
    #[serde(default)]
    holidays: String,
}

impl ScheduleForm {
    /// The windows and holidays read, both problems named at once.
    fn read(&self) -> Result<(Vec<WindowSpec>, Vec<NaiveDate>), ApiError> {
        let mut problems = super::sites::fields::Problems::default();
        let windows =
            problems.keep(text::windows(&self.windows).map_err(|p| ApiError::field("windows", p)));
        let holidays = problems
            .keep(text::holidays(&self.holidays).map_err(|p| ApiError::field("holidays", p)));
        match (windows, holidays) {
            (Some(windows), Some(holidays)) => Ok((windows, holidays)),
            _ => Err(problems.refusal()),
        }
    }
}

/// `POST /admin/schedules`.
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, Failure> {
    let site_id = super::sites::fields::id("site_id", &form.site_id)?
        .ok_or_else(|| ApiError::field("site_id", "choose a site"))?;
    let (windows, holidays) = form.read()?;
    let new = NewSchedule {
        site_id,
        name: form.name,
        windows,
        holidays,
    }
    .checked()
    .map_err(failure)?;
    let schedule = state
        .store
        .create_schedule(new, &user.actor())
        .await
        .map_err(failure)?;
    Ok(Redirect::to(&format!("{PATH}/{}", schedule.id)).into_response())
}

/// `POST /admin/schedules/{id}`: name, windows and holidays as the form has them.
async fn update(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, Failure> {
    let (windows, holidays) = form.read()?;
    let change = ScheduleChange {
        name: Some(form.name),
        windows: Some(windows),
        holidays: Some(holidays),
    }
    .checked()
    .map_err(failure)?;
    state
        .store
        .update_schedule(id, change, &user.actor())
        .await
        .map_err(not_found::<StoreError>("schedule"))?;
    Ok(Redirect::to(&format!("{PATH}/{id}")).into_response())
}

/// `POST /admin/schedules/{id}/delete`: refused (409) while grants use it.
async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    delete_record::<ScheduleRecord>(&state, &user.actor(), id, "schedule").await?;
    Ok(Redirect::to(PATH).into_response())
}
