//! NDJSON replay through a front: each line `{"project_id": N, "session": {…}}` becomes a
//! signed `POST /api/v1/projects/N/sessions` with body `{"session": {…}}`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::progress::Ticker;
use crate::replay::{HttpReplayOptions, ReplayReport, Tally};
use crate::{Schedule, ToolError, sign, transport_reason};
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
    body: Vec<u8>,
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
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let schedule = options.rate.and_then(Schedule::new);
    let mut tasks = JoinSet::new();
    let mut number = 0_u64;
    let mut sends = 0_u64;
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
        let record = match parse(number, &text) {
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
        if let Some(schedule) = schedule {
            schedule.wait(sends).await;
        }
        sends += 1;
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(|error| ToolError::Task(error.to_string()))?;
        let (client, tally, options) = (client.clone(), Arc::clone(&tally), options.clone());
        let url = format!("{base}/api/v1/projects/{}/sessions", record.project_id);
        tasks.spawn(async move {
            post(&client, &url, &options, &tally, record).await;
            drop(permit);
        });
        while let Some(joined) = tasks.try_join_next() {
            joined.map_err(|error| ToolError::Task(error.to_string()))?;
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| ToolError::Task(error.to_string()))?;
    }
    ticker.stop().await;
    Ok(tally.report(
        options.file.display().to_string(),
        options.dry_run,
        started.elapsed(),
    ))
}

fn parse(number: u64, text: &str) -> Result<Record, String> {
    let line: Line = serde_json::from_str(text).map_err(|error| error.to_string())?;
    if line.project_id <= 0 {
        return Err("project_id must be a positive integer".into());
    }
    if !line.session.is_object() {
        return Err("session must be an object".into());
    }
    let body = serde_json::to_vec(&serde_json::json!({ "session": line.session }))
        .map_err(|error| error.to_string())?;
    Ok(Record {
        number,
        project_id: line.project_id,
        body,
    })
}

/// Applies the front's decoder and the session rules, as the front would.
fn validate(record: &Record, limits: &Limits) -> Result<(), String> {
    let raw =
        decode::json::decode(&record.body, limits.max_points).map_err(|error| error.to_string())?;
    let now = chrono::Utc::now().timestamp();
    raw.parse(limits, now)
        .map(drop)
        .map_err(|errors| errors.summary())
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    options: &HttpReplayOptions,
    tally: &Tally,
    record: Record,
) {
    let number = record.number;
    let request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(record.body);
    let request = sign(request, &options.username, &options.secret);
    tally.sent.fetch_add(1, Ordering::Relaxed);
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            let _body = response.bytes().await;
            tally.accepted.fetch_add(1, Ordering::Relaxed);
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
        }
        Err(error) => {
            tally.fail(transport_reason(&error), || {
                format!("line {number}: {error}")
            });
        }
    }
}
