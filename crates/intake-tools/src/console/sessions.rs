//! GET /sessions (pick or recall a project) and GET /projects/{id}/sessions: a project's
//! sessions newest first, filtered, 50 a page with a keyset cursor, and a search by uuid.

use axum::Extension;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::html;
use serde::Deserialize;

use super::sessions_query::{self, Cursor, Deleted, Filters};
use super::users::Operator;
use super::{State, auth, layout};
use intake::store::accounts;

/// The cookie that remembers the last project looked at.
const PROJECT_COOKIE: &str = "intake_console_project";
/// Rows a page shows unless `page_size` says otherwise.
const PAGE_SIZE: i64 = 50;

/// Query of GET /sessions.
#[derive(Debug, Deserialize)]
pub struct ChooseQuery {
    project_id: Option<String>,
    /// Show the choice even when a project is remembered.
    choose: Option<String>,
}

/// GET /sessions: to the project asked for, else the one remembered, else a choice.
pub async fn choose_project(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    headers: HeaderMap,
    Query(query): Query<ChooseQuery>,
) -> Response {
    let wanted = query.project_id.filter(|id| !id.is_empty()).or_else(|| {
        query
            .choose
            .is_none()
            .then(|| auth::cookie(&headers, PROJECT_COOKIE))
            .flatten()
    });
    if let Some(id) = wanted.and_then(|id| id.trim().parse::<i64>().ok()) {
        return Redirect::to(&format!("/projects/{id}/sessions")).into_response();
    }
    let projects = match state.store.run(accounts::list_projects).await {
        Ok(projects) => projects,
        Err(error) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &operator,
                &error.to_string(),
            );
        }
    };
    let body = html! {
        section {
            form #choose-project method="get" action="/sessions" .filters {
                label { "Project"
                    select name="project_id" {
                        @for project in &projects {
                            option value=(project.id) { (project.id) " · " (project.name) }
                        }
                    }
                }
                button type="submit" { "Show sessions" }
            }
            @if projects.is_empty() { p { "No project yet (intake project create NAME)." } }
        }
    };
    layout::page("Sessions", Some(&operator), body).into_response()
}

/// Query of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    unit_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    deleted: Option<String>,
    after: Option<String>,
    uuid: Option<String>,
    page_size: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// RFC 3339, or a `datetime-local` value (taken as UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// A filter that does not parse: the field and why.
type Bad = (&'static str, &'static str);

fn filters(query: &ListQuery) -> Result<(Filters, Option<Cursor>, i64), Bad> {
    let time = |field: &'static str,
                value: &Option<String>|
     -> Result<Option<DateTime<Utc>>, Bad> {
        given(value)
            .map(|text| parse_time(text).ok_or((field, "not an RFC 3339 or datetime-local time")))
            .transpose()
    };
    let deleted = match given(&query.deleted) {
        None => Deleted::Exclude,
        Some("include") => Deleted::Include,
        Some("only") => Deleted::Only,
        Some(_) => return Err(("deleted", "must be include, only or empty")),
    };
    let after = given(&query.after)
        .map(|text| Cursor::decode(text).ok_or(("after", "not a page cursor")))
        .transpose()?;
    let size = match given(&query.page_size) {
        None => PAGE_SIZE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or(("page_size", "must be 1 to 500"))?,
    };
    let filters = Filters {
        unit_id: given(&query.unit_id).map(str::to_owned),
        since: time("since", &query.since)?,
        until: time("until", &query.until)?,
        deleted,
    };
    Ok((filters, after, size))
}

/// The list's URL with these filters and `after`.
fn next_url(project_id: i64, query: &ListQuery, after: &Cursor) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("unit_id", &query.unit_id),
        ("since", &query.since),
        ("until", &query.until),
        ("deleted", &query.deleted),
        ("page_size", &query.page_size),
    ] {
        if let Some(value) = given(value) {
            url.append_pair(name, value);
        }
    }
    url.append_pair("after", &after.encode());
    format!("/projects/{project_id}/sessions?{}", url.finish())
}

