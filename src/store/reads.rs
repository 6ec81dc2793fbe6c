//! Where the read routes read: a streaming replica when `database.read_url` names one, else
//! the primary. A replica that cannot answer does not fail a read: the read goes to the
//! primary instead, counted in `intake_replica_fallbacks_total` and logged when the replica
//! goes away and comes back. Readiness ignores the replica, since uploads never touch it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{Store, StoreError};
use crate::config::DatabaseConfig;

/// How long reads skip a replica that could not be reached before trying it again, so that
/// not every read pays the connect timeout while it is down.
pub const REPLICA_RETRY: Duration = Duration::from_secs(5);

/// The longest a read waits for a replica connection before it reads the primary.
const REPLICA_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The read routes' database, cheap to clone.
#[derive(Clone)]
pub struct ReadStore {
    primary: Store,
    replica: Option<Arc<Replica>>,
}

struct Replica {
    store: Store,
    /// Whether the last attempt failed (for logging the change once, not every read).
    down: AtomicBool,
    /// Until when reads go straight to the primary.
    skip_until: std::sync::Mutex<Option<Instant>>,
}

impl ReadStore {
    /// Reads on `primary`, or on the replica `config.read_url` names (connected on demand).
    pub fn new(primary: Store, config: &DatabaseConfig) -> Self {
        let replica = config.read_url.as_ref().map(|url| {
            let timeout =
                Duration::from_millis(config.connect_timeout_ms).min(REPLICA_CONNECT_TIMEOUT);
            let settings = DatabaseConfig {
                url: url.clone(),
                read_url: None,
                connect_timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                ..config.clone()
            };
            Arc::new(Replica {
                store: Store::new(&settings),
                down: AtomicBool::new(false),
                skip_until: std::sync::Mutex::new(None),
            })
        });
        Self { primary, replica }
    }

    /// Runs a read on the replica, or on the primary when there is none or it cannot answer.
    /// `work` may run twice (replica, then primary), so it must only read.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut PgConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(replica) = self
            .replica
            .clone()
            .filter(|replica| replica.worth_trying())
        else {
            return self.primary.run(work).await;
        };
        let primary = self.primary.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let error = match replica.store.conn() {
                Ok(mut conn) => match work(&mut conn) {
                    Err(error) if lost_replica(&error) || conflict(&error) => error,
                    answer => {
                        replica.answered();
                        return answer;
                    }
                },
                Err(error) => error,
            };
            replica.failed(&error);
            metrics::counter!("intake_replica_fallbacks_total").increment(1);
            let mut conn = primary.conn()?;
            work(&mut conn)
        })
        .await
        .map_err(|error| StoreError::Task(error.to_string()))?
    }
}

impl Replica {
    fn worth_trying(&self) -> bool {
        let skip_until = *self.skip_until.lock().unwrap_or_else(|e| e.into_inner());
        match skip_until {
            Some(until) if Instant::now() < until => {
                metrics::counter!("intake_replica_fallbacks_total").increment(1);
                false
            }
            _ => true,
        }
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("the read replica answers again; reads go to it");
        }
    }

    /// A lost replica is skipped for [`REPLICA_RETRY`]; a query it cancelled (a conflict
    /// with WAL replay) only sends that read to the primary.
    fn failed(&self, error: &StoreError) {
        if conflict(error) || !lost_replica(error) {
            tracing::debug!(%error, "the read replica cancelled a read; reading the primary");
            return;
        }
        *self.skip_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + REPLICA_RETRY);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                retry_seconds = REPLICA_RETRY.as_secs(),
                "the read replica cannot be reached; reads go to the primary"
            );
        }
    }
}

/// The replica itself is gone: no connection, or the one held was lost or refused.
fn lost_replica(error: &StoreError) -> bool {
    match error {
        StoreError::Unavailable(_) => true,
        StoreError::Query(DieselError::DatabaseError(kind, info)) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
            ) || {
                let message = info.message().to_ascii_lowercase();
                ["terminating connection", "shutting down", "starting up"]
                    .iter()
                    .any(|needle| message.contains(needle))
            }
        }
        _ => false,
    }
}

/// The replica cancelled the read because WAL replay needed what it held
/// (`max_standby_streaming_delay`); the primary has no such conflict.
fn conflict(error: &StoreError) -> bool {
    matches!(error, StoreError::Query(DieselError::DatabaseError(_, info))
        if info.message().contains("conflict with recovery"))
}
