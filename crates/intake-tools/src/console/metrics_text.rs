//! Just enough of the Prometheus text format to read the services' counters and the accept
//! latency histogram.

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parsed `/metrics` text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape(Vec<Line>);

impl Scrape {
    /// Parses the text; lines it cannot read are skipped.
    pub fn parse(text: &str) -> Self {
        Self(text.lines().filter_map(parse_line).collect())
    }

    /// The sum of `name` over the series whose labels include `label` (if given); `None`
    /// when there is no such series.
    pub fn sum(&self, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
        let mut found = None;
        for line in self.0.iter().filter(|line| line.name == name) {
            let wanted = label
                .is_none_or(|(key, value)| line.labels.iter().any(|(k, v)| k == key && v == value));
            if wanted {
                found = Some(found.unwrap_or(0.0) + line.value);
            }
        }
        found
    }

    /// A histogram's cumulative buckets `(le, count)`, ascending, summed over its series.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for line in self.0.iter().filter(|line| line.name == bucket) {
            let Some(le) = line
                .labels
                .iter()
                .find(|(key, _)| key == "le")
                .and_then(|(_, value)| parse_value(value))
            else {
                continue;
            };
            match buckets.iter_mut().find(|(bound, _)| *bound == le) {
                Some((_, count)) => *count += line.value,
                None => buckets.push((le, line.value)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

fn parse_line(line: &str) -> Option<Line> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, rest) = match line.find('{') {
        Some(_) => {
            let close = line.rfind('}')?;
            (&line[..close + 1], &line[close + 1..])
        }
        None => line.split_at(line.find(char::is_whitespace)?),
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
        None => (series, Vec::new()),
    };
    Some(Line {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"`; label values of these metrics hold no quotes or commas.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// The `q` quantile (0..1) of the observations between two cumulative bucket snapshots,
/// interpolated within its bucket as Prometheus does; `None` without observations.
pub fn quantile(now: &[(f64, f64)], before: &[(f64, f64)], q: f64) -> Option<f64> {
    let counts: Vec<(f64, f64)> = now
        .iter()
        .map(|(le, count)| {
            let earlier = before
                .iter()
                .find(|(bound, _)| bound == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, (count - earlier).max(0.0))
        })
        .collect();
    let total = counts.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in counts {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = (count - lower.1).max(f64::MIN_POSITIVE);
            return Some(lower.0 + (le - lower.0) * (rank - lower.1) / within);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TEXT: &str = "# TYPE intake_uploads_total counter
intake_uploads_total{outcome=\"stored\"} 7
intake_uploads_total{outcome=\"dead_lettered\"} 2
intake_accept_seconds_bucket{le=\"0.01\"} 50
intake_accept_seconds_bucket{le=\"0.1\"} 90
intake_accept_seconds_bucket{le=\"+Inf\"} 100
intake_accept_seconds_count 100
";

    #[test]
    fn reads_counters_and_quantiles() {
        let scrape = Scrape::parse(TEXT);
        assert_eq!(
            scrape.sum("intake_uploads_total", Some(("outcome", "stored"))),
            Some(7.0)
        );
        assert_eq!(scrape.sum("intake_uploads_total", None), Some(9.0));
        assert_eq!(scrape.sum("intake_accept_seconds_count", None), Some(100.0));
        let buckets = scrape.buckets("intake_accept_seconds");
        assert_eq!(buckets.len(), 3);
        let p50 = quantile(&buckets, &[], 0.5).unwrap();
        assert!((p50 - 0.01).abs() < 1e-9, "{p50}");
        let p99 = quantile(&buckets, &[], 0.99).unwrap();
        assert!((p99 - 0.1).abs() < 1e-9, "{p99}");
        assert_eq!(quantile(&buckets, &buckets, 0.5), None);
    }
}
