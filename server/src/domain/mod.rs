//! The rules of the model, apart from how a request arrives: what makes a person, a
//! credential, a vetting record, a site, zone, door or schedule acceptable, in the words
//! a client is told. The HTTP API, the bulk import, the CLI and the web console all call
//! these, so the same values are refused the same way whichever door they come through.
//!
//! The constructors produce the store's input types (`store::NewPerson` and the like,
//! which stay plain data):
//! - `X::checked(self)` when what a client sends already has the store type's shape: names
//!   are checked and trimmed, ranges and windows checked;
//! - `X::parse(input)` when it does not (a credential's holder given as one of two ids, a
//!   PIN in clear text): the `*Input` type beside it is what a client sends.
//!
//! Both answer [`FieldErrors`], every problem found at once, keyed by the field's name.
//! Rules that need the database (an id names a record, a card is not issued twice) stay in
//! the store; [`conflict`] names the uniqueness rules a write can break.

pub mod checks;
pub mod conflict;
pub mod credential;
pub mod grant;
pub mod group;
pub mod note;
pub mod operator;
pub mod person;
pub mod site_model;
pub mod visit;

use std::collections::BTreeMap;

/// Per-field problems of refused input: field name → what is wrong.
pub type FieldErrors = BTreeMap<String, String>;

/// `value` when nothing was found wrong, else every problem.
pub fn accept<T>(problems: FieldErrors, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
    if problems.is_empty() {
        Ok(value())
    } else {
        Err(problems)
    }
}

/// One problem with one field.
pub fn field_error(field: &str, problem: impl Into<String>) -> FieldErrors {
    FieldErrors::from([(field.to_owned(), problem.into())])
}

#[cfg(test)]
mod tests;
