//! The audit trail, for admins and auditors: verification, verifiable exports and the key
//! that signs them.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiQuery;
use crate::api::filters::{self, Kinds};
use crate::api::time::Timestamp;
use crate::audit::export::{self, ExportFilter, ExportRequest, Format};
use crate::audit::verify::{VerifyReport, verify};
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadAudit;
use crate::state::AppState;
use crate::store::Actor;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use gatehouse_core::decide::{Outcome, Reason};
use serde::Deserialize;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_trail))
        .routes(routes!(audit_public_key))
        .routes(routes!(export_trail))
}

/// The period, format and filters of an export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `ndjson` or `csv`.
    #[param(inline)]
    format: Format,
    /// Records chained at or after this instant (RFC 3339).
    from: Timestamp,
    /// Records chained before this instant (RFC 3339).
    to: Timestamp,
    door_id: Option<Uuid>,
    person_id: Option<Uuid>,
    credential_id: Option<Uuid>,
    /// Records of this zone, and door incidents and alarms at the doors leading into it.
    zone_id: Option<Uuid>,
    /// Records at this site's doors.
    site_id: Option<Uuid>,
    /// Display columns (names, site-local time) and their signed name snapshot; `false`
    /// leaves them out (default `true`).
    display: Option<bool>,
    /// `granted`, `denied` or `pending`.
    #[param(value_type = Option<Outcome>)]
    outcome: Option<String>,
    /// A decision reason, e.g. `no_grant`.
    #[param(value_type = Option<Reason>)]
    reason: Option<String>,
    /// An event kind, operator action or alarm kind.
    #[param(max_length = 64, pattern = "^[a-z_.]+$")]
    kind: Option<String>,
}

/// Streams a verifiable export of the records chained in `[from, to)` (see the README,
/// "For auditors"). Records matching the filters are in full, every other entry of the
/// stretch by its digest. The export itself is recorded in the operator log.
#[utoipa::path(get, path = "/audit/export", tag = "audit", security(("bearer" = [])),
    params(ExportQuery),
    responses((status = 200, description = "NDJSON or CSV, streamed",
            content((String = "application/x-ndjson"), (String = "text/csv; charset=utf-8"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn export_trail(
    State(state): State<AppState>,
    auth: Authorized<ReadAudit>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    if query.to <= query.from {
        return Err(ApiError::field("to", "must be after from"));
    }
    // The same values `/events` accepts (and operator actions as kinds).
    let outcome = filters::outcome(query.outcome.as_deref())?;
    let reason = filters::reason(query.reason.as_deref())?;
    let kind = filters::kind(query.kind.as_deref(), Kinds::EventsAndActions)?;
    let request = ExportRequest {
        from: query.from.into(),
        to: query.to.into(),
        format: query.format,
        filter: ExportFilter {
            door_id: query.door_id,
            person_id: query.person_id,
            credential_id: query.credential_id,
            zone_id: query.zone_id,
            outcome: outcome.map(|o| o.to_string()),
            reason: reason.map(|r| r.to_string()),
            kind,
            site_id: query.site_id,
            ..ExportFilter::default()
        },
    };
    export_response(&state, &auth.actor(), request, query.display != Some(false)).await
}

/// Plans an export, records it in the operator log as done by `actor`, and answers with
/// the file, streamed: the API's endpoint and the console's download both call this.
pub async fn export_response(
    state: &AppState,
    actor: &Actor,
    request: ExportRequest,
    display: bool,
) -> Result<Response, ApiError> {
    let mut plan = export::plan(&state.store, &state.audit_key, request).await?;
    if !display {
        plan = plan.without_display();
    }
    state
        .store
        .log_operator_action(
            actor,
            "audit.export",
            "audit",
            "export",
            &export::log_details(&plan),
        )
        .await?;
    let (content_type, extension) = match plan.request.format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let body = Body::from_stream(export::stream(state.store.clone(), plan).map(|chunk| {
        chunk
            .map(|(bytes, _)| bytes)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gatehouse-audit.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Recomputes the whole audit chain and its signed checkpoints; names the first bad
/// record. `ok` is true only when everything verifies.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
async fn verify_trail(
    State(state): State<AppState>,
    _auth: Authorized<ReadAudit>,
) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(
        verify(&state.store, &state.audit_key.public_key()).await?,
    ))
}

/// The public key that verifies the audit checkpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPublicKey {
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte key, base64.
    pub public_key: String,
}

/// The key auditors verify checkpoints and exports with (keep a copy of your own).
#[utoipa::path(get, path = "/audit/public-key", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = AuditPublicKey), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
async fn audit_public_key(
    State(state): State<AppState>,
    _auth: Authorized<ReadAudit>,
) -> Json<AuditPublicKey> {
    Json(AuditPublicKey {
        algorithm: "Ed25519",
        public_key: STANDARD.encode(state.audit_key.public_key().as_bytes()),
    })
}
