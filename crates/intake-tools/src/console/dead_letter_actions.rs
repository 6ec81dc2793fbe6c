//! Requeue and purge, one dead letter or every one a filter matches: POST …/confirm lists
//! what would be affected (a dry run of `intake dlq`), and POST /dead-letters/{action}
//! does it through the same code, then back to the list with how many.

use axum::Extension;
use axum::extract::{Form, Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::dead_letters::cells;
use super::fields::{self, given};
use super::users::Operator;
use super::{State, layout};
use crate::dlq::{self, Filter};

/// The fields of the action forms.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    upload_id: Option<String>,
    reason_contains: Option<String>,
    project_id: Option<String>,
}

/// The `intake dlq` filter of a form: no criterion at all means every dead letter (the
/// confirm page lists them before anything happens).
fn filter(form: &ActionForm) -> Result<Filter, &'static str> {
    let owned = |value: &Option<String>| given(value).map(str::to_owned);
    let mut filter = Filter {
        all: false,
        upload_id: owned(&form.upload_id),
        reason_contains: owned(&form.reason_contains),
        project_id: fields::project_id(&form.project_id)?,
    };
    filter.all = filter.is_empty();
    Ok(filter)
}

fn requeueing(action: &str) -> Option<bool> {
    match action {
        "requeue" => Some(true),
        "purge" => Some(false),
        _ => None,
    }
}

async fn run(
    state: &State,
    requeue: bool,
    filter: &Filter,
    dry_run: bool,
) -> Result<dlq::DlqActionReport, crate::ToolError> {
    if requeue {
        dlq::requeue(&state.config, filter, dry_run).await
    } else {
        dlq::purge(&state.config, filter, dry_run).await
    }
}

/// The action named in the path, the form's filter, and what running it (or, with `dry_run`,
/// only matching) finds; an error page when any of them fails.
async fn prepare(
    state: &State,
    operator: &Operator,
    action: &str,
    form: &ActionForm,
    dry_run: bool,
) -> Result<(bool, Filter, dlq::DlqActionReport), Response> {
    let Some(requeue) = requeueing(action) else {
        return Err(layout::error_page(
            StatusCode::NOT_FOUND,
            operator,
            "no such action",
        ));
    };
    let filter = filter(form)
        .map_err(|message| layout::error_page(StatusCode::BAD_REQUEST, operator, message))?;
    let report = run(state, requeue, &filter, dry_run)
        .await
        .map_err(|error| {
            layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                operator,
                &error.to_string(),
            )
        })?;
    Ok((requeue, filter, report))
}

/// POST /dead-letters/{action}/confirm.
pub async fn confirm(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let (requeue, filter, report) = match prepare(&state, &operator, &action, &form, true).await {
        Ok(prepared) => prepared,
        Err(refused) => return refused,
    };
    let verb = if requeue { "Requeue" } else { "Purge" };
    let body = html! {
        p {
            (verb) " " strong { (report.entries.len()) } " dead letters"
            @if filter.all { " (every one: no filter was given)" }
            @if requeue { "? They go back to the consumers." } @else { "? They are deleted for good." }
        }
        div .table-wrap {
            table #confirm-list {
                thead { tr { th { "Upload" } th { "Project" } th { "Session" } th { "Reason" } th { "Age" } } }
                tbody {
                    @for entry in &report.entries {
                        tr data-upload-id=(entry.upload_id.clone().unwrap_or_default()) { (cells(entry)) }
                    }
                }
            }
        }
        form #confirm-form method="post" action=(format!("/dead-letters/{action}")) .filters {
            (layout::csrf_input(&operator))
            @if let Some(id) = &filter.upload_id { input type="hidden" name="upload_id" value=(id); }
            @if let Some(reason) = &filter.reason_contains { input type="hidden" name="reason_contains" value=(reason); }
            @if let Some(project) = filter.project_id { input type="hidden" name="project_id" value=(project); }
            button #confirm type="submit" class=[(!requeue).then_some("danger")] { (verb) }
            a #cancel href="/dead-letters" { "Cancel" }
        }
    };
    layout::page(&format!("{verb} dead letters"), Some(&operator), body).into_response()
}

/// POST /dead-letters/{action}.
pub async fn act(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Path(action): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let (requeue, _, report) = match prepare(&state, &operator, &action, &form, false).await {
        Ok(prepared) => prepared,
        Err(refused) => return refused,
    };
    tracing::info!(
        user = %operator.name,
        action = %report.action,
        done = report.done,
        failed = report.failures.len(),
        "dead letters changed from the console"
    );
    let done = if requeue { "requeued" } else { "purged" };
    let mut url = format!("/dead-letters?{done}={}", report.done);
    if !report.failures.is_empty() {
        url.push_str(&format!("&failed={}", report.failures.len()));
    }
    Redirect::to(&url).into_response()
}
