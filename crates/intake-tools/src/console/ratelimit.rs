//! Login throttling: after `limit` failed logins within `window` from one address, or for
//! one user name, further attempts are refused (429) until the oldest failure ages out.
//! Only failures count, so operators who type their password right are never slowed down.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept, so a flood of names cannot grow memory unbounded.
const SWEEP_ABOVE: usize = 10_000;

/// Failed logins per key (`addr:…`, `user:…`).
pub struct LoginLimiter {
    limit: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// `limit` failures per `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any of `keys` has used up its failures.
    pub fn blocked(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().any(|key| {
            failures.get_mut(key).is_some_and(|times| {
                prune(times, now, self.window);
                times.len() >= self.limit
            })
        })
    }

    /// Counts one failure against each of `keys`.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                prune(times, now, self.window);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            prune(times, now, self.window);
            times.push_back(now);
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|at| now.duration_since(*at) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_per_key() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        let keys = ["addr:a".to_owned(), "user:x".to_owned()];
        assert!(!limiter.blocked(&keys));
        limiter.failed(&keys);
        limiter.failed(&keys);
        assert!(limiter.blocked(&keys));
        assert!(limiter.blocked(&["user:x".to_owned()]));
        assert!(!limiter.blocked(&["addr:b".to_owned(), "user:y".to_owned()]));
    }
}
