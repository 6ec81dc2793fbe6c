//! The merge: applying writes to one session's stored state by the acceptance-order rules
//! of [`super`], as a pure function of that state and the writes: last writer wins per
//! register.

use std::collections::BTreeMap;

use super::{Field, Order, Stamp, Stamps};
use crate::session::write::Write;
use crate::session::{PointValue, TIMEZONE_POINT};

/// A point's value during a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// Text, kept in the row's `points`.
    Text(String),
    /// A binary already in `attachments` (its bytes are never needed here).
    Stored,
    /// A binary written by this batch (`Raw` or `File`), to be inserted.
    New(PointValue),
}

impl From<&PointValue> for Point {
    fn from(value: &PointValue) -> Self {
        match value {
            PointValue::Text(text) => Self::Text(text.clone()),
            binary => Self::New(binary.clone()),
        }
    }
}

/// A session row as the merge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The stamps.
    pub stamps: Stamps,
    /// Who sent the create the row holds.
    pub received_from: String,
    /// The device.
    pub unit_id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub saved: i64,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// Every point by name.
    pub points: BTreeMap<String, Point>,
}

impl State {
    /// The state of a session no write has reached yet.
    pub fn placeholder() -> Self {
        Self {
            stamps: Stamps::default(),
            received_from: String::new(),
            unit_id: String::new(),
            created: 0,
            saved: 0,
            is_deleted: false,
            points: BTreeMap::new(),
        }
    }

    /// Applies one write stamped `stamp`; returns whether it changed anything (`false` for
    /// a write older than everything it would write: a redelivery, a replay, an overtaken
    /// write).
    pub fn apply(&mut self, write: &Write, stamp: &Stamp) -> bool {
        let order = stamp.order();
        match write {
            Write::Create(session) => {
                if self.stamps.create >= Some(order) {
                    return false;
                }
                let later = |stamp: Option<&Order>| stamp.is_some_and(|s| *s > order);
                let fields = &self.stamps.fields;
                if !later(fields.get(&Field::UnitId)) {
                    self.unit_id = session.unit_id.as_str().to_owned();
                }
                if !later(fields.get(&Field::Created)) {
                    self.created = session.created;
                }
                if !later(fields.get(&Field::Saved)) {
                    self.saved = session.saved;
                }
                if !later(fields.get(&Field::IsDeleted)) {
                    self.is_deleted = false;
                }
                let mut points: BTreeMap<String, Point> = session
                    .points
                    .iter()
                    .filter(|(name, _)| !later(self.stamps.points.get(name.as_str())))
                    .map(|(name, value)| (name.as_str().to_owned(), Point::from(value)))
                    .collect();
                for (name, _) in self.stamps.points.iter().filter(|(_, s)| **s > order) {
                    if let Some(point) = self.points.remove(name) {
                        points.insert(name.clone(), point);
                    }
                }
                self.points = points;
                self.stamps.fields.retain(|_, s| *s > order);
                self.stamps.points.retain(|_, s| *s > order);
                self.stamps.create = Some(order);
                self.received_from.clone_from(&stamp.received_from);
                true
            }
            Write::Update(patch) => {
                let mut changed = self.set_field(Field::Saved, order, |s| s.saved = patch.saved);
                if let Some(unit_id) = &patch.unit_id {
                    changed |= self.set_field(Field::UnitId, order, |s| {
                        s.unit_id = unit_id.as_str().to_owned();
                    });
                }
                if let Some(created) = patch.created {
                    changed |= self.set_field(Field::Created, order, |s| s.created = created);
                }
                for (name, value) in &patch.points {
                    changed |= self.set_point(name.as_str(), order, Some(Point::from(value)));
                }
                changed
            }
            Write::Delete { .. } => {
                self.set_field(Field::IsDeleted, order, |s| s.is_deleted = true)
            }
            Write::PutAttachment { point, file, .. } => {
                let value = Point::New(PointValue::File(file.clone()));
                self.set_point(point.as_str(), order, Some(value))
            }
            Write::DeleteAttachment { point, .. } => self.set_point(point.as_str(), order, None),
        }
    }

    fn set_field(&mut self, field: Field, order: Order, set: impl FnOnce(&mut Self)) -> bool {
        if !self.stamps.wins(self.stamps.fields.get(&field), order) {
            return false;
        }
        set(self);
        self.stamps.fields.insert(field, order);
        true
    }

    /// Sets (or, with `None`, removes) a point, leaving its stamp as a tombstone.
    fn set_point(&mut self, name: &str, order: Order, value: Option<Point>) -> bool {
        if !self.stamps.wins(self.stamps.points.get(name), order) {
            return false;
        }
        match value {
            Some(value) => self.points.insert(name.to_owned(), value),
            None => self.points.remove(name),
        };
        self.stamps.points.insert(name.to_owned(), order);
        true
    }

    /// The device's UTC offset in seconds east, when `__timezone__` holds an integer.
    pub fn timezone_offset(&self) -> Option<i32> {
        match self.points.get(TIMEZONE_POINT) {
            Some(Point::Text(text)) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
