//! The "Card keys" panel of a site's page, for admins: the site's key versions with
//! their states and dates (never a key), and forms to make the first keys, rotate and
//! retire the previous version. Each form needs its confirmation box ticked (a plain
//! form, no script): a rotation starts re-issuing cards, a retirement locks out every
//! card still on that version. The same keyring calls as the API, so the same operator
//! log entries.

use super::PATH;
use super::fields::ticked;
use crate::api::error::ApiError;
use crate::auth::permissions::ManageCardKeys;
use crate::cards::CardKeyError;
use crate::console::page::Failure;
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{CardKeyState, CardKeyVersion, NewVersion, StoreError};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sites/{site}/card-keys", post(create))
        .route("/admin/sites/{site}/card-keys/rotate", post(rotate))
        .route("/admin/sites/{site}/card-keys/retire", post(retire))
}

/// One version as the panel shows it.
pub struct KeyLine {
    pub version: u8,
    pub state: &'static str,
    pub created: String,
    pub changed: String,
}

/// The panel: the versions, and which forms apply.
pub struct KeyPanel {
    pub lines: Vec<KeyLine>,
    pub may_create: bool,
    pub may_rotate: bool,
    /// The previous version, which may be retired.
    pub previous: Option<u8>,
}

impl KeyPanel {
    pub fn new(
        versions: &[CardKeyVersion],
        time: impl Fn(chrono::DateTime<chrono::Utc>) -> String,
    ) -> KeyPanel {
        let state_of = |s: CardKeyState| versions.iter().find(|v| v.state == s);
        KeyPanel {
            lines: versions
                .iter()
                .rev()
                .map(|v| KeyLine {
                    version: v.version,
                    state: match v.state {
                        CardKeyState::Current => "current",
                        CardKeyState::Previous => "previous (still accepted)",
                        CardKeyState::Retired => "retired (refused)",
                    },
                    created: time(v.created_at),
                    changed: time(v.changed_at),
                })
                .collect(),
            may_create: versions.is_empty(),
            may_rotate: state_of(CardKeyState::Current).is_some()
                && state_of(CardKeyState::Previous).is_none(),
            previous: state_of(CardKeyState::Previous).map(|v| v.version),
        }
    }
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

fn confirmed(form: &KeyForm) -> Result<(), Failure> {
    if ticked(&form.confirm) {
        Ok(())
    } else {
        Err(ApiError::field("confirm", "tick the box to confirm").into())
    }
}

fn refused(error: CardKeyError) -> Failure {
    match error {
        CardKeyError::Store(StoreError::NotFound) => Failure::not_found("site"),
        other => ApiError::from(other).into(),
    }
}

fn back(site: Uuid) -> Response {
    Redirect::to(&format!("{PATH}/{site}#card-keys")).into_response()
}

/// What a form asks of the keyring.
enum Change {
    /// First keys or a rotation.
    Add(NewVersion),
    /// Retire the version the form names.
    Retire,
}

/// Every form here: the box ticked, the keyring change made as this user (so the same
/// operator log entry as the API), then back to the panel.
async fn apply(
    state: AppState,
    user: Console<ManageCardKeys>,
    site: Uuid,
    form: KeyForm,
    change: Change,
) -> Result<Response, Failure> {
    confirmed(&form)?;
    let actor = user.actor();
    let done = match change {
        Change::Add(kind) => state.card_keys.add_version(site, kind, &actor).await,
        Change::Retire => {
            let version = version_to_retire(&form)?;
            state.card_keys.retire(site, version, &actor).await
        }
    };
    done.map_err(refused)?;
    Ok(back(site))
}

/// The version to retire, as the form gave it.
fn version_to_retire(form: &KeyForm) -> Result<u8, Failure> {
    (form.version.as_deref().unwrap_or_default().trim())
        .parse::<u8>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::field("version", "must be between 1 and 255").into())
}

/// `POST /admin/sites/{site}/card-keys`: the site's first keys.
async fn create(
    State(state): State<AppState>,
    user: Console<ManageCardKeys>,
    Path(site): Path<Uuid>,
    Form(form): Form<KeyForm>,
) -> Result<Response, Failure> {
    apply(state, user, site, form, Change::Add(NewVersion::First)).await
}

/// `POST /admin/sites/{site}/card-keys/rotate`: a new current version.
async fn rotate(
    State(state): State<AppState>,
    user: Console<ManageCardKeys>,
    Path(site): Path<Uuid>,
    Form(form): Form<KeyForm>,
) -> Result<Response, Failure> {
    apply(state, user, site, form, Change::Add(NewVersion::Rotate)).await
}

/// `POST /admin/sites/{site}/card-keys/retire`: the previous version is refused.
async fn retire(
    State(state): State<AppState>,
    user: Console<ManageCardKeys>,
    Path(site): Path<Uuid>,
    Form(form): Form<KeyForm>,
) -> Result<Response, Failure> {
    apply(state, user, site, form, Change::Retire).await
}
