//! What a decoded message was about, kept beside its outcome so that its event can be told
//! after the batch commits.

use crate::events::{Kind, WriteKind};
use crate::ordering::{Stamp, Touched};
use crate::store::stamps::SessionKey;
use crate::wire::Upload;

/// What a decoded message was about: enough for its event and for reading its kind off the
/// stored stamps.
#[derive(Debug, Clone)]
pub struct Subject {
    pub(super) project_id: i64,
    pub(super) uuid: String,
    pub(super) stamp: Stamp,
    pub(super) write: WriteKind,
    pub(super) touched: Touched,
}

impl Subject {
    /// The subject of an upload.
    pub fn of(upload: &Upload) -> Self {
        Self {
            project_id: upload.project_id,
            uuid: upload.uuid().as_str().to_owned(),
            stamp: upload.stamp.clone(),
            write: WriteKind::of(&upload.operation),
            touched: Touched::of(&upload.operation),
        }
    }

    pub(super) fn key(&self) -> SessionKey {
        (self.project_id, self.uuid.clone())
    }

    /// The kind of a write that changed (or still holds) its session.
    pub(super) fn applied(&self) -> Kind {
        match self.write {
            WriteKind::Delete => Kind::Deleted,
            _ => Kind::Stored,
        }
    }
}
