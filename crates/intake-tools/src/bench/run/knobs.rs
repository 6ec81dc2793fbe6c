//! The knobs of `make bench`: each one a flag of `intake-bench run` that also reads the
//! `BENCH_*` environment variable scripts/bench.sh documents, so the script passes nothing.
//! Quick mode only changes defaults: a knob set explicitly still wins.

use std::path::PathBuf;

/// `BENCH_PERF`: profile with perf when it works, always, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perf {
    Auto,
    On,
    Off,
}

fn perf(value: &str) -> Result<Perf, String> {
    match value {
        "auto" => Ok(Perf::Auto),
        "1" => Ok(Perf::On),
        "0" => Ok(Perf::Off),
        _ => Err("auto, 1 or 0".into()),
    }
}

/// A 0/1 knob, as the script has always read them (`true`/`false` too).
fn switch(value: &str) -> Result<bool, String> {
    match value {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err("1 or 0".into()),
    }
}

/// The knobs as given; `None` where neither the flag nor the variable is set.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Knobs {
    /// Length of every load run, seconds [15; quick 3].
    #[arg(long, env = "BENCH_SECONDS")]
    pub seconds: Option<u64>,
    /// Closed-loop requests in flight [64].
    #[arg(long, env = "BENCH_CONCURRENCY")]
    pub concurrency: Option<u64>,
    /// Broker stage messages, a tenth as many multipart [50000; quick 5000].
    #[arg(long, env = "BENCH_BROKER_MESSAGES")]
    pub broker_messages: Option<u64>,
    /// Broker stage publishes in flight [1024].
    #[arg(long, env = "BENCH_BROKER_WINDOW")]
    pub broker_window: Option<u64>,
    /// Database stage rows, a twentieth as many multipart [100000; quick 10000].
    #[arg(long, env = "BENCH_DB_ROWS")]
    pub db_rows: Option<u64>,
    /// Database stage batch size [500].
    #[arg(long, env = "BENCH_DB_BATCH")]
    pub db_batch: Option<u64>,
    /// Database stage connections [2].
    #[arg(long, env = "BENCH_DB_WORKERS")]
    pub db_workers: Option<u64>,
    /// Idle keep-alive connections held for the memory figure [2000; quick 200].
    #[arg(long, env = "BENCH_CONNECTIONS")]
    pub connections: Option<u64>,
    /// Soak length, seconds; 0 = no soak [0].
    #[arg(long, env = "BENCH_SOAK_SECONDS")]
    pub soak_seconds: Option<u64>,
    /// auto|1|0: profile front and consumer under load with perf [auto; quick 0].
    #[arg(long, env = "BENCH_PERF", value_parser = perf)]
    pub perf: Option<Perf>,
    /// Profile length, seconds [10].
    #[arg(long, env = "BENCH_PERF_SECONDS")]
    pub perf_seconds: Option<u64>,
    /// 0 skips the criterion micro-benchmarks [1; quick 0].
    #[arg(long, env = "BENCH_MICRO", value_parser = switch)]
    pub micro: Option<bool>,
    /// How long each loadgen --verify may wait for the consumer, seconds [240; quick 60].
    #[arg(long, env = "BENCH_VERIFY_TIMEOUT")]
    pub verify_timeout: Option<u64>,
    /// How long to wait for the queue to drain between runs, seconds [240; quick 60].
    #[arg(long, env = "BENCH_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<u64>,
    /// Runs of the broker and database stages; medians kept [3].
    #[arg(long, env = "BENCH_STAGE_RUNS")]
    pub stage_runs: Option<u64>,
    /// Closed-loop end-to-end runs per shape, in rotating order; medians kept [3; quick 1].
    #[arg(long, env = "BENCH_E_RUNS")]
    pub e_runs: Option<u64>,
    /// 0 skips the scale section [1].
    #[arg(long, env = "BENCH_SCALE", value_parser = switch)]
    pub scale: Option<bool>,
    /// Rounds of the scale section [the end-to-end runs].
    #[arg(long, env = "BENCH_SCALE_RUNS")]
    pub scale_runs: Option<u64>,
    /// 0 skips the grouping section [1].
    #[arg(long, env = "BENCH_GROUPING", value_parser = switch)]
    pub grouping: Option<bool>,
    /// Rounds per shape and arm of the grouping section, closed and open loops [3; quick 1].
    #[arg(long, env = "BENCH_GROUP_RUNS")]
    pub group_runs: Option<u64>,
    /// 1: every step, briefly, into target/bench-quick; a check, not figures [0].
    #[arg(long, env = "BENCH_QUICK", value_parser = switch)]
    pub quick: Option<bool>,
    /// Where the results go [target/bench; quick target/bench-quick].
    #[arg(long, env = "BENCH_OUT")]
    pub out: Option<PathBuf>,
    /// 1 keeps the benchmark's database after the run [0].
    #[arg(long, env = "BENCH_KEEP_DB", value_parser = switch)]
    pub keep_db: Option<bool>,
}

