//! The dead-letter queue moved into the `dead_letters` table. Browsing a queue means taking
//! messages off it and handing them back, so concurrent browsers miss each other's messages;
//! a table can be read by everyone at once. Every `intake dlq` operation therefore opens a
//! [`DeadLetters`] first: it takes a PostgreSQL advisory lock (one collector at a time, and
//! requeue and purge act alone), then drains the queue into the table — each batch inserted
//! and committed *before* it is acked, so a crash in between only redelivers messages that
//! the unique dead-letter id absorbs. Nothing is ever lost on either side.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Acker, BasicProperties, Channel, Connection};
use sha2::{Digest, Sha256};

use crate::ToolError;
use crate::dlq_group;
use crate::dlq_table::{Db, NewDeadLetter};
use intake::broker::{
    self, DEAD_LETTER_ID_HEADER, DEAD_LETTERED_AT_HEADER, PublishError, REASON_HEADER, ROUTING_KEY,
    publish_confirmed,
};
use intake::config::Config;
use intake::wire::{PROJECT_HEADER, Upload};

/// The advisory lock key every `intake dlq` process takes (advisory locks are per database).
const LOCK_KEY: i64 = 0x1D1E_DEAD;
/// A collect batch stops at this many messages or bytes, whichever comes first.
const BATCH_MESSAGES: usize = 100;
const BATCH_BYTES: usize = 8 << 20;

/// Headers dropped when a dead letter goes back to the main exchange: the consumer's, and
/// RabbitMQ's own dead-lettering history (which would otherwise make a later dead-lettering
/// look like a repeat).
const DROPPED_HEADERS: [&str; 10] = [
    REASON_HEADER,
    DEAD_LETTER_ID_HEADER,
    DEAD_LETTERED_AT_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

/// The dead letters, collected and locked for this process until [`DeadLetters::close`].
pub(super) struct DeadLetters {
    pub(super) db: Db,
    conn: Connection,
    /// Kept open until the connection closes: a dropped channel closes itself in the
    /// background, and a connection close racing that fails.
    channel: Channel,
    publisher: Option<Channel>,
}

impl DeadLetters {
    /// Locks, then collects the whole dead-letter queue into the table.
    pub(super) async fn open(config: &Config) -> Result<Self, ToolError> {
        let mut db = Db::connect(&config.database).await?;
        // Waits for another collector or requeue to finish, however long that takes.
        db.run(|conn| {
            diesel::sql_query("SET statement_timeout = 0").execute(conn)?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK_KEY})")).execute(conn)?;
            Ok(())
        })
        .await?;
        let conn = broker::connect(&config.broker, "intake-dlq").await?;
        let channel = conn.create_channel().await?;
        let queue = config.broker.dead_letter_queue.as_str();
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await?;
        let mut dead = Self {
            db,
            conn,
            channel,
            publisher: None,
        };
        dead.collect(queue).await?;
        Ok(dead)
    }

    /// Moves every message in the queue into the table: insert, commit, then ack.
    async fn collect(&mut self, queue: &str) -> Result<(), ToolError> {
        let options = BasicGetOptions { no_ack: false };
        loop {
            let mut rows = Vec::new();
            let mut bytes = 0;
            let mut last: Option<Acker> = None;
            while rows.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
                let Some(message) = self.channel.basic_get(queue.into(), options).await? else {
                    break;
                };
                bytes += message.delivery.data.len();
                rows.extend(records(&message.delivery)?);
                last = Some(message.delivery.acker);
            }
            let Some(last) = last else {
                return Ok(());
            };
            self.db.insert(rows).await?;
            last.ack(BasicAckOptions { multiple: true }).await?;
        }
    }

    /// Republishes a dead letter to the main exchange, confirmed, without the dead-letter
    /// headers.
    pub(super) async fn republish(
        &mut self,
        exchange: &str,
        properties: &BasicProperties,
        body: &[u8],
    ) -> Result<(), PublishError> {
        if self.publisher.is_none() {
            let publisher = self.conn.create_channel().await?;
            publisher
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            self.publisher = Some(publisher);
        }
        let publisher = self.publisher.as_ref().ok_or(PublishError::Unavailable)?;
        let properties = without_reason(properties);
        publish_confirmed(publisher, exchange, ROUTING_KEY, body, properties).await
    }

    /// Releases the lock and closes both connections.
    pub(super) async fn close(mut self) -> Result<(), ToolError> {
        self.db
            .run(|conn| {
                diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
                    .execute(conn)?;
                Ok(())
            })
            .await?;
        self.conn.close(200, "dlq done".into()).await?;
        Ok(())
    }
}

