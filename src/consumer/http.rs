//! The consumer's own small HTTP listener: `/metrics`, `/healthz`, `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::telemetry::metrics_route;

/// Whether the consumer currently has a broker connection and consumers running.
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

impl Readiness {
    /// Records the current state.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

async fn readyz(State(ready): State<Arc<Readiness>>) -> (StatusCode, &'static str) {
    if ready.get() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not consuming")
    }
}

/// Serves until `cancel` fires. A listener that cannot bind is logged, not fatal: metrics
/// must never stop uploads from being stored.
pub async fn serve(config: &Config, ready: Arc<Readiness>, cancel: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(metrics_route))
        .route("/healthz", get(|| async { "alive" }))
        .route("/readyz", get(readyz))
        .with_state(ready);
    let listener = match tokio::net::TcpListener::bind(config.consumer.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, address = %config.consumer.listen, "consumer metrics listener not started");
            return;
        }
    };
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "consumer metrics listening");
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
    if let Err(error) = served {
        tracing::error!(%error, "consumer metrics listener failed");
    }
}