/// The knobs with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub seconds: u64,
    pub concurrency: u64,
    pub broker_messages: u64,
    pub broker_window: u64,
    pub db_rows: u64,
    pub db_batch: u64,
    pub db_workers: u64,
    pub connections: u64,
    pub soak_seconds: u64,
    pub perf: Perf,
    pub perf_seconds: u64,
    pub micro: bool,
    pub verify_timeout: u64,
    pub drain_timeout: u64,
    pub stage_runs: u64,
    pub e_runs: u64,
    pub scale: bool,
    pub scale_runs: u64,
    pub grouping: bool,
    pub group_runs: u64,
    pub out: PathBuf,
    pub keep_db: bool,
}

impl Knobs {
    /// Fills in the defaults, the quick ones in quick mode.
    pub fn settings(&self) -> Settings {
        let quick = self.quick.unwrap_or(false);
        let pick = |value: Option<u64>, normal: u64, short: u64| {
            value.unwrap_or(if quick { short } else { normal })
        };
        let e_runs = pick(self.e_runs, 3, 1);
        Settings {
            seconds: pick(self.seconds, 15, 3),
            concurrency: pick(self.concurrency, 64, 64),
            broker_messages: pick(self.broker_messages, 50_000, 5_000),
            broker_window: pick(self.broker_window, 1024, 1024),
            db_rows: pick(self.db_rows, 100_000, 10_000),
            db_batch: pick(self.db_batch, 500, 500),
            db_workers: pick(self.db_workers, 2, 2),
            connections: pick(self.connections, 2000, 200),
            soak_seconds: pick(self.soak_seconds, 0, 0),
            perf: self
                .perf
                .unwrap_or(if quick { Perf::Off } else { Perf::Auto }),
            perf_seconds: pick(self.perf_seconds, 10, 10),
            micro: self.micro.unwrap_or(!quick),
            verify_timeout: pick(self.verify_timeout, 240, 60),
            drain_timeout: pick(self.drain_timeout, 240, 60),
            stage_runs: pick(self.stage_runs, 3, 3),
            e_runs,
            scale: self.scale.unwrap_or(true),
            scale_runs: self.scale_runs.unwrap_or(e_runs),
            grouping: self.grouping.unwrap_or(true),
            group_runs: pick(self.group_runs, 3, 1),
            out: self.out.clone().unwrap_or_else(|| {
                PathBuf::from(if quick {
                    "target/bench-quick"
                } else {
                    "target/bench"
                })
            }),
            keep_db: self.keep_db.unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use clap::Parser as _;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        knobs: Knobs,
    }

    fn settings(args: &[&str]) -> Settings {
        let args = std::iter::once("intake-bench").chain(args.iter().copied());
        Cli::try_parse_from(args)
            .expect("valid knobs")
            .knobs
            .settings()
    }

    #[test]
    fn defaults_are_the_full_run() {
        let s = settings(&[]);
        assert_eq!(
            (s.seconds, s.concurrency, s.e_runs, s.scale_runs),
            (15, 64, 3, 3)
        );
        assert_eq!(
            (s.perf, s.micro, s.scale, s.grouping),
            (Perf::Auto, true, true, true)
        );
        assert_eq!(s.out, PathBuf::from("target/bench"));
        assert_eq!(
            (s.broker_messages, s.db_rows, s.group_runs),
            (50_000, 100_000, 3)
        );
    }

    #[test]
    fn quick_mode_changes_defaults_and_explicit_knobs_still_win() {
        let s = settings(&["--quick", "1", "--db-rows", "500"]);
        assert_eq!(
            (s.seconds, s.e_runs, s.scale_runs, s.group_runs),
            (3, 1, 1, 1)
        );
        assert_eq!((s.perf, s.micro), (Perf::Off, false));
        assert_eq!(
            (s.db_rows, s.broker_messages, s.connections),
            (500, 5_000, 200)
        );
        assert_eq!((s.verify_timeout, s.drain_timeout), (60, 60));
        assert_eq!(s.out, PathBuf::from("target/bench-quick"));
    }

    #[test]
    fn scale_runs_follow_the_end_to_end_runs_unless_set() {
        assert_eq!(settings(&["--e-runs", "5"]).scale_runs, 5);
        assert_eq!(
            settings(&["--e-runs", "5", "--scale-runs", "2"]).scale_runs,
            2
        );
    }

    #[test]
    fn switches_and_perf_take_the_scripts_values() {
        let s = settings(&["--scale", "0", "--grouping", "0", "--perf", "1"]);
        assert_eq!((s.scale, s.grouping, s.perf), (false, false, Perf::On));
        let args = ["intake-bench", "--perf", "sometimes"];
        assert!(Cli::try_parse_from(args).is_err());
        assert!(Cli::try_parse_from(["intake-bench", "--seconds", "x"]).is_err());
    }
}
