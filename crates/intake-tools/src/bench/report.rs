//! `intake-bench report`: the raw outputs of a `make bench` run (loadgen reports, stage
//! figures, memory and CPU samples) become `results.json` and `summary.md`.

mod e2e;
mod format;
mod stages;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ToolError;
pub use summary::render as summary;

/// Every run's JSON in the output directory, by file name without `.json` (loadgen reports
/// and their `.mem` and `-cpu` companions, the phases' RSS, the idle connections).
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
}

/// Values rounded to one decimal (non-numbers become null).
fn rounded(values: &[Value]) -> Value {
    values
        .iter()
        .map(|value| value.as_f64().map(stages::round1))
        .collect::<Vec<_>>()
        .into()
}

/// A loadgen run as the report keeps it: rates rounded, the verify examples left out, the
/// peak RSS while it ran beside it.
fn run_summary(runs: &Runs, name: &str) -> Value {
    let run = runs.get_or_null(name);
    let verify = match &run["verify"] {
        Value::Object(verify) => {
            let mut verify = verify.clone();
            verify.remove("differences");
            Value::Object(verify)
        }
        _ => Value::Null,
    };
    serde_json::json!({
        "accepted_per_second": run["throughput_per_second"].as_f64().map(stages::round1),
        "sent": run["sent"],
        "accepted": run["accepted"],
        "failed_by_status": run["failed_by_status"],
        "transport_errors": run["transport_errors"],
        "elapsed_seconds": run["elapsed_seconds"].as_f64().map(stages::round1),
        "latency_ms": run["latency_ms"],
        "verify": verify,
        "memory_kib": runs.get_or_null(&format!("{name}.mem")),
    })
}

/// The machine the run measured (see [`crate::bench::machine`]).
pub type Machine = Value;

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
    /// Uploads the consumers stored, superseded or dead-lettered, summed over the phases.
    pub consumer_outcomes: Value,
    /// Criterion lines, and the perf reports of the front and the consumer.
    pub micro: String,
    pub perf_front: String,
    pub perf_consumer: String,
}

/// The whole report, as written to `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub run: Value,
    pub micro: Vec<String>,
    pub stages: Stages,
    pub e2e: EndToEnd,
    pub memory: e2e::Memory,
    pub profile: Profile,
}

/// The stage figures, by shape.
#[derive(Debug, Clone, Serialize)]
pub struct Stages {
    pub http: ByShape<stages::Http>,
    pub broker: TwoShapes<stages::Broker>,
    pub database: TwoShapes<stages::Database>,
    pub bounds: ByShape<stages::Bound>,
}

/// One figure for each request shape.
#[derive(Debug, Clone, Serialize)]
pub struct ByShape<T> {
    pub json: T,
    pub form: T,
    pub multipart: T,
}

/// One figure for each queue message shape (urlencoded sessions become the same messages
/// and rows as JSON ones).
#[derive(Debug, Clone, Serialize)]
pub struct TwoShapes<T> {
    pub json: T,
    pub multipart: T,
}

/// The end-to-end figures.
#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    pub json: e2e::Shape,
    pub form: e2e::Shape,
    pub multipart_100k: e2e::Shape,
    pub json_overload: Value,
    pub consumer_outcomes: Value,
}

/// The CPU profile's top symbols.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub note: Value,
    pub front: Vec<String>,
    pub consumer: Vec<String>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Computes the report from a run's inputs.
pub fn results(inputs: &Inputs, machine: Machine) -> Results {
    let runs = &inputs.runs;
    let http = ByShape {
        json: stages::http(runs, "json"),
        form: stages::http(runs, "form"),
        multipart: stages::http(runs, "multipart"),
    };
    let [broker_json, broker_multipart] = &inputs.broker;
    let broker = TwoShapes {
        json: stages::broker(broker_json),
        multipart: stages::broker(broker_multipart),
    };
    let [database_json, database_multipart] = &inputs.database;
    let database = TwoShapes {
        json: stages::database(database_json),
        multipart: stages::database(database_multipart),
    };
    let bounds = ByShape {
        json: stages::bound(&http.json, &broker.json, &database.json),
        form: stages::bound(&http.form, &broker.json, &database.json),
        multipart: stages::bound(&http.multipart, &broker.multipart, &database.multipart),
    };
    let e2e = EndToEnd {
        json: e2e::shape(runs, "json", bounds.json.B),
        form: e2e::shape(runs, "form", bounds.form.B),
        multipart_100k: e2e::shape(runs, "multipart", bounds.multipart.B),
        json_overload: e2e::overload(runs),
        consumer_outcomes: inputs.consumer_outcomes.clone(),
    };
    let mut run = inputs.run.clone();
    if let Value::Object(fields) = &mut run {
        fields.remove("consumer_outcomes");
        fields.remove("perf_note");
    }
    Results {
        machine,
        run,
        micro: lines(&inputs.micro),
        stages: Stages {
            http,
            broker,
            database,
            bounds,
        },
        e2e,
        memory: e2e::memory(runs, inputs.soak.clone()),
        profile: Profile {
            note: inputs.run["perf_note"].clone(),
            front: lines(&inputs.perf_front),
            consumer: lines(&inputs.perf_consumer),
        },
    }
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
    ["http-", "e2e-", "phase-"]
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
            consumer_outcomes: consumer_outcomes(metrics.iter().map(String::as_str)).into(),
            micro: read_optional_text(&file("micro.txt"))?,
            perf_front: read_optional_text(&file("perf-front.txt"))?,
            perf_consumer: read_optional_text(&file("perf-consumer.txt"))?,
        })
    }
}

/// Writes `results.json` and `summary.md` into `dir` from the raw outputs there, and returns
/// the summary.
pub fn write(dir: &Path, machine: Machine) -> Result<String, ToolError> {
    let results = serde_json::to_value(results(&Inputs::read(dir)?, machine))
        .map_err(|error| ToolError::Options(format!("results do not serialize: {error}")))?;
    let summary = summary(&results);
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ToolError::io(&path, source))
    };
    write("results.json", format!("{results:#}\n"))?;
    write("summary.md", summary.clone())?;
    Ok(summary)
}

#[cfg(test)]
mod tests;
