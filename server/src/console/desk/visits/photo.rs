//! The visitor's photo on the visit's page: `GET /visits/{id}/photo` serves it to the
//! session (whoever may read the visit), `POST /visits/{id}/photo` takes the form's
//! `photo` file (a tablet's camera through `capture="user"`) and
//! `POST /visits/{id}/photo/remove` removes it — both the API's own functions
//! (`api::routes::visitor_photo`): the same checks and operator-log entries.

use super::caller;
use crate::api::error::ApiError;
use crate::api::routes::visitor_photo::{photo, photo_response, remove_photo, store_photo};
use crate::auth::permissions::{InviteVisitors, ReadVisits};
use crate::badges::photo::{MAX_BYTES, PhotoType};
use crate::console::page::Failure;
use crate::console::session::Console;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use uuid::Uuid;

/// Room for the form's boundaries and headers around the photo.
const FORM_OVERHEAD: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/visits/{id}/photo",
            get(show)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_BYTES + FORM_OVERHEAD)),
        )
        .route("/visits/{id}/photo/remove", post(remove))
}

/// `GET /visits/{id}/photo`: the photo for the page's `<img>`.
async fn show(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    Ok(photo_response(photo(&state, &caller, id).await?))
}

/// The form's `photo` part: its declared type and bytes, at most [`MAX_BYTES`].
async fn part(multipart: &mut Multipart) -> Result<(PhotoType, Vec<u8>), ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("the form could not be read: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("photo") {
            continue;
        }
        // A browser names the file's type from its name; checked against the bytes.
        let declared = field
            .content_type()
            .and_then(PhotoType::from_media_type)
            .ok_or_else(|| ApiError::field("photo", "choose a JPEG or PNG image"))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if bytes.len() + chunk.len() > MAX_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((declared, bytes));
    }
    Err(ApiError::field(
        "photo",
        "is required: choose or take a photo",
    ))
}

/// `POST /visits/{id}/photo`: stores the photo, back to the visit's page.
async fn upload(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
    Path(id): Path<Uuid>,
    mut multipart: Multipart,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let (declared, bytes) = part(&mut multipart).await?;
    store_photo(&state, &caller, id, declared, bytes).await?;
    Ok(Redirect::to(&format!("/visits/{id}")).into_response())
}

/// `POST /visits/{id}/photo/remove`: removes the photo, back to the visit's page.
async fn remove(
    State(state): State<AppState>,
    user: Console<InviteVisitors>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    remove_photo(&state, &caller, id).await?;
    Ok(Redirect::to(&format!("/visits/{id}")).into_response())
}
