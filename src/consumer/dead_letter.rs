//! Dead-lettering: a message that can never be stored is republished to the dead-letter
//! exchange, confirmed, before the batch ack removes the original. An upload of a group goes
//! alone, as the single-upload message it would have travelled as.

use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, LongString};

use super::{BrokerLost, Worker};
use crate::broker::{
    self, DEAD_LETTER_ID_HEADER, DEAD_LETTERED_AT_HEADER, REASON_HEADER, publish_confirmed,
    upload_properties,
};
use crate::wire::{self, Upload};

impl Worker {
    /// Republishes the message unchanged but for the reason, dead-letter id and time headers,
    /// confirmed, before the batch ack removes the original.
    pub(super) async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), BrokerLost> {
        self.publish_dead_letter(&delivery.data, delivery.properties.clone(), reason)
            .await
    }

    /// Dead-letters one upload of a group message by itself: its own body, with the
    /// properties a front gives a single upload (read off the body; when even that fails,
    /// the group's time alone).
    pub(super) async fn dead_letter_part(
        &self,
        group: &Delivery,
        body: &[u8],
        reason: &str,
    ) -> Result<(), BrokerLost> {
        let properties = match Upload::decode_own(body) {
            Ok(upload) => upload_properties(&upload),
            Err(_) => unidentified(&group.properties),
        };
        self.publish_dead_letter(body, properties, reason).await
    }

    async fn publish_dead_letter(
        &self,
        body: &[u8],
        properties: BasicProperties,
        reason: &str,
    ) -> Result<(), BrokerLost> {
        let message_id = properties.message_id().as_ref().map(ToString::to_string);
        tracing::warn!(upload.id = message_id.unwrap_or_default(), %reason, "dead-lettering a message");
        let text = |value: &str| AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()));
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(REASON_HEADER.into(), text(reason));
        // A new id each time: a requeued upload dead-lettered again is a new dead letter.
        let id = uuid::Uuid::now_v7().to_string();
        headers.insert(DEAD_LETTER_ID_HEADER.into(), text(&id));
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        headers.insert(DEAD_LETTERED_AT_HEADER.into(), text(&now));
        publish_confirmed(
            &self.dead_letters,
            &self.config.broker.dead_letter_exchange,
            "",
            body,
            properties.with_headers(headers),
        )
        .await
        .map_err(|error| publish_failed("dead-letter", error))
    }
}

/// Single-upload properties for a body that does not decode: persistent, the upload content
/// type and the group's time. No upload id or project: nothing trustworthy names them (a
/// group may carry uploads of several projects).
fn unidentified(group: &BasicProperties) -> BasicProperties {
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(wire::CONTENT_TYPE.into())
        .with_headers(FieldTable::default());
    match group.timestamp() {
        Some(timestamp) => properties.with_timestamp(*timestamp),
        None => properties,
    }
}

pub(super) fn publish_failed(what: &str, error: broker::PublishError) -> BrokerLost {
    match error {
        broker::PublishError::Amqp(error) => BrokerLost::Amqp(error),
        other => BrokerLost::Other(format!("{what} publish failed: {other}")),
    }
}
