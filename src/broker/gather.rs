//! Which uploads travel together: the rules of group publishing, apart from the broker so
//! that they can be checked alone.
//!
//! Uploads gather per routing key (a group never mixes partitions), and each key has its own
//! window: while fewer of its messages than the window await the broker, an upload goes at
//! once — a quiet front adds no wait. Once the window is full, uploads gather, and an answer
//! sends what gathered. The window narrows as groups grow: it is `in_flight` divided by the
//! size of the key's last message (at least 1). A front sending uploads one by one keeps
//! `in_flight` messages going, so that an upload rarely waits for another's confirm; a
//! loaded front, whose groups are large, keeps one a key, so that its groups stay large and
//! the broker's cost per upload low. Keys do not wait for each other: each partition's queue
//! commits on its own, so an upload waits for at most its own queue's message in flight,
//! however many partitions the front serves. A group that is full (by count or bytes) goes
//! at once, window or not. A large upload (a file) always goes alone: it would make a group
//! large without saving anything, and must not wait behind one.

/// How large a group may grow, and how eagerly a partial one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Most uploads in one message.
    pub max_uploads: usize,
    /// A group is sent once its bodies reach this many bytes, and never grows past it.
    pub max_bytes: usize,
    /// An upload whose body is larger goes alone, at once.
    pub alone_bytes: usize,
    /// Messages of a routing key that may await the broker before its uploads gather, while
    /// uploads go one by one (at least 1; divided by the size of the key's last message).
    pub in_flight: usize,
}

/// A message to publish now: its partition and its uploads (one upload: a
/// plain single message).
pub type Outgoing<T> = (u16, Vec<T>);

/// Every routing key's gathering group and messages awaiting the broker.
#[derive(Debug)]
pub struct Lanes<T> {
    lanes: Vec<Lane<T>>,
}

#[derive(Debug)]
struct Lane<T> {
    items: Vec<T>,
    bytes: usize,
    /// The key's messages awaiting the broker.
    in_flight: usize,
    /// Uploads in the key's last message, which narrows its window.
    last_size: usize,
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
                    last_size: 1,
                })
                .collect(),
        }
    }

    /// An upload of `size` bytes arrives for partition `key`: the messages to publish now.
    /// Each counts as in flight until [`Self::done`] for its key. A partition out of range
    /// goes alone, uncounted.
    pub fn offer(
        &mut self,
        key: u16,
        item: T,
        size: usize,
        limits: &GroupLimits,
    ) -> Vec<Outgoing<T>> {
        let Some(lane) = self.lanes.get_mut(usize::from(key)) else {
            return vec![(key, vec![item])];
        };
        if size > limits.alone_bytes {
            lane.in_flight += 1;
            return vec![(key, vec![item])];
        }
        let mut now = Vec::new();
        // Sent before it would grow past the byte limit, so no group is larger than that.
        if !lane.items.is_empty() && lane.bytes.saturating_add(size) > limits.max_bytes {
            now.push((key, lane.send()));
        }
        lane.items.push(item);
        lane.bytes = lane.bytes.saturating_add(size);
        let full = lane.items.len() >= limits.max_uploads || lane.bytes >= limits.max_bytes;
        if full || lane.has_room(limits) {
            now.push((key, lane.send()));
        }
        now
    }

    /// A message of partition `key` was answered, confirmed or not: what gathered meanwhile
    /// for that key, when it now fits the window, to publish now (then in flight).
    pub fn done(&mut self, key: u16, limits: &GroupLimits) -> Option<Outgoing<T>> {
        let lane = self.lanes.get_mut(usize::from(key))?;
        lane.in_flight = lane.in_flight.saturating_sub(1);
        (!lane.items.is_empty() && lane.has_room(limits)).then(|| (key, lane.send()))
    }

    /// How many routing keys have a lane: keys `0..keys()`.
    pub fn keys(&self) -> u16 {
        u16::try_from(self.lanes.len()).unwrap_or(u16::MAX)
    }

    /// Messages awaiting the broker, over every key.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.lanes.iter().map(|lane| lane.in_flight).sum()
    }
}

impl<T> Lane<T> {
    /// Whether fewer messages than the window await the broker: narrower as groups grow.
    fn has_room(&self, limits: &GroupLimits) -> bool {
        self.in_flight < limits.in_flight.max(1).div_ceil(self.last_size.max(1))
    }

    /// The gathered group, now in flight.
    fn send(&mut self) -> Vec<T> {
        self.bytes = 0;
        self.in_flight += 1;
        self.last_size = self.items.len();
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
