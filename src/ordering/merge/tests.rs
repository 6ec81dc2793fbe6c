#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::ordering::Touched;
use crate::session::patch::Patch;
use crate::session::{FileAttachment, PointName, Session, SessionUuid, UnitId};

const UUID: &str = "s";

fn name(text: &str) -> PointName {
    PointName::parse(text).unwrap()
}

fn stamp(micros: i64) -> Stamp {
    Stamp {
        upload_id: uuid::Uuid::now_v7(),
        received_micros: micros,
        received_from: format!("user-{micros}"),
    }
}

fn file(tag: u8) -> FileAttachment {
    FileAttachment {
        filename: Some(format!("f{tag}")),
        content_type: "application/octet-stream".into(),
        bytes: vec![tag],
        md5: None,
    }
}

/// A compact description of a write, turned into a real one by [`build`].
#[derive(Debug, Clone)]
enum Kind {
    Create(Vec<(u8, u8)>),
    Update(Option<u8>, Vec<(u8, u8)>),
    Delete,
    Put(u8, u8),
    Remove(u8),
}

fn point_name(index: u8) -> PointName {
    name(["a", "b", "c"][usize::from(index % 3)])
}

fn value(tag: u8) -> PointValue {
    match tag % 3 {
        0 => PointValue::Text(format!("t{tag}")),
        1 => PointValue::Raw(vec![tag]),
        _ => PointValue::File(file(tag)),
    }
}

fn points(list: &[(u8, u8)]) -> BTreeMap<PointName, PointValue> {
    list.iter()
        .map(|(p, v)| (point_name(*p), value(*v)))
        .collect()
}

fn build(kind: &Kind, index: i64) -> Write {
    let uuid = SessionUuid::parse(UUID).unwrap();
    match kind {
        Kind::Create(list) => Write::Create(Session {
            uuid,
            unit_id: UnitId::parse(&format!("unit-{index}")).unwrap(),
            created: index,
            saved: index,
            points: points(list),
        }),
        Kind::Update(unit, list) => Write::Update(Patch {
            uuid,
            unit_id: unit.map(|u| UnitId::parse(&format!("new-{u}")).unwrap()),
            created: unit.map(i64::from),
            saved: 1_000 + index,
            points: points(list),
        }),
        Kind::Delete => Write::Delete { uuid },
        Kind::Put(p, tag) => Write::PutAttachment {
            uuid,
            point: point_name(*p),
            file: file(*tag),
        },
        Kind::Remove(p) => Write::DeleteAttachment {
            uuid,
            point: point_name(*p),
        },
    }
}

/// The contract, literally: apply the writes one by one in acceptance order; a write to a
/// session that does not exist (yet) does nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    unit_id: String,
    created: i64,
    saved: i64,
    is_deleted: bool,
    points: BTreeMap<String, Point>,
}

fn sequential(writes: &[(Write, Stamp)]) -> Option<Model> {
    let mut sorted: Vec<&(Write, Stamp)> = writes.iter().collect();
    sorted.sort_by_key(|(_, stamp)| stamp.order());
    let mut model: Option<Model> = None;
    for (write, _) in sorted {
        if let Write::Create(session) = write {
            model = Some(Model {
                unit_id: session.unit_id.as_str().to_owned(),
                created: session.created,
                saved: session.saved,
                is_deleted: false,
                points: session
                    .points
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), Point::from(v)))
                    .collect(),
            });
            continue;
        }
        let Some(m) = model.as_mut() else { continue };
        match write {
            Write::Update(patch) => {
                m.saved = patch.saved;
                if let Some(unit) = &patch.unit_id {
                    m.unit_id = unit.as_str().to_owned();
                }
                if let Some(created) = patch.created {
                    m.created = created;
                }
                for (n, v) in &patch.points {
                    m.points.insert(n.as_str().to_owned(), Point::from(v));
                }
            }
            Write::Delete { .. } => m.is_deleted = true,
            Write::PutAttachment { point, file, .. } => {
                let value = Point::New(PointValue::File(file.clone()));
                m.points.insert(point.as_str().to_owned(), value);
            }
            Write::DeleteAttachment { point, .. } => {
                m.points.remove(point.as_str());
            }
            Write::Create(_) => {}
        }
    }
    model
}

