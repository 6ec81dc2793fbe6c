//! Multipart uploads as devices send them: a signed POST of a form with file parts.

use std::borrow::Cow;

use super::{StoredSession, TestApp, read};

/// A file part with its name and content type.
pub fn file_part(
    bytes: impl Into<Cow<'static, [u8]>>,
    filename: &str,
    content_type: &str,
) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(filename.to_owned())
        .mime_str(content_type)
        .unwrap()
}

impl TestApp {
    /// POSTs `form` to the project's sessions, signed.
    pub async fn post_multipart(&self, form: reqwest::multipart::Form) -> reqwest::Response {
        self.signed(self.http.post(self.sessions_url()))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs `form`, checks the front accepted it, and waits until session `uuid` is stored.
    pub async fn post_multipart_stored(
        &self,
        form: reqwest::multipart::Form,
        uuid: &str,
    ) -> StoredSession {
        let (status, body) = read(self.post_multipart(form).await).await;
        assert_eq!(status, 202, "{body}");
        self.stored(uuid).await
    }
}
