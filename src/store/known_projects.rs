//! The projects this process has already found in the database, so a batch need not ask
//! for them again. Filled only after a batch commits. A project is never
//! deleted while sessions reference it (foreign key), and a batch that meets one deleted
//! anyway fails on that key and is written message by message, so a stale entry cannot store
//! anything wrongly.

use std::collections::HashSet;
use std::sync::Mutex;

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
