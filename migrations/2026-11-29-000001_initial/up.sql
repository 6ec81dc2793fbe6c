-- Projects, API users and the projects each user may write to.
CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The MDA signature needs the secret itself (it is an HMAC key), so it is stored as is:
-- protect this table like a password file.
CREATE TABLE api_users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    api_secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE project_grants (
    user_id BIGINT NOT NULL REFERENCES api_users (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id)
);

-- One row per (project, uuid). (received, upload_id) is the acceptance order of the
-- upload the row holds: a write replaces the row only when its own is greater.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id),
    uuid TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    saved TIMESTAMPTZ NOT NULL,
    received TIMESTAMPTZ NOT NULL,
    received_from TEXT NOT NULL,
    upload_id UUID NOT NULL,
    is_deleted BOOLEAN NOT NULL DEFAULT false,
    points JSONB NOT NULL,
    timezone_offset INTEGER,
    UNIQUE (project_id, uuid)
);

-- Newest-first listing within a project, optionally by device.
CREATE INDEX sessions_project_received ON sessions (project_id, received DESC, id DESC);
CREATE INDEX sessions_project_unit_received ON sessions (project_id, unit_id, received DESC, id DESC);

-- Binary points: multipart files and decoded rawData values (embedded = true).
CREATE TABLE attachments (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    point TEXT NOT NULL,
    embedded BOOLEAN NOT NULL,
    filename TEXT,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    md5 BYTEA NOT NULL,
    sha256 BYTEA NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (session_id, point)
);

CREATE TABLE devices (
    project_id BIGINT NOT NULL REFERENCES projects (id),
    unit_id TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, unit_id)
);
