//! The lines of a session export (`intake export`, or the export route) read back as
//! creates: each line is the read view with file bytes inline, so it holds everything a create
//! needs. A session with files goes as multipart (a file keeps its name and content type only
//! there), any other as JSON; a soft-deleted one is deleted once its create was accepted.

use intake::file::FileAttachment;
use intake::session::{RawSession, RawValue, decode_base64};
use serde_json::{Map, Value, json};

/// A session of an export, as the create that stores it again.
#[derive(Debug, Clone)]
pub struct ExportedSession {
    /// The create's fields, unchecked (a dry run checks them with the session rules).
    pub session: RawSession,
    /// Whether the session was soft-deleted.
    pub deleted: bool,
}

/// Whether a line looks like an export line rather than an archive line.
pub fn is_export_line(line: &Map<String, Value>) -> bool {
    !line.contains_key("session") && line.contains_key("data")
}

/// The create an export line describes.
pub fn parse(line: &Map<String, Value>) -> Result<ExportedSession, String> {
    let text = |name: &str| match line.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(format!("{name} must be a string")),
    };
    let seconds = |name: &str| {
        line.get(name)
            .and_then(Value::as_i64)
            .map(|seconds| seconds.to_string())
            .ok_or_else(|| format!("{name} must be an integer"))
    };
    let deleted = match line.get("is_deleted") {
        None => false,
        Some(value) => value.as_bool().ok_or("is_deleted must be true or false")?,
    };
    let Some(Value::Object(data)) = line.get("data") else {
        return Err("data must be an object".into());
    };
    let points = data
        .iter()
        .map(|(name, value)| Ok((name.clone(), point(name, value)?)))
        .collect::<Result<_, String>>()?;
    Ok(ExportedSession {
        session: RawSession {
            uuid: Some(text("uuid")?),
            unit_id: Some(text("unit_id")?),
            created: Some(seconds("created_timestamp")?),
            saved: Some(seconds("saved_timestamp")?),
            points,
            ..RawSession::default()
        },
        deleted,
    })
}

/// One point as the read view shows it: text, `{"rawData": …}`, or a file's description
/// with its bytes under `base64`.
fn point(name: &str, value: &Value) -> Result<RawValue, String> {
    let object = match value {
        Value::String(text) => return Ok(RawValue::Text(text.clone())),
        Value::Object(object) => object,
        _ => return Err(format!("data.{name} must be text or an object")),
    };
    if let Some(raw) = object.get("rawData") {
        let raw = raw
            .as_str()
            .ok_or_else(|| format!("data.{name}.rawData must be a string"))?;
        return Ok(RawValue::RawData(raw.to_owned()));
    }
    let Some(Value::String(base64)) = object.get("base64") else {
        return Err(format!(
            "data.{name} is a file without its bytes (base64): only an export holds them"
        ));
    };
    let bytes =
        decode_base64(base64).map_err(|message| format!("data.{name}.base64: {message}"))?;
    let filename = object
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let content_type = object
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_owned();
    Ok(RawValue::File(FileAttachment::new(
        filename,
        content_type,
        bytes,
    )))
}

/// Whether the create must go as multipart (it carries a file).
pub fn has_files(session: &RawSession) -> bool {
    session
        .points
        .iter()
        .any(|(_, value)| matches!(value, RawValue::File(_)))
}

/// The create as a JSON body (no files).
pub fn json_body(session: &RawSession) -> Vec<u8> {
    let data: Map<String, Value> = session
        .points
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                RawValue::Text(text) => json!(text),
                RawValue::RawData(raw) => json!({ "rawData": raw }),
                RawValue::File(_) | RawValue::Invalid(_) => return None,
            };
            Some((name.clone(), value))
        })
        .collect();
    let body = json!({"session": {
        "uuid": session.uuid,
        "unit_id": session.unit_id,
        "created": session.created,
        "saved": session.saved,
        "data": data,
    }});
    body.to_string().into_bytes()
}

/// The create as a multipart form, files with their names and content types.
pub fn form(session: &RawSession) -> Result<reqwest::multipart::Form, reqwest::Error> {
    let mut form = reqwest::multipart::Form::new();
    for (field, value) in [
        ("uuid", &session.uuid),
        ("unit_id", &session.unit_id),
        ("created", &session.created),
        ("saved", &session.saved),
    ] {
        if let Some(value) = value {
            form = form.text(format!("session[{field}]"), value.clone());
        }
    }
    for (name, value) in &session.points {
        let field = format!("session[data][{name}]");
        form = match value {
            RawValue::Text(text) => form.text(field, text.clone()),
            RawValue::RawData(raw) => form.text(format!("{field}[rawData]"), raw.clone()),
            RawValue::File(file) => {
                // An empty file name still marks the part as a file; the front stores none.
                let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                    .file_name(file.filename.clone().unwrap_or_default())
                    .mime_str(&file.content_type)?;
                form.part(field, part)
            }
            RawValue::Invalid(_) => form,
        };
    }
    Ok(form)
}
