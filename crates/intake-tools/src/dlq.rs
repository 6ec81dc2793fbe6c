//! `intake dlq`: look into the dead letters, and put them back or throw them away once their
//! cause is fixed (a project created, a bug deployed). Every operation first collects the
//! dead-letter queue into the `dead_letters` table (`dlq_collect`) and then works on the
//! table, so it is safe while the front, the consumers and other operators run.

use std::fmt;

use serde::Serialize;

use crate::ToolError;
use crate::dlq_collect::DeadLetters;
pub use crate::dlq_entry::{DlqEntry, Filter};
pub use crate::dlq_show::{DlqMessage, SessionSummary, show};
use intake::config::Config;

/// Lists up to `limit` dead letters, oldest first.
pub async fn list(config: &Config, limit: usize) -> Result<Vec<DlqEntry>, ToolError> {
    let mut dead = DeadLetters::open(config).await?;
    let entries = dead.db.entries(&Filter::default(), Some(limit)).await?;
    dead.close().await?;
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
/// minus the dead-lettering headers), each confirmed before its row is deleted.
pub async fn requeue(
    config: &Config,
    filter: &Filter,
    dry_run: bool,
) -> Result<DlqActionReport, ToolError> {
    act(config, filter, dry_run, true).await
}

/// Deletes matching dead letters.
pub async fn purge(
    config: &Config,
    filter: &Filter,
    dry_run: bool,
) -> Result<DlqActionReport, ToolError> {
    act(config, filter, dry_run, false).await
}

async fn act(
    config: &Config,
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
    let mut dead = DeadLetters::open(config).await?;
    let entries = dead.db.entries(filter, None).await?;
    let mut report = DlqActionReport {
        action: if requeueing { "requeue" } else { "purge" }.into(),
        dry_run,
        examined: dead.db.count().await?,
        matched: entries.len() as u64,
        ..DlqActionReport::default()
    };
    if dry_run {
        report.entries = entries;
    } else if requeueing {
        for entry in entries {
            match requeue_one(&mut dead, config, entry.id).await {
                Ok(()) => report.done += 1,
                Err(error) => {
                    let id = entry.upload_id.clone().unwrap_or_else(|| "-".into());
                    report.failures.push(format!("{id}: {error}"));
                }
            }
            report.entries.push(entry);
        }
    } else {
        let ids = entries.iter().map(|entry| entry.id).collect();
        report.done = dead.db.delete(ids).await?;
        report.entries = entries;
    }
    dead.close().await?;
    Ok(report)
}

/// Republishes one dead letter, confirmed, then deletes its row. A crash in between leaves
/// the row, and a later requeue publishes the upload again: a no-op by acceptance order.
async fn requeue_one(dead: &mut DeadLetters, config: &Config, id: i64) -> Result<(), ToolError> {
    let (properties, body) = dead
        .db
        .message(id)
        .await?
        .ok_or_else(|| ToolError::Database(format!("dead letter {id} is gone")))?;
    dead.republish(&config.broker.exchange, &properties, &body)
        .await?;
    dead.db.delete(vec![id]).await?;
    Ok(())
}
