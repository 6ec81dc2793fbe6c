//! GET /devices?project_id=&silent_minutes=: the devices of one project (or all), when each
//! was last seen, how many sessions it has, and which have been silent too long.

use axum::Extension;
use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use chrono::Utc;
use intake::store::{accounts, devices};
use maud::html;
use serde::Deserialize;

use super::fields;
use super::sessions_query;
use super::users::Operator;
use super::{State, layout};

/// Minutes without a session after which a device counts as silent, unless asked otherwise.
const SILENT_MINUTES: i64 = 60;

/// The query.
#[derive(Debug, Deserialize)]
pub struct DevicesQuery {
    project_id: Option<String>,
    silent_minutes: Option<String>,
}

/// GET the page.
pub async fn page(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Query(query): Query<DevicesQuery>,
) -> Response {
    let project = match fields::project_id(&query.project_id) {
        Ok(id) => id,
        Err(message) => return layout::error_page(StatusCode::BAD_REQUEST, &operator, message),
    };
    let silent_minutes = match fields::given(&query.silent_minutes).map(str::parse::<i64>) {
        None => SILENT_MINUTES,
        Some(Ok(minutes)) if (0..=5_256_000).contains(&minutes) => minutes,
        Some(_) => {
            return layout::error_page(
                StatusCode::BAD_REQUEST,
                &operator,
                "silent_minutes: a number of minutes from 0",
            );
        }
    };
    let loaded = state
        .store
        .run(move |conn| {
            let projects = accounts::list_projects(conn)?;
            let ids: Vec<i64> = match project {
                Some(id) => vec![id],
                None => projects.iter().map(|p| p.id).collect(),
            };
            let devices = devices::load_devices(conn, &ids)?;
            let counts = sessions_query::device_counts(conn, &ids)?;
            Ok((projects, devices, counts))
        })
        .await;
    let (projects, devices, counts) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &operator,
                &error.to_string(),
            );
        }
    };
    let cutoff = Utc::now() - chrono::Duration::minutes(silent_minutes);
    let silent_count = devices.iter().filter(|d| d.last_seen < cutoff).count();
    let body = html! {
        section {
            form #device-filters method="get" action="/devices" .filters {
                label { "Project"
                    select name="project_id" {
                        option value="" selected[project.is_none()] { "all" }
                        @for p in &projects {
                            option value=(p.id) selected[project == Some(p.id)] { (p.id) " · " (p.name) }
                        }
                    }
                }
                label { "Silent after (minutes)" input name="silent_minutes" type="number" min="0" value=(silent_minutes); }
                button #apply-device-filters type="submit" { "Show" }
            }
        }
        p #device-count { (devices.len()) " devices, " (silent_count) " silent for more than " (silent_minutes) " minutes" }
        div .table-wrap {
            table #devices {
                thead { tr { th { "Project" } th { "Device" } th { "Last seen" } th { "First seen" } th { "Sessions" } th { "State" } } }
                tbody {
                    @for device in &devices {
                        @let silent = device.last_seen < cutoff;
                        @let count = counts.get(&(device.project_id, device.unit_id.clone())).copied().unwrap_or(0);
                        tr data-unit-id=(device.unit_id) data-project=(device.project_id) class=[silent.then_some("silent")] {
                            td .project { (device.project_id) }
                            td .unit-id {
                                a href=(format!("/projects/{}/sessions?unit_id={}", device.project_id, super::sessions::urlencode(&device.unit_id))) { (device.unit_id) }
                            }
                            td .last-seen { (layout::time(device.last_seen)) }
                            td .first-seen { (layout::time(device.first_seen)) }
                            td .session-count { (count) }
                            td .state { @if silent { "silent" } @else { "active" } }
                        }
                    }
                }
            }
        }
    };
    layout::page("Devices", Some(&operator), body).into_response()
}
