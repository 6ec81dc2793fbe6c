//! PostgreSQL through Diesel: the connection pool, migrations, the batch upsert, the read
//! routes' queries and the admin queries. Diesel is synchronous; async callers go through
//! [`Store::run`], which runs the work on the blocking pool inside the caller's tracing span.

pub mod accounts;
pub mod admin;
mod attachments;
pub mod devices;
pub mod explain;
mod keys;
pub mod known_projects;
mod merge_path;
pub mod partition;
pub mod purge;
pub mod read;
pub mod reads;
pub mod schema;
pub mod stamps;
pub mod versions;
pub mod write;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseConfig;

/// The schema migrations, compiled into every binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pooled PostgreSQL connection.
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had (server down, pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
    /// Migrations failed or are missing.
    #[error("database migrations: {0}")]
    Migrations(String),
    /// The blocking task died.
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether retrying the same work later can succeed (outage, timeout, deadlock), as
    /// opposed to a failure the data itself causes.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::Task(_) => true,
            Self::Migrations(_) => false,
            Self::Query(DieselError::DatabaseError(kind, info)) => match kind {
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::SerializationFailure => true,
                _ => is_transient_message(info.message()),
            },
            Self::Query(DieselError::BrokenTransactionManager) => true,
            Self::Query(_) => false,
        }
    }
}

/// Server messages of failures that pass: deadlocks, timeouts, restarts, lost connections.
fn is_transient_message(message: &str) -> bool {
    const TRANSIENT: [&str; 7] = [
        "deadlock detected",
        "statement timeout",
        "terminating connection",
        "shutting down",
        "starting up",
        "connection",
        "recovery",
    ];
    let message = message.to_ascii_lowercase();
    TRANSIENT.iter().any(|needle| message.contains(needle))
}

#[derive(Debug)]
struct SessionSettings {
    statement_timeout_ms: u64,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET TIME ZONE 'UTC';",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager<PgConnection>>,
    known_projects: std::sync::Arc<known_projects::KnownProjects>,
}

impl Store {
    /// Builds a pool without connecting: connections are made on demand, so a process can
    /// start while PostgreSQL is down and recover when it returns.
    pub fn new(config: &DatabaseConfig) -> Self {
        let manager = ConnectionManager::<PgConnection>::new(config.url.expose());
        let pool = Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(config.connect_timeout_ms.max(1)))
            .test_on_check_out(true)
            .connection_customizer(Box::new(SessionSettings {
                statement_timeout_ms: config.statement_timeout_ms,
            }))
            .build_unchecked(manager);
        Self {
            pool,
            known_projects: std::sync::Arc::default(),
        }
    }

    /// The projects this process already found in this database (see [`known_projects`]).
    pub fn known_projects(&self) -> std::sync::Arc<known_projects::KnownProjects> {
        std::sync::Arc::clone(&self.known_projects)
    }

    /// A connection from the pool (blocking).
    pub fn conn(&self) -> Result<Conn, StoreError> {
        self.pool
            .get()
            .map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    /// Runs blocking database work off the async runtime, keeping the current span.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = store.conn()?;
            work(&mut conn)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }

    /// Applies every pending migration; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|error| StoreError::Migrations(error.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }

    /// Fails with a clear message when the database lacks migrations this build needs.
    pub fn ensure_migrated(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let pending = conn
            .has_pending_migration(MIGRATIONS)
            .map_err(|error| StoreError::Migrations(error.to_string()))?;
        if pending {
            return Err(StoreError::Migrations(
                "the database is not migrated: run `intake migrate` (or `make migrate`)".into(),
            ));
        }
        Ok(())
    }

    /// At startup: refuses to run against an unmigrated database. An unreachable database
    /// is only a warning, since the processes recover when it comes back.
    pub async fn refuse_unmigrated(&self) -> Result<(), StoreError> {
        match self.run(|_| Ok(())).await {
            Err(error) => {
                tracing::warn!(%error, "PostgreSQL is not reachable yet; starting anyway");
                Ok(())
            }
            Ok(()) => {
                let store = self.clone();
                tokio::task::spawn_blocking(move || store.ensure_migrated())
                    .await
                    .map_err(|error| StoreError::Task(error.to_string()))?
            }
        }
    }
}
