//! Once-a-second progress lines on stderr, so a long run shows it is alive without mixing
//! into the report on stdout.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Prints `line(elapsed)` to stderr every second until stopped.
pub struct Ticker {
    cancel: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts printing when `enabled` (tests and `--quiet` runs pass `false`).
    pub fn start<F>(enabled: bool, line: F) -> Self
    where
        F: Fn(Duration) -> String + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let handle = enabled.then(|| {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let start = tokio::time::Instant::now();
                let mut tick = tokio::time::interval_at(
                    start + Duration::from_secs(1),
                    Duration::from_secs(1),
                );
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        _ = tick.tick() => eprintln!("{}", line(start.elapsed())),
                    }
                }
            })
        });
        Self { cancel, handle }
    }

    /// Stops printing and waits for the printer to finish its line.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(handle) = self.handle.take() {
            let _finished = handle.await;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
