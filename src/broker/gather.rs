//! Which uploads travel together, per routing key: the rules of group publishing, apart from
//! the broker so that they can be checked alone.
//!
//! While fewer than `in_flight` messages of a key await the broker, an upload goes at once,
//! alone: a quiet front adds no wait. Once that many are in flight, further uploads gather;
//! the gathered group goes when a message in flight is answered, or at once when it is full
//! (by count or bytes). A large upload (a file) always goes alone: it
//! would make a group large without saving anything, and must not wait behind one.

/// How large a group may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Most uploads in one message.
    pub max_uploads: usize,
    /// A group is sent once its bodies reach this many bytes, and never grows past it.
    pub max_bytes: usize,
    /// An upload whose body is larger goes alone, at once.
    pub alone_bytes: usize,
    /// Messages of one key that may await the broker before uploads gather (at least 1).
    pub in_flight: usize,
}

/// One routing key: how many of its messages await the broker's answer, and the group
/// gathering meanwhile (never empty while nothing is in flight).
#[derive(Debug)]
pub struct Lane<T> {
    in_flight: usize,
    gathering: Vec<T>,
    bytes: usize,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Self {
            in_flight: 0,
            gathering: Vec::new(),
            bytes: 0,
        }
    }
}

impl<T> Lane<T> {
    /// An upload of `size` bytes arrives: the messages to publish now, each a list of
    /// uploads (one upload: a plain single message). Each counts as in flight until
    /// [`Self::done`].
    pub fn offer(&mut self, item: T, size: usize, limits: &GroupLimits) -> Vec<Vec<T>> {
        if self.in_flight < limits.in_flight.max(1) || size > limits.alone_bytes {
            self.in_flight += 1;
            return vec![vec![item]];
        }
        let mut now = Vec::new();
        // Sent before it would grow past the byte limit, so no group is larger than that.
        if !self.gathering.is_empty() && self.bytes.saturating_add(size) > limits.max_bytes {
            now.push(self.take());
        }
        self.gathering.push(item);
        self.bytes = self.bytes.saturating_add(size);
        if self.gathering.len() >= limits.max_uploads || self.bytes >= limits.max_bytes {
            now.push(self.take());
        }
        now
    }

    /// A message's publish ended, confirmed or not: the group gathered meanwhile, to publish
    /// now (it is then in flight in its place).
    pub fn done(&mut self) -> Option<Vec<T>> {
        self.in_flight = self.in_flight.saturating_sub(1);
        (!self.gathering.is_empty()).then(|| self.take())
    }

    /// Messages of this key awaiting the broker.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn take(&mut self) -> Vec<T> {
        self.in_flight += 1;
        self.bytes = 0;
        std::mem::take(&mut self.gathering)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: GroupLimits = GroupLimits {
        max_uploads: 3,
        max_bytes: 1000,
        alone_bytes: 400,
        in_flight: 1,
    };

    fn offer(lane: &mut Lane<u32>, item: u32, size: usize) -> Vec<Vec<u32>> {
        lane.offer(item, size, &LIMITS)
    }

    #[test]
    fn an_idle_key_publishes_at_once_alone() {
        let mut lane = Lane::default();
        assert_eq!(offer(&mut lane, 1, 10), vec![vec![1]]);
        assert_eq!(lane.in_flight(), 1);
        assert_eq!(lane.done(), None);
        assert_eq!(lane.in_flight(), 0);
        // Idle again: the next one goes at once too.
        assert_eq!(offer(&mut lane, 2, 10), vec![vec![2]]);
    }

    #[test]
    fn uploads_gather_while_one_is_in_flight_and_go_when_it_is_answered() {
        let mut lane = Lane::default();
        assert_eq!(offer(&mut lane, 1, 10), vec![vec![1]]);
        assert!(offer(&mut lane, 2, 10).is_empty());
        assert!(offer(&mut lane, 3, 10).is_empty());
        assert_eq!(lane.done(), Some(vec![2, 3]));
        assert_eq!(lane.in_flight(), 1);
        // A group of one: still a message of one upload, once the group before is answered.
        assert!(offer(&mut lane, 4, 10).is_empty());
        assert_eq!(lane.done(), Some(vec![4]));
        assert_eq!(lane.done(), None);
        assert_eq!(lane.in_flight(), 0);
    }

