//! One typed configuration, loaded once (see [`load`] for where from): a file or a directory
//! of TOML files, then the environment.
//!
//! Environment: `INTAKE_LISTEN`, `DATABASE_URL` and `AMQP_URL` for the common three, and
//! `INTAKE_<SECTION>__<KEY>` for anything else (e.g. `INTAKE_CONSUMER__PREFETCH=256`).

mod console;
mod group;
mod load;
mod redact;

pub use console::ConsoleConfig;

pub use load::{ConfigError, Source};

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::session::Limits;

mod urls;
pub use urls::{BrokerUrls, UrlsError};

/// A value kept out of logs and `Debug` output (URLs with passwords).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP front.
    pub front: FrontConfig,
    /// The queue consumer.
    pub consumer: ConsumerConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// RabbitMQ and the topology names.
    pub broker: BrokerConfig,
    /// Per-session size limits, checked by the front and again by the consumer.
    #[serde(default)]
    pub limits: Limits,
    /// Log output.
    #[serde(default)]
    pub log: LogConfig,
    /// How long purgeable data is kept (`intake purge --retention`).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The operator console (`intake console`).
    #[serde(default)]
    pub console: ConsoleConfig,
}

/// Retention, applied by `intake purge --retention` (run from cron, docs/TOOLS.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Soft-deleted sessions are purged this many days after their deletion; unset: kept.
    pub deleted_days: Option<u32>,
}

/// HTTP front settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontConfig {
    /// Address to listen on (`INTAKE_LISTEN`).
    pub listen: SocketAddr,
    /// Address of the front's own metrics listener (`/metrics`), apart from the devices'
    /// port: loopback by default, for a Prometheus on the same host or network.
    pub metrics_listen: SocketAddr,
    /// PEM certificate chain: with `tls_key`, the front speaks TLS itself (for deployments
    /// without a proxy that ends TLS).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Largest accepted request body, in bytes (larger is `413`).
    pub body_limit_bytes: usize,
    /// How long a publish may wait for the broker's confirm before the client gets `503`.
    pub publish_timeout_ms: u64,
    /// AMQP channels the front publishes on, shared by all requests.
    pub publish_channels: usize,
    /// Publishes that may wait for broker confirms at once; further uploads get `503` with
    /// `Retry-After` instead of queueing without bound.
    pub max_in_flight_publishes: usize,
    /// Bytes of encoded uploads that may wait for confirms at once: with large attachments
    /// the count above would let memory grow to hundreds of MiB during a broker stall.
    /// An upload larger than this on its own waits until it is the only one.
    pub max_in_flight_bytes: usize,
    /// Accepted clock difference between a signed request's timestamp and the server.
    pub auth_window_seconds: i64,
    /// How often users, grants and projects are reloaded from PostgreSQL.
    pub auth_refresh_seconds: u64,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Most connections open at once (slow or idle clients cannot exhaust the process).
    pub max_connections: usize,
    /// Time a client has to send the request headers; a new connection must have sent its
    /// first request's headers (and finished its TLS handshake) by then.
    pub header_read_timeout_ms: u64,
    /// A connection without a request in flight for this long is closed (HTTP/1 keep-alive
    /// and HTTP/2 alike); also the interval of HTTP/2 pings.
    pub idle_timeout_ms: u64,
    /// Time a client has to send the whole body (`408` after it).
    pub body_read_timeout_ms: u64,
    /// With `?wait=stored`, how long a write waits for the consumer to commit it before it
    /// is answered `202` as usual (read-your-write is opt-in; the wait holds no resources
    /// but the request, see docs/ORDERING.md).
    pub wait_stored_ms: u64,
    /// Uploads that arrive for a partition while its publish is in flight go as one message
    /// once it is answered (the broker's cost is per message); off, one message per upload.
    #[serde(default = "group::on")]
    pub group_publish: bool,
    /// Most uploads in one group message; a full group goes at once.
    #[serde(default = "group::max_uploads")]
    pub group_max_uploads: usize,
    /// A group goes at once when its uploads reach this many bytes, and never grows past it.
    #[serde(default = "group::max_bytes")]
    pub group_max_bytes: usize,
    /// An upload larger than this (a file) is always a message of its own; the front also
    /// drops it once encoded and reads it back after the confirm, to hold it once less.
    #[serde(default = "group::alone_bytes")]
    pub group_alone_bytes: usize,
    /// Uploads that may await their confirm, over all partitions, while uploads still go one
    /// by one: a quiet front adds no wait. Past it, an upload gathers behind its partition's
    /// message in flight (a partition with none sends at once), so a loaded front keeps about
    /// one message a partition in flight and its groups large.
    #[serde(default = "group::in_flight")]
    pub group_in_flight: usize,
}

