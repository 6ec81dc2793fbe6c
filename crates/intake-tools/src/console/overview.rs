//! GET /: readiness, the rates and queue depths of the last 15 minutes, accept latency.
//! The page is rendered from the newest sample; console.js redraws it every 2 s from
//! GET /api/overview.

use axum::extract::State as Shared;
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Json};
use maud::{Markup, html};

use super::probes::Readiness;
use super::users::Operator;
use super::{State, layout};

/// GET /api/overview: the whole ring, readiness and latency.
pub async fn api(Shared(state): Shared<State>) -> Response {
    let snapshot = state.samples.snapshot();
    let partitions = state.config.broker.partitions;
    let names: Vec<String> = (0..partitions)
        .map(|p| intake::broker::partition::queue_name(&state.config.broker, p))
        .collect();
    let mut body = serde_json::to_value(&snapshot).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.insert("queues".into(), serde_json::json!(names));
    }
    Json(body).into_response()
}

fn service(name: &str, label: &str, readiness: &Readiness) -> Markup {
    let class = if readiness.ready {
        "ready"
    } else {
        "not-ready"
    };
    html! {
        li class=(class) data-service=(name) {
            span .service { (label) } ": "
            span .state { @if readiness.ready { "ready" } @else { "not ready" } }
            @if !readiness.reason.is_empty() { " " span .reason { "(" (readiness.reason) ")" } }
        }
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms"))
}

/// GET /.
pub async fn page(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
) -> Markup {
    let snapshot = state.samples.snapshot();
    let ready = &snapshot.readiness;
    let partitions = state.config.broker.partitions;
    let body = html! {
        section {
            h2 { "Readiness" }
            ul #readiness {
                (service("front", "Front", &ready.front))
                (service("consumer", "Consumer", &ready.consumer))
                (service("rabbitmq", "RabbitMQ", &ready.rabbitmq))
                (service("postgresql", "PostgreSQL", &ready.postgresql))
            }
        }
        section {
            h2 { "Accept latency" }
            p .latency {
                "p50 " span #latency-p50 { (ms(snapshot.latency.p50_ms)) }
                " · p99 " span #latency-p99 { (ms(snapshot.latency.p99_ms)) }
                " (last 30 s)"
            }
        }
        section {
            h2 { "Uploads per second, last 15 minutes" }
            svg #plot-rates .plot viewBox="0 0 400 160" role="img" aria-label="uploads per second" {}
            ul .legend {
                li .series-0 { "accepted/s" }
                li .series-1 { "stored/s" }
                li .series-2 { "dead-lettered/s" }
            }
        }
        section {
            h2 { "Queue depth per partition, last 15 minutes" }
            svg #plot-depth .plot viewBox="0 0 400 160" role="img" aria-label="queue depth" {}
            ul .legend {
                @for partition in 0..partitions {
                    li class=(format!("series-{}", partition % 8)) {
                        "partition " (partition) " ("
                        (intake::broker::partition::queue_name(&state.config.broker, partition)) ")"
                    }
                }
            }
        }
    };
    layout::page("Overview", Some(&operator), body)
}
