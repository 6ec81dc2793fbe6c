//! `GET /api/v1/devices` and `GET …/projects/{pid}/devices`: the devices seen, updated by the
//! consumer as sessions arrive.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, success};
use super::params;
use super::target::ProjectRead;
use crate::store::devices::{Device, load_devices};
use crate::view::{FirstSeen, LastSeen, Time};

/// A device in a response: times as RFC 3339 beside unix seconds, like sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// The project the device sent to.
    pub project_id: i64,
    /// The device's unit id.
    pub unit_id: String,
    /// Receive time of its first session.
    #[serde(flatten)]
    pub first_seen: Time<FirstSeen>,
    /// Receive time of its latest session.
    #[serde(flatten)]
    pub last_seen: Time<LastSeen>,
}

impl From<Device> for DeviceView {
    fn from(device: Device) -> Self {
        Self {
            project_id: device.project_id,
            unit_id: device.unit_id,
            first_seen: Time::at(device.first_seen),
            last_seen: Time::at(device.last_seen),
        }
    }
}

/// The devices of every project the user is granted, most recently seen first.
pub async fn all_devices(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, projects) = state.auth.granted_projects(&headers, params::now())?;
    respond(&state, projects).await
}

/// The devices of one project, most recently seen first.
pub async fn project_devices(
    State(state): State<AppState>,
    ProjectRead { project_id, .. }: ProjectRead,
) -> Result<Response, ApiError> {
    respond(&state, vec![project_id]).await
}

async fn respond(state: &AppState, projects: Vec<i64>) -> Result<Response, ApiError> {
    let devices = if projects.is_empty() {
        Vec::new()
    } else {
        state
            .reads
            .run(move |conn| load_devices(conn, &projects))
            .await?
    };
    let views: Vec<DeviceView> = devices.into_iter().map(DeviceView::from).collect();
    Ok(success(StatusCode::OK, views, None))
}
