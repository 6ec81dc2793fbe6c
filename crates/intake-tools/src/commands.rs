//! The glue behind the tool subcommands: arguments → options structs (with the
//! configuration filling in what the command line leaves out), run, print the report, and
//! turn failures into a non-zero exit.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::args::{DlqCommand, EventsCommand, ExportArgs, LoadgenArgs, ReplayCommand};
use crate::dlq;
use crate::export::{self, ExportOptions};
use crate::loadgen::{self, Limit, LoadgenOptions, Pace};
use crate::loadgen_verify::VerifyOptions;
use crate::replay::{self, BrokerReplayOptions, HttpReplayOptions};
use crate::settings::Settings;
use crate::{loadgen_plot, loadgen_timeseries};
use intake::session::Limits;
use intake::store::read::ListFilter;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn seconds(value: f64, name: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{name} must be a positive number"))
}

/// Files a loadgen run writes besides the report on stdout.
pub struct Outputs {
    /// `--json`.
    pub json: Option<PathBuf>,
    /// `--timeseries`.
    pub timeseries: Option<PathBuf>,
    /// `--plot`.
    pub plot: Option<PathBuf>,
}

impl LoadgenArgs {
    /// The options these arguments describe (the front's and the database's URLs fall back
    /// to the configuration).
    pub fn into_options(self, settings: &Settings) -> anyhow::Result<(LoadgenOptions, Outputs)> {
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            bail!("--max-error-rate must be between 0 and 1");
        }
        let pace = match (self.rate, self.concurrency) {
            (Some(per_second), _) => Pace::Rate {
                per_second,
                max_in_flight: self.max_in_flight,
            },
            (None, concurrency) => Pace::Concurrency(concurrency.unwrap_or(16)),
        };
        let limit = match (self.count, self.duration) {
            (Some(count), _) => Limit::Count(count),
            (None, duration) => Limit::Duration(seconds(duration.unwrap_or(10.0), "--duration")?),
        };
        let verify = if self.verify {
            let database_url = match self.database_url {
                Some(url) => url,
                None => settings.load()?.database.url.expose().to_owned(),
            };
            Some(VerifyOptions {
                database_url,
                timeout: Duration::from_secs(self.verify_timeout),
                progress: !self.quiet,
            })
        } else {
            None
        };
        let options = LoadgenOptions {
            url: settings.front_url(self.url)?,
            project_id: self.project,
            username: self.username,
            secret: self.secret,
            devices: self.devices,
            pace,
            limit,
            mix: self.mix,
            points: self.points,
            attachment_bytes: self.attachment_bytes,
            replace_ratio: self.replace_ratio,
            request_timeout: seconds(self.timeout, "--timeout")?,
            verify,
            warmup: seconds(self.warmup, "--warmup")?,
            ramp: self.ramp.map(|ramp| seconds(ramp, "--ramp")).transpose()?,
            timeseries: self.timeseries.is_some() || self.plot.is_some(),
            progress: !self.quiet,
        };
        let outputs = Outputs {
            json: self.json,
            timeseries: self.timeseries,
            plot: self.plot,
        };
        Ok((options, outputs))
    }
}

