//! What `make bench` reads from /proc while the pipeline runs: each process's RSS and peak
//! RSS, and who used the CPU (in cores) while a load run sent.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`); `None` when the process is gone.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The front's and the consumer's RSS now and at their peak since the last reset.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub front_rss_kib: Option<u64>,
    pub front_peak_kib: Option<u64>,
    pub consumer_rss_kib: Option<u64>,
    pub consumer_peak_kib: Option<u64>,
}

impl Memory {
    /// Reads both processes now.
    pub fn of(front: u32, consumer: u32) -> Self {
        Self {
            front_rss_kib: status_kib(front, "VmRSS"),
            front_peak_kib: status_kib(front, "VmHWM"),
            consumer_rss_kib: status_kib(consumer, "VmRSS"),
            consumer_peak_kib: status_kib(consumer, "VmHWM"),
        }
    }

    /// The peaks, as a progress line says them.
    pub fn peaks_line(&self) -> String {
        let mib = |kib: Option<u64>| kib.map_or_else(|| "?".into(), |kib| (kib / 1024).to_string());
        format!(
            "  peak RSS: front {} MiB, consumer {} MiB",
            mib(self.front_peak_kib),
            mib(self.consumer_peak_kib)
        )
    }
}

/// CPU ticks (user + system, all threads) a process used so far; 0 when it is gone.
pub fn process_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |index: usize| -> u64 {
        fields
            .get(index)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    // utime and stime, fields 14 and 15 of the whole line.
    field(11) + field(12)
}

/// The pids of every process whose command name is `name` (as `pgrep -x`).
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect()
}

/// Busy and total ticks of the whole machine, from /proc/stat's `cpu` line.
pub fn machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let values: Vec<u64> = stat
        .lines()
        .find_map(|line| line.strip_prefix("cpu "))?
        .split_whitespace()
        .map(|value| value.parse().unwrap_or(0))
        .collect();
    let at = |index: usize| values.get(index).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some((busy, busy + at(3) + at(4)))
}

fn machine_now() -> (u64, u64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| machine_ticks(&stat))
        .unwrap_or((0, 0))
}

/// The share of the whole machine that was busy over `seconds`, in percent.
pub fn machine_busy_percent(seconds: Duration) -> u64 {
    let (busy_before, total_before) = machine_now();
    std::thread::sleep(seconds);
    let (busy, total) = machine_now();
    let share = busy.saturating_sub(busy_before) as f64
        / (total.saturating_sub(total_before) as f64 + 1e-9);
    (share * 100.0) as u64
}

/// The processes whose CPU the report splits.
#[derive(Debug, Clone, Copy)]
pub struct Pipeline {
    pub loadgen: u32,
    pub front: u32,
    pub consumer: u32,
}

#[derive(Debug, Clone, Copy)]
struct Ticks {
    who: [u64; 5],
    machine_busy: u64,
    machine_total: u64,
    at: Instant,
}

impl Ticks {
    fn now(pipeline: Pipeline) -> Self {
        let named = |name: &str| pids_named(name).into_iter().map(process_ticks).sum();
        let (machine_busy, machine_total) = machine_now();
        Self {
            who: [
                process_ticks(pipeline.loadgen),
                process_ticks(pipeline.front),
                process_ticks(pipeline.consumer),
                named("beam.smp"),
                named("postgres"),
            ],
            machine_busy,
            machine_total,
            at: Instant::now(),
        }
    }
}

/// Cores each part of the pipeline used while a load run sent.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuSplit {
    pub loadgen: f64,
    pub front: f64,
    pub consumer: f64,
    pub rabbitmq: f64,
    pub postgresql: f64,
    /// The machine as a whole: its share of all CPU time, in cores.
    pub machine_busy: f64,
    /// Kernel work (loopback networking, disk) not charged to a process, and anything else.
    pub other: f64,
}

impl CpuSplit {
    fn between(before: &Ticks, after: &Ticks, ticks_per_second: f64, cpus: f64) -> Self {
        let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let cores = |index: usize| {
            after.who[index].saturating_sub(before.who[index]) as f64 / ticks_per_second / seconds
        };
        let all = after.machine_total.saturating_sub(before.machine_total) as f64;
        let machine_busy = if all > 0.0 {
            after.machine_busy.saturating_sub(before.machine_busy) as f64 / all * cpus
        } else {
            0.0
        };
        let [loadgen, front, consumer, rabbitmq, postgresql] = [0, 1, 2, 3, 4].map(cores);
        Self {
            loadgen,
            front,
            consumer,
            rabbitmq,
            postgresql,
            machine_busy,
            other: machine_busy - loadgen - front - consumer - rabbitmq - postgresql,
        }
    }

    /// Samples the pipeline now and after `seconds`.
    pub fn measure(pipeline: Pipeline, seconds: Duration) -> Self {
        let before = Ticks::now(pipeline);
        std::thread::sleep(seconds);
        let after = Ticks::now(pipeline);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        Self::between(&before, &after, ticks_per_second(), cpus)
    }
}

impl std::fmt::Display for CpuSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "loadgen {:.2}, front {:.2}, consumer {:.2}, rabbitmq {:.2}, postgresql {:.2}, \
             machine {:.2}, other {:.2}",
            self.loadgen,
            self.front,
            self.consumer,
            self.rabbitmq,
            self.postgresql,
            self.machine_busy,
            self.other
        )
    }
}

/// The kernel's clock ticks a second (`getconf CLK_TCK`; 100 on every Linux we run on).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Writes `value` as one line of JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), crate::ToolError> {
    let text = serde_json::to_string(value)
        .map_err(|error| crate::ToolError::Options(format!("cannot serialize: {error}")))?;
    std::fs::write(path, text + "\n").map_err(|source| crate::ToolError::io(path, source))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn machine_ticks_count_iowait_as_idle() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(machine_ticks(stat), Some((161, 1181)));
        assert_eq!(machine_ticks("intr 1 2 3"), None);
    }

    #[test]
    fn this_process_is_found_by_name_and_has_memory_and_ticks() {
        let pid = std::process::id();
        assert!(status_kib(pid, "VmRSS").is_some_and(|kib| kib > 0));
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("own comm");
        assert!(pids_named(comm.trim_end()).contains(&pid));
        assert_eq!(status_kib(u32::MAX, "VmRSS"), None);
        assert_eq!(process_ticks(u32::MAX), 0);
    }

    #[test]
    fn the_cpu_split_is_in_cores_and_other_is_what_no_process_was_charged() {
        let start = Instant::now();
        let before = Ticks {
            who: [0; 5],
            machine_busy: 0,
            machine_total: 0,
            at: start,
        };
        let after = Ticks {
            who: [50, 100, 50, 100, 50],
            machine_busy: 900,
            machine_total: 1000,
            at: start + Duration::from_secs(2),
        };
        let split = CpuSplit::between(&before, &after, 100.0, 2.0);
        assert!((split.front - 0.5).abs() < 1e-9);
        assert!((split.machine_busy - 1.8).abs() < 1e-9);
        assert!((split.other - 0.05).abs() < 1e-9);
    }
}
