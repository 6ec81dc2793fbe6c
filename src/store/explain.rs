//! `EXPLAIN` of the list query exactly as the read route builds it, so a test (and an
//! operator) can check that every filter combination is served by an index.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;

use super::StoreError;
use super::read::{ListFilter, Position, list_query};

/// Wraps a query in `EXPLAIN`, keeping its bind parameters.
struct Explain<Q>(Q);

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Text;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("EXPLAIN ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> RunQueryDsl<PgConnection> for Explain<Q> {}

/// The plan of the list query for these parameters, one line per row of `EXPLAIN`.
pub fn explain_list(
    conn: &mut PgConnection,
    project_id: i64,
    filter: &ListFilter,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(Explain(list_query(project_id, filter, after, limit)).load::<String>(conn)?)
}
