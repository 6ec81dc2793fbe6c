//! Hash partitioning of the session data by project (`intake migrate --partitions N`,
//! docs/SCALING.md): `sessions` and `attachments` become N hash partitions each on
//! `project_id`, so one project's statements read and lock one partition of each.
//!
//! The conversion runs in one transaction: new partitioned tables are made with the columns of
//! the current ones (`LIKE`, so columns added by later migrations come along), every row is
//! copied, the old tables are dropped, the new ones take their names, and every constraint and
//! index of the old tables is recreated under its old name from its own definition. One
//! transaction rather than batches, because a session and its attachments must never be seen
//! half moved, and because intake can afford the pause: fronts accept uploads without
//! PostgreSQL, and consumers retry a write that waits on the lock, so a long copy delays
//! storing and reads but loses nothing. Any N converts from any N (or from none), since the
//! rows are always copied out of whatever the tables are.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::StoreError;

/// The tables partitioned, the referenced one first.
const TABLES: [&str; 2] = ["sessions", "attachments"];

/// What [`partition_by_project`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioned {
    /// The tables already had this many partitions; nothing changed.
    Unchanged,
    /// The rows were moved into the new partitions.
    Converted {
        /// Session rows moved.
        sessions: usize,
        /// Attachment rows moved.
        attachments: usize,
    },
}

/// Why the tables could not be partitioned.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// The partition count is out of range.
    #[error("--partitions must be between 1 and {MAX_PARTITIONS}, not {0}")]
    Count(u32),
    /// Another table has a foreign key to one of them: dropping it would break that table.
    #[error("{0} references {1}: drop that foreign key before partitioning")]
    Referenced(String, String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for PartitionError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

/// More partitions than this only multiplies planning work and files.
pub const MAX_PARTITIONS: u32 = 1024;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Statement {
    #[diesel(sql_type = Text)]
    sql: String,
}

#[derive(QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    from: String,
    #[diesel(sql_type = Text)]
    to: String,
}

/// The partition count of a table (0 when it is not partitioned).
pub fn partition_count(conn: &mut PgConnection, table: &str) -> Result<i64, StoreError> {
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_inherits WHERE inhparent = $1::regclass",
    )
    .bind::<Text, _>(table)
    .get_result(conn)?;
    Ok(row.count)
}

/// Converts `sessions` and `attachments` into `partitions` hash partitions on `project_id`.
pub fn partition_by_project(
    conn: &mut PgConnection,
    partitions: u32,
) -> Result<Partitioned, PartitionError> {
    if partitions == 0 || partitions > MAX_PARTITIONS {
        return Err(PartitionError::Count(partitions));
    }
    conn.transaction(|conn| {
        // The copy may take long; the pool's statement timeout is for requests.
        conn.batch_execute(
            "SET LOCAL statement_timeout = 0;
             LOCK TABLE sessions, attachments IN ACCESS EXCLUSIVE MODE;",
        )?;
        let mut unchanged = true;
        for table in TABLES {
            unchanged &= partition_count(conn, table)? == i64::from(partitions);
        }
        if unchanged {
            return Ok(Partitioned::Unchanged);
        }
        refuse_outside_references(conn)?;
        let recreate = definitions(conn)?;
        let mut moved = [0; 2];
        for (table, moved) in TABLES.iter().zip(&mut moved) {
            *moved = copy_into_partitions(conn, table, partitions)?;
        }
        conn.batch_execute("DROP TABLE attachments; DROP TABLE sessions;")?;
        for table in TABLES {
            let mut renames = format!("ALTER TABLE {table}_next RENAME TO {table};");
            for remainder in 0..partitions {
                renames.push_str(&format!(
                    "ALTER TABLE {table}_next_p{remainder} RENAME TO {table}_p{remainder};"
                ));
            }
            conn.batch_execute(&renames)?;
        }
        for statement in recreate {
            conn.batch_execute(&statement)?;
        }
        conn.batch_execute("ANALYZE sessions; ANALYZE attachments;")?;
        Ok(Partitioned::Converted {
            sessions: moved[0],
            attachments: moved[1],
        })
    })
}

/// Only the two tables may reference each other: a foreign key from anywhere else would
/// block the drop (or, with CASCADE, vanish silently).
fn refuse_outside_references(conn: &mut PgConnection) -> Result<(), PartitionError> {
    let outside: Option<Reference> = diesel::sql_query(
        "SELECT conrelid::regclass::text AS from, confrelid::regclass::text AS to
         FROM pg_constraint
         WHERE contype = 'f' AND conparentid = 0
           AND confrelid IN ('sessions'::regclass, 'attachments'::regclass)
           AND conrelid NOT IN ('sessions'::regclass, 'attachments'::regclass)
         LIMIT 1",
    )
    .get_result(conn)
    .optional()?;
    match outside {
        Some(reference) => Err(PartitionError::Referenced(reference.from, reference.to)),
        None => Ok(()),
    }
}

/// The statements that recreate every constraint and index of the two tables under its
/// current name: keys and unique constraints first, then the other indexes, then the foreign
/// keys (which need the keys they reference). Read before the tables are dropped.
fn definitions(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    let rows: Vec<Statement> = diesel::sql_query(
        "SELECT sql FROM (
           SELECT CASE c.contype WHEN 'f' THEN 3 ELSE 1 END AS step,
                  c.conrelid <> 'sessions'::regclass AS later, c.conname AS name,
                  format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass,
                         c.conname, pg_get_constraintdef(c.oid)) AS sql
           FROM pg_constraint AS c
           WHERE c.conrelid IN ('sessions'::regclass, 'attachments'::regclass)
             AND c.conparentid = 0
           UNION ALL
           SELECT 2, i.indrelid <> 'sessions'::regclass, i.indexrelid::regclass::text,
                  replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
           FROM pg_index AS i
           WHERE i.indrelid IN ('sessions'::regclass, 'attachments'::regclass)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c
                             WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
         ) AS d
         ORDER BY step, later, name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.sql).collect())
}

/// Makes `{table}_next` with `partitions` hash partitions, copies every row of `table` into
/// it, and hands it the table's serial sequences; returns the rows copied.
fn copy_into_partitions(
    conn: &mut PgConnection,
    table: &str,
    partitions: u32,
) -> Result<usize, StoreError> {
    let mut create = format!(
        "CREATE TABLE {table}_next
           (LIKE {table} INCLUDING ALL EXCLUDING INDEXES EXCLUDING CONSTRAINTS)
           PARTITION BY HASH (project_id);"
    );
    for remainder in 0..partitions {
        create.push_str(&format!(
            "CREATE TABLE {table}_next_p{remainder} PARTITION OF {table}_next
               FOR VALUES WITH (MODULUS {partitions}, REMAINDER {remainder});"
        ));
    }
    conn.batch_execute(&create)?;
    // Indexes come after the copy: building them once is faster than updating them per row.
    let moved = diesel::sql_query(format!("INSERT INTO {table}_next SELECT * FROM {table}"))
        .execute(conn)?;
    // The sequence behind `id` would be dropped with its table; the new table takes it over,
    // so ids keep counting from where they were.
    let sequences: Vec<Statement> = diesel::sql_query(format!(
        "SELECT format('ALTER SEQUENCE %s OWNED BY {table}_next.%I',
                       pg_get_serial_sequence('{table}', attname), attname) AS sql
         FROM pg_attribute
         WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped
           AND pg_get_serial_sequence('{table}', attname) IS NOT NULL"
    ))
    .load(conn)?;
    for sequence in sequences {
        conn.batch_execute(&sequence.sql)?;
    }
    Ok(moved)
}
