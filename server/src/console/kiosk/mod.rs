//! The self-service kiosk: a tablet at reception, enrolled once as a device (no operator
//! logs in on it). A visitor types or scans the check-in code (a keyboard-wedge scanner
//! types it followed by Enter), confirms who they are, signs the documents due
//! ([`arrival`]), and is checked in through the same visit flow as the desk's, then
//! prints the badge; a walk-in registers and waits for reception. A kiosk acts only at
//! its own site. No visit id ever appears in a kiosk URL or form: each step carries the
//! code, so a kiosk cannot browse visits.

mod arrival;

use crate::api::error::ApiError;
use crate::auth::agent::{CODE_VALIDITY, hash_secret, new_enrollment_code, normalize_code};
use crate::console::page::{Failure, render};
use crate::domain::visit::{VisitInput, VisitorInput};
use crate::state::AppState;
use crate::store::{Actor, KioskRecord, StoreError, VisitRecord, VisitStatus, now};
use crate::visits::{self, Caller, Invitation};
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use gatehouse_core::role::Role;
use rand::RngCore;
use serde::Deserialize;

const COOKIE_NAME: &str = "gatehouse_kiosk";
/// How long a walk-in's visit lasts unless reception changes it.
const WALK_IN_HOURS: i64 = 8;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(welcome))
        .route("/kiosk/enrol", post(enrol))
        .route("/kiosk/code", post(arrival::code))
        .route("/kiosk/check-in", post(arrival::check_in))
        .route("/kiosk/sign", post(arrival::sign))
        .route("/kiosk/declined", get(arrival::declined))
        .route("/kiosk/badge", get(arrival::badge))
        .route("/kiosk/walk-in", get(walk_in_form).post(walk_in))
}

/// A one-time enrolment code for a new kiosk, and its hash and expiry to store.
pub fn new_code() -> (String, Vec<u8>, chrono::DateTime<chrono::Utc>) {
    let code = new_enrollment_code();
    let hash = hash_secret(&code);
    (code, hash, now() + CODE_VALIDITY)
}

/// The enrolled kiosk this browser is, from its device cookie.
pub struct Kiosk(pub KioskRecord);

impl Kiosk {
    fn caller(&self) -> Caller {
        Caller {
            role: Role::Receptionist,
            person_id: None,
            actor: Actor {
                id: Some(self.0.id),
                name: format!("kiosk {}", self.0.name),
                request_id: None,
            },
        }
    }
}

fn device_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// No kiosk: the page to enrol this browser.
pub struct NotEnrolled;

impl IntoResponse for NotEnrolled {
    fn into_response(self) -> Response {
        Redirect::to("/kiosk").into_response()
    }
}

impl FromRequestParts<AppState> for Kiosk {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = device_token(&parts.headers) else {
            return Err(NotEnrolled.into_response());
        };
        match state.store.kiosk_by_token(&hash_secret(token)).await {
            Ok(Some(kiosk)) => Ok(Kiosk(kiosk)),
            Ok(None) => Err(NotEnrolled.into_response()),
            Err(error) => Err(Failure::from(ApiError::from(error)).into_response()),
        }
    }
}

#[derive(Template)]
#[template(path = "kiosk/enrol.html")]
struct EnrolPage {
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "kiosk/welcome.html")]
struct WelcomePage {
    kiosk: String,
    error: Option<String>,
}

