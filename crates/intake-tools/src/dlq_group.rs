//! A group message on the dead-letter queue (RabbitMQ dead-letters a group whole when it
//! reaches the delivery limit): collected as one dead letter per upload, each the
//! single-upload message it would have travelled as, so `list`, `show` and `requeue` treat
//! them like any other. A group that cannot be split stays one dead letter, whole.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};

use intake::broker::{DEAD_LETTER_ID_HEADER, upload_properties};
use intake::wire::group::{GROUP_SIZE_HEADER, is_group};
use intake::wire::{self, Upload, split_bodies};

/// The uploads of a group message with the properties each gets, or `None` when the body
/// is not a group that splits.
pub(super) fn parts<'a>(
    properties: &BasicProperties,
    body: &'a [u8],
) -> Option<Vec<(BasicProperties, &'a [u8])>> {
    if !is_group(body) {
        return None;
    }
    let parts = split_bodies(body).ok()?;
    Some(
        parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| (part_properties(properties, part, index), part))
            .collect(),
    )
}

/// A front's properties for the upload alone (read off its body, else persistent with the
/// upload content type and the group's time), plus the group's other headers (the reason,
/// RabbitMQ's death history); the dead-letter id gets the upload's position, so each is
/// recorded once however often the group is collected.
fn part_properties(group: &BasicProperties, body: &[u8], index: usize) -> BasicProperties {
    let own = match Upload::decode_own(body) {
        Ok(upload) => upload_properties(&upload),
        Err(_) => {
            let bare = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type(wire::CONTENT_TYPE.into());
            match group.timestamp() {
                Some(timestamp) => bare.with_timestamp(*timestamp),
                None => bare,
            }
        }
    };
    let mut headers = FieldTable::default();
    let group_only = [GROUP_SIZE_HEADER, wire::SCHEMA_HEADER, wire::PROJECT_HEADER];
    if let Some(table) = group.headers() {
        for (name, value) in table.inner() {
            if !group_only.contains(&name.as_str()) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    if let Some(AMQPValue::LongString(id)) = headers.inner().get(DEAD_LETTER_ID_HEADER).cloned() {
        let id = format!("{}/{index}", String::from_utf8_lossy(id.as_bytes()));
        headers.insert(
            DEAD_LETTER_ID_HEADER.into(),
            AMQPValue::LongString(LongString::from(id.into_bytes())),
        );
    }
    if let Some(table) = own.headers() {
        for (name, value) in table.inner() {
            headers.insert(name.clone(), value.clone());
        }
    }
    own.with_headers(headers)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use intake::wire::encode_group;

    #[test]
    fn a_single_message_or_a_broken_group_is_not_split() {
        let properties = BasicProperties::default();
        assert!(parts(&properties, b"\x81\xa7version\x01").is_none());
        let group = encode_group(&[b"x".to_vec()]);
        assert!(parts(&properties, &group[..group.len() - 1]).is_none());
    }

    #[test]
    fn each_upload_keeps_the_reason_and_gets_an_id_of_its_own() {
        let mut headers = FieldTable::default();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()));
        headers.insert("x-intake-reason".into(), text("why"));
        headers.insert(DEAD_LETTER_ID_HEADER.into(), text("dl"));
        headers.insert(GROUP_SIZE_HEADER.into(), AMQPValue::LongUInt(2));
        let group = BasicProperties::default()
            .with_timestamp(7)
            .with_headers(headers);
        let body = encode_group(&[b"a".to_vec(), b"b".to_vec()]);
        let split = parts(&group, &body).unwrap();
        assert_eq!(split.len(), 2);
        let (properties, part) = &split[1];
        assert_eq!(*part, b"b");
        let headers = properties.headers().as_ref().unwrap().inner();
        assert_eq!(headers.get(DEAD_LETTER_ID_HEADER), Some(&text("dl/1")));
        assert_eq!(headers.get("x-intake-reason"), Some(&text("why")));
        assert!(!headers.contains_key(GROUP_SIZE_HEADER));
        assert_eq!(properties.timestamp(), &Some(7));
    }
}
