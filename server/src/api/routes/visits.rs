//! Visits: invitations (one visitor, a group, a weekly series) judged by the visit
//! rules, edit, cancel, approval, check-in and check-out, and the desk's lists. The
//! flow itself is `crate::visits`, shared with the console. A host sees and acts on
//! only its own visits (another's answer 404).

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::filters::parse;
use crate::api::pagination::Page;
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{
    InviteVisitors, ManageVisitRules, Permission, ReadVisits, WriteVisits,
};
use crate::domain::visit::{VisitInput, VisitorInput};
use crate::state::AppState;
use crate::store::{VisitFilter, VisitRecord, VisitStatus};
use crate::visits::{self, Caller, Invitation};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate};
use gatehouse_core::text::{Lines, text_problem};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visits, create_visit))
        .routes(routes!(create_invitation))
        .routes(routes!(get_visit, update_visit))
        .routes(routes!(visit_by_code))
        .routes(routes!(check_in))
        .routes(routes!(check_out))
        .routes(routes!(cancel))
        .routes(routes!(approve))
}

/// The caller of a handler, with a host's linked person.
async fn caller<P: Permission>(state: &AppState, auth: &Authorized<P>) -> Result<Caller, ApiError> {
    let p = &auth.principal;
    Caller::of(state, p.operator_id, p.role, auth.actor()).await
}

/// A visitor's details.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorFields {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    organisation: Option<String>,
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 32)]
    phone: Option<String>,
    date_of_birth: Option<NaiveDate>,
    /// E.g. passport, national ID card, driving licence.
    #[schema(pattern = "\\S", min_length = 1, max_length = 64)]
    id_document_type: Option<String>,
    /// The document number's last 1 to 6 letters or digits (never the whole number).
    #[schema(pattern = "^[A-Za-z0-9]{1,6}$")]
    id_document_last_digits: Option<String>,
}

impl From<VisitorFields> for VisitorInput {
    fn from(v: VisitorFields) -> Self {
        VisitorInput {
            name: v.name,
            organisation: v.organisation,
            email: v.email,
            phone: v.phone,
            date_of_birth: v.date_of_birth,
            id_document_type: v.id_document_type,
            id_document_last_digits: v.id_document_last_digits,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVisit {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    visitor_name: String,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    visitor_organisation: Option<String>,
    #[schema(max_length = 254)]
    visitor_email: Option<String>,
    #[schema(max_length = 32)]
    visitor_phone: Option<String>,
    visitor_date_of_birth: Option<NaiveDate>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 64)]
    visitor_id_document_type: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9]{1,6}$")]
    visitor_id_document_last_digits: Option<String>,
    /// A returning visitor (documents signed, screening history).
    visitor_id: Option<Uuid>,
    host_person_id: Uuid,
    /// Needed when no zone is given; else the zones' site.
    site_id: Option<Uuid>,
    #[schema(max_length = 500)]
    purpose: Option<String>,
    /// guest (default), contractor, interview, delivery, … (lower-case letters, `_`).
    #[schema(pattern = "^[a-z_]{1,32}$")]
    visit_type: Option<String>,
    window_start: Timestamp,
    /// After `window_start`.
    window_end: Timestamp,
    /// Zones the visitor may enter (exactly these, no descendants): open to visitors,
    /// at one site, within their longest visit, and enterable by the host.
    #[schema(max_items = 1000)]
    allowed_zone_ids: Vec<Uuid>,
    /// Default false; a zone requiring an escort requires it anyway.
    escort_required: Option<bool>,
}

