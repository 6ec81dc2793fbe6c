//! What a test does with a page: go, read, fill, click, log in, and save screenshots at
//! desktop and phone width (checking that a phone never scrolls sideways).

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::Locator;
use fantoccini::elements::Element;

use super::driver::{DESKTOP, PHONE, Session};
use crate::common::eventually;

/// How long a test waits for what a page does by itself: generous, as `make test` runs
/// many other tests beside the browser on a small machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `target/console-screenshots`, where every page's screenshots go.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("console-screenshots")
}

impl Session {
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path and query of the page shown now.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no `{css}` on {}: {e}\n{}",
                self.path_now().await,
                self.body_text().await
            ),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// Waits (up to [`PATIENCE`]) for an element: pages that update themselves fill in late.
    pub async fn wait_for(&self, css: &str) -> Element {
        let what = format!("`{css}` on the page");
        eventually(&what, PATIENCE, || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// Waits (up to [`PATIENCE`]) until the text of `css` satisfies `done`; returns it.
    pub async fn wait_for_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let what = format!("the text of `{css}`");
        eventually(&what, PATIENCE, || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            done(&text).then_some(text)
        })
        .await
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The rendered texts of all elements matching `css`, in page order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.find_all(css).await {
            texts.push(element.text().await.unwrap());
        }
        texts
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap()
    }

    pub async fn attrs(&self, css: &str, name: &str) -> Vec<Option<String>> {
        let mut values = Vec::new();
        for element in self.find_all(css).await {
            values.push(element.attr(name).await.unwrap());
        }
        values
    }

    /// Replaces the value of an input.
    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Clicks a link or button that leads to another page, and waits until that page has
    /// loaded (the old page is marked first: it may still read "complete" after the click).
    pub async fn click(&self, css: &str) {
        self.js("window.__intakeOldPage = true").await;
        self.find(css).await.click().await.unwrap();
        self.wait_loaded().await;
    }

    /// Waits until a new page (not one marked by [`Session::click`]) has loaded.
    pub async fn wait_loaded(&self) {
        let script = "return window.__intakeOldPage === true ? 'old' : document.readyState";
        eventually("the next page loaded", PATIENCE, || async {
            // Errors while the page changes: ask again.
            let state = self.client.execute(script, vec![]).await.ok()?;
            (state == "complete").then_some(())
        })
        .await;
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The text of an open alert, prompt or confirm, if a script opened one.
    pub async fn open_alert(&self) -> Option<String> {
        self.client.get_alert_text().await.ok()
    }

    /// The page's text, for failure messages (the first 2000 characters).
    pub async fn body_text(&self) -> String {
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .map(|text| text.as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        text.chars().take(2000).collect()
    }

    async fn path_now(&self) -> String {
        self.client
            .current_url()
            .await
            .map_or_else(|_| "?".to_owned(), |url| url.to_string())
    }

    /// Logs in through the form at `base`/login; lands on the page the form leads to.
    pub async fn log_in(&self, base: &str, username: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.fill("#login-form input[name=username]", username)
            .await;
        self.fill("#login-form input[name=password]", password)
            .await;
        self.click("#login-submit").await;
        let path = self.path().await;
        assert!(
            !path.starts_with("/login"),
            "still on {path} after logging in as {username}:\n{}",
            self.body_text().await
        );
    }

    /// How far the page reaches sideways past the viewport, in CSS pixels (0: no scroll).
    pub async fn horizontal_overflow(&self) -> i64 {
        let overflow = self
            .js("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        overflow.as_i64().unwrap()
    }

    /// Saves `<name>-desktop.png` (1280x900) and `<name>-phone.png` (375x812) into
    /// [`screenshot_dir`], and fails if the page scrolls sideways at phone width.
    pub async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (size, label) in [(DESKTOP, "desktop"), (PHONE, "phone")] {
            self.resize(size).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        }
        // Still at phone width.
        let overflow = self.horizontal_overflow().await;
        self.resize(DESKTOP).await;
        assert!(
            overflow <= 0,
            "{name} ({}) scrolls sideways by {overflow} px at phone width",
            self.path().await
        );
    }
}
