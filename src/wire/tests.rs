#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::session::{FileAttachment, PointName, PointValue, RawSession, RawValue, SessionUuid};

fn created(upload: &mut Upload) -> &mut Session {
    let Write::Create(session) = &mut upload.operation else {
        panic!("expected a create");
    };
    session
}

pub(super) fn sample() -> Upload {
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
                    md5: None,
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
fn the_body_fills_a_buffer_of_its_exact_size() {
    let mut upload = sample();
    created(&mut upload).points.insert(
        PointName::parse("big").unwrap(),
        PointValue::Text("x".repeat(3 << 20)),
    );
    let body = upload.encode();
    assert_eq!(body.len(), body.capacity());
    assert_eq!(body, rmp_serde::to_vec_named(&upload).unwrap());
    assert_eq!(Upload::decode_own(&body).unwrap(), upload);
}

#[test]
fn binaries_travel_as_bytes_not_base64() {
    let mut upload = sample();
    let body = upload.encode();
    let file: Vec<u8> = (0..=255).collect();
    assert!(
        body.windows(file.len())
            .any(|window| window == file.as_slice())
    );
    assert!(body.len() < 600, "body is {} bytes", body.len());
    let PointValue::Raw(raw) = &created(&mut upload).points.values().nth(1).unwrap() else {
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
    created(&mut upload).created = -1;
    match Upload::decode(&upload.encode(), &Limits::default()) {
        Err(WireError::Invalid(errors)) => assert!(errors.summary().contains("session[created]")),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn a_create_encodes_as_in_the_first_release() {
    // Version 1 bodies carried `operation: {"Create": session}`; older messages on the
    // queue and in archives must keep decoding, and older consumers must read new creates.
    #[derive(Deserialize)]
    struct FirstRelease {
        version: u32,
        operation: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
    }
    let body: FirstRelease = rmp_serde::from_slice(&sample().encode()).unwrap();
    assert_eq!(body.version, SCHEMA_VERSION);
    let kinds: Vec<&String> = body.operation.keys().collect();
    assert_eq!(kinds, ["Create"]);
}

#[test]
fn other_writes_round_trip_as_version_2_and_are_checked() {
    let uuid = SessionUuid::parse("s-1").unwrap();
    let point = PointName::parse("photo").unwrap();
    let writes = [
        Write::Update(
            RawSession::default()
                .parse_patch(&uuid, &Limits::default(), 5)
                .unwrap(),
        ),
        Write::Delete { uuid: uuid.clone() },
        Write::PutAttachment {
            uuid: uuid.clone(),
            point: point.clone(),
            file: FileAttachment {
                filename: None,
                content_type: "image/png".into(),
                bytes: vec![1, 2],
                md5: None,
            },
        },
        Write::DeleteAttachment {
            uuid: uuid.clone(),
            point,
        },
    ];
    for write in writes {
        let upload = Upload::write(3, Stamp::now("bob"), write);
        assert_eq!(upload.version, WRITES_SCHEMA_VERSION);
        let decoded = Upload::decode(&upload.encode(), &Limits::default()).unwrap();
        assert_eq!(decoded, upload);
        assert_eq!(decoded.uuid(), &uuid);
        // A create-only reader refuses them rather than misreading them.
        assert!(rmp_serde::from_slice::<CreateOnly>(&upload.encode()).is_err());
    }
    let bad = Upload::write(
        3,
        Stamp::now("bob"),
        Write::DeleteAttachment {
            uuid: serde_json::from_value(serde_json::json!("bad uuid")).unwrap(),
            point: serde_json::from_value(serde_json::json!("UPPER")).unwrap(),
        },
    );
    match Upload::decode(&bad.encode(), &Limits::default()) {
        Err(WireError::Invalid(errors)) => {
            let summary = errors.summary();
            assert!(summary.contains("session[uuid]"), "{summary}");
            assert!(summary.contains("session[data][UPPER]"), "{summary}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

/// A message as a consumer that predates the other writes read it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct CreateOnly {
    operation: CreateOperation,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum CreateOperation {
    Create(Session),
}
