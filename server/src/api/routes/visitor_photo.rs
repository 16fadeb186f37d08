//! The visitor's photo, reached through a visit like the rest of the visitor:
//! `PUT /visits/{id}/visitor-photo` with the image itself as the body (`image/jpeg` or
//! `image/png`, at most 2 MiB, its bytes the type declared), `GET` to show it, `DELETE`
//! to remove it. Whoever may change the visit may change its photo (a host only its own
//! visits: another host's answer 404); whoever may read the visit may see it. Each
//! change is in the operator log with the photo's SHA-256, never its bytes. The console
//! calls the same functions ([`store_photo`], [`remove_photo`], [`photo_response`]).

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiPath;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{InviteVisitors, Permission, ReadVisits};
use crate::badges::photo::{MAX_BYTES, PhotoType, check};
use crate::state::AppState;
use crate::store::{StoreError, VisitorPhoto};
use crate::visits::{self, Caller};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_photo, put_photo, delete_photo))
}

async fn caller<P: Permission>(state: &AppState, auth: &Authorized<P>) -> Result<Caller, ApiError> {
    let p = &auth.principal;
    Caller::of(state, p.operator_id, p.role, auth.actor()).await
}

/// The visitor's photo, as it was taken (`image/jpeg` or `image/png`).
#[utoipa::path(get, path = "/visits/{id}/visitor-photo", tag = "visits",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The photo, of the type it was stored with",
            content(("image/jpeg"), ("image/png"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse, description = "no such visit, or no photo")))]
async fn get_photo(
    State(state): State<AppState>,
    auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &auth).await?;
    Ok(photo_response(photo(&state, &caller, id).await?))
}

/// Set the visitor's photo: the image itself as the body, `Content-Type: image/jpeg` or
/// `image/png` (415 otherwise), at most 2 MiB (413), its bytes of the type declared and
/// readable (422 on `photo`); nothing changes when refused. Replaces any earlier photo.
#[utoipa::path(put, path = "/visits/{id}/visitor-photo", tag = "visits",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body(description = "A JPEG (baseline or progressive) or PNG image, at most 2 MiB",
        content(("image/jpeg"), ("image/png"))),
    responses((status = 204, description = "Stored"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 415, body = ErrorResponse, description = "not image/jpeg or image/png"),
        (status = 422, body = ErrorResponse)))]
async fn put_photo(
    State(state): State<AppState>,
    auth: Authorized<InviteVisitors>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &auth).await?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(PhotoType::from_media_type)
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "the photo must be sent as Content-Type image/jpeg or image/png".to_owned(),
            )
        })?;
    let bytes = read_body(&headers, body).await?;
    store_photo(&state, &caller, id, declared, bytes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the visitor's photo (204 also when there was none).
#[utoipa::path(delete, path = "/visits/{id}/visitor-photo", tag = "visits",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn delete_photo(
    State(state): State<AppState>,
    auth: Authorized<InviteVisitors>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &auth).await?;
    remove_photo(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The photo of the visit's visitor, if the caller may see the visit.
pub async fn photo(state: &AppState, caller: &Caller, id: Uuid) -> Result<VisitorPhoto, ApiError> {
    let visit = visits::visible(state, caller, id).await?;
    let Some(visitor) = visit.visitor_id else {
        return Err(ApiError::NotFound("photo"));
    };
    state
        .store
        .visitor_photo(visitor)
        .await?
        .ok_or(ApiError::NotFound("photo"))
}

/// Checks `bytes` against the declared type and stores them as the visitor's photo.
pub async fn store_photo(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    declared: PhotoType,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    check(declared, &bytes).map_err(|why| ApiError::field("photo", why))?;
    visits::visible(state, caller, id).await?;
    let photo = VisitorPhoto {
        content_type: declared.media_type().to_owned(),
        bytes,
    };
    set(state, caller, id, Some(&photo)).await
}

/// Removes the visitor's photo.
pub async fn remove_photo(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    visits::visible(state, caller, id).await?;
    set(state, caller, id, None).await
}

async fn set(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    photo: Option<&VisitorPhoto>,
) -> Result<(), ApiError> {
    match state
        .store
        .set_visitor_photo(id, photo, &caller.actor)
        .await
    {
        Ok(_) => Ok(()),
        // No visitor, or one purged by retention: nothing to hold a photo.
        Err(StoreError::NotFound) => Err(ApiError::NotFound("visitor")),
        Err(other) => Err(other.into()),
    }
}

/// The photo as an answer: its own type, never cached, never sniffed as anything else.
pub fn photo_response(photo: VisitorPhoto) -> Response {
    (
        [
            (header::CONTENT_TYPE, photo.content_type),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        photo.bytes,
    )
        .into_response()
}

/// The body, read as it arrives, refused once over [`MAX_BYTES`].
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut bytes = Vec::with_capacity(announced.unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if bytes.len() + chunk.len() > MAX_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
