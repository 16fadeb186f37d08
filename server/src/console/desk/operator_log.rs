//! The operator log for admins and auditors: filtered by actor, action, object and
//! period (site time), each entry's before and after shown as the fields that changed.

use crate::api::error::ApiError;
use crate::auth::permissions::ReadOperatorLog;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{LogFilter, LogRecord};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

const SHOWN: u32 = 200;

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

/// One changed field: its name, before and after (empty: absent).
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

struct Entry {
    at: String,
    actor: String,
    action: String,
    object: String,
    changes: Vec<Change>,
}

#[derive(Template)]
#[template(path = "operator_log.html")]
struct LogPage {
    chrome: Chrome,
    search: Search,
    zone_label: String,
    entries: Vec<Entry>,
    next: Option<String>,
}

fn option(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadOperatorLog>,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    // The log is not one site's: times are read and shown in the only site's zone, or UTC.
    let zone = names.tz(names.only_site());
    let filter = LogFilter {
        actor: option(&search.actor),
        action: option(&search.action),
        target_type: option(&search.object),
        target_id: None,
        from: time::parse_local("from", &search.from, zone)?,
        to: time::parse_local("to", &search.to, zone)?,
    };
    let after = option(&search.after)
        .map(|a| a.parse::<i64>())
        .transpose()
        .map_err(|_| ApiError::field("after", "is not a position in this log"))?;
    let mut records = state
        .store
        .search_operator_log(&filter, after, SHOWN + 1)
        .await?;
    let more = records.len() > SHOWN as usize;
    records.truncate(SHOWN as usize);
    let next = more.then(|| {
        let last = records
            .last()
            .map(|r| r.seq.to_string())
            .unwrap_or_default();
        serde_urlencoded::to_string([
            ("actor", search.actor.as_str()),
            ("action", search.action.as_str()),
            ("object", search.object.as_str()),
            ("from", search.from.as_str()),
            ("to", search.to.as_str()),
            ("after", last.as_str()),
        ])
        .unwrap_or_default()
    });
    let entries = records
        .iter()
        .map(|r| Entry {
            at: time::local(r.at, zone),
            actor: r.actor.clone(),
            action: r.action.clone(),
            object: object(r, &names),
            changes: changes(r.before.as_deref(), r.after.as_deref()),
        })
        .collect();
    Ok(render(LogPage {
        chrome: Chrome::new(&user.principal, "/operator-log", "Operator log"),
        search,
        zone_label: zone.name().to_owned(),
        entries,
        next,
    }))
}

/// What an entry is about, by name: the site model's names, else the name the entry
/// itself recorded (`name`, `username`, `visitor_name`), else its kind.
fn object(record: &LogRecord, names: &Names) -> String {
    let id = record.target_id.as_deref().and_then(|t| t.parse().ok());
    let from_model = id.and_then(|id| match record.target_type.as_str() {
        "site" => names.sites.get(&id).map(|s| s.name.clone()),
        "zone" => names.zones.get(&id).map(|z| z.name.clone()),
        "door" => names.doors.get(&id).map(|d| d.name.clone()),
        _ => None,
    });
    let recorded = || {
        [record.after.as_deref(), record.before.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|v| {
                ["name", "username", "visitor_name", "display_name"]
                    .iter()
                    .find_map(|key| v.get(key).and_then(Value::as_str).map(str::to_owned))
            })
    };
    match from_model.or_else(recorded) {
        Some(name) => format!("{} {name}", record.target_type.replace('_', " ")),
        None => record.target_type.replace('_', " "),
    }
}

/// Fields every record has that say nothing to a reader (an id, when it was written).
const BOOKKEEPING: &[&str] = &["id", "created_at", "updated_at"];

/// The fields whose value differs between `before` and `after` (objects; an absent side
/// is an empty one), in name order, bookkeeping left out; for anything else, the whole
/// values.
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let show = |v: Option<&Value>| match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let empty = Map::new();
    let (Some(b), Some(a)) = (as_object(before, &empty), as_object(after, &empty)) else {
        return vec![Change {
            field: "value".to_owned(),
            before: show(before),
            after: show(after),
        }];
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let value = |map: &'_ Map<String, Value>, k: &str| map.get(k).cloned().filter(|v| !v.is_null());
    keys.into_iter()
        .filter(|k| !BOOKKEEPING.contains(&k.as_str()) && value(b, k) != value(a, k))
        .map(|k| Change {
            field: k.replace('_', " "),
            before: show(b.get(k)),
            after: show(a.get(k)),
        })
        .collect()
}

/// `value` as an object; an absent value as `empty`; `None` for anything else.
fn as_object<'a>(
    value: Option<&'a Value>,
    empty: &'a Map<String, Value>,
) -> Option<&'a Map<String, Value>> {
    match value {
        None => Some(empty),
        Some(Value::Object(map)) => Some(map),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::changes;
    use serde_json::json;

    #[test]
    fn only_changed_fields() {
        let before = json!({"name": "HQ", "timezone": "Europe/Berlin", "threat": {"level": 0}});
        let after = json!({"name": "HQ", "timezone": "Europe/Paris", "threat": {"level": 2},
            "note": "new"});
        let rows: Vec<_> = changes(Some(&before), Some(&after))
            .into_iter()
            .map(|c| (c.field, c.before, c.after))
            .collect();
        assert_eq!(
            rows,
            [
                ("note".into(), String::new(), "new".into()),
                (
                    "threat".into(),
                    r#"{"level":0}"#.into(),
                    r#"{"level":2}"#.into()
                ),
                (
                    "timezone".into(),
                    "Europe/Berlin".into(),
                    "Europe/Paris".into()
                ),
            ]
        );
        let created = changes(None, Some(&json!({"name": "HQ", "gone": null})));
        assert_eq!(created.len(), 1);
        assert_eq!(
            (created[0].before.as_str(), created[0].after.as_str()),
            ("", "HQ")
        );
        assert!(changes(None, None).is_empty());
        let scalar = changes(Some(&json!(1)), Some(&json!(2)));
        assert_eq!(
            (scalar[0].before.as_str(), scalar[0].after.as_str()),
            ("1", "2")
        );
    }
}
