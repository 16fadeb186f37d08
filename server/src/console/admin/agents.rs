//! `/admin/agents`: door agents and their state (enrolled or waiting for enrolment,
//! online or not, last heard, doors, clock offset), for the roles that may read agents.
//! Admins register an agent for its doors, issue a new enrolment code, or revoke it; a
//! code is shown once, with the exact `door-agent enroll` command to run on the door
//! machine. Each action is the API's: the same code, checks and operator-log entries.

use crate::alarms::AgentLiveness;
use crate::api::routes::agents::code;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::{ManageAgents, Permission, ReadAgents};
use crate::console::admin::sites::fields::failure;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{AgentRecord, AgentStatus, NewAgent, StoreError, now};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use uuid::Uuid;

const PATH: &str = "/admin/agents";

/// Where the command tells the door agent to write its configuration: the path the
/// README and `deploy/door-agent.service` use.
pub const CONFIG_PATH: &str = "/etc/gatehouse/door-agent.toml";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(register))
        .route("/admin/agents/{id}/code", post(new_code))
        .route("/admin/agents/{id}/revoke", post(revoke))
}

struct AgentRow {
    id: Uuid,
    name: String,
    status: String,
    online: bool,
    revoked: bool,
    last_heard: String,
    doors: Vec<String>,
    clock: String,
}

struct DoorChoice {
    id: Uuid,
    label: String,
    served_by: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct AgentsPage {
    chrome: Chrome,
    agents: Vec<AgentRow>,
    online: usize,
    may_manage: bool,
    doors: Vec<DoorChoice>,
    offline_after_s: u64,
}

/// Every agent, in creation order.
pub async fn all_agents(state: &AppState) -> Result<Vec<AgentRecord>, StoreError> {
    let mut agents = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_agents(after, 500).await?;
        after = page.last().map(|a| a.id);
        let full = page.len() == 500;
        agents.extend(page);
        if !full {
            break;
        }
    }
    Ok(agents)
}

/// Whether an agent was heard from within `offline_after` (as the door board says).
pub fn is_online(agent: &AgentRecord, offline_after: std::time::Duration) -> bool {
    let since = chrono::Duration::from_std(offline_after)
        .ok()
        .and_then(|d| now().checked_sub_signed(d));
    agent.status == AgentStatus::Active
        && matches!((agent.last_seen_at, since), (Some(seen), Some(since)) if seen >= since)
}

fn row(agent: AgentRecord, names: &Names, offline_after: std::time::Duration) -> AgentRow {
    let site = agent.door_ids.first().and_then(|d| names.door_site(*d));
    let zone = names.tz(site);
    let status = match agent.status {
        AgentStatus::Pending => match agent.enrollment_expires_at {
            Some(until) if until > now() => format!(
                "waiting for enrolment (code valid until {})",
                time::local(until, zone)
            ),
            _ => "waiting for enrolment (code expired: issue a new one)".to_owned(),
        },
        AgentStatus::Active => match agent.enrolled_at {
            Some(at) => format!("enrolled {}", time::local(at, zone)),
            None => "enrolled".to_owned(),
        },
        AgentStatus::Revoked => "revoked".to_owned(),
    };
    let clock = match agent.clock_offset_ms {
        Some(ms) if ms.abs() < 1000 => "in step".to_owned(),
        Some(ms) => format!("{:+.1} s from the server's", -(ms as f64) / 1000.0),
        None => String::new(),
    };
    AgentRow {
        online: is_online(&agent, offline_after),
        revoked: agent.status == AgentStatus::Revoked,
        last_heard: agent
            .last_seen_at
            .map_or_else(|| "never".to_owned(), |at| time::local(at, zone)),
        doors: agent
            .door_ids
            .iter()
            .map(|d| {
                format!(
                    "{} · {}",
                    names.door(*d),
                    names.site(names.door_site(*d).unwrap_or_default())
                )
            })
            .collect(),
        id: agent.id,
        name: agent.name,
        status,
        clock,
    }
}

