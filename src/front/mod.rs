//! The HTTP front: axum router, shared state, startup and graceful shutdown.

pub mod attachment_writes;
pub mod attachments;
pub mod auth_cache;
pub mod create;
pub mod devices;
pub mod error;
pub mod export;
mod json_body;
pub mod observe;
pub mod params;
mod publish;
pub mod read;
pub mod routes;
pub mod serve;
pub mod target;
pub mod tls;
pub mod update;
pub mod wait;
pub mod write_path;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use self::auth_cache::AuthCache;
use self::error::{ApiError, success};
use crate::broker::Publisher;
use crate::config::Config;
use crate::session::clip;
use crate::store::Store;
use crate::store::reads::ReadStore;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The whole configuration.
    pub config: Arc<Config>,
    /// Users, grants and projects.
    pub auth: Arc<AuthCache>,
    /// The confirmed publisher.
    pub publisher: Arc<Publisher>,
    /// The primary PostgreSQL: the existence checks of updates, `?wait=stored`, the auth data.
    pub store: Store,
    /// The read routes' database: the replica of `database.read_url`, else the primary.
    pub reads: ReadStore,
    /// Read-your-write waits (`?wait=stored`).
    pub waiter: Arc<wait::Waiter>,
    /// Publishes that may wait for broker confirms at once; past it the front sheds load.
    pub publish_budget: Arc<tokio::sync::Semaphore>,
    /// KiB of encoded uploads that may wait for confirms at once (`front.max_in_flight_bytes`).
    pub publish_bytes_budget: Arc<tokio::sync::Semaphore>,
}

/// Parses a `{project_id}` path segment: a positive integer, else `400`.
pub fn parse_project_id(text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::field("project_id", "must be a positive integer")),
    }
}

/// The routes, for tests that drive the front in-process.
pub fn router(state: AppState) -> Router {
    routes::all()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(observe::record))
        // 5xx answers are logged once where they are decided, not again as trace errors.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

/// The span of one request. Method and path are the client's to choose, so they are clipped
/// (a debug log once carried megabyte URLs).
fn request_span(request: &axum::extract::Request) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %clip(request.method().as_str()),
        uri = %clip(&request.uri().to_string()),
        version = ?request.version(),
    )
}

/// The front's metrics listener: `/metrics` only, apart from the devices' port.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(crate::telemetry::metrics_route))
        .fallback(not_found)
}

async fn server_time() -> Response {
    success(StatusCode::OK, chrono::Utc::now().timestamp(), None)
}

async fn healthz() -> Response {
    success(StatusCode::OK, "alive", None)
}

/// Ready means an upload would be accepted now: users and grants are loaded (uploads are
/// authorised from memory) and RabbitMQ is connected.
async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    if !state.auth.is_loaded() {
        Err(ApiError::Unavailable(
            "users and grants are not loaded yet (PostgreSQL unreachable since start)".into(),
        ))
    } else if !state.publisher.is_ready() {
        Err(ApiError::Unavailable("not connected to RabbitMQ".into()))
    } else {
        Ok(success(StatusCode::OK, "ready", None))
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Connections the metrics listener serves at once.
const METRICS_CONNECTIONS: usize = 16;

/// A front bound to its listener, ready to serve.
pub struct Front {
    listener: TcpListener,
    metrics_listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    background: CancellationToken,
    limits: serve::ConnectionLimits,
    publisher: Arc<Publisher>,
}

impl Front {
    /// Binds the listener (port 0 picks a free one), connects the publisher in the
    /// background and loads the auth cache.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        Self::assemble(config, |config, background| {
            Publisher::start_with(
                config.broker.clone(),
                config.front.publish_channels,
                config.front.group_limits(),
                background,
            )
        })
        .await
    }

    /// A front whose publisher encodes and drops every upload: only for measuring the
    /// front's own request handling without the broker (`intake-bench`).
    pub async fn build_discarding(config: Config) -> std::io::Result<Self> {
        Self::assemble(config, |config, _| {
            Publisher::discarding(config.broker.clone())
        })
        .await
    }

    async fn assemble(
        config: Config,
        publisher: impl FnOnce(&Config, CancellationToken) -> Arc<Publisher>,
    ) -> std::io::Result<Self> {
        let config = Arc::new(config);
        crate::telemetry::metrics_handle();
        let background = CancellationToken::new();
        let store = Store::new(&config.database);
        let auth = AuthCache::start(
            store.clone(),
            config.front.auth_window_seconds,
            Duration::from_secs(config.front.auth_refresh_seconds.max(1)),
            Duration::from_secs(5),
            background.clone(),
        )
        .await;
        let publisher = publisher(&config, background.clone());
        let tls = tls::acceptor(
            config.front.tls_cert.as_deref(),
            config.front.tls_key.as_deref(),
        )
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let listener = serve::bind(config.front.listen)?;
        let metrics_listener = TcpListener::bind(config.front.metrics_listen).await?;
        let limits = serve::ConnectionLimits {
            max_connections: config.front.max_connections,
            header_read_timeout: Duration::from_millis(config.front.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(config.front.idle_timeout_ms.max(1)),
            drain_timeout: Duration::from_secs(config.front.shutdown_timeout_seconds),
        };
        let publish_budget = Arc::new(tokio::sync::Semaphore::new(
            config.front.max_in_flight_publishes.max(1),
        ));
        let publish_bytes_budget = Arc::new(tokio::sync::Semaphore::new(
            (config.front.max_in_flight_bytes / 1024).max(1),
        ));
        let reads = ReadStore::new(store.clone(), &config.database);
        let state = AppState {
            config,
            auth,
            publisher: Arc::clone(&publisher),
            publish_budget,
            publish_bytes_budget,
            waiter: wait::Waiter::start(store.clone(), background.clone()),
            reads,
            store,
        };
        Ok(Self {
            listener,
            metrics_listener,
            tls,
            app: router(state),
            background,
            limits,
            publisher,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address the metrics listener actually bound.
    pub fn metrics_addr(&self) -> std::io::Result<SocketAddr> {
        self.metrics_listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish (at most the drain timeout) and closes the broker connection.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopping.cancel();
        });
        // Plain HTTP, a few connections: Prometheus scrapers, not fleets.
        let metrics_limits = serve::ConnectionLimits {
            max_connections: METRICS_CONNECTIONS,
            ..self.limits
        };
        let metrics = tokio::spawn(serve::serve(
            self.metrics_listener,
            metrics_router(),
            metrics_limits,
            None,
            stop.clone(),
        ));
        serve::serve(self.listener, self.app, self.limits, self.tls, stop).await;
        let _ = metrics.await;
        self.background.cancel();
        self.publisher.close().await;
        Ok(())
    }
}
