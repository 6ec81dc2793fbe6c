//! The operator console's settings (`intake console`, docs/CONSOLE.md): its own listener,
//! apart from the devices' front, and where it reads the services' metrics and readiness.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `[console]`: every key has a default matching config/default.toml's listeners, so a
/// configuration without the section still runs the console on one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Address the console listens on (`INTAKE_CONSOLE__LISTEN`).
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (set it when a TLS proxy fronts the console).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_ttl_minutes: u32,
    /// The front's Prometheus endpoint (its `front.metrics_listen`).
    pub front_metrics_url: String,
    /// The consumer's Prometheus endpoint (its `consumer.listen`).
    pub consumer_metrics_url: String,
    /// The front's readiness probe.
    pub front_ready_url: String,
    /// The consumer's readiness probe.
    pub consumer_ready_url: String,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            secure_cookies: false,
            session_ttl_minutes: 480,
            front_metrics_url: "http://127.0.0.1:9092/metrics".into(),
            consumer_metrics_url: "http://127.0.0.1:9091/metrics".into(),
            front_ready_url: "http://127.0.0.1:8080/readyz".into(),
            consumer_ready_url: "http://127.0.0.1:9091/readyz".into(),
        }
    }
}
