//! The devices routes' query: devices seen, kept up to date by the consumer's batches.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::StoreError;
use super::schema::devices;

/// A device of a project, as the devices routes show it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Device {
    /// The project it sent to.
    pub project_id: i64,
    /// The device's unit id.
    pub unit_id: String,
    /// Receive time of its first session.
    pub first_seen: DateTime<Utc>,
    /// Receive time of its latest session.
    pub last_seen: DateTime<Utc>,
}

/// The devices of the given projects, most recently seen first.
pub fn load_devices(conn: &mut PgConnection, projects: &[i64]) -> Result<Vec<Device>, StoreError> {
    Ok(devices::table
        .filter(devices::project_id.eq_any(projects))
        .select((
            devices::project_id,
            devices::unit_id,
            devices::first_seen,
            devices::last_seen,
        ))
        .order_by((
            devices::last_seen.desc(),
            devices::project_id,
            devices::unit_id,
        ))
        .load(conn)?)
}