/// GET /projects/{project_id}/sessions.
pub async fn page(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Path(project_id): Path<i64>,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Some(uuid) = given(&query.uuid).map(str::to_owned) {
        return search(&state, &operator, project_id, uuid).await;
    }
    let (filters, after, size) = match filters(&query) {
        Ok(parsed) => parsed,
        Err((field, why)) => {
            let message = format!("{field}: {why}");
            return layout::error_page(StatusCode::BAD_REQUEST, &operator, &message);
        }
    };
    let read = {
        let filters = filters.clone();
        state
            .store
            .run(move |conn| {
                let project = accounts::list_projects(conn)?
                    .into_iter()
                    .find(|p| p.id == project_id);
                let count = sessions_query::count(conn, project_id, &filters)?;
                let page = sessions_query::page(conn, project_id, &filters, after, size)?;
                Ok((project, count, page))
            })
            .await
    };
    let (project, count, (rows, next)) = match read {
        Ok(read) => read,
        Err(error) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &operator,
                &error.to_string(),
            );
        }
    };
    let Some(project) = project else {
        return layout::error_page(
            StatusCode::NOT_FOUND,
            &operator,
            &format!("no project with id {project_id}"),
        );
    };
    let time_value =
        |at: Option<DateTime<Utc>>| at.map(|at| at.format("%Y-%m-%dT%H:%M:%S").to_string());
    let deleted = given(&query.deleted).unwrap_or("");
    let body = html! {
        p { "Project " strong { (project.id) " · " (project.name) } " · " a href="/sessions?choose=1" { "another project" } }
        section {
            form #uuid-search method="get" .filters {
                label { "Session uuid" input name="uuid" required; }
                button type="submit" { "Find" }
            }
            form #session-filters method="get" .filters {
                label { "Device (unit id)" input name="unit_id" value=[filters.unit_id.as_deref()]; }
                label { "Accepted since (UTC)" input name="since" type="datetime-local" step="1" value=[time_value(filters.since)]; }
                label { "until (UTC)" input name="until" type="datetime-local" step="1" value=[time_value(filters.until)]; }
                label { "Deleted"
                    select name="deleted" {
                        option value="" selected[deleted.is_empty()] { "hide" }
                        option value="include" selected[deleted == "include"] { "include" }
                        option value="only" selected[deleted == "only"] { "only" }
                    }
                }
                @if let Some(size) = given(&query.page_size) { input type="hidden" name="page_size" value=(size); }
                button #apply-filters type="submit" { "Apply" }
            }
        }
        p #session-count { (count) " sessions match" }
        div .table-wrap {
            table #sessions {
                thead { tr { th { "Session" } th { "Device" } th { "Accepted" } th { "Saved" } th { "State" } } }
                tbody {
                    @for row in &rows {
                        tr data-uuid=(row.uuid) {
                            td .uuid { a .session-link href=(format!("/projects/{project_id}/sessions/{}", urlencode(&row.uuid))) { (row.uuid) } }
                            td { (row.unit_id) }
                            td { (layout::time(row.received)) }
                            td { (layout::time(row.saved)) }
                            td { @if row.is_deleted { "deleted" } @else { "live" } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a #next-page href=(next_url(project_id, &query, &next)) { "Next page →" } }
        }
    };
    let mut response = layout::page("Sessions", Some(&operator), body).into_response();
    remember(&state, &mut response, project_id);
    response
}

/// Remembers the project for the nav's Sessions link.
fn remember(state: &State, response: &mut Response, project_id: i64) {
    let secure = if state.config.console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{PROJECT_COOKIE}={project_id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=31536000{secure}"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment, percent-encoded.
pub fn urlencode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

async fn search(state: &State, operator: &Operator, project_id: i64, uuid: String) -> Response {
    let wanted = uuid.clone();
    let found = state
        .store
        .run(move |conn| sessions_query::facts(conn, project_id, &wanted))
        .await;
    match found {
        Ok(Some(_)) => Redirect::to(&format!(
            "/projects/{project_id}/sessions/{}",
            urlencode(&uuid)
        ))
        .into_response(),
        Ok(None) => {
            let body = html! {
                p #not-found .error { "No session " code { (uuid) } " in project " (project_id) "." }
                p { a href=(format!("/projects/{project_id}/sessions")) { "Back to the list" } }
            };
            (
                StatusCode::NOT_FOUND,
                layout::page("Not found", Some(operator), body),
            )
                .into_response()
        }
        Err(error) => layout::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            operator,
            &error.to_string(),
        ),
    }
}
