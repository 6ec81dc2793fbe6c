//! Every kind of write to a session: a create, an update ([`Patch`]), a delete, and the
//! changes of one point's attachment. Fronts build them from requests; consumers apply them
//! in acceptance order ([`crate::ordering`]).

use serde::{Deserialize, Serialize};

use super::patch::Patch;
use super::{
    FieldErrors, FileAttachment, Limits, PointName, Session, SessionUuid, check_file,
    check_point_name, field_name, point_field_name,
};

/// Any write to a session: what a front accepts and a consumer applies.
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
