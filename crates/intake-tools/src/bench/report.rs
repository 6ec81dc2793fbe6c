//! `intake-bench report`: the raw outputs of a `make bench` run (loadgen reports, stage
//! figures, memory and CPU samples) become `results.json` and `summary.md`.

mod broker_wait;
mod e2e;
mod format;
mod grouping;
mod inputs;
mod rounds;
mod scale;
mod stages;
mod summary;

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::ToolError;
pub use inputs::{Inputs, Runs, consumer_outcomes};
pub use summary::render as summary;

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
    /// Partitions and the cluster, when the run measured them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<scale::Scale>,
    /// Grouped publishing on vs off, when the run measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<grouping::Grouping>,
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
    let scale = scale::scale(runs, &inputs.scale);
    let grouping = grouping::grouping(
        runs,
        &inputs.grouping,
        &ByShape {
            json: bounds.json.B,
            form: bounds.form.B,
            multipart: bounds.multipart.B,
        },
    );
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
        scale,
        grouping,
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
