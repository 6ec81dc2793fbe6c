//! `intake loadgen` against an in-process front and consumer: mixed bodies, replacements,
//! open and closed loop, and `--verify` finding every last-accepted upload in PostgreSQL.
//! Also: loadgen's bodies decode through the front's own decoders to the intended session,
//! and the verifier reports what is missing or wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::TestApp;
use intake::decode::{self, BodyKind, MultipartLimits};
use intake::session::{Limits, PointName, PointValue, Session};
use intake_tools::loadgen::{self, Limit, LoadgenOptions, Pace};
use intake_tools::loadgen_payload::{
    Encoding, FILE_POINT, Fill, MAX_RAW_BYTES, Mix, RAW_POINT, Templates, expected_points,
};
use intake_tools::loadgen_verify::{self, Candidate, Expected, VerifyOptions};

fn options(app: &TestApp, pace: Pace, limit: Limit) -> LoadgenOptions {
    LoadgenOptions {
        url: app.url(""),
        project_id: app.project_id,
        username: app.username.clone(),
        secret: app.secret.clone(),
        devices: 7,
        pace,
        limit,
        mix: Mix::default(),
        points: 5,
        attachment_bytes: 3_000,
        replace_ratio: 0.3,
        request_timeout: Duration::from_secs(20),
        verify: Some(VerifyOptions {
            database_url: app.db.url.clone(),
            timeout: Duration::from_secs(60),
            progress: false,
        }),
        warmup: Duration::ZERO,
        ramp: None,
        timeseries: true,
        progress: false,
    }
}

