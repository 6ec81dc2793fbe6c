//! The `dead_letters` table: one connection held for a whole `intake dlq` run (it holds the
//! advisory lock), the rows it inserts, and the queries behind list, show, requeue and purge.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use lapin::BasicProperties;

use crate::ToolError;
use crate::dlq_entry::{DlqEntry, Filter};
use intake::config::DatabaseConfig;
use intake::store::schema::dead_letters;
use intake::store::{Conn, Store};

/// A dead letter as collected from the queue.
#[derive(Debug, Insertable)]
#[diesel(table_name = dead_letters)]
pub(super) struct NewDeadLetter {
    pub dead_letter_id: String,
    pub upload_id: Option<String>,
    pub project_id: Option<i64>,
    pub session_uuid: Option<String>,
    pub reason: Option<String>,
    pub headers: serde_json::Value,
    pub properties: serde_json::Value,
    pub body: Vec<u8>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub dead_lettered_at: Option<DateTime<Utc>>,
}

/// What a listing reads of a dead letter: everything but the message itself, and its size.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = dead_letters, check_for_backend(Pg))]
struct EntryRow {
    id: i64,
    upload_id: Option<String>,
    reason: Option<String>,
    project_id: Option<i64>,
    session_uuid: Option<String>,
    accepted_at: Option<DateTime<Utc>>,
    dead_lettered_at: Option<DateTime<Utc>>,
    #[diesel(
        select_expression = sql::<Integer>("octet_length(body)"),
        select_expression_type = SqlLiteral<Integer>
    )]
    size: i32,
}

fn entry(row: EntryRow) -> DlqEntry {
    let now = Utc::now();
    let accepted = row.accepted_at;
    DlqEntry {
        id: row.id,
        upload_id: row.upload_id,
        reason: row.reason,
        project_id: row.project_id,
        uuid: row.session_uuid,
        timestamp: accepted.and_then(|at| u64::try_from(at.timestamp()).ok()),
        age_seconds: accepted.map(|at| (now - at).num_seconds()),
        dead_lettered_at: row
            .dead_lettered_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        size_bytes: usize::try_from(row.size).unwrap_or(0),
    }
}

/// `%`, `_` and `\` taken literally in a LIKE pattern.
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

fn matching(filter: &Filter) -> dead_letters::BoxedQuery<'static, Pg> {
    let mut query = dead_letters::table.into_boxed();
    if let Some(id) = &filter.upload_id {
        query = query.filter(dead_letters::upload_id.eq(id.clone()));
    }
    if let Some(text) = &filter.reason_contains {
        query = query.filter(dead_letters::reason.like(like_literal(text)));
    }
    if let Some(project) = filter.project_id {
        query = query.filter(dead_letters::project_id.eq(project));
    }
    query
}

/// The connection a run holds.
pub(super) struct Db(Option<Conn>);

impl Db {
    /// Connects, refusing an unmigrated database.
    pub(super) async fn connect(config: &DatabaseConfig) -> Result<Self, ToolError> {
        let store = Store::new(config);
        let conn = tokio::task::spawn_blocking(move || {
            store.ensure_migrated()?;
            store.conn()
        })
        .await
        .map_err(|error| ToolError::Task(error.to_string()))?
        .map_err(|error| ToolError::Database(error.to_string()))?;
        Ok(Self(Some(conn)))
    }

    /// Runs blocking database work off the async runtime.
    pub(super) async fn run<T, F>(&mut self, work: F) -> Result<T, ToolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
    {
        let mut conn = self
            .0
            .take()
            .ok_or_else(|| ToolError::Database("the connection was lost".into()))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = work(&mut conn);
            (conn, result)
        })
        .await
        .map_err(|error| ToolError::Task(error.to_string()))?;
        self.0 = Some(conn);
        result.map_err(|error| ToolError::Database(error.to_string()))
    }

    /// Records collected dead letters; one already recorded is skipped.
    pub(super) async fn insert(&mut self, rows: Vec<NewDeadLetter>) -> Result<(), ToolError> {
        self.run(move |conn| {
            diesel::insert_into(dead_letters::table)
                .values(&rows)
                .on_conflict(dead_letters::dead_letter_id)
                .do_nothing()
                .execute(conn)
        })
        .await?;
        Ok(())
    }

    /// How many dead letters there are.
    pub(super) async fn count(&mut self) -> Result<u64, ToolError> {
        let count = self
            .run(|conn| dead_letters::table.count().get_result::<i64>(conn))
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The dead letters `filter` takes (every one for an empty filter), oldest first.
    pub(super) async fn entries(
        &mut self,
        filter: &Filter,
        limit: Option<usize>,
    ) -> Result<Vec<DlqEntry>, ToolError> {
        let mut query = matching(filter)
            .select(EntryRow::as_select())
            .order(dead_letters::id);
        if let Some(limit) = limit {
            query = query.limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let rows = self.run(move |conn| query.load::<EntryRow>(conn)).await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// One dead letter's AMQP properties and body.
    pub(super) async fn message(
        &mut self,
        id: i64,
    ) -> Result<Option<(BasicProperties, Vec<u8>)>, ToolError> {
        let row = self
            .run(move |conn| {
                dead_letters::table
                    .find(id)
                    .select((dead_letters::properties, dead_letters::body))
                    .first::<(serde_json::Value, Vec<u8>)>(conn)
                    .optional()
            })
            .await?;
        row.map(|(properties, body)| {
            let properties = serde_json::from_value(properties).map_err(|error| {
                ToolError::Database(format!("dead letter {id}: stored properties: {error}"))
            })?;
            Ok((properties, body))
        })
        .transpose()
    }

    /// Removes dead letters; returns how many were there.
    pub(super) async fn delete(&mut self, ids: Vec<i64>) -> Result<u64, ToolError> {
        let deleted = self
            .run(move |conn| {
                diesel::delete(dead_letters::table.filter(dead_letters::id.eq_any(ids)))
                    .execute(conn)
            })
            .await?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn reason_filters_are_literal() {
        assert_eq!(like_literal("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
