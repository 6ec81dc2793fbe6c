#![allow(clippy::unwrap_used, clippy::panic)]

use super::DecodeError;
use super::attachment::{FIELD, decode};
use super::body::BodyHeaders;
use super::test_support::{BOUNDARY, Part, block_on, chunked_body, multipart_body, text_part};
use crate::session::FileAttachment;

const LIMIT: usize = 1_000;

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Decodes `body` (delivered in 7-byte pieces, so parts straddle chunks) as the attachment
/// route does.
fn run(content_type: Option<&str>, body: &[u8]) -> Result<FileAttachment, DecodeError> {
    let headers = BodyHeaders {
        content_type,
        content_length: None,
    };
    let filename = Some("given.bin".to_owned());
    block_on(decode(headers, chunked_body(body, 7), LIMIT, filename))
}

fn file_part(bytes: &[u8]) -> Part<'_> {
    Part {
        name: FIELD,
        filename: Some("photo.jpg"),
        content_type: Some("image/jpeg"),
        bytes,
    }
}

fn malformed_field(result: Result<FileAttachment, DecodeError>) -> String {
    match result {
        Err(DecodeError::Malformed { field, .. }) => field,
        other => panic!("expected a malformed body, got {other:?}"),
    }
}

#[test]
fn a_raw_body_is_the_file_with_the_requests_content_type_and_the_given_name() {
    let file = run(Some(" image/png "), &[0, 1, 2, 255]).unwrap();
    assert_eq!(file.bytes, vec![0, 1, 2, 255]);
    assert_eq!(file.content_type, "image/png");
    assert_eq!(file.filename.as_deref(), Some("given.bin"));
    let untyped = run(None, b"x").unwrap();
    assert_eq!(untyped.content_type, "application/octet-stream");
    assert_eq!(
        run(Some(""), b"x").unwrap().content_type,
        untyped.content_type
    );
}

#[test]
fn an_empty_raw_body_names_the_attachment_field() {
    assert_eq!(malformed_field(run(Some("image/png"), b"")), FIELD);
}

#[test]
fn a_multipart_body_carries_the_file_in_its_attachment_field() {
    let body = multipart_body(&[text_part("note", "skipped"), file_part(b"\xff\xd8jpeg")]);
    let file = run(Some(&multipart_type()), &body).unwrap();
    assert_eq!(file.bytes, b"\xff\xd8jpeg".to_vec());
    assert_eq!(file.filename.as_deref(), Some("photo.jpg"));
    assert_eq!(file.content_type, "image/jpeg");
    assert_eq!(file.md5, None, "the digest is computed once, by the caller");
}

#[test]
fn a_multipart_body_needs_exactly_one_attachment_field() {
    let none = multipart_body(&[text_part("note", "no file")]);
    assert_eq!(malformed_field(run(Some(&multipart_type()), &none)), FIELD);
    let twice = multipart_body(&[file_part(b"a"), file_part(b"b")]);
    assert_eq!(malformed_field(run(Some(&multipart_type()), &twice)), FIELD);
}

#[test]
fn a_multipart_body_needs_a_boundary_and_well_formed_parts() {
    assert_eq!(
        malformed_field(run(Some("multipart/form-data"), b"x")),
        "body"
    );
    let garbage = format!("--{BOUNDARY}\r\nno headers end");
    let result = run(Some(&multipart_type()), garbage.as_bytes());
    assert_eq!(malformed_field(result), "body");
}

#[test]
fn bodies_past_the_limit_are_too_large_whether_declared_or_streamed() {
    let declared = BodyHeaders {
        content_type: Some("image/png"),
        content_length: Some(LIMIT as u64 + 1),
    };
    let result = block_on(decode(declared, chunked_body(b"x", 1), LIMIT, None));
    assert!(
        matches!(result, Err(DecodeError::TooLarge(_))),
        "{result:?}"
    );
    let big = vec![7_u8; LIMIT + 1];
    assert!(matches!(
        run(Some("image/png"), &big),
        Err(DecodeError::TooLarge(_))
    ));
    let body = multipart_body(&[file_part(&big)]);
    assert!(matches!(
        run(Some(&multipart_type()), &body),
        Err(DecodeError::TooLarge(_))
    ));
}
