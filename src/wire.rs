//! One accepted write as one self-contained queue message, and back.
//!
//! The body is MessagePack with named fields: binary-safe (attachment bytes travel as bytes,
//! not base64), compact, and tolerant of added fields. The body alone is enough to store the
//! write, so a message taken off the dead-letter queue or out of an archive can be
//! republished as is; the AMQP properties repeat the upload id, receive time, project and
//! schema version for operators and tools.
//!
//! A create travels as an [`Upload`] (of [`Operation`]), byte for byte as before the other
//! writes existed, with schema version 1. Updates, deletes and attachment changes are
//! [`Write`]s with schema version 2, so a consumer that predates them dead-letters them with
//! a clear reason instead of misreading them. Consumers decode every message as an
//! `Upload<Write>`: a create encodes identically under both types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::patch::Patch;
use crate::session::{
    FieldErrors, FileAttachment, Limits, PointName, Session, SessionUuid, check_file,
    check_point_name, field_name, point_field_name,
};

/// The message schema of creates (unchanged since the first release).
pub const SCHEMA_VERSION: u32 = 1;
/// The message schema of the other writes (update, delete, attachment changes).
pub const WRITES_SCHEMA_VERSION: u32 = 2;
/// Content type of a message body.
pub const CONTENT_TYPE: &str = "application/vnd.intake.upload+msgpack";
/// Header carrying [`SCHEMA_VERSION`].
pub const SCHEMA_HEADER: &str = "x-intake-schema";
/// Header carrying the project id.
pub const PROJECT_HEADER: &str = "x-intake-project";

/// What a front stamps on every upload it accepts: the order of acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Time-ordered (UUIDv7) id of this upload; breaks ties between equal receive times.
    pub upload_id: Uuid,
    /// When the front received the upload, microseconds since the epoch.
    pub received_micros: i64,
    /// The authenticated principal that sent it.
    pub received_from: String,
}

impl Stamp {
    /// Stamps an upload received now from `principal`. The receive time is read off the
    /// upload id itself, so ordering by `(received, upload_id)` and ordering by upload id
    /// agree, and a client can order its uploads by the `X-Upload-Id` it was given.
    pub fn now(principal: &str) -> Self {
        let upload_id = Uuid::now_v7();
        let received_micros = upload_id.get_timestamp().map_or_else(
            || Utc::now().timestamp_micros(),
            |timestamp| {
                let (seconds, nanos) = timestamp.to_unix();
                i64::try_from(seconds)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000)
                    + i64::from(nanos / 1_000)
            },
        );
        Self {
            upload_id,
            received_micros,
            received_from: principal.to_owned(),
        }
    }

    /// The receive time.
    pub fn received(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.received_micros).unwrap_or_default()
    }

    /// The receive time in whole unix seconds.
    pub fn received_seconds(&self) -> i64 {
        self.received_micros.div_euclid(1_000_000)
    }

    /// The acceptance order of this write.
    pub fn order(&self) -> Order {
        Order(self.received_micros, self.upload_id)
    }
}

/// Acceptance order: receive time in microseconds, then the upload id. Writes apply in this
/// order whatever order consumers see them in. Stored as `[micros, "uuid"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Order(pub i64, pub Uuid);

impl Order {
    /// The receive time.
    pub fn received(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }
}

/// What a create upload carries (the first message type; see [`Write`] for all of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Create the session, or replace it whole if its uuid exists in the project.
    Create(Session),
}

/// Any write to a session. `Create` encodes exactly like [`Operation::Create`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    /// Create the session, or replace it whole if its uuid exists in the project.
    Create(Session),
    /// Change only the given fields and points.
    Update(Patch),
    /// Soft-delete the session.
    Delete {
        /// The session.
        uuid: SessionUuid,
    },
    /// Replace one point's attachment.
    PutAttachment {
        /// The session.
        uuid: SessionUuid,
        /// The point.
        point: PointName,
        /// The new file.
        file: FileAttachment,
    },
    /// Remove one point's attachment.
    DeleteAttachment {
        /// The session.
        uuid: SessionUuid,
        /// The point.
        point: PointName,
    },
}

impl Write {
    /// The session this write is about.
    pub fn uuid(&self) -> &SessionUuid {
        match self {
            Self::Create(session) => &session.uuid,
            Self::Update(patch) => &patch.uuid,
            Self::Delete { uuid }
            | Self::PutAttachment { uuid, .. }
            | Self::DeleteAttachment { uuid, .. } => uuid,
        }
    }

    /// The schema version a message carrying this write has.
    pub fn schema_version(&self) -> u32 {
        match self {
            Self::Create(_) => SCHEMA_VERSION,
            _ => WRITES_SCHEMA_VERSION,
        }
    }

