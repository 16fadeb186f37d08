//! Live alarms: the `[alarms]` settings, the background task that raises `agent_offline`,
//! and what the live stream needs from the server that runs it. The alarm model and its
//! storage are in `store::alarms`; the API in `api/routes/alarms.rs`.

use crate::store::{DenialRule, Store};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// When the server raises alarms by itself, and what the desk is told of each kind
/// (`[alarms]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmSettings {
    /// An active agent not heard from (its door-state heartbeat every 5 s, a long-poll,
    /// an upload) for this many seconds is shown offline on `/doors/status` and raises
    /// `agent_offline`.
    pub agent_offline_after_s: u64,
    /// `repeated_denials` when one card is denied this many times...
    pub repeated_denials: u32,
    /// ...within this many seconds, at any doors.
    pub repeated_denials_window_s: u64,
    /// Each kind's priority, 1 (most urgent) to 5 (`[alarms.priority]`).
    pub priority: crate::alarm_desk::Priorities,
    /// Each kind's instructions for the officer (`[alarms.instructions]`).
    pub instructions: crate::alarm_desk::Instructions,
}

impl Default for AlarmSettings {
    fn default() -> Self {
        let rule = DenialRule::default();
        AlarmSettings {
            agent_offline_after_s: 30,
            repeated_denials: rule.count,
            repeated_denials_window_s: rule.window_s,
            priority: Default::default(),
            instructions: Default::default(),
        }
    }
}

impl AlarmSettings {
    /// The first bad value: (its key, what is wrong).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        if !(5..=604_800).contains(&self.agent_offline_after_s) {
            return Some((
                "alarms.agent_offline_after_s",
                "must be between 5 and 604800 seconds (agents send a heartbeat every 5 s \
                 by default: keep it at least twice theirs)",
            ));
        }
        if !(2..=1000).contains(&self.repeated_denials) {
            return Some(("alarms.repeated_denials", "must be between 2 and 1000"));
        }
        if !(1..=86_400).contains(&self.repeated_denials_window_s) {
            return Some((
                "alarms.repeated_denials_window_s",
                "must be between 1 and 86400 seconds",
            ));
        }
        None
    }

    pub fn denial_rule(&self) -> DenialRule {
        DenialRule {
            count: self.repeated_denials,
            window_s: self.repeated_denials_window_s,
        }
    }

    pub fn offline_after(&self) -> Duration {
        Duration::from_secs(self.agent_offline_after_s)
    }

    /// How often the offline check runs: a tenth of the threshold, from 250 ms to 5 s, so
    /// the alarm follows the board's "offline" closely.
    fn check_every(&self) -> Duration {
        (self.offline_after() / 10).clamp(Duration::from_millis(250), Duration::from_secs(5))
    }
}

/// Makes the settings' repeated-denials rule the one ingest applies (every replica
/// writes its own at start: keep `[alarms]` the same on all of them).
pub async fn apply(store: &Store, settings: AlarmSettings) -> anyhow::Result<()> {
    store.set_denial_rule(settings.denial_rule()).await?;
    Ok(())
}

/// Raises `agent_offline` for agents quiet for too long, every [`AlarmSettings`]
/// check interval, until the task is dropped. Safe to run on every replica.
pub async fn run(store: Store, settings: AlarmSettings) {
    loop {
        match store.raise_agent_offline(settings.offline_after()).await {
            Ok(agents) => {
                for agent_id in agents {
                    tracing::warn!(%agent_id, "door agent offline: alarm raised");
                }
            }
            Err(error) => tracing::warn!(%error, "could not check for offline door agents"),
        }
        tokio::time::sleep(settings.check_every()).await;
    }
}

/// Given to the live stream by the server that runs it (a request extension): streams
/// end when the server shuts down, instead of holding its graceful shutdown.
#[derive(Debug, Clone)]
pub struct StreamShutdown(pub watch::Receiver<bool>);

/// Given to the door status and command handlers by the server that runs them (a
/// request extension): how long an agent may be quiet and still count as online.
#[derive(Debug, Clone, Copy)]
pub struct AgentLiveness(pub Duration);

impl AgentLiveness {
    /// The configured value, or the default where no server set one.
    pub fn of(extension: Option<axum::Extension<AgentLiveness>>) -> Duration {
        extension.map_or_else(
            || AlarmSettings::default().offline_after(),
            |axum::Extension(AgentLiveness(after))| after,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_named() {
        assert_eq!(AlarmSettings::default().problem(), None);
        let quiet = AlarmSettings {
            agent_offline_after_s: 4,
            ..AlarmSettings::default()
        };
        assert_eq!(
            quiet.problem().map(|p| p.0),
            Some("alarms.agent_offline_after_s")
        );
        let once = AlarmSettings {
            repeated_denials: 1,
            ..AlarmSettings::default()
        };
        assert_eq!(once.problem().map(|p| p.0), Some("alarms.repeated_denials"));
        let never = AlarmSettings {
            repeated_denials_window_s: 0,
            ..AlarmSettings::default()
        };
        assert_eq!(
            never.problem().map(|p| p.0),
            Some("alarms.repeated_denials_window_s")
        );
    }

    #[test]
    fn the_check_runs_often_enough() {
        let settings = AlarmSettings::default();
        assert_eq!(settings.check_every(), Duration::from_secs(3));
        let slow = AlarmSettings {
            agent_offline_after_s: 600,
            ..settings.clone()
        };
        assert_eq!(slow.check_every(), Duration::from_secs(5));
        let fast = AlarmSettings {
            agent_offline_after_s: 1,
            ..settings
        };
        assert_eq!(fast.check_every(), Duration::from_millis(250));
    }
}
