//! Stored-events: what a consumer publishes for every upload once its batch committed, so
//! subscribers learn of new data without polling (docs/EVENTS.md). An event names the
//! upload and says what became of it; it never carries the session's data.
//!
//! Delivery is at least once (a batch delivered again emits its events again), so
//! subscribers deduplicate by upload id.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ordering::Stamp;
use crate::session::write::Write;

/// The format version every event carries; raised only when a field changes meaning or
/// goes away (added fields keep it).
pub const EVENT_VERSION: u32 = 1;
/// Content type of an event body.
pub const CONTENT_TYPE: &str = "application/json";
/// Routing key segment of events whose project is unknown (an undecodable dead letter).
pub const UNKNOWN_PROJECT: &str = "unknown";

/// What became of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The stored session holds this upload's write.
    Stored,
    /// Older than what is stored (overtaken by a newer write): it changed nothing.
    Superseded,
    /// A delete, applied.
    Deleted,
    /// Can never be stored; it went to the dead-letter queue.
    DeadLettered,
}

impl Kind {
    /// Every kind, in the order docs/EVENTS.md lists them.
    pub const ALL: [Self; 4] = [
        Self::Stored,
        Self::Superseded,
        Self::Deleted,
        Self::DeadLettered,
    ];

    /// The kind as it appears in the body and the routing key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Superseded => "superseded",
            Self::Deleted => "deleted",
            Self::DeadLettered => "dead-lettered",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|kind| kind.as_str()).collect();
                format!("unknown event kind {text:?} (one of {})", known.join(", "))
            })
    }
}

/// Which kind of write the upload was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteKind {
    /// Create or replace the session.
    Create,
    /// A partial update.
    Update,
    /// A soft delete.
    Delete,
    /// An attachment replaced.
    PutAttachment,
    /// An attachment removed.
    DeleteAttachment,
}

impl WriteKind {
    /// The kind of `write`.
    pub fn of(write: &Write) -> Self {
        match write {
            Write::Create(_) => Self::Create,
            Write::Update(_) => Self::Update,
            Write::Delete { .. } => Self::Delete,
            Write::PutAttachment { .. } => Self::PutAttachment,
            Write::DeleteAttachment { .. } => Self::DeleteAttachment,
        }
    }
}

/// One event, as its JSON body. Only an undecodable dead letter lacks the fields read off
/// the upload (they are `null` then; the project and upload id come from the message's
/// properties when it has them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// [`EVENT_VERSION`].
    pub version: u32,
    /// What became of the upload.
    pub kind: Kind,
    /// The project id.
    pub project: Option<i64>,
    /// The session's uuid.
    pub uuid: Option<String>,
    /// The upload id a front answered in `X-Upload-Id`: the deduplication key.
    pub upload_id: Option<Uuid>,
    /// Which kind of write the upload was.
    pub write: Option<WriteKind>,
    /// When a front received the upload, RFC 3339 with microseconds.
    pub received: Option<String>,
    /// The API user that sent it.
    pub received_from: Option<String>,
    /// Why it can never be stored (dead letters only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event {
    /// The event of a decoded upload.
    pub fn of(kind: Kind, project: i64, uuid: &str, stamp: &Stamp, write: WriteKind) -> Self {
        Self {
            version: EVENT_VERSION,
            kind,
            project: Some(project),
            uuid: Some(uuid.to_owned()),
            upload_id: Some(stamp.upload_id),
            write: Some(write),
            received: Some(
                stamp
                    .received()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
            received_from: Some(stamp.received_from.clone()),
            reason: None,
        }
    }

    /// The event of a message that could not even be decoded.
    pub fn undecodable(project: Option<i64>, upload_id: Option<Uuid>) -> Self {
        Self {
            version: EVENT_VERSION,
            kind: Kind::DeadLettered,
            project,
            uuid: None,
            upload_id,
            write: None,
            received: None,
            received_from: None,
            reason: None,
        }
    }

    /// `<project>.<kind>`, the routing key it is published with.
    pub fn routing_key(&self) -> String {
        routing_key(self.project, self.kind)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // A plain struct of strings and numbers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `<project>.<kind>` (`unknown.<kind>` without a project).
pub fn routing_key(project: Option<i64>, kind: Kind) -> String {
    match project {
        Some(project) => format!("{project}.{}", kind.as_str()),
        None => format!("{UNKNOWN_PROJECT}.{}", kind.as_str()),
    }
}

/// The binding pattern of a subscriber that wants `project` (any when `None`) and `kind`
/// (any when `None`).
pub fn binding_pattern(project: Option<i64>, kind: Option<Kind>) -> String {
    let project = project.map_or_else(|| "*".to_owned(), |project| project.to_string());
    let kind = kind.map_or("*", Kind::as_str);
    format!("{project}.{kind}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_event_is_flat_json_with_its_version_and_routing_key() {
        let stamp = Stamp::now("device-fleet");
        let event = Event::of(Kind::Stored, 7, "s-1", &stamp, WriteKind::Create);
        let json: serde_json::Value = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["kind"], "stored");
        assert_eq!(json["project"], 7);
        assert_eq!(json["upload_id"], stamp.upload_id.to_string());
        assert_eq!(json["write"], "create");
        assert!(json.get("reason").is_none());
        assert_eq!(event.routing_key(), "7.stored");
        let dead = Event::undecodable(None, None);
        assert_eq!(dead.routing_key(), "unknown.dead-lettered");
        assert_eq!(
            binding_pattern(Some(7), Some(Kind::DeadLettered)),
            "7.dead-lettered"
        );
        assert_eq!(binding_pattern(None, None), "*.*");
        assert_eq!("deleted".parse::<Kind>().unwrap(), Kind::Deleted);
        assert!("gone".parse::<Kind>().is_err());
    }
}
