//! Connecting to one of several broker nodes: the first that answers, the next one at once
//! when a connection is lost, and a backoff only after every node failed in a round.

use std::str::FromStr;
use std::time::Duration;

use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::config::{BrokerConfig, Secret};

/// How long one connection attempt may take: a node that accepts TCP but never answers must
/// not hold up the move to the next one.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects one process to the broker's nodes and remembers which one to try next.
pub struct Connector {
    urls: Vec<Secret>,
    name: String,
    next: usize,
    initial: Duration,
    ceiling: Duration,
}

impl Connector {
    /// A connector over `config.url`, naming its connections `name` on the broker.
    pub fn new(config: &BrokerConfig, name: &str) -> Self {
        Self {
            urls: config.url.all().to_vec(),
            name: name.to_owned(),
            next: 0,
            initial: Duration::from_millis(config.reconnect_initial_ms.max(1)),
            ceiling: Duration::from_millis(config.reconnect_max_ms.max(1)),
        }
    }

    /// Tries every node once, starting with the one after the node last connected to (the
    /// first node at start). The last error when none answers.
    pub async fn round(&mut self) -> Result<Connection, lapin::Error> {
        let count = self.urls.len().max(1);
        let mut last = None;
        for step in 0..count {
            let index = (self.next + step) % count;
            let Some(url) = self.urls.get(index) else {
                break;
            };
            match attempt(url, &self.name).await {
                Ok(conn) => {
                    tracing::info!(node = %node(url), "connected to RabbitMQ");
                    self.next = (index + 1) % count;
                    return Ok(conn);
                }
                Err(error) => {
                    tracing::warn!(node = %node(url), %error, "cannot connect to RabbitMQ node");
                    last = Some(error);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no broker URL").into()
        }))
    }

    /// Connects, in rounds over every node with an exponential backoff between rounds, until
    /// a node answers or `cancel` fires.
    pub async fn connect(&mut self, cancel: &CancellationToken) -> Option<Connection> {
        let mut delay = self.initial;
        loop {
            let round = tokio::select! {
                () = cancel.cancelled() => return None,
                round = self.round() => round,
            };
            match round {
                Ok(conn) => return Some(conn),
                Err(error) => tracing::warn!(
                    %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "no RabbitMQ node answers"
                ),
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(self.ceiling);
        }
    }
}

/// Connects to the first node that answers, one round (the tools: they report the error).
pub async fn connect(config: &BrokerConfig, name: &str) -> Result<Connection, lapin::Error> {
    Connector::new(config, name).round().await
}

async fn attempt(url: &Secret, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(
        ATTEMPT_TIMEOUT,
        Connection::connect(url.expose(), properties),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {ATTEMPT_TIMEOUT:?}"),
        ))),
    }
}

/// `host:port` of a node, for logs (never the URL: it may hold a password).
fn node(url: &Secret) -> String {
    AMQPUri::from_str(url.expose())
        .map(|uri| format!("{}:{}", uri.authority.host, uri.authority.port))
        .unwrap_or_else(|_| "?".into())
}
