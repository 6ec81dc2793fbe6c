#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

fn raw(unit_id: &str) -> RawSession {
    RawSession {
        unit_id: Some(unit_id.into()),
        ..RawSession::default()
    }
}

fn errors_of(raw: RawSession) -> Vec<String> {
    let errors = raw.parse(&Limits::default(), 100).unwrap_err();
    errors.iter().map(|(field, _)| field.clone()).collect()
}

#[test]
fn defaults_fill_in_uuid_and_times() {
    let session = raw("unit").parse(&Limits::default(), 1_234).unwrap();
    assert_eq!((session.created, session.saved), (1_234, 1_234));
    assert!(uuid::Uuid::parse_str(session.uuid.as_str()).is_ok());
}

#[test]
fn mda_style_uuids_are_kept_as_given() {
    let uuid = SessionUuid::parse("12341234-12341234-1234-1234-123412341234").unwrap();
    assert_eq!(uuid.as_str(), "12341234-12341234-1234-1234-123412341234");
    assert!(SessionUuid::parse("{a.b:c_d}").is_ok());
    for bad in ["", "has space", "slash/", "é", &"x".repeat(129)] {
        assert!(SessionUuid::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn unit_ids_and_point_names_refuse_control_characters() {
    assert!(UnitId::parse("tablet 7 ünï").is_ok());
    assert!(UnitId::parse("a\nb").is_err());
    assert!(UnitId::parse("").is_err());
    assert_eq!(PointName::parse("Photo1").unwrap().as_str(), "photo1");
    assert!(PointName::parse("a[b").is_err());
    assert!(PointName::parse("a\u{7f}").is_err());
    assert!(PointName::parse(&"n".repeat(128)).is_ok());
    assert!(PointName::parse(&"n".repeat(129)).is_err());
}

#[test]
fn times_are_unix_seconds_within_range() {
    assert_eq!(parse_unix_seconds("0"), Ok(0));
    assert_eq!(parse_unix_seconds("253402300799"), Ok(MAX_UNIX_SECONDS));
    for bad in [
        "-1",
        "253402300800",
        "1.5",
        "1e9",
        "",
        "12a",
        "99999999999999999999999",
    ] {
        assert!(parse_unix_seconds(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn base64_is_decoded_leniently() {
    assert_eq!(decode_base64("AAEC").unwrap(), vec![0, 1, 2]);
    assert_eq!(decode_base64("AAE").unwrap(), vec![0, 1]);
    assert_eq!(
        decode_base64("-_8=").unwrap(),
        decode_base64("+/8=").unwrap()
    );
    assert_eq!(
        decode_base64("A /A").unwrap(),
        decode_base64("A+/A").unwrap()
    );
    assert_eq!(
        decode_base64("AAEC\r\nAAEC").unwrap(),
        vec![0, 1, 2, 0, 1, 2]
    );
    assert_eq!(decode_base64("base-64-data-goes-here").unwrap().len(), 16);
    assert!(decode_base64("***").is_err());
    assert!(decode_base64("A").is_err());
}

#[test]
fn every_invalid_field_is_reported_at_once() {
    let mut session = RawSession {
        uuid: Some("bad uuid".into()),
        created: Some("yesterday".into()),
        saved: Some("-3".into()),
        ..RawSession::default()
    };
    session.points = vec![
        ("Good".into(), RawValue::Text("x".into())),
        ("GOOD".into(), RawValue::Text("y".into())),
        ("pic".into(), RawValue::RawData("%%%".into())),
        ("list".into(), RawValue::Invalid("must be text".into())),
        ("nul".into(), RawValue::Text("a\0b".into())),
    ];
    let fields = errors_of(session);
    for expected in [
        "session[uuid]",
        "session[unit_id]",
        "session[created]",
        "session[saved]",
        "session[data][GOOD]",
        "session[data][pic]",
        "session[data][list]",
        "session[data][nul]",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
}

#[test]
fn size_limits_apply() {
    let limits = Limits {
        max_points: 2,
        max_text_bytes: 4,
        max_raw_bytes: 2,
    };
    let mut session = raw("u");
    session.points = vec![("a".into(), RawValue::Text("12345".into()))];
    assert!(session.clone().parse(&limits, 0).is_err());
    session.points = vec![("a".into(), RawValue::RawData("AAEC".into()))];
    assert!(session.clone().parse(&limits, 0).is_err());
    session.points = (0..3)
        .map(|i| (format!("p{i}"), RawValue::Text(String::new())))
        .collect();
    let errors = session.parse(&limits, 0).unwrap_err();
    assert!(errors.iter().any(|(field, _)| field == "session[data]"));
}

#[test]
fn check_accepts_what_parse_made_and_refuses_tampering() {
    let mut session = raw("u");
    session.points = vec![("__timezone__".into(), RawValue::Text("36000".into()))];
    let parsed = session.parse(&Limits::default(), 5).unwrap();
    assert_eq!(parsed.check(&Limits::default()), Ok(()));
    assert_eq!(parsed.timezone_offset(), Some(36_000));

    let tampered: Session = serde_json::from_value(serde_json::json!({
        "uuid": "u 1", "unit_id": "", "created": -1, "saved": 0,
        "points": {"UPPER": {"Text": "x"}}
    }))
    .unwrap();
    let errors = tampered.check(&Limits::default()).unwrap_err();
    let fields: Vec<&String> = errors.iter().map(|(field, _)| field).collect();
    assert_eq!(fields.len(), 4, "{fields:?}");
}

#[test]
fn a_non_integer_timezone_is_only_a_point() {
    let mut session = raw("u");
    session.points = vec![("__TimeZone__".into(), RawValue::Text("UTC+10".into()))];
    let parsed = session.parse(&Limits::default(), 5).unwrap();
    assert_eq!(parsed.timezone_offset(), None);
    assert_eq!(parsed.points.len(), 1);
}

#[test]
fn point_name_rules_apply_to_the_lower_cased_name() {
    // `İ` lower-cases to two characters: 100 as sent are 200 as stored.
    let dotted = "İ".repeat(100);
    assert!(PointName::parse(&dotted).is_err());
    assert_eq!(
        PointName::parse(&"İ".repeat(64))
            .unwrap()
            .as_str()
            .chars()
            .count(),
        128
    );
    let mut raw = raw("u");
    raw.points.push((dotted, RawValue::Text("x".into())));
    assert_eq!(errors_of(raw).len(), 1);
}

#[test]
fn file_names_and_content_types_are_bounded() {
    let file = |name: &str, content_type: &str| {
        FileAttachment::new(Some(name.into()), content_type.into(), vec![1])
    };
    assert!(check_file(&file(&"n".repeat(255), &"t".repeat(255))).is_ok());
    assert!(check_file(&file(&"n".repeat(256), "text/plain")).is_err());
    assert!(check_file(&file("a.txt", &"t".repeat(256))).is_err());
}

#[test]
fn decoders_keep_one_point_past_the_limit_at_most() {
    let mut raw = raw("u");
    for i in 0..10 {
        raw.push_point(format!("p{i}"), RawValue::Text(String::new()), 3);
    }
    assert_eq!(raw.points.len(), 4);
    assert!(raw.has_too_many_points(3));
    let limits = Limits {
        max_points: 3,
        ..Limits::default()
    };
    let errors = raw.parse(&limits, 100).unwrap_err();
    assert_eq!(
        errors.summary(),
        "session[data]: must have at most 3 points"
    );
}
