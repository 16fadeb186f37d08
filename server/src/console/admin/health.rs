//! `/admin/health`: the server's own health for admins and auditors
//! (`ReadServerHealth`): the database (kind, reachable, last migration, size), the audit
//! chain's last signed checkpoint, the last whole-trail verification, and how many door
//! agents are online. Reads only; a part that cannot be read says so instead of failing
//! the page, since this is the page to open when something is wrong.

use super::agents::{all_agents, is_online};
use crate::alarms::AgentLiveness;
use crate::auth::permissions::ReadServerHealth;
use crate::console::names::Names;
use crate::console::page::{Chrome, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{AgentStatus, DatabaseKind};
use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

const PATH: &str = "/admin/health";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

#[derive(Template)]
#[template(path = "admin/health.html")]
struct HealthPage {
    chrome: Chrome,
    database: &'static str,
    reachable: bool,
    migration: String,
    size: String,
    checkpoint: String,
    chain: String,
    /// The last whole-trail verification in words; `None`: never run.
    verified: Option<String>,
    /// Whether that verification found the trail intact.
    verified_ok: bool,
    agents: String,
}

/// Bytes in words: `12.3 MB`.
fn size_words(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["bytes", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match (unit, UNITS.get(unit)) {
        (0, _) => format!("{bytes} bytes"),
        (_, Some(name)) => format!("{value:.1} {name}"),
        (_, None) => format!("{bytes} bytes"),
    }
}

const UNREADABLE: &str = "could not be read (see the server's log)";

/// `GET /admin/health`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadServerHealth>,
    liveness: Option<Extension<AgentLiveness>>,
) -> Response {
    let store = &state.store;
    let database = match store.kind() {
        DatabaseKind::Sqlite => "SQLite",
        DatabaseKind::Postgres => "PostgreSQL",
    };
    let reachable = store.ping().await.is_ok();
    let (migration, size) = match store.database_facts().await {
        Ok(facts) => (
            facts
                .migration
                .map_or_else(|| "none".to_owned(), |v| format!("{v:04}")),
            facts
                .size_bytes
                .map_or_else(|| "unknown".to_owned(), size_words),
        ),
        Err(error) => {
            tracing::warn!(%error, "health page: database facts");
            (UNREADABLE.to_owned(), UNREADABLE.to_owned())
        }
    };
    let zone = match Names::load(store).await {
        Ok(names) => names.tz(names.only_site()),
        Err(_) => chrono_tz::UTC,
    };
    let checkpoint = match store.last_checkpoint().await {
        Ok(Some(c)) => format!(
            "record {} of the chain, signed {} ({} UTC)",
            c.seq,
            time::local(c.signed_at, zone),
            c.signed_at.format("%Y-%m-%d %H:%M:%S")
        ),
        Ok(None) => "none yet".to_owned(),
        Err(error) => {
            tracing::warn!(%error, "health page: last checkpoint");
            UNREADABLE.to_owned()
        }
    };
    let chain = match store.audit_head().await {
        Ok((seq, _)) => format!("{seq} records chained"),
        Err(error) => {
            tracing::warn!(%error, "health page: audit head");
            UNREADABLE.to_owned()
        }
    };
    let (verified, verified_ok) = match store.last_verification().await {
        Ok(Some(v)) => {
            let when = time::local(v.finished_at, zone);
            let found = match &v.problem {
                None => format!(
                    "intact: {} records, {} checkpoints",
                    v.records, v.checkpoints
                ),
                Some(problem) => format!("NOT intact: {problem}"),
            };
            (Some(format!("{when}, {found}")), v.ok)
        }
        Ok(None) => (None, false),
        Err(error) => {
            tracing::warn!(%error, "health page: last verification");
            (Some(UNREADABLE.to_owned()), false)
        }
    };
    let offline_after = AgentLiveness::of(liveness);
    let agents = match all_agents(&state).await {
        Ok(agents) => {
            let enrolled = agents
                .iter()
                .filter(|a| a.status == AgentStatus::Active)
                .count();
            let online = agents
                .iter()
                .filter(|a| is_online(a, offline_after))
                .count();
            format!("{online} of {enrolled} enrolled door agents online")
        }
        Err(error) => {
            tracing::warn!(%error, "health page: agents");
            UNREADABLE.to_owned()
        }
    };
    render(HealthPage {
        chrome: Chrome::new(&user.principal, PATH, "Server health"),
        database,
        reachable,
        migration,
        size,
        checkpoint,
        chain,
        verified,
        verified_ok,
        agents,
    })
}
