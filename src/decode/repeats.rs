//! Repeated fields: the last occurrence wins, as the MDA server's parsers read them (Rack for
//! form bodies, Ruby's JSON parser for JSON). Real clients rely on it: Rails' `check_box`
//! sends a hidden `0` and then the checkbox's `1` under one name. Each repeat is counted, so
//! operators can see which devices send them.

use std::collections::HashMap;

use crate::session::RawValue;

/// How many repeated names a session keeps for the log line; the count goes on.
const LISTED_NAMES: usize = 8;

/// The fields a body gave more than once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repeated {
    /// How many occurrences a later one replaced.
    pub count: u64,
    /// The first few repeated names, in form notation.
    pub names: Vec<String>,
}

impl Repeated {
    /// Records one replaced occurrence of `name`.
    pub(crate) fn record(&mut self, name: impl FnOnce() -> String) {
        self.count = self.count.saturating_add(1);
        if self.names.len() < LISTED_NAMES {
            self.record_name(name());
        }
    }

    /// Adds what another part of the body found.
    pub(crate) fn absorb(&mut self, other: Repeated) {
        self.count = self.count.saturating_add(other.count);
        for name in other.names {
            self.record_name(name);
        }
    }

    fn record_name(&mut self, name: String) {
        if self.names.len() < LISTED_NAMES && !self.names.contains(&name) {
            self.names.push(name);
        }
    }
}

/// A session's points by lower-cased name (`P` and `p` are one point): a later point takes
/// the earlier one's place. At most one past `max_points` distinct points are kept, which is
/// enough to refuse the session.
#[derive(Debug, Default)]
pub(crate) struct PointList {
    points: Vec<(String, RawValue)>,
    index: HashMap<String, usize>,
}

impl PointList {
    /// Adds a point; its name when it replaced an earlier one of the same name.
    pub(crate) fn push(
        &mut self,
        name: String,
        value: RawValue,
        max_points: usize,
    ) -> Option<&str> {
        let key = name.to_lowercase();
        if let Some(&index) = self.index.get(&key) {
            let slot = self.points.get_mut(index)?;
            *slot = (name, value);
            return Some(slot.0.as_str());
        }
        if self.points.len() <= max_points {
            self.index.insert(key, self.points.len());
            self.points.push((name, value));
        }
        None
    }

    /// Whether the list already holds more than `max_points` points.
    pub(crate) fn is_over(&self, max_points: usize) -> bool {
        self.points.len() > max_points
    }

    /// The points, each name as its last occurrence gave it, in order of first occurrence.
    pub(crate) fn into_vec(self) -> Vec<(String, RawValue)> {
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> RawValue {
        RawValue::Text(value.into())
    }

    #[test]
    fn the_last_occurrence_wins_whatever_its_case() {
        let mut list = PointList::default();
        assert_eq!(list.push("Agree".into(), text("0"), 10), None);
        assert_eq!(list.push("other".into(), text("x"), 10), None);
        assert_eq!(list.push("agree".into(), text("1"), 10), Some("agree"));
        assert_eq!(list.push("AGREE".into(), text("2"), 10), Some("AGREE"));
        assert_eq!(
            list.into_vec(),
            vec![("AGREE".into(), text("2")), ("other".into(), text("x"))]
        );
    }

    #[test]
    fn repeats_do_not_count_against_the_point_limit() {
        let mut list = PointList::default();
        for _ in 0..100 {
            list.push("p".into(), text("v"), 2);
        }
        assert!(!list.is_over(2));
        for name in ["a", "b", "c", "d"] {
            list.push(name.into(), text("v"), 2);
        }
        assert!(list.is_over(2));
        assert_eq!(list.into_vec().len(), 3);
    }

    #[test]
    fn repeated_names_are_listed_once_and_counted_each_time() {
        let mut repeated = Repeated::default();
        for _ in 0..3 {
            repeated.record(|| "session[data][p]".into());
        }
        let mut other = Repeated::default();
        other.record(|| "session[uuid]".into());
        repeated.absorb(other);
        assert_eq!(repeated.count, 4);
        assert_eq!(repeated.names, ["session[data][p]", "session[uuid]"]);
    }
}