impl CreateVisit {
    fn input(self) -> VisitInput {
        VisitInput {
            visitor: VisitorInput {
                name: self.visitor_name,
                organisation: self.visitor_organisation,
                email: self.visitor_email,
                phone: self.visitor_phone,
                date_of_birth: self.visitor_date_of_birth,
                id_document_type: self.visitor_id_document_type,
                id_document_last_digits: self.visitor_id_document_last_digits,
            },
            visitor_id: self.visitor_id,
            host_person_id: self.host_person_id,
            purpose: self.purpose,
            visit_type: self.visit_type,
            window_start: *self.window_start,
            window_end: *self.window_end,
            allowed_zone_ids: self.allowed_zone_ids,
            escort_required: self.escort_required,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// One visit each, on one invitation: 1 to 50.
    #[schema(min_items = 1, max_items = 50)]
    visitors: Vec<VisitorFields>,
    host_person_id: Uuid,
    site_id: Option<Uuid>,
    #[schema(max_length = 500)]
    purpose: Option<String>,
    #[schema(pattern = "^[a-z_]{1,32}$")]
    visit_type: Option<String>,
    window_start: Timestamp,
    window_end: Timestamp,
    #[schema(max_items = 1000)]
    allowed_zone_ids: Vec<Uuid>,
    escort_required: Option<bool>,
    /// Repeat every week (same weekday and times) while the start date (UTC) is on or
    /// before this date; at most 53 weeks.
    weekly_until: Option<NaiveDate>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationAnswer {
    /// Every visit registered: each visitor's, each week's.
    visits: Vec<VisitRecord>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVisit {
    #[schema(max_length = 500)]
    purpose: Option<String>,
    window_start: Option<Timestamp>,
    window_end: Option<Timestamp>,
    #[schema(max_items = 1000)]
    allowed_zone_ids: Option<Vec<Uuid>>,
    escort_required: Option<bool>,
}

/// Filters, all optional and combined; a host sees only its own visits whatever it asks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// Comma-separated statuses, e.g. `invited,awaiting_approval` ("expected") or
    /// `checked_in` ("on site").
    #[param(max_length = 200)]
    status: Option<String>,
    #[param(value_type = Option<Uuid>, max_length = 64)]
    host_person_id: Option<String>,
    #[param(value_type = Option<Uuid>, max_length = 64)]
    site_id: Option<String>,
    #[param(value_type = Option<Uuid>, max_length = 64)]
    invitation_id: Option<String>,
    #[param(value_type = Option<Uuid>, max_length = 64)]
    visitor_id: Option<String>,
    /// Windows ending after this (RFC 3339).
    #[param(value_type = Option<Timestamp>, max_length = 64)]
    from: Option<String>,
    /// Windows starting before this (RFC 3339).
    #[param(value_type = Option<Timestamp>, max_length = 64)]
    to: Option<String>,
    /// Part of the visitor's name or organisation or of the host's name.
    #[param(min_length = 1, max_length = 64)]
    q: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    #[param(max_length = 64)]
    cursor: Option<String>,
}

impl VisitQuery {
    fn filter(&self) -> Result<VisitFilter, ApiError> {
        const UUID: &str = "a UUID";
        const TIME: &str = "an RFC 3339 time";
        let statuses = match self.status.as_deref() {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse::<VisitStatus>())
                .collect::<Result<_, _>>()
                .map_err(|_| ApiError::field("status", "visit statuses separated by commas"))?,
        };
        let time =
            |f, v: Option<&str>| parse::<Timestamp>(f, v, TIME).map(|t| t.map(DateTime::from));
        Ok(VisitFilter {
            statuses,
            host_person_id: parse("host_person_id", self.host_person_id.as_deref(), UUID)?,
            site_id: parse("site_id", self.site_id.as_deref(), UUID)?,
            invitation_id: parse("invitation_id", self.invitation_id.as_deref(), UUID)?,
            visitor_id: parse("visitor_id", self.visitor_id.as_deref(), UUID)?,
            from: time("from", self.from.as_deref())?,
            to: time("to", self.to.as_deref())?,
            // One line of 1 to 64 characters, searched for trimmed (as names are stored).
            text: match self.q.as_deref() {
                Some(q) => match text_problem(q, 64, Lines::Single) {
                    Some(problem) => return Err(ApiError::field("q", problem)),
                    None => Some(q.trim().to_owned()),
                },
                None => None,
            },
        })
    }
}

/// Visits in registration order, filtered.
#[utoipa::path(get, path = "/visits", tag = "visits", security(("bearer" = [])),
    params(VisitQuery),
    responses((status = 200, body = Page<VisitRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_visits(
    State(state): State<AppState>,
    auth: Authorized<ReadVisits>,
    ApiQuery(query): ApiQuery<VisitQuery>,
) -> Result<Json<Page<VisitRecord>>, ApiError> {
    let caller = caller(&state, &auth).await?;
    let mut filter = query.filter()?;
    if caller.role == gatehouse_core::role::Role::Host {
        // A host without a linked person has no visits.
        filter.host_person_id = Some(caller.person_id.unwrap_or(Uuid::nil()));
    }
    let page = crate::api::pagination::PageParams {
        limit: parse("limit", query.limit.as_deref(), "1 to 500")?,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let rows = state
        .store
        .search_visits(&filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |v| v.id)))
}

/// Invite one visitor. Outside the visit rules: 422 naming every rule broken, or,
/// where the site allows it, the visit is `awaiting_approval`. A host invites only its
/// own visitors (403).
#[utoipa::path(post, path = "/visits", tag = "visits", security(("bearer" = [])),
    request_body = CreateVisit,
    responses((status = 201, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_visit(
    State(state): State<AppState>,
    auth: Authorized<InviteVisitors>,
    ApiJson(request): ApiJson<CreateVisit>,
) -> Result<(StatusCode, Json<VisitRecord>), ApiError> {
    let caller = caller(&state, &auth).await?;
    let site_id = request.site_id;
    let invitation = Invitation {
        visit: request.input(),
        others: Vec::new(),
        site_id,
        weekly_until: None,
    };
    let mut visits = visits::invite(&state, &caller, invitation).await?;
    let visit = visits
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no visit registered")))?;
    Ok((StatusCode::CREATED, Json(visit)))
}

/// Invite a group (one visit per visitor) and/or a weekly series, judged as one visit.
#[utoipa::path(post, path = "/invitations", tag = "visits", security(("bearer" = [])),
    request_body = CreateInvitation,
    responses((status = 201, body = InvitationAnswer), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_invitation(
    State(state): State<AppState>,
    auth: Authorized<InviteVisitors>,
    ApiJson(request): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, Json<InvitationAnswer>), ApiError> {
    let caller = caller(&state, &auth).await?;
    let mut people = request.visitors.into_iter().map(VisitorInput::from);
    let first = people
        .next()
        .ok_or_else(|| ApiError::field("visitors", "at least one visitor"))?;
    let visit = VisitInput {
        visitor: first,
        visitor_id: None,
        host_person_id: request.host_person_id,
        purpose: request.purpose,
        visit_type: request.visit_type,
        window_start: *request.window_start,
        window_end: *request.window_end,
        allowed_zone_ids: request.allowed_zone_ids,
        escort_required: request.escort_required,
    };
    let invitation = Invitation {
        visit,
        others: people.collect(),
        site_id: request.site_id,
        weekly_until: request.weekly_until,
    };
    let visits = visits::invite(&state, &caller, invitation).await?;
    Ok((StatusCode::CREATED, Json(InvitationAnswer { visits })))
}

/// One visit.
#[utoipa::path(get, path = "/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_visit(
    State(state): State<AppState>,
    auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitRecord>, ApiError> {
    let caller = caller(&state, &auth).await?;
    Ok(Json(visits::visible(&state, &caller, id).await?))
}

/// The visit a check-in code belongs to (as typed or scanned: case, spaces and dashes
/// ignored).
#[utoipa::path(get, path = "/visits/by-code/{code}", tag = "visits", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn visit_by_code(
    State(state): State<AppState>,
    _auth: Authorized<WriteVisits>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<VisitRecord>, ApiError> {
    match state.store.visit_by_code(&code).await {
        Ok(visit) => Ok(Json(visit)),
        Err(crate::store::StoreError::NotFound) => Err(ApiError::NotFound("visit")),
        Err(other) => Err(other.into()),
    }
}

/// Change a visit not yet arrived: judged by the visit rules again (a change outside
/// them may send it back to approval).
#[utoipa::path(patch, path = "/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateVisit,
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn update_visit(
    State(state): State<AppState>,
    auth: Authorized<InviteVisitors>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateVisit>,
) -> Result<Json<VisitRecord>, ApiError> {
    let caller = caller(&state, &auth).await?;
    let before = visits::visible(&state, &caller, id).await?;
    let input = VisitInput {
        visitor: VisitorInput {
            name: before.visitor_name.clone(),
            organisation: before.visitor_organisation.clone(),
            ..VisitorInput::default()
        },
        visitor_id: before.visitor_id,
        host_person_id: before.host_person_id,
        purpose: request.purpose.or(before.purpose),
        visit_type: Some(before.visit_type),
        window_start: request.window_start.map_or(before.window_start, |t| *t),
        window_end: request.window_end.map_or(before.window_end, |t| *t),
        allowed_zone_ids: request.allowed_zone_ids.unwrap_or(before.allowed_zone_ids),
        escort_required: Some(request.escort_required.unwrap_or(before.escort_required)),
    };
    Ok(Json(visits::update(&state, &caller, id, input).await?))
}

macro_rules! step {
    ($name:ident, $path:literal, $permission:ident, $doc:literal, $call:path) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "visits", security(("bearer" = [])),
            params(("id" = Uuid, Path)),
            responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
                (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
                (status = 409, body = ErrorResponse)))]
        async fn $name(
            State(state): State<AppState>,
            auth: Authorized<$permission>,
            ApiPath(id): ApiPath<Uuid>,
        ) -> Result<Json<VisitRecord>, ApiError> {
            let caller = caller(&state, &auth).await?;
            Ok(Json($call(&state, &caller, id).await?))
        }
    };
}

step!(
    check_in,
    "/visits/{id}/check-in",
    WriteVisits,
    "Check the visitor in: only an invited visit, before its window ends, still keeping the visit rules unless approved as an exception (409 otherwise). An early arrival may check in; the card works from `window_start`.",
    visits::check_in
);
step!(
    check_out,
    "/visits/{id}/check-out",
    WriteVisits,
    "Check the visitor out; the visit's cards stop working. 409 unless checked in.",
    visits::check_out
);
step!(
    cancel,
    "/visits/{id}/cancel",
    InviteVisitors,
    "Cancel a visit not yet arrived; its pre-issued cards stop working. 409 otherwise.",
    visits::cancel
);
step!(
    approve,
    "/visits/{id}/approve",
    ManageVisitRules,
    "Approve a visit awaiting approval (outside the visit rules): it becomes invited.",
    visits::approve
);
