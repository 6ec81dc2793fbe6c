//! Devices seen: the devices routes' query, and the batch write's upsert that keeps them
//! up to date.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};

use super::StoreError;
use super::schema::devices;
use crate::session::write::Write;
use crate::wire::Upload;

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

const UPSERT_DEVICES: &str = "\
INSERT INTO devices AS d (project_id, unit_id, first_seen, last_seen)
SELECT project_id, unit_id, first_seen, last_seen
FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::timestamptz[])
  AS i(project_id, unit_id, first_seen, last_seen)
ON CONFLICT (project_id, unit_id) DO UPDATE SET
  first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)";

/// The first and last receive time of a device within one batch.
type Sighting = (DateTime<Utc>, DateTime<Utc>);

/// Upserts the earliest and latest sighting of each device in the batch: every unit id a
/// create (or an update that sets one) names was seen at its receive time.
pub(super) fn record_devices(
    conn: &mut PgConnection,
    uploads: &[Upload],
    known: &HashSet<i64>,
) -> Result<(), StoreError> {
    // Earliest and latest receive time per device: batching must not move `first_seen`.
    let mut seen: BTreeMap<(i64, &str), Sighting> = BTreeMap::new();
    for upload in uploads.iter().filter(|u| known.contains(&u.project_id)) {
        let unit_id = match &upload.operation {
            Write::Create(session) => Some(&session.unit_id),
            Write::Update(patch) => patch.unit_id.as_ref(),
            _ => None,
        };
        let Some(unit_id) = unit_id else { continue };
        let at = upload.stamp.received();
        seen.entry((upload.project_id, unit_id.as_str()))
            .and_modify(|(first, last)| {
                *first = (*first).min(at);
                *last = (*last).max(at);
            })
            .or_insert((at, at));
    }
    if seen.is_empty() {
        return Ok(());
    }
    let (keys, times): (Vec<_>, Vec<_>) = seen.into_iter().unzip();
    let (projects, units): (Vec<i64>, Vec<&str>) = keys.into_iter().unzip();
    let (firsts, lasts): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) = times.into_iter().unzip();
    diesel::sql_query(UPSERT_DEVICES)
        .bind::<Array<BigInt>, _>(projects)
        .bind::<Array<Text>, _>(units)
        .bind::<Array<Timestamptz>, _>(firsts)
        .bind::<Array<Timestamptz>, _>(lasts)
        .execute(conn)?;
    Ok(())
}