/// Consumer settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Address of the consumer's own HTTP listener: `/metrics`, `/healthz`, `/readyz`.
    pub listen: SocketAddr,
    /// Most unacknowledged deliveries the broker may hand each worker.
    pub prefetch: u16,
    /// About how many bytes of unacknowledged deliveries each worker holds: the prefetch
    /// count follows the size of recent messages, between 8 and `prefetch`.
    pub prefetch_bytes: usize,
    /// Most uploads written in one transaction (a group message counts each of its
    /// uploads; a message is never cut, so the one that crosses the limit still joins).
    pub batch_size: usize,
    /// A batch is written once its messages reach this many bytes, even if not full.
    pub batch_bytes: usize,
    /// How long a worker waits for more deliveries before writing a partial batch.
    pub batch_linger_ms: u64,
    /// Parallel workers, each with its own channel and database connection.
    pub workers: usize,
    /// First delay before retrying a failed write; doubles up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest delay between write retries.
    pub retry_max_ms: u64,
    /// Uploads stamped further ahead of this consumer's clock are dead-lettered: fronts stamp
    /// with their own clock, so only clock differences between hosts are forgiven.
    pub max_clock_skew_seconds: u64,
    /// The partitions this consumer reads, e.g. `"0,2"`; empty (the default) for all of them.
    /// A single number is accepted too (`INTAKE_CONSUMER__PARTITIONS=1` arrives as one).
    #[serde(default, deserialize_with = "partition_list")]
    pub partitions: String,
    /// Publish a stored-event for every upload of a batch (to `broker.events_exchange`)
    /// after it commits and before it is acked (docs/EVENTS.md).
    #[serde(default)]
    pub events: bool,
    /// How long a batch's events may wait for the broker's confirms; past it the batch is
    /// not acked, and the broker delivers it again.
    pub event_confirm_timeout_ms: u64,
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connection URL (`DATABASE_URL`): the primary, for every write, `?wait=stored`, the
    /// checks of updates and the users and grants.
    pub url: Secret,
    /// A streaming replica for the read routes (GET sessions, the list, the export,
    /// attachment downloads, devices); unset, they read the primary too. While the replica
    /// cannot be reached, reads fall back to the primary (docs/SCALING.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_url: Option<Secret>,
    /// Pool size per process.
    pub pool_size: u32,
    /// `statement_timeout` set on every connection.
    pub statement_timeout_ms: u64,
    /// How long to wait for a pooled connection.
    pub connect_timeout_ms: u64,
}

