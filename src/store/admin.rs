//! Projects, API users and grants: what the admin CLI changes and the front's auth cache reads.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::StoreError;
use super::schema::{api_users, project_grants, projects};
use crate::auth::generate_secret;

/// An API user with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUser {
    /// Database id.
    pub id: i64,
    /// The name clients sign with.
    pub username: String,
    /// The HMAC key.
    pub secret: String,
}

/// The secrets a user may sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSecrets {
    /// The current secret.
    pub current: String,
    /// During a rotation: the previous secret and until when (unix seconds) it still works.
    pub previous: Option<(String, i64)>,
}

impl UserSecrets {
    /// The secrets valid at `now` (unix seconds), current first.
    pub fn valid_at(&self, now: i64) -> impl Iterator<Item = &str> {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(secret, _)| secret.as_str());
        std::iter::once(self.current.as_str()).chain(previous)
    }
}

/// Everything the front needs to authorise requests without asking PostgreSQL each time.
#[derive(Debug, Clone, Default)]
pub struct AuthData {
    /// Secrets of every user not revoked, by username.
    pub secrets: HashMap<String, UserSecrets>,
    /// Projects each username may use.
    pub grants: HashMap<String, HashSet<i64>>,
    /// Every existing project id.
    pub projects: HashSet<i64>,
}

/// Creates a project; returns its id.
pub fn create_project(conn: &mut PgConnection, name: &str) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(projects::table)
        .values(projects::name.eq(name))
        .returning(projects::id)
        .get_result(conn)?)
}

/// The id of the project called `name`, if any.
pub fn find_project(conn: &mut PgConnection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(projects::table
        .filter(projects::name.eq(name))
        .select(projects::id)
        .first(conn)
        .optional()?)
}

/// Creates a user with a fresh random secret.
pub fn create_user(conn: &mut PgConnection, username: &str) -> Result<ApiUser, StoreError> {
    let secret = generate_secret();
    let id = diesel::insert_into(api_users::table)
        .values((
            api_users::username.eq(username),
            api_users::api_secret.eq(&secret),
        ))
        .returning(api_users::id)
        .get_result(conn)?;
    Ok(ApiUser {
        id,
        username: username.to_owned(),
        secret,
    })
}

/// The user called `username`, if any.
pub fn find_user(conn: &mut PgConnection, username: &str) -> Result<Option<ApiUser>, StoreError> {
    let row: Option<(i64, String, String)> = api_users::table
        .filter(api_users::username.eq(username))
        .select((api_users::id, api_users::username, api_users::api_secret))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, username, secret)| ApiUser {
        id,
        username,
        secret,
    }))
}

/// Lets `user_id` use `project_id`; granting twice is harmless.
pub fn grant(conn: &mut PgConnection, user_id: i64, project_id: i64) -> Result<(), StoreError> {
    diesel::insert_into(project_grants::table)
        .values((
            project_grants::user_id.eq(user_id),
            project_grants::project_id.eq(project_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// Whether an insert failed because the name is taken.
pub fn is_duplicate(error: &StoreError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        StoreError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
    )
}

type UserRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// Loads every user not revoked, their grants and every project (small tables, read whole).
pub fn load_auth_data(conn: &mut PgConnection) -> Result<AuthData, StoreError> {
    let rows: Vec<UserRow> = api_users::table
        .filter(api_users::revoked_at.is_null())
        .select((
            api_users::id,
            api_users::username,
            api_users::api_secret,
            api_users::previous_secret,
            api_users::previous_secret_until,
        ))
        .load(conn)?;
    let users: Vec<(i64, String, UserSecrets)> = rows
        .into_iter()
        .map(|(id, name, current, previous, until)| {
            let previous = previous.zip(until.map(|until| until.timestamp()));
            (id, name, UserSecrets { current, previous })
        })
        .collect();
    let grant_rows: Vec<(i64, i64)> = project_grants::table
        .select((project_grants::user_id, project_grants::project_id))
        .load(conn)?;
    let project_ids: Vec<i64> = projects::table.select(projects::id).load(conn)?;
    let names: HashMap<i64, &str> = users
        .iter()
        .map(|(id, name, _)| (*id, name.as_str()))
        .collect();
    let mut grants: HashMap<String, HashSet<i64>> = HashMap::new();
    for (user_id, project_id) in grant_rows {
        if let Some(name) = names.get(&user_id) {
            grants
                .entry((*name).to_owned())
                .or_default()
                .insert(project_id);
        }
    }
    Ok(AuthData {
        secrets: users
            .into_iter()
            .map(|(_, name, secret)| (name, secret))
            .collect(),
        grants,
        projects: project_ids.into_iter().collect(),
    })
}

/// The demo project and user `make run` prints, created on first use.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The demo project's id.
    pub project_id: i64,
    /// The demo user, granted that project.
    pub user: ApiUser,
}

/// Creates the demo project and user unless they exist; either way returns them.
pub fn ensure_demo(
    conn: &mut PgConnection,
    project: &str,
    username: &str,
) -> Result<Demo, StoreError> {
    conn.transaction(|conn| {
        let project_id = match find_project(conn, project)? {
            Some(id) => id,
            None => create_project(conn, project)?,
        };
        let user = match find_user(conn, username)? {
            Some(user) => user,
            None => create_user(conn, username)?,
        };
        grant(conn, user.id, project_id)?;
        Ok(Demo { project_id, user })
    })
}
