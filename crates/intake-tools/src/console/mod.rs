//! `intake console`: the operators' web console (docs/CONSOLE.md). Server-rendered pages
//! (maud) on a listener of its own, apart from the devices' front; console users of their
//! own ([`users`]); every page behind a login ([`auth`]) and every POST behind the session's
//! CSRF token ([`csrf`]).

mod assets;
mod attachment;
mod auth;
mod csrf;
mod dead_letter_actions;
mod dead_letters;
mod devices;
mod fields;
mod layout;
mod metrics_text;
mod overview;
mod probes;
mod ratelimit;
mod sampler;
mod session;
mod sessions;
mod sessions_params;
mod sessions_query;
pub mod user_cmd;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use intake::config::Config;
use intake::store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What every handler shares.
pub struct ConsoleState {
    /// The whole configuration (the dead-letter code takes it as `intake dlq` does).
    pub config: Config,
    /// PostgreSQL.
    pub store: Store,
    /// Failed logins per address and per name.
    pub limiter: ratelimit::LoginLimiter,
    /// The overview's ring of samples.
    pub samples: sampler::Samples,
}

/// Shared state as the handlers take it.
pub type State = Arc<ConsoleState>;

/// Serves the console on `listener` until `cancel`. Fails at once when PostgreSQL cannot be
/// reached or lacks the console's tables.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let store = Store::new(&config.database);
    store
        .run(|_| Ok(()))
        .await
        .context("cannot reach PostgreSQL")?;
    let checked = store.clone();
    tokio::task::spawn_blocking(move || checked.ensure_migrated())
        .await
        .context("migration check failed")??;
    let state = Arc::new(ConsoleState {
        limiter: ratelimit::LoginLimiter::new(5, std::time::Duration::from_secs(60)),
        samples: sampler::Samples::default(),
        store,
        config,
    });
    if let Ok(address) = listener.local_addr() {
        tracing::info!(url = %format!("http://{address}/"), "the console listens");
    }
    let sampling = tokio::spawn(sampler::run(Arc::clone(&state), cancel.clone()));
    let app = router(state);
    let stop = cancel.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.cancelled().await })
    .await
    .context("the console's listener failed")?;
    cancel.cancel();
    let _ = sampling.await;
    Ok(())
}

fn router(state: State) -> Router {
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/api/overview", get(overview::api))
        .route("/logout", post(auth::logout))
        .route("/sessions", get(sessions::choose_project))
        .route("/projects/{project_id}/sessions", get(sessions::page))
        .route("/projects/{project_id}/sessions/{uuid}", get(session::page))
        .route(
            "/projects/{project_id}/sessions/{uuid}/attachments/{point}",
            get(attachment::download),
        )
        .route("/devices", get(devices::page))
        .route("/dead-letters", get(dead_letters::page))
        // One segment: an upload id to show (GET) or an action to take (POST).
        .route(
            "/dead-letters/{id}",
            get(dead_letters::show).post(dead_letter_actions::act),
        )
        .route(
            "/dead-letters/{id}/confirm",
            post(dead_letter_actions::confirm),
        )
        .layer(middleware::from_fn(csrf::check))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_session,
        ));
    Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/assets/{file}", get(assets::serve))
        // Browsers ask for it on every page; behind the wall it would be a login page.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(pages)
        .layer(middleware::from_fn(layout::security_headers))
        .with_state(state)
}

/// `intake console`: binds `console.listen` and serves until SIGINT or SIGTERM.
pub fn run(config: Config) -> anyhow::Result<()> {
    intake::telemetry::init(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let address = config.console.listen;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (console.listen)"))?;
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            intake::shutdown::signal().await;
            stopper.cancel();
        });
        serve(config, listener, cancel).await
    })
}

/// The name of the session cookie.
pub fn auth_cookie() -> &'static str {
    auth::COOKIE
}
