//! The CSRF check every POST behind a login passes: the session's token, in the form field
//! `csrf` or the `X-CSRF-Token` header (JSON fetches), compared in constant time. Missing or
//! wrong: 403, an HTML page with `#csrf-error` (JSON under /api/).

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use super::layout;
use super::users::Operator;

/// Largest form body read for the check; the console's forms are a few fields.
const FORM_LIMIT: usize = 64 * 1024;

/// Whether two tokens are equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// The `name` field of an urlencoded form.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Middleware: refuses a POST without the session's CSRF token (runs after the login check,
/// which leaves the [`Operator`] in the request).
pub async fn check(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(operator) = request.extensions().get::<Operator>().cloned() else {
        return refused(request.uri().path(), None);
    };
    let header = request
        .headers()
        .get("x-csrf-token")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    };
    let given = header.or_else(|| form_field(&bytes, "csrf"));
    if !given.is_some_and(|token| same(&token, &operator.csrf)) {
        return refused(parts.uri.path(), Some(&operator));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The 403 answer (with the nav when the operator is known).
pub fn refused(path: &str, operator: Option<&Operator>) -> Response {
    const MESSAGE: &str =
        "the form's security token is missing or out of date; reload the page and try again";
    if path.starts_with("/api/") {
        return layout::json_error(StatusCode::FORBIDDEN, MESSAGE);
    }
    let body = maud::html! {
        p #csrf-error .error { (MESSAGE) }
        p { a href="/" { "Back to the overview" } }
    };
    (
        StatusCode::FORBIDDEN,
        layout::page("Refused", operator, body),
    )
        .into_response()
}
