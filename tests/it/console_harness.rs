//! The console as the tests drive it: served in-process on a port of its own next to a
//! [`TestApp`], a console user made through the library, and an HTTP client that follows no
//! redirects and carries the session cookie by hand, as a browser would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::TestApp;

use intake_tools::console::{self, users};
use tokio_util::sync::CancellationToken;

pub const USER: &str = "operator";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestConsole {
    pub app: TestApp,
    pub base: String,
    pub http: reqwest::Client,
    cancel: CancellationToken,
}

/// A logged-in browser: its session cookie and the session's CSRF token.
#[derive(Clone, Debug)]
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

impl TestConsole {
    /// Front, consumer and console, with the user [`USER`].
    pub async fn spawn() -> Self {
        Self::around(TestApp::spawn().await).await
    }

    /// The console next to `app`.
    pub async fn around(app: TestApp) -> Self {
        Self::around_with(app, |_| {}).await
    }

    /// The console next to `app`, with a configuration tweak.
    pub async fn around_with(
        app: TestApp,
        tweak: impl FnOnce(&mut intake::config::Config),
    ) -> Self {
        let mut config = app.config.clone();
        config.console.front_ready_url = format!("http://{}/readyz", app.address);
        config.console.front_metrics_url = format!("http://{}/metrics", app.metrics_address);
        // The in-process consumer's listener is not exposed; the process shares one recorder.
        config.console.consumer_metrics_url = config.console.front_metrics_url.clone();
        config.console.consumer_ready_url = format!("http://{}/readyz", app.address);
        tweak(&mut config);
        {
            let mut conn = app.db.conn();
            users::create(&mut conn, USER, PASSWORD).unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            console::serve(config, listener, stop)
                .await
                .expect("the console serves");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            base,
            http,
            cancel,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with the session cookie.
    pub async fn get(&self, login: &Login, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header(
                "cookie",
                format!("{}={}", console::auth_cookie(), login.cookie),
            )
            .send()
            .await
            .unwrap()
    }

    /// GET a JSON document with the session cookie; `None` when the body is not JSON.
    pub async fn json(&self, login: &Login, path: &str) -> Option<serde_json::Value> {
        self.get(login, path).await.json().await.ok()
    }

    /// GET, status and body text.
    pub async fn page(&self, login: &Login, path: &str) -> (u16, String) {
        let response = self.get(login, path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// POST a form with the session cookie (the CSRF field is the caller's).
    pub async fn post(
        &self,
        login: &Login,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header(
                "cookie",
                format!("{}={}", console::auth_cookie(), login.cookie),
            )
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The login form: its CSRF cookie and field.
    pub async fn login_form(&self) -> (String, String) {
        let response = self.http.get(self.url("/login")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let cookie = set_cookie(&response, "intake_console_login").expect("login CSRF cookie");
        let html = response.text().await.unwrap();
        (cookie, csrf_of(&html))
    }

    /// POSTs `fields` to /login with the login form's CSRF `cookie` (the fields are the
    /// caller's, so a test can forge or add any of them).
    pub async fn post_login(&self, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/login"))
            .header("cookie", format!("intake_console_login={cookie}"))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// POSTs the login form as a browser would (from 127.0.0.1).
    pub async fn try_login(&self, user: &str, password: &str) -> reqwest::Response {
        let (cookie, csrf) = self.login_form().await;
        let fields = [("username", user), ("password", password), ("csrf", &csrf)];
        self.post_login(&cookie, &fields).await
    }

    /// Logs [`USER`] in.
    pub async fn login(&self) -> Login {
        let response = self.try_login(USER, PASSWORD).await;
        assert_eq!(response.status(), 303, "login answers 303");
        let cookie = set_cookie(&response, console::auth_cookie()).expect("session cookie");
        let mut login = Login {
            cookie,
            csrf: String::new(),
        };
        let (status, html) = self.page(&login, "/").await;
        assert_eq!(status, 200, "{html}");
        login.csrf = csrf_of(&html);
        login
    }
}

impl Drop for TestConsole {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The value a `Set-Cookie` header gives `name`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The whole `Set-Cookie` header that sets `name`, attributes included.
pub fn set_cookie_header(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with(&prefix))
}

/// The first hidden CSRF field of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}
