//! Users, grants and projects held in memory, so authorising a request never waits for
//! PostgreSQL. A background task reloads them periodically (and soon after an unknown user
//! shows up); while PostgreSQL is down the last good copy keeps serving.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use axum::http::HeaderMap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use crate::auth::{AuthError, Credentials, TIMESTAMP_HEADER};
use crate::store::Store;
use crate::store::admin::{AuthData, load_auth_data};

/// Shortest pause between two reloads asked for by unknown users.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The in-memory copy of the auth tables.
pub struct AuthCache {
    data: ArcSwapOption<AuthData>,
    store: Store,
    reload_soon: Notify,
    window_seconds: i64,
}

impl AuthCache {
    /// Creates the cache and tries one load, waiting at most `first_load_timeout`.
    pub async fn start(
        store: Store,
        window_seconds: i64,
        refresh_every: Duration,
        first_load_timeout: Duration,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let cache = Arc::new(Self {
            data: ArcSwapOption::empty(),
            store,
            reload_soon: Notify::new(),
            window_seconds,
        });
        if tokio::time::timeout(first_load_timeout, cache.reload())
            .await
            .is_err()
        {
            tracing::warn!("auth data not loaded yet: PostgreSQL did not answer in time");
        }
        tokio::spawn(Arc::clone(&cache).refresh_loop(refresh_every, cancel));
        cache
    }

    /// Reloads from PostgreSQL; on failure keeps the current copy.
    pub async fn reload(&self) {
        match self.store.run(load_auth_data).await {
            Ok(data) => self.data.store(Some(Arc::new(data))),
            Err(error) => {
                tracing::warn!(%error, "cannot reload auth data; keeping the cached copy")
            }
        }
    }

    async fn refresh_loop(self: Arc<Self>, every: Duration, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
                () = self.reload_soon.notified() => {}
            }
            self.reload().await;
            tokio::time::sleep(MIN_RELOAD_INTERVAL).await;
        }
    }

    /// Whether users and grants are loaded: until then every signed request gets `503`.
    pub fn is_loaded(&self) -> bool {
        self.data.load().is_some()
    }

    /// Authenticates the request and checks the principal may use `project_id`. Returns
    /// the username. Unknown project: `404`; every auth failure: `403`.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        project_id: i64,
        now: i64,
    ) -> Result<String, ApiError> {
        let (data, username) = self.verify(headers, now)?;
        if !data.projects.contains(&project_id) {
            self.reload_soon.notify_one();
            return Err(ApiError::NotFound(format!(
                "project {project_id} does not exist"
            )));
        }
        let granted = data
            .grants
            .get(&username)
            .is_some_and(|projects| projects.contains(&project_id));
        if !granted {
            return Err(ApiError::Forbidden(format!(
                "user {username} may not use project {project_id}"
            )));
        }
        Ok(username)
    }

    /// Authenticates the request for a route that spans projects: the username and every
    /// existing project it is granted, sorted.
    pub fn granted_projects(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<(String, Vec<i64>), ApiError> {
        let (data, username) = self.verify(headers, now)?;
        let mut projects: Vec<i64> = data
            .grants
            .get(&username)
            .map(|granted| {
                granted
                    .iter()
                    .copied()
                    .filter(|id| data.projects.contains(id))
                    .collect()
            })
            .unwrap_or_default();
        projects.sort_unstable();
        Ok((username, projects))
    }

    /// Checks the signature; returns the data it was checked against and the username.
    fn verify(&self, headers: &HeaderMap, now: i64) -> Result<(Arc<AuthData>, String), ApiError> {
        let data = self.data.load_full().ok_or_else(|| {
            ApiError::Unavailable("authentication data is not loaded yet; retry shortly".into())
        })?;
        let credentials = Credentials::parse(
            single_header(headers, "authorization")?,
            single_header(headers, TIMESTAMP_HEADER)?,
        )
        .map_err(forbidden)?;
        // Before the user is looked up: a stale request gets one answer whoever it names.
        credentials
            .check_window(now, self.window_seconds)
            .map_err(forbidden)?;
        let Some(secrets) = data.secrets.get(&credentials.username) else {
            self.reload_soon.notify_one();
            return Err(forbidden(AuthError::Invalid));
        };
        // During a rotation the previous secret works too, until its grace period ends.
        let mut verdict = Err(AuthError::Invalid);
        for secret in secrets.valid_at(now) {
            verdict = credentials.verify(secret, now, self.window_seconds);
            if verdict.is_ok() {
                break;
            }
        }
        verdict.map_err(forbidden)?;
        Ok((data, credentials.username))
    }
}

/// A header's value when it is given at most once. Two `Authorization` headers are refused
/// rather than one of them picked: a proxy and the front could otherwise pick different ones.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(forbidden(AuthError::Malformed(
            "Authorization and X-API-Timestamp must each be given once",
        )));
    }
    Ok(first.and_then(|value| value.to_str().ok()))
}

fn forbidden(error: AuthError) -> ApiError {
    ApiError::Forbidden(error.to_string())
}