    #[test]
    fn with_a_window_of_two_a_second_upload_goes_at_once_and_a_third_gathers() {
        let limits = GroupLimits {
            in_flight: 2,
            ..LIMITS
        };
        let mut lane = Lane::default();
        assert_eq!(lane.offer(1, 10, &limits), vec![vec![1]]);
        assert_eq!(lane.offer(2, 10, &limits), vec![vec![2]]);
        assert!(lane.offer(3, 10, &limits).is_empty());
        assert!(lane.offer(4, 10, &limits).is_empty());
        // Either answer sends what gathered; the window stays full.
        assert_eq!(lane.done(), Some(vec![3, 4]));
        assert_eq!(lane.in_flight(), 2);
        assert_eq!(lane.done(), None);
        // One slot free again: the next upload goes at once.
        assert_eq!(lane.offer(5, 10, &limits), vec![vec![5]]);
        assert_eq!(lane.in_flight(), 2);
    }

    #[test]
    fn a_full_group_goes_at_once() {
        let mut lane = Lane::default();
        offer(&mut lane, 1, 10);
        assert!(offer(&mut lane, 2, 10).is_empty());
        assert!(offer(&mut lane, 3, 10).is_empty());
        assert_eq!(offer(&mut lane, 4, 10), vec![vec![2, 3, 4]]);
        assert_eq!(lane.in_flight(), 2);
        assert!(offer(&mut lane, 5, 10).is_empty());
        // Each answer sends what gathered since.
        assert_eq!(lane.done(), Some(vec![5]));
        assert_eq!(lane.done(), None);
        assert_eq!(lane.done(), None);
        assert_eq!(lane.in_flight(), 0);
    }

    #[test]
    fn a_group_never_grows_past_the_byte_limit() {
        let mut lane = Lane::default();
        offer(&mut lane, 1, 10);
        assert!(offer(&mut lane, 2, 400).is_empty());
        assert!(offer(&mut lane, 3, 400).is_empty());
        // 1,200 bytes would pass the limit: the 800 gathered go, the new one starts a group.
        assert_eq!(offer(&mut lane, 4, 400), vec![vec![2, 3]]);
        assert_eq!(lane.done(), Some(vec![4]));
        // Reaching the limit exactly sends at once.
        let limits = GroupLimits {
            max_bytes: 800,
            ..LIMITS
        };
        assert!(lane.offer(5, 400, &limits).is_empty());
        assert_eq!(lane.offer(6, 400, &limits), vec![vec![5, 6]]);
    }

    #[test]
    fn a_large_upload_goes_alone_and_at_once() {
        let mut lane = Lane::default();
        offer(&mut lane, 1, 10);
        assert!(offer(&mut lane, 2, 10).is_empty());
        assert_eq!(offer(&mut lane, 3, 401), vec![vec![3]]);
        assert_eq!(lane.in_flight(), 2);
        // Its answer sends the group too, like any other.
        assert_eq!(lane.done(), Some(vec![2]));
        assert_eq!(lane.done(), None);
        assert_eq!(lane.done(), None);
        assert_eq!(lane.in_flight(), 0);
    }

    #[test]
    fn every_upload_offered_is_sent_exactly_once() {
        let limits = GroupLimits {
            max_uploads: 4,
            max_bytes: 300,
            alone_bytes: 120,
            in_flight: 2,
        };
        let mut lane = Lane::default();
        let mut sent = Vec::new();
        let mut pending = 0_usize;
        for item in 0..500_u32 {
            let size = usize::try_from(item * 37 % 150).unwrap_or(0);
            for message in lane.offer(item, size, &limits) {
                assert!(message.len() <= limits.max_uploads);
                pending += 1;
                sent.extend(message);
            }
            // Answer one message in three.
            if item % 3 == 0 && pending > 0 {
                pending -= 1;
                if let Some(message) = lane.done() {
                    pending += 1;
                    sent.extend(message);
                }
            }
        }
        while pending > 0 {
            pending -= 1;
            if let Some(message) = lane.done() {
                pending += 1;
                sent.extend(message);
            }
        }
        assert_eq!(lane.in_flight(), 0);
        sent.sort_unstable();
        assert_eq!(sent, (0..500).collect::<Vec<_>>());
    }
}
