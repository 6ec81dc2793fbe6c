//! Logging in and out of the console, pages refused without a login, and a POST refused
//! with a bad CSRF token.

use super::console::Console;
use crate::console_harness::{PASSWORD, USER};

#[tokio::test]
async fn an_operator_logs_in_and_sees_the_overview() {
    let console = Console::start().await;
    let browser = &console.browser;

    browser.goto(&console.url("/")).await;
    assert!(browser.path().await.starts_with("/login?next="));
    browser.screenshots("login").await;

    browser.fill("input[name=username]", USER).await;
    browser
        .fill("input[name=password]", "not the password")
        .await;
    browser.click("#login-submit").await;
    assert!(!browser.text("#login-error").await.is_empty());
    browser.screenshots("login-failed").await;

    console.log_in().await;
    assert_eq!(browser.path().await, "/");
    for link in [
        "#nav-overview",
        "#nav-sessions",
        "#nav-devices",
        "#nav-dead-letters",
    ] {
        assert!(browser.exists(&format!("#nav {link}")).await, "{link}");
    }
    let mut services: Vec<_> = browser
        .attrs("#readiness li[data-service]", "data-service")
        .await
        .into_iter()
        .flatten()
        .collect();
    services.sort();
    assert_eq!(services, ["consumer", "front", "postgresql", "rabbitmq"]);
    // Every service runs: each reads "ready" once probed.
    for service in ["front", "consumer", "rabbitmq", "postgresql"] {
        let css = format!("#readiness li[data-service={service}].ready");
        console.reload_until("/", &css).await;
        let text = browser.text(&css).await;
        assert!(
            text.contains("ready") && !text.contains("not ready"),
            "{text}"
        );
    }
    // Uploads show on the page without a reload: console.js redraws it every 2 s.
    for n in 0..5 {
        let uuid = format!("overview-{n}");
        console
            .create(&uuid, "unit-1", serde_json::json!({"n": "1"}))
            .await;
    }
    console
        .browser
        .wait_for_text("#latency-p50", |text| text.contains("ms"))
        .await;
    assert!(browser.text("#latency-p99").await.contains("ms"));
    assert!(browser.exists("svg#plot-rates").await);
    assert!(browser.exists("svg#plot-depth").await);
    assert!(browser.exists("#latency-p50").await && browser.exists("#latency-p99").await);
    browser.screenshots("overview").await;
}

#[tokio::test]
async fn pages_without_a_login_send_to_the_login_form_and_back() {
    let console = Console::start().await;
    let browser = &console.browser;
    let sessions = format!("/projects/{}/sessions", console.project_id());
    for path in ["/", "/devices", "/dead-letters", sessions.as_str()] {
        browser.goto(&console.url(path)).await;
        let now = browser.path().await;
        assert!(
            now.starts_with("/login?next="),
            "{path} shown without a login: {now}"
        );
    }
    // Logging in from there lands on the page asked for.
    browser.fill("input[name=username]", USER).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("#login-submit").await;
    assert_eq!(browser.path().await, sessions);

    // After logging out, the same page is refused again.
    browser.click("#logout").await;
    assert!(browser.path().await.starts_with("/login"));
    browser.goto(&console.url(&sessions)).await;
    assert!(browser.path().await.starts_with("/login?next="));
}

#[tokio::test]
async fn a_post_with_a_bad_csrf_token_is_refused() {
    let console = Console::logged_in().await;
    let browser = &console.browser;

    // A forged logout: the page's own form with another token.
    browser
        .js("document.querySelector('#logout-form input[name=csrf]').value = 'forged'")
        .await;
    browser.click("#logout").await;
    assert!(!browser.text("#csrf-error").await.is_empty());
    browser.screenshots("csrf-refused").await;
    // Still logged in: the forged POST ended nothing.
    console.open("/").await;

    // The status a browser gets for it.
    let cookie = browser
        .client
        .get_named_cookie(intake_tools::console::auth_cookie())
        .await
        .unwrap();
    let response = console
        .console
        .http
        .post(console.url("/logout"))
        .header("cookie", format!("{}={}", cookie.name(), cookie.value()))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    console.open("/").await;
}

#[tokio::test]
async fn the_browsers_own_favicon_request_leaves_the_login_form_working() {
    let console = Console::start().await;
    let browser = &console.browser;
    browser.goto(&console.url("/login")).await;
    // What a browser does by itself after loading any page (whatever the answer).
    browser
        .js("fetch('/favicon.ico', {credentials: 'same-origin'}).catch(function () {})")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    browser.fill("input[name=username]", USER).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("#login-submit").await;
    assert_eq!(
        browser.path().await,
        "/",
        "the login form was refused after the browser asked for /favicon.ico (a request \
         answered with a new login form replaces the form's token):\n{}",
        browser.body_text().await
    );
}
