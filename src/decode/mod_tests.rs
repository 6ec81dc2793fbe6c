#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{BodyKind, DecodeError, body_kind};

#[test]
fn accepted_media_types_ignore_case_and_parameters() {
    for value in [
        "application/json",
        "Application/JSON; charset=utf-8",
        " application/json ;x=y",
    ] {
        assert_eq!(body_kind(Some(value)).unwrap(), BodyKind::Json, "{value}");
    }
    for value in [
        "application/x-www-form-urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED;charset=UTF-8",
    ] {
        assert_eq!(body_kind(Some(value)).unwrap(), BodyKind::Form, "{value}");
    }
    let cases = [
        ("multipart/form-data; boundary=abc", "abc"),
        (
            "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\"",
            "a b:c",
        ),
        (
            "multipart/form-data;boundary=----WebKitFormBoundary7MA4",
            "----WebKitFormBoundary7MA4",
        ),
    ];
    for (value, boundary) in cases {
        let want = BodyKind::Multipart {
            boundary: boundary.into(),
        };
        assert_eq!(body_kind(Some(value)).unwrap(), want, "{value}");
    }
}

#[test]
fn other_media_types_are_unsupported_and_named() {
    assert!(matches!(
        body_kind(None),
        Err(DecodeError::UnsupportedMediaType(_))
    ));
    assert!(matches!(
        body_kind(Some("")),
        Err(DecodeError::UnsupportedMediaType(_))
    ));
    for value in [
        "text/plain",
        "application/jsonx",
        "application/octet-stream; x=1",
        "multipart/mixed; boundary=a",
    ] {
        let Err(DecodeError::UnsupportedMediaType(message)) = body_kind(Some(value)) else {
            panic!("{value} was accepted");
        };
        let media_type = value.split(';').next().unwrap();
        assert!(message.contains(media_type), "{message}");
    }
}

#[test]
fn multipart_without_boundary_is_malformed() {
    for value in [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; charset=utf-8",
    ] {
        assert!(
            matches!(body_kind(Some(value)), Err(DecodeError::Malformed { field, .. }) if field == "body"),
            "{value}"
        );
    }
}
