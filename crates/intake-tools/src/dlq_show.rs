//! `intake dlq show`: one dead letter in detail, and its raw body saved for replay.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use lapin::BasicProperties;
use serde::Serialize;

use crate::ToolError;
use crate::dlq_collect::{DeadLetters, headers_text};
use crate::dlq_entry::{DlqEntry, Filter};
use intake::config::Config;
use intake::session::write::Write;
use intake::session::{FileAttachment, Limits, PointName, PointValue};
use intake::view::rfc3339;
use intake::wire::{Upload, split_bodies};

/// One dead letter in detail.
#[derive(Debug, Clone, Serialize)]
pub struct DlqMessage {
    /// The summary line.
    pub entry: DlqEntry,
    /// AMQP properties (content type, delivery mode, …) as text.
    pub properties: BTreeMap<String, String>,
    /// Every header as text.
    pub headers: BTreeMap<String, String>,
    /// The decoded session, if the body decodes.
    pub session: Option<SessionSummary>,
    /// Why the body fails the consumer's checks today, if it does.
    pub body_error: Option<String>,
    /// Where `--save` wrote the raw body.
    pub saved_to: Option<PathBuf>,
}

/// A decoded write in brief (never the values: they may be personal data).
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// `create`, `update`, `delete`, `put attachment` or `delete attachment`.
    pub operation: String,
    /// Project.
    pub project_id: i64,
    /// Session uuid.
    pub uuid: String,
    /// Device, when the write sets it.
    pub unit_id: Option<String>,
    /// `created`, RFC 3339, when the write sets it.
    pub created: Option<String>,
    /// `saved`, RFC 3339, when the write sets it.
    pub saved: Option<String>,
    /// When the front accepted it, RFC 3339.
    pub received: String,
    /// The API user that sent it.
    pub received_from: String,
    /// One line per point the write sets: name, kind and size.
    pub points: Vec<String>,
}

fn describe_point(name: &PointName, value: &PointValue) -> String {
    let name = name.as_str();
    match value {
        PointValue::Text(text) => format!("{name}: text, {} bytes", text.len()),
        PointValue::Raw(bytes) => format!("{name}: rawData, {} bytes", bytes.len()),
        PointValue::File(file) => describe_file(name, file),
    }
}

fn describe_file(name: &str, file: &FileAttachment) -> String {
    format!(
        "{name}: file {:?} ({}), {} bytes",
        file.filename.as_deref().unwrap_or(""),
        file.content_type,
        file.bytes.len()
    )
}

impl SessionSummary {
    fn of(upload: &Upload) -> Self {
        let describe_all = |points: &BTreeMap<PointName, PointValue>| {
            points
                .iter()
                .map(|(name, value)| describe_point(name, value))
                .collect()
        };
        let mut summary = Self {
            operation: String::new(),
            project_id: upload.project_id,
            uuid: upload.uuid().as_str().to_owned(),
            unit_id: None,
            created: None,
            saved: None,
            received: rfc3339(upload.stamp.received_seconds()),
            received_from: upload.stamp.received_from.clone(),
            points: Vec::new(),
        };
        let operation = match &upload.operation {
            Write::Create(session) => {
                summary.unit_id = Some(session.unit_id.as_str().to_owned());
                summary.created = Some(rfc3339(session.created));
                summary.saved = Some(rfc3339(session.saved));
                summary.points = describe_all(&session.points);
                "create"
            }
            Write::Update(patch) => {
                summary.unit_id = patch.unit_id.as_ref().map(|u| u.as_str().to_owned());
                summary.created = patch.created.map(rfc3339);
                summary.saved = Some(rfc3339(patch.saved));
                summary.points = describe_all(&patch.points);
                "update"
            }
            Write::Delete { .. } => "delete",
            Write::PutAttachment { point, file, .. } => {
                summary.points = vec![describe_file(point.as_str(), file)];
                "put attachment"
            }
            Write::DeleteAttachment { point, .. } => {
                summary.points = vec![format!("{}: removed", point.as_str())];
                "delete attachment"
            }
        };
        summary.operation = operation.to_owned();
        summary
    }
}

