//! Request-wide behaviour: request ids, tracing and metrics, security headers (HSTS in
//! TLS mode), and the uniform error body.

use super::error::{ErrorBody, ErrorResponse};
use crate::metrics::Metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, for handlers that record it (e.g. in the operator log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps a client's `x-request-id` when it is short and plain, else makes one; echoes it
/// on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value.clone());
        request.extensions_mut().insert(RequestId(id));
        let mut response = next.run(request).await;
        response.headers_mut().insert(REQUEST_ID, value);
        response
    } else {
        next.run(request).await
    }
}

/// One span per request (route, request id; never headers or bodies), one log line per
/// answer (health checks at debug level), and the request metrics.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("request", %method, %route, %request_id);
    let response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let latency_ms = took.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if route == "/healthz" || route == "/readyz" {
            tracing::debug!(status, latency_ms, "answered");
        } else {
            tracing::info!(status, latency_ms, "answered");
        }
    });
    metrics.observe_request(&method, &route, status, took);
    response
}

/// Headers every answer carries: no sniffing, no framing, no caching of API data.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// How long browsers keep to HTTPS for this host after an answer over TLS: one year, the
/// usual value. Not `includeSubDomains`: other hosts of the domain are not ours to bind.
const HSTS: &str = "max-age=31536000";

/// `Strict-Transport-Security` on every answer; layered only when the API serves TLS
/// (over plain HTTP the header would be ignored and is wrong to send).
pub async fn strict_transport_security(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    response
}

/// Writes every error in the API's shape with its request id: those of our handlers
/// (which leave an `ErrorBody` in the response) and the bare ones of the framework and
/// middleware (unknown route, wrong method, timeout).
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_html(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A framework response has no ErrorBody; its plain-text body is replaced.
    let mut error = parts
        .extensions
        .remove::<ErrorBody>()
        .unwrap_or_else(|| generic_error(status));
    error.request_id = request_id;
    drop(body);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut response = (status, axum::Json(ErrorResponse { error })).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// A console page (its error pages included) keeps its body.
fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn generic_error(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed here"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "the request is not valid"),
    };
    ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
        fields: None,
        request_id: String::new(),
    }
}
