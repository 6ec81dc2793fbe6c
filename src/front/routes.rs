//! Every route of the front, registered through [`Routes`], which remembers each path so
//! that the OpenAPI document (`docs/openapi.json`) can be checked against the router. Project
//! routes exist under both `/projects/…` and `/project/…` (MDA uses the singular form for
//! attachments; clients use either).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};

use super::{AppState, attachment_writes, attachments, create, devices, export, read, update};

/// The OpenAPI document of the API, served as it is in the repository.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// A router that records the path of every route added to it.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, method_router);
        self
    }

    /// The router, without state.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }

    /// Every path registered, in axum's `{param}` notation.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }
}

/// Every route the front serves (the health routes included).
pub fn all() -> Routes {
    let mut routes = Routes::default()
        .route("/healthz", get(super::healthz))
        .route("/readyz", get(super::readyz))
        .route("/api/v1/time", get(super::server_time))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/devices", get(devices::all_devices));
    for prefix in ["/api/v1/projects", "/api/v1/project"] {
        routes = routes
            .route(
                &format!("{prefix}/{{project_id}}/sessions"),
                get(read::list).post(create::create_session),
            )
            .route(
                &format!("{prefix}/{{project_id}}/sessions/export"),
                get(export::export),
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
    routes
}

/// `GET /api/v1/openapi.json`, without auth: integrators generate clients from it.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
