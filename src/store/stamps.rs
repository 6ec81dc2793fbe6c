//! The stamps of sessions, read for the front's read-your-write waits (`?wait=stored`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz};
use uuid::Uuid;

use super::StoreError;
use super::ops::corrupt;
use crate::ordering::Order;
use crate::ordering::Stamps;

#[derive(QueryableByName)]
struct StampRow {
    #[diesel(sql_type = BigInt)]
    project_id: i64,
    #[diesel(sql_type = Text)]
    uuid: String,
    #[diesel(sql_type = Bool)]
    placeholder: bool,
    #[diesel(sql_type = Timestamptz)]
    received: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    upload_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    field_stamps: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    point_stamps: serde_json::Value,
}

/// A session key: project id and uuid.
pub type SessionKey = (i64, String);

/// The stamps of the given sessions that have a row (placeholders included), in one query.
pub fn load_stamps(
    conn: &mut PgConnection,
    keys: &[SessionKey],
) -> Result<Vec<(SessionKey, Stamps)>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (projects, uuids): (Vec<i64>, Vec<&str>) =
        keys.iter().map(|(p, u)| (*p, u.as_str())).unzip();
    let rows: Vec<StampRow> = diesel::sql_query(
        "SELECT s.project_id, s.uuid, s.placeholder, s.received, s.upload_id, s.field_stamps,
                s.point_stamps
         FROM sessions AS s
         JOIN unnest($1::int8[], $2::text[]) AS k(project_id, uuid)
           ON s.project_id = k.project_id AND s.uuid = k.uuid",
    )
    .bind::<Array<BigInt>, _>(projects)
    .bind::<Array<Text>, _>(uuids)
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let create = Order(row.received.timestamp_micros(), row.upload_id);
            let stamps = Stamps::from_columns(
                row.placeholder,
                create,
                &row.field_stamps,
                &row.point_stamps,
            )
            .map_err(|error| corrupt("stamps", error))?;
            Ok(((row.project_id, row.uuid), stamps))
        })
        .collect()
}
