//! GET /dead-letters: the dead letters (collected from their queue as `intake dlq` does),
//! filtered, with requeue and purge forms; GET /dead-letters/{upload_id}: one decoded.

use axum::Extension;
use axum::extract::{Path, Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::fields::{self, given};
use super::users::Operator;
use super::{State, layout};
use crate::dlq::{self, DlqEntry};

/// Most dead letters one page lists.
const SHOWN: usize = 1000;

/// The list's query: its filter, and what the last action did.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    reason_contains: Option<String>,
    project_id: Option<String>,
    requeued: Option<u64>,
    purged: Option<u64>,
    failed: Option<u64>,
    /// Sent along by the filter form's Show button; dropped from the address at once.
    csrf: Option<String>,
}

/// Whether `entry` passes the filter (the same test `intake dlq` applies).
pub fn matches(entry: &DlqEntry, reason_contains: Option<&str>, project_id: Option<i64>) -> bool {
    reason_contains.is_none_or(|text| entry.reason.as_deref().is_some_and(|r| r.contains(text)))
        && project_id.is_none_or(|id| entry.project_id == Some(id))
}

/// One entry's cells, shared with the confirm page.
pub fn cells(entry: &DlqEntry) -> Markup {
    let dash = || "–".to_owned();
    html! {
        td .upload-id .mono { (entry.upload_id.clone().unwrap_or_else(dash)) }
        td .project { (entry.project_id.map_or_else(dash, |p| p.to_string())) }
        td .uuid { (entry.uuid.clone().unwrap_or_else(dash)) }
        td .reason { (entry.reason.clone().unwrap_or_else(dash)) }
        td .age { (entry.age_seconds.map_or_else(dash, |a| format!("{a} s"))) }
    }
}

/// GET /dead-letters.
pub async fn page(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Query(query): Query<ListQuery>,
) -> Response {
    let project_id = match fields::project_id(&query.project_id) {
        Ok(id) => id,
        Err(message) => return layout::error_page(StatusCode::BAD_REQUEST, &operator, message),
    };
    let reason = given(&query.reason_contains);
    if query.csrf.is_some() {
        // The filter form carries the CSRF field for its POST buttons; keep it out of the
        // address bar and the history.
        let mut url = form_urlencoded::Serializer::new(String::new());
        if let Some(reason) = reason {
            url.append_pair("reason_contains", reason);
        }
        if let Some(project_id) = project_id {
            url.append_pair("project_id", &project_id.to_string());
        }
        return Redirect::to(&format!("/dead-letters?{}", url.finish())).into_response();
    }
    let entries = match dlq::list(&state.config, SHOWN).await {
        Ok(entries) => entries,
        Err(error) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &operator,
                &error.to_string(),
            );
        }
    };
    let shown: Vec<&DlqEntry> = entries
        .iter()
        .filter(|e| matches(e, reason, project_id))
        .collect();
    let flash = match (query.requeued, query.purged) {
        (Some(n), _) => Some(format!("{n} dead letters requeued")),
        (None, Some(n)) => Some(format!("{n} dead letters purged")),
        (None, None) => None,
    };
    let body = html! {
        @if let Some(flash) = flash {
            p #flash .flash role="status" {
                (flash)
                @if let Some(failed) = query.failed.filter(|n| *n > 0) { "; " (failed) " could not be requeued and stay" }
            }
        }
        section {
            form #dead-letter-filter method="post" action="/dead-letters/requeue/confirm" .filters {
                (layout::csrf_input(&operator))
                label { "Reason contains" input name="reason_contains" value=[reason]; }
                label { "Project id" input name="project_id" inputmode="numeric" value=[project_id]; }
                button #show-matching type="submit" formmethod="get" formaction="/dead-letters" .secondary { "Show" }
                button #requeue-matching type="submit" formaction="/dead-letters/requeue/confirm" { "Requeue matching…" }
                button #purge-matching type="submit" formaction="/dead-letters/purge/confirm" .danger { "Purge matching…" }
            }
        }
        p #dead-letter-count { (shown.len()) " of " (entries.len()) " dead letters shown" }
        div .table-wrap {
            table #dead-letters {
                thead { tr { th { "Upload" } th { "Project" } th { "Session" } th { "Reason" } th { "Age" } th { "" } } }
                tbody {
                    @for entry in &shown {
                        @let upload_id = entry.upload_id.clone().unwrap_or_default();
                        tr data-upload-id=(upload_id) {
                            (cells(entry))
                            td .actions {
                                a .show-message href=(format!("/dead-letters/{}", super::sessions::urlencode(&upload_id))) { "show" }
                                form .requeue-one .inline-form method="post" action="/dead-letters/requeue/confirm" {
                                    (layout::csrf_input(&operator))
                                    input type="hidden" name="upload_id" value=(upload_id);
                                    button .requeue type="submit" { "Requeue…" }
                                }
                                form .purge-one .inline-form method="post" action="/dead-letters/purge/confirm" {
                                    (layout::csrf_input(&operator))
                                    input type="hidden" name="upload_id" value=(upload_id);
                                    button .purge .danger type="submit" { "Purge…" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Dead letters", Some(&operator), body).into_response()
}

/// GET /dead-letters/{upload_id}: the message decoded, as `intake dlq show` prints it.
pub async fn show(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Path(upload_id): Path<String>,
) -> Response {
    match dlq::show(&state.config, &upload_id, None).await {
        Ok(Some(message)) => {
            let body = html! {
                p { a href="/dead-letters" { "← dead letters" } }
                pre #message-decoded { (message.to_string()) }
            };
            layout::page("Dead letter", Some(&operator), body).into_response()
        }
        Ok(None) => layout::error_page(
            StatusCode::NOT_FOUND,
            &operator,
            &format!("no dead letter with upload id {upload_id:?}"),
        ),
        Err(error) => layout::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &operator,
            &error.to_string(),
        ),
    }
}
