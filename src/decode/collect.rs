//! Assembles a [`RawSession`] from named fields, for the two form encodings, so duplicate and
//! misplaced fields are reported the same way in urlencoded and multipart bodies.

use std::collections::HashSet;

use super::path::{FieldPath, classify};
use crate::session::{FileAttachment, RawSession, RawValue};

/// One field's content as a form body delivers it.
pub(crate) enum FieldValue {
    /// A plain value (already UTF-8 checked).
    Text(String),
    /// A multipart part that carried a file name.
    File(FileAttachment),
}

/// Collects fields in arrival order, points only up to one past the limit (see
/// [`RawSession::push_point`]).
pub(crate) struct Collector {
    raw: RawSession,
    seen: HashSet<String>,
    max_points: usize,
}

impl Collector {
    /// A collector for a session of at most `max_points` points.
    pub(crate) fn new(max_points: usize) -> Self {
        Self {
            raw: RawSession::default(),
            seen: HashSet::new(),
            max_points,
        }
    }

    /// Whether a decoded field name is one this decoder must read (ignored names may be
    /// skipped without looking at, or validating, their values).
    pub(crate) fn wants(name: &str) -> bool {
        classify(name) != FieldPath::Ignored
    }

    /// Records one field; problems go to the session's `errors` under the name as given.
    pub(crate) fn add(&mut self, name: &str, value: FieldValue) {
        let path = classify(name);
        let too_many = self.raw.has_too_many_points(self.max_points);
        let errors = &mut self.raw.errors;
        match path {
            FieldPath::Ignored => return,
            // The session is refused already; remembering more names would only cost memory.
            FieldPath::Point(_) | FieldPath::RawData(_) if too_many => return,
            FieldPath::Invalid(message) => return errors.add(name, message),
            _ if !self.seen.insert(name.to_owned()) => {
                return errors.add(name, "is given more than once");
            }
            _ => {}
        }
        let text = match value {
            FieldValue::Text(text) => text,
            FieldValue::File(file) => {
                match path {
                    FieldPath::Point(point) => {
                        self.raw
                            .push_point(point, RawValue::File(file), self.max_points);
                    }
                    _ => errors.add(name, "must be text, not a file"),
                }
                return;
            }
        };
        match path {
            FieldPath::Uuid => self.raw.uuid = Some(text),
            FieldPath::UnitId => self.raw.unit_id = Some(text),
            FieldPath::Created => self.raw.created = Some(text),
            FieldPath::Saved => self.raw.saved = Some(text),
            FieldPath::Point(point) => {
                self.raw
                    .push_point(point, RawValue::Text(text), self.max_points);
            }
            FieldPath::RawData(point) => {
                self.raw
                    .push_point(point, RawValue::RawData(text), self.max_points);
            }
            FieldPath::Ignored | FieldPath::Invalid(_) => {}
        }
    }

    /// The session as collected.
    pub(crate) fn finish(self) -> RawSession {
        self.raw
    }
}
