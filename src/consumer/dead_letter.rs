//! Dead-lettering: a message that can never be stored is republished to the dead-letter
//! exchange, confirmed, before the batch ack removes the original.

use lapin::message::Delivery;
use lapin::types::{AMQPValue, LongString};

use super::{BrokerLost, Worker};
use crate::broker::{
    self, DEAD_LETTER_ID_HEADER, DEAD_LETTERED_AT_HEADER, REASON_HEADER, publish_confirmed,
};

impl Worker {
    /// Republishes the message unchanged but for the reason, dead-letter id and time headers,
    /// confirmed, before the batch ack removes the original.
    pub(super) async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), BrokerLost> {
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(ToString::to_string);
        tracing::warn!(upload.id = message_id.unwrap_or_default(), %reason, "dead-lettering a message");
        let text = |value: &str| AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()));
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(REASON_HEADER.into(), text(reason));
        // A new id each time: a requeued upload dead-lettered again is a new dead letter.
        let id = uuid::Uuid::now_v7().to_string();
        headers.insert(DEAD_LETTER_ID_HEADER.into(), text(&id));
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        headers.insert(DEAD_LETTERED_AT_HEADER.into(), text(&now));
        let properties = delivery.properties.clone().with_headers(headers);
        publish_confirmed(
            &self.dead_letters,
            &self.config.broker.dead_letter_exchange,
            "",
            &delivery.data,
            properties,
        )
        .await
        .map_err(|error| publish_failed("dead-letter", error))
    }
}

pub(super) fn publish_failed(what: &str, error: broker::PublishError) -> BrokerLost {
    match error {
        broker::PublishError::Amqp(error) => BrokerLost::Amqp(error),
        other => BrokerLost::Other(format!("{what} publish failed: {other}")),
    }
}
