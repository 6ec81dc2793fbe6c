//! Any split of a sequence of writes into group messages, delivered in any order and any of
//! them again, in batches of any size, ends in the same stored state as one upload per
//! message in acceptance order. In-process against a real database: the consumer's decision
//! ([`process_messages`]) is called directly, one transaction per batch, as a worker does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::TestDb;
use common::ops::{Clock, create, file, update, uuid};
use diesel::prelude::*;
use diesel::sql_query;
use intake::consumer::handle::{Outcome, Retry};
use intake::consumer::messages::process_messages;
use intake::session::write::Write;
use intake::session::{Limits, PointName};
use intake::store::{Store, admin};
use intake::wire::{Upload, encode_group};
use proptest::prelude::*;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// One write to one of three sessions; `tag` varies the content.
#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    Update(usize, u8),
    Delete(usize),
    Put(usize, u8),
    Drop(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..3usize;
    prop_oneof![
        3 => (id.clone(), any::<u8>()).prop_map(|(i, t)| Op::Create(i, t)),
        2 => (id.clone(), any::<u8>()).prop_map(|(i, t)| Op::Update(i, t)),
        1 => id.clone().prop_map(Op::Delete),
        1 => (id.clone(), any::<u8>()).prop_map(|(i, t)| Op::Put(i, t)),
        1 => (id, any::<u8>()).prop_map(|(i, t)| Op::Drop(i, t)),
    ]
}

fn write(op: &Op) -> Write {
    let name = |i: usize| format!("s-{i}");
    let point = |t: u8| ["a", "b"][usize::from(t % 2)];
    match *op {
        Op::Create(i, t) => create(
            &name(i),
            &format!("u{t}"),
            json!({point(t): {"Text": format!("c{t}")}, "f": {"File": file(&[t])}}),
        ),
        Op::Update(i, t) => update(&name(i), json!({point(t): {"Text": format!("p{t}")}})),
        Op::Delete(i) => Write::Delete {
            uuid: uuid(&name(i)),
        },
        Op::Put(i, t) => Write::PutAttachment {
            uuid: uuid(&name(i)),
            point: PointName::parse(point(t)).unwrap(),
            file: file(&[t, t]),
        },
        Op::Drop(i, t) => Write::DeleteAttachment {
            uuid: uuid(&name(i)),
            point: PointName::parse(if t % 3 == 0 { "f" } else { point(t) }).unwrap(),
        },
    }
}

/// A delivery plan: how the writes are cut into messages, the order messages arrive in
/// (with some again), and how many messages each batch takes.
#[derive(Debug, Clone)]
struct Plan {
    ops: Vec<Op>,
    cuts: Vec<bool>,
    singles: bool,
    order: Vec<u32>,
    again: Vec<usize>,
    batch: usize,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(op(), 1..12),
        prop::collection::vec(any::<bool>(), 12),
        any::<bool>(),
        prop::collection::vec(any::<u32>(), 24),
        prop::collection::vec(any::<usize>(), 0..5),
        1..5usize,
    )
        .prop_map(|(ops, cuts, singles, order, again, batch)| Plan {
            ops,
            cuts,
            singles,
            order,
            again,
            batch,
        })
}

/// The stored state of a project, every column but the row id, and its attachments.
fn state(conn: &mut PgConnection, project: i64) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    // A placeholder's own stamp is whichever write made it (nothing reads it): left out.
    let sessions = "SELECT concat_ws(' | ', uuid, unit_id, created, saved,
            CASE WHEN NOT placeholder THEN received END, CASE WHEN NOT placeholder THEN upload_id END,
            is_deleted, points, placeholder, field_stamps, point_stamps, purged_at) AS line
        FROM sessions WHERE project_id = $1";
    let attachments = "SELECT concat_ws(' | ', s.uuid, a.point, a.embedded, a.filename,
            a.content_type, encode(a.bytes, 'hex')) AS line
        FROM attachments a JOIN sessions s ON s.project_id = a.project_id AND s.id = a.session_id
        WHERE a.project_id = $1";
    let mut lines = Vec::new();
    for query in [sessions, attachments] {
        let rows: Vec<Line> = sql_query(query)
            .bind::<diesel::sql_types::BigInt, _>(project)
            .load(conn)
            .unwrap();
        lines.extend(rows.into_iter().map(|row| row.line));
    }
    lines.sort();
    lines
}

async fn decide(store: &Store, messages: &[Vec<u8>]) {
    let bodies: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let retry = Retry {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
    };
    let limits = Limits::default();
    let skew = Duration::from_secs(300);
    let cancel = CancellationToken::new();
    let decided = process_messages(store, &limits, skew, &bodies, false, retry, &cancel)
        .await
        .unwrap();
    let dead: Vec<&Outcome> = decided
        .decided
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::DeadLetter(_)))
        .collect();
    assert!(dead.is_empty(), "{dead:?}");
}

/// Runs one plan: the writes one message each in acceptance order into one project, the
/// plan's groups into another, and compares the two.
async fn run(db: &TestDb, store: &Store, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let case = uuid::Uuid::new_v4().simple();
    let (reference, grouped) = {
        let mut conn = db.conn();
        (
            admin::create_project(&mut conn, &format!("in-order-{case}")).unwrap(),
            admin::create_project(&mut conn, &format!("grouped-{case}")).unwrap(),
        )
    };
    let base = chrono::Utc::now().timestamp_micros() - 60_000_000;
    let clock = Clock {
        project_id: reference,
        base,
    };
    let in_order: Vec<Upload> = (0..plan.ops.len())
        .map(|at| clock.at(at as i64 + 1, write(&plan.ops[at])))
        .collect();
    for upload in &in_order {
        decide(store, &[upload.encode()]).await;
    }
    // The same uploads, stamps and all, into the other project.
    let uploads: Vec<Upload> = in_order
        .iter()
        .map(|upload| Upload {
            project_id: grouped,
            ..upload.clone()
        })
        .collect();
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    for (index, upload) in uploads.iter().enumerate() {
        groups.last_mut().unwrap().push(upload.encode());
        if plan.cuts[index] && index + 1 < uploads.len() {
            groups.push(Vec::new());
        }
    }
    let mut messages: Vec<(u32, Vec<u8>)> = Vec::new();
    let message = |bodies: &Vec<Vec<u8>>| match (plan.singles, bodies.as_slice()) {
        (true, [only]) => only.clone(),
        _ => encode_group(bodies),
    };
    for (index, bodies) in groups.iter().enumerate() {
        messages.push((plan.order[index], message(bodies)));
    }
    for (n, again) in plan.again.iter().enumerate() {
        messages.push((plan.order[12 + n], message(&groups[again % groups.len()])));
    }
    messages.sort_by_key(|(key, _)| *key);
    let messages: Vec<Vec<u8>> = messages.into_iter().map(|(_, body)| body).collect();
    for batch in messages.chunks(plan.batch) {
        decide(store, batch).await;
    }
    let mut conn = db.conn();
    (state(&mut conn, reference), state(&mut conn, grouped))
}

#[test]
fn any_grouping_order_and_redelivery_ends_as_one_upload_per_message_in_order() {
    intake::telemetry::init_for_tests();
    let db = TestDb::create();
    let store = db.store();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(plan in plan())| {
        let (in_order, grouped) = runtime.block_on(run(&db, &store, &plan));
        prop_assert_eq!(in_order, grouped);
    });
}
