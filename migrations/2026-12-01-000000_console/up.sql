-- Operators of the web console (`intake console`), apart from the API users devices sign
-- with: a console login gives no API access and an API secret opens no console.
CREATE TABLE console_users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,           -- argon2 PHC string
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A login: only the SHA-256 of its cookie token is kept, so a copy of the table opens no
-- session. Each session has its own CSRF token, checked on every POST.
CREATE TABLE console_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
