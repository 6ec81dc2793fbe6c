//! Which uploads travel together: the rules of group publishing, apart from the broker so
//! that they can be checked alone.
//!
//! Uploads gather per routing key (a group never mixes partitions), but the front has one
//! window: while fewer messages than the window await the broker, an upload goes at once —
//! a quiet front adds no wait. Once the window is full, uploads gather; each answer sends
//! the group that began gathering first, so one box with several partitions sends groups as
//! large as with one. The window narrows as groups grow: it is `in_flight` divided by the
//! size of the last message sent (at least 1). A front sending uploads one by one keeps
//! `in_flight` messages going, so that an upload rarely waits for another's confirm; a
//! loaded front, whose groups are large, keeps one, so that its groups stay large and the
//! broker's cost per upload low. A group that is full (by count or bytes) goes at once,
//! window or not. A large upload (a file) always goes alone: it would make a group large
//! without saving anything, and must not wait behind one.

/// How large a group may grow, and how eagerly a partial one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Most uploads in one message.
    pub max_uploads: usize,
    /// A group is sent once its bodies reach this many bytes, and never grows past it.
    pub max_bytes: usize,
    /// An upload whose body is larger goes alone, at once.
    pub alone_bytes: usize,
    /// Messages of the front that may await the broker before uploads gather, while uploads
    /// go one by one (at least 1; divided by the size of the last message sent).
    pub in_flight: usize,
}

/// A message to publish now: its partition and its uploads (one upload: a
/// plain single message).
pub type Outgoing<T> = (u16, Vec<T>);

/// Every routing key's gathering group, and the front's messages awaiting the broker.
#[derive(Debug)]
pub struct Lanes<T> {
    in_flight: usize,
    /// Uploads in the last message sent from a lane, which narrows the window.
    last_size: usize,
    lanes: Vec<Gathering<T>>,
    /// Counts arrivals, to tell which group began gathering first.
    arrivals: u64,
}

#[derive(Debug)]
struct Gathering<T> {
    items: Vec<T>,
    bytes: usize,
    first_arrival: u64,
}

impl<T> Lanes<T> {
    /// Lanes for `partitions` routing keys (at least one).
    pub fn new(partitions: u16) -> Self {
        Self {
            in_flight: 0,
            last_size: 1,
            lanes: (0..partitions.max(1))
                .map(|_| Gathering {
                    items: Vec::new(),
                    bytes: 0,
                    first_arrival: 0,
                })
                .collect(),
            arrivals: 0,
        }
    }

    /// An upload of `size` bytes arrives for partition `key`: the messages to publish now.
    /// Each counts as in flight until [`Self::done`]. A partition out of range goes alone.
    pub fn offer(
        &mut self,
        key: u16,
        item: T,
        size: usize,
        limits: &GroupLimits,
    ) -> Vec<Outgoing<T>> {
        self.arrivals += 1;
        let arrival = self.arrivals;
        let lane = match self.lanes.get_mut(usize::from(key)) {
            Some(lane) if size <= limits.alone_bytes => lane,
            _ => {
                self.in_flight += 1;
                return vec![(key, vec![item])];
            }
        };
        let mut now = Vec::new();
        // Sent before it would grow past the byte limit, so no group is larger than that.
        if !lane.items.is_empty() && lane.bytes.saturating_add(size) > limits.max_bytes {
            self.last_size = lane.items.len();
            now.push((key, lane.take()));
            self.in_flight += 1;
        }
        if lane.items.is_empty() {
            lane.first_arrival = arrival;
        }
        lane.items.push(item);
        lane.bytes = lane.bytes.saturating_add(size);
        if lane.items.len() >= limits.max_uploads || lane.bytes >= limits.max_bytes {
            self.last_size = lane.items.len();
            now.push((key, lane.take()));
            self.in_flight += 1;
        }
        self.fill_window(limits, &mut now);
        now
    }

    /// A message's publish ended, confirmed or not: what gathered meanwhile and now fits
    /// the window, to publish now (each then in flight).
    pub fn done(&mut self, limits: &GroupLimits) -> Vec<Outgoing<T>> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let mut now = Vec::new();
        self.fill_window(limits, &mut now);
        now
    }

    /// Messages of the front awaiting the broker.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Messages that may await the broker before uploads gather: narrower as groups grow.
    fn window(&self, limits: &GroupLimits) -> usize {
        limits.in_flight.max(1).div_ceil(self.last_size.max(1))
    }

    /// While the window has room, the group that began gathering first goes.
    fn fill_window(&mut self, limits: &GroupLimits, now: &mut Vec<Outgoing<T>>) {
        while self.in_flight < self.window(limits) {
            // Lanes are made from a u16 count, so numbering them with u16s covers them all.
            let oldest = (0_u16..)
                .zip(self.lanes.iter_mut())
                .filter(|(_, lane)| !lane.items.is_empty())
                .min_by_key(|(_, lane)| lane.first_arrival);
            let Some((key, lane)) = oldest else {
                return;
            };
            self.last_size = lane.items.len();
            now.push((key, lane.take()));
            self.in_flight += 1;
        }
    }
}

impl<T> Gathering<T> {
    fn take(&mut self) -> Vec<T> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
