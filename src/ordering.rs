//! Acceptance order, the rules every write obeys (docs/ORDERING.md).
//!
//! A front stamps each write it accepts ([`Stamp`]); the stamps order the writes
//! ([`Order`]), and the stored state equals applying the accepted writes one by one in that
//! order, whatever order consumers see them in and however often.
//!
//! The registers of a session are its header fields (`unit_id`, `created`, `saved`,
//! `is_deleted`) and every possible point name. A create writes all of them (the points it
//! does not carry are written as absent); an update writes the fields and points it gives; a
//! delete writes `is_deleted`; an attachment write or removal writes one point ([`Touched`]).
//! A register holds the value of the write with the greatest [`Order`] that wrote it
//! ([`merge`]). That makes applying writes commutative, associative and idempotent: any
//! consumption order, any duplication, any batching ends in the state of applying them one by
//! one in acceptance order.
//!
//! The stamps are kept compactly ([`Stamps`]): the row's create order stands for every
//! register, and `field_stamps` / `point_stamps` hold only the registers written later than
//! that create (a removed point keeps its stamp as a tombstone). A create drops every stamp it
//! supersedes, so a session that was only ever created has none.

pub mod merge;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::write::Write;

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

    /// The newest stamp of any register: every write this state has seen is at most this
    /// old, so a purge keeps it as the tombstone's create stamp (docs/ORDERING.md).
    pub fn newest(&self) -> Option<Order> {
        let written = self.fields.values().chain(self.points.values()).copied();
        written.chain(self.create).max()
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

    /// Whether the stored state holds the write of `order` itself: the row's create is it,
    /// or a field or point it wrote still carries its stamp. A redelivered write that is
    /// now a no-op is told apart this way from one that a newer write overtook.
    pub fn hold(&self, touched: &Touched, order: Order) -> bool {
        if touched.create {
            return self.create == Some(order);
        }
        let fields = touched.fields.iter().map(|f| self.fields.get(f));
        let points = touched.points.iter().map(|p| self.points.get(p));
        fields.chain(points).any(|stamp| stamp == Some(&order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_order_by_acceptance() {
        let first = Stamp::now("a");
        let second = Stamp::now("a");
        assert!(
            (first.received_micros, first.upload_id) < (second.received_micros, second.upload_id)
        );
    }

    #[test]
    fn a_write_is_held_only_while_a_register_carries_its_own_stamp() {
        let order = |n: i64| Order(n, Uuid::now_v7());
        let (create, delete, later) = (order(1), order(2), order(3));
        let mut stamps = Stamps {
            create: Some(create),
            ..Stamps::default()
        };
        assert!(stamps.hold(&Touched::create(), create));
        assert!(!stamps.hold(&Touched::create(), later));
        let deleted = Touched {
            create: false,
            fields: vec![Field::IsDeleted],
            points: Vec::new(),
        };
        assert!(!stamps.hold(&deleted, delete));
        stamps.fields.insert(Field::IsDeleted, delete);
        assert!(stamps.hold(&deleted, delete));
        // Overtaken: reflected, but no longer held.
        stamps.fields.insert(Field::IsDeleted, later);
        assert!(stamps.reflect(&deleted, delete));
        assert!(!stamps.hold(&deleted, delete));
    }

    #[test]
    fn the_receive_time_is_the_upload_ids_time() {
        let stamp = Stamp::now("a");
        let before = chrono::Utc::now().timestamp_micros();
        assert!((before - stamp.received_micros).abs() < 5_000_000);
        assert_eq!(
            stamp.received_micros % 1_000,
            0,
            "millisecond precision, as in the id"
        );
    }
}
