//! The settings of group publishing (`front.group_*`): their defaults and their checks.

use super::FrontConfig;
use crate::broker::GroupLimits;

/// The largest `front.group_max_uploads`: more would only make a failed publish fail more.
const MAX_UPLOADS_LIMIT: usize = 4096;
/// The largest `front.group_max_bytes`: RabbitMQ refuses messages over 16 MiB by default.
const MAX_BYTES_LIMIT: usize = 16 * 1024 * 1024;
/// The largest `front.group_in_flight`: past a few, uploads would rarely gather at all.
const MAX_IN_FLIGHT_LIMIT: usize = 64;

pub(super) fn on() -> bool {
    true
}

pub(super) fn max_uploads() -> usize {
    64
}

pub(super) fn max_bytes() -> usize {
    1024 * 1024
}

pub(super) fn alone_bytes() -> usize {
    64 * 1024
}

pub(super) fn in_flight() -> usize {
    4
}

impl FrontConfig {
    /// The limits of group publishing, when it is on.
    pub fn group_limits(&self) -> Option<GroupLimits> {
        self.group_publish.then_some(GroupLimits {
            max_uploads: self.group_max_uploads,
            max_bytes: self.group_max_bytes,
            alone_bytes: self.group_alone_bytes,
            in_flight: self.group_in_flight,
        })
    }

    /// The group settings make sense together (checked even when grouping is off, so that
    /// turning it on cannot reveal a mistake made long before).
    pub(super) fn check_groups(&self) -> Result<(), String> {
        if !(2..=MAX_UPLOADS_LIMIT).contains(&self.group_max_uploads) {
            return Err(format!(
                "front.group_max_uploads must be between 2 and {MAX_UPLOADS_LIMIT} (is {}; \
                 set front.group_publish = false for one message per upload)",
                self.group_max_uploads
            ));
        }
        if !(1024..=MAX_BYTES_LIMIT).contains(&self.group_max_bytes) {
            return Err(format!(
                "front.group_max_bytes must be between 1024 and {MAX_BYTES_LIMIT} (is {})",
                self.group_max_bytes
            ));
        }
        if self.group_alone_bytes == 0 || self.group_alone_bytes > self.group_max_bytes {
            return Err(format!(
                "front.group_alone_bytes must be between 1 and front.group_max_bytes ({}) \
                 (is {})",
                self.group_max_bytes, self.group_alone_bytes
            ));
        }
        if !(1..=MAX_IN_FLIGHT_LIMIT).contains(&self.group_in_flight) {
            return Err(format!(
                "front.group_in_flight must be between 1 and {MAX_IN_FLIGHT_LIMIT} (is {})",
                self.group_in_flight
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::config::Config;

    fn load(overlay: &str) -> Result<Config, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "intake-groups-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        std::fs::copy(config.join("default.toml"), dir.join("default.toml")).unwrap();
        std::fs::write(dir.join("groups.toml"), format!("[front]\n{overlay}\n")).unwrap();
        let loaded = Config::load_from(&dir, Some("groups")).map_err(|error| error.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    #[test]
    fn grouping_is_on_by_default_and_may_be_turned_off() {
        let config = load("").unwrap();
        let limits = config.front.group_limits().unwrap();
        assert_eq!(
            (
                limits.max_uploads,
                limits.max_bytes,
                limits.alone_bytes,
                limits.in_flight
            ),
            (64, 1024 * 1024, 64 * 1024, 4)
        );
        let off = load("group_publish = false").unwrap();
        assert_eq!(off.front.group_limits(), None);
    }

    #[test]
    fn zero_or_absurd_group_settings_are_refused_by_name() {
        for (overlay, key) in [
            ("group_max_uploads = 0", "front.group_max_uploads"),
            ("group_max_uploads = 1000000", "front.group_max_uploads"),
            ("group_max_bytes = 0", "front.group_max_bytes"),
            ("group_max_bytes = 1073741824", "front.group_max_bytes"),
            ("group_alone_bytes = 0", "front.group_alone_bytes"),
            ("group_alone_bytes = 2097152", "front.group_alone_bytes"),
            ("group_in_flight = 0", "front.group_in_flight"),
            ("group_in_flight = 1000", "front.group_in_flight"),
        ] {
            let error = load(overlay).unwrap_err();
            assert!(error.contains(key), "{overlay}: {error}");
        }
    }
}
