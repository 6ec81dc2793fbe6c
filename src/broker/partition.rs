//! Partitions: every write is routed by a hash of (project, uuid) to one of
//! `broker.partitions` quorum queues, so every write to one session goes through one queue
//! and N queue leaders (on N nodes) share the load.
//!
//! The front routes by itself to one routing key per partition on the direct exchange — no
//! plugin, and the hash is ours: FNV-1a (64 bit) over the project id (8 bytes, little
//! endian) followed by the uuid's UTF-8 bytes, modulo N. It must never change, so it is
//! written here rather than taken from a crate whose output might. Partition 0 keeps the
//! names of the unpartitioned topology (queue `<queue>`, routing key `upload`), so N = 1 is
//! exactly the old topology and raising N leaves every message where it is.

use crate::config::BrokerConfig;
use crate::wire::Upload;

use super::{Envelope, ROUTING_KEY};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The partition (0-based) of a session among `partitions`.
pub fn partition_of(project_id: i64, uuid: &str, partitions: u16) -> u16 {
    let mut hash = FNV_OFFSET;
    for byte in project_id.to_le_bytes().iter().chain(uuid.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    u16::try_from(hash % u64::from(partitions.max(1))).unwrap_or(0)
}

/// The routing key of a partition: `upload`, `upload.p1`, `upload.p2`, …
pub fn routing_key(partition: u16) -> String {
    match partition {
        0 => ROUTING_KEY.to_owned(),
        n => format!("{ROUTING_KEY}.p{n}"),
    }
}

/// The queue of a partition: `<queue>`, `<queue>.p1`, `<queue>.p2`, …
pub fn queue_name(config: &BrokerConfig, partition: u16) -> String {
    match partition {
        0 => config.queue.clone(),
        n => format!("{}.p{n}", config.queue),
    }
}

/// The routing key an upload is published with.
pub fn routing_key_of(config: &BrokerConfig, upload: &Upload) -> String {
    routing_key(partition_of(
        upload.project_id,
        upload.uuid().as_str(),
        config.partitions,
    ))
}

/// The routing key of the upload an envelope is of: the same as [`routing_key_of`].
pub fn routing_key_of_envelope(config: &BrokerConfig, envelope: &Envelope) -> String {
    routing_key(partition_of(
        envelope.project_id,
        &envelope.uuid,
        config.partitions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed_and_spreads_sessions() {
        // Pinned: a change here would move live sessions between queues.
        assert_eq!(partition_of(1, "a", 3), partition_of(1, "a", 3));
        assert_eq!(
            [
                partition_of(1, "s-1", 3),
                partition_of(1, "s-2", 3),
                partition_of(2, "s-1", 3)
            ],
            PINNED
        );
        let mut counts = [0_u32; 3];
        for i in 0..3000 {
            counts[usize::from(partition_of(7, &format!("unit-{i}"), 3))] += 1;
        }
        assert!(
            counts.iter().all(|&n| (800..1200).contains(&n)),
            "{counts:?}"
        );
        assert_eq!(partition_of(7, "any", 1), 0);
    }

    const PINNED: [u16; 3] = [2, 0, 2];
}
