//! The operator console in a browser: the real console in-process next to a front and a
//! consumer (which make its data), an operator logged in through the login form, and the
//! uploads the tests make through the front.

use std::time::Duration;

use serde_json::json;

use super::Session;
use crate::common::multipart::file_part;
use crate::common::{StoredSession, eventually, load_session};
use crate::console_harness::{PASSWORD, TestConsole, USER};

/// The PNG photo the session tests upload (320x200).
pub const PHOTO: &[u8] = include_bytes!("photo.png");

pub struct Console {
    pub console: TestConsole,
    pub browser: Session,
}

impl Console {
    /// Front, consumer and console, and a browser not logged in yet.
    pub async fn start() -> Self {
        let console = TestConsole::spawn().await;
        let browser = Session::start().await;
        Self { console, browser }
    }

    /// As [`Console::start`], logged in through the form.
    pub async fn logged_in() -> Self {
        let console = Self::start().await;
        console.log_in().await;
        console
    }

    pub async fn log_in(&self) {
        self.browser
            .log_in(&self.console.base, USER, PASSWORD)
            .await;
    }

    pub fn url(&self, path: &str) -> String {
        self.console.url(path)
    }

    pub fn project_id(&self) -> i64 {
        self.console.app.project_id
    }

    /// Opens a console page as the logged-in operator, and fails if it was sent to log in.
    pub async fn open(&self, path: &str) {
        self.browser.goto(&self.url(path)).await;
        let now = self.browser.path().await;
        assert!(!now.starts_with("/login"), "{path} sent to {now}");
    }

    /// The session page's path in this project.
    pub fn session_path(&self, uuid: &str) -> String {
        format!("/projects/{}/sessions/{uuid}", self.project_id())
    }

    /// Posts a JSON session through the front and waits until it is stored.
    pub async fn create(
        &self,
        uuid: &str,
        unit_id: &str,
        data: serde_json::Value,
    ) -> StoredSession {
        let body = json!({"session": {"uuid": uuid, "unit_id": unit_id, "data": data}});
        self.console.app.create_stored(&body).await
    }

    /// Posts a multipart session with [`PHOTO`] as the point `photo` and waits until stored.
    pub async fn create_with_photo(&self, uuid: &str) -> StoredSession {
        let app = &self.console.app;
        let form = reqwest::multipart::Form::new()
            .text("session[uuid]", uuid.to_owned())
            .text("session[unit_id]", "camera-7")
            .text("session[data][caption]", "north slope, after the rain")
            .part(
                "session[data][photo]",
                file_part(PHOTO, "slope.png", "image/png"),
            );
        app.post_multipart_stored(form, uuid).await
    }

    /// Waits until the session `uuid` of `project_id` is stored.
    pub async fn stored_in(&self, project_id: i64, uuid: &str) -> StoredSession {
        let url = self.console.app.db.url.clone();
        eventually("the session stored", Duration::from_secs(30), || {
            let (url, uuid) = (url.clone(), uuid.to_owned());
            async move {
                tokio::task::spawn_blocking(move || load_session(&url, project_id, &uuid))
                    .await
                    .unwrap()
            }
        })
        .await
    }

    /// The session `uuid` of `project_id` as stored now, if it is.
    pub async fn stored_now_in(&self, project_id: i64, uuid: &str) -> Option<StoredSession> {
        let (url, uuid) = (self.console.app.db.url.clone(), uuid.to_owned());
        tokio::task::spawn_blocking(move || load_session(&url, project_id, &uuid))
            .await
            .unwrap()
    }

    /// Reloads `path` until `css` is on it (pages that list what the services do lag).
    pub async fn reload_until(&self, path: &str, css: &str) {
        let what = format!("`{css}` on {path}");
        eventually(&what, Duration::from_secs(30), || async {
            self.open(path).await;
            self.browser.exists(css).await.then_some(())
        })
        .await;
    }
}
