//! Console users and their logins in PostgreSQL: argon2 password hashes, and sessions kept
//! as the SHA-256 of their cookie token with a CSRF token of their own.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use intake::store::StoreError;
use intake::store::schema::{console_sessions, console_users};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A console user as `intake console-user list` shows it.
#[derive(Debug, Clone, Queryable)]
pub struct ConsoleUser {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A logged-in operator, as the pages see it.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The user's name.
    pub name: String,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The name is taken.
    #[error("a console user called {0:?} already exists")]
    Exists(String),
    /// The password could not be hashed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A random token of 32 bytes, hex-encoded.
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::thread_rng());
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Creates a user with this password.
pub fn create(conn: &mut PgConnection, name: &str, password: &str) -> Result<i64, CreateError> {
    let hash = hash_password(password).map_err(CreateError::Hash)?;
    let inserted = diesel::insert_into(console_users::table)
        .values((
            console_users::name.eq(name),
            console_users::password_hash.eq(hash),
        ))
        .on_conflict_do_nothing()
        .returning(console_users::id)
        .get_result::<i64>(conn)
        .optional()
        .map_err(StoreError::from)?;
    inserted.ok_or_else(|| CreateError::Exists(name.to_owned()))
}

/// Every user, by name.
pub fn list(conn: &mut PgConnection) -> Result<Vec<ConsoleUser>, StoreError> {
    Ok(console_users::table
        .select((
            console_users::id,
            console_users::name,
            console_users::created_at,
        ))
        .order_by(console_users::name)
        .load(conn)?)
}

/// Deletes a user and its sessions; whether there was one.
pub fn delete(conn: &mut PgConnection, name: &str) -> Result<bool, StoreError> {
    let deleted =
        diesel::delete(console_users::table.filter(console_users::name.eq(name))).execute(conn)?;
    Ok(deleted > 0)
}

/// The user's id when `password` is theirs. An unknown name still costs one hash, so the
/// answer's timing does not tell which names exist.
pub fn verify(
    conn: &mut PgConnection,
    name: &str,
    password: &str,
) -> Result<Option<i64>, StoreError> {
    let found: Option<(i64, String)> = console_users::table
        .filter(console_users::name.eq(name))
        .select((console_users::id, console_users::password_hash))
        .first(conn)
        .optional()?;
    let Some((id, stored)) = found else {
        let _ = hash_password(password);
        return Ok(None);
    };
    let ok = PasswordHash::new(&stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    });
    Ok(ok.then_some(id))
}

/// Starts a session for `user_id` lasting `ttl`; returns the cookie token. Expired sessions
/// are swept on the way.
pub fn start_session(
    conn: &mut PgConnection,
    user_id: i64,
    ttl: chrono::Duration,
) -> Result<String, StoreError> {
    let now = Utc::now();
    diesel::delete(console_sessions::table.filter(console_sessions::expires_at.le(now)))
        .execute(conn)?;
    let token = random_token();
    diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::token_hash.eq(token_hash(&token)),
            console_sessions::user_id.eq(user_id),
            console_sessions::csrf_token.eq(random_token()),
            console_sessions::expires_at.eq(now + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The operator of an unexpired session.
pub fn session(conn: &mut PgConnection, token: &str) -> Result<Option<Operator>, StoreError> {
    let found: Option<(String, String)> = console_sessions::table
        .inner_join(console_users::table)
        .filter(console_sessions::token_hash.eq(token_hash(token)))
        .filter(console_sessions::expires_at.gt(Utc::now()))
        .select((console_users::name, console_sessions::csrf_token))
        .first(conn)
        .optional()?;
    Ok(found.map(|(name, csrf)| Operator { name, csrf }))
}

/// Ends a session.
pub fn end_session(conn: &mut PgConnection, token: &str) -> Result<(), StoreError> {
    diesel::delete(
        console_sessions::table.filter(console_sessions::token_hash.eq(token_hash(token))),
    )
    .execute(conn)?;
    Ok(())
}