/// `GET /kiosk`: the welcome screen, or enrolment on a browser that is no kiosk yet.
async fn welcome(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Failure> {
    let kiosk = match device_token(&headers) {
        Some(token) => state.store.kiosk_by_token(&hash_secret(token)).await?,
        None => None,
    };
    Ok(match kiosk {
        Some(kiosk) => render(WelcomePage {
            kiosk: kiosk.name,
            error: None,
        }),
        None => render(EnrolPage { error: None }),
    })
}

#[derive(Deserialize)]
struct EnrolForm {
    code: String,
}

/// `POST /kiosk/enrol`: a valid code makes this browser the kiosk (a year's cookie).
async fn enrol(
    State(state): State<AppState>,
    Form(form): Form<EnrolForm>,
) -> Result<Response, Failure> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!(
        "ghk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let code = hash_secret(&normalize_code(&form.code));
    let Some(_) = state.store.enrol_kiosk(&code, &hash_secret(&token)).await? else {
        let page = render(EnrolPage {
            error: Some("This code is not valid or has expired."),
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let secure = if state.console.cookie.secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/kiosk; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}"
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(Failure::internal)?;
    Ok(([(SET_COOKIE, cookie)], Redirect::to("/kiosk")).into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// The invited visit at this kiosk's site with this code, or what to tell the visitor.
async fn expected(
    state: &AppState,
    kiosk: &Kiosk,
    code: &str,
) -> Result<Result<VisitRecord, String>, Failure> {
    const ASK: &str = "Please ask at reception.";
    let visit = match state.store.visit_by_code(code).await {
        Ok(visit) => visit,
        Err(StoreError::NotFound) => return Ok(Err(format!("We could not find this code. {ASK}"))),
        Err(other) => return Err(ApiError::from(other).into()),
    };
    if visit.site_id != Some(kiosk.0.site_id) {
        return Ok(Err(format!("This visit is at another site. {ASK}")));
    }
    Ok(match visit.status {
        VisitStatus::Invited if now() < visit.window_end => Ok(visit),
        VisitStatus::CheckedIn => Err("You are already checked in.".to_owned()),
        _ => Err(format!("This visit cannot be checked in here. {ASK}")),
    })
}

fn refused(kiosk: &Kiosk, error: String) -> Response {
    let page = render(WelcomePage {
        kiosk: kiosk.0.name.clone(),
        error: Some(error),
    });
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

#[derive(Template)]
#[template(path = "kiosk/done.html")]
struct DonePage {
    kiosk: String,
    visitor: String,
    host: String,
    walk_in: bool,
    /// The check-in code, for the badge link (none for a walk-in, not checked in yet).
    badge_code: Option<String>,
}

#[derive(Template)]
#[template(path = "kiosk/walk_in.html")]
struct WalkInPage {
    kiosk: String,
    name: String,
    organisation: String,
    email: String,
    host: String,
    errors: Vec<String>,
}

/// `GET /kiosk/walk-in`.
async fn walk_in_form(kiosk: Kiosk) -> Response {
    render(WalkInPage {
        kiosk: kiosk.0.name,
        name: String::new(),
        organisation: String::new(),
        email: String::new(),
        host: String::new(),
        errors: Vec::new(),
    })
}

#[derive(Deserialize)]
struct WalkInForm {
    name: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    email: String,
    host: String,
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `POST /kiosk/walk-in`: registers the visitor (no zones: reception adds them and
/// checks the visitor in, which is its approval) and says reception will come.
async fn walk_in(
    State(state): State<AppState>,
    kiosk: Kiosk,
    Form(form): Form<WalkInForm>,
) -> Result<Response, Failure> {
    let again = |errors: Vec<String>| {
        let page = render(WalkInPage {
            kiosk: kiosk.0.name.clone(),
            name: form.name.clone(),
            organisation: form.organisation.clone(),
            email: form.email.clone(),
            host: form.host.clone(),
            errors,
        });
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    };
    let wanted = form.host.trim().to_lowercase();
    let found = if wanted.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .search_people(None, Some(&wanted), None, 20)
            .await?
    };
    let hosts: Vec<_> = found
        .iter()
        .filter(|p| p.name.to_lowercase() == wanted)
        .collect();
    let [host] = hosts.as_slice() else {
        return Ok(again(vec![
            "Please type the full name of the person you are visiting.".into(),
        ]));
    };
    let start = now();
    let input = VisitInput {
        visitor: VisitorInput {
            name: form.name.clone(),
            organisation: text(&form.organisation),
            email: text(&form.email),
            ..VisitorInput::default()
        },
        visitor_id: None,
        host_person_id: host.id,
        purpose: Some(format!("Walk-in at the kiosk {}", kiosk.0.name)),
        visit_type: None,
        window_start: start,
        window_end: start + chrono::Duration::hours(WALK_IN_HOURS),
        allowed_zone_ids: Vec::new(),
        escort_required: None,
    };
    let invitation = Invitation {
        visit: input,
        others: Vec::new(),
        site_id: Some(kiosk.0.site_id),
        weekly_until: None,
    };
    match visits::invite(&state, &kiosk.caller(), invitation).await {
        Ok(_) => Ok(render(DonePage {
            kiosk: kiosk.0.name.clone(),
            visitor: form.name.trim().to_owned(),
            host: host.name.clone(),
            walk_in: true,
            badge_code: None,
        })),
        Err(ApiError::Validation(fields)) => Ok(again(fields.into_values().collect())),
        Err(other) => Err(other.into()),
    }
}
