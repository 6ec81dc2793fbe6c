//! The accounts' lifecycle for `intake`: listing projects, users and grants, revoking a user
//! or a grant, and rotating a user's secret with a grace period for the old one.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::StoreError;
use super::schema::{api_users, project_grants, projects};
use crate::auth::generate_secret;

/// A project as `intake project list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// Its id (what the API's paths and `intake user grant` take).
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user as `intake user list` shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The name it signs with.
    pub username: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Until when its previous secret still works, during a rotation.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// The projects it is granted, by id.
    pub projects: Vec<i64>,
}

/// Every project, by id.
pub fn list_projects(conn: &mut PgConnection) -> Result<Vec<ProjectRow>, StoreError> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = projects::table
        .select((projects::id, projects::name, projects::created_at))
        .order(projects::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at)| ProjectRow {
            id,
            name,
            created_at,
        })
        .collect())
}

/// Every user, by name, with the projects granted to it.
pub fn list_users(conn: &mut PgConnection) -> Result<Vec<UserRow>, StoreError> {
    type Row = (
        i64,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = api_users::table
        .select((
            api_users::id,
            api_users::username,
            api_users::created_at,
            api_users::revoked_at,
            api_users::previous_secret_until,
        ))
        .order(api_users::username)
        .load(conn)?;
    let grants = list_grants(conn, None, None)?;
    Ok(rows
        .into_iter()
        .map(|(_, username, created_at, revoked_at, until)| UserRow {
            projects: grants
                .iter()
                .filter(|(name, _, _)| *name == username)
                .map(|(_, id, _)| *id)
                .collect(),
            username,
            created_at,
            revoked_at,
            previous_secret_until: until.filter(|until| *until > Utc::now()),
        })
        .collect())
}

/// Grants as (username, project id, project name), optionally of one user or one project.
pub fn list_grants(
    conn: &mut PgConnection,
    username: Option<&str>,
    project_id: Option<i64>,
) -> Result<Vec<(String, i64, String)>, StoreError> {
    let mut query = project_grants::table
        .inner_join(api_users::table)
        .inner_join(projects::table)
        .select((api_users::username, projects::id, projects::name))
        .order((api_users::username, projects::id))
        .into_boxed();
    if let Some(username) = username {
        query = query.filter(api_users::username.eq(username));
    }
    if let Some(project_id) = project_id {
        query = query.filter(projects::id.eq(project_id));
    }
    Ok(query.load(conn)?)
}

/// Takes `project_id` away from `user_id`; false when it was not granted.
pub fn revoke_grant(
    conn: &mut PgConnection,
    user_id: i64,
    project_id: i64,
) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        project_grants::table
            .filter(project_grants::user_id.eq(user_id))
            .filter(project_grants::project_id.eq(project_id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// Revokes a user: it can no longer sign requests (nor its previous secret). False when it
/// was already revoked.
pub fn revoke_user(conn: &mut PgConnection, user_id: i64) -> Result<bool, StoreError> {
    let updated = diesel::update(
        api_users::table
            .filter(api_users::id.eq(user_id))
            .filter(api_users::revoked_at.is_null()),
    )
    .set((
        api_users::revoked_at.eq(Utc::now()),
        api_users::previous_secret.eq(None::<String>),
        api_users::previous_secret_until.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Gives a user a fresh secret; the current one keeps working until `grace_until`. Returns
/// the new secret, or `None` when the user is revoked.
pub fn rotate_secret(
    conn: &mut PgConnection,
    user_id: i64,
    grace_until: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let secret = generate_secret();
    let updated = diesel::update(
        api_users::table
            .filter(api_users::id.eq(user_id))
            .filter(api_users::revoked_at.is_null()),
    )
    .set((
        api_users::previous_secret.eq(api_users::api_secret.nullable()),
        api_users::previous_secret_until.eq(grace_until),
        api_users::api_secret.eq(&secret),
    ))
    .execute(conn)?;
    Ok((updated > 0).then_some(secret))
}
