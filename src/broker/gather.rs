//! Which uploads travel together: the rules of group publishing, apart from the broker so
//! that they can be checked alone.
//!
//! Uploads gather per routing key (a group never mixes partitions). A key with nothing
//! awaiting the broker sends an upload at once, and so does any key while the front as a
//! whole has fewer than `in_flight` uploads awaiting it — a quiet front adds no wait, and a
//! lightly loaded one sends uploads one by one. Past that, an upload gathers behind its own
//! key's message in flight, and the answer to that message sends what gathered. So a loaded
//! front keeps about one message a key in flight, its groups stay large and the broker's
//! cost per upload low: single uploads cannot slip past a large group in flight, each of
//! them a message the broker commits on its own. Keys do not wait for each other: each
//! partition's queue commits on its own, so an upload waits for at most its own queue's
//! message in flight, however many partitions the front serves. A group that is full (by
//! count or bytes) goes at once. A large upload (a file) always goes alone: it would make a
//! group large without saving anything, and must not wait behind one.

/// How large a group may grow, and how eagerly a partial one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Most uploads in one message.
    pub max_uploads: usize,
    /// A group is sent once its bodies reach this many bytes, and never grows past it.
    pub max_bytes: usize,
    /// An upload whose body is larger goes alone, at once.
    pub alone_bytes: usize,
    /// Uploads the front may have awaiting the broker, over every key, while uploads still
    /// go one by one; past it they gather (a key with nothing in flight sends anyway).
    pub in_flight: usize,
}

/// A message to publish now: its partition and its uploads (one upload: a
/// plain single message).
pub type Outgoing<T> = (u16, Vec<T>);

/// What one offer sends now.
#[derive(Debug, PartialEq, Eq)]
pub struct Offered<T> {
    /// The offered upload, when it goes at once in a message of its own: its key had
    /// room, or it is large.
    pub alone: Option<Outgoing<T>>,
    /// Groups that go now: the offered upload's own once it filled it, or the one gathered
    /// before it when it would have grown past the byte limit.
    pub groups: Vec<Outgoing<T>>,
}

/// Every routing key's gathering group and uploads awaiting the broker.
#[derive(Debug)]
pub struct Lanes<T> {
    lanes: Vec<Lane<T>>,
    /// Uploads in messages awaiting the broker, over every key.
    in_flight: usize,
}

#[derive(Debug)]
struct Lane<T> {
    items: Vec<T>,
    bytes: usize,
    /// Uploads of the key in messages awaiting the broker.
    in_flight: usize,
}

impl<T> Lanes<T> {
    /// Lanes for `partitions` routing keys (at least one).
    pub fn new(partitions: u16) -> Self {
        Self {
            lanes: (0..partitions.max(1))
                .map(|_| Lane {
                    items: Vec::new(),
                    bytes: 0,
                    in_flight: 0,
                })
                .collect(),
            in_flight: 0,
        }
    }

    /// An upload of `size` bytes arrives for partition `key`: the messages to publish now
    /// (none for a partition out of range). Each counts as in flight until [`Self::done`]
    /// for its key.
    pub fn offer(
        &mut self,
        key: u16,
        item: T,
        size: usize,
        limits: &GroupLimits,
    ) -> Option<Offered<T>> {
        let lane = self.lanes.get_mut(usize::from(key))?;
        let mut offered = Offered {
            alone: None,
            groups: Vec::new(),
        };
        if size > limits.alone_bytes {
            lane.count_in_flight(1, &mut self.in_flight);
            offered.alone = Some((key, vec![item]));
            return Some(offered);
        }
        // Sent before it would grow past the byte limit, so no group is larger than that.
        if !lane.items.is_empty() && lane.bytes.saturating_add(size) > limits.max_bytes {
            offered.groups.push((key, lane.send(&mut self.in_flight)));
        }
        lane.items.push(item);
        lane.bytes = lane.bytes.saturating_add(size);
        let full = lane.items.len() >= limits.max_uploads || lane.bytes >= limits.max_bytes;
        if full || lane.has_room(self.in_flight, limits) {
            let items = lane.send(&mut self.in_flight);
            // A lane of one upload holds only the one just offered.
            if items.len() == 1 {
                offered.alone = Some((key, items));
            } else {
                offered.groups.push((key, items));
            }
        }
        Some(offered)
    }

    /// A message of `uploads` uploads of partition `key` was answered, confirmed or not:
    /// what gathered meanwhile for that key, when it may now go, to publish now (then in
    /// flight).
    pub fn done(&mut self, key: u16, uploads: usize, limits: &GroupLimits) -> Option<Outgoing<T>> {
        let lane = self.lanes.get_mut(usize::from(key))?;
        lane.in_flight = lane.in_flight.saturating_sub(uploads);
        self.in_flight = self.in_flight.saturating_sub(uploads);
        if lane.items.is_empty() || !lane.has_room(self.in_flight, limits) {
            return None;
        }
        Some((key, lane.send(&mut self.in_flight)))
    }

    /// Uploads awaiting the broker, over every key.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl<T> Lane<T> {
    /// Whether a message may go now: the key has nothing awaiting the broker, or the
    /// front as a whole has fewer uploads than `limits.in_flight` awaiting it.
    fn has_room(&self, total_in_flight: usize, limits: &GroupLimits) -> bool {
        self.in_flight == 0 || total_in_flight < limits.in_flight
    }

    /// The gathered group, now in flight: counted for the key and in `total_in_flight`.
    fn send(&mut self, total_in_flight: &mut usize) -> Vec<T> {
        self.bytes = 0;
        self.count_in_flight(self.items.len(), total_in_flight);
        std::mem::take(&mut self.items)
    }

    /// `uploads` more of the key's uploads await the broker.
    fn count_in_flight(&mut self, uploads: usize, total_in_flight: &mut usize) {
        self.in_flight += uploads;
        *total_in_flight += uploads;
    }
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