/// RabbitMQ settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// The nodes' URLs (`AMQP_URL`, comma-separated): one, or a list tried in order — the
    /// first that answers is used, and a lost connection moves on to the next at once.
    pub url: BrokerUrls,
    /// Durable direct exchange uploads are published to.
    pub exchange: String,
    /// Durable quorum queue the consumers read: partition 0's, and the stem of the others'
    /// (`<queue>.p1`, …).
    pub queue: String,
    /// Quorum queues uploads are spread over by a hash of (project, uuid); 1 is the
    /// unpartitioned topology. Consumers declare the queues, fronts only use them
    /// (docs/SCALING.md has the procedure to change it live).
    #[serde(default = "one")]
    pub partitions: u16,
    /// Exchange for messages that can never be stored.
    pub dead_letter_exchange: String,
    /// Queue holding them until an operator requeues or purges them.
    pub dead_letter_queue: String,
    /// Durable topic exchange of stored-events (with `consumer.events`), routing key
    /// `<project>.<kind>`.
    pub events_exchange: String,
    /// Deliveries after which the broker itself dead-letters a message (crash loops).
    pub delivery_limit: u32,
    /// First delay between connection attempts; doubles up to `reconnect_max_ms`.
    pub reconnect_initial_ms: u64,
    /// Longest delay between connection attempts.
    pub reconnect_max_ms: u64,
}

/// Log settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` for structured logs, `text` for human-readable ones.
    pub format: LogFormat,
    /// Default filter when `RUST_LOG` is unset.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

fn one() -> u16 {
    1
}

/// `consumer.partitions` as text, from text, a number or a list of numbers.
fn partition_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        One(u64),
        Many(Vec<u64>),
    }
    Ok(match Given::deserialize(deserializer)? {
        Given::Text(text) => text,
        Given::One(n) => n.to_string(),
        Given::Many(list) => list
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    })
}

impl Config {
    /// The rules that span keys: at least one partition, and a consumer's partitions among
    /// them.
    fn check(self) -> Result<Self, ConfigError> {
        if self.broker.partitions == 0 {
            return Err(invalid("broker.partitions must be at least 1"));
        }
        self.consumer_partitions()
            .map_err(|error| invalid(&error))?;
        self.front.check_groups().map_err(|error| invalid(&error))?;
        Ok(self)
    }

    /// The partitions this consumer reads: `consumer.partitions`, or all of them.
    pub fn consumer_partitions(&self) -> Result<Vec<u16>, String> {
        let count = self.broker.partitions.max(1);
        let text = self.consumer.partitions.trim();
        if text.is_empty() {
            return Ok((0..count).collect());
        }
        let mut chosen = Vec::new();
        for entry in text.split(',').map(str::trim) {
            let partition = entry
                .parse::<u16>()
                .ok()
                .filter(|&p| p < count)
                .ok_or_else(|| {
                    format!(
                        "consumer.partitions: {entry:?} is not a partition of 0..{} \
                         (broker.partitions = {count})",
                        count - 1
                    )
                })?;
            if !chosen.contains(&partition) {
                chosen.push(partition);
            }
        }
        Ok(chosen)
    }
}

fn invalid(message: &str) -> ConfigError {
    ConfigError::Rule(message.to_owned())
}

impl ConsumerConfig {
    /// The event confirm timeout.
    pub fn event_confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.event_confirm_timeout_ms)
    }
}

impl FrontConfig {
    /// The publish confirm timeout.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.publish_timeout_ms)
    }

    /// The longest `?wait=stored` wait.
    pub fn wait_stored(&self) -> Duration {
        Duration::from_millis(self.wait_stored_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn consumer_partitions_may_be_text_a_number_or_a_list() {
        let dir = std::env::temp_dir().join(format!("intake-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let default = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
        std::fs::write(dir.join("default.toml"), default).unwrap();
        for (given, wanted) in [
            ("\"0,2\"", vec![0, 2]),
            ("1", vec![1]),
            ("[2, 0]", vec![2, 0]),
        ] {
            let overlay = format!("[broker]\npartitions = 3\n[consumer]\npartitions = {given}\n");
            std::fs::write(dir.join("parts.toml"), overlay).unwrap();
            let config = Config::load_from(&dir, Some("parts")).unwrap();
            assert_eq!(config.consumer_partitions().unwrap(), wanted, "{given}");
        }
        std::fs::write(dir.join("parts.toml"), "[consumer]\npartitions = \"1\"\n").unwrap();
        let error = Config::load_from(&dir, Some("parts")).unwrap_err();
        assert!(error.to_string().contains("consumer.partitions"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
