//! One query text for both backends, and the three ways into the database.
//!
//! Each statement is written once; [`on!`] compiles it for whichever backend the store
//! runs on. Its argument looks like a closure (`on!(tx.db(), |c| …)`), so rustfmt
//! formats the body like any other code. The three entry points say what a call holds:
//!
//! * [`Store::pool`]: a single statement on the pool, no transaction;
//! * [`Store::read`]: a read-only snapshot across several statements (no write lock);
//! * [`Store::write`]: a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so it
//!   waits for the write lock up front instead of failing when it first writes, and it
//!   first takes its turn at the store's write gate (see [`Store::write`]).
//!
//! Statements shared by several store modules are methods of [`Db`], a connection of
//! either backend, defined beside the table they belong to (`impl Db<'_>` in each
//! module): real signatures, and an error is returned, never hidden in a macro.

use super::{DatabaseKind, Store, StoreError};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::ops::{Deref, DerefMut};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// How long a SQLite writer waits for its turn at the write gate: SQLite's busy timeout.
pub(crate) const WRITE_WAIT: Duration = Duration::from_secs(10);

/// A value of the SQLite or the PostgreSQL flavour.
pub(crate) enum Either<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// Runs `$body` with `$c` bound to the backend's value inside `$either` (a [`Pool`], a
/// [`Tx`] or a [`Db`]); the body is compiled once per backend.
macro_rules! on {
    ($either:expr, |mut $c:ident| $body:expr) => {
        match $either {
            $crate::store::conn::Either::Sqlite(mut $c) => $body,
            $crate::store::conn::Either::Postgres(mut $c) => $body,
        }
    };
    ($either:expr, |$c:ident| $body:expr) => {
        match $either {
            $crate::store::conn::Either::Sqlite($c) => $body,
            $crate::store::conn::Either::Postgres($c) => $body,
        }
    };
}
pub(crate) use on;

/// The pool of either backend, for a single statement.
pub(crate) type Pool<'a> = Either<&'a SqlitePool, &'a PgPool>;

/// A connection of either backend, usually a transaction's (see [`Tx::db`]).
pub(crate) type Db<'a> = Either<&'a mut SqliteConnection, &'a mut PgConnection>;

impl Db<'_> {
    /// The same connection, borrowed again for one more call.
    pub(crate) fn re(&mut self) -> Db<'_> {
        match self {
            Either::Sqlite(c) => Either::Sqlite(&mut **c),
            Either::Postgres(c) => Either::Postgres(&mut **c),
        }
    }
}

impl<'a> From<&'a mut SqliteConnection> for Db<'a> {
    fn from(c: &'a mut SqliteConnection) -> Self {
        Either::Sqlite(c)
    }
}

impl<'a> From<&'a mut PgConnection> for Db<'a> {
    fn from(c: &'a mut PgConnection) -> Self {
        Either::Postgres(c)
    }
}

/// An open transaction of either backend. Dropped without [`Tx::commit`], it rolls back.
/// `on!(self.write().await?, |mut tx| …)` gives the body sqlx's own transaction (on
/// SQLite with its turn at the write gate, which it gives up when it ends).
pub(crate) type Tx = Either<SqliteTx, Transaction<'static, Postgres>>;

/// A SQLite transaction and, for a write, its turn at the store's write gate: held until
/// it commits or rolls back, then the next writer in line begins.
pub(crate) struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl SqliteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for SqliteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl Tx {
    /// The transaction's connection, for statements.
    pub(crate) fn db(&mut self) -> Db<'_> {
        match self {
            Either::Sqlite(tx) => Either::Sqlite(&mut **tx),
            Either::Postgres(tx) => Either::Postgres(&mut **tx),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on!(self, |tx| tx.commit().await?);
        Ok(())
    }

    /// Which backend the transaction runs on.
    pub(crate) fn kind(&self) -> DatabaseKind {
        match self {
            Either::Sqlite(_) => DatabaseKind::Sqlite,
            Either::Postgres(_) => DatabaseKind::Postgres,
        }
    }
}

impl Store {
    /// The pool, for a single statement outside any transaction.
    pub(crate) fn pool(&self) -> Pool<'_> {
        match self.backend.as_ref() {
            super::Backend::Sqlite(pool) => Either::Sqlite(pool),
            super::Backend::Postgres(pool) => Either::Postgres(pool),
        }
    }

    /// A write transaction. SQLite takes its write lock now (`IMMEDIATE`), so a
    /// read-then-write transaction waits for other writers instead of failing.
    ///
    /// SQLite has one writer. This store's writers queue for it at a gate, in arrival
    /// order and before taking a connection, instead of in SQLite's busy handler, which
    /// polls with sleeps of up to 100 ms: a newcomer could take the lock ahead of those
    /// asleep, so an upload waited seconds behind a few others (BENCHMARKS.md, "Event
    /// upload"). A writer of another process still meets the busy timeout.
    pub(crate) async fn write(&self) -> Result<Tx, StoreError> {
        Ok(match self.pool() {
            Either::Sqlite(pool) => {
                let turn =
                    tokio::time::timeout(WRITE_WAIT, self.write_gate.clone().acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .ok_or(StoreError::Busy(sqlx::Error::PoolTimedOut))?;
                Either::Sqlite(SqliteTx {
                    tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                })
            }
            Either::Postgres(pool) => Either::Postgres(pool.begin().await?),
        })
    }

    /// A read-only snapshot: every statement sees the database as of the first one.
    /// SQLite's read transaction already does, without the write lock; PostgreSQL's
    /// default (read committed) would give each statement its own view.
    pub(crate) async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match self.pool() {
            Either::Sqlite(pool) => Either::Sqlite(SqliteTx {
                tx: pool.begin_with("BEGIN").await?,
                _turn: None,
            }),
            Either::Postgres(pool) => Either::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        })
    }
}