impl fmt::Display for DlqMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.entry)?;
        for (name, value) in self.properties.iter().chain(&self.headers) {
            writeln!(f, "  {name}: {value}")?;
        }
        match &self.session {
            Some(s) => {
                let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
                writeln!(
                    f,
                    "{} of session {} (project {}, unit {})",
                    s.operation,
                    s.uuid,
                    s.project_id,
                    dash(&s.unit_id)
                )?;
                writeln!(
                    f,
                    "  created {}  saved {}  received {} from {}",
                    dash(&s.created),
                    dash(&s.saved),
                    s.received,
                    s.received_from
                )?;
                for point in &s.points {
                    writeln!(f, "  {point}")?;
                }
            }
            None => writeln!(f, "body does not decode as an upload")?,
        }
        if let Some(error) = &self.body_error {
            writeln!(f, "body check: {error}")?;
        }
        if let Some(path) = &self.saved_to {
            writeln!(f, "saved to {}", path.display())?;
        }
        Ok(())
    }
}

/// Finds one dead letter by upload id (the oldest, should it have been dead-lettered twice)
/// and optionally writes its body to `save/<upload-id>.msgpack` for `intake replay broker`.
pub async fn show(
    config: &Config,
    upload_id: &str,
    save: Option<&Path>,
) -> Result<Option<DlqMessage>, ToolError> {
    let mut dead = DeadLetters::open(config).await?;
    let by_id = Filter {
        upload_id: Some(upload_id.to_owned()),
        ..Filter::default()
    };
    let mut found = None;
    if let Some(entry) = dead.db.entries(&by_id, Some(1)).await?.pop() {
        if let Some((properties, body)) = dead.db.message(entry.id).await? {
            found = Some((entry, properties, body));
        }
    }
    dead.close().await?;
    found
        .map(|(entry, properties, body)| describe(&properties, &body, entry, &config.limits, save))
        .transpose()
}

fn describe(
    p: &BasicProperties,
    body: &[u8],
    entry: DlqEntry,
    limits: &Limits,
    save: Option<&Path>,
) -> Result<DlqMessage, ToolError> {
    let mut properties = BTreeMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            properties.insert(name.to_owned(), value);
        }
    };
    put(
        "content_type",
        p.content_type().as_ref().map(ToString::to_string),
    );
    put("delivery_mode", p.delivery_mode().map(|m| m.to_string()));
    put("timestamp", p.timestamp().map(|t| t.to_string()));
    put(
        "message_id",
        p.message_id().as_ref().map(ToString::to_string),
    );
    let headers = headers_text(p);
    let upload: Option<Upload> = rmp_serde::from_slice(body).ok();
    // A group left whole on the dead-letter queue is one that cannot be split.
    let body_error = match split_bodies(body) {
        Err(error) => Some(error.to_string()),
        Ok(_) => Upload::decode(body, limits)
            .err()
            .map(|error| error.to_string()),
    };
    let saved_to = match save {
        Some(dir) => Some(save_body(dir, entry.upload_id.as_deref(), body)?),
        None => None,
    };
    Ok(DlqMessage {
        entry,
        properties,
        headers,
        session: upload.as_ref().map(SessionSummary::of),
        body_error,
        saved_to,
    })
}

fn save_body(dir: &Path, upload_id: Option<&str>, body: &[u8]) -> Result<PathBuf, ToolError> {
    std::fs::create_dir_all(dir).map_err(|error| ToolError::io(dir, error))?;
    let name = upload_id
        .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or("unnamed");
    let path = dir.join(format!("{name}.msgpack"));
    std::fs::write(&path, body).map_err(|error| ToolError::io(&path, error))?;
    Ok(path)
}
