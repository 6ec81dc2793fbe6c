//! GET /projects/{project_id}/sessions/{uuid}: one session: its stamp, upload id and
//! updates, its text points (as text, never HTML), its images and other attachments.

use std::collections::BTreeSet;

use axum::Extension;
use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use intake::store::{read, stamps};
use intake::view::{PointView, SessionView};
use maud::{Markup, html};

use super::attachment::served_type;
use super::sessions::urlencode;
use super::sessions_query::{self, AttachmentInfo, SessionFacts};
use super::users::Operator;
use super::{State, layout};

struct Loaded {
    view: SessionView,
    facts: SessionFacts,
    attachments: Vec<AttachmentInfo>,
    /// Writes applied after the row's create (updates to fields or points).
    updates: usize,
}

/// GET the page.
pub async fn page(
    Shared(state): Shared<State>,
    Extension(operator): Extension<Operator>,
    Path((project_id, uuid)): Path<(i64, String)>,
) -> Response {
    let wanted = uuid.clone();
    let loaded = state
        .store
        .run(move |conn| {
            let Some(view) = read::load_session(conn, project_id, &wanted, true)? else {
                return Ok(None);
            };
            let Some((facts, attachments)) = sessions_query::facts(conn, project_id, &wanted)?
            else {
                return Ok(None);
            };
            let key = (project_id, wanted.clone());
            let updates = stamps::load_stamps(conn, &[key])?
                .into_iter()
                .next()
                .map(|(_, stamps)| {
                    let orders: BTreeSet<_> = stamps
                        .fields
                        .values()
                        .chain(stamps.points.values())
                        .collect();
                    orders.len()
                })
                .unwrap_or(0);
            Ok(Some(Loaded {
                view,
                facts,
                attachments,
                updates,
            }))
        })
        .await;
    let loaded = match loaded {
        Ok(Some(loaded)) => loaded,
        Ok(None) => {
            let message = format!("no session {uuid:?} in project {project_id}");
            return layout::error_page(StatusCode::NOT_FOUND, &operator, &message);
        }
        Err(error) => {
            return layout::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &operator,
                &error.to_string(),
            );
        }
    };
    let base = format!(
        "/projects/{project_id}/sessions/{}/attachments",
        urlencode(&uuid)
    );
    let view = &loaded.view;
    let replaced = loaded.facts.replaced_at.map_or_else(
        || "never replaced".to_owned(),
        |at| format!("replaced by the upload accepted {}", layout::time(at)),
    );
    let updates = match loaded.updates {
        0 => "none since its create".to_owned(),
        n => format!("{n} later writes changed fields or points"),
    };
    let body = html! {
        p { a href=(format!("/projects/{project_id}/sessions")) { "← sessions of project " (project_id) } }
        section {
            dl .facts {
                dt { "Session" } dd .uuid { (view.uuid) }
                dt { "Device" } dd { (view.unit_id) }
                dt { "Accepted" } dd #stamp { (layout::time(loaded.facts.received)) }
                dt { "Upload id" } dd #upload-id .mono { (loaded.facts.upload_id) }
                dt { "Replaced" } dd #replaced { (replaced) }
                dt { "Updates" } dd #updates { (updates) }
                dt { "Created / saved" } dd { (rfc(view.created.seconds())) " / " (rfc(view.saved.seconds())) }
                dt { "Sent from" } dd { (loaded.facts.received_from) }
                @if view.is_deleted { dt { "State" } dd #deleted .error { "deleted" } }
            }
        }
        section {
            h2 { "Points" }
            div .table-wrap {
                table #points {
                    thead { tr { th { "Point" } th { "Value" } } }
                    tbody {
                        @for (name, point) in &view.data {
                            @if let PointView::Text(text) = point {
                                tr .point { td .point-name { (name) } td .point-value { (text) } }
                            }
                        }
                    }
                }
            }
        }
        @if !loaded.attachments.is_empty() {
            section {
                h2 { "Attachments" }
                div .attachments {
                    @for attachment in &loaded.attachments { (card(&base, attachment)) }
                }
            }
        }
    };
    layout::page("Session", Some(&operator), body).into_response()
}

fn rfc(seconds: i64) -> String {
    intake::view::rfc3339(seconds)
}

fn card(base: &str, attachment: &AttachmentInfo) -> Markup {
    let url = format!("{base}/{}", urlencode(&attachment.point));
    let (_, image) = served_type(
        attachment.embedded,
        &attachment.content_type,
        &attachment.head,
    );
    let name = attachment
        .filename
        .clone()
        .unwrap_or_else(|| attachment.point.clone());
    let size = layout::size(u64::try_from(attachment.size).unwrap_or(0));
    let md5: String = attachment.md5.iter().map(|b| format!("{b:02x}")).collect();
    html! {
        figure .attachment data-point=(attachment.point) {
            @if image {
                a .attachment-full href=(url) { img .attachment-image.thumbnail src=(url) alt=(name); }
            } @else {
                a .attachment-download href=(url) download=(name) { (name) }
            }
            figcaption {
                span .attachment-point { (attachment.point) } " · "
                span .attachment-type { (attachment.content_type) } " · "
                span .attachment-size { (size) } " · md5 "
                span .attachment-md5 .mono { (md5) }
            }
        }
    }
}
