//! The audit trail for auditors: verify the whole trail, download the public key, and
//! download a verifiable export (the API's export code and operator-log entry) with the
//! exact command that verifies it offline.
//!
//! The verification is a background task, one at a time per server, whose progress the
//! page shows. Starting it waits up to three seconds, so a small trail's result shows at
//! once; a page opened while it runs offers a link to see the progress again (a timed
//! self-refresh fails WCAG 2.2.1: axe's `meta-refresh` rule).

use crate::api::error::ApiError;
use crate::api::filters::{self, Kinds};
use crate::api::routes::audit::export_response;
use crate::audit::export::{ExportFilter, ExportRequest, Format};
use crate::audit::verify::{VerifyReport, verify_counting};
use crate::auth::permissions::ReadAudit;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, Utc};
use gatehouse_core::decide::{Outcome, Reason};
use serde::Deserialize;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use strum::IntoEnumIterator;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(page))
        .route("/audit/verify", post(start))
        .route("/audit/public-key", get(public_key))
        .route("/audit/export", get(download))
}

/// People offered in the person choice (a name search narrows them).
const PEOPLE_SHOWN: u32 = 500;

/// The file name the page offers the public key as, and its command uses.
const KEY_FILE: &str = "gatehouse-audit.pub";

/// A whole-trail verification started from the console.
pub struct Run {
    started_by: String,
    started_at: DateTime<Utc>,
    /// The chain's length when it started.
    total: i64,
    checked: Arc<AtomicI64>,
    /// When done: the report, or why it could not run (the database unreachable).
    result: Option<(DateTime<Utc>, Result<VerifyReport, String>)>,
}

/// How long starting a verification waits for its result before showing the progress.
const RESULT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The last verification started on this server (one at a time), kept in the state.
#[derive(Default)]
pub struct Verifications(Mutex<Option<Run>>);

impl Verifications {
    fn with_run<T>(&self, f: impl FnOnce(&mut Option<Run>) -> T) -> T {
        // A panic while holding the lock cannot leave a run half-written: recover it.
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

/// `POST /audit/verify`: starts the verification unless one is running.
async fn start(
    State(state): State<AppState>,
    user: Console<ReadAudit>,
) -> Result<Response, Failure> {
    let (total, _) = state.store.audit_head().await?;
    let checked = Arc::new(AtomicI64::new(0));
    let started = state.verifications.with_run(|run| {
        if run.as_ref().is_some_and(|r| r.result.is_none()) {
            return false;
        }
        *run = Some(Run {
            started_by: user.principal.display_name.clone(),
            started_at: Utc::now(),
            total,
            checked: checked.clone(),
            result: None,
        });
        true
    });
    if started {
        let store = state.store.clone();
        let key = state.audit_key.public_key();
        let verifications = state.verifications.clone();
        let task = tokio::spawn(async move {
            let result = verify_counting(&store, &key, &checked).await;
            let result = result.map_err(|e| e.to_string());
            verifications.with_run(|run| {
                if let Some(run) = run.as_mut() {
                    run.result = Some((Utc::now(), result));
                }
            });
        });
        // A short trail's result shows at once; a long one goes on in the background
        // (the task is not cancelled when the wait ends).
        let _ = tokio::time::timeout(RESULT_WAIT, task).await;
    }
    Ok(Redirect::to("/audit#verify-title").into_response())
}

/// What the page says of the verification.
struct Shown {
    running: bool,
    started: String,
    progress: String,
    /// 0–100.
    percent: i64,
    finished: String,
    ok: Option<bool>,
    result: String,
    checked: String,
}

/// The export form's fields (also the query the events page links with).
#[derive(Deserialize, Default)]
pub struct ExportForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    person: String,
    /// Narrows the person choices to names containing it (the form's "Find" button).
    #[serde(default)]
    person_name: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    format: String,
}

type Choices = Vec<(String, String, bool)>;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    run: Option<Shown>,
    last_checkpoint: String,
    public_key: String,
    key_file: &'static str,
    form: ExportForm,
    sites: Choices,
    zones: Choices,
    doors: Choices,
    people: Choices,
    outcomes: Choices,
    reasons: Choices,
    /// The event kinds with their words, offered for the kind field.
    event_kinds: &'static [(&'static str, &'static str)],
    zone_label: String,
}

fn shown(run: &Run, zone: chrono_tz::Tz) -> Shown {
    let checked = run.checked.load(Ordering::Relaxed);
    let percent = if run.total > 0 {
        (checked * 100 / run.total).clamp(0, 100)
    } else {
        100
    };
    let started = format!(
        "{} by {}",
        time::local(run.started_at, zone),
        run.started_by
    );
    let (finished, ok, result, checked) = match &run.result {
        None => (String::new(), None, String::new(), String::new()),
        Some((at, Err(e))) => (
            time::local(*at, zone),
            Some(false),
            format!("The verification could not run: {e}"),
            String::new(),
        ),
        Some((at, Ok(report))) => {
            let result = match &report.first_bad {
                None => "Every record verifies: nothing was altered, removed, added or \
                         reordered, and every checkpoint's signature is valid."
                    .to_owned(),
                Some(bad) => {
                    let at = bad
                        .seq
                        .map(|s| format!("entry {s}"))
                        .unwrap_or_else(|| "the trail".to_owned());
                    let what = bad.source.as_deref().map_or(String::new(), |s| {
                        format!(" ({} record)", s.replace('_', " "))
                    });
                    format!(
                        "The trail does NOT verify. First problem at {at}{what}: {}.",
                        bad.detail
                    )
                }
            };
            let checked = format!(
                "{} entries and {} signed checkpoints checked",
                report.records, report.checkpoints
            );
            (time::local(*at, zone), Some(report.ok), result, checked)
        }
    };
    Shown {
        running: run.result.is_none(),
        started,
        progress: format!("{checked} of {} entries checked", run.total),
        percent,
        finished,
        ok,
        result,
        checked,
    }
}

