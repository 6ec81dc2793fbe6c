//! Logging in and out, and the gate in front of every page: the `intake_console` cookie
//! names a session row; without one, pages redirect to /login and data answers 401.
//! The login form carries a CSRF token too, bound to a cookie of its own (no session yet).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, Request, State as Shared};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::users;
use super::{State, csrf, layout};

/// The session cookie.
pub const COOKIE: &str = "intake_console";
/// The login form's CSRF cookie.
const LOGIN_COOKIE: &str = "intake_console_login";

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(state: &State, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A local path to go back to after logging in; anything else (another site) is dropped.
fn local(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/",
    }
}

/// Middleware: lets a request with a live session through, carrying its [`Operator`].
pub async fn require_session(
    Shared(state): Shared<State>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = cookie(request.headers(), COOKIE);
    let operator = match token {
        Some(token) => match state
            .store
            .run(move |conn| users::session(conn, &token))
            .await
        {
            Ok(operator) => operator,
            Err(error) => {
                tracing::warn!(%error, "cannot check a console session");
                return layout::json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "PostgreSQL cannot be reached; retry shortly",
                );
            }
        },
        None => None,
    };
    if let Some(operator) = operator {
        request.extensions_mut().insert(operator);
        return next.run(request).await;
    }
    let path = request.uri().path();
    if path.starts_with("/api/") || path.contains("/attachments/") {
        return layout::json_error(StatusCode::UNAUTHORIZED, "log in to the console first");
    }
    let wanted = match request.method() {
        &Method::GET => request.uri().path_and_query().map_or("/", |pq| pq.as_str()),
        _ => "/",
    };
    let next: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", wanted)
        .finish();
    Redirect::to(&format!("/login?{next}")).into_response()
}

/// Query of GET /login.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// GET /login.
pub async fn login_page(
    Shared(state): Shared<State>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    login_form(
        &state,
        &headers,
        StatusCode::OK,
        None,
        query.next.as_deref(),
        "",
    )
}

/// The login form's token: the browser's current one when it has one, so that a second login
/// page (another tab, or the redirect of the browser's own `/favicon.ico` request) does not
/// make the form already shown out of date; a new one otherwise.
fn form_token(headers: &HeaderMap) -> String {
    cookie(headers, LOGIN_COOKIE)
        .filter(|token| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(users::random_token)
}

fn login_form(
    state: &State,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    next: Option<&str>,
    username: &str,
) -> Response {
    let token = form_token(headers);
    let body = html! {
        @if let Some(error) = error {
            p #login-error .error role="alert" { (error) }
        }
        form #login-form method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(local(next));
            label { "User name" input name="username" autocomplete="username" required value=(username); }
            label { "Password" input name="password" type="password" autocomplete="current-password" required; }
            button #login-submit type="submit" { "Log in" }
        }
    };
    let mut response = (status, layout::page("Log in", None, body)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, "/login", 3600),
    );
    response
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// POST /login.
pub async fn login(
    Shared(state): Shared<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !csrf::same(&form.csrf, &expected) {
        return csrf::refused("/login", None);
    }
    let next = form.next.as_deref();
    // The form again, with what went wrong and the name as typed.
    let refuse = |status, message: &str| {
        login_form(
            &state,
            &headers,
            status,
            Some(message),
            next,
            &form.username,
        )
    };
    let keys = [
        format!("addr:{}", peer.ip()),
        format!("user:{}", form.username),
    ];
    if state.limiter.blocked(&keys) {
        let message = "too many failed logins; wait a minute and try again";
        return refuse(StatusCode::TOO_MANY_REQUESTS, message);
    }
    let (name, password) = (form.username.clone(), form.password.clone());
    let checked = state
        .store
        .run(move |conn| users::verify(conn, &name, &password))
        .await;
    let user_id = match checked {
        Ok(Some(id)) => id,
        Ok(None) => {
            state.limiter.failed(&keys);
            tracing::info!(user = %form.username, peer = %peer.ip(), "console login refused");
            let message = "wrong user name or password";
            return refuse(StatusCode::UNAUTHORIZED, message);
        }
        Err(error) => {
            tracing::warn!(%error, "cannot check a console login");
            let message = "PostgreSQL cannot be reached; retry shortly";
            return refuse(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    let minutes = i64::from(state.config.console.session_ttl_minutes.max(1));
    let ttl = chrono::Duration::minutes(minutes);
    let token = match state
        .store
        .run(move |conn| users::start_session(conn, user_id, ttl))
        .await
    {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "cannot start a console session");
            let message = "PostgreSQL cannot be reached; retry shortly";
            return refuse(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    tracing::info!(user = %form.username, "console login");
    let mut response = Redirect::to(local(next)).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, &token, "/", minutes * 60),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_COOKIE, "", "/login", 0),
    );
    response
}

/// POST /logout: deletes the session row, so the cookie opens nothing any more.
pub async fn logout(Shared(state): Shared<State>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, COOKIE) {
        if let Err(error) = state
            .store
            .run(move |conn| users::end_session(conn, &token))
            .await
        {
            tracing::warn!(%error, "cannot end a console session");
            return layout::json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "PostgreSQL cannot be reached; retry",
            );
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, COOKIE, "", "/", 0));
    response
}
