//! Multipart uploads as devices send them: a signed POST of a form with file parts.

use super::TestApp;

/// A file part with its name and content type.
pub fn file_part(bytes: Vec<u8>, filename: &str, content_type: &str) -> reqwest::multipart::Part {
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
}
