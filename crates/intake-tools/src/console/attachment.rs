//! GET /projects/{project_id}/sessions/{uuid}/attachments/{point}: one attachment's bytes,
//! with its content type, a Content-Disposition naming the file (inline only for images),
//! no sniffing, and a sandbox CSP so that nothing uploaded ever runs as the console.

use axum::extract::{Path, State as Shared};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use intake::store::read;

use super::{State, layout};

/// The image type of `bytes` by their magic number (PNG, JPEG, GIF, WebP).
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The type an attachment is served (and shown) as, and whether it is an image: a file's
/// own content type, or for a `rawData` the image type its bytes show.
pub fn served_type(embedded: bool, content_type: &str, head: &[u8]) -> (String, bool) {
    if let Some(image) = sniff_image(head) {
        return (image.to_owned(), true);
    }
    let lower = content_type.trim().to_ascii_lowercase();
    if !embedded && lower.starts_with("image/") {
        return (lower, true);
    }
    if embedded || lower.is_empty() {
        return ("application/octet-stream".to_owned(), false);
    }
    (lower, false)
}

/// `Content-Disposition` for `filename`: an ASCII fallback and the UTF-8 name.
fn disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// GET the bytes.
pub async fn download(
    Shared(state): Shared<State>,
    Path((project_id, uuid, point)): Path<(i64, String, String)>,
) -> Response {
    let (uuid_q, point_q) = (uuid.clone(), point.clone());
    let found = state
        .store
        .run(move |conn| read::load_attachment(conn, project_id, &uuid_q, &point_q, true))
        .await;
    let file = match found {
        Ok(Some(file)) => file,
        Ok(None) => {
            return layout::json_error(
                StatusCode::NOT_FOUND,
                &format!("no attachment {point:?} in session {uuid:?} of project {project_id}"),
            );
        }
        Err(error) => {
            return layout::json_error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
        }
    };
    let embedded = file.filename.is_none() && file.content_type == "application/octet-stream";
    let (content_type, image) = served_type(embedded, &file.content_type, &file.bytes);
    let filename = file.filename.clone().unwrap_or_else(|| point.clone());
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(value) = HeaderValue::from_str(&disposition(image, &filename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes_or_their_file_type() {
        assert_eq!(
            served_type(true, "application/octet-stream", b"\x89PNG\r\n\x1a\n...").0,
            "image/png"
        );
        assert_eq!(
            served_type(true, "application/octet-stream", b"RIFF1234WEBPVP8 ").0,
            "image/webp"
        );
        assert_eq!(
            served_type(false, "image/jpeg", b"whatever"),
            ("image/jpeg".into(), true)
        );
        assert_eq!(
            served_type(false, "text/html", b"<script>"),
            ("text/html".into(), false)
        );
        assert_eq!(
            served_type(true, "text/html", b"<script>").0,
            "application/octet-stream"
        );
        assert_eq!(
            disposition(false, "a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b%2Etxt"
        );
    }
}
