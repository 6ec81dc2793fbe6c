//! The harness itself, against a tiny page of the test's own: log in through a form, read
//! text, save screenshots at both widths, and tell a page that scrolls sideways on a phone.

use axum::Router;
use axum::extract::Form;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Session;
use super::page::screenshot_dir;

const PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>t</title></head>
<body>"#;

fn login_page(error: bool) -> String {
    let error = if error {
        r#"<p id="login-error">wrong username or password</p>"#
    } else {
        ""
    };
    format!(
        r#"{PAGE}{error}<form id="login-form" method="post" action="/login">
<input name="username"><input name="password" type="password">
<input type="hidden" name="csrf" value="token">
<button type="submit" id="login-submit">Log in</button></form></body></html>"#
    )
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
    csrf: String,
}

async fn log_in(Form(login): Form<Login>) -> Response {
    if (
        login.username.as_str(),
        login.password.as_str(),
        login.csrf.as_str(),
    ) == ("operator", "right", "token")
    {
        let mut response = Redirect::to("/").into_response();
        response.headers_mut().insert(
            header::SET_COOKIE,
            "intake_console=1; HttpOnly; SameSite=Strict; Path=/"
                .parse()
                .unwrap(),
        );
        response
    } else {
        (StatusCode::UNAUTHORIZED, Html(login_page(true))).into_response()
    }
}

async fn home(headers: HeaderMap) -> Response {
    let logged_in = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|cookies| cookies.contains("intake_console=1"));
    if !logged_in {
        return Redirect::to("/login?next=/").into_response();
    }
    Html(format!(
        r#"{PAGE}<p id="greeting">Hello, operator</p></body></html>"#
    ))
    .into_response()
}

async fn serve() -> String {
    let app = Router::new()
        .route("/", get(home))
        .route(
            "/login",
            get(|| async { Html(login_page(false)) }).post(log_in),
        )
        .route(
            "/wide",
            get(|| async {
                Html(format!(
                    r#"{PAGE}<pre>{}</pre></body></html>"#,
                    "x".repeat(300)
                ))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// Width and height from a PNG's header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[tokio::test]
async fn logs_in_reads_text_and_saves_screenshots_at_both_widths() {
    let base = serve().await;
    let browser = Session::start().await;

    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.path().await, "/login?next=/");
    browser.fill("input[name=username]", "operator").await;
    browser.fill("input[name=password]", "wrong").await;
    browser.click("#login-submit").await;
    assert_eq!(
        browser.text("#login-error").await,
        "wrong username or password"
    );

    browser.log_in(&base, "operator", "right").await;
    assert_eq!(browser.path().await, "/");
    assert_eq!(browser.text("#greeting").await, "Hello, operator");

    browser.screenshots("harness-home").await;
    let dir = screenshot_dir();
    let desktop = std::fs::read(dir.join("harness-home-desktop.png")).unwrap();
    let phone = std::fs::read(dir.join("harness-home-phone.png")).unwrap();
    assert_eq!(png_size(&desktop), (1280, 900));
    assert_eq!(png_size(&phone), (375, 812));
}

#[tokio::test]
async fn tells_a_page_that_scrolls_sideways_on_a_phone() {
    let base = serve().await;
    let browser = Session::start().await;
    browser.goto(&format!("{base}/wide")).await;
    browser.resize(super::driver::PHONE).await;
    assert!(browser.horizontal_overflow().await > 0);
    browser.goto(&format!("{base}/login")).await;
    assert_eq!(browser.horizontal_overflow().await, 0);
}
