//! Inserting attachment rows, set-based: both write paths collect their new binary points
//! into columns and insert them with one statement.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Binary, Bool, Nullable, Text};
use sha2::{Digest as _, Sha256};

use super::StoreError;
use crate::session::PointValue;

const INSERT_ATTACHMENTS: &str = "\
INSERT INTO attachments (project_id, session_id, point, embedded, filename, content_type, size,
                         md5, sha256, bytes)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::bool[], $5::text[], $6::text[],
                     $7::int8[], $8::bytea[], $9::bytea[], $10::bytea[])";

/// New attachment rows, one array per column.
#[derive(Default)]
pub(super) struct AttachmentColumns<'a> {
    project_id: Vec<i64>,
    session_id: Vec<i64>,
    point: Vec<&'a str>,
    embedded: Vec<bool>,
    filename: Vec<Option<&'a str>>,
    content_type: Vec<&'a str>,
    size: Vec<i64>,
    md5: Vec<Vec<u8>>,
    sha256: Vec<Vec<u8>>,
    bytes: Vec<&'a [u8]>,
}

impl<'a> AttachmentColumns<'a> {
    /// Adds a binary point (an embedded `rawData` or a file) of the session row
    /// `(project id, id)`; text points are skipped.
    pub(super) fn push(
        &mut self,
        (project_id, session_id): (i64, i64),
        point: &'a str,
        value: &'a PointValue,
    ) {
        let Some(attachment) = value.attachment() else {
            return;
        };
        self.project_id.push(project_id);
        self.session_id.push(session_id);
        self.point.push(point);
        self.embedded.push(attachment.embedded);
        self.filename.push(attachment.filename);
        self.content_type.push(attachment.content_type);
        self.size
            .push(i64::try_from(attachment.bytes.len()).unwrap_or(i64::MAX));
        self.md5.push(attachment.md5().to_vec());
        self.sha256.push(Sha256::digest(attachment.bytes).to_vec());
        self.bytes.push(attachment.bytes);
    }
}

/// Inserts the collected rows (nothing to do for none).
pub(super) fn insert_attachments(
    conn: &mut PgConnection,
    columns: AttachmentColumns<'_>,
) -> Result<(), StoreError> {
    if columns.session_id.is_empty() {
        return Ok(());
    }
    diesel::sql_query(INSERT_ATTACHMENTS)
        .bind::<Array<BigInt>, _>(columns.project_id)
        .bind::<Array<BigInt>, _>(columns.session_id)
        .bind::<Array<Text>, _>(columns.point)
        .bind::<Array<Bool>, _>(columns.embedded)
        .bind::<Array<Nullable<Text>>, _>(columns.filename)
        .bind::<Array<Text>, _>(columns.content_type)
        .bind::<Array<BigInt>, _>(columns.size)
        .bind::<Array<Binary>, _>(columns.md5)
        .bind::<Array<Binary>, _>(columns.sha256)
        .bind::<Array<Binary>, _>(columns.bytes)
        .execute(conn)?;
    Ok(())
}
