//! Prefetch sized in bytes. RabbitMQ bounds unacked deliveries only by count, so a worker's
//! memory is `prefetch × message size`: fine for 1 KB sessions at 512, but 50 MB a worker for
//! 100 KB attachments. The worker watches the size of what it receives and re-subscribes with
//! a count that keeps about `prefetch_bytes` in flight, between a floor and `prefetch`.

/// The smallest prefetch a worker is sized down to, so huge messages still flow in batches.
const FLOOR: u16 = 8;

/// Decides each worker's prefetch count from the sizes of its recent deliveries.
#[derive(Debug, Clone)]
pub struct PrefetchSizer {
    max: u16,
    budget_bytes: usize,
    /// Moving average of delivery sizes, in bytes; `None` until something arrived.
    average: Option<f64>,
}

impl PrefetchSizer {
    /// `max` deliveries at most, about `budget_bytes` of them at once.
    pub fn new(max: u16, budget_bytes: usize) -> Self {
        Self {
            max: max.max(1),
            budget_bytes,
            average: None,
        }
    }

    /// The count to start with, before any size is known: small, so that a queue full of
    /// large messages cannot flood a fresh worker; one batch of small ones grows it.
    pub fn initial(&self) -> u16 {
        self.max.min(FLOOR.max(self.max / 8))
    }

    /// Takes the sizes of one batch into the average.
    pub fn observe(&mut self, sizes: impl IntoIterator<Item = usize>) {
        for size in sizes {
            // Weighted so a few dozen deliveries of a new size move it most of the way.
            let size = size as f64;
            self.average = Some(self.average.map_or(size, |avg| avg + (size - avg) / 16.0));
        }
    }

    /// The count the budget allows for what arrives now.
    pub fn wanted(&self) -> u16 {
        let Some(average) = self.average else {
            return self.initial();
        };
        let fits = (self.budget_bytes as f64 / average.max(1.0)).floor();
        let fits = if fits >= f64::from(self.max) {
            self.max
        } else {
            // Below `max`, so the cast cannot truncate.
            fits as u16
        };
        fits.clamp(FLOOR.min(self.max), self.max)
    }

    /// Whether re-subscribing is worth it: only when the wanted count is at least twice or at
    /// most half the current one, so sizes that wobble do not churn the subscription.
    pub fn should_resize(&self, current: u16) -> bool {
        let wanted = u32::from(self.wanted());
        let current = u32::from(current.max(1));
        wanted >= current * 2 || wanted * 2 <= current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_grow_the_prefetch_to_its_maximum() {
        let mut sizer = PrefetchSizer::new(512, 16 << 20);
        assert_eq!(sizer.initial(), 64);
        sizer.observe([1_000; 10]);
        assert_eq!(sizer.wanted(), 512);
        assert!(sizer.should_resize(64));
        assert!(!sizer.should_resize(512));
    }

    #[test]
    fn large_messages_keep_about_the_budget_in_flight() {
        let mut sizer = PrefetchSizer::new(512, 16 << 20);
        sizer.observe([100_000; 200]);
        assert_eq!(sizer.wanted(), 167);
        assert!(sizer.should_resize(512));
        assert!(!sizer.should_resize(200));
    }

    #[test]
    fn huge_messages_stop_at_the_floor_and_a_small_maximum_is_kept() {
        let mut sizer = PrefetchSizer::new(512, 16 << 20);
        sizer.observe([32 << 20; 50]);
        assert_eq!(sizer.wanted(), FLOOR);
        let mut tiny = PrefetchSizer::new(4, 16 << 20);
        assert_eq!(tiny.initial(), 4);
        tiny.observe([32 << 20; 50]);
        assert_eq!(tiny.wanted(), 4);
    }

    #[test]
    fn a_size_change_moves_the_average_within_a_few_batches() {
        let mut sizer = PrefetchSizer::new(512, 16 << 20);
        sizer.observe([1_000; 256]);
        assert_eq!(sizer.wanted(), 512);
        sizer.observe([100_000; 64]);
        assert!(sizer.wanted() < 256, "{}", sizer.wanted());
    }
}