/// The table rows for a delivery from the dead-letter queue: one, or one per upload of a
/// group message.
fn records(delivery: &Delivery) -> Result<Vec<NewDeadLetter>, ToolError> {
    match dlq_group::parts(&delivery.properties, &delivery.data) {
        None => Ok(vec![record(&delivery.properties, &delivery.data)?]),
        Some(parts) => parts
            .iter()
            .map(|(properties, body)| record(properties, body))
            .collect(),
    }
}

/// The table row for one dead letter.
fn record(p: &BasicProperties, data: &[u8]) -> Result<NewDeadLetter, ToolError> {
    let upload: Option<Upload> = rmp_serde::from_slice(data).ok();
    let upload_id = p.message_id().as_ref().map(ToString::to_string);
    let dead_letter_id = header_text(p, DEAD_LETTER_ID_HEADER)
        .unwrap_or_else(|| content_id(upload_id.as_deref(), data));
    let properties = serde_json::to_value(p)
        .map_err(|error| ToolError::Task(format!("AMQP properties to JSON: {error}")))?;
    Ok(NewDeadLetter {
        dead_letter_id,
        upload_id,
        project_id: header_int(p, PROJECT_HEADER).or_else(|| upload.as_ref().map(|u| u.project_id)),
        session_uuid: upload.map(|u| u.uuid().as_str().to_owned()),
        reason: header_text(p, REASON_HEADER).or_else(|| header_text(p, "x-first-death-reason")),
        headers: headers_text(p).into_iter().collect(),
        properties,
        body: data.to_vec(),
        accepted_at: p
            .timestamp()
            .and_then(|t| i64::try_from(t).ok())
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
        dead_lettered_at: header_text(p, DEAD_LETTERED_AT_HEADER)
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|at| at.with_timezone(&Utc)),
    })
}

/// The id of a dead letter without the consumer's id header (dead-lettered by RabbitMQ
/// itself, at the delivery limit): its upload id and body, so its redeliveries are one row.
fn content_id(upload_id: Option<&str>, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(upload_id.unwrap_or_default().as_bytes());
    hash.update([0]);
    hash.update(body);
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The original properties minus the dead-lettering headers.
pub(super) fn without_reason(properties: &BasicProperties) -> BasicProperties {
    let Some(headers) = properties.headers() else {
        return properties.clone();
    };
    let kept: std::collections::BTreeMap<ShortString, _> = headers
        .inner()
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    properties.clone().with_headers(FieldTable::from(kept))
}

fn header<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(name)
}

fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    match header(properties, name)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

fn header_int(properties: &BasicProperties, name: &str) -> Option<i64> {
    match header(properties, name)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).parse().ok(),
        _ => None,
    }
}

/// Every header of a message, each value as an operator reads it.
pub(super) fn headers_text(properties: &BasicProperties) -> BTreeMap<String, String> {
    let Some(table) = properties.headers().as_ref() else {
        return BTreeMap::new();
    };
    table
        .inner()
        .iter()
        .map(|(name, value)| (name.to_string(), value_text(value)))
        .collect()
}

/// A header value as an operator reads it.
fn value_text(value: &AMQPValue) -> String {
    match value {
        AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
        AMQPValue::ShortString(text) => text.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::Timestamp(t) => t.to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn properties_survive_the_table() {
        let mut headers = FieldTable::default();
        headers.insert("x-intake-schema".into(), AMQPValue::LongUInt(2));
        headers.insert("x-intake-project".into(), AMQPValue::LongLongInt(42));
        headers.insert(REASON_HEADER.into(), AMQPValue::LongString("why".into()));
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/vnd.intake.upload+msgpack".into())
            .with_message_id("0192f3".into())
            .with_timestamp(1_700_000_000)
            .with_headers(headers);
        let json = serde_json::to_value(&properties).unwrap();
        let back: BasicProperties = serde_json::from_value(json).unwrap();
        assert_eq!(back, properties);
        let kept = without_reason(&back);
        let kept = kept.headers().as_ref().unwrap().inner();
        assert!(kept.contains_key("x-intake-project") && !kept.contains_key(REASON_HEADER));
    }

    #[test]
    fn a_message_without_an_id_header_is_identified_by_its_content() {
        assert_eq!(
            content_id(Some("a"), b"body"),
            content_id(Some("a"), b"body")
        );
        assert_ne!(
            content_id(Some("a"), b"body"),
            content_id(Some("b"), b"body")
        );
    }
}
