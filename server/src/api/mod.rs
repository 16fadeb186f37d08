//! The HTTP API: every route and the OpenAPI document are composed here, so the whole
//! surface reads in one place.

pub mod error;
pub mod extract;
pub mod filters;
pub mod middleware;
pub mod pagination;
pub mod routes;
pub mod sse;
pub mod time;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = "Physical access control and visitor management."),
    modifiers(&BearerAuth),
    components(schemas(time::Timestamp)),
    tags(
        (name = "auth", description = "Operator login and sessions"),
        (name = "operators", description = "Operator accounts and the operator log"),
        (name = "health", description = "Liveness and readiness"),
        (name = "access", description = "Questions answered by the decision engine"),
        (name = "policy", description = "The signed policy snapshot"),
        (name = "import", description = "Bulk onboarding from HR"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// All routes with their OpenAPI descriptions: `/healthz`, `/readyz` and `/api/v1/...`.
fn routes() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::operators::router())
        .merge(routes::operator_log::router())
        .merge(routes::audit::router())
        .merge(routes::occupancy::router())
        .merge(routes::access::router())
        .merge(routes::policy::router())
        // site model routes (sites, zones, doors, schedules)
        .merge(routes::sites::router())
        .merge(routes::zones::router())
        .merge(routes::doors::router())
        .merge(routes::schedules::router())
        // people model routes (people, credentials, groups, grants, visits)
        .merge(routes::people::router())
        .merge(routes::credentials::router())
        .merge(routes::groups::router())
        .merge(routes::grants::router())
        .merge(routes::visits::router())
        .merge(routes::visit_rules::router())
        .merge(routes::notifications::router())
        .merge(routes::badges::router())
        .merge(routes::documents::router())
        .merge(routes::visitor_cards::router())
        .merge(routes::visitor_photo::router())
        .merge(routes::watchlist::router())
        // bulk onboarding from HR
        .merge(routes::import::router())
        // door agents: operator side, agent side, and the events they upload
        .merge(routes::agents::router())
        .merge(routes::agent_api::router())
        .merge(routes::card_keys::router())
        .merge(routes::secure_cards::router())
        .merge(routes::events::router())
        // live alarms: list, acknowledge, stream
        .merge(routes::alarms::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::router())
        .nest("/api/v1", v1)
}

/// The OpenAPI 3.1 document of every endpoint.
pub fn openapi() -> OpenApiDoc {
    let (_, mut doc) = routes().split_for_parts();
    doc.paths
        .paths
        .insert("/api/v1/openapi.json".to_owned(), openapi_path_item());
    document_request_errors(&mut doc);
    doc
}

/// Adds the answers every operation with input can give: 400 for a malformed body or
/// parameter, 413 for a body over the limit. Written once here rather than on each
/// handler.
fn document_request_errors(doc: &mut OpenApiDoc) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorResponse")))
                    .build(),
            )
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut operation.responses.responses;
            if has_body || has_params {
                responses
                    .entry("400".to_owned())
                    .or_insert_with(|| error("malformed body or parameter").into());
            }
            if has_body || has_params {
                responses
                    .entry("422".to_owned())
                    .or_insert_with(|| error("a value is not valid (fields name which)").into());
            }
            if has_body {
                responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error("body larger than the limit").into());
            }
        }
    }
}

fn openapi_path_item() -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::{PathItem, ResponseBuilder};
    PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .summary(Some("This OpenAPI document"))
            .tag("health")
            .response(
                "200",
                ResponseBuilder::new().description("OpenAPI 3.1 document"),
            ),
    )
}

/// Limits and timeouts applied to every request.
pub struct Limits {
    pub body_bytes: usize,
    pub timeout: Duration,
}

/// The complete application: routes, the OpenAPI document and all middleware.
pub fn app(state: AppState, limits: Limits) -> Router {
    let (router, _) = routes().split_for_parts();
    let doc = openapi();
    let metrics = state.metrics.clone();
    let api = router
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc.clone()) }),
        )
        // Unknown paths: the console's 404 page for a browser, the error envelope for
        // the API (see `middleware::error_envelope`).
        .fallback(not_found)
        .layer(axum::middleware::from_fn(middleware::error_envelope));
    api.merge(crate::console::router())
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        // Answers are serialised within the viewer's scope.
        .layer(axum::middleware::from_fn(crate::auth::visibility::scope))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            middleware::observe,
        ))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn(middleware::request_id))
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if crate::console::is_console_path(uri.path()) {
        crate::console::page::Failure::not_found("page").into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}