    /// Re-applies the session rules to a write that arrived from the queue.
    pub fn check(&self, limits: &Limits) -> Result<(), FieldErrors> {
        let (uuid, point, file) = match self {
            Self::Create(session) => return session.check(limits),
            Self::Update(patch) => return patch.check(limits),
            Self::Delete { uuid } => (uuid, None, None),
            Self::PutAttachment { uuid, point, file } => (uuid, Some(point), Some(file)),
            Self::DeleteAttachment { uuid, point } => (uuid, Some(point), None),
        };
        let mut errors = FieldErrors::default();
        if let Err(message) = SessionUuid::parse(uuid.as_str()) {
            errors.add(field_name("uuid"), message);
        }
        if let Some(point) = point {
            let field = point_field_name(point.as_str());
            if let Err(message) = check_point_name(point) {
                errors.add(field.clone(), message);
            }
            if let Some(Err(message)) = file.map(check_file) {
                errors.add(field, message);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// One accepted write, as it travels on the queue. `Upload` alone is a create upload;
/// `Upload<Write>` is any write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload<Op = Operation> {
    /// Schema version of this body.
    pub version: u32,
    /// Project the upload belongs to.
    pub project_id: i64,
    /// The acceptance stamp.
    pub stamp: Stamp,
    /// What to do.
    pub operation: Op,
}

/// Why a message body could not be turned into an upload; such a message is dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not a MessagePack upload of any version we know.
    #[error("undecodable message body: {0}")]
    Undecodable(String),
    /// A schema version this build does not read.
    #[error(
        "unsupported schema version {0} (this build reads {SCHEMA_VERSION} and {WRITES_SCHEMA_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// Decoded, but breaks the session rules.
    #[error("invalid session: {}", .0.summary())]
    Invalid(FieldErrors),
    /// Decoded, but the stamp or project cannot be right.
    #[error("invalid message: {0}")]
    BadEnvelope(&'static str),
}

impl Upload {
    /// A create upload of the current schema.
    pub fn create(project_id: i64, stamp: Stamp, session: Session) -> Self {
        Self {
            version: SCHEMA_VERSION,
            project_id,
            stamp,
            operation: Operation::Create(session),
        }
    }

    /// The session this upload writes.
    pub fn session(&self) -> &Session {
        match &self.operation {
            Operation::Create(session) => session,
        }
    }
}

impl<Op: Serialize> Upload<Op> {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs into a Vec cannot fail.
        rmp_serde::to_vec_named(self).unwrap_or_default()
    }
}

impl From<Upload> for Upload<Write> {
    fn from(upload: Upload) -> Self {
        let Operation::Create(session) = upload.operation;
        Self {
            version: upload.version,
            project_id: upload.project_id,
            stamp: upload.stamp,
            operation: Write::Create(session),
        }
    }
}

impl Upload<Write> {
    /// A message for any write, with the schema version its kind needs.
    pub fn write(project_id: i64, stamp: Stamp, write: Write) -> Self {
        Self {
            version: write.schema_version(),
            project_id,
            stamp,
            operation: write,
        }
    }

    /// Decodes a body of either schema version and re-checks every rule: messages also
    /// come from replays and other publishers, not only from a front that already checked
    /// them.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self, WireError> {
        let supported = |version: u32| (SCHEMA_VERSION..=WRITES_SCHEMA_VERSION).contains(&version);
        // One pass for the common case; only a body that fails is read again, for its version,
        // so an unknown schema is reported as such rather than as undecodable.
        let upload: Self = match rmp_serde::from_slice(body) {
            Ok(upload) => upload,
            Err(error) => {
                #[derive(Deserialize)]
                struct VersionOnly {
                    version: u32,
                }
                return Err(match rmp_serde::from_slice::<VersionOnly>(body) {
                    Ok(probe) if !supported(probe.version) => {
                        WireError::UnsupportedVersion(probe.version)
                    }
                    _ => WireError::Undecodable(error.to_string()),
                });
            }
        };
        if !supported(upload.version) {
            return Err(WireError::UnsupportedVersion(upload.version));
        }
        if upload.project_id <= 0 {
            return Err(WireError::BadEnvelope("project id must be positive"));
        }
        if upload.stamp.upload_id.get_version_num() != 7 {
            return Err(WireError::BadEnvelope("upload id must be a UUIDv7"));
        }
        if DateTime::from_timestamp_micros(upload.stamp.received_micros).is_none() {
            return Err(WireError::BadEnvelope("receive time out of range"));
        }
        upload.operation.check(limits).map_err(WireError::Invalid)?;
        Ok(upload)
    }

    /// The session this write is about.
    pub fn uuid(&self) -> &SessionUuid {
        self.operation.uuid()
    }
}

#[cfg(test)]
mod tests;
