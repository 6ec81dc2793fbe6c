//! NDJSON replay through a front: each line `{"project_id": N, "session": {…}}` becomes a
//! signed `POST /api/v1/projects/N/sessions` with body `{"session": {…}}`, and each line of
//! an export (`--project N`) the create that stores that session again ([`replay_export`]).
//! `--project` sends every line to that project.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tokio::io::AsyncBufReadExt as _;
use tokio::time::Instant;

use crate::progress::Ticker;
use crate::replay::{HttpReplayOptions, ReplayReport, Tally};
use crate::replay_export::{self, ExportedSession};
use crate::replay_pace::Paced;
use crate::{ToolError, sign, transport_reason};
use intake::decode;
use intake::session::Limits;

/// One archive line.
#[derive(Debug, Deserialize)]
struct Line {
    project_id: i64,
    session: serde_json::Value,
}

/// A line ready to post.
struct Record {
    number: u64,
    project_id: i64,
    payload: Payload,
}

/// What a line posts.
enum Payload {
    /// An archive line's `{"session": …}` body.
    Json(Vec<u8>),
    /// An export line's session, deleted again after its create when it was deleted.
    Exported(ExportedSession),
}

/// Replays an NDJSON archive through a front (see the module docs of `replay` for what
/// that does to acceptance order).
pub async fn replay_http(options: HttpReplayOptions) -> Result<ReplayReport, ToolError> {
    let started = Instant::now();
    let file = tokio::fs::File::open(&options.file)
        .await
        .map_err(|error| ToolError::io(&options.file, error))?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let client = reqwest::Client::builder()
        .timeout(options.request_timeout)
        .build()?;
    let base = options.url.trim_end_matches('/').to_owned();
    let tally = Arc::new(Tally::default());
    let ticker = Ticker::start(options.progress, {
        let tally = Arc::clone(&tally);
        move |elapsed| tally.line(elapsed)
    });
    let mut sends = Paced::new(options.concurrency, options.rate);
    let mut number = 0_u64;
    while let Some(text) = lines
        .next_line()
        .await
        .map_err(|error| ToolError::io(&options.file, error))?
    {
        number += 1;
        if text.trim().is_empty() {
            continue;
        }
        tally.read.fetch_add(1, Ordering::Relaxed);
        let record = match parse(number, &text, options.project) {
            Ok(record) => record,
            Err(message) => {
                tally.fail("invalid line", || format!("line {number}: {message}"));
                continue;
            }
        };
        if options.dry_run {
            match validate(&record, &options.limits) {
                Ok(()) => {
                    tally.valid.fetch_add(1, Ordering::Relaxed);
                }
                Err(message) => {
                    tally.fail("invalid session", || format!("line {number}: {message}"))
                }
            }
            continue;
        }
        tally.valid.fetch_add(1, Ordering::Relaxed);
        let (client, tally, options) = (client.clone(), Arc::clone(&tally), options.clone());
        let url = format!("{base}/api/v1/projects/{}/sessions", record.project_id);
        sends
            .start(async move { replay_record(&client, &url, &options, &tally, record).await })
            .await?;
    }
    sends.finish().await?;
    ticker.stop().await;
    Ok(tally.report(
        options.file.display().to_string(),
        options.dry_run,
        started.elapsed(),
    ))
}

fn parse(number: u64, text: &str, project: Option<i64>) -> Result<Record, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let exported = value
        .as_object()
        .filter(|line| replay_export::is_export_line(line))
        .map(replay_export::parse);
    if let Some(exported) = exported {
        let project_id = project.ok_or("a line of an export needs --project")?;
        return Ok(Record {
            number,
            project_id,
            payload: Payload::Exported(exported?),
        });
    }
    let line: Line = serde_json::from_value(value).map_err(|error| error.to_string())?;
    let project_id = project.unwrap_or(line.project_id);
    if project_id <= 0 {
        return Err("project_id must be a positive integer".into());
    }
    if !line.session.is_object() {
        return Err("session must be an object".into());
    }
    let body = serde_json::to_vec(&serde_json::json!({ "session": line.session }))
        .map_err(|error| error.to_string())?;
    Ok(Record {
        number,
        project_id,
        payload: Payload::Json(body),
    })
}

