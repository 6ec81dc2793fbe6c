//! Read-your-write for `?wait=stored`: a write waits until the consumer has committed it.
//!
//! "Committed" is read off the stored stamps, not off a log of processed messages: the write
//! is reflected once every field and point it wrote holds its stamp or a later one
//! ([`Stamps::reflect`]). So a write that a newer one overtook counts as stored too (what a
//! read would show already includes its effect, superseded or not), and replays or other
//! consumers need no cooperation. One background task serves every waiting request of this
//! front with one query per tick, so the cost does not grow with the number of waiters;
//! nothing runs while nobody waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::ordering::Order;
use crate::ordering::{Stamps, Touched};
use crate::store::Store;
use crate::store::stamps::load_stamps;

/// How often the waiting writes are checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

struct Waiting {
    key: (i64, String),
    touched: Touched,
    order: Order,
    done: oneshot::Sender<()>,
}

/// The registry of waiting writes and the task that checks them.
pub struct Waiter {
    store: Store,
    waiting: Mutex<Vec<Waiting>>,
    wake: Notify,
}

impl Waiter {
    /// Starts the checking task; it stops when `cancel` fires.
    pub fn start(store: Store, cancel: CancellationToken) -> Arc<Self> {
        let waiter = Arc::new(Self {
            store,
            waiting: Mutex::new(Vec::new()),
            wake: Notify::new(),
        });
        tokio::spawn(Arc::clone(&waiter).check_loop(cancel));
        waiter
    }

    /// Waits until the stored session reflects the write of `order` that wrote `touched`,
    /// at most `limit`. Returns whether it does.
    pub async fn wait(
        &self,
        project_id: i64,
        uuid: &str,
        touched: Touched,
        order: Order,
        limit: Duration,
    ) -> bool {
        let (done, stored) = oneshot::channel();
        self.lock().push(Waiting {
            key: (project_id, uuid.to_owned()),
            touched,
            order,
            done,
        });
        self.wake.notify_one();
        matches!(tokio::time::timeout(limit, stored).await, Ok(Ok(())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn check_loop(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let idle = self.lock().is_empty();
            let pause = async {
                if idle {
                    self.wake.notified().await;
                } else {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = pause => {}
            }
            if !idle {
                self.check().await;
            }
        }
    }

    /// One tick: forget requests that stopped waiting, load the stamps of the rest in one
    /// query, release those whose write is reflected.
    async fn check(&self) {
        let keys: Vec<(i64, String)> = {
            let mut waiting = self.lock();
            waiting.retain(|w| !w.done.is_closed());
            let mut keys: Vec<(i64, String)> = waiting.iter().map(|w| w.key.clone()).collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        };
        if keys.is_empty() {
            return;
        }
        let stamps: HashMap<(i64, String), Stamps> =
            match self.store.run(move |conn| load_stamps(conn, &keys)).await {
                Ok(rows) => rows.into_iter().collect(),
                Err(error) => {
                    tracing::debug!(%error, "cannot check waiting writes; will retry");
                    return;
                }
            };
        let mut waiting = self.lock();
        let (ready, rest): (Vec<Waiting>, Vec<Waiting>) = waiting.drain(..).partition(|w| {
            stamps
                .get(&w.key)
                .is_some_and(|s| s.reflect(&w.touched, w.order))
        });
        *waiting = rest;
        drop(waiting);
        for waiting in ready {
            let _gone = waiting.done.send(());
        }
    }
}
