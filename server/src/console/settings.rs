//! `[console]` in the configuration: how long a console login lasts.

use serde::{Deserialize, Serialize};

/// Console sessions end after `idle_timeout_s` without a request, and in any case
/// `session_lifetime_s` after the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    pub idle_timeout_s: u64,
    pub session_lifetime_s: u64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            idle_timeout_s: 30 * 60,
            session_lifetime_s: 12 * 60 * 60,
        }
    }
}

impl ConsoleSettings {
    /// The first bad value: (its key, what is wrong).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        if !(1..=86_400).contains(&self.idle_timeout_s) {
            return Some((
                "console.idle_timeout_s",
                "must be between 1 and 86400 seconds",
            ));
        }
        if !(1..=604_800).contains(&self.session_lifetime_s) {
            return Some((
                "console.session_lifetime_s",
                "must be between 1 and 604800 seconds",
            ));
        }
        if self.idle_timeout_s > self.session_lifetime_s {
            return Some((
                "console.idle_timeout_s",
                "must not be longer than console.session_lifetime_s",
            ));
        }
        None
    }

    pub fn idle_timeout(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.idle_timeout_s).unwrap_or(i64::MAX))
    }

    pub fn session_lifetime(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.session_lifetime_s).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let ok = ConsoleSettings::default();
        assert_eq!(ok.problem(), None);
        let cases = [
            (0, 100, "console.idle_timeout_s"),
            (86_401, 604_800, "console.idle_timeout_s"),
            (1, 0, "console.session_lifetime_s"),
            (1, 604_801, "console.session_lifetime_s"),
            (120, 60, "console.idle_timeout_s"),
        ];
        for (idle, lifetime, key) in cases {
            let settings = ConsoleSettings {
                idle_timeout_s: idle,
                session_lifetime_s: lifetime,
            };
            assert_eq!(
                settings.problem().map(|p| p.0),
                Some(key),
                "{idle} {lifetime}"
            );
        }
        let edge = ConsoleSettings {
            idle_timeout_s: 60,
            session_lifetime_s: 60,
        };
        assert_eq!(edge.problem(), None);
    }
}
