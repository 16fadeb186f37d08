//! Storage on SQLite or PostgreSQL, chosen by the database URL. Every query is written
//! once and runs on both backends ([`conn`] says how); migrations for each backend are
//! embedded in the binary and applied at start.

pub(crate) mod conn;
pub(crate) use conn::{Db, on};
mod health;
pub mod settings;
pub use health::DatabaseFacts;
pub use settings::{DatabaseKind, DatabaseSettings};
pub(crate) mod audit;
mod audit_read;
mod keys;
mod retention;
pub use retention::{PURGED_NAME, PurgeSummary};
mod operator_log;
mod operators;
mod policy_changes;
pub use policy_changes::ModelChanges;
mod policy_state;
mod sessions;
pub mod stored_time;
mod throttle;
pub use throttle::{AttemptIds, FailureCount, Reservation};
// site model stores (sites, zones, doors, schedules)
mod doors;
mod schedules;
mod site_model;
mod site_model_load;
mod sites;
mod zones;
pub use doors::{DoorChange, DoorRecord, NewDoor};
pub use schedules::{ClockTime, Day, NewSchedule, ScheduleChange, ScheduleRecord, WindowSpec};
pub use site_model::ModelError;
pub(crate) use site_model::Record;
pub use site_model_load::SiteModel;
pub use sites::{NewSite, SiteChange, SiteRecord, Threat};
pub use zones::{NewZone, ZoneChange, ZoneRecord, ZoneRules};
// people model stores (people, vetting, groups, credentials, grants, visits)
mod credentials;
mod grants;
mod groups;
mod import;
pub use import::ABANDONED_AFTER;
mod import_batch;
mod import_jobs;
pub use import_jobs::{ImportJobRecord, JobCounts, JobEnd, JobState, MAX_JOB_ERRORS};
pub mod documents;
mod kiosks;
mod people;
mod people_common;
mod people_load;
mod people_search;
mod vetting;
mod visit_expiry;
mod visit_rules;
mod visit_trails;
mod visitor_cards;
mod visitor_contact;
mod visitor_photo;
mod visits;
pub mod watchlist;
pub use credentials::{CredentialChange, CredentialFilter, CredentialRecord, NewCredential};
pub use grants::{GrantFilter, GrantRecord, NewGrant};
pub use groups::GroupRecord;
pub use kiosks::KioskRecord;
pub use people::{NewPerson, PersonChange, PersonRecord};
pub use people_common::{Table, window_ok};
pub use people_load::PeopleModel;
pub use vetting::{NewVetting, VettingRecord};
pub use visit_rules::{SiteVisitSettings, VisitorZone};
pub use visit_trails::{TrailScreening, VisitTrail};
pub use visitor_contact::VisitorContact;
pub use visitor_photo::VisitorPhoto;
pub use visits::{
    NewVisit, NewVisitor, VisitFilter, VisitRecord, VisitStatus, VisitorRecord,
    display_check_in_code, normalise_check_in_code,
};
pub mod notifications;
pub use visit_expiry::{DEFAULT_CHECKOUT_GRACE_MINUTES, ExpirySummary};
pub use visitor_cards::{NewVisitorCard, VisitorCardChange, VisitorCardRecord, VisitorCardState};
// door agents and what they upload
mod agent_stamps;
mod agents;
// site card keys (issue 15), encrypted at rest
mod card_keys;
pub use card_keys::{CardKeyRow, CardKeyState, CardKeyVersion, EncryptedKeys, NewVersion};
mod door_live;
mod events;
mod feed_marks;
mod musters;
mod musters_recent;
pub(crate) mod presence;
pub use agents::{AgentRecord, AgentStatus, NewAgent};
pub use door_live::{CommandRecord, CommandRefused, CommandStatus, DoorStatus, NewCommand};
pub use events::{
    AlarmRecord, EventDetail, EventFilter, EventRecord, INCIDENT_KINDS, IngestOutcome,
    MAX_CLOCK_OFFSET_MS, UploadRecord,
};
pub use feed_marks::FeedMarks;
pub use musters::{MusterPerson, MusterRecord, NEVER_BADGED};
pub use presence::{Occupant, PresenceChange};

// live alarms: one model over door events, server-raised alarms and acknowledgements
mod alarms;
pub use alarms::{
    AckNotice, Acknowledgement, Alarm, AlarmFilter, AlarmKind, AlarmOrigin, DenialRule,
    FEED_WINDOW, FeedItem,
};

pub use audit::{ChainEntry, Checkpoint, Verification};
pub use audit_read::{BatchMember, Chained, EntryEvent, Unreadable};
pub use operator_log::{Actor, LogFilter, LogRecord};
pub use operators::{NewOperator, Operator, OperatorChange, OperatorStatus};
pub use sessions::{ConsoleSession, Principal, Session};

