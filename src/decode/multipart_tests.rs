#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;

use super::test_support::{
    BOUNDARY, EXAMPLE_SKETCH, Part, decode_multipart, decode_stream, example_session, messages,
    multipart_body, parse, point, text_part,
};
use super::{DecodeError, MultipartLimits};
use crate::session::{FileAttachment, PointValue, RawSession, RawValue};

fn decode(body: &[u8]) -> Result<RawSession, DecodeError> {
    decode_multipart(body, BOUNDARY, 7, &MultipartLimits::default())
}

fn malformed_field(result: Result<RawSession, DecodeError>) -> String {
    match result {
        Err(DecodeError::Malformed { field, .. }) => field,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn all_bytes() -> Vec<u8> {
    (0..=255_u8).chain((0..=255_u8).rev()).collect()
}

#[test]
fn example_fields_and_a_binary_file_decode_exactly() {
    let binary = all_bytes();
    let body = multipart_body(&[
        text_part("session[uuid]", "12341234-12341234-1234-1234-123412341234"),
        text_part("session[unit_id]", "mydevice"),
        text_part("session[created]", "1234567890"),
        text_part("session[saved]", "1234567890"),
        text_part("session[data][point1]", "value1"),
        text_part("session[data][Point2]", "value2"),
        text_part("session[data][sketch1][rawData]", "base-64-data-goes-here"),
        Part {
            name: "session[data][photo1]",
            filename: Some("a b.jpg"),
            content_type: Some("image/jpeg"),
            bytes: &binary,
        },
    ]);
    for chunk in [1, 3, 64, body.len()] {
        let raw = decode_multipart(&body, BOUNDARY, chunk, &MultipartLimits::default()).unwrap();
        assert!(raw.errors.is_empty());
        let mut want = example_session();
        let file = FileAttachment {
            filename: Some("a b.jpg".into()),
            content_type: "image/jpeg".into(),
            bytes: binary.clone(),
            md5: None,
        };
        want.points.insert(point("photo1"), PointValue::File(file));
        assert_eq!(parse(raw).unwrap(), want, "chunk {chunk}");
    }
    assert_eq!(EXAMPLE_SKETCH.len(), 16);
}

#[test]
fn file_defaults_and_the_empty_file_input() {
    let body = multipart_body(&[
        Part {
            name: "session[data][f]",
            filename: Some("x"),
            content_type: None,
            bytes: b"",
        },
        Part {
            name: "session[data][g]",
            filename: Some(""),
            content_type: None,
            bytes: b"",
        },
        Part {
            name: "session[data][h]",
            filename: Some(""),
            content_type: None,
            bytes: b"z",
        },
    ]);
    let raw = decode(&body).unwrap();
    let file = |filename: Option<&str>, bytes: &[u8]| {
        RawValue::File(FileAttachment {
            filename: filename.map(str::to_owned),
            content_type: "application/octet-stream".into(),
            bytes: bytes.to_vec(),
            md5: None,
        })
    };
    assert_eq!(
        raw.points,
        vec![
            ("f".into(), file(Some("x"), b"")),
            ("h".into(), file(None, b"z"))
        ]
    );
}

#[test]
fn text_parts_must_be_utf8_and_files_elsewhere_are_errors() {
    let body = multipart_body(&[Part {
        name: "session[data][p]",
        filename: None,
        content_type: None,
        bytes: b"a\xffb",
    }]);
    assert_eq!(malformed_field(decode(&body)), "session[data][p]");
    let body = multipart_body(&[
        Part {
            name: "session[unit_id]",
            filename: Some("u.txt"),
            content_type: None,
            bytes: b"u",
        },
        Part {
            name: "session[data][s][rawData]",
            filename: Some("s"),
            content_type: None,
            bytes: b"AA",
        },
        Part {
            name: "other",
            filename: None,
            content_type: None,
            bytes: b"\xff",
        },
        Part {
            name: "session[foo]",
            filename: Some("f"),
            content_type: None,
            bytes: b"\xff",
        },
    ]);
    let raw = decode(&body).unwrap();
    assert!(raw.unit_id.is_none() && raw.points.is_empty());
    assert_eq!(
        messages(&raw.errors, "session[unit_id]"),
        ["must be text, not a file"]
    );
    assert_eq!(messages(&raw.errors, "session[data][s][rawData]").len(), 1);
}

#[test]
fn the_last_repeated_part_wins_and_bad_names_are_errors() {
    let body = multipart_body(&[
        text_part("session[unit_id]", "a"),
        text_part("session[unit_id]", "b"),
        text_part("session[data][p]", "1"),
        Part {
            name: "session[data][p]",
            filename: Some("f"),
            content_type: None,
            bytes: b"2",
        },
        text_part("session[data][p][x]", "3"),
    ]);
    let raw = decode(&body).unwrap();
    assert_eq!(raw.unit_id.as_deref(), Some("b"));
    assert!(
        matches!(&raw.points[..], [(name, RawValue::File(file))] if name == "p" && file.bytes == b"2")
    );
    assert_eq!(raw.repeated.count, 2);
    assert_eq!(raw.errors.iter().count(), 1);
    assert_eq!(messages(&raw.errors, "session[data][p][x]").len(), 1);
}

#[test]
fn truncated_or_foreign_bodies_are_malformed() {
    let body = multipart_body(&[
        text_part("session[unit_id]", "u"),
        text_part("session[data][p]", "v"),
    ]);
    for cut in [10, body.len() / 2, body.len() - 12] {
        assert_eq!(
            malformed_field(decode(&body[..cut])),
            "body",
            "cut at {cut}"
        );
    }
    let limits = MultipartLimits::default();
    assert_eq!(
        malformed_field(decode_multipart(&body, "other-boundary", 5, &limits)),
        "body"
    );
    assert_eq!(malformed_field(decode(b"session[unit_id]=u")), "body");
    let bad_header = format!("--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--{BOUNDARY}--\r\n");
    assert_eq!(malformed_field(decode(bad_header.as_bytes())), "body");
}

#[test]
fn size_and_part_limits() {
    let limits = MultipartLimits {
        max_body_bytes: 1000,
        max_text_field_bytes: 10,
        max_parts: 3,
        max_points: 3,
    };
    let run = |parts: &[Part<'_>]| decode_multipart(&multipart_body(parts), BOUNDARY, 9, &limits);
    assert!(run(&[text_part("session[unit_id]", "0123456789")]).is_ok());
    let too_long = run(&[text_part("session[unit_id]", "0123456789a")]);
    assert!(
        matches!(too_long, Err(DecodeError::TooLarge(_))),
        "{too_long:?}"
    );
    let big_file = vec![7_u8; 700];
    let file = Part {
        name: "session[data][f]",
        filename: Some("f"),
        content_type: None,
        bytes: &big_file,
    };
    assert!(run(&[file]).is_ok());
    let bigger = vec![7_u8; 1000];
    let file = Part {
        name: "session[data][f]",
        filename: Some("f"),
        content_type: None,
        bytes: &bigger,
    };
    assert!(matches!(run(&[file]), Err(DecodeError::TooLarge(_))));
    let four = [
        text_part("a", ""),
        text_part("b", ""),
        text_part("c", ""),
        text_part("d", ""),
    ];
    let Err(DecodeError::Malformed { field, message }) = run(&four) else {
        panic!("four parts")
    };
    assert_eq!(
        (field.as_str(), message.contains("too many parts")),
        ("body", true)
    );
    assert!(run(&four[..3]).is_ok());
}

#[test]
fn stream_errors_map_to_too_large_or_malformed() {
    let head = || {
        Ok(Bytes::from(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx"
        )))
    };
    let limits = MultipartLimits::default();
    let limit_error = std::io::Error::other("length limit exceeded");
    let result = decode_stream(vec![head(), Err(limit_error)], BOUNDARY, &limits);
    assert!(
        matches!(result, Err(DecodeError::TooLarge(_))),
        "{result:?}"
    );
    let wrapped = std::io::Error::other(std::io::Error::other("length limit exceeded"));
    let result = decode_stream(vec![head(), Err(wrapped)], BOUNDARY, &limits);
    assert!(
        matches!(result, Err(DecodeError::TooLarge(_))),
        "{result:?}"
    );
    let reset = std::io::Error::other("connection reset");
    let result = decode_stream(vec![head(), Err(reset)], BOUNDARY, &limits);
    let Err(DecodeError::Malformed { field, message }) = result else {
        panic!("{result:?}")
    };
    assert_eq!(field, "body");
    assert!(message.contains("connection reset"), "{message}");
}

#[test]
fn the_decode_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let stream = futures_util::stream::iter(Vec::<Result<Bytes, std::io::Error>>::new());
    let limits = MultipartLimits::default();
    let future = super::multipart::decode(stream, BOUNDARY.to_owned(), &limits);
    assert_send(&future);
}

#[tokio::test]
async fn extended_names_are_read_and_nameless_parts_refused() {
    let body = "--b\r\nContent-Disposition: form-data; name=\"session[unit_id]\"\r\n\r\na\r\n\
                --b\r\nContent-Disposition: form-data; name*=utf-8''session%5Bdata%5D%5Bp%20%C3%A9%5D\r\n\r\nv\r\n\
                --b\r\nContent-Disposition: form-data; name=\"session[data][f]\"; filename*=UTF-8''caf%C3%A9.txt\r\n\r\nx\r\n--b--\r\n";
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(body))]);
    let raw = super::multipart::decode(stream, "b".into(), &MultipartLimits::default())
        .await
        .unwrap();
    assert_eq!(
        raw.points[0],
        ("p é".to_owned(), RawValue::Text("v".into()))
    );
    let RawValue::File(file) = &raw.points[1].1 else {
        panic!("expected a file: {raw:?}");
    };
    assert_eq!(file.filename.as_deref(), Some("café.txt"));

    let nameless = "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--\r\n";
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(nameless))]);
    let error = super::multipart::decode(stream, "b".into(), &MultipartLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DecodeError::Malformed { ref field, .. } if field == "body"),
        "{error:?}"
    );
}
