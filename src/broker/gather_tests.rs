use super::*;

const LIMITS: GroupLimits = GroupLimits {
    max_uploads: 3,
    max_bytes: 1000,
    alone_bytes: 400,
    in_flight: 1,
};

/// One key's messages, for the cases where only one key is in play.
fn offer(lanes: &mut Lanes<u32>, item: u32, size: usize) -> Vec<Vec<u32>> {
    messages(offer_to(lanes, 0, item, size, &LIMITS))
}

/// Every message an offer to `key` sends now, the offered upload's own last.
fn offer_to(
    lanes: &mut Lanes<u32>,
    key: u16,
    item: u32,
    size: usize,
    limits: &GroupLimits,
) -> Vec<Outgoing<u32>> {
    sent(lanes.offer(key, item, size, limits))
}

/// The answer to a message of `uploads` uploads of key 0.
fn done(lanes: &mut Lanes<u32>, uploads: usize) -> Vec<Vec<u32>> {
    messages(lanes.done(0, uploads, &LIMITS).into_iter().collect())
}

/// Every message of an offer, the offered upload's own last.
fn sent(offered: Option<Offered<u32>>) -> Vec<Outgoing<u32>> {
    offered
        .map(|offered| offered.groups.into_iter().chain(offered.alone).collect())
        .unwrap_or_default()
}

fn messages(outgoing: Vec<Outgoing<u32>>) -> Vec<Vec<u32>> {
    outgoing.into_iter().map(|(_, items)| items).collect()
}

#[test]
fn an_idle_front_publishes_at_once_alone() {
    let mut lanes = Lanes::new(1);
    assert_eq!(offer(&mut lanes, 1, 10), vec![vec![1]]);
    assert_eq!(lanes.in_flight(), 1);
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(lanes.in_flight(), 0);
    // Idle again: the next one goes at once too.
    assert_eq!(offer(&mut lanes, 2, 10), vec![vec![2]]);
}

#[test]
fn the_offer_says_when_the_offered_upload_goes_alone() {
    let mut lanes = Lanes::new(1);
    // Each upload and size offered in turn: what goes alone, and which groups go.
    let steps = [
        (1, 10, Some(vec![1]), vec![]),
        (2, 10, None, vec![]),
        (3, 10, None, vec![]),
        // The upload that fills a group goes in it, not alone.
        (4, 10, None, vec![vec![2, 3, 4]]),
        (5, 401, Some(vec![5]), vec![]),
        (6, 390, None, vec![]),
        (7, 390, None, vec![]),
        // Pushed past the byte limit: the group before it goes, the upload gathers.
        (8, 390, None, vec![vec![6, 7]]),
    ];
    for (item, size, alone, groups) in steps {
        let expected = Offered {
            alone: alone.map(|items| (0, items)),
            groups: groups.into_iter().map(|items| (0, items)).collect(),
        };
        assert_eq!(
            lanes.offer(0, item, size, &LIMITS),
            Some(expected),
            "upload {item}"
        );
    }
    // A partition out of range is refused, and nothing is counted.
    assert_eq!(lanes.offer(1, 9, 10, &LIMITS), None);
    assert_eq!(lanes.in_flight(), 7);
}

#[test]
fn uploads_gather_behind_a_message_in_flight_and_go_when_it_is_answered() {
    let mut lanes = Lanes::new(1);
    assert_eq!(offer(&mut lanes, 1, 10), vec![vec![1]]);
    assert!(offer(&mut lanes, 2, 10).is_empty());
    assert!(offer(&mut lanes, 3, 10).is_empty());
    assert_eq!(done(&mut lanes, 1), vec![vec![2, 3]]);
    assert_eq!(lanes.in_flight(), 2);
    // A group of one: still a message of one upload, once the group before is answered.
    assert!(offer(&mut lanes, 4, 10).is_empty());
    assert_eq!(done(&mut lanes, 2), vec![vec![4]]);
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(lanes.in_flight(), 0);
}

