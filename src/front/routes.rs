//! The session API beyond create (reads, updates, deletes, attachments), under both `/projects/…` and `/project/…` (MDA uses the
//! singular form for attachments; clients use either). Merged into the `/api/v1` router.

use axum::Router;
use axum::routing::get;

use super::AppState;
use super::{attachment_writes, attachments, devices, read, update};

/// Every project-scoped session route, under both prefixes, plus `/devices`.
pub fn session_routes() -> Router<AppState> {
    let mut router = Router::new().route("/devices", get(devices::all_devices));
    for prefix in ["/projects", "/project"] {
        router = router
            .route(
                &format!("{prefix}/{{project_id}}/sessions"),
                get(read::list),
            )
            .route(
                &format!("{prefix}/{{project_id}}/sessions/{{uuid}}"),
                get(read::get_session)
                    .put(update::update_session)
                    .patch(update::update_session)
                    .delete(update::delete_session),
            )
            .route(
                &format!("{prefix}/{{project_id}}/sessions/{{uuid}}/attachments/{{point}}"),
                get(attachments::get_attachment)
                    .put(attachment_writes::put_attachment)
                    .delete(attachment_writes::delete_attachment),
            )
            .route(
                &format!("{prefix}/{{project_id}}/devices"),
                get(devices::project_devices),
            );
    }
    router
}
