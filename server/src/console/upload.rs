//! A file sent from a console form (multipart), read as it arrives into one buffer of at
//! most a given size: the HR import's and the watchlist's files, a visitor's photo.

use crate::api::error::ApiError;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

/// Room for a form's other parts, boundaries and headers around its file.
pub const FORM_OVERHEAD: usize = 64 * 1024;

/// A file part of a form.
pub struct Uploaded {
    /// The type the browser declared (from the file's name): to check, not to trust.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The form's part `name`, or `None` when it has none; 413 past `max` bytes.
pub async fn form_file(
    multipart: &mut Multipart,
    name: &str,
    max: usize,
) -> Result<Option<Uploaded>, ApiError> {
    let bad = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("the form could not be read: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some(name) {
            continue;
        }
        let content_type = field.content_type().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if bytes.len() + chunk.len() > max {
                return Err(ApiError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Some(Uploaded {
            content_type,
            bytes,
        }));
    }
    Ok(None)
}

/// The form's `file` part, not empty (`what` names it in the error); 413 past `max`.
pub async fn form_csv(
    multipart: &mut Multipart,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    match form_file(multipart, "file", max).await? {
        None => Err(ApiError::field("file", "is required")),
        Some(file) if file.bytes.is_empty() => {
            Err(ApiError::field("file", format!("is empty; choose {what}")))
        }
        Some(file) => Ok(file.bytes),
    }
}
