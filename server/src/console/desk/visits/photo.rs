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
use crate::console::upload::{FORM_OVERHEAD, form_file};
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use uuid::Uuid;

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
    let file = form_file(multipart, "photo", MAX_BYTES)
        .await?
        .ok_or_else(|| ApiError::field("photo", "is required: choose or take a photo"))?;
    // A browser names the file's type from its name; checked against the bytes.
    let declared = file
        .content_type
        .as_deref()
        .and_then(PhotoType::from_media_type)
        .ok_or_else(|| ApiError::field("photo", "choose a JPEG or PNG image"))?;
    Ok((declared, file.bytes))
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
