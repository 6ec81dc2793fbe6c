//! The console's gate: logging in (right, wrong, too often), every page and the overview's
//! data refused without a session, CSRF on every POST, and logging out for good.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::console_harness::{Login, PASSWORD, TestConsole, USER, set_cookie, set_cookie_header};

#[tokio::test]
async fn console_login_succeeds_and_fails_and_is_rate_limited() {
    let console = TestConsole::spawn().await;

    let response = console.try_login(USER, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let raw = set_cookie_header(&response, "intake_console").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(raw.contains(attribute), "{raw}");
    }
    let login = Login {
        cookie: set_cookie(&response, "intake_console").unwrap(),
        csrf: String::new(),
    };
    let (status, html) = console.page(&login, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"readiness\""), "{html}");

    let response = console.try_login(USER, "wrong").await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(&response, "intake_console").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"login-error\""), "{html}");

    // Four more failures from this address use up its five a minute...
    for _ in 0..4 {
        let response = console.try_login("nobody", "wrong").await;
        assert_eq!(response.status(), 401);
    }
    // ...and then even the right password waits.
    let response = console.try_login(USER, PASSWORD).await;
    assert_eq!(response.status(), 429);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"login-error\""), "{html}");
}

#[tokio::test]
async fn console_login_without_its_csrf_token_is_refused() {
    let console = TestConsole::spawn().await;
    let (cookie, _) = console.login_form().await;
    let fields = [
        ("username", USER),
        ("password", PASSWORD),
        ("csrf", "forged"),
    ];
    let response = console.post_login(&cookie, &fields).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("id=\"csrf-error\""));
}

#[tokio::test]
async fn console_refuses_every_page_and_data_without_a_session() {
    let console = TestConsole::spawn().await;
    let project = console.app.project_id;
    let pages = [
        "/".to_owned(),
        "/sessions".to_owned(),
        format!("/projects/{project}/sessions"),
        format!("/projects/{project}/sessions/some-uuid"),
        "/devices".to_owned(),
        "/dead-letters".to_owned(),
        "/dead-letters/some-upload".to_owned(),
    ];
    let stale = Login {
        cookie: "not-a-session".into(),
        csrf: String::new(),
    };
    for page in &pages {
        for response in [
            console.http.get(console.url(page)).send().await.unwrap(),
            console.get(&stale, page).await,
        ] {
            assert_eq!(response.status(), 303, "{page}");
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("/login?next="), "{page}: {location}");
        }
    }
    let data = [
        "/api/overview".to_owned(),
        format!("/projects/{project}/sessions/some-uuid/attachments/photo"),
    ];
    for path in &data {
        let response = console.http.get(console.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    for path in [
        "/logout",
        "/dead-letters/purge",
        "/dead-letters/requeue/confirm",
    ] {
        let response = console.http.post(console.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
    }
    // The assets hold no data and need no login.
    for asset in ["/assets/console.css", "/assets/console.js"] {
        let response = console.http.get(console.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn console_post_with_a_bad_csrf_token_is_refused() {
    let console = TestConsole::spawn().await;
    let login = console.login().await;
    for form in [vec![("csrf", "forged")], vec![]] {
        let response = console.post(&login, "/logout", &form).await;
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("id=\"csrf-error\""));
    }
    let response = console
        .post(
            &login,
            "/dead-letters/purge/confirm",
            &[("csrf", "forged"), ("upload_id", "x")],
        )
        .await;
    assert_eq!(response.status(), 403);
    // The session still works: the refusals changed nothing.
    assert_eq!(console.page(&login, "/").await.0, 200);
}

#[tokio::test]
async fn console_logout_ends_the_session_on_the_server() {
    let console = TestConsole::spawn().await;
    let login = console.login().await;
    assert_eq!(console.get(&login, "/api/overview").await.status(), 200);
    let response = console
        .post(&login, "/logout", &[("csrf", &login.csrf)])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
    // The old cookie, replayed, opens nothing.
    assert_eq!(console.get(&login, "/api/overview").await.status(), 401);
    assert_eq!(console.get(&login, "/").await.status(), 303);
    let rows = crate::common::count(&console.app.db.url, "console_sessions");
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn console_sessions_expire_and_logins_return_to_local_pages_only() {
    let console = TestConsole::around_with(crate::common::TestApp::front_only().await, |config| {
        config.console.secure_cookies = true;
    })
    .await;
    for (next, wanted) in [
        ("/devices?project_id=1", "/devices?project_id=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ] {
        let (cookie, csrf) = console.login_form().await;
        let fields = [
            ("username", USER),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", next),
        ];
        let response = console.post_login(&cookie, &fields).await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(response.headers()["location"], wanted, "{next}");
        let raw = set_cookie_header(&response, "intake_console").unwrap();
        assert!(raw.contains("; Secure"), "{raw}");
    }

    let login = console.login().await;
    // A script may send the token as a header instead of a form field.
    let response = console
        .http
        .post(console.url("/logout"))
        .header("cookie", format!("intake_console={}", login.cookie))
        .header("x-csrf-token", &login.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(console.get(&login, "/").await.status(), 303);

    // A session past its time opens nothing.
    let login = console.login().await;
    assert_eq!(console.get(&login, "/api/overview").await.status(), 200);
    {
        use diesel::RunQueryDsl as _;
        let mut conn = console.app.db.conn();
        diesel::sql_query("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(console.get(&login, "/api/overview").await.status(), 401);
    let response = console.get(&login, "/devices").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?next=%2Fdevices");
}
