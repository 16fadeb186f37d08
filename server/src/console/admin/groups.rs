//! Groups and their grants: the groups (create, delete), each group's members and its
//! grants of zones (on a schedule, within a period; create, revoke), and "who can open
//! this zone" ([`who`]) from the engine. Every action is the API's: the same checks, the
//! same store call and operator-log entry. (Groups are not renamed: the API has no such
//! change; a group is deleted and made again.)

mod grants;
mod who;

use crate::api::error::ApiError;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::console::admin::people::may_write;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::domain::group;
use crate::state::AppState;
use crate::store::{GrantFilter, GroupRecord, ScheduleRecord, Store, StoreError};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

const PAGE: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/groups", get(list).post(create))
        .route("/admin/groups/who", get(who::page))
        .route("/admin/groups/{id}", get(page))
        .route("/admin/groups/{id}/delete", post(delete))
        .route(
            "/admin/groups/{id}/members/{person}/remove",
            post(remove_member),
        )
        .route("/admin/groups/{id}/grants", post(grants::create))
        .route(
            "/admin/groups/{id}/grants/{grant}/delete",
            post(grants::delete),
        )
}

/// Every group, by name.
pub(crate) async fn all_groups(store: &Store) -> Result<Vec<GroupRecord>, StoreError> {
    let mut groups = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_groups(after, PAGE).await?;
        after = page.last().map(|g| g.id);
        let full = page.len() == PAGE as usize;
        groups.extend(page);
        if !full {
            break;
        }
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// Every schedule, by name.
pub(crate) async fn all_schedules(store: &Store) -> Result<Vec<ScheduleRecord>, StoreError> {
    let mut schedules = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_schedules(None, after, PAGE).await?;
        after = page.last().map(|s| s.id);
        let full = page.len() == PAGE as usize;
        schedules.extend(page);
        if !full {
            break;
        }
    }
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(schedules)
}

/// Zones as `(id, "zone · site")`, by that label, for choosers.
pub(crate) fn zone_choices(names: &Names) -> Vec<(Uuid, String)> {
    let mut zones: Vec<_> = names
        .zones
        .values()
        .map(|z| (z.id, format!("{} · {}", z.name, names.site(z.site_id))))
        .collect();
    zones.sort_by(|a, b| a.1.cmp(&b.1));
    zones
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct ListPage {
    chrome: Chrome,
    groups: Vec<GroupRecord>,
    zones: Vec<(Uuid, String)>,
    may_write: bool,
}

/// `GET /admin/groups`: the groups, a form to make one, and the zone chooser of "who
/// can open this zone".
async fn list(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    Ok(render(ListPage {
        chrome: Chrome::new(&user.principal, "/admin/groups", "Groups and grants"),
        groups: all_groups(&state.store).await?,
        zones: zone_choices(&names),
        may_write: may_write(&user),
    }))
}

#[derive(Deserialize)]
pub struct NewGroup {
    name: String,
}

/// `POST /admin/groups`: makes an empty group (the API's `POST /groups`).
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Form(form): Form<NewGroup>,
) -> Result<Response, Failure> {
    let name = group::group_name(&form.name).map_err(ApiError::from)?;
    let group = state.store.create_group(name, &user.actor()).await?;
    Ok(Redirect::to(&format!("/admin/groups/{}", group.id)).into_response())
}

struct Grant {
    id: Uuid,
    zone_id: Uuid,
    zone: String,
    schedule: String,
    validity: String,
}

#[derive(Template)]
#[template(path = "admin/groups_group.html")]
struct GroupPage {
    chrome: Chrome,
    group: GroupRecord,
    members: Vec<(Uuid, String)>,
    grants: Vec<Grant>,
    zones: Vec<(Uuid, String)>,
    schedules: Vec<(Uuid, String)>,
    may_write: bool,
}

/// `GET /admin/groups/{id}`: members and grants.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let group = state.store.group(id).await.map_err(not_found("group"))?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.only_site());
    let mut people = PeopleNames::default();
    let mut members = Vec::new();
    for person in &group.person_ids {
        members.push((*person, people.name(&state.store, *person).await?));
    }
    members.sort_by(|a, b| a.1.cmp(&b.1));
    let schedules: Vec<(Uuid, String)> = all_schedules(&state.store)
        .await?
        .into_iter()
        .map(|s| {
            let label = format!("{} · {}", s.name, names.site(s.site_id));
            (s.id, label)
        })
        .collect();
    let filter = GrantFilter {
        person_id: None,
        group_id: Some(id),
        zone_id: None,
    };
    let grants = state
        .store
        .list_grants(filter, None, PAGE)
        .await?
        .into_iter()
        .map(|g| Grant {
            id: g.id,
            zone_id: g.zone_id,
            zone: format!(
                "{} · {}",
                names.zone(g.zone_id),
                names
                    .zones
                    .get(&g.zone_id)
                    .map_or("", |z| names.site(z.site_id))
            ),
            schedule: g.schedule_id.map_or_else(
                || "At all times".to_owned(),
                |s| {
                    schedules
                        .iter()
                        .find(|(id, _)| *id == s)
                        .map_or_else(|| "(removed schedule)".to_owned(), |(_, n)| n.clone())
                },
            ),
            validity: match (g.valid_from, g.valid_until) {
                (None, None) => "always".to_owned(),
                (from, until) => format!(
                    "{} to {}",
                    time::local_or_dash(from, tz),
                    time::local_or_dash(until, tz)
                ),
            },
        })
        .collect();
    Ok(render(GroupPage {
        chrome: Chrome::new(&user.principal, "/admin/groups", group.name.clone()),
        members,
        grants,
        zones: zone_choices(&names),
        schedules,
        may_write: may_write(&user),
        group,
    }))
}

/// `POST /admin/groups/{id}/delete`: the API's `DELETE /groups/{id}` (refused while
/// grants name the group).
async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .delete_group(id, &user.actor())
        .await
        .map_err(not_found("group"))?;
    Ok(Redirect::to("/admin/groups").into_response())
}

/// `POST /admin/groups/{id}/members/{person}/remove`: the group's members without this
/// person (the API's `PUT /groups/{id}/members`).
async fn remove_member(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((id, person)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    let group = state.store.group(id).await.map_err(not_found("group"))?;
    let members = group::members(
        group
            .person_ids
            .into_iter()
            .filter(|p| *p != person)
            .collect(),
    )
    .map_err(ApiError::from)?;
    state
        .store
        .set_group_members(id, members, &user.actor())
        .await
        .map_err(not_found("group"))?;
    Ok(Redirect::to(&format!("/admin/groups/{id}")).into_response())
}
