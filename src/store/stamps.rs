//! The stamps of stored sessions: the columns that hold them, and the read behind the
//! front's read-your-write waits (`?wait=stored`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz};
use uuid::Uuid;

use super::StoreError;
use crate::ordering::{Order, Stamps};

/// A stamp column that does not parse: a bug or a hand edit, never a transient failure.
pub(super) fn corrupt(what: &str, error: serde_json::Error) -> StoreError {
    StoreError::Query(DieselError::DeserializationError(
        format!("{what}: {error}").into(),
    ))
}

/// The columns that hold a row's stamps; embedded in every row type that needs them.
#[derive(QueryableByName)]
pub(super) struct StampColumns {
    #[diesel(sql_type = Bool)]
    pub(super) placeholder: bool,
    #[diesel(sql_type = Timestamptz)]
    pub(super) received: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub(super) upload_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    field_stamps: serde_json::Value,
    #[diesel(sql_type = Jsonb)]
    point_stamps: serde_json::Value,
}

impl StampColumns {
    /// The stamps these columns hold (the create order is meaningless for a placeholder).
    pub(super) fn stamps(&self) -> Result<Stamps, StoreError> {
        let create = Order(self.received.timestamp_micros(), self.upload_id);
        Stamps::from_columns(
            self.placeholder,
            create,
            &self.field_stamps,
            &self.point_stamps,
        )
        .map_err(|error| corrupt("stamps", error))
    }
}

#[derive(QueryableByName)]
struct StampRow {
    #[diesel(sql_type = BigInt)]
    project_id: i64,
    #[diesel(sql_type = Text)]
    uuid: String,
    #[diesel(embed)]
    columns: StampColumns,
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
        .map(|row| Ok(((row.project_id, row.uuid), row.columns.stamps()?)))
        .collect()
}
