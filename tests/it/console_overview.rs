//! The overview: readiness of the four services, and the 2 s samples of rates, queue depth
//! and accept latency that /api/overview serves and the page's script plots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::eventually;
use crate::console_harness::{Login, TestConsole};
use serde_json::{Value, json};

/// Polls /api/overview until `ready` says yes (the sampler adds a sample every 2 s); `None`
/// from `ready` means the document lacks what it looks at yet.
async fn overview_when(
    console: &TestConsole,
    login: &Login,
    what: &str,
    seconds: u64,
    ready: impl Fn(&Value) -> Option<bool>,
) -> Value {
    eventually(what, Duration::from_secs(seconds), || async {
        let body = console.json(login, "/api/overview").await?;
        ready(&body)?.then_some(body)
    })
    .await
}

#[tokio::test]
async fn console_overview_shows_readiness_rates_depth_and_latency() {
    let console = TestConsole::spawn().await;
    let login = console.login().await;
    let body = overview_when(&console, &login, "two samples", 15, |body| {
        Some(body["samples"].as_array()?.len() >= 2)
    })
    .await;
    for service in ["front", "consumer", "rabbitmq", "postgresql"] {
        assert_eq!(
            body["readiness"][service]["ready"], true,
            "{service}: {body}"
        );
    }
    assert_eq!(body["queues"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["samples"][1]["depth"][0].is_u64(), "{body}");

    let (_, html) = console.page(&login, "/").await;
    for service in ["front", "consumer", "rabbitmq", "postgresql"] {
        assert!(
            html.contains(&format!("class=\"ready\" data-service=\"{service}\"")),
            "{service}: {html}"
        );
    }
    for id in ["plot-rates", "plot-depth", "latency-p50", "latency-p99"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
    }

    for n in 0..5 {
        let uuid = format!("rate-{n}");
        console
            .app
            .create_stored(&json!({"session": {"uuid": uuid, "unit_id": "u"}}))
            .await;
    }
    let body = overview_when(&console, &login, "rates and latency", 20, |body| {
        let samples = body["samples"].as_array()?;
        let sum = |key: &str| samples.iter().filter_map(|s| s[key].as_f64()).sum::<f64>();
        Some(
            sum("accepted_per_s") > 0.0
                && sum("stored_per_s") > 0.0
                && body["latency"]["p50_ms"].is_f64(),
        )
    })
    .await;
    let p50 = body["latency"]["p50_ms"].as_f64().unwrap();
    let p99 = body["latency"]["p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99, "{body}");
}

#[tokio::test]
async fn console_overview_says_which_service_is_not_ready_and_why() {
    let app = crate::common::TestApp::spawn().await;
    let console = TestConsole::around_with(app, |config| {
        // Nothing listens on port 1.
        config.console.consumer_ready_url = "http://127.0.0.1:1/readyz".into();
    })
    .await;
    let login = console.login().await;
    let body = overview_when(&console, &login, "a sample", 15, |body| {
        Some(!body["samples"].as_array()?.is_empty())
    })
    .await;
    assert_eq!(body["readiness"]["consumer"]["ready"], false, "{body}");
    assert!(
        body["readiness"]["consumer"]["reason"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{body}"
    );
    assert_eq!(body["readiness"]["front"]["ready"], true, "{body}");
    let (_, html) = console.page(&login, "/").await;
    let item = html.split("data-service=\"consumer\"").nth(1).unwrap();
    let item = item.split("</li>").next().unwrap();
    assert!(item.contains("not ready"), "{item}");
    assert!(
        html.contains("class=\"not-ready\" data-service=\"consumer\""),
        "{html}"
    );
}
