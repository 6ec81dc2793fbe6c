//! One accepted write as one self-contained queue message, and back.
//!
//! The body is MessagePack with named fields: binary-safe (attachment bytes travel as bytes,
//! not base64), compact, and tolerant of added fields. The body alone is enough to store the
//! write, so a message taken off the dead-letter queue or out of an archive can be
//! republished as is; the AMQP properties repeat the upload id, receive time, project and
//! schema version for operators and tools.
//!
//! A create travels with schema version 1, byte for byte as before the other writes
//! existed. Updates, deletes and attachment changes carry schema version 2, so a consumer
//! that predates them dead-letters them with a clear reason instead of misreading them.

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::ordering::Stamp;
use crate::session::write::Write;
use crate::session::{FieldErrors, Limits, Session, SessionUuid};

pub mod group;
pub use group::{GROUP_SCHEMA_VERSION, encode_group, split_bodies};

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

/// One accepted write, as it travels on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Schema version of this body.
    pub version: u32,
    /// Project the upload belongs to.
    pub project_id: i64,
    /// The acceptance stamp.
    pub stamp: Stamp,
    /// What to do.
    pub operation: Write,
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

/// The schema version a message carrying `write` has.
pub fn schema_version(write: &Write) -> u32 {
    match write {
        Write::Create(_) => SCHEMA_VERSION,
        _ => WRITES_SCHEMA_VERSION,
    }
}

impl Upload {
    /// A message for any write, with the schema version its kind needs.
    pub fn write(project_id: i64, stamp: Stamp, write: Write) -> Self {
        Self {
            version: schema_version(&write),
            project_id,
            stamp,
            operation: write,
        }
    }

    /// A create message.
    pub fn create(project_id: i64, stamp: Stamp, session: Session) -> Self {
        Self::write(project_id, stamp, Write::Create(session))
    }

    /// Encodes the message body into a buffer of exactly its size: counted first, then
    /// written, because a growing buffer would copy a large upload several times over and
    /// leave each outgrown buffer to the allocator while the front waits for the confirm.
    pub fn encode(&self) -> Vec<u8> {
        let mut size = ByteCount(0);
        // Serializing these plain structs cannot fail, into a counter or a Vec.
        let _ = rmp_serde::encode::write_named(&mut size, self);
        let mut body = Vec::with_capacity(size.0);
        let _ = rmp_serde::encode::write_named(&mut body, self);
        body
    }

    /// Decodes a body this build encoded, without the checks of [`Self::decode`]: the
    /// front reads back what it published.
    pub fn decode_own(body: &[u8]) -> Result<Self, WireError> {
        rmp_serde::from_slice(body).map_err(|error| WireError::Undecodable(error.to_string()))
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

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
