//! Health signals that mean what they say. `/readyz` means "an upload would be accepted now":
//! a front that could not load users and grants (PostgreSQL unreachable since it started) is
//! not ready, though RabbitMQ is there. `intake_redeliveries_total` counts messages handed
//! back by a failure, not by a clean stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::faults::{binary, free_port, set_connections, terminate};

use std::time::Duration;

use common::{TestApp, TestDb, Topology};
use intake::front::Front;
use intake::store::admin;
use serde_json::json;

#[tokio::test]
async fn a_front_without_auth_data_is_not_ready_until_postgres_answers() {
    intake::telemetry::init_for_tests();
    let db = TestDb::create();
    let topology = Topology::unique();
    let config = common::test_config_for(&db.url, &topology);
    let (project_id, user) = {
        let mut conn = db.conn();
        let project_id = admin::create_project(&mut conn, "p").unwrap();
        let user = admin::create_user(&mut conn, "u").unwrap();
        admin::grant(&mut conn, user.id, project_id).unwrap();
        (project_id, user)
    };
    set_connections(&db, false);
    let front = Front::build(config).await.expect("front starts");
    let base = format!("http://{}", front.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(front.run(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let ready = || async { http.get(format!("{base}/readyz")).send().await.unwrap() };
    let upload = || async {
        let url = format!("{base}/api/v1/projects/{project_id}/sessions");
        intake_tools::sign(http.post(url), &user.username, &user.secret)
            .json(&json!({"session": {"unit_id": "x"}}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    let (status, body) = common::read(ready().await).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("not loaded"),
        "{body}"
    );
    assert_eq!(upload().await, 503);

    set_connections(&db, true);
    common::eventually("ready", Duration::from_secs(30), || async {
        ready().await.status().is_success().then_some(())
    })
    .await;
    assert_eq!(upload().await, 202);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_consumer_stopped_cleanly_mid_backlog_causes_no_redeliveries() {
    let app = TestApp::front_only().await;
    for i in 0..300 {
        let body = json!({"session": {"uuid": format!("s-{i}"), "unit_id": "u"}});
        assert_eq!(app.post_json(&body).await.0, 202);
    }
    let first = binary("intake-consumer", &app)
        .env(
            "INTAKE_CONSUMER__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .spawn()
        .unwrap();
    common::eventually("some stored", Duration::from_secs(30), || async {
        (common::count(&app.db.url, "sessions") > 0).then_some(())
    })
    .await;
    terminate(&first);
    let exit = tokio::time::timeout(Duration::from_secs(15), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.status.success(), "{}", exit.status);

    let port = free_port();
    let _second = binary("intake-consumer", &app)
        .env("INTAKE_CONSUMER__LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    common::eventually("all stored", Duration::from_secs(30), || async {
        (common::count(&app.db.url, "sessions") == 300).then_some(())
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let metrics = common::eventually("metrics", Duration::from_secs(10), || async {
        app.http.get(&url).send().await.ok()?.text().await.ok()
    })
    .await;
    let redelivered = metrics
        .lines()
        .find_map(|line| line.strip_prefix("intake_redeliveries_total "))
        .unwrap_or("0");
    assert_eq!(redelivered, "0", "{metrics}");
}
