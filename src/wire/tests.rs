#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::session::{FileAttachment, PointValue, RawSession, RawValue};

fn sample() -> Upload {
    let raw = RawSession {
        uuid: Some("s-1".into()),
        unit_id: Some("unit".into()),
        points: vec![
            ("text".into(), RawValue::Text("héllo".into())),
            ("raw".into(), RawValue::RawData("AAEC/w==".into())),
            (
                "file".into(),
                RawValue::File(FileAttachment {
                    filename: Some("a.bin".into()),
                    content_type: "application/octet-stream".into(),
                    bytes: (0..=255).collect(),
                }),
            ),
        ],
        ..RawSession::default()
    };
    let session = raw.parse(&Limits::default(), 10).unwrap();
    Upload::create(7, Stamp::now("alice"), session)
}

#[test]
fn an_upload_survives_the_round_trip() {
    let upload = sample();
    let decoded = Upload::decode(&upload.encode(), &Limits::default()).unwrap();
    assert_eq!(decoded, upload);
}

#[test]
fn binaries_travel_as_bytes_not_base64() {
    let upload = sample();
    let body = upload.encode();
    let file: Vec<u8> = (0..=255).collect();
    assert!(
        body.windows(file.len())
            .any(|window| window == file.as_slice())
    );
    assert!(body.len() < 600, "body is {} bytes", body.len());
    let PointValue::Raw(raw) = &upload.session().points.values().nth(1).unwrap() else {
        panic!("expected raw");
    };
    assert_eq!(raw, &vec![0, 1, 2, 255]);
}

#[test]
fn garbage_and_other_versions_are_refused() {
    assert!(matches!(
        Upload::decode(b"", &Limits::default()),
        Err(WireError::Undecodable(_))
    ));
    assert!(matches!(
        Upload::decode(b"\xc1\xff", &Limits::default()),
        Err(WireError::Undecodable(_))
    ));
    let mut upload = sample();
    upload.version = 99;
    assert!(matches!(
        Upload::decode(&upload.encode(), &Limits::default()),
        Err(WireError::UnsupportedVersion(99))
    ));
}

#[test]
fn envelopes_that_cannot_be_right_are_refused() {
    let mut upload = sample();
    upload.project_id = 0;
    assert!(matches!(
        Upload::decode(&upload.encode(), &Limits::default()),
        Err(WireError::BadEnvelope(_))
    ));
    let mut upload = sample();
    upload.stamp.upload_id = uuid::Uuid::new_v4();
    assert!(matches!(
        Upload::decode(&upload.encode(), &Limits::default()),
        Err(WireError::BadEnvelope(_))
    ));
}

#[test]
fn sessions_are_checked_again_on_decode() {
    let mut upload = sample();
    let Operation::Create(session) = &mut upload.operation;
    session.created = -1;
    match Upload::decode(&upload.encode(), &Limits::default()) {
        Err(WireError::Invalid(errors)) => assert!(errors.summary().contains("session[created]")),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn stamps_order_by_acceptance() {
    let first = Stamp::now("a");
    let second = Stamp::now("a");
    assert!((first.received_micros, first.upload_id) < (second.received_micros, second.upload_id));
}

#[test]
fn the_receive_time_is_the_upload_ids_time() {
    let stamp = Stamp::now("a");
    let before = chrono::Utc::now().timestamp_micros();
    assert!((before - stamp.received_micros).abs() < 5_000_000);
    assert_eq!(
        stamp.received_micros % 1_000,
        0,
        "millisecond precision, as in the id"
    );
}
