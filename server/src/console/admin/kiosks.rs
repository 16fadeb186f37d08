//! `/admin/kiosks`: self-service check-in tablets for administrators. Registering one
//! shows a one-time enrolment code to type on the tablet at `/kiosk`; revoking stops
//! the tablet at once.

use crate::api::error::ApiError;
use crate::auth::permissions::ManageAgents;
use crate::console::kiosk::new_code;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::domain::checks::{NAME_MAX, check_text};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/admin/kiosks";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(register))
        .route("/admin/kiosks/{id}/revoke", post(revoke))
}

struct KioskLine {
    id: Uuid,
    name: String,
    site: String,
    state: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin/kiosks.html")]
struct KiosksPage {
    chrome: Chrome,
    kiosks: Vec<KioskLine>,
    sites: Vec<(Uuid, String)>,
    /// Just registered: the kiosk's name, its code and until when it works.
    code: Option<(String, String, String)>,
}

async fn page(
    state: &AppState,
    user: &Console<ManageAgents>,
    code: Option<(String, String, String)>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let kiosks = state.store.list_kiosks().await?;
    let lines = kiosks
        .into_iter()
        .map(|k| {
            let state = match (k.revoked_at, k.enrolled_at) {
                (Some(at), _) => format!("revoked {}", names.time(at, Some(k.site_id))),
                (None, Some(at)) => format!("in use since {}", names.time(at, Some(k.site_id))),
                (None, None) => "waiting for its enrolment code".to_owned(),
            };
            KioskLine {
                id: k.id,
                site: names.site(k.site_id).to_owned(),
                name: k.name,
                revoked: k.revoked_at.is_some(),
                state,
            }
        })
        .collect();
    let mut sites: Vec<(Uuid, String)> = names
        .sites
        .iter()
        .map(|(id, s)| (*id, s.name.clone()))
        .collect();
    sites.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(render(KiosksPage {
        chrome: Chrome::new(&user.principal, PATH, "Kiosks"),
        kiosks: lines,
        sites,
        code,
    }))
}

/// `GET /admin/kiosks`.
async fn list(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
) -> Result<Response, Failure> {
    page(&state, &user, None).await
}

#[derive(Deserialize)]
struct NewKiosk {
    name: String,
    site: String,
}

/// `POST /admin/kiosks`: registers a kiosk and shows its code once.
async fn register(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
    Form(form): Form<NewKiosk>,
) -> Result<Response, Failure> {
    let mut problems = crate::domain::FieldErrors::new();
    check_text(&mut problems, "name", Some(form.name.as_str()), NAME_MAX);
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems).into());
    }
    let site = form
        .site
        .parse::<Uuid>()
        .map_err(|_| ApiError::field("site", "is not one of the choices"))?;
    if state.store.site(site).await.is_err() {
        return Err(ApiError::field("site", "is not one of the choices").into());
    }
    let (code, hash, until) = new_code();
    let kiosk = state
        .store
        .create_kiosk(site, form.name.trim(), &hash, until, &user.actor())
        .await?;
    let names = Names::load(&state.store).await?;
    let shown = (kiosk.name, code, names.time(until, Some(site)));
    page(&state, &user, Some(shown)).await
}

/// `POST /admin/kiosks/{id}/revoke`.
async fn revoke(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .revoke_kiosk(id, &user.actor())
        .await
        .map_err(Failure::unless_found("kiosk"))?;
    Ok(Redirect::to(PATH).into_response())
}