fn uuid(field: &str, text: &str) -> Result<Option<Uuid>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(text.parse().map_err(|_| {
        ApiError::field(field, "is not one of the choices")
    })?))
}

/// The time zone the form's period is read in: the chosen site's, else the only site's.
fn form_zone(names: &Names, form: &ExportForm) -> Result<chrono_tz::Tz, Failure> {
    let site = uuid("site", &form.site)?.or(names.only_site());
    Ok(names.tz(site))
}

/// `GET /audit`: verification, public key and the export form (prefilled from the query).
async fn page(
    State(state): State<AppState>,
    user: Console<ReadAudit>,
    Query(form): Query<ExportForm>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let zone = form_zone(&names, &form)?;
    let run = state
        .verifications
        .with_run(|run| run.as_ref().map(|r| shown(r, zone)));
    let last_checkpoint = match state.store.last_checkpoint().await? {
        Some(c) => format!("entry {}, signed {}", c.seq, time::local(c.signed_at, zone)),
        None => "none yet".to_owned(),
    };
    let chosen = |text: &str, id: Uuid| text.trim() == id.to_string();
    let mut sites: Choices = names
        .sites
        .iter()
        .map(|(id, s)| (id.to_string(), s.name.clone(), chosen(&form.site, *id)))
        .collect();
    sites.sort_by(|a, b| a.1.cmp(&b.1));
    let mut zones: Choices = names
        .zones
        .values()
        .map(|z| {
            let label = format!("{} · {}", z.name, names.site(z.site_id));
            (z.id.to_string(), label, chosen(&form.zone, z.id))
        })
        .collect();
    zones.sort_by(|a, b| a.1.cmp(&b.1));
    let doors = names.door_choices(uuid("door", &form.door).ok().flatten());
    let name = Some(form.person_name.trim()).filter(|n| !n.is_empty());
    let mut people: Choices = state
        .store
        .list_people(None, name, PEOPLE_SHOWN)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.name.clone(), chosen(&form.person, p.id)))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    let outcomes = Outcome::iter()
        .map(|o| {
            (
                o.as_str().to_owned(),
                labels::outcome(o).to_owned(),
                form.outcome == o.as_str(),
            )
        })
        .collect();
    let reasons = Reason::iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                labels::reason(r).to_owned(),
                form.reason == r.as_str(),
            )
        })
        .collect();
    Ok(render(AuditPage {
        chrome: Chrome::new(&user.principal, "/audit", "Audit trail"),
        run,
        last_checkpoint,
        public_key: base64::engine::general_purpose::STANDARD
            .encode(state.audit_key.public_key().as_bytes()),
        key_file: KEY_FILE,
        form,
        sites,
        zones,
        doors,
        people,
        outcomes,
        reasons,
        event_kinds: &labels::EVENT_KINDS,
        zone_label: zone.name().to_owned(),
    }))
}

/// `GET /audit/public-key`: the key as a file, ready for `--public-key`.
async fn public_key(State(state): State<AppState>, _user: Console<ReadAudit>) -> Response {
    let key =
        base64::engine::general_purpose::STANDARD.encode(state.audit_key.public_key().as_bytes());
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{KEY_FILE}\""),
            ),
        ],
        format!("{key}\n"),
    )
        .into_response()
}

/// `GET /audit/export?…`: the export file (the API's code, logged the same way).
async fn download(
    State(state): State<AppState>,
    user: Console<ReadAudit>,
    Query(form): Query<ExportForm>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let zone = form_zone(&names, &form)?;
    let from = time::parse_local("from", &form.from, zone)?
        .ok_or_else(|| ApiError::field("from", "is required"))?;
    let to = time::parse_local("to", &form.to, zone)?
        .ok_or_else(|| ApiError::field("to", "is required"))?;
    if to <= from {
        return Err(ApiError::field("to", "must be after from").into());
    }
    let text = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    let outcome = filters::outcome(text(&form.outcome).as_deref())?;
    let reason = filters::reason(text(&form.reason).as_deref())?;
    let kind = filters::kind(text(&form.kind).as_deref(), Kinds::EventsAndActions)?;
    let format = match form.format.as_str() {
        "" | "csv" => Format::Csv,
        "ndjson" => Format::Ndjson,
        _ => return Err(ApiError::field("format", "must be csv or ndjson").into()),
    };
    let request = ExportRequest {
        from,
        to,
        format,
        filter: ExportFilter {
            door_id: uuid("door", &form.door)?,
            person_id: uuid("person", &form.person)?,
            zone_id: uuid("zone", &form.zone)?,
            site_id: uuid("site", &form.site)?,
            outcome: outcome.map(|o| o.to_string()),
            reason: reason.map(|r| r.to_string()),
            kind,
            ..ExportFilter::default()
        },
    };
    Ok(export_response(&state, &user.actor(), request, true).await?)
}
