//! The session as clients read it: RFC 3339 times beside unix seconds, `rawData` points as
//! base64, attachment points described (the bytes come from the attachment route).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::SerializeMap as _;
use serde::{Serialize, Serializer};

use crate::file::FileAttachment;
use crate::ordering::Stamp;
use crate::session::{PointValue, Session, encode_base64};

/// Header in which a front names the upload id it stamped on an accepted write; a client
/// orders its writes to one session by it.
pub const UPLOAD_ID_HEADER: &str = "x-upload-id";

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
    /// Creation time.
    #[serde(flatten)]
    pub created: Time<Created>,
    /// Last save time.
    #[serde(flatten)]
    pub saved: Time<Saved>,
    /// When the front accepted the upload.
    #[serde(flatten)]
    pub received: Time<Received>,
    /// Who sent it (the API user).
    pub received_from: String,
    /// Whether the session is soft-deleted.
    pub is_deleted: bool,
    /// The points by name.
    pub data: BTreeMap<String, PointView>,
}

/// A time as every response shows it: RFC 3339 UTC under the field's name, beside unix
/// seconds under `<name>_timestamp`. `N` names the pair; a struct holds it `flatten`ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time<N> {
    seconds: i64,
    name: PhantomData<N>,
}

impl<N> Time<N> {
    /// The time of unix `seconds`.
    pub fn from_seconds(seconds: i64) -> Self {
        Self {
            seconds,
            name: PhantomData,
        }
    }

    /// The time, to the second.
    pub fn at(time: DateTime<Utc>) -> Self {
        Self::from_seconds(time.timestamp())
    }

    /// Unix seconds.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }
}

/// The two field names of a [`Time`].
pub trait TimeName {
    /// The RFC 3339 field.
    const NAME: &'static str;
    /// The unix seconds field.
    const TIMESTAMP: &'static str;
}

impl<N: TimeName> Serialize for Time<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(N::NAME, &rfc3339(self.seconds))?;
        map.serialize_entry(N::TIMESTAMP, &self.seconds)?;
        map.end()
    }
}

macro_rules! time_names {
    ($($(#[$doc:meta])* $name:ident = $field:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;

        impl TimeName for $name {
            const NAME: &'static str = $field;
            const TIMESTAMP: &'static str = concat!($field, "_timestamp");
        }
    )*};
}

time_names! {
    /// `created` and `created_timestamp`.
    Created = "created";
    /// `saved` and `saved_timestamp`.
    Saved = "saved";
    /// `received` and `received_timestamp`.
    Received = "received";
    /// `first_seen` and `first_seen_timestamp`.
    FirstSeen = "first_seen";
    /// `last_seen` and `last_seen_timestamp`.
    LastSeen = "last_seen";
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

impl From<&PointValue> for PointView {
    fn from(value: &PointValue) -> Self {
        match value {
            PointValue::Text(text) => Self::Text(text.clone()),
            PointValue::Raw(bytes) => Self::Raw {
                raw_data: encode_base64(bytes),
            },
            PointValue::File(file) => describe_file(file),
        }
    }
}

impl SessionView {
    /// The session as it will be stored once the upload with this stamp is written.
    pub fn accepted(session: &Session, stamp: &Stamp) -> Self {
        let data = session
            .points
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), PointView::from(value)))
            .collect();
        Self {
            uuid: session.uuid.as_str().to_owned(),
            unit_id: session.unit_id.as_str().to_owned(),
            created: Time::from_seconds(session.created),
            saved: Time::from_seconds(session.saved),
            received: Time::from_seconds(stamp.received_seconds()),
            received_from: stamp.received_from.clone(),
            is_deleted: false,
            data,
        }
    }
}
