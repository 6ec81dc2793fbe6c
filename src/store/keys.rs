//! Session keys — (project id, uuid) — as a batch borrows them from its messages, as queries
//! take them (two arrays to `unnest`), and as rows give them back.

use std::collections::{BTreeMap, HashMap};

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Text};
use diesel::{QueryableByName, sql_query};

/// A session's key, borrowed from the batch's messages.
pub(super) type Key<'a> = (i64, &'a str);

/// Binds keys as `$1::int8[]` and `$2::text[]`, the columns a query unnests side by side.
/// Boxed, so that callers can bind more and the type can be named.
pub(super) fn bind_keys<'a>(
    sql: &str,
    keys: impl IntoIterator<Item = Key<'a>>,
) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let (projects, uuids): (Vec<i64>, Vec<&str>) = keys.into_iter().unzip();
    sql_query(sql)
        .into_boxed()
        .bind::<Array<BigInt>, _>(projects)
        .bind::<Array<Text>, _>(uuids)
}

/// The key columns of a session row a query returned.
#[derive(QueryableByName)]
pub(super) struct KeyColumns {
    #[diesel(sql_type = BigInt)]
    pub project_id: i64,
    #[diesel(sql_type = Text)]
    pub uuid: String,
}

/// A session row's id and key.
#[derive(QueryableByName)]
pub(super) struct RowKey {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(embed)]
    pub key: KeyColumns,
}

impl KeyColumns {
    /// The key, owned, for [`match_keys`].
    pub fn owned(self) -> (i64, String) {
        (self.project_id, self.uuid)
    }

    /// The key, borrowed, for looking up a batch's writes.
    pub fn as_key(&self) -> Key<'_> {
        (self.project_id, self.uuid.as_str())
    }
}

/// Takes rows the database returned, keyed by owned strings, back to the batch's borrowed
/// keys, so the rest of the batch looks them up without allocating.
pub(super) fn match_keys<'a, V>(
    keys: impl IntoIterator<Item = Key<'a>>,
    rows: impl IntoIterator<Item = ((i64, String), V)>,
) -> BTreeMap<Key<'a>, V> {
    let mut by_project: HashMap<i64, HashMap<String, V>> = HashMap::new();
    for ((project_id, uuid), value) in rows {
        by_project
            .entry(project_id)
            .or_default()
            .insert(uuid, value);
    }
    keys.into_iter()
        .filter_map(|key| {
            let value = by_project.get_mut(&key.0)?.remove(key.1)?;
            Some((key, value))
        })
        .collect()
}