#[tokio::test]
async fn closed_loop_mixed_bodies_with_replacements_all_verify() {
    let app = TestApp::spawn().await;
    let report = loadgen::run(options(&app, Pace::Concurrency(8), Limit::Count(200)))
        .await
        .unwrap();

    assert_eq!(report.sent, 200, "{report}");
    assert_eq!(report.accepted, 200, "{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert!(report.failed_by_status.is_empty() && report.transport_errors.is_empty());
    assert_eq!(report.latency_ms.count, 200);
    assert!(report.latency_ms.p50 > 0.0 && report.latency_ms.max >= report.latency_ms.p99);
    assert!(report.throughput_per_second > 0.0);
    let by_encoding: u64 = report.sent_by_encoding.values().sum();
    assert_eq!(by_encoding, 200);
    // Second by second, the counts add up to the run's.
    let seconds = &report.timeseries;
    assert!(!seconds.is_empty());
    assert_eq!(seconds.iter().map(|s| s.sent).sum::<u64>(), 200);
    assert_eq!(seconds.iter().map(|s| s.accepted).sum::<u64>(), 200);
    assert!(
        seconds
            .iter()
            .filter(|s| s.accepted > 0)
            .all(|s| s.p99_ms >= s.p50_ms && s.p50_ms > 0.0)
    );
    assert!(
        report.sent_by_encoding.values().all(|&n| n > 20),
        "{:?}",
        report.sent_by_encoding
    );
    // About 30% of uploads reuse an earlier uuid.
    assert!(
        (100..190).contains(&report.distinct_uuids),
        "{} distinct uuids",
        report.distinct_uuids
    );

    let verify = report.verify.clone().unwrap();
    assert!(verify.ok(), "{verify}");
    assert_eq!(verify.expected, report.distinct_uuids);
    assert_eq!(verify.verified, report.distinct_uuids);
    assert_eq!(
        (verify.missing, verify.wrong_version, verify.wrong_content),
        (0, 0, 0)
    );
    assert!(verify.differences.is_empty());
    assert_eq!(
        common::count(&app.db.url, "sessions"),
        report.distinct_uuids as i64
    );
    // Every stored session carries its binary: a file (multipart) or a rawData (JSON, form).
    assert_eq!(
        common::count(&app.db.url, "attachments"),
        report.distinct_uuids as i64
    );
    assert!(report.is_clean());
    // The machine-readable report carries the same numbers.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["accepted"], 200);
    assert_eq!(json["verify"]["verified"], report.distinct_uuids);
}

#[tokio::test]
async fn open_loop_keeps_its_schedule_and_verifies() {
    let app = TestApp::spawn().await;
    let mut options = options(
        &app,
        Pace::Rate {
            per_second: 100.0,
            max_in_flight: 32,
        },
        Limit::Duration(Duration::from_millis(600)),
    );
    options.mix = "json=1".parse().unwrap();
    options.attachment_bytes = 0;
    let report = loadgen::run(options).await.unwrap();
    // 600 ms at 100/s: sends are due at 0, 10, …, 590 ms.
    assert_eq!(report.sent, 60, "{report}");
    assert_eq!(report.accepted, 60, "{report}");
    assert_eq!(report.sent_by_encoding["json"], 60);
    assert_eq!(report.sent_by_encoding["multipart"], 0);
    assert!(report.elapsed_seconds >= 0.59, "{report}");
    assert!(report.verify.as_ref().unwrap().ok(), "{report}");
    assert_eq!(common::count(&app.db.url, "attachments"), 0);
}

#[tokio::test]
async fn a_warm_up_is_sent_but_not_counted_and_a_ramp_grows_the_rate() {
    let app = TestApp::spawn().await;
    let rate = Pace::Rate {
        per_second: 50.0,
        max_in_flight: 64,
    };
    let mut options = options(&app, rate, Limit::Duration(Duration::from_secs(2)));
    options.replace_ratio = 0.0;
    options.mix = "json=1".parse().unwrap();
    options.attachment_bytes = 0;
    options.warmup = Duration::from_secs(1);
    options.ramp = Some(Duration::from_secs(2));
    let report = loadgen::run(options).await.unwrap();
    // The ramp reaches 50/s at 2 s: 50 sends by then (13 in the first second, the warm-up),
    // then 50 more in the third second. Counted: the 87 due after the warm-up.
    assert!((86..=88).contains(&report.sent), "{report}");
    assert_eq!(report.accepted + report.failed, report.sent, "{report}");
    let seconds: Vec<u64> = report.timeseries.iter().map(|s| s.sent).collect();
    assert_eq!(seconds.len(), 2, "{seconds:?}");
    assert!(
        (36..=38).contains(&seconds[0]) && (49..=51).contains(&seconds[1]),
        "{seconds:?}"
    );
    // Every accepted upload is verified, the warm-up's too.
    let verify = report.verify.as_ref().unwrap();
    assert!(verify.ok() && verify.verified > report.accepted, "{report}");
    assert_eq!(
        common::count(&app.db.url, "sessions") as u64,
        verify.verified
    );
}

#[tokio::test]
async fn the_verifier_reports_missing_stale_and_altered_rows() {
    let app = TestApp::spawn().await;
    let mut options = options(&app, Pace::Concurrency(2), Limit::Count(3));
    options.replace_ratio = 0.0;
    options.verify = None;
    let report = loadgen::run(options).await.unwrap();
    assert_eq!(report.accepted, 3);
    let url = app.db.url.clone();
    let uuids = common::eventually("three sessions", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let uuids = tokio::task::spawn_blocking(move || stored_uuids(&url))
                .await
                .unwrap();
            (uuids.len() == 3).then_some(uuids)
        }
    })
    .await;
    let row = common::load_session(&app.db.url, app.project_id, &uuids[0]).unwrap();
    let seq_of_row = seq_in(&row.points);
    let landed = common::load_session(&app.db.url, app.project_id, &uuids[2]).unwrap();

    let expected = vec![
        // Right upload id, other points: altered.
        Expected {
            uuid: uuids[0].clone(),
            upload_id: row.upload_id,
            unit_id: row.unit_id.clone(),
            points: expected_points(seq_of_row + 1_000, 5),
            unanswered: vec![],
        },
        // A later upload id than the row holds: the last-accepted upload never landed.
        Expected {
            uuid: uuids[1].clone(),
            upload_id: uuid::Uuid::now_v7(),
            unit_id: "x".into(),
            points: serde_json::json!({}),
            unanswered: vec![],
        },
        // The row is newer than the last-accepted upload, and is an upload whose answer was
        // lost: it landed, nothing is wrong.
        Expected {
            uuid: uuids[2].clone(),
            upload_id: uuid::Uuid::nil(),
            unit_id: "x".into(),
            points: serde_json::json!({}),
            unanswered: vec![Candidate {
                unit_id: landed.unit_id.clone(),
                points: landed.points.clone(),
            }],
        },
        // No row at all.
        Expected {
            uuid: "never-sent".into(),
            upload_id: uuid::Uuid::now_v7(),
            unit_id: "x".into(),
            points: serde_json::json!({}),
            unanswered: vec![],
        },
    ];
    let verify_options = VerifyOptions {
        database_url: app.db.url.clone(),
        timeout: Duration::from_millis(300),
        progress: false,
    };
    let project_id = app.project_id;
    let verdict = tokio::task::spawn_blocking(move || {
        loadgen_verify::verify(project_id, expected, &verify_options)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!verdict.ok());
    assert_eq!(verdict.expected, 4);
    assert_eq!(
        (
            verdict.verified,
            verdict.landed_unanswered,
            verdict.missing,
            verdict.wrong_version,
            verdict.wrong_content
        ),
        (0, 1, 1, 1, 1),
        "{verdict}"
    );
    assert_eq!(verdict.differences.len(), 3);
}

