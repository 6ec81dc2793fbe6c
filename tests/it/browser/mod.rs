//! Browser tests: headless Chromium, driven over WebDriver by chromedriver, against pages
//! served in-process. They run one at a time (the `browser` test group in
//! .config/nextest.toml): each starts a browser, which is heavy on a small machine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod console;
mod console_auth;
mod console_dead_letters;
mod console_sessions;
mod driver;
mod harness;
mod page;

pub use driver::Session;
