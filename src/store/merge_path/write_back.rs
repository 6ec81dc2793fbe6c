//! Writing merged rows back: one `UPDATE … FROM unnest(…)` for all of them.
//!
//! A tombstone (a purged session) stays one until a create newer than the purge wins: the
//! row's create stamp changes only then, and that is what lifts it. A stored session whose
//! create stamp changes was replaced (`replaced_at`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use uuid::Uuid;

use super::Row;
use crate::ordering::merge::{Point, State};
use crate::store::StoreError;
use crate::store::stamps::corrupt;

const WRITE_BACK: &str = "\
UPDATE sessions AS s SET
  placeholder = i.placeholder, received = i.received, upload_id = i.upload_id,
  received_from = i.received_from, unit_id = i.unit_id, created = i.created, saved = i.saved,
  is_deleted = i.is_deleted, points = i.points, timezone_offset = i.timezone_offset,
  field_stamps = i.field_stamps, point_stamps = i.point_stamps,
  purged_at = CASE WHEN (s.received, s.upload_id) = (i.received, i.upload_id)
                   THEN s.purged_at END,
  replaced_at = CASE WHEN NOT s.placeholder AND NOT i.placeholder AND s.purged_at IS NULL
                          AND s.upload_id <> i.upload_id
                     THEN i.received ELSE s.replaced_at END
FROM unnest($1::int8[], $2::int8[], $3::bool[], $4::timestamptz[], $5::uuid[], $6::text[],
            $7::text[], $8::timestamptz[], $9::timestamptz[], $10::bool[], $11::jsonb[],
            $12::int4[], $13::jsonb[], $14::jsonb[])
  AS i(project_id, id, placeholder, received, upload_id, received_from, unit_id, created,
       saved, is_deleted, points, timezone_offset, field_stamps, point_stamps)
WHERE s.project_id = i.project_id AND s.id = i.id";

/// The columns of the rows a merge changed, one array each.
#[derive(Default)]
struct RowColumns<'a> {
    project_id: Vec<i64>,
    id: Vec<i64>,
    placeholder: Vec<bool>,
    received: Vec<DateTime<Utc>>,
    upload_id: Vec<Uuid>,
    received_from: Vec<&'a str>,
    unit_id: Vec<&'a str>,
    created: Vec<DateTime<Utc>>,
    saved: Vec<DateTime<Utc>>,
    is_deleted: Vec<bool>,
    points: Vec<serde_json::Value>,
    timezone_offset: Vec<Option<i32>>,
    field_stamps: Vec<serde_json::Value>,
    point_stamps: Vec<serde_json::Value>,
}

impl<'a> RowColumns<'a> {
    fn push(&mut self, row: &Row, state: &'a State) -> Result<(), StoreError> {
        let unix = |seconds: i64| DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        // A placeholder keeps the stamp it was made with; a row with a create shows it.
        let (received, upload_id) = state
            .stamps
            .create
            .map_or((row.stamped.received, row.stamped.upload_id), |order| {
                (order.received(), order.1)
            });
        let text = state
            .points
            .iter()
            .filter_map(|(name, point)| match point {
                Point::Text(text) => Some((name.clone(), serde_json::Value::from(text.as_str()))),
                Point::Stored | Point::New(_) => None,
            })
            .collect();
        let json = |value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|error| corrupt("stamps", error))
        };
        self.project_id.push(row.key.key.project_id);
        self.id.push(row.key.id);
        self.placeholder.push(state.stamps.create.is_none());
        self.received.push(received);
        self.upload_id.push(upload_id);
        self.received_from.push(&state.received_from);
        self.unit_id.push(&state.unit_id);
        self.created.push(unix(state.created));
        self.saved.push(unix(state.saved));
        self.is_deleted.push(state.is_deleted);
        self.points.push(serde_json::Value::Object(text));
        self.timezone_offset.push(state.timezone_offset());
        self.field_stamps
            .push(json(serde_json::to_value(&state.stamps.fields))?);
        self.point_stamps
            .push(json(serde_json::to_value(&state.stamps.points))?);
        Ok(())
    }
}

/// Writes the merged state of every changed row.
pub(super) fn write_back(
    conn: &mut PgConnection,
    merged: &[(&Row, State)],
) -> Result<(), StoreError> {
    if merged.is_empty() {
        return Ok(());
    }
    let mut c = RowColumns::default();
    for (row, state) in merged {
        c.push(row, state)?;
    }
    diesel::sql_query(WRITE_BACK)
        .bind::<Array<BigInt>, _>(c.project_id)
        .bind::<Array<BigInt>, _>(c.id)
        .bind::<Array<Bool>, _>(c.placeholder)
        .bind::<Array<Timestamptz>, _>(c.received)
        .bind::<Array<diesel::sql_types::Uuid>, _>(c.upload_id)
        .bind::<Array<Text>, _>(c.received_from)
        .bind::<Array<Text>, _>(c.unit_id)
        .bind::<Array<Timestamptz>, _>(c.created)
        .bind::<Array<Timestamptz>, _>(c.saved)
        .bind::<Array<Bool>, _>(c.is_deleted)
        .bind::<Array<Jsonb>, _>(c.points)
        .bind::<Array<Nullable<Integer>>, _>(c.timezone_offset)
        .bind::<Array<Jsonb>, _>(c.field_stamps)
        .bind::<Array<Jsonb>, _>(c.point_stamps)
        .execute(conn)?;
    Ok(())
}
