//! The projects this process has already found in the database, so a batch need not ask
//! for them again (it asks only for the others). Filled only after a batch commits. A
//! project is never deleted while sessions reference it (foreign key), and a batch that
//! meets one deleted anyway fails on that key and is written message by message, so a stale
//! entry cannot store anything wrongly.

use std::collections::HashSet;
use std::sync::Mutex;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};

use super::StoreError;
use crate::wire::Upload;

/// The projects known to exist, per process.
#[derive(Debug, Default)]
pub struct KnownProjects {
    projects: Mutex<HashSet<i64>>,
}

impl KnownProjects {
    /// The ids among `ids` not yet known to exist.
    pub fn unknown_projects(&self, ids: &[i64]) -> Vec<i64> {
        let Ok(known) = self.projects.lock() else {
            return ids.to_vec();
        };
        ids.iter()
            .copied()
            .filter(|id| !known.contains(id))
            .collect()
    }

    /// Remembers projects a committed batch found.
    pub fn remember_projects(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut known) = self.projects.lock() {
            known.extend(ids);
        }
    }
}

#[derive(QueryableByName)]
struct ProjectRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The batch's projects that exist; only ids this process has not seen before are asked.
pub(super) fn known_projects(
    conn: &mut PgConnection,
    uploads: &[Upload],
    cache: &KnownProjects,
) -> Result<HashSet<i64>, StoreError> {
    let mut ids: Vec<i64> = uploads.iter().map(|upload| upload.project_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let unknown = cache.unknown_projects(&ids);
    let mut known: HashSet<i64> = ids.into_iter().filter(|id| !unknown.contains(id)).collect();
    if !unknown.is_empty() {
        let rows: Vec<ProjectRow> = diesel::sql_query("SELECT id FROM projects WHERE id = ANY($1)")
            .bind::<Array<BigInt>, _>(unknown)
            .load(conn)?;
        known.extend(rows.into_iter().map(|row| row.id));
    }
    Ok(known)
}