fn stored_uuids(url: &str) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        uuid: String,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT uuid FROM sessions ORDER BY uuid")
        .load(&mut conn)
        .unwrap();
    rows.into_iter().map(|row| row.uuid).collect()
}

/// The sequence number in a loadgen point value `v<seq>-<k>`.
fn seq_in(points: &serde_json::Value) -> u64 {
    let text = points["p0"].as_str().unwrap();
    text[1..].split('-').next().unwrap().parse().unwrap()
}

#[test]
fn mix_weights_parse_and_pick_in_proportion() {
    let mix: Mix = "json=2, multipart=1".parse().unwrap();
    assert_eq!((mix.json, mix.form, mix.multipart), (2, 0, 1));
    let picks: Vec<Encoding> = (0..3).map(|r| mix.pick(r)).collect();
    assert_eq!(picks, [Encoding::Json, Encoding::Json, Encoding::Multipart]);
    for bad in ["", "json=0", "xml=1", "json", "json=-1"] {
        assert!(bad.parse::<Mix>().is_err(), "{bad:?}");
    }
}

async fn decode_body(content_type: &str, body: Vec<u8>) -> Session {
    let raw = match decode::body_kind(Some(content_type)).unwrap() {
        BodyKind::Json => decode::json::decode(&body, 2_000).unwrap(),
        BodyKind::Form => decode::form::decode(&body, 2_000).unwrap(),
        BodyKind::Multipart { boundary } => {
            let stream =
                futures_util::stream::once(
                    async move { Ok::<_, std::io::Error>(Bytes::from(body)) },
                );
            decode::multipart::decode(stream, boundary, &MultipartLimits::default())
                .await
                .unwrap()
        }
    };
    raw.parse(&Limits::default(), 0).unwrap()
}

#[tokio::test]
async fn every_encoding_decodes_to_the_intended_session() {
    for attachment in [0, 100, MAX_RAW_BYTES + 10] {
        let templates = Templates::new(3, attachment);
        let fill = Fill {
            uuid: "lg-abc-7",
            unit_id: "loadgen-unit-2",
            seq: 42,
            now: 1_700_000_000,
        };
        for encoding in [Encoding::Json, Encoding::Form, Encoding::Multipart] {
            let (content_type, body) = templates.body(encoding, &fill);
            let session = decode_body(content_type, body).await;
            let context = format!("{encoding:?} with {attachment} bytes");
            assert_eq!(session.uuid.as_str(), "lg-abc-7", "{context}");
            assert_eq!(session.unit_id.as_str(), "loadgen-unit-2", "{context}");
            assert_eq!(
                (session.created, session.saved),
                (1_700_000_000, 1_700_000_000)
            );
            assert_eq!(
                intake::store::write::text_points(&session),
                expected_points(42, 3),
                "{context}"
            );
            let binary = match encoding {
                Encoding::Multipart => session.points.get(&PointName::parse(FILE_POINT).unwrap()),
                _ => session.points.get(&PointName::parse(RAW_POINT).unwrap()),
            };
            match (encoding, binary) {
                (_, None) => assert_eq!(attachment, 0, "{context}"),
                (Encoding::Multipart, Some(PointValue::File(file))) => {
                    assert_eq!(file.bytes.len(), attachment, "{context}")
                }
                (_, Some(PointValue::Raw(bytes))) => {
                    assert_eq!(bytes.len(), attachment.min(MAX_RAW_BYTES), "{context}")
                }
                (_, other) => panic!("{context}: unexpected binary {other:?}"),
            }
        }
    }
}
