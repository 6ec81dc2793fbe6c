//! What a `make bench` run left in its output directory, read into memory: every run's JSON
//! by name, the folded stage figures, the soak, the consumers' outcomes and the text outputs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::ToolError;

/// Every run's JSON in the output directory, by file name without `.json` (loadgen reports
/// and their `.mem`, `.cpu` and `-cpu` companions, the phases' RSS, the idle connections).
#[derive(Debug, Clone, Default)]
pub struct Runs(BTreeMap<String, Value>);

impl FromIterator<(String, Value)> for Runs {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Stands in for a missing run: every field of it reads as missing.
static MISSING: Value = Value::Null;

impl Runs {
    /// The run `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The run `name`, or null.
    pub fn get_or_null(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&MISSING)
    }

    /// A numeric field of run `name`.
    pub fn number(&self, name: &str, field: &str) -> Option<f64> {
        self.get_or_null(name)[field].as_f64()
    }

    /// Every run by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The rounds `<prefix>-r<N>` (N digits only, so not their `.mem` or `.cpu` companions),
    /// by N, with their names.
    pub fn rounds(&self, prefix: &str) -> Vec<(&str, &Value)> {
        let round_prefix = format!("{prefix}-r");
        let mut rounds: Vec<(u64, &str, &Value)> = self
            .iter()
            .filter_map(|(name, run)| {
                let round = name.strip_prefix(&round_prefix)?;
                let digits_only = !round.is_empty() && round.bytes().all(|b| b.is_ascii_digit());
                digits_only.then(|| (round.parse().unwrap_or(u64::MAX), name.as_str(), run))
            })
            .collect();
        rounds.sort_by_key(|(round, _, _)| *round);
        rounds
            .into_iter()
            .map(|(_, name, run)| (name, run))
            .collect()
    }
}

/// What a run left in its output directory, read into memory.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Loadgen reports and their companions.
    pub runs: Runs,
    /// The run's own description (`run.json`): start, length, knobs, commit, perf note.
    pub run: Value,
    /// Folded broker figures, JSON and multipart shapes.
    pub broker: [Value; 2],
    /// Folded database figures, JSON and multipart shapes.
    pub database: [Value; 2],
    /// RSS samples of the soak.
    pub soak: Value,
    /// What the scale section ran (`scale.json`), null when it did not.
    pub scale: Value,
    /// What the grouping section ran (`grouping.json`), null when it did not.
    pub grouping: Value,
    /// Uploads the consumers stored, superseded or dead-lettered, summed over the phases.
    pub consumer_outcomes: Value,
    /// Criterion lines, and the perf reports of the front and the consumer.
    pub micro: String,
    pub perf_front: String,
    pub perf_consumer: String,
}

/// Sums `intake_uploads_total` by its first label's value over Prometheus texts.
pub fn consumer_outcomes<'a>(metrics: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for line in metrics.into_iter().flat_map(str::lines) {
        let Some(labels) = line.strip_prefix("intake_uploads_total{") else {
            continue;
        };
        let outcome = labels.split('"').nth(1).unwrap_or_default();
        let count = line
            .rsplit(' ')
            .next()
            .and_then(|count| count.parse::<f64>().ok())
            .unwrap_or(0.0);
        *outcomes.entry(outcome.to_owned()).or_default() += count as u64;
    }
    outcomes
        .into_iter()
        .map(|(outcome, count)| (outcome, count.into()))
        .collect()
}

fn read_text(path: &Path) -> Result<String, ToolError> {
    std::fs::read_to_string(path).map_err(|source| ToolError::io(path, source))
}

/// A JSON file's value; a missing file reads as null (a step that did not run).
fn read_json(path: &Path) -> Result<Value, ToolError> {
    if !path.exists() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&read_text(path)?).map_err(|error| {
        ToolError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        )
    })
}

/// A text file's content; empty when missing.
fn read_optional_text(path: &Path) -> Result<String, ToolError> {
    if path.exists() {
        read_text(path)
    } else {
        Ok(String::new())
    }
}

/// Whether `file` is one of the runs the report reads.
fn is_run(file: &str) -> bool {
    let Some(name) = file.strip_suffix(".json") else {
        return false;
    };
    ["http-", "e2e-", "phase-", "scale-", "grouping-"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || name == "connections"
}

impl Inputs {
    /// Reads what a run left in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ToolError> {
        let listing = std::fs::read_dir(dir).map_err(|source| ToolError::io(dir, source))?;
        let mut runs = BTreeMap::new();
        let mut metrics = Vec::new();
        for entry in listing {
            let path = entry.map_err(|source| ToolError::io(dir, source))?.path();
            let file = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            if is_run(file) {
                let name = file.trim_end_matches(".json").to_owned();
                runs.insert(name, read_json(&path)?);
            } else if file.starts_with("consumer-") && file.ends_with(".metrics") {
                metrics.push(read_text(&path)?);
            }
        }
        let file = |name: &str| dir.join(name);
        Ok(Self {
            runs: Runs(runs),
            run: read_json(&file("run.json"))?,
            broker: [
                read_json(&file("broker-json.json"))?,
                read_json(&file("broker-multipart.json"))?,
            ],
            database: [
                read_json(&file("database-json.json"))?,
                read_json(&file("database-multipart.json"))?,
            ],
            soak: read_json(&file("soak.json"))?,
            scale: read_json(&file("scale.json"))?,
            grouping: read_json(&file("grouping.json"))?,
            consumer_outcomes: consumer_outcomes(metrics.iter().map(String::as_str)).into(),
            micro: read_optional_text(&file("micro.txt"))?,
            perf_front: read_optional_text(&file("perf-front.txt"))?,
            perf_consumer: read_optional_text(&file("perf-consumer.txt"))?,
        })
    }
}
