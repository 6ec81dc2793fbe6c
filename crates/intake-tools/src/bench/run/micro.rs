//! The criterion micro-benchmarks' output, one line per benchmark:
//! `name | time [low est high] | thrpt [low est high]`.

/// Whether criterion's line is noise for the summary: progress, outlier counts, blanks.
fn skipped(line: &str) -> bool {
    let outliers = line
        .trim_start_matches(' ')
        .split_once(" (")
        .is_some_and(|(count, _)| {
            line.starts_with(' ') && !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit())
        });
    ["Benchmarking", "Found", "Gnuplot", "Warning"]
        .iter()
        .any(|prefix| line.starts_with(prefix))
        || outliers
        || line.is_empty()
}

/// The benchmarks in criterion's stdout. A name stands on a line of its own or starts the
/// `time:` line; the `thrpt:` line, when there is one, follows it.
pub fn lines(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut input = raw.lines();
    while let Some(line) = input.next() {
        if line.trim_start_matches(' ').starts_with("change:") && line.starts_with(' ') {
            // The change's time and throughput lines, and its verdict.
            input.next();
            input.next();
            continue;
        }
        if skipped(line) {
            continue;
        }
        if let Some(at) = line.find("time:") {
            if !line.starts_with(' ') {
                name = line[..at].trim_end_matches(' ').to_owned();
            }
            let time = line[line.rfind("time:").unwrap_or(at) + 5..].trim_start_matches(' ');
            // The line after `time:` is consumed either way, as it always was.
            let throughput = input
                .next()
                .and_then(|next| {
                    next.rfind("thrpt:")
                        .map(|at| next[at + 6..].trim_start_matches(' '))
                })
                .unwrap_or("");
            out.push(format!("{name} | {time} | {throughput}"));
            continue;
        }
        if !line.starts_with(' ') {
            name = line.to_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_benchmark_becomes_one_line() {
        let raw = "\
Benchmarking decode/json: Warming up for 1.0000 s
decode/json             time:   [1.20 µs 1.25 µs 1.30 µs]
                        thrpt:  [750 MiB/s 780 MiB/s 800 MiB/s]
                 change:
                        time:   [-1.0% +0.5% +2.0%] (p = 0.50 > 0.05)
                        thrpt:  [-2.0% -0.5% +1.0%]
                        No change in performance detected.
Found 3 outliers among 100 measurements (3.00%)
  3 (3.00%) high mild

encode/a-very-long-benchmark-name
                        time:   [10.0 ns 11.0 ns 12.0 ns]

Gnuplot not found, using plotters backend
";
        assert_eq!(
            lines(raw),
            [
                "decode/json | [1.20 µs 1.25 µs 1.30 µs] | [750 MiB/s 780 MiB/s 800 MiB/s]",
                "encode/a-very-long-benchmark-name | [10.0 ns 11.0 ns 12.0 ns] | ",
            ]
        );
    }
}
