//! Reading the administration forms' fields: browsers send text, so numbers, choices and
//! check boxes are read here, and a field that does not read is a 422 naming it, as the
//! API's checks name theirs. The rules themselves stay in `crate::domain` and the store.

use crate::api::error::ApiError;
use std::str::FromStr;
use uuid::Uuid;

/// A number, or `None` when the field is empty.
pub fn number<T: FromStr>(field: &str, text: &str, problem: &str) -> Result<Option<T>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| ApiError::field(field, problem))
}

/// A number the form must carry.
pub fn required<T: FromStr>(field: &str, text: &str, problem: &str) -> Result<T, ApiError> {
    number(field, text, problem)?.ok_or_else(|| ApiError::field(field, problem))
}

/// A choice among a select's values (`strum` names), or `None` when empty.
pub fn choice<T: FromStr>(field: &str, text: &str, problem: &str) -> Result<Option<T>, ApiError> {
    number(field, text, problem)
}

/// An id from a select (a record of the model), or `None` when "none" was chosen.
pub fn id(field: &str, text: &str) -> Result<Option<Uuid>, ApiError> {
    number(field, text, "is not one of the choices")
}

/// A check box: present when ticked.
pub fn ticked(value: &Option<String>) -> bool {
    value.is_some()
}

/// Every failure of a console action as the error page with its fields.
pub fn failure(error: impl Into<ApiError>) -> crate::console::page::Failure {
    error.into().into()
}

/// Gathers every field's problem so one answer names them all, as the API's checks do.
#[derive(Default)]
pub struct Problems(pub crate::domain::FieldErrors);

impl Problems {
    /// The value, or `None` with its field's problem kept.
    pub fn keep<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ApiError::Validation(fields)) => {
                self.0.extend(fields);
                None
            }
            Err(other) => {
                self.0.insert("form".to_owned(), other.to_string());
                None
            }
        }
    }

    /// The refusal naming every field kept.
    pub fn refusal(self) -> ApiError {
        ApiError::Validation(self.0)
    }
}
