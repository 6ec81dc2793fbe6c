//! How both replays send: at most a window of sends in flight, started no faster than the
//! rate asked for, each send a task of its own.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Schedule, ToolError};

/// The sends of one replay.
pub(crate) struct Paced {
    permits: Arc<Semaphore>,
    schedule: Option<Schedule>,
    started: u64,
    tasks: JoinSet<()>,
}

impl Paced {
    /// At most `window` sends at once, and `rate` a second if given; the schedule starts now.
    pub(crate) fn new(window: usize, rate: Option<f64>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(window.max(1))),
            schedule: rate.and_then(Schedule::new),
            started: 0,
            tasks: JoinSet::new(),
        }
    }

    /// Waits until the next send is due and the window has room, then starts `send`.
    pub(crate) async fn start<F>(&mut self, send: F) -> Result<(), ToolError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(schedule) = self.schedule {
            schedule.wait(self.started).await;
        }
        self.started += 1;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|error| ToolError::Task(error.to_string()))?;
        self.tasks.spawn(async move {
            send.await;
            drop(permit);
        });
        // Reap finished sends as we go, so a panicked one fails the replay early.
        while let Some(joined) = self.tasks.try_join_next() {
            joined.map_err(|error| ToolError::Task(error.to_string()))?;
        }
        Ok(())
    }

    /// Waits for every send started.
    pub(crate) async fn finish(mut self) -> Result<(), ToolError> {
        while let Some(joined) = self.tasks.join_next().await {
            joined.map_err(|error| ToolError::Task(error.to_string()))?;
        }
        Ok(())
    }
}
