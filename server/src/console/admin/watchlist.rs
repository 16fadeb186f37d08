//! `/admin/watchlist`: the watchlist security keeps. Everyone who may read it
//! (`ReadWatchlist`: security, auditors) can search and open entries; those who may keep
//! it (`ManageVisitRules`) add, change and remove them through the same store calls, with
//! the same checks and operator-log entries, as the API.

use crate::api::error::ApiError;
use crate::api::pagination::{Page, PageParams};
use crate::api::routes::site_model::not_found;
use crate::api::routes::watchlist::{MAX_IMPORT_BYTES, import_watchlist};
use crate::auth::permissions::{ManageVisitRules, Permission, ReadWatchlist};
use crate::console::admin::sites::fields::failure;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::console::upload::{FORM_OVERHEAD, form_csv};
use crate::import::LineError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::watchlist::{WatchAction, WatchlistEntry, WatchlistInput};
use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/admin/watchlist";
const SHOWN: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(add))
        .route(
            "/admin/watchlist/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES + FORM_OVERHEAD)),
        )
        .route("/admin/watchlist/{id}", get(entry).post(change))
        .route("/admin/watchlist/{id}/delete", post(remove))
}

struct Row {
    id: Uuid,
    name: String,
    aliases: String,
    date_of_birth: String,
    organisation: String,
    reason: String,
    block: bool,
    updated: String,
}

/// `zone`: the only site's time zone (the list belongs to no one site).
fn row(e: WatchlistEntry, zone: chrono_tz::Tz) -> Row {
    Row {
        id: e.id,
        aliases: e.aliases.join(", "),
        date_of_birth: e.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
        organisation: e.organisation.unwrap_or_default(),
        block: e.action == WatchAction::Block,
        updated: time::local(e.updated_at, zone),
        name: e.name,
        reason: e.reason,
    }
}

#[derive(Template)]
#[template(path = "admin/watchlist.html")]
struct ListPage {
    chrome: Chrome,
    search: String,
    rows: Vec<Row>,
    next: Option<String>,
    version: i64,
    may_manage: bool,
    /// What an import just did.
    notice: Option<String>,
    /// Why an import was refused, line by line.
    errors: Vec<LineError>,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    search: String,
    cursor: Option<String>,
}

/// `GET /admin/watchlist`: a page of entries, optionally searched.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadWatchlist>,
    Query(query): Query<ListQuery>,
) -> Result<Response, Failure> {
    let page = list_page(&state, &user.principal, query, None, Vec::new()).await?;
    Ok(render(page))
}

/// The list page, with what an import did (`notice`) or why it was refused (`errors`).
async fn list_page(
    state: &AppState,
    principal: &crate::store::Principal,
    query: ListQuery,
    notice: Option<String>,
    errors: Vec<LineError>,
) -> Result<ListPage, Failure> {
    let page = PageParams {
        limit: Some(SHOWN),
        cursor: query.cursor,
    };
    let search = query.search.trim().to_owned();
    let rows = state
        .store
        .list_watchlist(
            Some(search.as_str()).filter(|s| !s.is_empty()),
            page.cursor()?,
            SHOWN + 1,
        )
        .await?;
    let page = Page::from_rows(rows, SHOWN, |e| e.id);
    let names = Names::load(&state.store).await?;
    let zone = names.tz(names.only_site());
    let next = page
        .next_cursor
        .map(|c| serde_urlencoded::to_string([("search", &search), ("cursor", &c)]))
        .transpose()
        .map_err(Failure::internal)?;
    Ok(ListPage {
        chrome: Chrome::new(principal, PATH, "Watchlist"),
        version: state.store.watchlist_version().await?.version,
        rows: page.items.into_iter().map(|e| row(e, zone)).collect(),
        search,
        next,
        may_manage: ManageVisitRules::ROLES.contains(&principal.role),
        notice,
        errors,
    })
}