#[test]
fn with_room_for_two_uploads_a_second_goes_at_once_and_a_third_gathers() {
    let limits = GroupLimits {
        in_flight: 2,
        ..LIMITS
    };
    let mut lanes = Lanes::new(1);
    assert_eq!(
        messages(offer_to(&mut lanes, 0, 1, 10, &limits)),
        vec![vec![1]]
    );
    assert_eq!(
        messages(offer_to(&mut lanes, 0, 2, 10, &limits)),
        vec![vec![2]]
    );
    assert!(offer_to(&mut lanes, 0, 3, 10, &limits).is_empty());
    assert!(offer_to(&mut lanes, 0, 4, 10, &limits).is_empty());
    // Either answer sends what gathered.
    assert_eq!(
        messages(lanes.done(0, 1, &limits).into_iter().collect()),
        vec![vec![3, 4]]
    );
    assert_eq!(lanes.in_flight(), 3);
    // Two uploads still in flight: the next gathers.
    assert!(lanes.done(0, 1, &limits).is_none());
    assert!(offer_to(&mut lanes, 0, 5, 10, &limits).is_empty());
    // Sent alone, it leaves room again: the next upload goes at once.
    assert_eq!(
        messages(lanes.done(0, 2, &limits).into_iter().collect()),
        vec![vec![5]]
    );
    assert_eq!(
        messages(offer_to(&mut lanes, 0, 6, 10, &limits)),
        vec![vec![6]]
    );
    assert_eq!(lanes.in_flight(), 2);
}

#[test]
fn a_large_group_in_flight_holds_single_uploads_back() {
    let limits = GroupLimits {
        max_uploads: 10,
        in_flight: 4,
        ..LIMITS
    };
    let mut lanes = Lanes::new(1);
    for item in 1..=4 {
        assert_eq!(
            messages(offer_to(&mut lanes, 0, item, 10, &limits)),
            vec![vec![item]]
        );
    }
    for item in 5..=9 {
        assert!(offer_to(&mut lanes, 0, item, 10, &limits).is_empty());
    }
    assert_eq!(
        messages(lanes.done(0, 1, &limits).into_iter().collect()),
        vec![vec![5, 6, 7, 8, 9]]
    );
    // 8 uploads in flight: the singles' answers send nothing while the group is out.
    for item in 10..=12 {
        assert!(offer_to(&mut lanes, 0, item, 10, &limits).is_empty());
    }
    for _ in 0..3 {
        assert!(lanes.done(0, 1, &limits).is_none());
    }
    assert_eq!(
        messages(lanes.done(0, 5, &limits).into_iter().collect()),
        vec![vec![10, 11, 12]]
    );
    assert_eq!(lanes.in_flight(), 3);
}

#[test]
fn a_key_with_nothing_in_flight_sends_at_once() {
    let mut lanes = Lanes::new(3);
    assert_eq!(offer_to(&mut lanes, 2, 1, 10, &LIMITS), vec![(2, vec![1])]);
    // The front's room is used up, but keys 0 and 1 have nothing in flight: they go at once.
    assert_eq!(offer_to(&mut lanes, 1, 2, 10, &LIMITS), vec![(1, vec![2])]);
    assert_eq!(offer_to(&mut lanes, 0, 3, 10, &LIMITS), vec![(0, vec![3])]);
    // Now every key gathers, each apart, and an answer sends only its own key's group.
    assert!(offer_to(&mut lanes, 1, 4, 10, &LIMITS).is_empty());
    assert!(offer_to(&mut lanes, 2, 5, 10, &LIMITS).is_empty());
    assert!(offer_to(&mut lanes, 1, 6, 10, &LIMITS).is_empty());
    assert!(lanes.done(0, 1, &LIMITS).is_none());
    assert_eq!(lanes.done(1, 1, &LIMITS), Some((1, vec![4, 6])));
    assert_eq!(lanes.done(2, 1, &LIMITS), Some((2, vec![5])));
    assert!(lanes.done(1, 2, &LIMITS).is_none());
    assert!(lanes.done(2, 1, &LIMITS).is_none());
    assert_eq!(lanes.in_flight(), 0);
}

#[test]
fn the_room_for_single_uploads_is_shared_by_the_keys() {
    let limits = GroupLimits {
        in_flight: 2,
        ..LIMITS
    };
    let mut lanes = Lanes::new(2);
    assert_eq!(offer_to(&mut lanes, 0, 1, 10, &limits), vec![(0, vec![1])]);
    assert_eq!(offer_to(&mut lanes, 1, 2, 10, &limits), vec![(1, vec![2])]);
    // Two in flight over both keys: each key's next upload gathers behind its own.
    assert!(offer_to(&mut lanes, 0, 3, 10, &limits).is_empty());
    assert!(offer_to(&mut lanes, 1, 4, 10, &limits).is_empty());
    assert_eq!(lanes.done(1, 1, &limits), Some((1, vec![4])));
    assert_eq!(lanes.done(0, 1, &limits), Some((0, vec![3])));
    assert_eq!(lanes.in_flight(), 2);
}

