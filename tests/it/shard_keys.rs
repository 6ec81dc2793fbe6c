//! Keys led by project: upgrading a populated database keeps every row and byte, and hash
//! partitioning by project keeps them too and lets one project's list read one partition.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Jsonb};
use diesel_migrations::MigrationHarness;
use intake::store::MIGRATIONS;
use intake::store::explain::explain_list;
use intake::store::partition::{Partitioned, partition_by_project, partition_count};
use intake::store::read::ListFilter;

use crate::common::TestDb;

/// The migration that leads every key with project_id (its directory's name ends so).
const PROJECT_KEYS: &str = "_project_keys";

/// Three projects with the same uuids; live, deleted, placeholder and stamped sessions;
/// small and 1 MiB attachments. Written with the columns of the migration before.
const FILL: &str = "
INSERT INTO projects (name) VALUES ('north'), ('south'), ('east');
INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                      upload_id, is_deleted, points, timezone_offset, placeholder,
                      field_stamps, point_stamps)
SELECT p.id, 'uuid-' || n, 'unit-' || (n % 7), to_timestamp(1700000000 + n),
       to_timestamp(1700000100 + n), to_timestamp(1700000200 + n * 10 + p.id), '10.0.0.' || n,
       gen_random_uuid(), n % 11 = 0, jsonb_build_object('n', n::text, 'p', p.name),
       CASE WHEN n % 3 = 0 THEN 60 END, n % 13 = 0,
       CASE WHEN n % 5 = 0 THEN '{\"unit_id\": [1700000000000000, \"x\"]}'::jsonb
            ELSE '{}' END,
       '{}'
FROM projects AS p, generate_series(1, 150) AS n;
INSERT INTO attachments (session_id, point, embedded, filename, content_type, size, md5,
                         sha256, bytes)
SELECT s.id, 'photo', s.id % 2 = 0, CASE WHEN s.id % 2 = 1 THEN 'photo.jpg' END,
       'image/jpeg', 800, decode(md5(s.uuid), 'hex'), sha256(s.uuid::bytea),
       decode(repeat(md5(s.uuid || s.project_id), 50), 'hex')
FROM sessions AS s WHERE NOT s.placeholder;
INSERT INTO attachments (session_id, point, embedded, filename, content_type, size, md5,
                         sha256, bytes)
SELECT s.id, 'scan', false, 'scan.pdf', 'application/pdf', 1048576, '\\x00', '\\x00',
       decode(repeat(md5(s.uuid || 'scan'), 65536), 'hex')
FROM sessions AS s WHERE s.uuid IN ('uuid-1', 'uuid-2');";

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Jsonb)]
    row: serde_json::Value,
}

/// Every session row, whole.
fn sessions(conn: &mut PgConnection) -> Vec<serde_json::Value> {
    let rows: Vec<Row> =
        sql_query("SELECT to_jsonb(s) AS row FROM sessions AS s ORDER BY s.project_id, s.id")
            .load(conn)
            .unwrap();
    rows.into_iter().map(|r| r.row).collect()
}

/// Every attachment row, bytes included (as hex), with its session's project.
fn attachments(conn: &mut PgConnection) -> Vec<serde_json::Value> {
    let rows: Vec<Row> = sql_query(
        "SELECT to_jsonb(a) || jsonb_build_object('session_project', s.project_id) AS row
         FROM attachments AS a JOIN sessions AS s ON s.id = a.session_id
         ORDER BY a.session_id, a.point",
    )
    .load(conn)
    .unwrap();
    rows.into_iter().map(|r| r.row).collect()
}

/// `after` holds every row of `before` with the same values (later migrations may add
/// columns; none may change or drop one).
fn assert_kept(what: &str, before: &[serde_json::Value], after: &[serde_json::Value]) {
    assert_eq!(before.len(), after.len(), "{what}: row count");
    for (old, new) in before.iter().zip(after) {
        let old = old.as_object().unwrap();
        for (column, value) in old {
            assert_eq!(new.get(column), Some(value), "{what}: {column} of {old:?}");
        }
    }
}

/// A database migrated up to (not including) the project keys, filled.
fn filled_before_project_keys() -> TestDb {
    let db = TestDb::unmigrated();
    let mut conn = db.conn();
    let pending = conn.pending_migrations(MIGRATIONS).unwrap();
    for migration in pending {
        if migration.name().to_string().ends_with(PROJECT_KEYS) {
            break;
        }
        conn.run_migration(&*migration).unwrap();
    }
    conn.batch_execute(FILL).unwrap();
    db
}

