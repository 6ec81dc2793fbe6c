//! The session as clients read it: RFC 3339 times beside unix seconds, `rawData` points as
//! base64, attachment points described (the bytes come from the attachment route).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::file::FileAttachment;
use crate::ordering::Stamp;
use crate::session::{PointValue, Session, encode_base64};

/// One point in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PointView {
    /// A text value.
    Text(String),
    /// An embedded binary.
    Raw {
        /// The bytes, standard base64.
        #[serde(rename = "rawData")]
        raw_data: String,
    },
    /// A file attachment's description.
    File {
        /// The uploaded file name.
        filename: Option<String>,
        /// The uploaded content type.
        content_type: String,
        /// Size in bytes.
        length: u64,
        /// MD5 of the bytes, lower-case hex.
        md5: String,
    },
}

/// A session in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The session uuid.
    pub uuid: String,
    /// The device.
    pub unit_id: String,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// Creation time, unix seconds.
    pub created_timestamp: i64,
    /// Last save time, RFC 3339 UTC.
    pub saved: String,
    /// Last save time, unix seconds.
    pub saved_timestamp: i64,
    /// When the front accepted the upload, RFC 3339 UTC.
    pub received: String,
    /// When the front accepted the upload, unix seconds.
    pub received_timestamp: i64,
    /// Who sent it (the API user).
    pub received_from: String,
    /// Whether the session is soft-deleted.
    pub is_deleted: bool,
    /// The points by name.
    pub data: BTreeMap<String, PointView>,
}

/// RFC 3339 in UTC with whole seconds, e.g. `2009-02-13T23:31:30Z`.
pub fn rfc3339(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Describes a file the way reads and attachment writes report it.
pub fn describe_file(file: &FileAttachment) -> PointView {
    PointView::File {
        filename: file.filename.clone(),
        content_type: file.content_type.clone(),
        length: file.bytes.len() as u64,
        md5: hex::encode(file.md5()),
    }
}

impl SessionView {
    /// The session as it will be stored once the upload with this stamp is written.
    pub fn accepted(session: &Session, stamp: &Stamp) -> Self {
        let received = stamp.received_seconds();
        let data = session
            .points
            .iter()
            .map(|(name, value)| {
                let view = match value {
                    PointValue::Text(text) => PointView::Text(text.clone()),
                    PointValue::Raw(bytes) => PointView::Raw {
                        raw_data: encode_base64(bytes),
                    },
                    PointValue::File(file) => describe_file(file),
                };
                (name.as_str().to_owned(), view)
            })
            .collect();
        Self {
            uuid: session.uuid.as_str().to_owned(),
            unit_id: session.unit_id.as_str().to_owned(),
            created: rfc3339(session.created),
            created_timestamp: session.created,
            saved: rfc3339(session.saved),
            saved_timestamp: session.saved,
            received: rfc3339(received),
            received_timestamp: received,
            received_from: stamp.received_from.clone(),
            is_deleted: false,
            data,
        }
    }
}
