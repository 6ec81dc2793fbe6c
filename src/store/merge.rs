//! Acceptance-order merge of writes into one session, as a pure function of the stored state
//! and the writes: last writer wins per register.
//!
//! The registers of a session are its header fields (`unit_id`, `created`, `saved`,
//! `is_deleted`) and every possible point name. A create writes all of them (the points it
//! does not carry are written as absent); an update writes the fields and points it gives; a
//! delete writes `is_deleted`; an attachment write or removal writes one point. A register
//! holds the value of the write with the greatest [`Order`] that wrote it. That makes applying
//! writes commutative, associative and idempotent: any consumption order, any duplication,
//! any batching ends in the state of applying them one by one in acceptance order.
//!
//! The stamps are kept compactly: the row's create order stands for every register, and
//! `field_stamps` / `point_stamps` hold only the registers written later than that create
//! (a removed point keeps its stamp as a tombstone). A create drops every stamp it
//! supersedes, so a session that was only ever created has none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::session::{PointValue, TIMEZONE_POINT};
use crate::wire::{Order, Stamp, Write};

/// A header field with a stamp of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `unit_id`.
    UnitId,
    /// `created`.
    Created,
    /// `saved`.
    Saved,
    /// `is_deleted`.
    IsDeleted,
}

/// The stamps of a stored session: what decides whether a write still applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamps {
    /// Order of the create the row holds; `None` for a placeholder (no create yet).
    pub create: Option<Order>,
    /// Fields written after the create.
    pub fields: BTreeMap<Field, Order>,
    /// Points written (or removed) after the create.
    pub points: BTreeMap<String, Order>,
}

/// What one write writes: the registers [`Stamps::reflect`] checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touched {
    /// A create writes everything.
    pub create: bool,
    /// Fields written.
    pub fields: Vec<Field>,
    /// Points written or removed.
    pub points: Vec<String>,
}

impl Touched {
    /// What a create writes: everything.
    pub fn create() -> Self {
        Self {
            create: true,
            fields: Vec::new(),
            points: Vec::new(),
        }
    }

    /// The registers `write` writes.
    pub fn of(write: &Write) -> Self {
        let none = Self {
            create: false,
            ..Self::create()
        };
        match write {
            Write::Create(_) => Self::create(),
            Write::Update(patch) => {
                let mut fields = vec![Field::Saved];
                if patch.unit_id.is_some() {
                    fields.push(Field::UnitId);
                }
                if patch.created.is_some() {
                    fields.push(Field::Created);
                }
                let points = patch.points.keys().map(|p| p.as_str().to_owned()).collect();
                Self {
                    fields,
                    points,
                    ..none
                }
            }
            Write::Delete { .. } => Self {
                fields: vec![Field::IsDeleted],
                ..none
            },
            Write::PutAttachment { point, .. } | Write::DeleteAttachment { point, .. } => Self {
                points: vec![point.as_str().to_owned()],
                ..none
            },
        }
    }
}

impl Stamps {
    /// Reads the stamps off a row: its create order (meaningless for a placeholder) and its
    /// `field_stamps` and `point_stamps` columns.
    pub fn from_columns(
        placeholder: bool,
        create: Order,
        fields: &serde_json::Value,
        points: &serde_json::Value,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            create: (!placeholder).then_some(create),
            fields: BTreeMap::deserialize(fields)?,
            points: BTreeMap::deserialize(points)?,
        })
    }

    /// Whether a write of `order` to a register last written at `stamp` wins.
    fn wins(&self, stamp: Option<&Order>, order: Order) -> bool {
        Some(order) > self.create.max(stamp.copied())
    }

    /// Whether the stored state already reflects the write of `order` that wrote `touched`:
    /// every register it wrote holds that write or a later one. Read-your-write waits on it.
    pub fn reflect(&self, touched: &Touched, order: Order) -> bool {
        if touched.create {
            return self.create >= Some(order);
        }
        let fields = touched.fields.iter().map(|f| self.fields.get(f));
        let points = touched.points.iter().map(|p| self.points.get(p));
        fields.chain(points).all(|stamp| !self.wins(stamp, order))
    }
}

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
