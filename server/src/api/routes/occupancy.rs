//! Who is inside: a zone's occupancy, the live muster list of a site, and musters
//! (evacuation roll calls) that officers start, mark people on and close. Lists come as
//! JSON, CSV or a printable HTML page (`?format=`).

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadOccupancy, RunMuster};
use crate::domain::note;
use crate::state::AppState;
use crate::store::{MusterPerson, MusterRecord, Occupant};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(zone_occupancy))
        .routes(routes!(site_muster))
        .routes(routes!(start_muster))
        .routes(routes!(get_muster))
        .routes(routes!(account_for))
        .routes(routes!(close_muster))
}

/// How a list is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    #[default]
    Json,
    Csv,
    Html,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` or `html` (a printable page).
    #[param(inline)]
    format: Option<ListFormat>,
}

/// How many are inside one zone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZoneCount {
    pub zone_id: Uuid,
    pub zone_name: String,
    pub count: usize,
}

/// Everyone inside a zone (it and the zones below it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Occupancy {
    pub zone_id: Uuid,
    pub count: usize,
    /// Per zone, for the zones below that are occupied.
    pub zones: Vec<ZoneCount>,
    pub occupants: Vec<Occupant>,
}

/// Who is inside a zone and the zones below it now, from their last granted passage.
#[utoipa::path(get, path = "/zones/{id}/occupancy", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Occupancy), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn zone_occupancy(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Occupancy>, ApiError> {
    state.store.zone(id).await?;
    let occupants = state.store.zone_occupants(id).await?;
    let mut zones: BTreeMap<Uuid, ZoneCount> = BTreeMap::new();
    for o in &occupants {
        zones
            .entry(o.zone_id)
            .or_insert_with(|| ZoneCount {
                zone_id: o.zone_id,
                zone_name: o.zone_name.clone(),
                count: 0,
            })
            .count += 1;
    }
    Ok(Json(Occupancy {
        zone_id: id,
        count: occupants.len(),
        zones: zones.into_values().collect(),
        occupants,
    }))
}

/// Everyone inside the site now (last seen in a zone some door leads into), with the
/// last door and time: the list to take outside at an evacuation.
#[utoipa::path(get, path = "/sites/{id}/muster", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path), FormatQuery),
    responses((status = 200, body = Vec<Occupant>,
            content((Vec<Occupant> = "application/json"), (String = "text/csv; charset=utf-8"),
                (String = "text/html; charset=utf-8"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn site_muster(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let site = state.store.site(id).await?;
    let occupants = state.store.site_occupants(id).await?;
    let rows: Vec<Row> = occupants.iter().map(Row::from).collect();
    let title = format!("Inside {} at {}", site.name, minute(Utc::now()));
    Ok(render(
        query.format.unwrap_or_default(),
        &title,
        &rows,
        &occupants,
    ))
}

/// Starts a muster of the site: the list of everyone inside now, to mark off.
#[utoipa::path(post, path = "/sites/{id}/musters", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn start_muster(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<MusterRecord>), ApiError> {
    let muster = state.store.start_muster(id, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(muster)))
}

/// A muster with who is accounted for.
#[utoipa::path(get, path = "/musters/{id}", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path), FormatQuery),
    responses((status = 200, body = MusterRecord,
            content((MusterRecord = "application/json"), (String = "text/csv; charset=utf-8"),
                (String = "text/html; charset=utf-8"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn get_muster(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let muster = state.store.muster(id).await?;
    let rows: Vec<Row> = muster.people.iter().map(Row::from).collect();
    let title = format!(
        "Muster started {} by {} — {} of {} not accounted for",
        minute(muster.started_at),
        muster.started_by,
        muster.unaccounted,
        muster.people.len()
    );
    Ok(render(
        query.format.unwrap_or_default(),
        &title,
        &rows,
        &muster,
    ))
}

/// Who was found, and how.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountedFor {
    /// The `holder_id` on the list.
    pub holder_id: Uuid,
    /// E.g. "at the assembly point".
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Marks someone on the list accounted for (once; not after the muster is closed).
#[utoipa::path(post, path = "/musters/{id}/accounted", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AccountedFor,
    responses((status = 200, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn account_for(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AccountedFor>,
) -> Result<Json<MusterRecord>, ApiError> {
    let note = note::muster_note(body.note.as_deref())?;
    let muster = state
        .store
        .account_for(id, body.holder_id, note, &auth.actor())
        .await?;
    Ok(Json(muster))
}

/// Closes a muster; it can then only be read.
#[utoipa::path(post, path = "/musters/{id}/close", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse)))]
async fn close_muster(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MusterRecord>, ApiError> {
    Ok(Json(state.store.close_muster(id, &auth.actor()).await?))
}

/// One line of a printed or CSV list.
struct Row {
    name: String,
    kind: String,
    zone: String,
    door: String,
    since: String,
    accounted: String,
}

impl Row {
    fn cells(&self) -> [&str; 6] {
        [
            &self.name,
            &self.kind,
            &self.zone,
            &self.door,
            &self.since,
            &self.accounted,
        ]
        .map(String::as_str)
    }
}

impl From<&Occupant> for Row {
    fn from(o: &Occupant) -> Row {
        Row {
            name: o.name.clone(),
            kind: o.kind.clone(),
            zone: o.zone_name.clone(),
            door: o.door_name.clone().unwrap_or_default(),
            since: minute(o.since),
            accounted: String::new(),
        }
    }
}

impl From<&MusterPerson> for Row {
    fn from(p: &MusterPerson) -> Row {
        let accounted = match (&p.accounted_at, &p.accounted_by) {
            (Some(at), by) => format!(
                "{} by {}{}",
                minute(*at),
                by.as_deref().unwrap_or_default(),
                p.note
                    .as_ref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            (None, _) => String::new(),
        };
        Row {
            name: p.name.clone(),
            kind: p.kind.clone(),
            zone: p.zone_name.clone(),
            door: p.door_name.clone().unwrap_or_default(),
            since: minute(p.since),
            accounted,
        }
    }
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

const HEADINGS: [&str; 6] = [
    "name",
    "kind",
    "zone",
    "last door",
    "since",
    "accounted for",
];

/// The list as JSON (`json`), CSV (formula-safe) or a printable HTML page.
fn render(format: ListFormat, title: &str, rows: &[Row], json: &impl Serialize) -> Response {
    match format {
        ListFormat::Json => Json(json).into_response(),
        ListFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let _ = writer.write_record(HEADINGS);
            for row in rows {
                let _ = writer.write_record(row.cells().map(spreadsheet_safe));
            }
            let body = writer.into_inner().unwrap_or_default();
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
        ListFormat::Html => {
            let mut html = format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{t}</title>\
                 <style>body{{font-family:sans-serif}}table{{border-collapse:collapse;width:100%}}\
                 td,th{{border:1px solid #444;padding:4px 8px;text-align:left}}\
                 td.box{{width:2em}}@media print{{button{{display:none}}}}</style>\
                 <h1>{t}</h1><p>{n} people</p><table><tr><th></th>",
                t = escape(title),
                n = rows.len()
            );
            for h in HEADINGS {
                html.push_str(&format!("<th>{}</th>", escape(h)));
            }
            html.push_str("</tr>");
            for row in rows {
                let mark = if row.accounted.is_empty() {
                    "☐"
                } else {
                    "☑"
                };
                html.push_str(&format!("<tr><td class=\"box\">{mark}</td>"));
                for cell in row.cells() {
                    html.push_str(&format!("<td>{}</td>", escape(cell)));
                }
                html.push_str("</tr>");
            }
            html.push_str("</table></html>\n");
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    }
}

/// A cell a spreadsheet will not run as a formula.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_csv_cells_are_defused() {
        assert_eq!(
            escape("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
        assert_eq!(spreadsheet_safe("=cmd()"), "'=cmd()");
        assert_eq!(spreadsheet_safe("Ada"), "Ada");
    }
}