fn observed(state: &State) -> Option<Model> {
    state.stamps.create.map(|_| Model {
        unit_id: state.unit_id.clone(),
        created: state.created,
        saved: state.saved,
        is_deleted: state.is_deleted,
        points: state.points.clone(),
    })
}

fn kind() -> impl Strategy<Value = Kind> {
    let list = prop::collection::vec((0..3u8, any::<u8>()), 0..4);
    prop_oneof![
        list.clone().prop_map(Kind::Create),
        (prop::option::of(any::<u8>()), list).prop_map(|(u, l)| Kind::Update(u, l)),
        Just(Kind::Delete),
        (0..3u8, any::<u8>()).prop_map(|(p, t)| Kind::Put(p, t)),
        (0..3u8).prop_map(Kind::Remove),
    ]
}

/// Writes in acceptance order, then a delivery order: shuffled, some delivered twice.
fn history() -> impl Strategy<Value = (Vec<(Write, Stamp)>, Vec<usize>)> {
    prop::collection::vec(kind(), 1..10).prop_flat_map(|kinds| {
        let writes: Vec<(Write, Stamp)> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let i = i64::try_from(i).unwrap() + 1;
                (build(k, i), stamp(i))
            })
            .collect();
        let n = writes.len();
        let deliveries = prop::collection::vec(0..n, 0..4).prop_flat_map(move |extra| {
            let mut order: Vec<usize> = (0..n).chain(extra).collect();
            order.sort_unstable();
            Just(order).prop_shuffle()
        });
        (Just(writes), deliveries)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_delivery_order_ends_as_acceptance_order((writes, deliveries) in history()) {
        let mut state = State::placeholder();
        for &i in &deliveries {
            let (write, stamp) = &writes[i];
            state.apply(write, stamp);
        }
        prop_assert_eq!(observed(&state), sequential(&writes));
        for (write, stamp) in &writes {
            prop_assert!(state.stamps.reflect(&Touched::of(write), stamp.order()));
        }
    }

    #[test]
    fn reflect_is_exactly_nothing_left_to_change((writes, deliveries) in history()) {
        let mut state = State::placeholder();
        for &i in &deliveries {
            let (write, stamp) = &writes[i];
            let reflected = state.stamps.reflect(&Touched::of(write), stamp.order());
            let changed = state.apply(write, stamp);
            prop_assert_eq!(reflected, !changed);
        }
    }
}

#[test]
fn a_create_without_later_writes_leaves_no_stamps() {
    let mut state = State::placeholder();
    let create = build(&Kind::Create(vec![(0, 0), (1, 1)]), 1);
    assert!(state.apply(&create, &stamp(1)));
    assert_eq!(state.stamps.fields, BTreeMap::new());
    assert_eq!(state.stamps.points, BTreeMap::new());
    assert_eq!(state.received_from, "user-1");
    // A later create supersedes an update it follows, and clears its stamps.
    assert!(state.apply(&build(&Kind::Update(Some(1), vec![(2, 2)]), 2), &stamp(2)));
    assert_eq!(state.stamps.points.len(), 1);
    assert!(state.apply(&create, &stamp(3)));
    assert!(state.stamps.fields.is_empty() && state.stamps.points.is_empty());
    assert!(!state.points.contains_key("c"));
}

#[test]
fn a_removed_attachment_stays_removed_against_an_older_put() {
    let mut state = State::placeholder();
    state.apply(&build(&Kind::Create(vec![(0, 2)]), 1), &stamp(1));
    assert!(state.apply(&build(&Kind::Remove(0), 3), &stamp(3)));
    assert!(!state.apply(&build(&Kind::Put(0, 9), 2), &stamp(2)));
    assert!(!state.points.contains_key("a"));
}
