//! Which upload each session row holds, for checks from outside the pipeline (`intake
//! loadgen --verify` compares them with the uploads it got accepted).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Text};
use uuid::Uuid;

use super::StoreError;

/// The upload a session row holds and what it carried.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct StoredVersion {
    /// Session uuid.
    #[diesel(sql_type = Text)]
    pub uuid: String,
    /// The upload id of the create the row holds.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub upload_id: Uuid,
    /// The stored unit id.
    #[diesel(sql_type = Text)]
    pub unit_id: String,
    /// The stored text points.
    #[diesel(sql_type = Jsonb)]
    pub points: serde_json::Value,
}

const SELECT_VERSIONS: &str = "\
SELECT s.uuid, s.upload_id, s.unit_id, s.points FROM sessions s
WHERE (s.project_id, s.uuid) IN (SELECT * FROM unnest($1::int8[], $2::text[]))";

/// The rows of the given uuids of one project that exist, in one query.
pub fn load_versions(
    conn: &mut PgConnection,
    project_id: i64,
    uuids: &[String],
) -> Result<Vec<StoredVersion>, StoreError> {
    Ok(diesel::sql_query(SELECT_VERSIONS)
        .bind::<Array<BigInt>, _>(vec![project_id; uuids.len()])
        .bind::<Array<Text>, _>(uuids)
        .load(conn)?)
}
