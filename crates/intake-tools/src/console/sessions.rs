//! GET /sessions (pick or recall a project) and GET /projects/{id}/sessions: a project's
//! sessions newest first, filtered, 50 a page with a keyset cursor, and a search by uuid.

use axum::Extension;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;

use super::fields::given;
pub use super::sessions_params::urlencode;
use super::sessions_params::{ListQuery, filters, next_url};

use super::sessions_query;
use super::users::Operator;
use super::{State, auth, layout};
use intake::store::accounts;

/// The cookie that remembers the last project looked at.
const PROJECT_COOKIE: &str = "intake_console_project";

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
                            td .time { (layout::time(row.received)) }
                            td .time { (layout::time(row.saved)) }
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