use chrono::{DateTime, SubsecRound, Utc};
use settings::sqlite_file;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; `constraint` names it (PostgreSQL constraint name,
    /// or SQLite's `table.column`).
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The change would break a rule the store keeps (e.g. the last active admin).
    #[error("{0}")]
    Rejected(&'static str),
    /// Other records still reference the one to delete (a foreign key refused it).
    #[error("still in use by other records")]
    InUse,
    /// Another writer holds the database (SQLite's write lock, a PostgreSQL lock or
    /// serialization conflict) or no connection came free in time: worth retrying.
    #[error("the database is busy")]
    Busy(#[source] sqlx::Error),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let constraint = match db.constraint() {
                    Some(name) => name.to_owned(),
                    // SQLite: "UNIQUE constraint failed: operators.username"
                    None => db
                        .message()
                        .rsplit(": ")
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                };
                StoreError::Conflict { constraint }
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::InUse,
            _ if is_busy(&error) => StoreError::Busy(error),
            _ => StoreError::Database(error),
        }
    }
}

/// Whether `error` says another writer holds what this one needs, or no connection was
/// free in time: SQLite `SQLITE_BUSY`/`SQLITE_LOCKED` (with any extended code, e.g.
/// `database is locked` after the busy timeout); PostgreSQL serialization failure
/// (40001), deadlock (40P01), lock not available (55P03, `lock_timeout`); and a pool
/// that gave no connection within its acquire timeout.
pub fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            // By backend: PostgreSQL's SQLSTATEs are often all digits too (22021, 42501),
            // so parsing the code as a number would take them for SQLite's.
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                matches!(code.as_ref(), "40001" | "40P01" | "55P03")
            } else {
                // SQLite's codes are numbers; the primary code is the low byte.
                code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
            }
        }
        _ => false,
    }
}

pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database. Cheap to clone; holds a connection pool.
#[derive(Clone)]
pub struct Store {
    backend: std::sync::Arc<Backend>,
    /// SQLite's writers' queue (see `Store::write`); unused on PostgreSQL.
    write_gate: std::sync::Arc<tokio::sync::Semaphore>,
    /// SQLite's batches of agents' last-seen stamps; unused on PostgreSQL.
    agent_stamps: std::sync::Arc<agent_stamps::AgentStamps>,
}

impl Store {
    /// Opens the database named by the settings (creating a SQLite file and its folder
    /// when missing) and applies the embedded migrations.
    #[tracing::instrument(skip_all)]
    pub async fn open(settings: &DatabaseSettings) -> anyhow::Result<Store> {
        let store = Store::connect(settings).await?;
        store.migrate().await?;
        let older = store.chain_records_older_than_the_chain().await?;
        if older > 0 {
            tracing::info!(
                records = older,
                "chained the records older than the audit chain"
            );
        }
        Ok(store)
    }

    /// Opens the database without migrating.
    #[tracing::instrument(skip_all)]
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Store> {
        let backend = match DatabaseKind::of(&settings.url) {
            Some(DatabaseKind::Sqlite) => {
                if let Some(parent) = sqlite_file(&settings.url)
                    .as_deref()
                    .and_then(std::path::Path::parent)
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        anyhow::anyhow!("cannot create database folder {}: {e}", parent.display())
                    })?;
                }
                let options = SqliteConnectOptions::from_str(&settings.url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a committed transaction survives a power cut, not just a crash.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    // Rows queued between the driver's thread and the reader: with sqlx's
                    // 50, reading a page of thousands (audit exports and verification)
                    // handed over and woke a thread for every row, a third of an
                    // export's time; a page's worth lets the two run on their own.
                    .row_buffer_size(2_048);
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .connect_with(options)
                    .await?;
                Backend::Sqlite(pool)
            }
            Some(DatabaseKind::Postgres) => {
                // A writer waits for a row lock as long as SQLite's busy timeout, then
                // fails as busy (55P03) instead of holding its request until it times out.
                let options =
                    PgConnectOptions::from_str(&settings.url)?.options([("lock_timeout", "10s")]);
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Backend::Postgres(pool)
            }
            None => anyhow::bail!("database.url: unsupported scheme"),
        };
        Ok(Store {
            backend: std::sync::Arc::new(backend),
            write_gate: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            agent_stamps: std::sync::Arc::default(),
        })
    }

    /// Applies migrations not yet applied. Safe to run from several replicas at once.
    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &*self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
            Backend::Postgres(pool) => {
                // Replicas starting together wait on the migration lock for as long as
                // the first one migrates, not only for the connections' lock timeout.
                let mut connection = pool.acquire().await?;
                sqlx::query("SET lock_timeout = 0")
                    .execute(&mut *connection)
                    .await?;
                let migrated = sqlx::migrate!("../migrations/postgres")
                    .run_direct(None, &mut *connection, false)
                    .await;
                sqlx::query("RESET lock_timeout")
                    .execute(&mut *connection)
                    .await?;
                migrated?;
            }
        }
        Ok(())
    }

    /// Which backend this store runs on.
    pub fn kind(&self) -> DatabaseKind {
        match &*self.backend {
            Backend::Sqlite(_) => DatabaseKind::Sqlite,
            Backend::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Succeeds when the database answers a trivial query.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// The PostgreSQL pool (`None` on SQLite), for what only PostgreSQL has
    /// (`LISTEN`, see `crate::policy::versions`).
    pub(crate) fn postgres_pool(&self) -> Option<&PgPool> {
        match &*self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pool) => Some(pool),
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    #[tracing::instrument(skip_all)]
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// The current time, at the precision both backends store (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod wire_names;
