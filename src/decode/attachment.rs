//! The body of an attachment write (`PUT …/attachments/{point}`): the file in a multipart
//! field named `attachment`, or the raw body itself with its content type.

use std::error::Error;

use bytes::Bytes;
use http_body_util::{BodyDataStream, Limited};
use hyper::body::Body;
use multer::{Constraints, Multipart, SizeLimit};

use super::DecodeError;
use super::body::{BodyHeaders, collect, refuse_declared};
use super::multipart::{extended_parameter, read, stream_error};
use crate::session::FileAttachment;

/// The multipart field that carries the file.
pub const FIELD: &str = "attachment";
const OCTET_STREAM: &str = "application/octet-stream";

/// Reads the file from a multipart body (field `attachment`, its own file name and content
/// type) or from the raw body (the request's content type, `filename` as given), never
/// reading more than `limit` bytes. `400` naming `attachment` without a file.
pub async fn decode<B>(
    headers: BodyHeaders<'_>,
    body: B,
    limit: usize,
    filename: Option<String>,
) -> Result<FileAttachment, DecodeError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    refuse_declared(headers, limit)?;
    let content_type = headers
        .content_type
        .map(str::trim)
        .filter(|value| !value.is_empty());
    let multipart = content_type
        .filter(|value| value.to_ascii_lowercase().starts_with("multipart/"))
        .map(multer::parse_boundary);
    let limited = Limited::new(body, limit);
    match multipart {
        Some(Ok(boundary)) => from_multipart(limited, boundary, limit as u64).await,
        Some(Err(_)) => Err(DecodeError::malformed(
            "body",
            "multipart/form-data needs a boundary parameter in Content-Type",
        )),
        None => {
            let bytes = collect(limited, headers, limit, FIELD).await?;
            if bytes.is_empty() {
                return Err(DecodeError::malformed(
                    FIELD,
                    "is required: a multipart field named attachment, or a non-empty body",
                ));
            }
            Ok(FileAttachment::new(
                filename,
                content_type.unwrap_or(OCTET_STREAM).to_owned(),
                bytes,
            ))
        }
    }
}

/// The one `attachment` field of a multipart body; other fields are skipped.
async fn from_multipart<B>(
    body: Limited<B>,
    boundary: String,
    limit: u64,
) -> Result<FileAttachment, DecodeError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let size = SizeLimit::new().whole_stream(limit);
    let mut multipart = Multipart::with_constraints(
        BodyDataStream::new(body),
        boundary,
        Constraints::new().size_limit(size),
    );
    let mut found = None;
    while let Some(mut field) = multipart.next_field().await.map_err(stream_error)? {
        if field.name() != Some(FIELD) {
            continue;
        }
        if found.is_some() {
            return Err(DecodeError::malformed(FIELD, "is given more than once"));
        }
        // `filename*=` (RFC 5987) as the create route reads it: non-ASCII names.
        let filename = field
            .file_name()
            .map(str::to_owned)
            .or_else(|| extended_parameter(&field, "filename"));
        let content_type = field
            .content_type()
            .map_or_else(|| OCTET_STREAM.to_owned(), ToString::to_string);
        let bytes = read(&mut field, FIELD, limit).await?;
        found = Some(FileAttachment::new(filename, content_type, bytes));
    }
    found.ok_or_else(|| {
        DecodeError::malformed(FIELD, "is required: a multipart field named attachment")
    })
}
