//! The machine a benchmark ran on, as the report describes it: CPUs, memory, kernel and the
//! versions of the servers and the compiler.

use std::process::Command;

use serde_json::{Value, json};

/// The first line a command prints, trimmed; `unknown` when it cannot run or fails.
fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout);
            text.lines().next().map(|line| line.trim().to_owned())
        })
        .filter(|line| !line.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn proc_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// This machine, with the PostgreSQL version asked of the server at `database_url`.
pub fn describe(database_url: &str) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mib = proc_field(&meminfo, "MemTotal")
        .and_then(|kib| kib.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib / 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |release| release.trim().to_owned());
    json!({
        "nproc": std::thread::available_parallelism().map_or(1, usize::from),
        "cpu": proc_field(&cpuinfo, "model name").unwrap_or("unknown"),
        "memory_mib": memory_mib,
        "kernel": kernel,
        "postgresql": first_line("psql", &["-X", "-At", database_url, "-c", "show server_version"]),
        "rabbitmq": first_line("dpkg-query", &["-W", "-f=${Version}", "rabbitmq-server"]),
        "rustc": first_line("rustc", &["--version"]),
    })
}