/// Applies the front's decoder and the session rules, as the front would.
fn validate(record: &Record, limits: &Limits) -> Result<(), String> {
    let raw = match &record.payload {
        Payload::Json(body) => {
            decode::json::decode(body, limits.max_points).map_err(|error| error.to_string())?
        }
        Payload::Exported(exported) => exported.session.clone(),
    };
    let now = chrono::Utc::now().timestamp();
    raw.parse(limits, now)
        .map(drop)
        .map_err(|errors| errors.summary())
}

/// Posts one record (and deletes an exported session that was deleted); counts the outcome.
async fn replay_record(
    client: &reqwest::Client,
    url: &str,
    options: &HttpReplayOptions,
    tally: &Tally,
    record: Record,
) {
    let number = record.number;
    let (request, delete) = match record.payload {
        Payload::Json(body) => (
            client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
            None,
        ),
        Payload::Exported(exported) => {
            let session = &exported.session;
            // A session is deleted only once stored, so its create waits for that.
            let create_url = if exported.deleted {
                format!("{url}?wait=stored")
            } else {
                url.to_owned()
            };
            let request = if replay_export::has_files(session) {
                match replay_export::form(session) {
                    Ok(form) => client.post(&create_url).multipart(form),
                    Err(error) => {
                        tally.fail("invalid line", || format!("line {number}: {error}"));
                        return;
                    }
                }
            } else {
                client
                    .post(&create_url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(replay_export::json_body(session))
            };
            let delete = exported
                .deleted
                .then(|| session.uuid.clone())
                .flatten()
                .map(|uuid| format!("{url}/{}", utf8_percent_encode(&uuid, NON_ALPHANUMERIC)));
            (request, delete)
        }
    };
    tally.sent.fetch_add(1, Ordering::Relaxed);
    let request = sign(request, &options.username, &options.secret);
    if !outcome(request.send().await, number, tally).await {
        return;
    }
    // Sent only once the create was accepted, so the front accepts the delete after it.
    if let Some(delete) = delete {
        if !outcome(send_delete(client, &delete, options).await, number, tally).await {
            return;
        }
    }
    tally.accepted.fetch_add(1, Ordering::Relaxed);
}

/// Tries of a delete that finds its session not stored yet (the create's wait ran out).
const DELETE_TRIES: u32 = 60;

/// Deletes a session, waiting for its create to be stored: the front answers 404 until then.
async fn send_delete(
    client: &reqwest::Client,
    url: &str,
    options: &HttpReplayOptions,
) -> reqwest::Result<reqwest::Response> {
    let mut tries = 1;
    loop {
        let request = sign(client.delete(url), &options.username, &options.secret);
        let response = request.send().await?;
        if response.status() != reqwest::StatusCode::NOT_FOUND || tries == DELETE_TRIES {
            return Ok(response);
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `true` when the front answered 2xx; else counts the failure.
async fn outcome(result: reqwest::Result<reqwest::Response>, number: u64, tally: &Tally) -> bool {
    match result {
        Ok(response) if response.status().is_success() => {
            let _body = response.bytes().await;
            true
        }
        Ok(response) => {
            let status = response.status();
            let message = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|body| {
                    let errors = body.get("errors").map(ToString::to_string);
                    let message = body.get("message")?.as_str()?.to_owned();
                    Some(match errors {
                        Some(errors) => format!("{message} {errors}"),
                        None => message,
                    })
                })
                .unwrap_or_default();
            tally.fail(format!("HTTP {}", status.as_u16()), || {
                format!("line {number}: HTTP {status} {message}")
            });
            false
        }
        Err(error) => {
            tally.fail(transport_reason(&error), || {
                format!("line {number}: {error}")
            });
            false
        }
    }
}
