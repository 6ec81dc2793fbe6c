//! The bytes of the file attachments of a page of sessions, for the export that inlines them.

use diesel::prelude::*;

use super::session_of_attachment;
use crate::store::StoreError;
use crate::store::schema::{attachments, sessions};

/// `(session uuid, point, bytes)` of every file attachment (not embedded `rawData`, which a
/// view already holds) of the given sessions of a project.
pub fn file_bytes(
    conn: &mut PgConnection,
    project_id: i64,
    uuids: &[String],
) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
    Ok(attachments::table
        .inner_join(sessions::table.on(session_of_attachment()))
        .filter(attachments::project_id.eq(project_id))
        .filter(sessions::project_id.eq(project_id))
        .filter(sessions::uuid.eq_any(uuids))
        .filter(attachments::embedded.eq(false))
        .select((sessions::uuid, attachments::point, attachments::bytes))
        .load(conn)?)
}
