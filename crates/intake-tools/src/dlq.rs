//! `intake dlq`: look into the dead-letter queue, and put messages back or throw them away
//! once their cause is fixed (a project created, a bug deployed). Safe while the front and
//! consumers run: see the walk rules in `dlq_browse`.

use std::fmt;

use lapin::message::Delivery;
use lapin::types::AMQPValue;
use serde::Serialize;

use crate::ToolError;
use crate::dlq_browse::Browser;
pub use crate::dlq_show::{DlqMessage, SessionSummary, show};
use intake::broker::REASON_HEADER;
use intake::config::BrokerConfig;
use intake::wire::{PROJECT_HEADER, Upload};

/// One dead letter, as `list` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DlqEntry {
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
    /// Body size.
    pub size_bytes: usize,
}

impl DlqEntry {
    /// Reads what an operator needs to decide from a delivery.
    pub fn from_delivery(delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let upload: Option<Upload> = rmp_serde::from_slice(&delivery.data).ok();
        let timestamp = *properties.timestamp();
        Self {
            upload_id: properties.message_id().as_ref().map(ToString::to_string),
            reason: header_text(delivery, REASON_HEADER)
                .or_else(|| header_text(delivery, "x-first-death-reason")),
            project_id: header_int(delivery, PROJECT_HEADER)
                .or_else(|| upload.as_ref().map(|u| u.project_id)),
            uuid: upload.map(|u| u.uuid().as_str().to_owned()),
            timestamp,
            age_seconds: timestamp
                .and_then(|t| i64::try_from(t).ok())
                .map(|t| chrono::Utc::now().timestamp().saturating_sub(t)),
            size_bytes: delivery.data.len(),
        }
    }
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

    /// Whether `entry` is taken.
    pub fn matches(&self, entry: &DlqEntry) -> bool {
        let upload = self
            .upload_id
            .as_ref()
            .is_none_or(|id| entry.upload_id.as_deref() == Some(id.as_str()));
        let reason = self.reason_contains.as_ref().is_none_or(|text| {
            entry
                .reason
                .as_ref()
                .is_some_and(|reason| reason.contains(text.as_str()))
        });
        let project = self
            .project_id
            .is_none_or(|id| entry.project_id == Some(id));
        upload && reason && project
    }
}

/// Lists up to `limit` dead letters, oldest first, leaving all of them in the queue.
pub async fn list(broker: &BrokerConfig, limit: usize) -> Result<Vec<DlqEntry>, ToolError> {
    let mut browser = Browser::open(broker, false).await?;
    let mut entries = Vec::new();
    while entries.len() < limit {
        let Some(delivery) = browser.next().await? else {
            break;
        };
        entries.push(DlqEntry::from_delivery(&delivery));
        browser.leave(delivery);
    }
    browser.finish().await?;
    Ok(entries)
}

/// What `requeue` or `purge` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DlqActionReport {
    /// `requeue` or `purge`.
    pub action: String,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Messages looked at.
    pub examined: u64,
    /// Messages the filter took.
    pub matched: u64,
    /// Messages requeued or purged.
    pub done: u64,
    /// Messages that could not be requeued (left in the dead-letter queue), with why.
    pub failures: Vec<String>,
    /// The matched messages.
    pub entries: Vec<DlqEntry>,
}

impl fmt::Display for DlqActionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(f, "{entry}")?;
        }
        let dry = if self.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        };
        writeln!(
            f,
            "{}: examined {}, matched {}, done {}{dry}",
            self.action, self.examined, self.matched, self.done
        )?;
        for failure in &self.failures {
            writeln!(f, "  failed: {failure}")?;
        }
        Ok(())
    }
}

/// Puts matching dead letters back on the main exchange (original body and properties,
/// minus the reason), each confirmed before its dead letter is acked.
pub async fn requeue(
    broker: &BrokerConfig,
    filter: &Filter,
    dry_run: bool,
) -> Result<DlqActionReport, ToolError> {
    act(broker, filter, dry_run, true).await
}

/// Deletes matching dead letters.
pub async fn purge(
    broker: &BrokerConfig,
    filter: &Filter,
    dry_run: bool,
) -> Result<DlqActionReport, ToolError> {
    act(broker, filter, dry_run, false).await
}

async fn act(
    broker: &BrokerConfig,
    filter: &Filter,
    dry_run: bool,
    requeueing: bool,
) -> Result<DlqActionReport, ToolError> {
    if filter.is_empty() {
        return Err(ToolError::Options(
            "choose --all or at least one filter (--upload-id, --reason-contains, --project)"
                .into(),
        ));
    }
    let mut browser = Browser::open(broker, requeueing && !dry_run).await?;
    let mut report = DlqActionReport {
        action: if requeueing { "requeue" } else { "purge" }.into(),
        dry_run,
        ..DlqActionReport::default()
    };
    while let Some(delivery) = browser.next().await? {
        report.examined += 1;
        let entry = DlqEntry::from_delivery(&delivery);
        if !filter.matches(&entry) {
            browser.leave(delivery);
            continue;
        }
        report.matched += 1;
        if dry_run {
            report.entries.push(entry);
            browser.leave(delivery);
            continue;
        }
        if requeueing {
            if let Err(error) = browser.republish(&delivery, &broker.exchange).await {
                let id = entry.upload_id.clone().unwrap_or_else(|| "-".into());
                report.failures.push(format!("{id}: {error}"));
                report.entries.push(entry);
                browser.leave(delivery);
                continue;
            }
        }
        browser.take(&delivery).await?;
        report.done += 1;
        report.entries.push(entry);
    }
    browser.finish().await?;
    Ok(report)
}

pub(super) fn header<'a>(delivery: &'a Delivery, name: &str) -> Option<&'a AMQPValue> {
    delivery.properties.headers().as_ref()?.inner().get(name)
}

pub(super) fn header_text(delivery: &Delivery, name: &str) -> Option<String> {
    match header(delivery, name)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

pub(super) fn header_int(delivery: &Delivery, name: &str) -> Option<i64> {
    match header(delivery, name)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).parse().ok(),
        _ => None,
    }
}
