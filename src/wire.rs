//! One upload as one self-contained queue message, and back.
//!
//! The body is MessagePack with named fields: binary-safe (attachment bytes travel as bytes,
//! not base64), compact, and tolerant of added fields. The body alone is enough to store the
//! upload, so a message taken off the dead-letter queue or out of an archive can be
//! republished as is; the AMQP properties repeat the upload id, receive time, project and
//! schema version for operators and tools.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::{FieldErrors, Limits, Session};

/// The message schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
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
}

/// A write to apply to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Create the session, or replace it whole if its uuid exists in the project.
    Create(Session),
}

/// One accepted upload, as it travels on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Schema version of this body.
    pub version: u32,
    /// Project the upload belongs to.
    pub project_id: i64,
    /// The acceptance stamp.
    pub stamp: Stamp,
    /// What to do.
    pub operation: Operation,
}

/// Why a message body could not be turned into an upload; such a message is dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not a MessagePack upload of any version we know.
    #[error("undecodable message body: {0}")]
    Undecodable(String),
    /// A schema version this build does not read.
    #[error("unsupported schema version {0} (this build reads {SCHEMA_VERSION})")]
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

    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs into a Vec cannot fail.
        rmp_serde::to_vec_named(self).unwrap_or_default()
    }

    /// Decodes a body and re-checks every rule: messages also come from replays and other
    /// publishers, not only from a front that already checked them.
    pub fn decode(body: &[u8], limits: &Limits) -> Result<Self, WireError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let probe: VersionOnly = rmp_serde::from_slice(body)
            .map_err(|error| WireError::Undecodable(error.to_string()))?;
        if probe.version != SCHEMA_VERSION {
            return Err(WireError::UnsupportedVersion(probe.version));
        }
        let upload: Self = rmp_serde::from_slice(body)
            .map_err(|error| WireError::Undecodable(error.to_string()))?;
        if upload.project_id <= 0 {
            return Err(WireError::BadEnvelope("project id must be positive"));
        }
        if upload.stamp.upload_id.get_version_num() != 7 {
            return Err(WireError::BadEnvelope("upload id must be a UUIDv7"));
        }
        if DateTime::from_timestamp_micros(upload.stamp.received_micros).is_none() {
            return Err(WireError::BadEnvelope("receive time out of range"));
        }
        match &upload.operation {
            Operation::Create(session) => session.check(limits).map_err(WireError::Invalid)?,
        }
        Ok(upload)
    }

    /// The session this upload writes.
    pub fn session(&self) -> &Session {
        match &self.operation {
            Operation::Create(session) => session,
        }
    }
}

#[cfg(test)]
mod tests;
