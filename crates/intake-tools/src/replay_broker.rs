//! Message-archive replay: raw upload bodies published straight to the uploads exchange with
//! their original stamps, so the consumer's acceptance-order rule makes the replay
//! idempotent. A file holding a group message (schema 3) replays as its uploads, one message
//! each, and counts as that many records.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use tokio::time::Instant;

use crate::ToolError;
use crate::progress::Ticker;
use crate::replay::{BrokerReplayOptions, ReplayReport, Tally};
use crate::replay_pace::Paced;
use intake::broker::partition::routing_key_of;
use intake::broker::{self, PublishError, publish_confirmed, upload_properties};
use intake::wire::group::is_group;
use intake::wire::{Upload, WireError, split_bodies};

/// How long one publish may wait for its confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Replays a `*.msgpack` file or a directory of them to the broker.
pub async fn replay_broker(options: BrokerReplayOptions) -> Result<ReplayReport, ToolError> {
    let started = Instant::now();
    let files = archive_files(&options.path)?;
    let tally = Arc::new(Tally::default());
    let ticker = Ticker::start(options.progress, {
        let tally = Arc::clone(&tally);
        move |elapsed| tally.line(elapsed)
    });
    let link = if options.dry_run {
        None
    } else {
        let conn = broker::connect(&options.broker, "intake-replay").await?;
        let channel = conn.create_channel().await?;
        broker::declare_topology(&channel, &options.broker).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Some((conn, channel))
    };
    let mut sends = Paced::new(options.window, options.rate);
    for path in &files {
        let name = path.display().to_string();
        let file = match tokio::fs::read(path).await {
            Ok(body) => body,
            Err(error) => {
                tally.read.fetch_add(1, Ordering::Relaxed);
                tally.fail("unreadable", || format!("{name}: {error}"));
                continue;
            }
        };
        // A group message is replayed as its uploads, each published alone: each keeps its
        // own stamp and routing (its partition), as the front would have sent it.
        let bodies = match split_bodies(&file) {
            Ok(bodies) => bodies,
            Err(error) => {
                tally.read.fetch_add(1, Ordering::Relaxed);
                tally.fail(wire_reason(&error), || format!("{name}: {error}"));
                continue;
            }
        };
        let grouped = is_group(&file);
        for (index, body) in bodies.into_iter().enumerate() {
            tally.read.fetch_add(1, Ordering::Relaxed);
            let name = match grouped {
                true => format!("{name} (upload {index})"),
                false => name.clone(),
            };
            let upload = match Upload::decode(body, &options.limits) {
                Ok(upload) => upload,
                Err(error) => {
                    tally.fail(wire_reason(&error), || format!("{name}: {error}"));
                    continue;
                }
            };
            tally.valid.fetch_add(1, Ordering::Relaxed);
            let Some((_, channel)) = &link else {
                continue;
            };
            let (channel, tally) = (channel.clone(), Arc::clone(&tally));
            let exchange = options.broker.exchange.clone();
            let key = routing_key_of(&options.broker, &upload);
            let body = body.to_vec();
            sends
                .start(async move {
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    let properties = upload_properties(&upload);
                    let publish = publish_confirmed(&channel, &exchange, &key, &body, properties);
                    let result = tokio::time::timeout(CONFIRM_TIMEOUT, publish)
                        .await
                        .unwrap_or(Err(PublishError::Timeout));
                    match result {
                        Ok(()) => {
                            tally.accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => {
                            tally.fail(publish_reason(&error), || format!("{name}: {error}"))
                        }
                    }
                })
                .await?;
        }
    }
    sends.finish().await?;
    if let Some((conn, _)) = link {
        let _closed = conn.close(200, "replay done".into()).await;
    }
    ticker.stop().await;
    Ok(tally.report(
        options.path.display().to_string(),
        options.dry_run,
        started.elapsed(),
    ))
}

/// The archive's files: `path` itself, or the `*.msgpack` files in it sorted by name
/// (upload ids sort by acceptance time, so `<upload-id>.msgpack` names replay in order).
pub fn archive_files(path: &Path) -> Result<Vec<PathBuf>, ToolError> {
    let metadata = std::fs::metadata(path).map_err(|error| ToolError::io(path, error))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|error| ToolError::io(path, error))? {
        let entry = entry.map_err(|error| ToolError::io(path, error))?;
        let file = entry.path();
        if file.extension().is_some_and(|ext| ext == "msgpack") && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

fn wire_reason(error: &WireError) -> &'static str {
    match error {
        WireError::Undecodable(_) => "undecodable",
        WireError::UnsupportedVersion(_) => "unsupported schema version",
        WireError::Invalid(_) => "invalid session",
        WireError::BadEnvelope(_) => "invalid envelope",
    }
}

fn publish_reason(error: &PublishError) -> &'static str {
    match error {
        PublishError::Unavailable | PublishError::Amqp(_) => "broker error",
        PublishError::Timeout => "confirm timeout",
        PublishError::Refused(_) => "refused by broker",
        PublishError::Nacked => "nacked by broker",
    }
}
