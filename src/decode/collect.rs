//! Assembles a [`RawSession`] from named fields, for the two form encodings, so repeated and
//! misplaced fields are handled the same way in urlencoded and multipart bodies: the last
//! occurrence of a field wins, as Rack reads a form (see [`super::repeats`]).

use std::collections::HashSet;

use super::path::{FieldPath, classify};
use super::repeats::PointList;
use crate::session::{FileAttachment, RawSession, RawValue};

/// One field's content as a form body delivers it.
pub(crate) enum FieldValue {
    /// A plain value (already UTF-8 checked).
    Text(String),
    /// A multipart part that carried a file name.
    File(FileAttachment),
}

/// Collects fields in arrival order, points only up to one past the limit (see
/// [`PointList`]).
pub(crate) struct Collector {
    raw: RawSession,
    points: PointList,
    /// The top-level fields given so far, by name as given.
    seen: HashSet<String>,
    max_points: usize,
}

impl Collector {
    /// A collector for a session of at most `max_points` points.
    pub(crate) fn new(max_points: usize) -> Self {
        Self {
            raw: RawSession::default(),
            points: PointList::default(),
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
        let errors = &mut self.raw.errors;
        let (point, raw_data) = match path {
            FieldPath::Ignored => return,
            FieldPath::Invalid(message) => return errors.add(name, message),
            FieldPath::Point(point) => (point, false),
            FieldPath::RawData(point) => (point, true),
            _ => {
                if !self.seen.insert(name.to_owned()) {
                    self.raw.repeated.record(|| name.to_owned());
                }
                let FieldValue::Text(text) = value else {
                    return errors.add(name, "must be text, not a file");
                };
                let field = match path {
                    FieldPath::Uuid => &mut self.raw.uuid,
                    FieldPath::UnitId => &mut self.raw.unit_id,
                    FieldPath::Created => &mut self.raw.created,
                    _ => &mut self.raw.saved,
                };
                *field = Some(text);
                return;
            }
        };
        // The session is refused already; remembering more names would only cost memory.
        if self.points.is_over(self.max_points) {
            return;
        }
        let value = match (value, raw_data) {
            (FieldValue::File(file), false) => RawValue::File(file),
            (FieldValue::File(_), true) => return errors.add(name, "must be text, not a file"),
            (FieldValue::Text(text), true) => RawValue::RawData(text),
            (FieldValue::Text(text), false) => RawValue::Text(text),
        };
        if self.points.push(point, value, self.max_points).is_some() {
            self.raw.repeated.record(|| name.to_owned());
        }
    }

    /// The session as collected.
    pub(crate) fn finish(mut self) -> RawSession {
        self.raw.points = self.points.into_vec();
        self.raw
    }
}