#[test]
fn shard_keys_upgrade_keeps_every_session_and_attachment_byte() {
    let db = filled_before_project_keys();
    let mut conn = db.conn();
    let (sessions_before, attachments_before) = (sessions(&mut conn), attachments(&mut conn));
    assert_eq!(sessions_before.len(), 450);
    assert_eq!(attachments_before.len(), 6 + 3 * (150 - 11));
    db.store().migrate().unwrap();

    assert_kept("sessions", &sessions_before, &sessions(&mut conn));
    let attachments_after = attachments(&mut conn);
    assert_kept("attachments", &attachments_before, &attachments_after);
    for row in &attachments_after {
        assert_eq!(row["project_id"], row["session_project"], "{row}");
    }
    // The keys lead with the project, and the foreign key holds: a session's deletion
    // takes its attachments with it.
    let keys: Vec<Row> = sql_query(
        "SELECT to_jsonb(array_agg(pg_get_constraintdef(oid) ORDER BY conname)) AS row
         FROM pg_constraint WHERE conrelid IN ('sessions'::regclass, 'attachments'::regclass)
           AND contype IN ('p', 'f', 'u')",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(
        keys[0].row,
        serde_json::json!([
            "PRIMARY KEY (project_id, session_id, point)",
            "FOREIGN KEY (project_id, session_id) REFERENCES sessions(project_id, id) ON DELETE CASCADE",
            "PRIMARY KEY (project_id, id)",
            "FOREIGN KEY (project_id) REFERENCES projects(id)",
            "UNIQUE (project_id, uuid)",
        ])
    );
    conn.batch_execute("DELETE FROM sessions WHERE uuid = 'uuid-1'")
        .unwrap();
    assert_eq!(attachments(&mut conn).len(), attachments_before.len() - 6);
}

#[test]
fn shard_keys_partitioning_keeps_every_row_and_lists_from_one_partition() {
    let db = filled_before_project_keys();
    db.store().migrate().unwrap();
    let mut conn = db.conn();
    let (sessions_before, attachments_before) = (sessions(&mut conn), attachments(&mut conn));

    let converted = partition_by_project(&mut conn, 4).unwrap();
    assert_eq!(
        converted,
        Partitioned::Converted {
            sessions: 450,
            attachments: attachments_before.len()
        }
    );
    assert_eq!(partition_count(&mut conn, "sessions").unwrap(), 4);
    assert_eq!(partition_count(&mut conn, "attachments").unwrap(), 4);
    assert_kept("sessions", &sessions_before, &sessions(&mut conn));
    assert_kept("attachments", &attachments_before, &attachments(&mut conn));
    assert_eq!(
        partition_by_project(&mut conn, 4).unwrap(),
        Partitioned::Unchanged
    );

    // One project's list reads exactly one partition of sessions, and of attachments for
    // the page's sizes.
    let project_id = sessions_before[0]["project_id"].as_i64().unwrap();
    let plan = explain_list(&mut conn, project_id, &ListFilter::default(), None, 100).unwrap();
    let plan = plan.join("\n");
    println!("{plan}");
    let read: BTreeSet<&str> = plan
        .split(" on ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|table| table.contains("_p"))
        .collect();
    assert_eq!(read.len(), 2, "{plan}");
    assert_eq!(
        read.iter().filter(|t| t.starts_with("sessions_p")).count(),
        1,
        "{plan}"
    );
    assert!(!plan.contains("Append"), "{plan}");

    // Re-partitioning works from partitions too, and ids keep counting past the old ones.
    assert!(matches!(
        partition_by_project(&mut conn, 2).unwrap(),
        Partitioned::Converted { .. }
    ));
    assert_eq!(partition_count(&mut conn, "sessions").unwrap(), 2);
    assert_kept("sessions", &sessions_before, &sessions(&mut conn));
    assert_kept("attachments", &attachments_before, &attachments(&mut conn));
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let new: Id = sql_query(format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received,
                               received_from, upload_id, points)
         VALUES ({project_id}, 'fresh', 'u', now(), now(), now(), '', gen_random_uuid(), '{{}}')
         RETURNING id"
    ))
    .get_result(&mut conn)
    .unwrap();
    let highest = sessions_before
        .iter()
        .filter_map(|row| row["id"].as_i64())
        .max()
        .unwrap();
    assert!(new.id > highest, "{} after {highest}", new.id);
    assert!(partition_by_project(&mut conn, 0).is_err());
}

/// `intake migrate --partitions N` as an operator runs it: it says what it did, does nothing
/// the second time, and refuses a count of zero with a non-zero exit.
#[tokio::test]
async fn shard_keys_migrate_partitions_from_the_command_line() {
    let app = crate::common::TestApp::front_only().await;
    let cli = crate::common::cli::Cli::for_app(&app);
    let output = cli.run(&["migrate", "--partitions", "3"]).await;
    let (stdout, stderr) = crate::common::cli::text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let expected = match crate::common::test_partitions() {
        Some(3) => "sessions and attachments already have 3 partitions",
        _ => "sessions and attachments now have 3 partitions: moved 0 sessions and 0 attachments",
    };
    assert!(stdout.contains(expected), "{stdout}");
    assert!(stderr.contains("writes wait"), "{stderr}");
    let mut conn = app.db.conn();
    assert_eq!(partition_count(&mut conn, "sessions").unwrap(), 3);
    assert_eq!(partition_count(&mut conn, "attachments").unwrap(), 3);

    let again = cli.run(&["migrate", "--partitions", "3"]).await;
    let (stdout, _) = crate::common::cli::text(&again);
    assert!(again.status.success());
    assert!(
        stdout.contains("sessions and attachments already have 3 partitions"),
        "{stdout}"
    );

    let refused = cli.run(&["migrate", "--partitions", "0"]).await;
    let (_, stderr) = crate::common::cli::text(&refused);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("--partitions must be between 1 and 1024"),
        "{stderr}"
    );
}
