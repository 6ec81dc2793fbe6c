//! What every page shares: the document around it (assets, nav, logout form), the error
//! answers, and the security headers every response carries.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::users::Operator;

/// Pages load only the console's own assets: no inline script or style, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A whole page: `operator` is `None` only on the login and refusal pages.
pub fn page(title: &str, operator: Option<&Operator>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · intake console" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header .top {
                    span .brand { "intake console" }
                    @if let Some(operator) = operator {
                        nav #nav {
                            a #nav-overview href="/" { "Overview" }
                            a #nav-sessions href="/sessions" { "Sessions" }
                            a #nav-devices href="/devices" { "Devices" }
                            a #nav-dead-letters href="/dead-letters" { "Dead letters" }
                        }
                        form #logout-form method="post" action="/logout" {
                            span .who { (operator.name) }
                            (csrf_input(operator))
                            button #logout type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_input(operator: &Operator) -> Markup {
    html! { input type="hidden" name="csrf" value=(operator.csrf); }
}

/// `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// An HTML error page for a logged-in operator.
pub fn error_page(status: StatusCode, operator: &Operator, message: &str) -> Response {
    let body = html! { p #error .error { (message) } };
    (status, page("Error", Some(operator), body)).into_response()
}

/// A time as operators read it: UTC, to the second.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A byte count with a unit.
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// Middleware: the console's CSP (unless the handler set a stricter one), no sniffing, no
/// framing, no caching of pages that show data.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
