//! Messages that carry several uploads. A group message (schema 3, `wire::group`) holds whole
//! single-upload bodies; the consumer decides each upload by itself, so a batch is a list of
//! uploads, each remembering the message it came in. An upload that can never be stored is
//! dead-lettered alone, as the single-upload message it would have been, and a group that
//! cannot even be split is dead-lettered whole.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::handle::{Decided, Outcome, Retry, Stopped, process};
use crate::session::Limits;
use crate::store::Store;
use crate::wire::group::{GROUP_SIZE_HEADER, is_group};
use crate::wire::split_bodies;

/// One decided thing of a batch: an upload, or a group message that cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Position of its message in the batch.
    pub message: usize,
    /// The upload's body inside a group message; `None` when the entry is the whole message
    /// (a single upload, or a group that cannot be split).
    pub part: Option<&'a [u8]>,
}

/// A batch of messages decided: one entry per upload (and per unsplittable group), and the
/// outcome and subject of each, by the same position.
#[derive(Debug, Clone, Default)]
pub struct DecidedMessages<'a> {
    /// What each outcome is about.
    pub entries: Vec<Entry<'a>>,
    /// What became of each entry.
    pub decided: Decided,
    /// How many of the messages were groups.
    pub groups: usize,
}

/// Splits every message into its uploads and decides them all as one batch (one
/// transaction). A group that cannot be split (broken MessagePack, no upload) is one entry,
/// dead-lettered whole with the reason.
pub async fn process_messages<'a>(
    store: &Store,
    limits: &Limits,
    max_clock_skew: Duration,
    messages: &[&'a [u8]],
    with_subjects: bool,
    retry: Retry,
    cancel: &CancellationToken,
) -> Result<DecidedMessages<'a>, Stopped> {
    let mut entries = Vec::with_capacity(messages.len());
    let mut bodies = Vec::with_capacity(messages.len());
    let mut broken = Vec::new();
    let mut groups = 0;
    for (message, &body) in messages.iter().enumerate() {
        if !is_group(body) {
            entries.push(Entry {
                message,
                part: None,
            });
            bodies.push(body);
            continue;
        }
        groups += 1;
        match split_bodies(body) {
            Ok(parts) => {
                for part in parts {
                    entries.push(Entry {
                        message,
                        part: Some(part),
                    });
                    bodies.push(part);
                }
            }
            Err(error) => broken.push((message, error.to_string())),
        }
    }
    let mut decided = process(
        store,
        limits,
        max_clock_skew,
        &bodies,
        with_subjects,
        retry,
        cancel,
    )
    .await?;
    for (message, reason) in broken {
        entries.push(Entry {
            message,
            part: None,
        });
        decided.outcomes.push(Outcome::DeadLetter(reason));
        decided.subjects.push(None);
    }
    Ok(DecidedMessages {
        entries,
        decided,
        groups,
    })
}

/// How many uploads a message carries, for the batch limits: a group's size header when it
/// has one (the front sets it), else its element count; 1 for any other message.
pub fn uploads_in(body: &[u8], headers: Option<&lapin::types::FieldTable>) -> usize {
    if !is_group(body) {
        return 1;
    }
    let header = headers
        .and_then(|table| table.inner().get(GROUP_SIZE_HEADER))
        .and_then(|value| match value {
            lapin::types::AMQPValue::LongUInt(n) => usize::try_from(*n).ok(),
            other => other
                .as_long_long_int()
                .and_then(|n| usize::try_from(n).ok()),
        })
        .filter(|&n| n > 0);
    header.unwrap_or_else(|| split_bodies(body).map_or(1, |parts| parts.len().max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_group;

    #[test]
    fn a_message_counts_its_uploads() {
        let session: crate::session::Session = serde_json::from_value(serde_json::json!({
            "uuid": "s-1", "unit_id": "u", "created": 1, "saved": 2, "points": {},
        }))
        .unwrap_or_else(|error| unreachable!("{error}"));
        let stamp = crate::ordering::Stamp::now("test");
        let single = crate::wire::Upload::create(1, stamp, session).encode();
        assert_eq!(uploads_in(&single, None), 1);
        let group = encode_group(&[&single, &single, &single]);
        assert_eq!(uploads_in(&group, None), 3);
        let mut headers = lapin::types::FieldTable::default();
        headers.insert(
            GROUP_SIZE_HEADER.into(),
            lapin::types::AMQPValue::LongUInt(3),
        );
        assert_eq!(uploads_in(&group, Some(&headers)), 3);
        let broken = group.get(..group.len() - 2).unwrap_or_default();
        assert_eq!(uploads_in(broken, None), 1);
    }
}