#[test]
fn a_full_group_goes_at_once() {
    let mut lanes = Lanes::new(1);
    offer(&mut lanes, 1, 10);
    assert!(offer(&mut lanes, 2, 10).is_empty());
    assert!(offer(&mut lanes, 3, 10).is_empty());
    assert_eq!(offer(&mut lanes, 4, 10), vec![vec![2, 3, 4]]);
    assert_eq!(lanes.in_flight(), 4);
    assert!(offer(&mut lanes, 5, 10).is_empty());
    // The first answer leaves the group in flight: nothing goes yet.
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(done(&mut lanes, 3), vec![vec![5]]);
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(lanes.in_flight(), 0);
}

#[test]
fn a_group_never_grows_past_the_byte_limit() {
    let mut lanes = Lanes::new(1);
    offer(&mut lanes, 1, 10);
    assert!(offer(&mut lanes, 2, 400).is_empty());
    assert!(offer(&mut lanes, 3, 400).is_empty());
    // 1,200 bytes would pass the limit: the 800 gathered go, the new one starts a group.
    assert_eq!(offer(&mut lanes, 4, 400), vec![vec![2, 3]]);
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(done(&mut lanes, 2), vec![vec![4]]);
    // Reaching the limit exactly sends at once.
    let limits = GroupLimits {
        max_bytes: 800,
        ..LIMITS
    };
    assert!(offer_to(&mut lanes, 0, 5, 400, &limits).is_empty());
    assert_eq!(
        messages(offer_to(&mut lanes, 0, 6, 400, &limits)),
        vec![vec![5, 6]]
    );
}

#[test]
fn a_large_upload_goes_alone_and_at_once() {
    let mut lanes = Lanes::new(1);
    offer(&mut lanes, 1, 10);
    assert!(offer(&mut lanes, 2, 10).is_empty());
    assert_eq!(offer(&mut lanes, 3, 401), vec![vec![3]]);
    assert_eq!(lanes.in_flight(), 2);
    assert!(done(&mut lanes, 1).is_empty());
    // Once nothing of the key is in flight, the group goes.
    assert_eq!(done(&mut lanes, 1), vec![vec![2]]);
    assert!(done(&mut lanes, 1).is_empty());
    assert_eq!(lanes.in_flight(), 0);
}

#[test]
fn every_upload_offered_is_sent_exactly_once_to_its_key() {
    let limits = GroupLimits {
        max_uploads: 4,
        max_bytes: 300,
        alone_bytes: 120,
        in_flight: 2,
    };
    let keys = 3;
    let key_of = |item: u32| u16::try_from(item * 7 % 3).unwrap_or(0);
    let mut lanes = Lanes::new(keys);
    let mut published = Vec::new();
    // Messages in flight, oldest first: their key and size.
    let mut pending: std::collections::VecDeque<(u16, usize)> = std::collections::VecDeque::new();
    let mut record = |outgoing: Vec<Outgoing<u32>>,
                      pending: &mut std::collections::VecDeque<(u16, usize)>| {
        for (key, message) in outgoing {
            assert!(message.len() <= limits.max_uploads);
            assert!(message.iter().all(|item| key_of(*item) == key));
            pending.push_back((key, message.len()));
            published.extend(message);
        }
    };
    for item in 0..500_u32 {
        let size = usize::try_from(item * 37 % 150).unwrap_or(0);
        let offered = lanes.offer(key_of(item), item, size, &limits);
        if let Some(Offered {
            alone: Some((_, message)),
            ..
        }) = &offered
        {
            assert_eq!(message, &vec![item]);
        }
        record(sent(offered), &mut pending);
        // Answer one message in three.
        if item % 3 == 0
            && let Some((key, uploads)) = pending.pop_front()
        {
            record(
                lanes.done(key, uploads, &limits).into_iter().collect(),
                &mut pending,
            );
        }
    }
    while let Some((key, uploads)) = pending.pop_front() {
        record(
            lanes.done(key, uploads, &limits).into_iter().collect(),
            &mut pending,
        );
    }
    assert_eq!(lanes.in_flight(), 0);
    published.sort_unstable();
    assert_eq!(published, (0..500).collect::<Vec<_>>());
}