/// Runs `intake loadgen`; fails (non-zero exit) when more requests failed than
/// `--max-error-rate` allows or verification finds a mismatch.
pub fn run_loadgen(args: LoadgenArgs, settings: &Settings) -> anyhow::Result<()> {
    let max_error_rate = args.max_error_rate;
    let (options, outputs) = args.into_options(settings)?;
    let report = runtime()?.block_on(loadgen::run(options))?;
    print!("{report}");
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    if let Some(path) = &outputs.json {
        write(path, serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(path) = &outputs.timeseries {
        write(path, loadgen_timeseries::csv(&report.timeseries))?;
    }
    if let Some(path) = &outputs.plot {
        let title = format!("intake loadgen: {}, {}", report.mode, report.url);
        write(path, loadgen_plot::svg(&report.timeseries, &title))?;
    }
    if report.sent == 0 {
        bail!("no request was sent");
    }
    let error_rate = report.failed as f64 / report.sent as f64;
    if error_rate > max_error_rate {
        bail!(
            "{} of {} requests failed ({:.2}%), more than --max-error-rate {} allows",
            report.failed,
            report.sent,
            error_rate * 100.0,
            max_error_rate
        );
    }
    if report.verify.as_ref().is_some_and(|verify| !verify.ok()) {
        bail!("verification failed: the database does not hold every accepted upload");
    }
    Ok(())
}

/// The configured limits for a dry run's checks; the defaults when there is no configuration
/// (a replay through a front needs none, the front applies its own).
fn limits_or_default(settings: &Settings) -> Limits {
    settings
        .load()
        .map(|config| config.limits)
        .unwrap_or_default()
}

/// Runs `intake replay …`; fails when any record failed.
pub fn run_replay(command: ReplayCommand, settings: &Settings) -> anyhow::Result<()> {
    let report = match command {
        ReplayCommand::Http(args) => {
            let url = if args.dry_run {
                args.url.unwrap_or_default()
            } else {
                settings.front_url(args.url)?
            };
            let options = HttpReplayOptions {
                file: args.file,
                project: args.project,
                url,
                username: args.username,
                secret: args.secret,
                concurrency: args.concurrency,
                rate: args.rate,
                dry_run: args.dry_run,
                limits: limits_or_default(settings),
                request_timeout: Duration::from_secs(30),
                progress: !args.quiet,
            };
            runtime()?.block_on(replay::replay_http(options))?
        }
        ReplayCommand::Broker(args) => {
            let config = settings.load()?;
            let options = BrokerReplayOptions {
                path: args.path,
                broker: config.broker,
                limits: config.limits,
                rate: args.rate,
                window: args.window,
                dry_run: args.dry_run,
                progress: !args.quiet,
            };
            runtime()?.block_on(replay::replay_broker(options))?
        }
    };
    print!("{report}");
    if report.failed_total() > 0 {
        bail!("{} records were not replayed", report.failed_total());
    }
    Ok(())
}

/// Runs `intake events …` against the configured broker; stops on SIGINT or SIGTERM.
pub fn run_events(command: EventsCommand, settings: &Settings) -> anyhow::Result<()> {
    let config = settings.load()?;
    let EventsCommand::Tail { project, kind } = command;
    runtime()?.block_on(async {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            intake::shutdown::signal().await;
            stopper.cancel();
        });
        crate::events_tail::tail(&config, project, kind, stop).await
    })?;
    Ok(())
}

/// Runs `intake dlq …` against the configured broker and database.
pub fn run_dlq(command: DlqCommand, settings: &Settings) -> anyhow::Result<()> {
    let config = settings.load()?;
    let runtime = runtime()?;
    match command {
        DlqCommand::List { limit, json } => {
            let entries = runtime.block_on(dlq::list(&config, limit))?;
            for entry in &entries {
                if json {
                    println!("{}", serde_json::to_string(entry)?);
                } else {
                    println!("{entry}");
                }
            }
            if !json {
                println!("{} dead letters shown", entries.len());
            }
        }
        DlqCommand::Show { upload_id, save } => {
            let found = runtime.block_on(dlq::show(&config, &upload_id, save.as_deref()))?;
            match found {
                Some(message) => print!("{message}"),
                None => bail!("no dead letter with upload id {upload_id}"),
            }
        }
        DlqCommand::Requeue { filter, dry_run } => {
            let report = runtime.block_on(dlq::requeue(&config, &filter.into(), dry_run))?;
            print!("{report}");
            if !report.failures.is_empty() {
                bail!("{} messages could not be requeued", report.failures.len());
            }
        }
        DlqCommand::Purge { filter, dry_run } => {
            let report = runtime.block_on(dlq::purge(&config, &filter.into(), dry_run))?;
            print!("{report}");
        }
    }
    Ok(())
}

/// Runs `intake export` against the configured database; the summary goes to stderr, so
/// stdout carries only the export.
pub fn run_export(args: ExportArgs, settings: &Settings) -> anyhow::Result<()> {
    let config = settings.load()?;
    let options = ExportOptions {
        database: config.database,
        project_id: args.project,
        filter: ListFilter {
            unit_id: args.unit_id,
            since: args.since,
            until: args.until,
            include_deleted: args.deleted,
        },
        format: args.format,
        output: args.output,
        progress: !args.quiet,
    };
    let report = runtime()?.block_on(export::export(options))?;
    eprint!("{report}");
    Ok(())
}
