//! Stored-events of a group message: one per upload, each naming what became of it, the
//! dead-lettered ones included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::broker::publish_messages;
use crate::events::{quiet, take, with_events};
use crate::groups::group_of;
use crate::tools_dlq::upload;

use crate::common::TestApp;
use intake::events::Kind;
use intake_tools::events_tail::subscribe;

#[tokio::test]
async fn every_upload_of_a_group_gets_its_own_event() {
    let mut app = TestApp::front_only().await;
    let mut all = subscribe(&app.config, None, None).await.unwrap();
    app.start_consumer_with(with_events);
    let older = upload(app.project_id, "grouped");
    let newer = upload(app.project_id, "grouped");
    let orphan = upload(999_999_999, "orphan");
    let bodies = [
        newer.encode(),
        older.encode(),
        orphan.encode(),
        vec![0x92, 1, 2],
    ];
    publish_messages(&app, &[&group_of(&bodies)]).await;
    let events = take(&mut all, 4).await;
    let project = app.project_id;
    let seen: Vec<(String, Kind, Option<uuid::Uuid>)> = events
        .iter()
        .map(|(key, event)| (key.clone(), event.kind, event.upload_id))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                format!("{project}.stored"),
                Kind::Stored,
                Some(newer.stamp.upload_id)
            ),
            (
                format!("{project}.superseded"),
                Kind::Superseded,
                Some(older.stamp.upload_id)
            ),
            (
                "999999999.dead-lettered".to_owned(),
                Kind::DeadLettered,
                Some(orphan.stamp.upload_id)
            ),
            ("unknown.dead-lettered".to_owned(), Kind::DeadLettered, None),
        ]
    );
    assert!(
        events[3]
            .1
            .reason
            .as_deref()
            .unwrap()
            .contains("undecodable")
    );
    quiet(&mut all).await;
}
