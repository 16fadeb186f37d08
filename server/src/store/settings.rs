//! Which database to open and how: the `[database]` settings, the backend a URL names,
//! and where a SQLite URL keeps its file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[database]` section of the server's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// What is wrong with `url`, as (key, why).
    pub fn url_problem(&self) -> Option<(&'static str, &'static str)> {
        DatabaseKind::of(&self.url).is_none().then_some((
            "database.url",
            "must start with sqlite:// or postgres:// (or postgresql://)",
        ))
    }
}

/// The database backends, chosen by the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of(url: &str) -> Option<DatabaseKind> {
        if url.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else {
            None
        }
    }
}

/// Where SQLite keeps its file, for creating the folder on first start.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_paths() {
        assert_eq!(
            sqlite_file("sqlite://data/g.db"),
            Some(PathBuf::from("data/g.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data/g.db?mode=rwc"),
            Some(PathBuf::from("data/g.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x"), None);
    }
}