/// `GET /admin/agents`.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadAgents>,
    liveness: Option<Extension<AgentLiveness>>,
) -> Result<Response, Failure> {
    let offline_after = AgentLiveness::of(liveness);
    let names = Names::load(&state.store).await?;
    let agents = all_agents(&state).await?;
    let mut doors: Vec<DoorChoice> = names
        .door_choices(None)
        .into_iter()
        .filter_map(|(id, label, _)| {
            let id: Uuid = id.parse().ok()?;
            let served_by = agents
                .iter()
                .find(|a| a.status != AgentStatus::Revoked && a.door_ids.contains(&id))
                .map(|a| a.name.clone());
            Some(DoorChoice {
                id,
                label,
                served_by,
            })
        })
        .collect();
    doors.sort_by(|a, b| a.label.cmp(&b.label));
    let rows: Vec<AgentRow> = agents
        .into_iter()
        .map(|a| row(a, &names, offline_after))
        .collect();
    Ok(render(AgentsPage {
        chrome: Chrome::new(&user.principal, PATH, "Door agents"),
        online: rows.iter().filter(|r| r.online).count(),
        agents: rows,
        may_manage: ManageAgents::ROLES.contains(&user.principal.role),
        doors,
        offline_after_s: offline_after.as_secs(),
    }))
}

#[derive(Template)]
#[template(path = "admin/agent_code.html")]
struct CodePage {
    chrome: Chrome,
    name: String,
    doors: Vec<String>,
    code: String,
    valid_until: String,
    command: String,
    plain_http: bool,
}

/// The server's address as the operator reached this console: the door machine is told
/// to use it (`https` when this server speaks TLS). A `Host` that is not a plain host
/// name or address with port is not repeated; a placeholder says what to put there.
fn server_url(state: &AppState, headers: &HeaderMap) -> String {
    let scheme = if state.console.cookie.secure {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("SERVER-ADDRESS");
    format!("{scheme}://{host}")
}

/// The command to run on the door machine, exactly as `door-agent enroll` takes it.
pub fn enroll_command(server: &str, code: &str) -> String {
    format!("door-agent enroll --server {server} --code {code} --config {CONFIG_PATH}")
}

/// The page showing a fresh code once; never stored by the browser or a proxy.
fn code_page(
    user: &Console<ManageAgents>,
    state: &AppState,
    headers: &HeaderMap,
    names: &Names,
    agent: &AgentRecord,
    enrollment_code: &str,
) -> Response {
    let site = agent.door_ids.first().and_then(|d| names.door_site(*d));
    let server = server_url(state, headers);
    let mut response = render(CodePage {
        chrome: Chrome::new(
            &user.principal,
            PATH,
            format!("Enrol door agent {}", agent.name),
        ),
        name: agent.name.clone(),
        doors: agent
            .door_ids
            .iter()
            .map(|d| names.door(*d).to_owned())
            .collect(),
        code: enrollment_code.to_owned(),
        valid_until: agent
            .enrollment_expires_at
            .map_or_else(String::new, |at| time::local(at, names.tz(site))),
        command: enroll_command(&server, enrollment_code),
        plain_http: server.starts_with("http:"),
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /admin/agents`: `name` and one `door_ids` per door ticked.
async fn register(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let mut name = String::new();
    let mut door_ids = Vec::new();
    for (field, value) in fields {
        match field.as_str() {
            "name" => name = value,
            "door_ids" => door_ids.push(value.parse::<Uuid>().map_err(|_| {
                failure(crate::api::error::ApiError::field(
                    "door_ids",
                    "is not one of the doors",
                ))
            })?),
            _ => {}
        }
    }
    let (enrollment_code, code_hash, code_expires_at) = code();
    let new = NewAgent {
        name,
        door_ids,
        code_hash,
        code_expires_at,
    }
    .checked()
    .map_err(failure)?;
    let agent = state
        .store
        .create_agent(new, &user.actor())
        .await
        .map_err(failure)?;
    let names = Names::load(&state.store).await?;
    Ok(code_page(
        &user,
        &state,
        &headers,
        &names,
        &agent,
        &enrollment_code,
    ))
}

/// `POST /admin/agents/{id}/code`: a new code (re-enrolment replaces the agent's token).
async fn new_code(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let (enrollment_code, hash, expires_at) = code();
    let agent = state
        .store
        .issue_enrollment_code(id, &hash, expires_at, &user.actor())
        .await
        .map_err(not_found::<StoreError>("agent"))?;
    let names = Names::load(&state.store).await?;
    Ok(code_page(
        &user,
        &state,
        &headers,
        &names,
        &agent,
        &enrollment_code,
    ))
}

/// `POST /admin/agents/{id}/revoke`: for good; its token stops working at once.
async fn revoke(
    State(state): State<AppState>,
    user: Console<ManageAgents>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .revoke_agent(id, &user.actor())
        .await
        .map_err(not_found::<StoreError>("agent"))?;
    Ok(Redirect::to(PATH).into_response())
}
