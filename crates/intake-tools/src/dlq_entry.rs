//! What `intake dlq` shows of a dead letter and how its commands choose them: shared by the
//! commands and the `dead_letters` table they read.

use std::fmt;

use serde::Serialize;

/// One dead letter, as `list` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DlqEntry {
    /// Its row in `dead_letters`.
    pub id: i64,
    /// The upload id (AMQP `message_id`).
    pub upload_id: Option<String>,
    /// Why it was dead-lettered (`x-intake-reason`, or RabbitMQ's own reason).
    pub reason: Option<String>,
    /// The project (`x-intake-project`, else from the body).
    pub project_id: Option<i64>,
    /// The session uuid, if the body decodes.
    pub uuid: Option<String>,
    /// The AMQP timestamp: when the front accepted the upload, unix seconds.
    pub timestamp: Option<u64>,
    /// Seconds since then.
    pub age_seconds: Option<i64>,
    /// When the consumer dead-lettered it, RFC 3339 (absent when RabbitMQ did).
    pub dead_lettered_at: Option<String>,
    /// Body size.
    pub size_bytes: usize,
}

impl fmt::Display for DlqEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
        write!(
            f,
            "{:<36}  project {:<6}  uuid {:<24}  age {:>7}  {}",
            or_dash(self.upload_id.clone()),
            or_dash(self.project_id.map(|p| p.to_string())),
            or_dash(self.uuid.clone()),
            or_dash(self.age_seconds.map(|a| format!("{a}s"))),
            or_dash(self.reason.clone()),
        )
    }
}

/// Which dead letters `requeue` and `purge` take. Every given criterion must match; `all`
/// takes everything, and an empty filter is refused so a bare command cannot empty the
/// queue by accident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Take every message.
    pub all: bool,
    /// Only this upload id.
    pub upload_id: Option<String>,
    /// Only messages whose reason contains this text.
    pub reason_contains: Option<String>,
    /// Only this project.
    pub project_id: Option<i64>,
}

impl Filter {
    /// Whether no criterion was given.
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.upload_id.is_none()
            && self.reason_contains.is_none()
            && self.project_id.is_none()
    }
}
