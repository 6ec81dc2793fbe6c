//! The bare HTTP limit: an axum handler that reads the same body the front reads and answers
//! `202` with a small JSON body, with no auth, decoding or broker.

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use http_body_util::BodyExt as _;

async fn accept(body: Body) -> impl IntoResponse {
    let length = match body.collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => return (StatusCode::BAD_REQUEST, "unreadable body".to_owned()),
    };
    let upload_id = uuid::Uuid::now_v7();
    (
        StatusCode::ACCEPTED,
        format!(
            r#"{{"status":"success","message":"accepted","result":{{"length":{length},"upload_id":"{upload_id}"}}}}"#
        ),
    )
}

/// Serves the bare handler on the create route's path until the process is stopped.
pub async fn serve_bare(listen: std::net::SocketAddr) -> std::io::Result<()> {
    let app = Router::new()
        .route("/api/v1/projects/{project_id}/sessions", post(accept))
        .layer(axum::middleware::from_fn(with_upload_id));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}

/// Loadgen counts an upload as accepted only with an `X-Upload-Id`, as the front sends.
async fn with_upload_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if let Ok(value) = axum::http::HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()) {
        response.headers_mut().insert("x-upload-id", value);
    }
    response
}
