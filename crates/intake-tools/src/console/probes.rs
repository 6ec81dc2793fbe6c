//! What the overview asks the services every tick: their readiness, their metrics, and the
//! queues' depths from RabbitMQ (a passive declare answers with the message count).

use std::time::Duration;

use intake::broker::partition::queue_name;
use intake::config::Config;
use intake::store::Store;
use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde::Serialize;

use super::metrics_text::Scrape;

/// How long one probe may take: well under the 2 s tick.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// One service's readiness.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// Whether it answered ready.
    pub ready: bool,
    /// Why not (or what it said).
    pub reason: String,
}

impl Readiness {
    fn ok() -> Self {
        Self {
            ready: true,
            reason: String::new(),
        }
    }

    /// Not ready, for `reason`.
    pub fn not(reason: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason: reason.into(),
        }
    }
}

/// GET `url`: ready on a 2xx answer.
pub async fn http_ready(http: &reqwest::Client, url: &str) -> Readiness {
    match http.get(url).timeout(PROBE_TIMEOUT).send().await {
        Ok(response) if response.status().is_success() => Readiness::ok(),
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Readiness::not(format!("{status}: {}", text.trim()))
        }
        Err(error) => Readiness::not(format!(
            "no answer from {url}: {}",
            crate::transport_reason(&error)
        )),
    }
}

/// GET a `/metrics` endpoint; `None` when it does not answer.
pub async fn scrape(http: &reqwest::Client, url: &str) -> Option<Scrape> {
    let response = http.get(url).timeout(PROBE_TIMEOUT).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    Some(Scrape::parse(&response.text().await.ok()?))
}

/// PostgreSQL answers a query.
pub async fn database_ready(store: &Store) -> Readiness {
    let check = store.run(|conn| {
        use diesel::RunQueryDsl as _;
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    });
    match tokio::time::timeout(PROBE_TIMEOUT * 2, check).await {
        Ok(Ok(())) => Readiness::ok(),
        Ok(Err(error)) => Readiness::not(error.to_string()),
        Err(_) => Readiness::not("no answer in time"),
    }
}

/// How long a missing queue is not asked about again: each passive declare of a missing
/// queue makes the broker close the channel, which the AMQP client logs as an error.
const MISSING_QUEUE_BACKOFF: Duration = Duration::from_secs(30);

/// The broker connection the sampler keeps between ticks.
#[derive(Default)]
pub struct Broker {
    conn: Option<Connection>,
    /// A queue found missing, and until when it is not asked about again.
    missing: Option<(String, std::time::Instant)>,
}

impl Broker {
    /// Each partition queue's message count (`None` where it could not be read) and the
    /// broker's readiness.
    pub async fn depths(&mut self, config: &Config) -> (Vec<Option<u32>>, Readiness) {
        let partitions = config.broker.partitions.max(1);
        let mut depths = vec![None; usize::from(partitions)];
        if self
            .conn
            .as_ref()
            .is_none_or(|conn| !conn.status().connected())
        {
            let connecting = intake::broker::connect(&config.broker, "intake-console");
            match tokio::time::timeout(PROBE_TIMEOUT * 2, connecting).await {
                Ok(Ok(conn)) => self.conn = Some(conn),
                Ok(Err(error)) => return (depths, Readiness::not(error.to_string())),
                Err(_) => return (depths, Readiness::not("no answer in time")),
            }
        }
        if let Some((queue, until)) = &self.missing {
            if std::time::Instant::now() < *until {
                return (depths, missing_queue(queue));
            }
        }
        let Some(conn) = &self.conn else {
            return (depths, Readiness::not("not connected"));
        };
        let channel = match conn.create_channel().await {
            Ok(channel) => channel,
            Err(error) => {
                self.conn = None;
                return (depths, Readiness::not(error.to_string()));
            }
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let mut problem: Option<Readiness> = None;
        for (partition, depth) in (0..partitions).zip(depths.iter_mut()) {
            let name = queue_name(&config.broker, partition);
            let declared = channel
                .queue_declare(name.as_str().into(), passive, FieldTable::default())
                .await;
            match declared {
                Ok(queue) => *depth = Some(queue.message_count()),
                Err(error) => {
                    // A missing queue closes the channel: report it, read no further.
                    if is_not_found(&error) {
                        self.missing = Some((
                            name.clone(),
                            std::time::Instant::now() + MISSING_QUEUE_BACKOFF,
                        ));
                        problem = Some(missing_queue(&name));
                    } else {
                        problem = Some(Readiness::not(format!("queue {name}: {error}")));
                    }
                    break;
                }
            }
        }
        if problem.is_none() {
            self.missing = None;
            let _closed = channel.close(200, "sampled".into()).await;
        }
        (depths, problem.unwrap_or_else(Readiness::ok))
    }
}

/// The broker answers, but a partition queue is not there yet: it is up all the same.
fn missing_queue(queue: &str) -> Readiness {
    Readiness {
        ready: true,
        reason: format!("queue {queue} does not exist yet; consumers declare it"),
    }
}

fn is_not_found(error: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(error.kind(), lapin::ErrorKind::ProtocolError(amqp)
        if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}