/// `POST /admin/watchlist/import`: adds a CSV file's entries (the API's import); the
/// list with what was added, or each line's problems (422, nothing added).
async fn import(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    mut multipart: Multipart,
) -> Result<Response, Failure> {
    let csv = form_csv(&mut multipart, MAX_IMPORT_BYTES, "the watchlist file").await?;
    let outcome = import_watchlist(&state, csv, &user.actor()).await?;
    let query = ListQuery {
        search: String::new(),
        cursor: None,
    };
    let (status, notice, errors) = match outcome {
        Ok(done) => {
            let notice = format!(
                "Imported: {} added, {} already on the list. List version {}.",
                done.added, done.already_listed, done.list_version
            );
            (StatusCode::OK, Some(notice), Vec::new())
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors),
    };
    let page = list_page(&state, &user.principal, query, notice, errors).await?;
    Ok((status, render(page)).into_response())
}

/// The entry form's fields (aliases one per line; an empty date is none).
#[derive(Deserialize)]
struct EntryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    action: String,
}

impl EntryForm {
    fn input(self) -> Result<WatchlistInput, ApiError> {
        let date_of_birth = match self.date_of_birth.trim() {
            "" => None,
            text => Some(
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| ApiError::field("date_of_birth", "must be YYYY-MM-DD"))?,
            ),
        };
        let action = self
            .action
            .parse()
            .map_err(|_| ApiError::field("action", "must be flag or block"))?;
        Ok(WatchlistInput {
            name: self.name,
            aliases: self
                .aliases
                .lines()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            date_of_birth,
            organisation: Some(self.organisation),
            reason: self.reason,
            action,
        })
    }
}

/// `POST /admin/watchlist`: add an entry.
async fn add(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Form(form): Form<EntryForm>,
) -> Result<Response, Failure> {
    let input = form.input().map_err(failure)?;
    state
        .store
        .create_watchlist_entry(input, &user.actor())
        .await
        .map_err(failure)?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Template)]
#[template(path = "admin/watchlist_entry.html")]
struct EntryPage {
    chrome: Chrome,
    entry: WatchlistEntry,
    aliases: String,
    date_of_birth: String,
    organisation: String,
    may_manage: bool,
}

/// `GET /admin/watchlist/{id}`: one entry, with its edit form for those who keep the list.
async fn entry(
    State(state): State<AppState>,
    user: Console<ReadWatchlist>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let entry = state
        .store
        .watchlist_entry(id)
        .await
        .map_err(Failure::unless_found("watchlist entry"))?;
    Ok(render(EntryPage {
        chrome: Chrome::new(&user.principal, PATH, entry.name.clone()),
        aliases: entry.aliases.join("\n"),
        date_of_birth: entry
            .date_of_birth
            .map(|d| d.to_string())
            .unwrap_or_default(),
        organisation: entry.organisation.clone().unwrap_or_default(),
        entry,
        may_manage: ManageVisitRules::ROLES.contains(&user.principal.role),
    }))
}

/// `POST /admin/watchlist/{id}`: change an entry (every field, as the form shows them).
async fn change(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(id): Path<Uuid>,
    Form(form): Form<EntryForm>,
) -> Result<Response, Failure> {
    state
        .store
        .watchlist_entry(id)
        .await
        .map_err(Failure::unless_found("watchlist entry"))?;
    let input = form.input().map_err(failure)?;
    state
        .store
        .update_watchlist_entry(id, input, &user.actor())
        .await
        .map_err(not_found("watchlist entry"))?;
    Ok(Redirect::to(&format!("{PATH}/{id}")).into_response())
}

/// `POST /admin/watchlist/{id}/delete`: remove an entry.
async fn remove(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .delete_watchlist_entry(id, &user.actor())
        .await
        .map_err(not_found::<StoreError>("watchlist entry"))?;
    Ok(Redirect::to(PATH).into_response())
}
